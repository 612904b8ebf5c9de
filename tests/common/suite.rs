//! The client-facing suite: backend behaviour that must hold against the real kube-apiserver
//! v1.20.2 and against the simulator alike. Each test file runs it against one of them.

use super::{ApiServer, row_names, sources_for, start_backend, wait_connected, wait_for};
use klieg::backend::kubeconfig::KubeconfigSources;
use klieg::model::{
    Cell, ClusterErrorKind, ClusterId, ClusterState, Command, KindKey, TableSnapshot, ViewQuery, ViewStatus,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn kind(group: &str, plural: &str) -> KindKey {
    KindKey { group: Arc::from(group), plural: Arc::from(plural) }
}

fn view(cluster: &str, group: &str, plural: &str, namespaces: &[&str]) -> ViewQuery {
    ViewQuery {
        clusters: vec![ClusterId::new(cluster)],
        kind: Some(kind(group, plural)),
        namespaces: namespaces.iter().map(|n| Arc::from(*n)).collect(),
        ..ViewQuery::default()
    }
}

/// A namespaced CRD `kind` in `group` (plural: lowercase kind + "s"), with extra version fields.
fn crd_yaml(group: &str, kind: &str, version_extra: &str) -> String {
    let singular = kind.to_lowercase();
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {singular}s.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{plural: {singular}s, singular: {singular}, kind: {kind}}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n{version_extra}"
    )
}

fn column_index(table: &TableSnapshot, name: &str) -> usize {
    table
        .columns
        .iter()
        .position(|c| &*c.name == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", table.columns))
}

pub fn contexts_load_from_merged_files_and_connect(cluster: &dyn ApiServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.yaml");
    let second = dir.path().join("second.yaml");
    std::fs::write(&first, cluster.kubeconfig_text("alpha", "admin-token")).expect("write");
    // The second file repeats `alpha` pointing nowhere: kubectl's rules keep the first file's.
    let mut text = cluster.kubeconfig_text("beta", "viewer-token");
    text.push_str("- name: alpha\n  context: {cluster: nowhere, user: beta-user}\n");
    text = text.replace("clusters:\n", "clusters:\n- name: nowhere\n  cluster: {server: 'https://127.0.0.1:1'}\n");
    std::fs::write(&second, text).expect("write");
    let env = std::env::join_paths([&first, &second]).expect("join");
    let handle = start_backend(KubeconfigSources {
        explicit: vec![],
        env: Some(env),
        home: None,
        ..KubeconfigSources::default()
    });

    let alpha_version = wait_connected(&handle, "alpha");
    assert!(alpha_version.starts_with("v1."), "{alpha_version}");
    assert_eq!(wait_connected(&handle, "beta"), alpha_version, "both contexts reach the same server");
    let fleet = handle.fleet.borrow().clone();
    let names: Vec<&str> = fleet.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let alpha = fleet.cluster(&ClusterId::new("alpha")).expect("alpha");
    assert!(alpha.is_current_context);
    assert_eq!(alpha.server_url.as_deref(), Some(cluster.server_url().as_str()));
    assert_eq!(&*alpha.source, first.display().to_string());
    // The namespace list follows the connection (its own watch).
    wait_for(&handle.fleet, WAIT, "alpha's namespaces", |fleet| {
        let alpha = fleet.cluster(&ClusterId::new("alpha"))?;
        alpha.namespaces.iter().any(|n| &**n == "kube-system").then_some(())
    });
}

pub fn discovery_lists_built_in_kinds_and_a_crd(cluster: &dyn ApiServer) {
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, cluster.admin_context());
    let fleet = handle.fleet.borrow().clone();
    let kinds = &fleet.clusters[0].kinds;
    for (group, plural) in [
        ("", "pods"),
        ("apps", "deployments"),
        ("", "nodes"),
        ("rbac.authorization.k8s.io", "roles"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    ] {
        assert!(kinds.iter().any(|k| *k.group == *group && *k.plural == *plural), "{group}/{plural} missing");
    }
    let pods = kinds.iter().find(|k| &*k.plural == "pods").expect("pods");
    assert_eq!(pods.category(), klieg::model::Category::Workloads);
    assert!(!kinds.iter().any(|k| k.plural.contains('/')), "subresources are not kinds");

    // A CRD created while connected appears without a restart.
    cluster.apply(&crd_yaml("discovery.klieg.test", "Gadget", ""));
    let gadget = wait_for(&handle.fleet, WAIT, "the Gadget CRD in discovery", |fleet| {
        fleet.clusters[0].kinds.iter().find(|k| &*k.kind == "Gadget").cloned()
    });
    assert_eq!(&*gadget.group, "discovery.klieg.test");
    assert_eq!(gadget.category(), klieg::model::Category::CustomResources);
}

pub fn table_shows_adds_changes_and_deletes_live(cluster: &dyn ApiServer) {
    cluster.kubectl(&["create", "namespace", "live"]);
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, cluster.admin_context());
    handle.table.ask(Some(view(cluster.admin_context(), "", "configmaps", &["live"])));
    wait_for(&handle.table.snapshots, WAIT, "an empty live configmap table", |t| {
        (t.status.values().all(|s| *s == ViewStatus::Live) && !t.columns.is_empty()).then_some(())
    });

    cluster.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: live, labels: {app: web}}\ndata: {a: '1'}\n");
    let table = wait_for(&handle.table.snapshots, WAIT, "the new configmap", |t| {
        row_names(t).contains(&"settings".to_string()).then(|| t.clone())
    });
    let data = column_index(&table, "Data");
    let row = table.rows.iter().find(|r| &*r.key.name == "settings").expect("row");
    assert_eq!(table.cell(row, data), &Cell::Integer(1));

    cluster.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: live, labels: {app: web}}\ndata: {a: '1', b: '2'}\n");
    wait_for(&handle.table.snapshots, WAIT, "the modified configmap", |t| {
        let row = t.rows.iter().find(|r| &*r.key.name == "settings")?;
        (t.cell(row, data) == &Cell::Integer(2)).then_some(())
    });

    // Label selectors and text filters apply to the live rows.
    cluster.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: live, labels: {app: db}}\n");
    wait_for(&handle.table.snapshots, WAIT, "both configmaps", |t| (t.rows.len() == 2).then_some(()));
    handle.table.ask(Some(ViewQuery {
        label_selector: "app=web".into(),
        ..view(cluster.admin_context(), "", "configmaps", &["live"])
    }));
    wait_for(&handle.table.snapshots, WAIT, "the selector to leave one row", |t| {
        (row_names(t) == ["settings"] && t.unfiltered_rows == 2).then_some(())
    });
    handle.table.ask(Some(view(cluster.admin_context(), "", "configmaps", &["live"])));

    cluster.kubectl(&["delete", "configmap", "settings", "-n", "live"]);
    wait_for(&handle.table.snapshots, WAIT, "the deleted configmap to vanish", |t| {
        (row_names(t) == ["other"]).then_some(())
    });
}

pub fn crd_printer_columns_become_table_columns(cluster: &dyn ApiServer) {
    let columns = "    additionalPrinterColumns:\n    - {name: Color, type: string, jsonPath: .spec.color}\n    - {name: Size, type: integer, jsonPath: .spec.size}\n    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}\n";
    cluster.apply(&crd_yaml("columns.klieg.test", "Widget", columns));
    cluster.kubectl(&["wait", "--for=condition=Established", "crd/widgets.columns.klieg.test", "--timeout=30s"]);
    cluster.apply("apiVersion: columns.klieg.test/v1\nkind: Widget\nmetadata: {name: big-red, namespace: default}\nspec: {color: red, size: 42}\n");
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, cluster.admin_context());
    handle.table.ask(Some(view(cluster.admin_context(), "columns.klieg.test", "widgets", &[])));
    let table = wait_for(&handle.table.snapshots, WAIT, "the widget row", |t| {
        row_names(t).contains(&"big-red".to_string()).then(|| t.clone())
    });
    let names: Vec<&str> = table.columns.iter().map(|c| &*c.name).collect();
    assert_eq!(names, ["Name", "Color", "Size", "Age"]);
    let row = &table.rows[0];
    assert_eq!(table.cell(row, 1), &Cell::Text(Arc::from("red"), klieg::model::CellTone::Normal));
    assert_eq!(table.cell(row, 2), &Cell::Integer(42));
    assert!(matches!(table.cell(row, 3), Cell::Age(_)));
}

