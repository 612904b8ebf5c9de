//! The client-facing suite (tests/common/suite.rs) against the real kube-apiserver v1.20.2.

use crate::common::{TestCluster, suite};

#[test]
fn contexts_load_from_merged_files_and_connect() {
    suite::contexts_load_from_merged_files_and_connect(TestCluster::shared());
}

#[test]
fn discovery_lists_built_in_kinds_and_a_crd() {
    suite::discovery_lists_built_in_kinds_and_a_crd(TestCluster::shared());
}

#[test]
fn table_shows_adds_changes_and_deletes_live() {
    suite::table_shows_adds_changes_and_deletes_live(TestCluster::shared());
}

#[test]
fn crd_printer_columns_become_table_columns() {
    suite::crd_printer_columns_become_table_columns(TestCluster::shared());
}

#[test]
fn broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works() {
    suite::broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works(TestCluster::shared());
}

#[test]
fn access_reviews_and_requests_follow_rbac() {
    suite::access_reviews_and_requests_follow_rbac(TestCluster::shared());
}

#[test]
fn actions_change_objects_and_report_each_result() {
    suite::actions_change_objects_and_report_each_result(TestCluster::shared());
}

#[test]
fn yaml_edits_apply_refuse_conflicts_and_create_many() {
    suite::yaml_edits_apply_refuse_conflicts_and_create_many(TestCluster::shared());
}

#[test]
fn pod_streams_logs_exec_and_port_forward() {
    // The apiserver proxies logs, exec and port-forward to the node's kubelet: a fake one here.
    let kubelet = klieg::sim::kubelet::FakeKubelet::start().expect("fake kubelet");
    suite::pod_streams_logs_exec_and_port_forward(TestCluster::shared(), Some(kubelet.port));
}

#[test]
fn kubeconfig_edits_are_picked_up_live() {
    suite::kubeconfig_edits_are_picked_up_live(TestCluster::shared());
}

