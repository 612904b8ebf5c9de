//! Secrets stay secret: the real app window (egui_kittest over `KliegApp`) is taken through
//! connect, fail (a rejected token, an unreachable server), browse (the Secrets table, a Secret
//! opened, its values revealed and its YAML shown) and add-cluster (typed into the Add… window)
//! flows against the real apiserver, with debug logging on and the offline cache written; then
//! its settings are saved as eframe saves them, and every file it wrote and every log line are
//! scanned for the known secret strings, plain and base64. A test binary of its own, so the log
//! capture sees only this run.

use crate::common::ui::{app, configmaps_in, has_label, has_label_containing, start_app_with, step_until};
use crate::common::{ApiServer, TestCluster, files_under};
use base64::Engine;
use egui_kittest::kittest::Queryable;
use klieg::backend::kubeconfig::KubeconfigSources;
use klieg::credentials::{MemoryStore, Secrets};
use klieg::model::ClusterState;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Every log line, captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// eframe's storage as a file: what the window saves on exit (settings) ends up on disk.
struct FileStorage {
    path: PathBuf,
    values: HashMap<String, String>,
}

impl eframe::Storage for FileStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.values.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.values.remove(key);
    }
    fn flush(&mut self) {
        let text: String = self.values.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        std::fs::write(&self.path, text).expect("write the app's storage");
    }
}

/// Scrolls the sidebar to the widget labelled `label` (scrolling is animated), then clicks it.
fn scroll_and_click(harness: &mut egui_kittest::Harness<'static, Option<klieg::app::KliegApp>>, label: &str) {
    harness.get_by_label(label).scroll_to_me();
    harness.run_steps(60);
    harness.get_by_label(label).click();
}

/// Turns debug logging off again when dropped.
struct LoggingOff<S>(tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, S>);

impl<S> Drop for LoggingOff<S> {
    fn drop(&mut self) {
        let _ = self.0.reload(tracing_subscriber::EnvFilter::new("off"));
    }
}

/// The log subscriber is process-wide: debug logging is captured for the test's span and turned
/// off again at its end (other tests in the binary log into the same capture meanwhile, and must
/// not hold the secrets either). Once per process.
fn capture_debug_logs() -> (Captured, impl Drop) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let captured = Captured::default();
    let writer = captured.clone();
    let (filter, level) = tracing_subscriber::reload::Layer::new(tracing_subscriber::EnvFilter::new("debug"));
    let format = tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_ansi(false);
    tracing_subscriber::registry().with(filter).with(format).init();
    (captured, LoggingOff(level))
}