pub fn broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works(cluster: &dyn ApiServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    write("good.yaml", &cluster.kubeconfig_text("good", "admin-token"));
    write("malformed.yaml", "apiVersion: v1\nclusters: [ {name: \n");
    write(
        "missing-ca.yaml",
        &cluster
            .kubeconfig_text("missing-ca", "admin-token")
            .replace(&cluster.ca_path().display().to_string(), "/nonexistent/ca.crt"),
    );
    write(
        "unreachable.yaml",
        &cluster.kubeconfig_text("unreachable", "admin-token").replace(&cluster.server_url(), "https://127.0.0.1:1"),
    );
    write("bad-token.yaml", &cluster.kubeconfig_text("bad-token", "not-a-token"));
    let exec_user = "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /nonexistent/credential-plugin\n";
    write("exec.yaml", &cluster.kubeconfig_text("exec-missing", "unused").replace("    token: unused\n", exec_user));
    let handle = start_backend(sources_for(&[dir.path()]));

    wait_connected(&handle, "good");
    let expected = [
        ("missing-ca", ClusterErrorKind::MissingFile),
        ("unreachable", ClusterErrorKind::Unreachable),
        ("bad-token", ClusterErrorKind::Unauthorized),
        ("exec-missing", ClusterErrorKind::ExecPlugin),
    ];
    for (context, error_kind) in expected {
        let detail = wait_for(&handle.fleet, WAIT, &format!("{context} to fail with {error_kind:?}"), |fleet| {
            fleet.clusters.iter().find(|c| c.id.as_str() == context).and_then(|c| match &c.state {
                ClusterState::Failed { kind, detail } if *kind == error_kind => Some(detail.clone()),
                _ => None,
            })
        });
        assert!(!detail.is_empty());
    }
    let fleet = handle.fleet.borrow().clone();
    let malformed = fleet.clusters.iter().find(|c| c.id.as_str().ends_with("malformed.yaml")).expect("malformed entry");
    assert!(matches!(malformed.state, ClusterState::Failed { kind: ClusterErrorKind::MalformedKubeconfig, .. }));
    assert_eq!(fleet.clusters.len(), 6, "one entry per context or broken file");
    // The good context still works while the others fail.
    handle.table.ask(Some(view("good", "", "namespaces", &[])));
    wait_for(&handle.table.snapshots, WAIT, "namespaces of the good context", |t| {
        row_names(t).contains(&"kube-system".to_string()).then_some(())
    });
}

pub fn kubeconfig_edits_are_picked_up_live(cluster: &dyn ApiServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config");
    std::fs::write(&path, cluster.kubeconfig_text("editable", "not-a-token")).expect("write");
    let handle = start_backend(sources_for(&[dir.path()]));
    wait_for(&handle.fleet, WAIT, "the rejected token", |fleet| {
        matches!(fleet.clusters.first()?.state, ClusterState::Failed { kind: ClusterErrorKind::Unauthorized, .. })
            .then_some(())
    });
    std::fs::write(&path, cluster.kubeconfig_text("editable", "admin-token")).expect("rewrite");
    wait_connected(&handle, "editable");
    std::fs::write(dir.path().join("more.yaml"), cluster.kubeconfig_text("added", "admin-token")).expect("add file");
    wait_connected(&handle, "added");
}

/// The server goes away and comes back while a table is watched: the table reports the outage,
/// keeps its rows, then converges with no duplicate or lost rows.
pub fn table_recovers_after_the_server_restarts(cluster: &dyn ApiServer) {
    cluster.kubectl(&["create", "namespace", "restart"]);
    for i in 0..5 {
        cluster.kubectl(&["create", "configmap", &format!("before-{i}"), "-n", "restart"]);
    }
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, cluster.admin_context());
    handle.table.ask(Some(view(cluster.admin_context(), "", "configmaps", &["restart"])));
    let wait = Duration::from_secs(60);
    wait_for(&handle.table.snapshots, wait, "five configmaps", |t| (t.rows.len() == 5).then_some(()));

    cluster.stop_apiserver();
    wait_for(&handle.table.snapshots, wait, "the table to report the outage", |t| {
        t.status.values().any(|s| matches!(s, ViewStatus::Error(_))).then_some(())
    });
    let id = ClusterId::new(cluster.admin_context());
    // (Unreachable for the real apiserver, stopped; 503 from the simulator, offline.)
    wait_for(&handle.fleet, wait, "the cluster shown failing", |f| {
        f.cluster(&id).filter(|c| matches!(c.state, ClusterState::Failed { .. })).map(|_| ())
    });
    assert_eq!(handle.table.snapshots.borrow().rows.len(), 5, "rows stay visible during the outage");
    cluster.start_apiserver();
    // Connected again once the server answers, though no namespace changed (kube's watcher
    // resumes without an event).
    wait_for(&handle.fleet, wait, "the cluster connected again", |f| {
        f.cluster(&id).filter(|c| matches!(c.state, ClusterState::Connected { .. })).map(|_| ())
    });
    cluster.kubectl(&["delete", "configmap", "before-0", "-n", "restart"]);
    for i in 0..3 {
        cluster.kubectl(&["create", "configmap", &format!("after-{i}"), "-n", "restart"]);
    }
    let expected: BTreeSet<String> = ["before-1", "before-2", "before-3", "before-4", "after-0", "after-1", "after-2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let table = wait_for(&handle.table.snapshots, wait, "the table to converge after the restart", |t| {
        let names: BTreeSet<String> = row_names(t).into_iter().collect();
        (names == expected && t.status.values().all(|s| *s == ViewStatus::Live)).then(|| t.clone())
    });
    assert_eq!(table.rows.len(), expected.len(), "no duplicate rows: {:?}", row_names(&table));
}