/// metrics.k8s.io through the real apiserver's aggregation layer: an APIService points at a
/// metrics-server stand-in on loopback (through an ExternalName Service: Endpoints may not hold
/// loopback addresses), and the backend's usage columns and details sampling read
/// it through the apiserver as they would a real metrics-server. A control plane of its own, so
/// the APIService never touches the other tests' discovery.
#[test]
fn metrics_arrive_through_an_aggregated_apiservice() {
    use crate::common::{ApiServer, sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{Cell, ClusterId, KindKey, ObjectKey, ViewQuery};
    use std::sync::Arc;
    let cluster = TestCluster::start(false);
    let metrics = klieg::sim::metrics_server::FakeMetricsServer::start().expect("metrics-server stand-in");
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: metered}}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: metered-node}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: busy, namespace: metered}}\nspec:\n  nodeName: metered-node\n  containers: [{{name: app, image: app, resources: {{requests: {{cpu: 250m, memory: 512Mi}}, limits: {{cpu: '1', memory: 1Gi}}}}}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: metrics-server, namespace: kube-system}}\nspec: {{type: ExternalName, externalName: localhost, ports: [{{port: {port}}}]}}\n---\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {{name: v1beta1.metrics.k8s.io}}\nspec: {{service: {{name: metrics-server, namespace: kube-system, port: {port}}}, group: metrics.k8s.io, version: v1beta1, insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100}}\n",
        port = metrics.port
    ));
    cluster.kubectl(&[
        "patch",
        "pod",
        "busy",
        "-n",
        "metered",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running"}}"#,
    ]);
    cluster.kubectl(&["patch", "node", "metered-node", "--subresource=status", "--type=merge", "-p", r#"{"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"capacity":{"cpu":"4","memory":"8Gi","pods":"110"}}}"#]);
    let items = |kind: &str| -> Vec<serde_json::Value> {
        let list: serde_json::Value =
            serde_json::from_str(&cluster.kubectl(&["get", kind, "-A", "-o", "json"])).expect("a JSON list");
        list["items"].as_array().cloned().unwrap_or_default()
    };
    metrics.set_objects(&items("namespaces"), &items("nodes"), &items("pods")).expect("objects for the stand-in");
    // The aggregator marks the APIService available once it answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let raw = crate::common::run_kubectl(
            &cluster.kubeconfig,
            &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/metered/pods/busy"],
            None,
        );
        if raw.status.success() {
            assert!(String::from_utf8_lossy(&raw.stdout).contains("\"PodMetrics\""));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics.k8s.io never became available: {}",
            String::from_utf8_lossy(&raw.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let top = cluster.kubectl(&["top", "pod", "busy", "-n", "metered", "--no-headers"]);
    assert!(top.contains("busy") && top.contains('m') && top.contains("Mi"), "{top}");

    let handle = start_backend(sources_for(&[cluster.kubeconfig()]));
    let context = cluster.admin_context().to_string();
    wait_connected(&handle, &context);
    let id = ClusterId::new(&context);
    let pods = KindKey { group: Arc::from(""), plural: Arc::from("pods") };
    handle.table.ask(Some(ViewQuery {
        clusters: vec![id.clone()],
        kind: Some(pods.clone()),
        namespaces: vec![Arc::from("metered")],
        ..ViewQuery::default()
    }));
    let (cpu, of_request) = wait_for(
        &handle.table.snapshots,
        std::time::Duration::from_secs(30),
        "usage through the aggregator",
        |table| {
            let from = table.usage_from?;
            let row = table.rows.iter().find(|r| &*r.key.name == "busy")?;
            match (table.cell(row, from), table.cell(row, from + 1)) {
                (Cell::Measure(cpu, ..), Cell::Measure(percent, ..)) => Some((*cpu, *percent)),
                _ => None,
            }
        },
    );
    assert!(cpu > 0.0 && (of_request - cpu / 0.25 * 100.0).abs() < 1e-6, "{cpu} cores, {of_request}% of 250m");
    let key = ObjectKey { cluster: id, namespace: Some(Arc::from("metered")), name: Arc::from("busy") };
    handle.open_object(Some((pods, key.clone())));
    let history = wait_for(&handle.usage_history.snapshots, std::time::Duration::from_secs(30), "a sample", |h| {
        (h.key.as_ref() == Some(&key) && !h.samples.is_empty()).then(|| h.clone())
    });
    assert_eq!(history.latest.memory_limit_bytes, Some(1024.0 * 1024.0 * 1024.0));
}

/// Stateless clusters: added in Klieg with a server URL, CA and token, or a pasted kubeconfig;
/// their secrets land in the keyring (a memory store here; tests/keyring.rs covers the real
/// Secret Service), never in a file Klieg writes; a wrong token fails visibly while the others
/// keep working; removal deletes the keyring entry.
#[test]
fn clusters_added_in_klieg_keep_their_secrets_in_the_keyring() {
    use crate::common::{ApiServer, start_backend, wait_connected, wait_for};
    use klieg::backend::kubeconfig::KubeconfigSources;
    use klieg::credentials::{MemoryStore, Secrets};
    use klieg::model::{AddCluster, ClusterErrorKind, ClusterState, Command, Outcome};
    use std::sync::Arc;
    let cluster = TestCluster::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("klieg").join("added-clusters.yaml");
    let store = Arc::new(MemoryStore::default());
    let handle = start_backend(KubeconfigSources {
        added: Some(file.clone()),
        secrets: Secrets(store.clone()),
        ..KubeconfigSources::default()
    });
    let wait = std::time::Duration::from_secs(30);
    let finish = |request_id: u64, command: Command| {
        handle.send(command);
        wait_for(&handle.activity, wait, "the request to finish", |log| {
            log.for_request(request_id).last().filter(|a| a.outcome != Outcome::Running).map(|a| a.outcome.clone())
        })
    };
    let ca_pem = std::fs::read_to_string(cluster.ca_path()).expect("the CA");
    let added = finish(
        1,
        Command::AddClusters {
            request_id: 1,
            request: AddCluster::Token {
                name: "added-admin".into(),
                server: cluster.server_url(),
                ca_pem: ca_pem.clone(),
                token: "admin-token".into(),
                insecure: false,
            },
        },
    );
    assert!(matches!(&added, Outcome::Done { message } if message.contains("added-admin")), "{added:?}");
    wait_connected(&handle, "added-admin");

    // A pasted kubeconfig: one context with a token the server rejects, one that works.
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let pasted = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster: {{server: '{}', certificate-authority-data: {ca}}}\nusers:\n- name: wrong\n  user: {{token: not-a-valid-token}}\n- name: viewer\n  user: {{token: viewer-token}}\ncontexts:\n- name: added-wrong\n  context: {{cluster: real, user: wrong}}\n- name: added-viewer\n  context: {{cluster: real, user: viewer}}\n",
        cluster.server_url()
    );
    let pasted_outcome =
        finish(2, Command::AddClusters { request_id: 2, request: AddCluster::Kubeconfig { yaml: pasted } });
    assert!(matches!(&pasted_outcome, Outcome::Done { .. }), "{pasted_outcome:?}");
    wait_connected(&handle, "added-viewer");
    wait_for(&handle.fleet, wait, "the wrong token to be refused", |fleet| {
        let wrong = fleet.clusters.iter().find(|c| c.id.as_str() == "added-wrong")?;
        matches!(wrong.state, ClusterState::Failed { kind: ClusterErrorKind::Unauthorized, .. }).then_some(())
    });
    let fleet = handle.fleet.borrow().clone();
    assert!(fleet.clusters.iter().all(|c| c.added_in_klieg), "all three are Klieg's own");
    assert_eq!(store.len(), 3, "one keyring entry per added context");

    // No file Klieg wrote holds a secret.
    let mut scanned = 0;
    for entry in walk(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).expect("read")).into_owned();
        for secret in ["admin-token", "viewer-token", "not-a-valid-token"] {
            assert!(!text.contains(secret), "{} holds {secret}", entry.display());
        }
        scanned += 1;
    }
    assert!(scanned >= 1, "the added-clusters file was scanned");

    // Removing one deletes its keyring entry; the others stay.
    let removed = finish(3, Command::RemoveCluster { request_id: 3, name: "added-wrong".into() });
    assert!(matches!(removed, Outcome::Done { .. }), "{removed:?}");
    wait_for(&handle.fleet, wait, "the cluster to go", |fleet| {
        fleet.clusters.iter().all(|c| c.id.as_str() != "added-wrong").then_some(())
    });
    assert_eq!(store.len(), 2);
    assert!(matches!(
        handle.fleet.borrow().cluster(&klieg::model::ClusterId::new("added-admin")).map(|c| &c.state),
        Some(ClusterState::Connected { .. })
    ));
}

