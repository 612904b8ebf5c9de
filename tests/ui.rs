//! UI tests with egui_kittest over the real app state and a real v1.20 apiserver: widgets are
//! found by their labels, never by position.

use crate::common::ui::UI_LOCK;
use crate::common::ui::{app, configmaps_in, has_label, has_label_containing, start_app, start_app_with, step_until};
use crate::common::{ApiServer, TestCluster};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use klieg::app::KliegApp;
use klieg::state::Settings;

/// The viewer: may read ConfigMaps and Namespaces everywhere, and watch RBAC objects. (Not the
/// built-in `view`: its rules are aggregated by the controller-manager, not running here.)
const VIEWER_RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: configmap-reader}\nrules: [{apiGroups: [''], resources: [configmaps, namespaces], verbs: [get, list, watch]}, {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings, clusterroles, clusterrolebindings], verbs: [list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: viewer-views}\nsubjects: [{kind: User, name: viewer, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: ClusterRole, name: configmap-reader, apiGroup: rbac.authorization.k8s.io}\n";

#[test]
fn browse_open_details_and_reveal_a_secret() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db-credentials, namespace: shop, labels: {app: db}}\nstringData: {password: hunter2}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings, namespace: shop}\ndata: {mode: fast}\n",
    );
    let settings = Settings { locale: "en".into(), kind_plural: "configmaps".into(), ..Settings::default() };
    let mut harness = start_app(&cluster.kubeconfig, settings);

    step_until(&mut harness, "the cluster to connect", |h| has_label(h, "Connected · v1.20.2"));
    assert!(has_label(&harness, "real-admin"), "the context is listed");
    step_until(&mut harness, "the configmap row", |h| has_label(h, "web-settings"));
    assert!(has_label(&harness, "Workloads") && has_label(&harness, "Config"), "kinds are grouped");

    // Choose Secrets from the sidebar; the table switches kind.
    harness.get_by_label("Secret").click();
    step_until(&mut harness, "the secret row", |h| has_label(h, "db-credentials"));
    assert!(!has_label(&harness, "web-settings"));

    // Open it: values are masked until revealed.
    harness.get_by_label("db-credentials").click();
    step_until(&mut harness, "the secret's details", |h| has_label(h, "password") && has_label(h, "Reveal"));
    assert!(has_label(&harness, "••••••••"));
    assert!(!has_label_containing(&harness, "hunter2"), "secret values are masked by default");
    assert!(has_label(&harness, "app"), "labels are shown");
    harness.get_by_label("Reveal").click();
    step_until(&mut harness, "the revealed value", |h| has_label(h, "hunter2"));
    harness.get_by_label("Hide").click();
    step_until(&mut harness, "the value hidden again", |h| !has_label(h, "hunter2"));

    // The YAML view masks the value too.
    harness.get_by_label("YAML").click();
    step_until(&mut harness, "the YAML view", |h| has_label(h, "Reveal secret values"));
    assert!(!has_label_containing(&harness, "aHVudGVyMg=="), "no base64 secret in the YAML view");
    let yaml = harness.get_by_label_contains("kind: Secret");
    let yaml_text = format!("{yaml:?}");
    assert!(yaml_text.contains("password: ••••••••"), "values masked in YAML: {yaml_text}");
    assert!(!yaml_text.contains("hunter2"));
    harness.get_by_label("Close").click();
    step_until(&mut harness, "the details to close", |h| !has_label(h, "Overview"));

    harness.get_by_label("ConfigMap").click();
    step_until(&mut harness, "configmaps again", |h| has_label(h, "web-settings"));
    // A ConfigMap's data is shown as it is.
    harness.get_by_label("web-settings").click();
    step_until(&mut harness, "the configmap's details", |h| has_label(h, "Overview"));
    harness.get_by_label("Overview").click();
    step_until(&mut harness, "the configmap's data", |h| has_label(h, "mode:") && has_label(h, "fast"));
    harness.get_by_label("Close").click();
    step_until(&mut harness, "the details to close", |h| !has_label(h, "Overview"));

    // The language switch is tested in tests/locales.rs, a binary of its own (the locale is
    // global to the process).
}

#[test]
fn label_selector_errors_are_shown_and_not_applied() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: selectors}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: tagged, namespace: selectors, labels: {tier: web}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: untagged, namespace: selectors}\n");
    let settings = configmaps_in(&["selectors"]);
    let mut harness = start_app(&cluster.kubeconfig, settings);
    step_until(&mut harness, "both rows", |h| has_label(h, "tagged") && has_label(h, "untagged"));
    harness.state_mut().as_mut().expect("app").state.table.label_selector = "tier in (web".into();
    step_until(&mut harness, "the selector error", |h| has_label_containing(h, "Invalid selector"));
    assert!(has_label(&harness, "untagged"), "an invalid selector filters nothing");
    harness.state_mut().as_mut().expect("app").state.table.label_selector = "tier=web".into();
    step_until(&mut harness, "the filtered table", |h| has_label(h, "tagged") && !has_label(h, "untagged"));
    assert!(has_label(&harness, "1 of 2 items"));
}