/// As `team-user`, whom a RoleBinding lets read pods in one namespace only: access reviews,
/// rules reviews and real requests all follow the stored RBAC objects.
pub fn access_reviews_and_requests_follow_rbac(cluster: &dyn ApiServer) {
    cluster.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: rbac-suite}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: pod-reader, namespace: rbac-suite}\nrules:\n- apiGroups: [\"\"]\n  resources: [pods, pods/log]\n  verbs: [get, list, watch]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-reads-pods, namespace: rbac-suite}\nsubjects:\n- {kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}\nroleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let team = dir.path().join("team.yaml");
    std::fs::write(&team, cluster.kubeconfig_text("team", "team-token")).expect("write");
    let can_i = |args: &[&str]| {
        let output = super::run_kubectl(&team, &[&["auth", "can-i"], args].concat(), None);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    // The real authorizer learns of new bindings through an informer: give it a moment.
    let deadline = std::time::Instant::now() + WAIT;
    while can_i(&["list", "pods", "-n", "rbac-suite"]) != "yes" {
        assert!(std::time::Instant::now() < deadline, "the RoleBinding never took effect");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(can_i(&["get", "pods/log", "-n", "rbac-suite"]), "yes");
    assert_eq!(can_i(&["delete", "pods", "-n", "rbac-suite"]), "no");
    assert_eq!(can_i(&["list", "pods", "-n", "default"]), "no");
    assert_eq!(can_i(&["list", "pods", "--all-namespaces"]), "no");
    assert_eq!(can_i(&["list", "secrets", "-n", "rbac-suite"]), "no");

    let rules = super::run_kubectl(&team, &["auth", "can-i", "--list", "-n", "rbac-suite"], None);
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    let pods_line = rules.lines().find(|l| l.starts_with("pods ")).unwrap_or_else(|| panic!("no pods rule in {rules}"));
    assert!(pods_line.contains("[get list watch]"), "{pods_line}");
    assert!(rules.lines().any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")), "{rules}");

    let allowed = super::run_kubectl(&team, &["get", "pods", "-n", "rbac-suite"], None);
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    let denied = super::run_kubectl(&team, &["get", "pods", "-n", "default"], None);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains(
            "pods is forbidden: User \"team-user\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    // The details pane asks a SelfSubjectAccessReview per action: the team may read logs only.
    cluster.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: team-pod, namespace: rbac-suite}\nspec: {containers: [{name: c, image: busybox}]}\n");
    let handle = start_backend(sources_for(&[&team]));
    wait_connected(&handle, "team");
    let key = klieg::model::ObjectKey {
        cluster: ClusterId::new("team"),
        namespace: Some(Arc::from("rbac-suite")),
        name: Arc::from("team-pod"),
    };
    handle.open_object(Some((kind("", "pods"), key)));
    let access = wait_for(&handle.details.snapshots, WAIT, "the pod's access answers", |d| d.access.clone());
    let answer =
        |wanted: &str| access.answers.iter().find(|(p, _)| p.describe() == wanted).map(|(_, allowed)| *allowed);
    assert_eq!(answer("get pods/log"), Some(true), "{access:?}");
    for denied in ["delete pods", "create pods/exec", "create pods/eviction", "create pods/portforward"] {
        assert_eq!(answer(denied), Some(false), "{denied}: {access:?}");
    }
    // A binding naming the pod lets the team delete it, and only it (resourceNames).
    cluster.apply("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: team-pod-deleter, namespace: rbac-suite}\nrules: [{apiGroups: [''], resources: [pods], resourceNames: [team-pod], verbs: [delete]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-deletes-pod, namespace: rbac-suite}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: team-pod-deleter, apiGroup: rbac.authorization.k8s.io}\n");
    while can_i(&["delete", "pods/team-pod", "-n", "rbac-suite"]) != "yes" {
        assert!(std::time::Instant::now() < deadline + WAIT, "the second RoleBinding never took effect");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(can_i(&["delete", "pods/other", "-n", "rbac-suite"]), "no");
    // The team may not watch RBAC objects: a refused action is what tells the backend to ask again.
    let refused = klieg::model::Target {
        kind: kind("", "pods"),
        key: klieg::model::ObjectKey {
            cluster: ClusterId::new("team"),
            namespace: Some(Arc::from("rbac-suite")),
            name: Arc::from("other"),
        },
    };
    handle.send(Command::Act {
        request_id: 1,
        targets: vec![refused],
        action: klieg::model::Action::Delete { propagation: klieg::model::Propagation::Background }.call(),
    });
    wait_for(&handle.details.snapshots, WAIT, "delete allowed after the refusal", |d| {
        d.access.as_ref().filter(|a| a.allows("delete", "", "pods")).map(|_| ())
    });
}

/// Writes as kubectl makes them: strategic merge keeps list items by their merge key, a stale
/// resourceVersion is refused, server-side apply tracks owners and refuses to take a field
/// another manager set (until forced), and deletes honour their propagation policy. Needs a
/// garbage collector (the controller-manager) on a real server.
pub fn patches_apply_and_deletion_behave_like_the_apiserver(cluster: &dyn ApiServer) {
    let ns = "writes-suite";
    cluster.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"));
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - name: web\n        image: web:1\n        env: [{{name: A, value: '1'}}]\n"
    );
    let ssa = |extra: &[&str]| {
        let args = [&["apply", "--server-side", "--field-manager=ci", "-f", "-"][..], extra].concat();
        super::run_kubectl(cluster.kubeconfig(), &args, Some(&deployment))
    };
    let created = ssa(&[]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let get = |path: &str| cluster.kubectl(&["get", "deployment", "web", "-n", ns, "-o", &format!("jsonpath={path}")]);
    assert!(
        cluster
            .kubectl(&["get", "deployment", "web", "-n", ns, "-o", "json", "--show-managed-fields"])
            .contains("\"manager\": \"ci\"")
    );

    // Strategic merge: the container is merged by name, its env by name.
    cluster.kubectl(&[
        "patch",
        "deployment",
        "web",
        "-n",
        ns,
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}"#,
    ]);
    assert_eq!(get("{.spec.template.spec.containers[*].name}"), "web");
    assert_eq!(get("{.spec.template.spec.containers[0].image}"), "web:1");
    // Without `$setElementOrder` the patch's items come first, as the apiserver orders them.
    assert_eq!(get("{.spec.template.spec.containers[0].env[*].name}"), "B A");

    // A merge patch carrying a stale resourceVersion is a conflict.
    let stale = super::run_kubectl(
        cluster.kubeconfig(),
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"metadata":{"resourceVersion":"1"},"spec":{"paused":true}}"#,
        ],
        None,
    );
    assert!(!stale.status.success());
    assert!(
        String::from_utf8_lossy(&stale.stderr).contains("the object has been modified"),
        "{}",
        String::from_utf8_lossy(&stale.stderr)
    );

    // Someone else sets replicas: applying our old value conflicts, forcing takes it back.
    cluster.kubectl(&[
        "patch",
        "deployment",
        "web",
        "-n",
        ns,
        "--type=merge",
        "--field-manager=hand-edit",
        "-p",
        r#"{"spec":{"replicas":5}}"#,
    ]);
    let conflict = ssa(&[]);
    let message = String::from_utf8_lossy(&conflict.stderr).to_string();
    assert!(!conflict.status.success(), "the apply must be refused");
    assert!(message.contains("conflict with \"hand-edit\"") && message.contains(".spec.replicas"), "{message}");
    assert_eq!(get("{.spec.replicas}"), "5", "a refused apply changes nothing");
    let forced = ssa(&["--force-conflicts"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    assert_eq!(get("{.spec.replicas}"), "2");

    // The scale subresource.
    cluster.kubectl(&["scale", "deployment", "web", "-n", ns, "--replicas=3"]);
    assert_eq!(get("{.spec.replicas}"), "3");
    let scale = cluster.kubectl(&["get", "--raw", &format!("/apis/apps/v1/namespaces/{ns}/deployments/web/scale")]);
    assert!(scale.contains("\"kind\":\"Scale\"") && scale.contains("\"replicas\":3"), "{scale}");

    deletes_propagate_as_asked(cluster, ns);
}

/// Orphaned dependents stay without their owner reference; background and foreground deletes
/// take them along.
fn deletes_propagate_as_asked(cluster: &dyn ApiServer, ns: &str) {
    // Propagation: orphaned dependents stay without their owner reference; background and
    // foreground deletes take them along.
    for policy in ["orphan", "background", "foreground"] {
        cluster
            .apply(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: owner-{policy}, namespace: {ns}}}\n"));
        let uid = cluster.kubectl(&[
            "get",
            "configmap",
            &format!("owner-{policy}"),
            "-n",
            ns,
            "-o",
            "jsonpath={.metadata.uid}",
        ]);
        cluster.apply(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child-{policy}\n  namespace: {ns}\n  ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: owner-{policy}, uid: {uid}}}]\n"
        ));
        cluster.kubectl(&[
            "delete",
            "configmap",
            &format!("owner-{policy}"),
            "-n",
            ns,
            &format!("--cascade={policy}"),
            "--wait=true",
        ]);
        let child = || {
            super::run_kubectl(
                cluster.kubeconfig(),
                &[
                    "get",
                    "configmap",
                    &format!("child-{policy}"),
                    "-n",
                    ns,
                    "-o",
                    "jsonpath={.metadata.ownerReferences}",
                ],
                None,
            )
        };
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let output = child();
            let settled = match policy {
                "orphan" => output.status.success() && String::from_utf8_lossy(&output.stdout).trim().is_empty(),
                _ => !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("NotFound"),
            };
            if settled {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{policy}: the child never settled: {output:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    cluster.kubectl(&["delete", "namespace", ns, "--wait=false"]);
}

/// Runs one action (or edit) through the backend and waits until every target has finished;
/// returns the activities of the request.
fn finish(
    handle: &klieg::backend::BackendHandle,
    command: Command,
    request_id: u64,
    expected: usize,
) -> Vec<klieg::model::Activity> {
    use klieg::model::Outcome;
    handle.send(command);
    wait_for(&handle.activity, WAIT, &format!("request {request_id} to finish"), |log| {
        let entries: Vec<_> = log.for_request(request_id).cloned().collect();
        (entries.len() >= expected && entries.iter().all(|a| a.outcome != Outcome::Running)).then_some(entries)
    })
}

fn target(cluster: &str, group: &str, plural: &str, namespace: Option<&str>, name: &str) -> klieg::model::Target {
    klieg::model::Target {
        kind: kind(group, plural),
        key: klieg::model::ObjectKey {
            cluster: ClusterId::new(cluster),
            namespace: namespace.map(Arc::from),
            name: Arc::from(name),
        },
    }
}

fn done(activities: &[klieg::model::Activity]) -> bool {
    activities.iter().all(|a| matches!(a.outcome, klieg::model::Outcome::Done { .. }))
}

/// Every action through the backend, checked with kubectl: scale, restart, rollback, cordon,
/// uncordon, drain (DaemonSet pods stay), evict, suspend, resume, trigger, delete; a failure
/// is reported for its own target while the others in the same request succeed.
pub fn actions_change_objects_and_report_each_result(cluster: &dyn ApiServer) {
    use klieg::model::{Action, Propagation};
    let ns = "actions-suite";
    let context = cluster.admin_context();
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, context);
    let cronjob_version = handle
        .fleet
        .borrow()
        .cluster(&ClusterId::new(context))
        .expect("the admin context")
        .kinds
        .iter()
        .find(|k| &*k.plural == "cronjobs")
        .map(|k| k.api_version())
        .expect("cronjobs served");
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: actions-node}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: 'web:2'}}]}}\n---\napiVersion: {cronjob_version}\nkind: CronJob\nmetadata: {{name: nightly, namespace: {ns}}}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec: {{restartPolicy: Never, containers: [{{name: job, image: busybox}}]}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: doomed, namespace: {ns}}}\n"
    ));
    let deployment_uid = cluster.kubectl(&["get", "deployment", "web", "-n", ns, "-o", "jsonpath={.metadata.uid}"]);
    cluster.apply(&format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-old\n  namespace: {ns}\n  annotations: {{deployment.kubernetes.io/revision: '1'}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {deployment_uid}, controller: true}}]\nspec:\n  replicas: 0\n  selector: {{matchLabels: {{app: web, pod-template-hash: old}}}}\n  template:\n    metadata: {{labels: {{app: web, pod-template-hash: old}}}}\n    spec: {{containers: [{{name: web, image: 'web:1'}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: evict-me, namespace: {ns}}}\nspec: {{nodeName: actions-node, containers: [{{name: c, image: busybox}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: drained, namespace: {ns}}}\nspec: {{nodeName: actions-node, containers: [{{name: c, image: busybox}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: daemon\n  namespace: {ns}\n  ownerReferences: [{{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: 00000000-0000-0000-0000-000000000001, controller: true}}]\nspec: {{nodeName: actions-node, containers: [{{name: c, image: busybox}}]}}\n"
    ));
    let get = |args: &[&str], path: &str| cluster.kubectl(&[args, &["-o", &format!("jsonpath={path}")]].concat());
    let deployment = target(context, "apps", "deployments", Some(ns), "web");
    let node = target(context, "", "nodes", None, "actions-node");
    let cronjob = target(context, "batch", "cronjobs", Some(ns), "nightly");
    let mut request_id = 0;
    let mut act = |targets: Vec<klieg::model::Target>, action: Action| {
        request_id += 1;
        let expected = targets.len();
        finish(&handle, Command::Act { request_id, targets, action: action.call() }, request_id, expected)
    };

    // One request, two targets: the missing one fails on its own.
    let scaled = act(
        vec![deployment.clone(), target(context, "apps", "deployments", Some(ns), "missing")],
        Action::Scale { replicas: 3 },
    );
    let outcomes: Vec<String> = scaled.iter().map(|a| format!("{}: {:?}", a.subject, a.outcome)).collect();
    assert!(outcomes.iter().any(|o| o.contains("/web:") && o.contains("scaled to 3")), "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o.contains("/missing:") && o.contains("Failed") && o.contains("not found")),
        "{outcomes:?}"
    );
    assert_eq!(get(&["get", "deployment", "web", "-n", ns], "{.spec.replicas}"), "3");

    assert!(done(&act(vec![deployment.clone()], Action::RolloutRestart)));
    assert!(!get(&["get", "deployment", "web", "-n", ns], "{.spec.template.metadata.annotations}").is_empty());
    assert!(done(&act(vec![deployment.clone()], Action::Rollback { revision: 1 })));
    assert_eq!(get(&["get", "deployment", "web", "-n", ns], "{.spec.template.spec.containers[0].image}"), "web:1");
    let missing_revision = act(vec![deployment.clone()], Action::Rollback { revision: 9 });
    assert!(format!("{missing_revision:?}").contains("revision 9 not found"));

    assert!(done(&act(vec![node.clone()], Action::Cordon)));
    assert_eq!(get(&["get", "node", "actions-node"], "{.spec.unschedulable}"), "true");
    assert!(done(&act(vec![node.clone()], Action::Uncordon)));
    assert_eq!(get(&["get", "node", "actions-node"], "{.spec.unschedulable}"), "");

    // Evicted pods are gone, or terminating where no kubelet confirms the deletion.
    let gone_or_terminating = |pod: &str| {
        let output = super::run_kubectl(
            cluster.kubeconfig(),
            &["get", "pod", pod, "-n", ns, "-o", "jsonpath={.metadata.deletionTimestamp}"],
            None,
        );
        !output.status.success() || !String::from_utf8_lossy(&output.stdout).trim().is_empty()
    };
    assert!(done(&act(vec![target(context, "", "pods", Some(ns), "evict-me")], Action::Evict)));
    assert!(gone_or_terminating("evict-me"));
    let drained = act(vec![node.clone()], Action::Drain);
    assert!(done(&drained), "{drained:?}");
    assert!(format!("{drained:?}").contains("left 1 DaemonSet or mirror pods"), "{drained:?}");
    assert!(gone_or_terminating("drained"));
    assert!(!gone_or_terminating("daemon"), "DaemonSet pods stay");
    assert_eq!(get(&["get", "node", "actions-node"], "{.spec.unschedulable}"), "true");

    assert!(done(&act(vec![cronjob.clone()], Action::Suspend)));
    assert_eq!(get(&["get", "cronjob", "nightly", "-n", ns], "{.spec.suspend}"), "true");
    assert!(done(&act(vec![cronjob.clone()], Action::Resume)));
    assert_eq!(get(&["get", "cronjob", "nightly", "-n", ns], "{.spec.suspend}"), "false");
    assert!(done(&act(vec![cronjob.clone()], Action::Trigger)));
    let owners = get(&["get", "jobs", "-n", ns], "{.items[*].metadata.ownerReferences[0].name}");
    assert_eq!(owners, "nightly", "one Job, owned by the CronJob");

    assert!(done(&act(
        vec![target(context, "", "configmaps", Some(ns), "doomed")],
        Action::Delete { propagation: Propagation::Background }
    )));
    assert!(
        !super::run_kubectl(cluster.kubeconfig(), &["get", "configmap", "doomed", "-n", ns], None).status.success()
    );
    cluster.kubectl(&["delete", "node", "actions-node", "--wait=false"]);
}

/// YAML edits through the backend: a replace lands; a replace over someone else's change comes
/// back as a conflict with their version; bad text and a missing resourceVersion are refused;
/// masked Secret values stay as stored; a multi-document create reports each document.
pub fn yaml_edits_apply_refuse_conflicts_and_create_many(cluster: &dyn ApiServer) {
    use klieg::model::{EditRequest, Outcome};
    let ns = "edits-suite";
    let context = cluster.admin_context();
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, context);
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{mode: a}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {ns}}}\nstringData: {{password: hunter2, user: admin}}\n"
    ));
    let configmap = target(context, "", "configmaps", Some(ns), "settings");
    let live_yaml = cluster.kubectl(&["get", "configmap", "settings", "-n", ns, "-o", "yaml"]);
    let edit = |request_id: u64, target: &klieg::model::Target, yaml: String| {
        finish(
            &handle,
            Command::Edit {
                request_id,
                request: EditRequest::Replace { target: target.clone(), yaml, dry_run: false },
            },
            request_id,
            1,
        )
        .remove(0)
        .outcome
    };

    // A dry run is checked by the server and stores nothing.
    let dry = finish(
        &handle,
        Command::Edit {
            request_id: 100,
            request: EditRequest::Replace {
                target: configmap.clone(),
                yaml: live_yaml.replace("mode: a", "mode: dry"),
                dry_run: true,
            },
        },
        100,
        1,
    )
    .remove(0)
    .outcome;
    assert!(matches!(&dry, Outcome::Done { message } if message.contains("dry run")), "{dry:?}");
    assert_eq!(cluster.kubectl(&["get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}"]), "a");
    let applied = edit(1, &configmap, live_yaml.replace("mode: a", "mode: b"));
    assert!(matches!(applied, Outcome::Done { .. }), "{applied:?}");
    assert_eq!(cluster.kubectl(&["get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}"]), "b");

    // The same stale text again, after someone else changed the object: a conflict, with theirs.
    cluster.kubectl(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"theirs"}}"#,
    ]);
    match edit(2, &configmap, live_yaml.replace("mode: a", "mode: mine")) {
        Outcome::Conflict { live_yaml, live_resource_version } => {
            assert!(live_yaml.contains("mode: theirs"), "{live_yaml}");
            assert!(!live_resource_version.is_empty());
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(cluster.kubectl(&["get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}"]), "theirs");

    let invalid = edit(3, &configmap, "data: [unclosed".into());
    assert!(matches!(&invalid, Outcome::Failed { message } if message.contains("invalid YAML")), "{invalid:?}");
    let without_version = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{mode: blind}}\n"
    );
    let refused = edit(4, &configmap, without_version);
    assert!(matches!(&refused, Outcome::Failed { message } if message.contains("resourceVersion")), "{refused:?}");

    // A Secret edited in its masked form keeps the values the user did not retype.
    let secret = target(context, "", "secrets", Some(ns), "creds");
    let version = cluster.kubectl(&["get", "secret", "creds", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}"]);
    let mask = klieg::backend::details::SECRET_MASK;
    let masked = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {ns}, resourceVersion: '{version}'}}\ndata: {{password: '{mask}', user: cm9vdA==}}\n"
    );
    assert!(matches!(edit(5, &secret, masked), Outcome::Done { .. }));
    assert_eq!(
        cluster.kubectl(&["get", "secret", "creds", "-n", ns, "-o", "jsonpath={.data.password}"]),
        "aHVudGVyMg=="
    );
    assert_eq!(cluster.kubectl(&["get", "secret", "creds", "-n", ns, "-o", "jsonpath={.data.user}"]), "cm9vdA==");

    let documents = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\ndata: {k: v}\n---\napiVersion: nope.example/v1\nkind: Gadget\nmetadata: {name: three}\n";
    let created = finish(
        &handle,
        Command::Edit {
            request_id: 6,
            request: EditRequest::Create {
                cluster: ClusterId::new(context),
                namespace: Some(Arc::from(ns)),
                yaml: documents.into(),
                dry_run: false,
            },
        },
        6,
        3,
    );
    let summary: Vec<String> = created.iter().map(|a| format!("{}: {:?}", a.subject, a.outcome)).collect();
    assert_eq!(created.iter().filter(|a| matches!(a.outcome, Outcome::Done { .. })).count(), 2, "{summary:?}");
    assert!(summary.iter().any(|s| s.contains("Failed") && s.contains("Gadget")), "{summary:?}");
    assert_eq!(cluster.kubectl(&["get", "configmap", "two", "-n", ns, "-o", "jsonpath={.data.k}"]), "v");

    dry_run_creates_report_and_store_nothing(cluster, &handle, ns);
}