/// Every file under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The kubeconfig of `exec_plugins_that_work_fail_are_missing_or_hang`, its plugins in `dir`,
/// and the file the working plugin touches when it runs.
fn exec_plugin_kubeconfig(cluster: &TestCluster, dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use crate::common::ApiServer;

    use std::os::unix::fs::PermissionsExt;
    let script = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the plugin");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("make it executable");
        path.display().to_string()
    };
    let ran = dir.join("ok-plugin-ran");
    let ok = script(
        "ok-plugin",
        &format!(
            "touch '{}'\n{}",
            ran.display(),
            r#"printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$TOKEN""#
        ),
    );
    let ok_v1 = script(
        "ok-v1-plugin",
        r#"printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$TOKEN""#,
    );
    let fail = script("fail-plugin", "echo 'login required: run sso-login first' >&2\nexit 3");
    let hang = script("hang-plugin", "exec sleep 600");
    let ca = std::fs::read_to_string(cluster.ca_path()).expect("the CA");
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca.as_bytes());
    let user = |name: &str, command: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {command}\n      env: [{{name: TOKEN, value: admin-token}}]\n      installHint: 'install it from the team wiki'\n"
        )
    };
    // client.authentication.k8s.io/v1 names its interactive mode.
    let v1_user = |name: &str, command: &str, mode: &str| {
        format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {command}\n      args: [--cluster, real]\n      env: [{{name: TOKEN, value: admin-token}}]\n      interactiveMode: {mode}\n"
        )
    };
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster: {{server: '{}', certificate-authority-data: {ca}}}\nusers:\n{}{}{}{}{}{}contexts:\n- {{name: exec-ok, context: {{cluster: real, user: ok}}}}\n- {{name: exec-fail, context: {{cluster: real, user: fail}}}}\n- {{name: exec-missing, context: {{cluster: real, user: missing}}}}\n- {{name: exec-hang, context: {{cluster: real, user: hang}}}}\n- {{name: exec-v1, context: {{cluster: real, user: v1}}}}\n- {{name: exec-interactive, context: {{cluster: real, user: interactive}}}}\n",
        cluster.server_url(),
        user("ok", &ok),
        user("fail", &fail),
        user("missing", "/nonexistent/kube-login"),
        user("hang", &hang),
        v1_user("v1", &ok_v1, "Never"),
        v1_user("interactive", &ok_v1, "Always"),
    );
    let path = dir.join("exec.yaml");
    std::fs::write(&path, kubeconfig).expect("write the kubeconfig");
    (path, ran)
}

/// Exec credential plugins: none runs before the user approved its command (the cluster waits,
/// showing it); once approved, one that answers with a token connects; one that fails and one
/// that hangs each give their own clear error (the hung one is stopped after the timeout), one
/// that is missing or needs a terminal is named without asking, and the working one is
/// unaffected throughout.
#[test]
fn exec_plugins_that_work_fail_are_missing_or_hang() {
    use crate::common::{sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ClusterErrorKind, ClusterState};
    let cluster = TestCluster::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, ran) = exec_plugin_kubeconfig(cluster, dir.path());
    let handle = start_backend(sources_for(&[&path]));
    let waiting = |name: &str| {
        let name = name.to_string();
        wait_for(
            &handle.fleet,
            std::time::Duration::from_secs(30),
            &format!("{name} to ask"),
            move |fleet| match &fleet.clusters.iter().find(|c| c.id.as_str() == name)?.state {
                ClusterState::NeedsApproval { command, approval } => Some((command.to_string(), approval.to_string())),
                _ => None,
            },
        )
    };
    let mut approvals = std::collections::BTreeSet::new();
    for name in ["exec-ok", "exec-fail", "exec-hang", "exec-v1"] {
        let (command, approval) = waiting(name);
        assert!(command.contains("-plugin") && command.ends_with("($TOKEN)"), "{command}");
        assert!(!command.contains("admin-token"), "environment values are not shown: {command}");
        approvals.insert(approval);
    }
    let (v1_command, _) = waiting("exec-v1");
    assert!(v1_command.contains("ok-v1-plugin --cluster real"), "{v1_command}");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(!ran.exists(), "no plugin runs before it is approved");
    // Approving one runs only that one.
    let (_, ok_approval) = waiting("exec-ok");
    handle.send(klieg::model::Command::SetApprovedExec([ok_approval].into()));
    wait_connected(&handle, "exec-ok");
    assert!(ran.exists());
    assert!(matches!(
        handle.fleet.borrow().cluster(&klieg::model::ClusterId::new("exec-hang")).map(|c| &c.state),
        Some(ClusterState::NeedsApproval { .. })
    ));
    handle.send(klieg::model::Command::SetApprovedExec(approvals));
    wait_connected(&handle, "exec-v1");
    let failure = |name: &str| {
        let name = name.to_string();
        wait_for(&handle.fleet, std::time::Duration::from_secs(30), &format!("{name} to fail"), move |fleet| {
            match &fleet.clusters.iter().find(|c| c.id.as_str() == name)?.state {
                ClusterState::Failed { kind, detail } => Some((*kind, detail.to_string())),
                _ => None,
            }
        })
    };
    let (kind, detail) = failure("exec-fail");
    assert_eq!(kind, ClusterErrorKind::ExecPlugin);
    assert!(detail.contains("login required: run sso-login first") && detail.contains("exit status: 3"), "{detail}");
    let (kind, detail) = failure("exec-missing");
    assert_eq!(kind, ClusterErrorKind::ExecPlugin);
    assert!(detail.contains("not found") && detail.contains("install it from the team wiki"), "{detail}");
    let (kind, detail) = failure("exec-interactive");
    assert_eq!(kind, ClusterErrorKind::ExecPlugin);
    assert!(detail.contains("needs a terminal (interactiveMode: Always)"), "{detail}");
    let (kind, detail) = failure("exec-hang");
    assert_eq!(kind, ClusterErrorKind::ExecPlugin);
    assert!(detail.contains("did not answer within 10 s"), "{detail}");
    // The working one kept working throughout.
    assert!(matches!(
        handle.fleet.borrow().cluster(&klieg::model::ClusterId::new("exec-ok")).map(|c| &c.state),
        Some(ClusterState::Connected { .. })
    ));
}