#[test]
fn no_secret_reaches_a_file_or_a_log() {
    let _turn = crate::common::ui::UI_LOCK.lock();
    let (captured, _logging_off) = capture_debug_logs();
    let cluster = TestCluster::shared_for("secrets");
    let secret_value = "sup3r-s3cret-value";
    let rejected_token = "secret-scan-token";
    let unreachable_token = "unreachable-token-4471";
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: secret-scan}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db-password, namespace: secret-scan}}\nstringData: {{password: {secret_value}}}\n"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    // The user's kubeconfigs: an admin token, a token the server rejects, an unreachable server.
    let kubeconfig = dir.path().join("config");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text("scan-admin", "admin-token")).expect("write");
    let rejected = dir.path().join("rejected");
    std::fs::write(&rejected, cluster.kubeconfig_text("scan-rejected", rejected_token)).expect("write");
    let unreachable = dir.path().join("unreachable");
    std::fs::write(
        &unreachable,
        cluster
            .kubeconfig_text("scan-unreachable", unreachable_token)
            .replace(&cluster.server_url(), "https://127.0.0.1:1"),
    )
    .expect("write");
    let store = Arc::new(MemoryStore::default());
    let added = dir.path().join("config-home").join("klieg").join("added-clusters.yaml");
    let cache = dir.path().join("cache-home").join("klieg");
    let sources = KubeconfigSources {
        explicit: vec![kubeconfig.clone(), rejected.clone(), unreachable.clone()],
        added: Some(added.clone()),
        secrets: Secrets(store.clone()),
        offline_cache: Some(cache.clone()),
        ..KubeconfigSources::default()
    };
    let settings = configmaps_in(&["secret-scan"]);
    let mut harness = start_app_with(sources, settings);

    // Connect, and fail twice.
    step_until(&mut harness, "the admin cluster", |h| has_label(h, "Connected · v1.20.2"));
    step_until(&mut harness, "both failures shown", |h| {
        let failed = |name: &str| {
            app(h)
                .fleet
                .clusters
                .iter()
                .any(|c| c.id.as_str() == name && matches!(c.state, ClusterState::Failed { .. }))
        };
        failed("scan-rejected") && failed("scan-unreachable")
    });
    // Browse: the Secrets table, the Secret opened, revealed, and its YAML.
    // Below the clusters and their errors the kinds list is scrolled to first, as a person would.
    scroll_and_click(&mut harness, "Secret");
    step_until(&mut harness, "the secret row", |h| has_label(h, "db-password"));
    harness.get_by_label("db-password").click();
    step_until(&mut harness, "the secret's details", |h| has_label(h, "Reveal"));
    harness.get_by_label("Reveal").click();
    step_until(&mut harness, "the revealed value", |h| has_label(h, secret_value));
    harness.get_by_label("YAML").click();
    step_until(&mut harness, "the YAML view", |h| has_label(h, "Reveal secret values"));
    harness.get_by_label("Close").click();
    // Add a cluster in the window, its token typed.
    scroll_and_click(&mut harness, "Add…");
    step_until(&mut harness, "the Add window", |h| has_label(h, "Server and token"));
    let fields = [
        ("Name", "scan-added".to_string()),
        ("Server URL", cluster.server_url()),
        ("Bearer token", "admin-token".to_string()),
        ("CA certificate (PEM, optional)", std::fs::read_to_string(cluster.ca_path()).expect("the CA")),
    ];
    for (caption, text) in fields {
        harness.get_all_by_label(caption).last().expect("the field").click();
        harness.run_steps(1);
        harness.event(egui::Event::Text(text));
        harness.run_steps(1);
    }
    harness.get_by_label("Add").click();
    step_until(&mut harness, "the added cluster", |h| has_label(h, "Added: scan-added"));
    step_until(&mut harness, "the added cluster connected", |h| {
        app(h)
            .fleet
            .clusters
            .iter()
            .any(|c| c.id.as_str() == "scan-added" && matches!(c.state, ClusterState::Connected { .. }))
    });
    assert!(!has_label_containing(&harness, "admin-token"), "the token is not shown back");
    // The window closes: its settings are saved as eframe saves them.
    let mut storage = FileStorage { path: dir.path().join("data-home-app.ron"), values: HashMap::new() };
    eframe::App::save(harness.state_mut().as_mut().expect("app"), &mut storage);
    eframe::Storage::flush(&mut storage);
    drop(harness);

    // Scan: the files Klieg wrote (not the kubeconfigs the test wrote as the user) and the log.
    let written: Vec<_> =
        files_under(dir.path()).into_iter().filter(|p| ![&kubeconfig, &rejected, &unreachable].contains(&p)).collect();
    assert!(written.contains(&added), "the added-clusters file is scanned: {written:?}");
    assert!(written.contains(&storage.path), "the settings are scanned: {written:?}");
    assert!(written.iter().any(|p| p.starts_with(&cache)), "the offline cache is scanned: {written:?}");
    let read = |path: &PathBuf| String::from_utf8_lossy(&std::fs::read(path).expect("read")).into_owned();
    assert!(
        written.iter().filter(|p| p.starts_with(&cache)).any(|p| read(p).contains("db-password")),
        "the Secrets table's rows were cached (and are scanned)"
    );
    assert!(read(&storage.path).contains("secret-scan"), "the settings hold the browsing state");
    let log = String::from_utf8_lossy(&captured.0.lock()).into_owned();
    assert!(log.lines().count() > 5, "debug logging was on: {log}");
    assert_nowhere(&["admin-token", rejected_token, unreachable_token, secret_value], &written, &log);
}

/// No file of `written` and no line of `log` holds any of `secrets`, plain or base64.
fn assert_nowhere(secrets: &[&str], written: &[PathBuf], log: &str) {
    let read = |path: &PathBuf| String::from_utf8_lossy(&std::fs::read(path).expect("read")).into_owned();
    for secret in secrets {
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        for needle in [*secret, encoded.as_str()] {
            for file in written {
                assert!(!read(file).contains(needle), "{} holds {needle}", file.display());
            }
            assert!(!log.contains(needle), "the log holds {needle}");
        }
    }
}
