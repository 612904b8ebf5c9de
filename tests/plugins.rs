//! Plugins in the real window (egui_kittest) on the simulator: the cert-manager plugin of the
//! tree adds its Expires column and its Certificate section; the Plugins page lists it with its
//! state; a plugin edited on disk reloads in place while the other keeps its state; a plugin that
//! runs past its budget is stopped and named while the window keeps drawing.

use crate::common::ui::{UI_LOCK, app, has_label, has_label_containing, start_app_with_plugins, step_until};
use egui_kittest::kittest::{NodeT, Queryable};
use klieg::state::Settings;
use std::path::{Path, PathBuf};

fn tree_plugin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins").join(name)
}

fn certificates_in(namespaces: &[&str]) -> Settings {
    Settings {
        locale: "en".into(),
        kind_group: "cert-manager.io".into(),
        kind_plural: "certificates".into(),
        selected_namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        ..Settings::default()
    }
}

const NOTE: &str = r#"
local klieg = require("@klieg")
klieg.sections.add({ id = "note", kinds = { "certificates.cert-manager.io" }, title = "Note",
  build = function(certificate) return klieg.ui.text("first note on " .. certificate.metadata.name) end })
"#;

fn write_plugin(root: &Path, id: &str, main: &str) {
    klieg::plugins::write_single_file_plugin(root, id, main).expect("a plugin folder");
}

#[test]
fn the_cert_manager_plugin_adds_its_column_and_section_and_an_edit_reloads_in_place() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "plugin-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: plugin-test}\n",
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    write_plugin(scratch.path(), "io.example.note", NOTE);
    write_plugin(
        scratch.path(),
        "io.example.spinner",
        "local k = require('@klieg') k.sections.add({ id = 'spin', kinds = { '*' }, title = 'Spin', build = function() while true do end end })",
    );
    let plugins = klieg::plugins::HostConfig {
        development: vec![tree_plugin("cert-manager"), scratch.path().to_path_buf()],
        ..klieg::plugins::HostConfig::default()
    };
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with_plugins(sources, certificates_in(&["shop", "payments"]), plugins);

    // The column, computed from each Certificate's status at ingest, with its tone.
    step_until(&mut harness, "the Expires column and a cell", |h| {
        has_label(h, "Expires") && h.query_all_by_label_contains(" d").next().is_some()
    });
    // The name cell (the Secret column says shop-tls too).
    harness.query_all_by_label("shop-tls").next().expect("the row").click();
    step_until(&mut harness, "the plugin's Certificate section", |h| {
        has_label(h, "Certificate")
            && has_label(h, "Issuer/letsencrypt-prod")
            && has_label_containing(h, ".example.com")
    });
    let opened = app(&harness).details.key.as_ref().map(|k| k.name.to_string()).expect("a certificate open");
    let first = format!("first note on {opened}");
    step_until(&mut harness, "the note section", |h| has_label(h, &first));
    // The spinning plugin ran past its budget: stopped, named on the Plugins page.
    harness.get_by_label("Plugins").click();
    step_until(&mut harness, "the Plugins page", |h| {
        has_label(h, "io.klieg.cert-manager") && has_label_containing(h, "ran past its CPU budget")
    });
    assert!(has_label(&harness, "running"), "the good plugins run");
    assert!(has_label(&harness, "stopped"), "the spinning one is stopped");

    // Saving the note plugin's file reloads it (and only it): the section changes in place.
    let main = scratch.path().join("io.example.note").join("init.luau");
    std::fs::write(&main, NOTE.replace("first note", "second note")).expect("edit");
    let second = format!("second note on {opened}");
    step_until(&mut harness, "the reloaded section", |h| has_label(h, &second));
    assert!(has_label(&harness, "Issuer/letsencrypt-prod"), "the other plugin's section stays");
    assert!(
        app(&harness)
            .plugin_list
            .plugins
            .iter()
            .any(|p| &*p.id == "io.klieg.cert-manager" && p.state == klieg::plugins::PluginState::Running)
    );
}

fn kustomizations() -> Settings {
    Settings {
        locale: "en".into(),
        kind_group: "kustomize.toolkit.fluxcd.io".into(),
        kind_plural: "kustomizations".into(),
        selected_namespaces: vec!["flux-system".into()],
        ..Settings::default()
    }
}