#[test]
fn edit_conflict_keeps_the_users_text_and_destructive_actions_ask_first() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: ui-edits}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: tuning, namespace: ui-edits}\ndata: {mode: a}\n");
    let settings = configmaps_in(&["ui-edits"]);
    let mut harness = start_app(&cluster.kubeconfig, settings);
    step_until(&mut harness, "the configmap row", |h| has_label(h, "tuning"));
    harness.get_by_label("tuning").click();
    step_until(&mut harness, "the actions of a configmap", |h| has_label(h, "Edit YAML") && has_label(h, "Delete"));
    assert!(!has_label(&harness, "Scale") && !has_label(&harness, "Drain"), "only what a ConfigMap offers");
    harness.get_by_label("Edit YAML").click();
    step_until(&mut harness, "the editor", |h| has_label(h, "Edit tuning") && has_label(h, "Valid YAML"));

    // The user edits; meanwhile someone else changes the object.
    let edited = {
        let editor = harness.state_mut().as_mut().and_then(|a| a.state.editor.as_mut()).expect("editor open");
        editor.text = editor.text.replace("mode: a", "mode: mine");
        editor.validate();
        editor.text.clone()
    };
    cluster.kubectl(&[
        "patch",
        "configmap",
        "tuning",
        "-n",
        "ui-edits",
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"theirs"}}"#,
    ]);
    harness.get_by_label("Apply").click();
    step_until(&mut harness, "the conflict", |h| has_label(h, "Someone else changed this object"));
    let editor_text = app(&harness).state.editor.as_ref().map(|e| e.text.clone());
    assert_eq!(editor_text.as_deref(), Some(edited.as_str()), "the user's text is untouched");
    assert!(has_label(&harness, "-   mode: theirs") && has_label(&harness, "+   mode: mine"), "both versions shown");
    assert_eq!(
        cluster.kubectl(&["get", "configmap", "tuning", "-n", "ui-edits", "-o", "jsonpath={.data.mode}"]),
        "theirs"
    );

    // Invalid text is flagged as it is typed and cannot be applied.
    harness.get_by_label("Keep editing").click();
    if let Some(editor) = harness.state_mut().as_mut().and_then(|a| a.state.editor.as_mut()) {
        editor.text.push_str("\n  broken: [");
        editor.validate();
    }
    step_until(&mut harness, "the syntax error", |h| has_label_containing(h, "Invalid YAML"));
    if let Some(editor) = harness.state_mut().as_mut().and_then(|a| a.state.editor.as_mut()) {
        editor.text = edited.clone();
        editor.validate();
    }
    harness.get_by_label("Apply").click();
    step_until(&mut harness, "the conflict again", |h| has_label(h, "Apply mine over theirs"));
    harness.get_by_label("Apply mine over theirs").click();
    step_until(&mut harness, "the applied edit", |h| has_label_containing(h, "✔ Apply"));
    assert_eq!(
        cluster.kubectl(&["get", "configmap", "tuning", "-n", "ui-edits", "-o", "jsonpath={.data.mode}"]),
        "mine"
    );

    // Delete asks first; cancelling leaves the object alone. (The editor window is closed
    // first, as its close button would: it lies over the details pane.)
    harness.state_mut().as_mut().expect("app").state.editor = None;
    step_until(&mut harness, "the editor to close", |h| !has_label(h, "Edit tuning"));
    harness.get_by_label("Delete").click();
    step_until(&mut harness, "the confirmation", |h| has_label(h, "Delete?"));
    harness.get_by_label("Cancel").click();
    step_until(&mut harness, "the confirmation to close", |h| !has_label(h, "Delete?"));
    assert!(cluster.kubectl(&["get", "configmaps", "-n", "ui-edits", "-o", "name"]).contains("tuning"));
    harness.get_by_label("Delete").click();
    step_until(&mut harness, "the confirmation", |h| has_label(h, "Delete?"));
    harness.get_all_by_label("Delete").last().expect("the confirm button").click();
    step_until(&mut harness, "the row to go", |h| has_label_containing(h, "✔ Delete") && !has_label(h, "tuning"));
}