/// A dry-run create reports what it would create, and what the server refuses, creating nothing.
fn dry_run_creates_report_and_store_nothing(cluster: &dyn ApiServer, handle: &klieg::backend::BackendHandle, ns: &str) {
    use klieg::model::{EditRequest, Outcome};
    let context = cluster.admin_context();
    // A dry-run create reports what it would create, and what the server refuses, creating nothing.
    let tried = finish(
        handle,
        Command::Edit {
            request_id: 7,
            request: EditRequest::Create {
                cluster: ClusterId::new(context),
                namespace: Some(Arc::from(ns)),
                yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry-one}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n".into(),
                dry_run: true,
            },
        },
        7,
        2,
    );
    let summary: Vec<String> = tried.iter().map(|a| format!("{}: {:?}", a.subject, a.outcome)).collect();
    assert!(
        matches!(&tried[0].outcome, Outcome::Done { message } if message.contains("would create ConfigMap dry-one")),
        "{summary:?}"
    );
    assert!(
        matches!(&tried[1].outcome, Outcome::Failed { message } if message.contains("Invalid value")),
        "{summary:?}"
    );
    let names = cluster.kubectl(&["get", "configmaps", "-n", ns, "-o", "name"]);
    assert!(!names.contains("dry-one"), "{names}");
}