/// A user bound to one namespace only, who may not list namespaces or list anything across
/// namespaces: the table falls back to the context's namespace and shows its rows, with no 403.
#[test]
fn a_namespace_restricted_user_works_in_their_namespace() {
    use crate::common::{ApiServer, sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ClusterId, KindKey, ViewQuery, ViewStatus};
    use std::sync::Arc;
    let cluster = TestCluster::shared();
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ours, namespace: team-a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: team-b}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: team-reader, namespace: team-a}\nrules: [{apiGroups: [''], resources: [configmaps, pods], verbs: [get, list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-reads, namespace: team-a}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: team-reader, apiGroup: rbac.authorization.k8s.io}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("team.yaml");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text_in("team", "team-token", "team-a")).expect("write");
    let handle = start_backend(sources_for(&[&kubeconfig]));
    wait_connected(&handle, "team");
    let id = ClusterId::new("team");
    handle.table.ask(Some(ViewQuery {
        clusters: vec![id.clone()],
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
        ..ViewQuery::default()
    }));
    let names = wait_for(&handle.table.snapshots, std::time::Duration::from_secs(30), "the team's rows", |table| {
        let live = table.status.get(&id).is_some_and(|s| *s == ViewStatus::Live);
        let names: Vec<String> = table.rows.iter().map(|r| r.key.name.to_string()).collect();
        (live && names.contains(&"ours".to_string())).then_some(names)
    });
    assert!(!names.contains(&"theirs".to_string()), "only the user's namespace: {names:?}");
    // The user's rules in their namespace: configmaps and pods there, nothing else.
    let access = wait_for(&handle.fleet, std::time::Duration::from_secs(30), "the user's rules", |fleet| {
        fleet.cluster(&id)?.access.clone()
    });
    assert!(access.allows("list", "", "configmaps", "") && access.allows("watch", "", "pods", ""));
    assert!(!access.allows("list", "", "secrets", "") && !access.allows("list", "", "nodes", ""));
    let namespaces = handle.fleet.borrow().cluster(&id).map(|c| c.namespaces.to_vec()).unwrap_or_default();
    assert_eq!(namespaces.iter().map(|n| n.to_string()).collect::<Vec<_>>(), ["team-a"], "from the context");
    // Another namespace the user names explicitly is watched on its own (and refused there).
    handle.table.ask(Some(ViewQuery {
        clusters: vec![id.clone()],
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
        namespaces: vec![Arc::from("team-a"), Arc::from("team-b")],
        ..ViewQuery::default()
    }));
    wait_for(&handle.table.snapshots, std::time::Duration::from_secs(30), "team-b refused, team-a shown", |table| {
        let forbidden = matches!(table.status.get(&id), Some(ViewStatus::Forbidden(_)));
        let ours = table.rows.iter().any(|r| &*r.key.name == "ours");
        (ours && forbidden).then_some(())
    });
}

/// `tls-server-name` is honoured: the apiserver's certificate names `localhost`, so a context
/// reaching 127.0.0.1 with that server name connects, and one with another name fails with the
/// certificate named as the cause, while TLS verification stays on for both.
#[test]
fn tls_server_name_follows_the_kubeconfig() {
    use crate::common::{ApiServer, sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ClusterErrorKind, ClusterState};
    let cluster = TestCluster::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: by-name\n  cluster: {{server: '{server}', certificate-authority: '{ca}', tls-server-name: localhost}}\n- name: wrong-name\n  cluster: {{server: '{server}', certificate-authority: '{ca}', tls-server-name: not-the-apiserver.example}}\nusers:\n- name: admin\n  user: {{token: admin-token}}\ncontexts:\n- {{name: tls-by-name, context: {{cluster: by-name, user: admin}}}}\n- {{name: tls-wrong-name, context: {{cluster: wrong-name, user: admin}}}}\n",
        server = cluster.server_url(),
        ca = cluster.ca_path().display()
    );
    let path = dir.path().join("tls.yaml");
    std::fs::write(&path, text).expect("write");
    let handle = start_backend(sources_for(&[&path]));
    wait_connected(&handle, "tls-by-name");
    let (kind, detail) =
        wait_for(&handle.fleet, std::time::Duration::from_secs(30), "the wrong name to fail", |fleet| {
            match &fleet.clusters.iter().find(|c| c.id.as_str() == "tls-wrong-name")?.state {
                ClusterState::Failed { kind, detail } => Some((*kind, detail.to_string())),
                _ => None,
            }
        });
    assert_eq!(kind, ClusterErrorKind::Unreachable, "{detail}");
    assert!(detail.to_lowercase().contains("certificate"), "{detail}");
    assert!(handle.fleet.borrow().clusters.iter().all(|c| !c.insecure_tls));
}