#[test]
fn the_flux_plugin_shows_readiness_and_reconciles_after_the_user_confirms() {
    let _turn = UI_LOCK.lock();
    let fleet =
        crate::common::sim_cluster_with("flux-sim", "apiVersion: v1\nkind: Namespace\nmetadata: {name: plugin-test}\n");
    let plugins = klieg::plugins::HostConfig { development: vec![tree_plugin("flux")], ..Default::default() };
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with_plugins(sources, kustomizations(), plugins);
    step_until(&mut harness, "the Flux columns", |h| {
        has_label(h, "Flux ready")
            && has_label(h, "Revision")
            && has_label(h, "Ready")
            && has_label_containing(h, "main@")
    });
    harness.get_by_label("shop").click();
    step_until(&mut harness, "the Flux section, the action and the source in Related", |h| {
        has_label(h, "GitRepository/flux-system")
            && has_label(h, "Reconcile now")
            && has_label(h, "GitRepository flux-system")
    });
    harness.get_by_label("Reconcile now").click();
    // A write: confirmed first, saying who computes it.
    step_until(&mut harness, "the confirmation", |h| {
        has_label_containing(h, "io.klieg.flux computes a patch of this object")
    });
    let opened = app(&harness).details.key.as_ref().map(|k| k.name.to_string()).expect("a Kustomization open");
    let annotation = || {
        let out = crate::common::run_kubectl(
            &fleet.kubeconfig_path,
            &[
                "get",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                &opened,
                "-n",
                "flux-system",
                "-o",
                "jsonpath={.metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt}",
            ],
            None,
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(annotation().is_empty(), "nothing is written before the user confirms");
    // The modal's button says the action's name too; it is drawn last.
    harness.query_all_by_label("Reconcile now").last().expect("the confirm button").click();
    let outcome = format!("Reconcile now · flux-sim/flux-system/{opened} · patched");
    step_until(&mut harness, "the outcome", |h| has_label_containing(h, &outcome));
    assert!(annotation().starts_with("20"), "the annotation reached the server: {:?}", annotation());

    // The plugin's sidebar entry opens its view: a tab per kind, each the generic table.
    harness.query_all_by_label("Flux").next().expect("the sidebar entry").click();
    step_until(&mut harness, "the Flux view", |h| {
        has_label_containing(h, "What Flux delivers") && has_label(h, "Git repositories")
    });
    harness.get_by_label("Git repositories").click();
    step_until(&mut harness, "the GitRepository table with the plugin's columns", |h| {
        app(h).state.selection.kind.as_ref().is_some_and(|k| &*k.plural == "gitrepositories")
            && app(h).table.rows.iter().any(|row| &*row.key.name == "flux-system")
            && has_label(h, "Flux ready")
    });
}

#[test]
fn the_describe_plugin_runs_its_listed_command_and_shows_the_output() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "exec-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: teams}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: team-limits, namespace: teams}\ndata: {max: \"10\"}\n",
    );
    let plugins =
        klieg::plugins::HostConfig { development: vec![tree_plugin("kubectl-describe")], ..Default::default() };
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with_plugins(sources, crate::common::ui::configmaps_in(&["teams"]), plugins);
    step_until(&mut harness, "the ConfigMap", |h| has_label(h, "team-limits"));
    harness.get_by_label("team-limits").click();
    step_until(&mut harness, "the plugin's action", |h| has_label(h, "Describe"));
    harness.get_by_label("Describe").click();
    // Not marked dangerous: it runs at once, with the object's kubeconfig and context.
    step_until(&mut harness, "the command's exit", |h| {
        has_label_containing(h, "Describe · exec-sim/teams/team-limits · exit 0")
    });
    harness.get_by_label("Output…").click();
    step_until(&mut harness, "the output window", |h| {
        app(h).state.actions.output.is_some() && has_label(h, "Describe · exec-sim/teams/team-limits")
    });
    let output = app(&harness).state.actions.output.clone().expect("the output window");
    assert!(output.1.contains("Name:") && output.1.contains("team-limits"), "{}", output.1);
}