#[test]
fn logs_follow_search_and_highlight_on_a_simulated_pod() {
    let _turn = UI_LOCK.lock();
    let spec = klieg::sim::ClusterSpec { name: "logs-sim".into(), git_version: "v1.31.2".into(), nodes: 1, pods: 6 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let (namespace, pod) = fleet.clusters[0].lock().keys_of("/pods").into_iter().next().expect("a pod");
    let settings = Settings {
        locale: "en".into(),
        kind_plural: "pods".into(),
        selected_namespaces: vec![namespace.clone()],
        ..Settings::default()
    };
    let mut harness = start_app(&fleet.kubeconfig_path, settings);
    step_until(&mut harness, "the pod row", |h| has_label(h, &pod));
    // Auto-sized columns settle over a few frames before the row is where its label says.
    harness.run_steps(5);
    harness.get_by_label(&pod).click();
    step_until(&mut harness, "the pod's actions", |h| has_label(h, "Logs"));
    harness.get_by_label("Logs").click();
    step_until(&mut harness, "lines", |h| has_label_containing(h, &format!("{namespace}/{pod}/")));
    // The count the view shows is the buffer's.
    let count = |h: &Harness<'_, Option<KliegApp>>| {
        let lines = app(h).logs.buffer.len();
        has_label(h, &format!("{lines} lines")).then_some(lines)
    };
    step_until(&mut harness, "a line count", |h| count(h).is_some());
    let first = count(&harness).unwrap_or(0);
    step_until(&mut harness, "followed lines", |h| count(h).is_some_and(|c| c > first));
    harness.state_mut().as_mut().and_then(|a| a.state.logs.as_mut()).expect("logs open").search = "GET".into();
    step_until(&mut harness, "the match count", |h| has_label_containing(h, "lines match"));
    // Wrapped, the lines are still drawn (rows of varying height, virtualised).
    harness.get_by_label("Wrap").click();
    harness.run_steps(3);
    assert!(app(&harness).state.logs.as_ref().is_some_and(|l| l.wrap));
    step_until(&mut harness, "wrapped lines", |h| has_label_containing(h, &format!("{namespace}/{pod}/")));
}

#[test]
fn typing_in_the_exec_terminal_reaches_the_shell() {
    let _turn = UI_LOCK.lock();
    let spec = klieg::sim::ClusterSpec { name: "exec-sim".into(), git_version: "v1.31.2".into(), nodes: 1, pods: 4 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let (namespace, pod) = fleet.clusters[0].lock().keys_of("/pods").into_iter().next().expect("a pod");
    let settings = Settings {
        locale: "en".into(),
        kind_plural: "pods".into(),
        selected_namespaces: vec![namespace],
        ..Settings::default()
    };
    let mut harness = start_app(&fleet.kubeconfig_path, settings);
    step_until(&mut harness, "the pod row", |h| has_label(h, &pod));
    harness.run_steps(5);
    harness.get_by_label(&pod).click();
    step_until(&mut harness, "the shell button", |h| has_label(h, "Shell"));
    harness.get_by_label("Shell").click();
    let prompt = format!("root@{pod}:/#");
    step_until(&mut harness, "the prompt", |h| has_label_containing(h, &prompt));
    // Focus the screen, then type as a person would.
    harness.get_all_by_label_contains(&prompt).next().expect("the prompt line").click();
    harness.run_steps(2);
    harness.event(egui::Event::Text("echo typed-in-klieg".into()));
    harness.key_press(egui::Key::Enter);
    step_until(&mut harness, "the command's output", |h| h.query_all_by_label_contains("typed-in-klieg").count() >= 2);
    let screen = app(&harness).terminals.terminals.first().map(|t| t.text()).unwrap_or_default();
    assert!(screen.contains("# echo typed-in-klieg\ntyped-in-klieg\n"), "{screen}");
    // Output past the screen can be scrolled back to with Shift+PageUp; typing returns.
    harness.event(egui::Event::Text("seq 1 200".into()));
    harness.key_press(egui::Key::Enter);
    let shows_last = |h: &Harness<'_, Option<KliegApp>>| {
        app(h).terminals.terminals.first().is_some_and(|t| t.text().lines().any(|l| l == "200"))
    };
    step_until(&mut harness, "seq's last line", shows_last);
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::PageUp);
    step_until(&mut harness, "the scrolled-back note", |h| has_label_containing(h, "Scrolled back"));
    assert!(!shows_last(&harness), "the view shows older lines");
    harness.event(egui::Event::Text("x".into()));
    step_until(&mut harness, "the live screen", |h| shows_last(h) && !has_label_containing(h, "Scrolled back"));
}