#[test]
fn watches_share_one_connection_per_cluster() {
    suite::watches_share_one_connection_per_cluster(TestCluster::shared());
}

#[test]
fn proxy_url_carries_every_request() {
    suite::proxy_url_carries_every_request(TestCluster::shared());
}

/// An `auth-provider: oidc` user against an apiserver that trusts a test issuer: the expired
/// id-token is renewed before the first request, and again as each short-lived one runs out,
/// every time with the refresh token the issuer rotated to, trusting the issuer by the
/// kubeconfig's idp-certificate-authority. A revoked refresh token is a clear error naming the
/// issuer's answer, never the token.
#[test]
fn an_oidc_user_is_renewed_with_its_refresh_token() {
    use crate::common::oidc::{CLIENT_ID, CLIENT_SECRET, Issuer};
    use crate::common::{ApiServer, sources_for, start_backend, wait_for};
    use klieg::model::{Action, ClusterId, Command, KindKey, ObjectKey, Outcome, Propagation, Target, ViewQuery};
    use std::sync::Arc;
    use std::time::Duration;
    // Tokens live 12 s and are renewed 10 s before they expire: every request after 2 s renews.
    let issuer = Issuer::start("alice", "refresh-0", 12);
    let cluster = TestCluster::start_with(false, &issuer.apiserver_flags());
    cluster.apply("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: oidc-configmaps}\nrules: [{apiGroups: [''], resources: [configmaps, namespaces], verbs: [get, list, watch, delete]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: oidc-alice}\nsubjects: [{kind: User, name: 'oidc:alice', apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: ClusterRole, name: oidc-configmaps, apiGroup: rbac.authorization.k8s.io}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: oidc-proof, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: oidc-doomed, namespace: default}\n");
    let kubeconfig = |context: &str, refresh_token: &str| {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: real\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {ca}\ncontexts:\n- name: {context}\n  context: {{cluster: real, user: {context}}}\nusers:\n- name: {context}\n  user:\n    auth-provider:\n      name: oidc\n      config:\n        id-token: {expired}\n        refresh-token: {refresh_token}\n        client-id: {CLIENT_ID}\n        client-secret: {CLIENT_SECRET}\n        idp-issuer-url: {issuer}\n        idp-certificate-authority: {issuer_ca}\n",
            port = cluster.api_port,
            ca = cluster.dir.path().join("pki/ca.crt").display(),
            expired = issuer.mint(-60),
            issuer = issuer.url,
            issuer_ca = issuer.ca_file.display(),
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = dir.path().join("alice.yaml");
    std::fs::write(&alice, kubeconfig("alice", "refresh-0")).expect("write");
    // The OS keyring of this session: where renewed tokens of kubeconfig users are kept.
    let keyring = Arc::new(klieg::credentials::MemoryStore::default());
    let alice_sources = || klieg::backend::kubeconfig::KubeconfigSources {
        secrets: klieg::credentials::Secrets(keyring.clone()),
        ..sources_for(&[&alice])
    };
    let id = ClusterId::new("alice");
    // A session of alice's that has listed her configmaps.
    let alice_session = |what: &str| {
        let handle = start_backend(alice_sources());
        crate::common::wait_connected(&handle, "alice");
        handle.table.ask(Some(ViewQuery {
            clusters: vec![id.clone()],
            kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
            namespaces: vec![Arc::from("default")],
            ..ViewQuery::default()
        }));
        wait_for(&handle.table.snapshots, Duration::from_secs(30), what, |table| {
            table.rows.iter().any(|r| &*r.key.name == "oidc-proof").then_some(())
        });
        handle
    };
    let handle = alice_session("alice's configmaps");
    let first = issuer.refreshes();
    assert!(first >= 1, "the expired id-token was renewed before use");
    // Later requests renew again, each with the refresh token the last answer rotated to (the
    // issuer accepts each once): a delete three seconds on goes through as alice.
    std::thread::sleep(Duration::from_secs(3));
    let doomed = Target {
        kind: KindKey { group: Arc::from(""), plural: Arc::from("configmaps") },
        key: ObjectKey { cluster: id.clone(), namespace: Some(Arc::from("default")), name: Arc::from("oidc-doomed") },
    };
    handle.send(Command::Act {
        request_id: 7,
        targets: vec![doomed],
        action: Action::Delete { propagation: Propagation::Background }.call(),
    });
    let outcome = wait_for(&handle.activity, Duration::from_secs(30), "the delete's outcome", |log| {
        log.entries
            .iter()
            .find(|a| a.request_id == 7 && !matches!(a.outcome, Outcome::Running))
            .map(|a| a.outcome.clone())
    });
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert!(issuer.refreshes() > first, "renewed again: {} then {}", first, issuer.refreshes());
    assert!(cluster.kubectl(&["get", "configmaps", "-n", "default", "-o", "name"]).contains("oidc-proof"));

    // The session ends (its backend stops), as when the window closes.
    drop(handle);

    // A refresh token the issuer no longer honours: a clear error, and no token in it.
    let revoked = dir.path().join("revoked.yaml");
    std::fs::write(&revoked, kubeconfig("revoked", "refresh-0")).expect("write");
    let handle = start_backend(sources_for(&[&revoked]));
    let detail = wait_for(&handle.fleet, Duration::from_secs(30), "the revoked user's error", |fleet| {
        match &fleet.cluster(&ClusterId::new("revoked"))?.state {
            klieg::model::ClusterState::Failed { kind, detail } => Some((*kind, detail.to_string())),
            _ => None,
        }
    });
    assert_eq!(detail.0, klieg::model::ClusterErrorKind::Unauthorized, "{}", detail.1);
    assert!(detail.1.contains("invalid_grant") && detail.1.contains(&issuer.url), "{}", detail.1);
    assert!(!detail.1.contains("refresh-0") && !detail.1.contains(CLIENT_SECRET), "{}", detail.1);

    drop(handle);

    // Alice again, in a new session: her file still holds refresh-0, which the issuer rotated
    // away, so she connects only with the tokens the last session kept in the keyring. Her file
    // is never written.
    let file_before = std::fs::read_to_string(&alice).expect("read");
    let handle = alice_session("alice's configmaps in a new session");
    assert_eq!(std::fs::read_to_string(&alice).expect("read"), file_before, "the kubeconfig is untouched");
    drop(handle);

    a_pasted_oidc_user_saves_its_rotated_tokens(&issuer, dir.path(), &kubeconfig);
}

/// Pasted into "Add cluster": the OIDC settings go to the keyring whole, the file keeps none of
/// them, and the token the issuer rotates to is saved back for the next session.
fn a_pasted_oidc_user_saves_its_rotated_tokens(
    issuer: &crate::common::oidc::Issuer,
    dir: &std::path::Path,
    kubeconfig: &dyn Fn(&str, &str) -> String,
) {
    use crate::common::oidc::CLIENT_SECRET;
    use crate::common::{sources_for, start_backend};
    use std::sync::Arc;
    use std::time::Duration;
    // Pasted into "Add cluster": the OIDC settings go to the keyring whole, the file keeps none
    // of them, and the token the issuer rotates to is saved back for the next session.
    let current = format!("refresh-{}-of-alice", issuer.refreshes());
    let store = Arc::new(klieg::credentials::MemoryStore::default());
    let added_file = dir.join("added-clusters.yaml");
    let pasted = kubeconfig("pasted", &current);
    let request = klieg::model::AddCluster::Kubeconfig { yaml: pasted.clone() };
    klieg::backend::added::add(&added_file, store.as_ref(), &request, &[], "/opt/klieg").expect("added");
    let file = std::fs::read_to_string(&added_file).expect("written");
    let expired = pasted.lines().find_map(|l| l.trim().strip_prefix("id-token: ")).expect("id-token").to_string();
    for secret in [current.as_str(), CLIENT_SECRET, expired.as_str()] {
        assert!(!file.contains(secret), "{file}");
    }
    let sources = klieg::backend::kubeconfig::KubeconfigSources {
        added: Some(added_file.clone()),
        secrets: klieg::credentials::Secrets(store.clone()),
        ..sources_for(&[])
    };
    let handle = start_backend(sources);
    crate::common::wait_connected(&handle, "pasted");
    let saved = || {
        klieg::credentials::StoredCredential::load(store.as_ref(), &klieg::backend::added::entry_name("pasted"))
            .expect("stored")
            .oidc
            .expect("oidc settings")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while saved().get("refresh-token") == Some(&current) {
        assert!(std::time::Instant::now() < deadline, "the rotated refresh token was never saved");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rotated = saved();
    assert_eq!(rotated.get("refresh-token"), Some(&format!("refresh-{}-of-alice", issuer.refreshes())));
    assert_ne!(rotated.get("id-token"), Some(&expired), "the renewed id-token is kept too");
    assert_eq!(rotated.get("client-secret").map(String::as_str), Some(CLIENT_SECRET));
}

/// Every static kubeconfig credential the apiserver takes, each checked by listing as its user:
/// a bearer token inline and from `tokenFile`, a client certificate and key as files and as
/// inline data (signed by the cluster's CA, in `system:masters`), and `insecure-skip-tls-verify`
/// (connected, and flagged for the warning). A certificate from another CA is refused and a
/// missing token file named, each in its own context while the others work.
#[test]
fn every_static_credential_kind_connects_as_its_user() {
    use crate::common::{ApiServer, sources_for, start_backend, wait_for};
    use base64::Engine;
    use klieg::model::{ClusterErrorKind, ClusterId, ClusterState, KindKey, ViewQuery, ViewStatus};
    use std::sync::Arc;
    let cluster = TestCluster::shared();
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: auth-kinds}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: auth-proof, namespace: auth-kinds}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let openssl = |args: &[&str]| {
        let output =
            std::process::Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl");
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let pki = cluster.dir.path().join("pki");
    let (ca_crt, ca_key) = (pki.join("ca.crt").display().to_string(), pki.join("ca.key").display().to_string());
    std::fs::write(path("client.ext"), "extendedKeyUsage=clientAuth\n").expect("write");
    // A key and a certificate for `subject`, signed by `ca` (files in the test's folder).
    let client_cert = |name: &str, subject: &str, (ca, ca_key): (&str, &str)| {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject]);
        let sign = ["x509", "-req", "-in", &csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", &crt];
        openssl(&[&sign[..], &["-days", "1", "-extfile", "client.ext"]].concat());
    };
    client_cert("admin", "/O=system:masters/CN=cert-admin", (&ca_crt, &ca_key));
    let rogue_ca = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue-ca.key", "-out", "rogue-ca.crt"];
    openssl(&[&rogue_ca[..], &["-days", "1", "-subj", "/CN=rogue-ca"]].concat());
    client_cert("rogue", "/O=system:masters/CN=rogue", ("rogue-ca.crt", "rogue-ca.key"));
    std::fs::write(path("token"), "admin-token\n").expect("write");
    let inline =
        |name: &str| base64::engine::general_purpose::STANDARD.encode(std::fs::read(path(name)).expect("read"));
    let p = |name: &str| path(name).display().to_string();
    let users = [
        ("auth-token", "{token: admin-token}".to_string()),
        ("auth-token-file", format!("{{tokenFile: '{}'}}", p("token"))),
        ("auth-cert-files", format!("{{client-certificate: '{}', client-key: '{}'}}", p("admin.crt"), p("admin.key"))),
        (
            "auth-cert-data",
            format!("{{client-certificate-data: {}, client-key-data: {}}}", inline("admin.crt"), inline("admin.key")),
        ),
        ("auth-rogue-cert", format!("{{client-certificate: '{}', client-key: '{}'}}", p("rogue.crt"), p("rogue.key"))),
        ("auth-missing-token-file", format!("{{tokenFile: '{}'}}", p("no-such-token"))),
    ];
    let server = cluster.server_url();
    let mut text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: verified\n  cluster: {{server: '{server}', certificate-authority: '{ca_crt}'}}\n- name: unverified\n  cluster: {{server: '{server}', insecure-skip-tls-verify: true}}\nusers:\n"
    );
    for (name, user) in &users {
        text.push_str(&format!("- name: {name}\n  user: {user}\n"));
    }
    text.push_str("contexts:\n");
    for (name, _) in &users {
        text.push_str(&format!("- {{name: {name}, context: {{cluster: verified, user: {name}}}}}\n"));
    }
    text.push_str("- {name: auth-insecure, context: {cluster: unverified, user: auth-token}}\n");
    let kubeconfig = path("config");
    std::fs::write(&kubeconfig, text).expect("write");
    let handle = start_backend(sources_for(&[&kubeconfig]));
    let wait = std::time::Duration::from_secs(30);
    let working = ["auth-token", "auth-token-file", "auth-cert-files", "auth-cert-data", "auth-insecure"];
    // Listing configmaps in a namespace only an admin may read proves each user's identity.
    handle.table.ask(Some(ViewQuery {
        clusters: working.iter().map(|name| ClusterId::new(name)).collect(),
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
        namespaces: vec![Arc::from("auth-kinds")],
        ..ViewQuery::default()
    }));
    wait_for(&handle.table.snapshots, wait, "auth-proof listed through every working context", |table| {
        working
            .iter()
            .all(|name| {
                let id = ClusterId::new(name);
                table.status.get(&id) == Some(&ViewStatus::Live)
                    && table.rows.iter().any(|r| r.key.cluster == id && &*r.key.name == "auth-proof")
            })
            .then_some(())
    });
    let failure = |name: &str| {
        wait_for(&handle.fleet, wait, name, |fleet| match &fleet.cluster(&ClusterId::new(name))?.state {
            ClusterState::Failed { kind, detail } => Some((*kind, detail.to_string())),
            _ => None,
        })
    };
    let (kind, detail) = failure("auth-rogue-cert");
    assert_eq!(kind, ClusterErrorKind::Unauthorized, "{detail}");
    let (kind, detail) = failure("auth-missing-token-file");
    assert_eq!(kind, ClusterErrorKind::MissingFile, "{detail}");
    assert!(detail.contains("no-such-token"), "{detail}");
    let fleet = handle.fleet.borrow().clone();
    let insecure = |name: &str| fleet.cluster(&ClusterId::new(name)).is_some_and(|c| c.insecure_tls);
    assert!(insecure("auth-insecure") && !insecure("auth-token"), "only the unverified cluster is flagged");
}