#[test]
fn the_flux_view_counts_what_is_ready_and_reconciles_the_rest_after_one_answer() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "flux-view-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: plugin-test}\n",
    );
    let plugins = klieg::plugins::HostConfig { development: vec![tree_plugin("flux")], ..Default::default() };
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with_plugins(sources, kustomizations(), plugins);
    step_until(&mut harness, "the Flux sidebar entry", |h| has_label(h, "Flux ready") && app(h).table.rows.len() >= 2);
    // One delivery fails (as a broken kustomize build would): Flux says so in its status.
    let failing_status = r#"{"status":{"conditions":[{"type":"Ready","status":"False","reason":"BuildFailed","message":"kustomize build failed"}]}}"#;
    let name = app(&harness).table.rows[0].key.name.to_string();
    let out = crate::common::run_kubectl(
        &fleet.kubeconfig_path,
        &[
            "patch",
            "kustomizations.kustomize.toolkit.fluxcd.io",
            &name,
            "-n",
            "flux-system",
            "--subresource=status",
            "--type=merge",
            "-p",
            failing_status,
        ],
        None,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    harness.query_all_by_label("Flux").next().expect("the sidebar entry").click();
    // The plugin's own summary, built in its handler state from klieg.kube.list.
    step_until(&mut harness, "the summary the plugin built", |h| {
        has_label_containing(h, "Kustomizations ") && has_label_containing(h, " Ready") && has_label(h, "Reason")
    });
    assert!(has_label(&harness, "BuildFailed"), "the failing one is listed with its reason");
    let button =
        harness.query_all_by_label_contains("not Ready").next().expect("the reconcile button").accesskit_node().label();
    let failing: usize = button
        .as_deref()
        .and_then(|b| b.strip_prefix("Reconcile the "))
        .and_then(|b| b.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a count");
    harness.get_by_label(button.as_deref().expect("a label")).click();
    // Each write is shown before it is made; one answer can cover the plugin's next writes.
    step_until(&mut harness, "the write shown", |h| {
        has_label(h, "A plugin wants to change the cluster")
            && has_label_containing(h, "Flux wants to patch kustomizations")
            && has_label_containing(h, "in the cluster flux-view-sim")
    });
    assert!(has_label_containing(&harness, "reconcile.fluxcd.io/requestedAt"), "the patch itself is shown");
    harness.get_by_label("Apply, and don't ask again for this plugin").click();
    let asked = format!("Asked Flux to reconcile {failing}.");
    step_until(&mut harness, "the rebuilt view", |h| has_label(h, &asked));
    assert!(app(&harness).state.settings.plugins.get("io.klieg.flux").is_some_and(|c| c.trust_writes), "kept");

    // The same from the command palette: found by a few letters, run with Enter, not asked again.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    step_until(&mut harness, "the palette", |h| has_label(h, "Commands"));
    harness
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .find(|input| input.is_focused())
        .expect("the palette's field has the focus")
        .type_text("flux recon");
    step_until(&mut harness, "the command found", |h| has_label_containing(h, "Flux: reconcile everything not Ready"));
    harness.key_press(egui::Key::Enter);
    let notice = format!("Asked Flux to reconcile {failing} not Ready.");
    step_until(&mut harness, "the plugin's notice", |h| has_label(h, &notice));
    assert!(!has_label(&harness, "A plugin wants to change the cluster"), "not asked again");
}

#[test]
fn the_cert_manager_plugin_renews_through_the_status_and_shows_a_glance_on_hover() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "renew-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: plugin-test}\n",
    );
    let plugins = klieg::plugins::HostConfig { development: vec![tree_plugin("cert-manager")], ..Default::default() };
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with_plugins(sources, certificates_in(&["shop"]), plugins);
    step_until(&mut harness, "the certificate", |h| has_label(h, "shop-tls") && has_label(h, "Expires"));
    // Resting on a row shows the plugin's glance, built from the object on the backend.
    harness.query_all_by_label("shop-tls").next().expect("the row").hover();
    step_until(&mut harness, "the glance", |h| {
        has_label(h, "DNS names:") && has_label_containing(h, "shop.example.com")
    });
    harness.query_all_by_label("shop-tls").next().expect("the row").click();
    step_until(&mut harness, "Renew and the chain in Related", |h| {
        has_label(h, "Renew") && has_label_containing(h, "Issuer letsencrypt-prod")
    });
    let opened = app(&harness).details.key.as_ref().map(|k| k.name.to_string()).expect("a certificate open");
    harness.get_by_label("Renew").click();
    step_until(&mut harness, "the confirmation", |h| {
        has_label_containing(h, "Ask cert-manager to issue this certificate again now")
    });
    harness.query_all_by_label("Renew").last().expect("the confirm button").click();
    let outcome = format!("Renew · renew-sim/shop/{opened} · patched");
    step_until(&mut harness, "the outcome", |h| has_label_containing(h, &outcome));
    let out = crate::common::run_kubectl(
        &fleet.kubeconfig_path,
        &[
            "get",
            "certificates.cert-manager.io",
            &opened,
            "-n",
            "shop",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Issuing\")].reason}",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ManuallyTriggered", "the Issuing condition reached the status");
}

const TOOLBOX: &str = r#"
local klieg = require("@klieg")
klieg.commands.add({ id = "hello", title = "Say hello", app_bar = true, run = function(ctx)
  klieg.notify("hello from " .. (ctx.cluster or "nowhere") .. ", greeting " .. tostring(klieg.settings.get("greeting")), "ok")
end })
klieg.on("settings_changed", function(event)
  klieg.notify("setting " .. event.key .. " is now " .. tostring(klieg.settings.get(event.key)))
end)
klieg.on("object_opened", function(event) klieg.notify("opened " .. event.name) end)
"#;

#[test]
fn a_plugin_s_settings_page_app_bar_command_and_hooks_work_in_the_window() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "toolbox-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: teams}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: team-limits, namespace: teams}\ndata: {max: \"10\"}\n",
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    let folder =
        klieg::plugins::write_single_file_plugin(scratch.path(), "io.example.toolbox", TOOLBOX).expect("plugin");
    let manifest = folder.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let extra = "\n[capabilities]\nnotify = true\n\n[[settings]]\nkey = \"greeting\"\nlabel = \"Greeting\"\ntype = \"text\"\ndefault = \"hi\"\n";
    std::fs::write(&manifest, format!("{text}{extra}")).expect("manifest");
    let plugins = klieg::plugins::HostConfig { development: vec![scratch.path().to_path_buf()], ..Default::default() };
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with_plugins(sources, crate::common::ui::configmaps_in(&["teams"]), plugins);
    step_until(&mut harness, "the plugin's app-bar button", |h| {
        has_label(h, "Say hello") && has_label(h, "team-limits")
    });
    harness.get_by_label("Say hello").click();
    step_until(&mut harness, "the notice", |h| has_label(h, "hello from toolbox-sim, greeting hi"));
    harness.get_by_label("team-limits").click();
    step_until(&mut harness, "the object_opened hook", |h| has_label(h, "opened team-limits"));
    // Its settings page, drawn from the manifest's schema.
    harness.get_by_label("Plugins").click();
    step_until(&mut harness, "the settings header", |h| has_label(h, "Settings"));
    harness.get_by_label("Settings").click();
    step_until(&mut harness, "the field", |h| has_label(h, "Greeting"));
    let field = harness
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .find(|node| node.value().as_deref() == Some("hi"))
        .expect("the greeting field");
    field.set_text_value_accesskit("good day");
    harness.run_steps(2);
    harness.get_by_label("Apply").click();
    step_until(&mut harness, "the settings_changed hook", |h| has_label(h, "setting greeting is now good day"));
    let saved = app(&harness)
        .state
        .settings
        .plugins
        .get("io.example.toolbox")
        .and_then(|c| c.settings.get("greeting").cloned());
    assert_eq!(saved, Some(serde_json::json!("good day")), "kept in the settings");
}

