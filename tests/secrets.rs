//! Secrets stay secret: the backend is taken through connect, browse (a Secret opened, its
//! values masked and revealed on request), fail (a rejected token) and
//! add-cluster flows against the real apiserver with debug logging on, then every file it wrote
//! and every log line are scanned for the known secret strings. A test binary of its own, so the
//! log capture sees only this run.

mod common;

use common::{ApiServer, TestCluster, files_under, start_backend, wait_connected, wait_for};
use klieg::backend::kubeconfig::KubeconfigSources;
use klieg::credentials::{MemoryStore, Secrets};
use klieg::model::{AddCluster, ClusterId, Command, KindKey, ObjectKey, Outcome, ViewQuery};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every log line, captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_secret_reaches_a_file_or_a_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt().with_env_filter("debug").with_writer(move || writer.clone()).with_ansi(false).init();
    let cluster = TestCluster::shared();
    let secret_value = "sup3r-s3cret-value";
    let secret_token = "secret-scan-token";
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: secret-scan}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db-password, namespace: secret-scan}}\nstringData: {{password: {secret_value}}}\n"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    // The user's kubeconfigs: an admin token, and a token the server rejects.
    let kubeconfig = dir.path().join("config");
    std::fs::write(&kubeconfig, cluster.kubeconfig_text("scan-admin", "admin-token")).expect("write");
    let rejected = dir.path().join("rejected");
    std::fs::write(&rejected, cluster.kubeconfig_text("scan-rejected", secret_token)).expect("write");
    let store = Arc::new(MemoryStore::default());
    let added = dir.path().join("klieg").join("added-clusters.yaml");
    let handle = start_backend(KubeconfigSources {
        explicit: vec![kubeconfig.clone(), rejected.clone()],
        added: Some(added.clone()),
        secrets: Secrets(store.clone()),
        ..KubeconfigSources::default()
    });
    wait_connected(&handle, "scan-admin");
    let wait = Duration::from_secs(30);
    // Fail: the rejected token shows as such.
    wait_for(&handle.fleet, wait, "the rejected token", |fleet| {
        let rejected = fleet.clusters.iter().find(|c| c.id.as_str() == "scan-rejected")?;
        matches!(rejected.state, klieg::model::ClusterState::Failed { .. }).then_some(())
    });
    // Browse: the Secrets table, then the Secret in details (values masked, decoded on request).
    let id = ClusterId::new("scan-admin");
    let secrets_kind = KindKey { group: Arc::from(""), plural: Arc::from("secrets") };
    handle.send(Command::SetView(ViewQuery {
        clusters: vec![id.clone()],
        kind: Some(secrets_kind.clone()),
        namespaces: vec![Arc::from("secret-scan")],
        ..ViewQuery::default()
    }));
    wait_for(&handle.table, wait, "the Secret's row", |t| {
        t.rows.iter().any(|r| &*r.key.name == "db-password").then_some(())
    });
    let key = ObjectKey { cluster: id, namespace: Some(Arc::from("secret-scan")), name: Arc::from("db-password") };
    handle.send(Command::OpenDetails { kind: secrets_kind, key: key.clone() });
    let details = wait_for(&handle.details, wait, "the Secret's details", |d| {
        (d.key.as_ref() == Some(&key) && !d.secret_values.is_empty()).then(|| d.clone())
    });
    assert!(!details.masked_yaml.contains(secret_value), "the YAML shown is masked");
    // Add cluster: a token that must end up only in the keyring.
    handle.send(Command::AddClusters {
        request_id: 1,
        request: AddCluster::Token {
            name: "scan-added".into(),
            server: cluster.server_url(),
            ca_pem: std::fs::read_to_string(cluster.ca_path()).expect("the CA"),
            token: "admin-token".into(),
            insecure: false,
        },
    });
    wait_for(&handle.activity, wait, "the cluster added", |log| {
        log.for_request(1).last().filter(|a| matches!(a.outcome, Outcome::Done { .. })).map(|_| ())
    });
    wait_connected(&handle, "scan-added");
    drop(handle);

    // Scan: the files Klieg wrote (not the kubeconfigs the test wrote as the user) and the log.
    let written: Vec<_> = files_under(dir.path()).into_iter().filter(|p| *p != kubeconfig && *p != rejected).collect();
    assert!(written.contains(&added), "the added-clusters file is among the files scanned: {written:?}");
    let log =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned();
    assert!(log.lines().count() > 5, "debug logging was on: {log}");
    for secret in ["admin-token", secret_token, secret_value] {
        for file in &written {
            let text = String::from_utf8_lossy(&std::fs::read(file).expect("read")).into_owned();
            assert!(!text.contains(secret), "{} holds {secret}", file.display());
        }
        assert!(!log.contains(secret), "the log holds {secret}");
    }
}