#[test]
fn every_page_of_a_list_is_one_moment_and_its_watch_brings_the_changes() {
    suite::every_page_of_a_list_is_one_moment_and_its_watch_brings_the_changes(TestCluster::shared());
}

#[test]
fn paged_lists_count_what_remains_and_the_overview_follows_new_pods() {
    suite::paged_lists_count_what_remains_and_the_overview_follows_new_pods(TestCluster::shared());
}

/// A user who may read only their namespace is watched per namespace, so the offline cache holds
/// that namespace's rows; with the cluster switched off, a fresh start shows them from the cache
/// (there is no cluster-wide copy to find).
#[test]
fn a_namespace_restricted_users_rows_are_shown_offline_from_the_cache() {
    use crate::common::{ApiServer, sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ClusterId, ClusterMode, KindKey, ViewQuery, ViewStatus};
    use std::sync::Arc;
    let cluster = TestCluster::shared();
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: offline-team}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept-offline, namespace: offline-team}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: offline-reader, namespace: offline-team}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: offline-reads, namespace: offline-team}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: offline-reader, apiGroup: rbac.authorization.k8s.io}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("team.yaml");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text_in("offline-team", "team-token", "offline-team"))
        .expect("write");
    let cache = dir.path().join("cache");
    let id = ClusterId::new("offline-team");
    let view = Some(ViewQuery {
        clusters: vec![id.clone()],
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
        ..ViewQuery::default()
    });
    let wait = std::time::Duration::from_secs(30);
    let live = start_backend(klieg::backend::kubeconfig::KubeconfigSources {
        offline_cache: Some(cache.clone()),
        ..sources_for(&[&kubeconfig])
    });
    wait_connected(&live, "offline-team");
    live.table.ask(view.clone());
    wait_for(&live.table.snapshots, wait, "the team's rows, live", |table| {
        let rows = table.rows.iter().any(|r| &*r.key.name == "kept-offline");
        (rows && table.status.get(&id) == Some(&ViewStatus::Live)).then_some(())
    });
    // The first full list is written at once.
    let deadline = std::time::Instant::now() + wait;
    while crate::common::files_under(&cache).iter().filter(|p| !p.ends_with("cluster.json")).count() == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing cached");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(live);

    let offline = start_backend(klieg::backend::kubeconfig::KubeconfigSources {
        offline_cache: Some(cache),
        cluster_modes: [(id.clone(), ClusterMode::Off)].into(),
        ..sources_for(&[&kubeconfig])
    });
    offline.table.ask(view);
    wait_for(&offline.table.snapshots, wait, "the team's rows from the cache", |table| {
        let rows = table.rows.iter().any(|r| &*r.key.name == "kept-offline");
        let stale = matches!(table.status.get(&id), Some(ViewStatus::Stale { .. }));
        (rows && stale).then_some(())
    });
}