/// A kube-rs client for the server's admin context.
async fn kube_client(cluster: &dyn ApiServer) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
    let options =
        kube::config::KubeConfigOptions { context: Some(cluster.admin_context().to_string()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

async fn read_until(reader: &mut (impl tokio::io::AsyncRead + Unpin), needle: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        while !seen.contains(needle) {
            let n = reader.read(&mut buffer).await.expect("read");
            assert!(n > 0, "stream ended before {needle:?}; got {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("output in time");
    seen
}

/// Logs stream and follow through the backend (one container of a pod, and every pod of a
/// workload merged); exec runs commands and an interactive TTY; bytes flow through a
/// port-forward. On the real apiserver these go through its proxy to the fake kubelet at
/// `kubelet_port`, registered as the pods' node.
pub fn pod_streams_logs_exec_and_port_forward(cluster: &dyn ApiServer, kubelet_port: Option<u16>) {
    use klieg::model::LogQuery;
    let ns = "streams-suite";
    let node = "kubelet-node";
    cluster.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: {node}}}\n"));
    if let Some(port) = kubelet_port {
        let status = format!(
            r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}}],"daemonEndpoints":{{"kubeletEndpoint":{{"Port":{port}}}}},"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"fake kubelet"}}]}}}}"#
        );
        cluster.kubectl(&["patch", "node", node, "--subresource=status", "--type=merge", "-p", &status]);
    }
    let pod = |name: &str, labels: &str, containers: &str| pod_yaml(ns, node, name, labels, containers);
    cluster.apply(&[
        pod("talker", "app: talker", "{name: app, image: app, ports: [{containerPort: 8080}]}, {name: sidecar, image: proxy}"),
        pod("merged-a", "app: merged", "{name: c, image: app}"),
        pod("merged-b", "app: merged", "{name: c, image: app}"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: merged, namespace: {ns}}}\nspec:\n  replicas: 0\n  selector: {{matchLabels: {{app: merged}}}}\n  template:\n    metadata: {{labels: {{app: merged}}}}\n    spec: {{containers: [{{name: c, image: app}}]}}\n"),
    ]
    .join("---\n"));

    let context = cluster.admin_context();
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, context);
    handle.logs.ask(Some(LogQuery {
        target: target(context, "", "pods", Some(ns), "talker"),
        container: Some(Arc::from("app")),
        previous: false,
        timestamps: false,
        follow: true,
        tail_lines: 5,
    }));
    let followed = wait_for(&handle.logs.snapshots, WAIT, "the tail and two followed lines", |logs| {
        (logs.buffer.len() >= 7).then(|| logs.buffer.iter_from(0).map(|l| l.text.to_string()).collect::<Vec<_>>())
    });
    assert!(followed.iter().all(|l| l.contains(&format!("{ns}/talker/app"))), "one container's lines: {followed:?}");
    let containers = handle.logs.snapshots.borrow().containers.clone();
    assert_eq!(containers.iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["app", "sidecar"]);

    handle.logs.ask(Some(LogQuery {
        target: target(context, "apps", "deployments", Some(ns), "merged"),
        container: None,
        previous: false,
        timestamps: true,
        follow: false,
        tail_lines: 3,
    }));
    let merged = wait_for(&handle.logs.snapshots, WAIT, "both pods' logs", |logs| {
        (logs.sources.len() == 2 && logs.buffer.len() == 6 && logs.streaming == 0).then(|| logs.clone())
    });
    assert_eq!(merged.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ["merged-a/c", "merged-b/c"]);
    for source in 0..2u16 {
        assert_eq!(merged.buffer.iter_from(0).filter(|l| l.source == source).count(), 3, "three lines per pod");
    }
    // Followed, a workload's new pod joins the view as it appears.
    handle.logs.ask(Some(LogQuery {
        target: target(context, "apps", "deployments", Some(ns), "merged"),
        container: None,
        previous: false,
        timestamps: false,
        follow: true,
        tail_lines: 1,
    }));
    wait_for(&handle.logs.snapshots, WAIT, "both pods followed", |logs| {
        (logs.sources.len() == 2 && logs.query.as_ref().is_some_and(|q| q.follow)).then_some(())
    });
    cluster.apply(&pod("merged-c", "app: merged", "{name: c, image: app}"));
    let joined = wait_for(&handle.logs.snapshots, WAIT, "the new pod's lines", |logs| {
        let source = logs.sources.iter().position(|s| &**s == "merged-c/c")?;
        logs.buffer.iter_from(0).any(|l| usize::from(l.source) == source).then_some(logs.sources.len())
    });
    assert_eq!(joined, 3);
    handle.logs.ask(None);

    port_forwards_reach_pods_and_services(cluster, &handle, ns, node);
    exec_terminals_type_resize_and_scroll(cluster, &handle, ns, node);
}