/// Python's own HTTP server on loopback, serving `dir`; stopped by PID on drop.
struct LoopbackServer {
    child: std::process::Child,
    port: u16,
}

impl LoopbackServer {
    fn serving(dir: &Path) -> Self {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a port");
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "the server never listened");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const FETCHER: &str = r#"
local klieg = require("@klieg")
klieg.commands.add({ id = "fetch", title = "Fetch", run = function()
  local base = klieg.settings.get("base")
  local small, err = klieg.http.get(base .. "/hello.txt")
  klieg.notify(if small then `{small.status} {small.body}` else `failed {err}`)
  local big, big_err = klieg.http.get(base .. "/big.bin")
  klieg.notify(if big then `big {#big.body}` else `big refused: {big_err}`)
  local secret = klieg.secrets.get("token")
  klieg.secrets.set("token", "kept")
  klieg.notify(`secret before {tostring(secret)}, after {klieg.secrets.get("token")}`)
end })
"#;

#[test]
fn a_plugin_fetches_from_its_listed_host_through_the_backend_and_a_large_answer_is_refused() {
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(files.path().join("hello.txt"), "hello from the server").expect("write");
    std::fs::write(files.path().join("big.bin"), vec![b'x'; 5 * 1024 * 1024]).expect("write");
    let server = LoopbackServer::serving(files.path());
    let scratch = tempfile::tempdir().expect("tempdir");
    let folder =
        klieg::plugins::write_single_file_plugin(scratch.path(), "io.example.fetcher", FETCHER).expect("plugin");
    let manifest = folder.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let extra = "\n[capabilities]\nhttp = [\"127.0.0.1\"]\nnotify = true\nstorage = true\n\n[[settings]]\nkey = \"base\"\nlabel = \"Base\"\n";
    std::fs::write(&manifest, format!("{text}{extra}")).expect("manifest");

    let live = klieg::model::LiveRegistry::default();
    let mut config =
        klieg::plugins::HostConfig { development: vec![scratch.path().to_path_buf()], ..Default::default() };
    let base = klieg::model::registry::FieldValue::Text(format!("http://127.0.0.1:{}", server.port).into());
    config.settings.insert("io.example.fetcher".into(), [("base".into(), base)].into_iter().collect());
    let host = klieg::plugins::PluginHost::start(config, klieg::model::Registry::with_builtins(), live.clone());
    let backend = klieg::backend::start(crate::common::sources_for(&[]), std::sync::Arc::new(|| {})).expect("backend");
    let inbox = klieg::app::plugin_services::SharedInbox::default();
    let keyring = std::sync::Arc::new(klieg::backend::credentials::MemoryStore::default());
    host.set_services(Box::new(klieg::app::plugin_services::AppServices {
        inbox: inbox.clone(),
        ctx: egui::Context::default(),
        gateway: backend.plugin_gateway.clone(),
        secrets: klieg::backend::credentials::Secrets(keyring.clone()),
    }));
    assert!(host.wait_for_first_load(std::time::Duration::from_secs(30)));
    let registry = live.current();
    let command = registry.command("io.example.fetcher/fetch").expect("the command");
    (command.run)(&klieg::model::registry::CommandContext::default());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while inbox.lock().notices.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "notices: {:?}", inbox.lock().notices);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let notices: Vec<String> = inbox.lock().notices.iter().map(|n| n.text.clone()).collect();
    assert_eq!(notices[0], "200 hello from the server");
    assert!(notices[1].starts_with("big refused:") && notices[1].contains("4194304"), "{}", notices[1]);
    assert_eq!(notices[2], "secret before nil, after kept");
    assert_eq!(keyring.len(), 1, "one entry, under the plugin's own name");
    use klieg::backend::credentials::SecretStore;
    assert_eq!(keyring.get("plugin:io.example.fetcher:token").expect("the plugin's entry"), "kept");
}