#[test]
fn ctrl_click_shift_click_and_ctrl_a_select_rows_for_one_bulk_delete() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: ui-bulk}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bulk-one, namespace: ui-bulk}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bulk-two, namespace: ui-bulk}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bulk-keep, namespace: ui-bulk}\n");
    let settings = configmaps_in(&["ui-bulk"]);
    let mut harness = start_app(&cluster.kubeconfig, settings);
    step_until(&mut harness, "the rows", |h| has_label(h, "bulk-one") && has_label(h, "bulk-keep"));
    harness.run_steps(5);
    // Ctrl+A takes every row shown, Escape lets go; Shift-click takes the range from the row
    // clicked last.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    step_until(&mut harness, "all three selected", |h| has_label(h, "3 selected"));
    harness.key_press(egui::Key::Escape);
    step_until(&mut harness, "nothing selected", |h| app(h).state.bulk.keys.is_empty() && !has_label(h, "3 selected"));
    harness.get_by_label("bulk-keep").click_modifiers(egui::Modifiers::COMMAND);
    step_until(&mut harness, "one row selected", |h| has_label(h, "1 selected"));
    harness.get_by_label("bulk-two").click_modifiers(egui::Modifiers::SHIFT);
    step_until(&mut harness, "the range of three selected", |h| has_label(h, "3 selected"));
    let selected: Vec<String> = app(&harness).state.bulk.keys.iter().map(|k| k.name.to_string()).collect();
    assert_eq!(selected, ["bulk-keep", "bulk-one", "bulk-two"]);
    harness.get_by_label("Clear selection").click();
    step_until(&mut harness, "nothing selected", |h| app(h).state.bulk.keys.is_empty() && !has_label(h, "3 selected"));
    harness.get_by_label("bulk-one").click_modifiers(egui::Modifiers::COMMAND);
    harness.run_steps(2);
    harness.get_by_label("bulk-two").click_modifiers(egui::Modifiers::COMMAND);
    step_until(&mut harness, "two rows selected", |h| has_label(h, "2 selected"));
    assert!(app(&harness).state.details.open.is_none(), "Ctrl-click selects without opening");
    harness.get_by_label("Delete").click();
    step_until(&mut harness, "the confirmation", |h| has_label(h, "Delete?"));
    harness.get_all_by_label("Delete").last().expect("the confirm button").click();
    step_until(&mut harness, "both rows gone", |h| {
        !has_label(h, "bulk-one") && !has_label(h, "bulk-two") && has_label(h, "bulk-keep")
    });
    assert!(!has_label(&harness, "2 selected"), "the selection is used up");
    let left = cluster.kubectl(&["get", "configmaps", "-n", "ui-bulk", "-o", "name"]);
    assert!(left.contains("bulk-keep") && !left.contains("bulk-one") && !left.contains("bulk-two"), "{left}");
}

#[test]
fn actions_the_user_may_not_take_are_hidden() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: ui-rbac}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: look-only, namespace: ui-rbac}\n");
    // The viewer may watch RBAC objects, so a new binding reaches the window at once.
    cluster.apply(VIEWER_RBAC);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("viewer.yaml");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text("viewer", "viewer-token")).expect("write");
    let settings = configmaps_in(&["ui-rbac"]);
    let mut harness = start_app(&kubeconfig, settings);
    step_until(&mut harness, "the row a viewer may see", |h| has_label(h, "look-only"));
    harness.run_steps(5);
    harness.get_by_label("look-only").click();
    step_until(&mut harness, "the viewer's rules", |h| app(h).details.access.is_some() && has_label(h, "Overview"));
    harness.run_steps(2);
    assert!(!has_label(&harness, "Edit YAML"), "a viewer cannot update");
    // Kinds the viewer may not list are not offered (their ClusterRole covers configmaps and
    // namespaces only).
    step_until(&mut harness, "the kinds list filtered", |h| has_label(h, "ConfigMap") && !has_label(h, "Secret"));
    assert!(!has_label(&harness, "Deployment") && !has_label(&harness, "Pod"));
    assert!(!has_label(&harness, "Delete"), "a viewer cannot delete");
    assert!(has_label(&harness, "YAML"), "reading stays");
    // The hidden actions are counted; hovering names each missing permission.
    harness.get_by_label("Hidden actions: 2").hover();
    step_until(&mut harness, "the missing permissions named", |h| {
        has_label_containing(h, "• delete configmaps") && has_label_containing(h, "• update configmaps")
    });
    assert!(has_label_containing(&harness, "Not allowed in namespace ui-rbac:"));
    // A RoleBinding granting delete shows the button within step_until's 30 s, so without waiting
    // for the minute's refresh (which would not see it: the context's namespace is another).
    cluster.apply("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: configmap-deleter, namespace: ui-rbac}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [delete]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: viewer-deletes, namespace: ui-rbac}\nsubjects: [{kind: User, name: viewer, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: configmap-deleter, apiGroup: rbac.authorization.k8s.io}\n");
    step_until(&mut harness, "the Delete button after the new binding", |h| has_label(h, "Delete"));
    assert!(has_label(&harness, "Hidden actions: 1") && !has_label(&harness, "Edit YAML"));
}