/// A pod `name` on `node` in `ns`, with `labels` and `containers` (YAML flow syntax).
fn pod_yaml(ns: &str, node: &str, name: &str, labels: &str, containers: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec: {{nodeName: {node}, containers: [{containers}]}}\n"
    )
}

/// The port-forward part of [`pod_streams_logs_exec_and_port_forward`], on its pods.
fn port_forwards_reach_pods_and_services(
    cluster: &dyn ApiServer,
    handle: &klieg::backend::BackendHandle,
    ns: &str,
    node: &str,
) {
    let context = cluster.admin_context();
    let pod = |name: &str, labels: &str, containers: &str| pod_yaml(ns, node, name, labels, containers);
    // Port-forwards through the backend: to the pod, and to a Service picking it by selector;
    // each TCP connection opens its own stream, so several in a row work.
    cluster.apply(&format!("apiVersion: v1\nkind: Service\nmetadata: {{name: talker, namespace: {ns}}}\nspec:\n  selector: {{app: talker}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"));
    for (id, plural, name, port) in [(1, "pods", "talker", 8080), (2, "services", "talker", 80)] {
        handle.send(Command::StartForward {
            id,
            request: klieg::model::ForwardRequest {
                target: target(context, "", plural, Some(ns), name),
                remote_port: port,
                local_port: None,
            },
        });
        let local = wait_for(&handle.forwards, WAIT, "a listening forward", |list| {
            list.forwards.iter().find(|f| f.id == id).and_then(|f| f.local_port)
        });
        for attempt in 0..2 {
            use std::io::{Read, Write};
            let mut socket = std::net::TcpStream::connect(("127.0.0.1", local)).expect("connect to the forward");
            socket.set_read_timeout(Some(WAIT)).expect("timeout");
            write!(socket, "GET /try-{attempt} HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
            let mut reply = Vec::new();
            let mut buffer = [0u8; 1024];
            while !String::from_utf8_lossy(&reply).contains(&format!("request: GET /try-{attempt}")) {
                let n = socket.read(&mut buffer).expect("read the reply");
                assert!(n > 0, "the forward closed early: {}", String::from_utf8_lossy(&reply));
                reply.extend_from_slice(&buffer[..n]);
            }
            assert!(String::from_utf8_lossy(&reply).contains("Hello from talker on port 8080"));
        }
        let info = handle.forwards.borrow().forwards.iter().find(|f| f.id == id).cloned().expect("the forward");
        assert_eq!((info.pod.as_deref(), info.pod_port, info.connections), (Some("talker"), Some(8080), 2));
        // A tunnel still open when the forward stops is closed with it.
        let mut held = open_tunnel(local);
        handle.send(Command::StopForward { id });
        wait_for(&handle.forwards, WAIT, "the forward to stop", |list| {
            list.forwards.iter().all(|f| f.id != id).then_some(())
        });
        assert!(std::net::TcpStream::connect(("127.0.0.1", local)).is_err(), "the local port is closed");
        {
            use std::io::Read;
            held.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            let ended = held.read(&mut [0u8; 64]);
            let still_open = matches!(&ended, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
            assert!(!still_open, "the open tunnel was closed by Stop: {ended:?}");
        }
    }

    // A Service forward outlives its pod: each connection picks a pod anew, so when the pod is
    // replaced the forward keeps listening, says it has no pod meanwhile, then reaches the new one.
    cluster.apply(&[
        pod("replaced-1", "app: replaced", "{name: app, image: app, ports: [{containerPort: 8080}]}"),
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: replaced, namespace: {ns}}}\nspec:\n  selector: {{app: replaced}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"),
    ]
    .join("---\n"));
    handle.send(Command::StartForward {
        id: 3,
        request: klieg::model::ForwardRequest {
            target: target(context, "", "services", Some(ns), "replaced"),
            remote_port: 80,
            local_port: None,
        },
    });
    let local = wait_for(&handle.forwards, WAIT, "a listening forward", |list| {
        list.forwards.iter().find(|f| f.id == 3).and_then(|f| f.local_port)
    });
    let exchange = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", local)).expect("connect to the forward");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        // With no pod behind it the forward closes the connection at once: no answer.
        if write!(socket, "GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
            return String::new();
        }
        let mut reply = Vec::new();
        let mut buffer = [0u8; 1024];
        while !String::from_utf8_lossy(&reply).contains(&format!("request: GET /{path}")) {
            match socket.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&reply).into_owned()
    };
    assert!(exchange("before").contains("Hello from replaced-1 on port 8080"));
    cluster.kubectl(&["delete", "pod", "-n", ns, "replaced-1", "--grace-period=0", "--force"]);
    wait_for(&handle.forwards, WAIT, "the forward to say no pod backs it", |list| {
        let reply = exchange("meanwhile");
        assert!(!reply.contains("Hello"), "no pod should answer: {reply}");
        let info = list.forwards.iter().find(|f| f.id == 3)?;
        let degraded =
            matches!(&info.state, klieg::model::ForwardState::Degraded { error } if error.contains("no pod"));
        degraded.then_some(())
    });
    cluster.apply(&pod("replaced-2", "app: replaced", "{name: app, image: app, ports: [{containerPort: 8080}]}"));
    assert!(exchange("after").contains("Hello from replaced-2 on port 8080"));
    let info = handle.forwards.borrow().forwards.iter().find(|f| f.id == 3).cloned().expect("the forward");
    assert_eq!((info.pod.as_deref(), info.local_port), (Some("replaced-2"), Some(local)), "same local port, new pod");
    handle.send(Command::StopForward { id: 3 });
}

/// A connection through the forward on `local`, shown to reach the pod, left open.
fn open_tunnel(local: u16) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut held = std::net::TcpStream::connect(("127.0.0.1", local)).expect("connect to the forward");
    held.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(held, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    let mut reply = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&reply).contains("request: GET /held") {
        let n = held.read(&mut buffer).expect("read the reply");
        assert!(n > 0, "the forward closed early");
        reply.extend_from_slice(&buffer[..n]);
    }
    held
}