const WATCHER: &str = r#"
local klieg = require("@klieg")
klieg.on("cluster_connected", function(event)
  local applied, err = klieg.kube.apply("configmaps", { apiVersion = "v1", kind = "ConfigMap",
    metadata = { name = "team-applied", namespace = "teams" }, data = { by = "plugin" } })
  klieg.notify(if applied then `applied {applied.metadata.name}` else `apply failed: {err}`)
  local listed = klieg.exec("get", { name = "team-applied", namespace = "teams" })
  klieg.notify(`kubectl says {listed and listed.output or "nothing"}`)
  klieg.kube.watch("configmaps", { namespace = "teams" }, function(objects)
    local names = {}
    for _, object in objects do table.insert(names, object.metadata.name) end
    table.sort(names)
    klieg.notify(`{event.cluster}: {table.concat(names, ", ")}`)
  end)
end)
"#;

#[test]
fn a_plugin_watch_follows_changes_through_the_tables_own_subscription() {
    let fleet = crate::common::sim_cluster_with(
        "watch-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: teams}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: team-limits, namespace: teams}\n",
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    let folder =
        klieg::plugins::write_single_file_plugin(scratch.path(), "io.example.watcher", WATCHER).expect("plugin");
    let manifest = folder.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let capabilities = concat!(
        "\n[capabilities]\nkube_read = [\"configmaps\"]\nnotify = true\n",
        "kube_write = [{ kind = \"configmaps\", verbs = [\"create\", \"patch\"] }]\n\n",
        "[[capabilities.exec]]\nid = \"get\"\n",
        "command = [\"kubectl\", \"get\", \"configmap\", \"$NAME\", \"--namespace\", \"$NAMESPACE\", \"--context\", \"$CONTEXT\", \"-o\", \"name\"]\n",
    );
    std::fs::write(&manifest, format!("{text}{capabilities}")).expect("manifest");
    let live = klieg::model::LiveRegistry::default();
    // The user said not to confirm this plugin's writes again (the prompt is the window's).
    let config = klieg::plugins::HostConfig {
        development: vec![scratch.path().to_path_buf()],
        trusted_writes: ["io.example.watcher".to_string()].into_iter().collect(),
        ..Default::default()
    };
    let host = klieg::plugins::PluginHost::start(config, klieg::model::Registry::with_builtins(), live.clone());
    let backend = crate::common::start_backend(crate::common::sources_for(&[&fleet.kubeconfig_path]));
    crate::common::wait_connected(&backend, "watch-sim");
    let inbox = klieg::app::plugin_services::SharedInbox::default();
    host.set_services(Box::new(klieg::app::plugin_services::AppServices {
        inbox: inbox.clone(),
        ctx: egui::Context::default(),
        gateway: backend.plugin_gateway.clone(),
        secrets: klieg::backend::credentials::Secrets(std::sync::Arc::new(
            klieg::backend::credentials::MemoryStore::default(),
        )),
    }));
    assert!(host.wait_for_first_load(std::time::Duration::from_secs(30)));
    let cluster = klieg::model::ClusterId::new("watch-sim");
    // The table shows the same kind and namespace: one subscription serves both.
    backend.table.ask(Some(klieg::model::ViewQuery {
        clusters: vec![cluster.clone()],
        kind: Some(klieg::model::KindKey::new("", "configmaps")),
        namespaces: vec![std::sync::Arc::from("teams")],
        ..Default::default()
    }));
    live.current().emit(&klieg::model::registry::AppEvent::ClusterConnected { cluster });
    let notice = |text: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !inbox.lock().notices.iter().any(|n| n.text == text) {
            assert!(
                std::time::Instant::now() < deadline,
                "waited for {text:?}: {:?}; {:?}",
                inbox.lock().notices,
                host.list().plugins.iter().map(|p| p.state.clone()).collect::<Vec<_>>()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    notice("applied team-applied");
    notice("kubectl says configmap/team-applied\n");
    notice("watch-sim: team-applied, team-limits");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while backend.plugin_gateway.watches_shared_with_table() != 1 {
        assert!(std::time::Instant::now() < deadline, "the plugin's watch is the table's own subscription");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let created = crate::common::run_kubectl(
        &fleet.kubeconfig_path,
        &["create", "configmap", "team-quotas", "-n", "teams"],
        None,
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    notice("watch-sim: team-applied, team-limits, team-quotas");
}

#[test]
fn klieg_plugin_pack_makes_the_same_archive_twice_and_it_unpacks_to_a_plugin_that_checks() {
    let (first, second) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let pack = |out: &Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_klieg"))
            .args(["plugin", "pack"])
            .arg(tree_plugin("cert-manager"))
            .arg("--out")
            .arg(out)
            .output()
            .expect("klieg runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).split_whitespace().next().map(str::to_string).expect("a sha256")
    };
    let (a, b) = (pack(first.path()), pack(second.path()));
    assert_eq!(a.len(), 64);
    assert_eq!(a, b, "reproducible");
    let archive = std::fs::read(first.path().join("io.klieg.cert-manager-0.2.0.tar.gz")).expect("the archive");
    assert_eq!(klieg_catalog::archive::sha256_hex(&archive), a, "the printed sha256 is the file's");
    let unpacked = tempfile::tempdir().expect("dir");
    klieg_catalog::archive::unpack(&archive, unpacked.path()).expect("unpacks");
    let report = klieg::plugins::check(unpacked.path()).expect("what was packed checks");
    assert_eq!(&*report.manifest.id, "io.klieg.cert-manager");
}