#[test]
fn pod_usage_shows_as_columns_and_live_charts() {
    let _turn = UI_LOCK.lock();
    let spec = klieg::sim::ClusterSpec { name: "usage-sim".into(), git_version: "v1.31.2".into(), nodes: 1, pods: 4 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let (namespace, pod) = fleet.clusters[0].lock().keys_of("/pods").into_iter().next().expect("a pod");
    let settings = Settings {
        locale: "en".into(),
        kind_plural: "pods".into(),
        selected_namespaces: vec![namespace],
        ..Settings::default()
    };
    let mut harness = start_app(&fleet.kubeconfig_path, settings);
    // metrics-server's usage joins the table as k9s-style columns.
    step_until(&mut harness, "the usage columns", |h| {
        has_label(h, &pod) && has_label(h, "%CPU/R") && has_label(h, "%MEM/L")
    });
    let cpu_of = |h: &Harness<'_, Option<KliegApp>>| {
        let table = &app(h).table;
        let row = table.rows.iter().find(|r| *r.key.name == *pod)?;
        Some(table.cell(row, table.usage_from?).display(0).into_owned()).filter(|text| !text.is_empty())
    };
    step_until(&mut harness, "the pod's CPU drawn in millicores", |h| {
        cpu_of(h).is_some_and(|cpu| cpu.ends_with('m') && has_label(h, &cpu))
    });
    harness.run_steps(5);
    harness.get_by_label(&pod).click();
    // The open pod's CPU and memory are charted with its request and limit.
    step_until(&mut harness, "the charts", |h| {
        !app(h).usage_history.samples.is_empty() && has_label(h, "CPU") && has_label(h, "Memory")
    });
    assert!(app(&harness).usage_history.latest.cpu_limit_cores.is_some());
}