/// The exec part of [`pod_streams_logs_exec_and_port_forward`], in its `talker` pod; removes
/// the node at the end.
fn exec_terminals_type_resize_and_scroll(
    cluster: &dyn ApiServer,
    handle: &klieg::backend::BackendHandle,
    ns: &str,
    node: &str,
) {
    let context = cluster.admin_context();
    // An exec terminal through the backend: typed bytes reach the shell, its output comes back
    // rendered by the emulator, and a resize reaches the container.
    handle.send(Command::OpenTerminal {
        id: 7,
        request: klieg::model::ExecRequest {
            target: target(context, "", "pods", Some(ns), "talker"),
            container: Some(Arc::from("app")),
            command: vec!["sh".into()],
            rows: 24,
            cols: 80,
        },
    });
    let screen = |what: &str, check: &dyn Fn(&str) -> bool| {
        wait_for(&handle.terminals, WAIT, what, |list| {
            let view = list.terminals.iter().find(|t| t.id == 7)?;
            assert!(view.error.is_none(), "terminal error: {:?}", view.error);
            let text = view.text();
            check(&text).then_some(text)
        })
    };
    screen("the prompt", &|text| text.contains("root@talker:/#"));
    handle.send(Command::TerminalInput { id: 7, bytes: b"echo via-terminal\r".to_vec() });
    screen("the echoed command and its output", &|text| text.contains("# echo via-terminal\nvia-terminal"));
    // Output past the screen goes to the scrollback, which the view can be scrolled into; typing
    // returns it to the live screen.
    handle.send(Command::TerminalInput { id: 7, bytes: b"seq 1 60\r".to_vec() });
    screen("the end of seq's output", &|text| text.lines().any(|l| l == "60") && !text.lines().any(|l| l == "2"));
    handle.send(Command::ScrollTerminal { id: 7, lines: 1000 });
    let scrolled = wait_for(&handle.terminals, WAIT, "the view at the top of the scrollback", |list| {
        let view = list.terminals.iter().find(|t| t.id == 7)?;
        (view.scrolled_back > 0).then(|| (view.scrolled_back, view.scrollback_len, view.text()))
    });
    assert_eq!(scrolled.0, scrolled.1, "clamped to the scrollback held: {scrolled:?}");
    assert!(scrolled.2.contains("# echo via-terminal") && scrolled.2.lines().any(|l| l == "2"), "{}", scrolled.2);
    assert!(!scrolled.2.lines().any(|l| l == "60"), "{}", scrolled.2);
    handle.send(Command::TerminalInput { id: 7, bytes: b"echo back\r".to_vec() });
    screen("the live screen again", &|text| text.contains("# echo back\nback"));
    assert_eq!(handle.terminals.borrow().terminals.iter().find(|t| t.id == 7).map(|t| t.scrolled_back), Some(0));
    handle.send(Command::ResizeTerminal { id: 7, rows: 30, cols: 100 });
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        handle.send(Command::TerminalInput { id: 7, bytes: b"stty size\r".to_vec() });
        std::thread::sleep(Duration::from_millis(300));
        let text = handle.terminals.borrow().terminals.iter().find(|t| t.id == 7).map(|t| t.text()).unwrap_or_default();
        if text.contains("30 100") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the resize never reached the shell: {text}");
    }
    handle.send(Command::TerminalInput { id: 7, bytes: b"exit 0\r".to_vec() });
    wait_for(&handle.terminals, WAIT, "the session to end", |list| {
        list.terminals.iter().find(|t| t.id == 7).and_then(|t| t.exited.clone())
    });
    handle.send(Command::CloseTerminal { id: 7 });

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        use kube::api::AttachParams;
        use tokio::io::AsyncWriteExt;
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(kube_client(cluster).await, ns);
        let mut once = pods
            .exec("talker", ["cat", "/etc/hostname"], &AttachParams::default().container("app"))
            .await
            .expect("exec");
        assert_eq!(read_until(&mut once.stdout().expect("stdout"), "\n").await, "talker\n");
        let status = once.take_status().expect("status").await.expect("a status");
        assert_eq!(status.status.as_deref(), Some("Success"));

        let mut shell = pods
            .exec("talker", ["sh"], &AttachParams::interactive_tty().container("app").stderr(false))
            .await
            .expect("an interactive shell");
        let mut stdin = shell.stdin().expect("stdin");
        let mut stdout = shell.stdout().expect("stdout");
        read_until(&mut stdout, "# ").await;
        stdin.write_all(b"echo typed-through\r").await.expect("typed");
        read_until(&mut stdout, "typed-through\r\ntyped-through").await;
        stdin.write_all(b"exit\r").await.expect("typed");

        let mut forward = pods.portforward("talker", &[8080]).await.expect("port-forward");
        let mut stream = forward.take_stream(8080).expect("a stream");
        stream.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("sent");
        let reply = read_until(&mut stream, "request: GET /ping").await;
        assert!(reply.contains("Hello from talker on port 8080"), "{reply}");
    });
    cluster.kubectl(&["delete", "node", node, "--wait=false"]);
}

/// Waits until `kind` in the cluster shows live rows (or none, live).
fn wait_live(handle: &klieg::backend::BackendHandle, context: &str, group: &str, plural: &str) {
    handle.table.ask(Some(view(context, group, plural, &[])));
    wait_for(&handle.table.snapshots, WAIT, &format!("{plural} to be live"), |t| {
        let kind = t.kind.as_ref()?;
        (&*kind.plural == plural && t.status.values().all(|s| *s == ViewStatus::Live) && !t.status.is_empty())
            .then_some(())
    });
}

/// The kinds the connection tests keep watching at once, besides namespaces and CRDs.
const SHARED_KINDS: [(&str, &str); 5] = [
    ("", "pods"),
    ("", "configmaps"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("rbac.authorization.k8s.io", "roles"),
];

pub fn watches_share_one_connection_per_cluster(cluster: &dyn ApiServer) {
    use super::relay::Relay;
    let server = cluster.server_url();
    let address = server.trim_start_matches("https://").to_string();

    // Control: kube's own client opens a connection per concurrent watch, and the relay sees it.
    let control = Relay::forward_to(&address);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let control_url = format!("https://127.0.0.1:{}", control.port);
    // Counted while the watches run: aborting them closes their connections at once.
    let open_at_once = runtime.block_on(async {
        let text = cluster.kubeconfig_text("control", "admin-token").replace(&server, &control_url);
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let mut watches = Vec::new();
        for plural in ["pods", "configmaps", "services", "serviceaccounts"] {
            let resource = kube::api::ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: String::new(),
                plural: plural.into(),
            };
            let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(client.clone(), &resource);
            watches.push(tokio::spawn(async move {
                use futures::StreamExt;
                let stream = api.watch(&kube::api::WatchParams::default().timeout(60), "0").await;
                if let Ok(stream) = stream {
                    let mut stream = Box::pin(stream);
                    while stream.next().await.is_some() {}
                }
            }));
        }
        let deadline = std::time::Instant::now() + WAIT;
        while control.open() < 4 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let open_at_once = control.open();
        for watch in watches {
            watch.abort();
        }
        open_at_once
    });
    assert!(open_at_once >= 4, "kube's HTTP/1.1 client: {open_at_once} connections for 4 watches");

    // Klieg: connect, discovery, namespaces, CRDs, access rules and five table watches, all at once.
    let relay = Relay::forward_to(&address);
    let relay_url = format!("https://127.0.0.1:{}", relay.port);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relayed.yaml");
    std::fs::write(&path, cluster.kubeconfig_text("relayed", "admin-token").replace(&server, &relay_url))
        .expect("write");
    let handle = start_backend(super::sources_for(&[&path]));
    wait_connected(&handle, "relayed");
    for (group, plural) in SHARED_KINDS {
        wait_live(&handle, "relayed", group, plural);
    }
    // Every watch is still running (views linger after being left), over one connection.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(relay.open(), 1, "open connections");
    assert_eq!(relay.accepted(), 1, "connections opened since the start");
}

pub fn proxy_url_carries_every_request(cluster: &dyn ApiServer) {
    use super::relay::Relay;
    let proxy = Relay::connect_proxy();
    let server = cluster.server_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("proxied.yaml");
    let text = cluster.kubeconfig_text("proxied", "admin-token").replace(
        &format!("    server: {server}\n"),
        &format!("    server: {server}\n    proxy-url: http://127.0.0.1:{}\n", proxy.port),
    );
    assert!(text.contains("proxy-url"), "{text}");
    std::fs::write(&path, text).expect("write");
    let handle = start_backend(super::sources_for(&[&path]));
    wait_connected(&handle, "proxied");
    wait_live(&handle, "proxied", "", "configmaps");
    let targets = proxy.connect_targets();
    let address = server.trim_start_matches("https://");
    assert!(!targets.is_empty() && targets.iter().all(|t| t == address), "{targets:?}");
    assert_eq!(proxy.open(), 1, "watches and requests share the one tunnel");
}