#[test]
fn bulk_selections_are_checked_per_namespace() {
    suite::bulk_selections_are_checked_per_namespace(TestCluster::shared());
}

/// A plugin's Kubernetes calls go with the user's own credentials: what their RBAC allows
/// comes back, what it does not is refused by the real apiserver with its reason.
#[test]
fn plugin_calls_run_with_the_users_credentials_and_rbac() {
    use crate::common::{ApiServer, sources_for, start_backend, wait_connected};
    use klieg::model::host_call::{KubeRequest, KubeVerb};
    use klieg::model::{ClusterId, KindKey};
    let cluster = TestCluster::shared();
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: plugin-a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: plugin-b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ours, namespace: plugin-a, labels: {team: a}}\ndata: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: plugin-b}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: plugin-reader, namespace: plugin-a}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: plugin-reads, namespace: plugin-a}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: plugin-reader, apiGroup: rbac.authorization.k8s.io}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("team.yaml");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text_in("team", "team-token", "plugin-a")).expect("write");
    let handle = start_backend(sources_for(&[&kubeconfig]));
    wait_connected(&handle, "team");
    let request = |verb, namespace: &str, name: Option<&str>| KubeRequest {
        verb,
        cluster: Some(ClusterId::new("team")),
        kind: KindKey::new("", "configmaps"),
        namespace: Some(namespace.to_string()),
        name: name.map(str::to_string),
        patch: Some(serde_json::json!({ "metadata": { "labels": { "touched": "yes" } } })),
        label_selector: Some("team=a".into()),
        limit: 100,
        container: None,
    };
    let got = handle.plugin_gateway.kube(request(KubeVerb::Get, "plugin-a", Some("ours"))).expect("allowed");
    assert_eq!(got["data"]["k"], "v");
    assert!(got["metadata"].get("managedFields").is_none(), "managedFields are left out");
    let listed = handle.plugin_gateway.kube(request(KubeVerb::List, "plugin-a", None)).expect("allowed");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let other = handle.plugin_gateway.kube(request(KubeVerb::Get, "plugin-b", Some("theirs"))).expect_err("RBAC");
    assert!(other.contains("forbidden") && other.contains("team-user"), "{other}");
    let patched = handle.plugin_gateway.kube(request(KubeVerb::Patch, "plugin-a", Some("ours"))).expect_err("no patch");
    assert!(patched.contains("forbidden") && patched.contains("patch"), "{patched}");
    let deleted =
        handle.plugin_gateway.kube(request(KubeVerb::Delete, "plugin-a", Some("ours"))).expect_err("no delete");
    assert!(deleted.contains("forbidden"), "{deleted}");
}