#[test]
fn the_metrics_tab_charts_a_pod_from_a_real_prometheus() {
    let _turn = UI_LOCK.lock();
    let spec = klieg::sim::ClusterSpec { name: "prom-sim".into(), git_version: "v1.31.2".into(), nodes: 1, pods: 4 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let (namespace, pod) = fleet.clusters[0].lock().keys_of("/pods").into_iter().next().expect("a pod");
    let target = fleet.server_urls[0].trim_start_matches("https://").to_string();
    let prometheus = crate::common::prometheus::RealPrometheus::scraping(&target, &fleet.clusters[0].token);
    prometheus.wait_for_series(&format!("rate(container_cpu_usage_seconds_total{{pod=\"{pod}\"}}[1m])"));
    let mut settings = Settings {
        locale: "en".into(),
        kind_plural: "pods".into(),
        selected_namespaces: vec![namespace],
        ..Settings::default()
    };
    settings.prometheus.insert("prom-sim".into(), klieg::model::PrometheusSource::Url(prometheus.url.clone()));
    let mut harness = start_app(&fleet.kubeconfig_path, settings);
    step_until(&mut harness, "the pod row", |h| has_label(h, &pod));
    harness.run_steps(5);
    harness.get_by_label(&pod).click();
    step_until(&mut harness, "the Metrics tab", |h| has_label(h, "Metrics"));
    harness.get_by_label("Metrics").click();
    let via = format!("From Prometheus: {}", prometheus.url);
    step_until(&mut harness, "charts from the real Prometheus", |h| {
        has_label(h, &via)
            && has_label(h, "Network")
            && has_label(h, "Filesystem")
            && has_label(h, "Prometheus for prom-sim:")
    });
    step_until(&mut harness, "points in the CPU chart", |h| {
        app(h).charts.charts.first().is_some_and(|c| c.lines.iter().all(|l| !l.points.is_empty()))
    });
}

#[test]
fn the_cluster_overview_shows_capacity_allocations_and_usage() {
    let _turn = UI_LOCK.lock();
    let spec =
        klieg::sim::ClusterSpec { name: "overview-sim".into(), git_version: "v1.31.2".into(), nodes: 2, pods: 6 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let settings = Settings { locale: "en".into(), ..Settings::default() };
    let mut harness = start_app(&fleet.kubeconfig_path, settings);
    // Once the cluster's kinds are listed the sidebar stops moving, and the click lands.
    step_until(&mut harness, "the overview entry", |h| has_label(h, "Cluster overview") && has_label(h, "Pod"));
    harness.run_steps(3);
    harness.get_by_label("Cluster overview").click();
    step_until(&mut harness, "the cluster's totals", |h| {
        has_label(h, "Nodes: 2 of 2 ready") && has_label_containing(h, "Pods: ") && has_label_containing(h, "used ")
    });
    let overview = app(&harness).overview.clone();
    let cluster = overview.clusters.first().expect("one cluster");
    assert_eq!(cluster.error, None);
    // Two simulated nodes of 15800m allocatable; every pod requests 250m.
    assert!((cluster.cpu.allocatable - 31.6).abs() < 1e-9, "{}", cluster.cpu.allocatable);
    assert!(
        (cluster.cpu.requests - cluster.pods as f64 * 0.25).abs() < 1e-6,
        "{} for {} pods",
        cluster.cpu.requests,
        cluster.pods
    );
    assert!(cluster.cpu.usage.is_some_and(|u| u > 0.0));
    let pods_label = format!("Pods: {} of 220", cluster.pods);
    assert!(has_label(&harness, &pods_label), "{pods_label}");
}

#[test]
fn a_cluster_added_in_the_window_connects_and_removing_it_forgets_its_secret() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("added-clusters.yaml");
    let store = std::sync::Arc::new(klieg::credentials::MemoryStore::default());
    let sources = klieg::backend::kubeconfig::KubeconfigSources {
        added: Some(file.clone()),
        secrets: klieg::credentials::Secrets(store.clone()),
        ..Default::default()
    };
    let mut harness = start_app_with(sources, Settings { locale: "en".into(), ..Settings::default() });
    harness.run_steps(3);
    harness.get_by_label("Add…").click();
    step_until(&mut harness, "the window", |h| has_label(h, "Server and token"));
    // Typed in as a person would: name, server, CA, token.
    let ca = std::fs::read_to_string(cluster.ca_path()).expect("the CA");
    let fields = [
        ("Name", "prod-eu".to_string()),
        ("Server URL", cluster.server_url()),
        // The token before the CA: the pasted certificate grows its field downwards.
        ("Bearer token", "admin-token".to_string()),
        ("CA certificate (PEM, optional)", ca),
    ];
    for (caption, text) in fields {
        harness.get_all_by_label(caption).last().expect("the field").click();
        harness.run_steps(1);
        // Typed, not pasted: password fields take no paste.
        harness.event(egui::Event::Text(text));
        harness.run_steps(1);
    }
    assert_eq!(app(&harness).state.add_cluster.name, "prod-eu");
    assert_eq!(app(&harness).state.add_cluster.token, "admin-token");
    harness.get_by_label("Add").click();
    step_until(&mut harness, "the cluster connected", |h| {
        has_label(h, "Added: prod-eu") && has_label_containing(h, "Connected")
    });
    assert!(app(&harness).state.add_cluster.token.is_empty(), "the token left the form once added");
    assert_eq!(store.len(), 1);
    assert!(!std::fs::read_to_string(&file).expect("written").contains("admin-token"));
    // The × beside the added cluster removes it and its keyring entry.
    harness.get_by_label("×").click();
    step_until(&mut harness, "the cluster gone", |h| app(h).fleet.clusters.is_empty());
    assert!(store.is_empty());
}

/// A kubeconfig whose user runs an exec plugin: the sidebar shows the command and waits; the
/// button approves it, the cluster connects, and the approval is saved. Another window started
/// with the saved settings connects without asking; a changed command asks again.
#[test]
fn an_exec_plugin_runs_only_after_the_user_approves_its_command_in_the_sidebar() {
    use std::os::unix::fs::PermissionsExt;
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("sso-token");
    let ran = dir.path().join("ran");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho run >> '{}'\nprintf '{{\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"admin-token\"}}}}'\n",
            ran.display()
        ),
    )
    .expect("write the plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("executable");
    let exec_user = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      args: [--profile, prod]\n",
        plugin.display()
    );
    let kubeconfig = dir.path().join("config");
    let text = cluster.kubeconfig_text("sso", "unused").replace("    token: unused\n", &exec_user);
    std::fs::write(&kubeconfig, &text).expect("write the kubeconfig");
    let settings = Settings { locale: "en".into(), kind_plural: "namespaces".into(), ..Settings::default() };
    let mut harness = start_app(&kubeconfig, settings);
    step_until(&mut harness, "the approval prompt", |h| has_label(h, "Waiting for your approval to sign in"));
    let command = format!("{} --profile prod", plugin.display());
    assert!(has_label(&harness, &command), "the whole command is shown");
    assert!(!ran.exists(), "nothing ran before the approval");
    harness.get_by_label("Run it and connect").click();
    step_until(&mut harness, "the cluster to connect", |h| has_label(h, "Connected · v1.20.2"));
    assert_eq!(std::fs::read_to_string(&ran).expect("ran").lines().count(), 1, "one run for the first token");
    let saved = app(&harness).state.settings.clone();
    assert_eq!(saved.approved_exec.len(), 1);
    drop(harness);

    // The saved approval holds for the same command.
    let mut again = start_app(&kubeconfig, saved.clone());
    step_until(&mut again, "the cluster to connect again", |h| has_label(h, "Connected · v1.20.2"));
    drop(again);
    // A changed command is a new question.
    std::fs::write(&kubeconfig, text.replace("[--profile, prod]", "[--profile, admin]")).expect("rewrite");
    let mut changed = start_app(&kubeconfig, saved);
    step_until(&mut changed, "a new approval prompt", |h| {
        has_label(h, "Waiting for your approval to sign in")
            && has_label(h, &format!("{} --profile admin", plugin.display()))
    });
}