/// Paged lists say how many items remain when the count is exact (no selectors), as the
/// apiserver does; the overview counts pods this way between full lists. While the overview is
/// shown, a new pod is counted within a poll or two.
pub fn paged_lists_count_what_remains_and_the_overview_follows_new_pods(cluster: &dyn ApiServer) {
    let ns = "remaining-suite";
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a, namespace: {ns}, labels: {{tier: web}}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: b, namespace: {ns}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {ns}}}\n"
    ));
    let page = |query: &str| -> serde_json::Value {
        let text = cluster.kubectl(&["get", "--raw", &format!("/api/v1/namespaces/{ns}/configmaps?limit=1{query}")]);
        serde_json::from_str(&text).expect("a list")
    };
    let plain = page("");
    assert_eq!(plain["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(plain["metadata"]["remainingItemCount"], 2, "{plain}");
    let selected = page("&labelSelector=tier%21%3Ddb");
    assert!(selected["metadata"]["continue"].is_string(), "{selected}");
    assert!(selected["metadata"].get("remainingItemCount").is_none(), "not exact with a selector: {selected}");

    let context = cluster.admin_context();
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, context);
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: overview-node}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: first, namespace: {ns}}}\nspec: {{nodeName: overview-node, containers: [{{name: c, image: busybox, resources: {{requests: {{cpu: 100m}}}}}}]}}\n"
    ));
    handle.overview.ask(Some(vec![(ClusterId::new(context), true)]));
    let before = wait_for(&handle.overview.snapshots, WAIT, "the overview", |o| {
        o.clusters.first().filter(|c| c.error.is_none()).map(|c| c.pods)
    });
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: second, namespace: {ns}}}\nspec: {{nodeName: overview-node, containers: [{{name: c, image: busybox, resources: {{requests: {{cpu: 100m}}}}}}]}}\n"
    ));
    // Within two polls (10 s each), well before the minute's full list. (Other tests share the
    // server and may add pods too: the count grows by at least this one.)
    wait_for(&handle.overview.snapshots, Duration::from_secs(25), "the new pod counted", |o| {
        o.clusters.first().filter(|c| c.pods > before).map(|_| ())
    });
}

/// A list read in pages shows one moment, however the objects change between its pages, and a
/// watch from its resource version brings exactly what changed since: the promise Klieg's table
/// watcher (and kube-runtime's) is built on.
pub fn every_page_of_a_list_is_one_moment_and_its_watch_brings_the_changes(cluster: &dyn ApiServer) {
    let ns = "paged-moment";
    let mut yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
    for name in ["b", "d", "f", "h"] {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{v: '1'}}\n"
        ));
    }
    cluster.apply(&yaml);
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let get = |query: &str| -> serde_json::Value {
        serde_json::from_str(&cluster.kubectl(&["get", "--raw", &format!("{path}?{query}")])).expect("a list")
    };
    let names_and_values = |list: &serde_json::Value| -> Vec<(String, String)> {
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|o| {
                        (
                            o["metadata"]["name"].as_str().unwrap_or("").into(),
                            o["data"]["v"].as_str().unwrap_or("").into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = get("limit=2");
    assert_eq!(names_and_values(&first), [("b".into(), "1".into()), ("d".into(), "1".into())], "{first}");
    let token = first["metadata"]["continue"].as_str().expect("a continue token").to_string();
    let rv = first["metadata"]["resourceVersion"].as_str().expect("a resource version").to_string();
    cluster
        .apply(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: e, namespace: {ns}}}\ndata: {{v: '1'}}\n"));
    cluster.kubectl(&["delete", "configmap", "f", "-n", ns]);
    cluster.kubectl(&["patch", "configmap", "h", "-n", ns, "--type=merge", "-p", r#"{"data":{"v":"2"}}"#]);
    let rest = get(&format!("limit=2&continue={token}"));
    assert_eq!(rest["metadata"]["resourceVersion"].as_str(), Some(rv.as_str()), "one list, one version: {rest}");
    assert_eq!(
        names_and_values(&rest),
        [("f".into(), "1".into()), ("h".into(), "1".into())],
        "as of the first page: {rest}"
    );
    let watched = cluster.kubectl(&["get", "--raw", &format!("{path}?watch=1&resourceVersion={rv}&timeoutSeconds=2")]);
    let events: Vec<(String, String)> = watched
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|e| {
            (e["type"].as_str().unwrap_or("").into(), e["object"]["metadata"]["name"].as_str().unwrap_or("").into())
        })
        .collect();
    assert_eq!(
        events,
        [("ADDED".into(), "e".into()), ("DELETED".into(), "f".into()), ("MODIFIED".into(), "h".into())],
        "{watched}"
    );
    assert_eq!(names_and_values(&get("")).len(), 4);
}

/// The bulk bar's answers: a user who may delete configmaps in one namespace and only read them
/// in another is allowed delete over a selection in the first, and refused over one spanning both.
pub fn bulk_selections_are_checked_per_namespace(cluster: &dyn ApiServer) {
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: bulk-own}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: bulk-other}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm-admin, namespace: bulk-own}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch, delete]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-cm-admin, namespace: bulk-own}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: cm-admin, apiGroup: rbac.authorization.k8s.io}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm-reader, namespace: bulk-other}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-cm-reader, namespace: bulk-other}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: cm-reader, apiGroup: rbac.authorization.k8s.io}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let team = dir.path().join("team.yaml");
    std::fs::write(&team, cluster.kubeconfig_text("bulk-team", "team-token")).expect("write");
    let can_delete = || {
        let output = super::run_kubectl(&team, &["auth", "can-i", "delete", "configmaps", "-n", "bulk-own"], None);
        String::from_utf8_lossy(&output.stdout).trim() == "yes"
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !can_delete() {
        assert!(std::time::Instant::now() < deadline, "the RoleBinding never took effect");
        std::thread::sleep(Duration::from_millis(200));
    }
    let handle = start_backend(sources_for(&[&team]));
    wait_connected(&handle, "bulk-team");
    let configmaps = kind("", "configmaps");
    let scope = |ns: &str| (ClusterId::new("bulk-team"), Some(Arc::<str>::from(ns)));
    let ask = |scopes: Vec<klieg::model::AccessScope>| {
        handle.bulk_access.ask(Some((configmaps.clone(), scopes.clone())));
        wait_for(&handle.bulk_access.snapshots, WAIT, "the bulk answers", |answers| {
            let asked: Vec<_> = answers.scopes.iter().map(|(scope, _)| scope.clone()).collect();
            (asked == scopes).then(|| answers.clone())
        })
    };
    let own = ask(vec![scope("bulk-own")]);
    assert!(own.allows(&configmaps, "delete", "", "configmaps"), "{own:?}");
    let both = ask(vec![scope("bulk-other"), scope("bulk-own")]);
    assert!(!both.allows(&configmaps, "delete", "", "configmaps"), "{both:?}");
    let other = both.scopes.iter().find(|(s, _)| *s == scope("bulk-other")).map(|(_, a)| a.clone()).expect("asked");
    assert_eq!(other.denied().map(|p| p.describe()).collect::<Vec<_>>(), ["delete configmaps"]);
}

/// A workload whose pods have more containers than one log view follows: the first
/// `MAX_LOG_STREAMS` are streamed, the rest are named as left out, and nothing else stops.
pub fn a_workload_log_follows_at_most_the_stream_limit(cluster: &dyn ApiServer) {
    use klieg::model::LogQuery;
    let ns = "many-streams";
    let limit = klieg::backend::logs::MAX_LOG_STREAMS;
    let pods = limit / 2 + 5;
    let mut objects = vec![format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")];
    for index in 0..pods {
        let containers = "{name: app, image: app}, {name: sidecar, image: proxy}";
        objects.push(pod_yaml(ns, "sim-node", &format!("worker-{index:02}"), "app: many", containers));
    }
    objects.push(format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: many, namespace: {ns}}}\nspec:\n  replicas: 0\n  selector: {{matchLabels: {{app: many}}}}\n  template:\n    metadata: {{labels: {{app: many}}}}\n    spec: {{containers: [{{name: app, image: app}}]}}\n"));
    cluster.apply(&objects.join("---\n"));
    let context = cluster.admin_context();
    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    wait_connected(&handle, context);
    handle.logs.ask(Some(LogQuery {
        target: target(context, "apps", "deployments", Some(ns), "many"),
        container: None,
        previous: false,
        timestamps: false,
        follow: false,
        tail_lines: 1,
    }));
    let logs = wait_for(&handle.logs.snapshots, WAIT, "the streams read and the rest named", |logs| {
        (logs.sources.len() == limit && logs.streaming == 0 && !logs.left_out.is_empty()).then(|| logs.clone())
    });
    assert_eq!(logs.left_out.len(), pods * 2 - limit, "{:?}", logs.left_out);
    assert!(logs.left_out.iter().all(|name| name.starts_with("worker-")), "{:?}", logs.left_out);
    assert!(logs.errors.is_empty(), "{:?}", logs.errors);
    assert_eq!(logs.buffer.len(), limit, "one tail line from each followed stream");
}