#[test]
fn a_cluster_can_be_paused_switched_off_and_made_live_from_the_sidebar() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: modes}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: mode-settings, namespace: modes}\n");
    let settings = Settings { locale: "en".into(), kind_plural: "configmaps".into(), ..Settings::default() };
    let mut harness = start_app(&cluster.kubeconfig, settings);
    step_until(&mut harness, "the cluster to connect", |h| has_label(h, "Connected · v1.20.2"));
    step_until(&mut harness, "the configmap row", |h| has_label(h, "mode-settings"));

    harness.get_by_label("Live").click();
    step_until(&mut harness, "the mode list", |h| has_label(h, "Paused"));
    harness.get_by_label("Paused").click();
    step_until(&mut harness, "the paused table", |h| {
        has_label_containing(h, "real-admin is paused") && has_label(h, "mode-settings")
    });
    assert_eq!(
        app(&harness).state.settings.cluster_modes.get("real-admin"),
        Some(&klieg::model::ClusterMode::Paused),
        "the choice is saved with the settings"
    );

    harness.get_by_label("Paused").click();
    step_until(&mut harness, "the mode list", |h| has_label(h, "Off"));
    harness.get_by_label("Off").click();
    step_until(&mut harness, "the cluster off", |h| {
        app(h).fleet.clusters.iter().any(|c| c.state == klieg::model::ClusterState::Off)
            && !has_label(h, "Connected · v1.20.2")
    });

    harness.get_by_label("Off").click();
    step_until(&mut harness, "the mode list", |h| has_label(h, "Live"));
    harness.get_by_label("Live").click();
    step_until(&mut harness, "the cluster live again", |h| {
        has_label(h, "Connected · v1.20.2") && has_label(h, "mode-settings") && !has_label_containing(h, "is paused")
    });
    assert!(!app(&harness).state.settings.cluster_modes.contains_key("real-admin"));
}

/// Three token-file users of the real apiserver open the same ConfigMap: an admin, a viewer
/// (read-only everywhere) and a team user (may read and update configmaps in one namespace).
/// Each sees the kinds and actions the server grants, and exactly those: what is shown agrees
/// with `kubectl auth can-i` as that user. The team user, who may not list namespaces, names a
/// second namespace it may read and gets its rows.
#[test]
fn admin_viewer_and_namespace_user_each_see_what_they_may_do() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: rbac-matrix}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: rbac-other}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: matrix-cm, namespace: rbac-matrix}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other-cm, namespace: rbac-other}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: matrix-editor, namespace: rbac-matrix}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch, update]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-edits, namespace: rbac-matrix}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: matrix-editor, apiGroup: rbac.authorization.k8s.io}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: other-reader, namespace: rbac-other}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-reads-other, namespace: rbac-other}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: other-reader, apiGroup: rbac.authorization.k8s.io}\n");
    cluster.apply(VIEWER_RBAC);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig_of = |context: &str, token: &str| {
        let path = dir.path().join(context);
        std::fs::write(&path, cluster.kubeconfig_text_in(context, token, "rbac-matrix")).expect("write");
        path
    };
    let can_i = |kubeconfig: &std::path::Path, args: &[&str]| {
        let output = crate::common::run_kubectl(kubeconfig, &[&["auth", "can-i"], args].concat(), None);
        String::from_utf8_lossy(&output.stdout).trim() == "yes"
    };
    // The authorizer learns of new bindings through an informer.
    let team = kubeconfig_of("matrix-team", "team-token");
    step_until_true("the team's binding", || can_i(&team, &["update", "configmaps", "-n", "rbac-matrix"]));
    // (user, may list secrets, may update, may delete, hidden actions)
    let expected = [
        ("matrix-admin", "admin-token", true, true, true, None),
        ("matrix-viewer", "viewer-token", false, false, false, Some("Hidden actions: 2")),
        ("matrix-team", "team-token", false, true, false, Some("Hidden actions: 1")),
    ];
    for (context, token, secrets, update, delete, hidden) in expected {
        let kubeconfig = kubeconfig_of(context, token);
        let settings = configmaps_in(&["rbac-matrix"]);
        let mut harness = start_app(&kubeconfig, settings);
        step_until(&mut harness, "the configmap row", |h| has_label(h, "matrix-cm"));
        step_until(&mut harness, "the user's rules", |h| app(h).fleet.clusters.iter().all(|c| c.access.is_some()));
        harness.get_by_label("matrix-cm").click();
        step_until(&mut harness, "the access answers", |h| app(h).details.access.is_some() && has_label(h, "Overview"));
        harness.run_steps(2);
        // What the server says, as this user.
        assert_eq!(can_i(&kubeconfig, &["list", "secrets", "-n", "rbac-matrix"]), secrets, "{context}");
        assert_eq!(can_i(&kubeconfig, &["update", "configmaps/matrix-cm", "-n", "rbac-matrix"]), update, "{context}");
        assert_eq!(can_i(&kubeconfig, &["delete", "configmaps/matrix-cm", "-n", "rbac-matrix"]), delete, "{context}");
        // What the window shows.
        assert_eq!(has_label(&harness, "Secret"), secrets, "{context}: the Secret kind");
        assert_eq!(has_label(&harness, "Edit YAML"), update, "{context}: Edit YAML");
        assert_eq!(has_label(&harness, "Delete"), delete, "{context}: Delete");
        match hidden {
            Some(label) => assert!(has_label(&harness, label), "{context}: {label}"),
            None => assert!(!has_label_containing(&harness, "Hidden actions"), "{context}: nothing hidden"),
        }
        if context != "matrix-team" {
            continue;
        }
        // The team user may not list namespaces: only the context's is offered, and another
        // can be named.
        let id = klieg::model::ClusterId::new(context);
        let listed = app(&harness).fleet.cluster(&id).map(|c| c.namespaces.to_vec()).unwrap_or_default();
        assert_eq!(listed.iter().map(|n| n.to_string()).collect::<Vec<_>>(), ["rbac-matrix"]);
        harness.get_by_label("Close").click();
        harness.get_by_label("Namespaces: 1 selected").click();
        harness.state_mut().as_mut().expect("app").state.selection.namespace_search = "rbac-other".into();
        step_until(&mut harness, "the offer to use it", |h| has_label(h, "Use namespace “rbac-other”"));
        harness.get_by_label("Use namespace “rbac-other”").click();
        step_until(&mut harness, "the named namespace's rows", |h| {
            has_label(h, "other-cm") && has_label(h, "matrix-cm")
        });
        let named = &app(&harness).state.settings.cluster_namespaces;
        assert_eq!(named.get(context).map(Vec::as_slice), Some(&["rbac-other".to_string()][..]), "remembered");
    }
}

/// Polls `ready` (outside any window) for up to 30 s.
fn step_until_true(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A viewer who may list ConfigMaps but not Pods starts on the default kind (Pods): once the
/// cluster's rules are known, the window shows ConfigMaps instead of a table of refusals.
#[test]
fn a_kind_the_user_may_not_list_gives_way_to_one_they_may() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: settle-kind}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: readable, namespace: settle-kind}\n");
    cluster.apply(VIEWER_RBAC);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("viewer.yaml");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text("settle-viewer", "viewer-token")).expect("write");
    let settings = Settings { locale: "en".into(), ..Settings::default() };
    assert_eq!(settings.kind_plural, "pods", "the default kind");
    let mut harness = start_app(&kubeconfig, settings);
    step_until(&mut harness, "ConfigMaps shown", |h| {
        app(h).state.selection.kind.as_ref().is_some_and(|k| &*k.plural == "configmaps") && has_label(h, "readable")
    });
    assert!(!has_label_containing(&harness, "not allowed here"), "no table of refusals");
}

/// The bulk bar offers Delete over a selection only where the server allows it in every
/// namespace the selection touches: a team user may delete configmaps in one namespace and only
/// read them in another.
#[test]
fn bulk_actions_follow_the_rights_in_each_selected_namespace() {
    let _turn = UI_LOCK.lock();
    let cluster = TestCluster::shared_for("ui");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: ui-bulk-own}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ui-bulk-other}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine, namespace: ui-bulk-own}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: ui-bulk-other}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm-admin, namespace: ui-bulk-own}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch, delete]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-cm-admin, namespace: ui-bulk-own}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: cm-admin, apiGroup: rbac.authorization.k8s.io}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm-reader, namespace: ui-bulk-other}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: team-cm-reader, namespace: ui-bulk-other}\nsubjects: [{kind: User, name: team-user, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: cm-reader, apiGroup: rbac.authorization.k8s.io}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("team.yaml");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text("ui-bulk-team", "team-token")).expect("write");
    step_until_true("the team's bindings", || {
        let can_i = |ns: &str| {
            let output =
                crate::common::run_kubectl(&kubeconfig, &["auth", "can-i", "list", "configmaps", "-n", ns], None);
            String::from_utf8_lossy(&output.stdout).trim() == "yes"
        };
        can_i("ui-bulk-own") && can_i("ui-bulk-other")
    });
    let settings = configmaps_in(&["ui-bulk-own", "ui-bulk-other"]);
    let mut harness = start_app(&kubeconfig, settings);
    step_until(&mut harness, "both rows", |h| has_label(h, "mine") && has_label(h, "theirs"));
    // The sidebar offers ConfigMaps: the rules of the chosen namespaces count, not only the
    // context's (where this user may do nothing).
    step_until(&mut harness, "the ConfigMap kind offered in the sidebar", |h| {
        let offered = klieg::ui::sidebar::kinds_by_category(&app(h).state.selection.clusters, &app(h).fleet);
        offered.values().flatten().any(|kind| &*kind.plural == "configmaps")
    });
    harness.run_steps(5);
    harness.get_by_label("mine").click_modifiers(egui::Modifiers::COMMAND);
    step_until(&mut harness, "Delete offered in the user's own namespace", |h| {
        has_label(h, "1 selected") && has_label(h, "Delete")
    });
    harness.get_by_label("theirs").click_modifiers(egui::Modifiers::COMMAND);
    step_until(&mut harness, "Delete withdrawn once the selection spans a read-only namespace", |h| {
        has_label(h, "2 selected") && !has_label(h, "Delete") && app(h).bulk_access.scopes.len() == 2
    });
}
