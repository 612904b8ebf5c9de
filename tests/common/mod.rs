//! Shared test fixtures: a real v1.20 control plane started by `tests/cluster/cluster.sh`, the
//! in-process simulator, both behind one `ApiServer` trait so the client-facing suite runs against
//! each; kubectl helpers; and polling helpers for the backend's watch channels.
#![allow(dead_code)]

pub mod oidc;
pub mod prometheus;
pub mod relay;
pub mod suite;
pub mod ui;

use klieg::backend::{self, BackendHandle, kubeconfig::KubeconfigSources};
use klieg::model::{ClusterState, FleetSnapshot, TableSnapshot};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A control plane in a temporary folder. Stopped by PID on drop; a watchdog also stops it when
/// the test process ends, so statics and crashed runs leave nothing behind.
pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub api_port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/cluster.sh")
}

impl TestCluster {
    pub fn start(controllers: bool) -> TestCluster {
        Self::start_with(controllers, &[])
    }

    /// A control plane whose apiserver gets `apiserver_flags` too (flags without spaces).
    pub fn start_with(controllers: bool, apiserver_flags: &[String]) -> TestCluster {
        let dir = tempfile::Builder::new().prefix("klieg-cluster-").tempdir().expect("temp dir");
        let mut command = Command::new("bash");
        command.arg(script()).arg("start").arg(dir.path()).arg("--owner-pid").arg(std::process::id().to_string());
        if controllers {
            command.arg("--controllers");
        }
        for flag in apiserver_flags {
            command.arg("--apiserver-flag").arg(flag);
        }
        let output = command.output().expect("run cluster.sh");
        assert!(
            output.status.success(),
            "starting the test cluster failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let env = std::fs::read_to_string(dir.path().join("env")).expect("env file");
        let api_port = env
            .lines()
            .find_map(|l| l.strip_prefix("API_PORT="))
            .and_then(|p| p.parse().ok())
            .expect("API_PORT in env");
        TestCluster { kubeconfig: dir.path().join("kubeconfig"), api_port, dir }
    }

    /// The cluster the client-facing suite shares.
    pub fn shared() -> &'static TestCluster {
        Self::shared_for("suite")
    }

    /// One cluster per `purpose`, shared by the tests of that purpose: the UI tests click rows
    /// by name, so objects other tests create meanwhile must not move them (each former test
    /// binary kept its own cluster for the same reason).
    pub fn shared_for(purpose: &'static str) -> &'static TestCluster {
        static SHARED: OnceLock<Mutex<std::collections::HashMap<&'static str, &'static TestCluster>>> = OnceLock::new();
        let mut clusters = SHARED.get_or_init(Mutex::default).lock();
        clusters.entry(purpose).or_insert_with(|| Box::leak(Box::new(TestCluster::start(false))))
    }
}

/// An empty simulated cluster named `name` (in-process, no churn) with `yaml` applied to it.
pub fn sim_cluster_with(name: &str, yaml: &str) -> klieg::sim::Fleet {
    let spec = klieg::sim::ClusterSpec { name: name.into(), git_version: "v1.31.2".into(), nodes: 0, pods: 0 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let applied = run_kubectl(&fleet.kubeconfig_path, &["apply", "-f", "-"], Some(yaml));
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    fleet
}

/// Runs kubectl against `kubeconfig`, feeding `stdin` if given; the caller judges the outcome.
pub fn run_kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl on PATH");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

/// A Kubernetes API server for tests: the real one or the simulator.
pub trait ApiServer: Sync {
    /// Kubeconfig whose current context is `admin_context()`, with full rights.
    fn kubeconfig(&self) -> &Path;
    fn admin_context(&self) -> &str;
    fn server_url(&self) -> String;
    /// A PEM file with the CA that signed the server's certificate.
    fn ca_path(&self) -> PathBuf;
    /// Takes the server down (watches break, requests fail) and brings it back.
    fn stop_apiserver(&self);
    fn start_apiserver(&self);

    fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_stdin(args, None)
    }

    fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = run_kubectl(self.kubeconfig(), args, stdin);
        assert!(output.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn apply(&self, yaml: &str) -> String {
        self.kubectl_stdin(&["apply", "-f", "-"], Some(yaml))
    }

    /// A kubeconfig for this server with the given context name and user token.
    fn kubeconfig_text(&self, context: &str, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: {context}-cluster\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {context}-user\n  user:\n    token: {token}\ncontexts:\n- name: {context}\n  context: {{cluster: {context}-cluster, user: {context}-user}}\n",
            self.server_url(),
            self.ca_path().display()
        )
    }

    /// The same, its context set to `namespace`.
    fn kubeconfig_text_in(&self, context: &str, token: &str, namespace: &str) -> String {
        self.kubeconfig_text(context, token).replace(
            &format!("context: {{cluster: {context}-cluster, user: {context}-user}}"),
            &format!("context: {{cluster: {context}-cluster, user: {context}-user, namespace: {namespace}}}"),
        )
    }
}

impl ApiServer for TestCluster {
    fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn admin_context(&self) -> &str {
        "real-admin"
    }

    fn server_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.api_port)
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }

    fn stop_apiserver(&self) {
        self.run_script("stop-apiserver");
    }

    fn start_apiserver(&self) {
        self.run_script("start-apiserver");
    }
}

impl TestCluster {
    pub fn run_script(&self, command: &str) {
        let status = Command::new("bash").arg(script()).arg(command).arg(self.dir.path()).status().expect("cluster.sh");
        assert!(status.success(), "cluster.sh {command} failed");
    }
}

/// The in-process simulator as a test server: one empty cluster that accepts the test tokens.
pub struct SimServer {
    pub fleet: klieg::sim::Fleet,
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub url: String,
}

impl SimServer {
    pub fn start() -> SimServer {
        let dir = tempfile::Builder::new().prefix("klieg-sim-test-").tempdir().expect("temp dir");
        let spec =
            klieg::sim::ClusterSpec { name: "sim-admin".into(), git_version: "v1.31.2".into(), nodes: 0, pods: 0 };
        let fleet =
            klieg::sim::Fleet::start(vec![spec], 0.0, Some(dir.path().join("kubeconfig"))).expect("simulator starts");
        // The same users as tests/cluster/cluster.sh's token file.
        use klieg::sim::rbac::User;
        let cluster = &fleet.clusters[0];
        cluster.add_user("admin-token", User::new("admin", &["system:masters"]));
        cluster.add_user("viewer-token", User::new("viewer", &[]));
        cluster.add_user("team-token", User::new("team-user", &[]));
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, &fleet.ca_pem).expect("write CA");
        let url = fleet.server_urls[0].clone();
        SimServer { fleet, dir, ca, url }
    }

    pub fn shared() -> &'static SimServer {
        static SHARED: OnceLock<SimServer> = OnceLock::new();
        SHARED.get_or_init(SimServer::start)
    }
}

impl ApiServer for SimServer {
    fn kubeconfig(&self) -> &Path {
        &self.fleet.kubeconfig_path
    }

    fn admin_context(&self) -> &str {
        "sim-admin"
    }

    fn server_url(&self) -> String {
        self.url.clone()
    }

    fn ca_path(&self) -> PathBuf {
        self.ca.clone()
    }

    fn stop_apiserver(&self) {
        self.fleet.clusters[0].set_offline(true);
    }

    fn start_apiserver(&self) {
        self.fleet.clusters[0].set_offline(false);
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("stop").arg(self.dir.path()).status();
    }
}

pub fn start_backend(sources: KubeconfigSources) -> BackendHandle {
    backend::start(sources, Arc::new(|| {})).expect("backend starts")
}

pub fn sources_for(paths: &[&Path]) -> KubeconfigSources {
    KubeconfigSources {
        explicit: paths.iter().map(|p| p.to_path_buf()).collect(),
        env: None,
        home: None,
        ..KubeconfigSources::default()
    }
}

/// Polls `check` on the latest value of a watch channel until it returns `Some` or time runs out.
pub fn wait_for<T, R>(
    rx: &tokio::sync::watch::Receiver<Arc<T>>,
    timeout: Duration,
    what: &str,
    check: impl Fn(&T) -> Option<R>,
) -> R
where
    T: std::fmt::Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        let latest = rx.borrow().clone();
        if let Some(result) = check(&latest) {
            return result;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last value: {latest:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn wait_connected(handle: &BackendHandle, context: &str) -> String {
    wait_for(&handle.fleet, Duration::from_secs(30), &format!("{context} to connect"), |fleet: &FleetSnapshot| {
        fleet.clusters.iter().find(|c| c.id.as_str() == context).and_then(|c| match &c.state {
            ClusterState::Connected { server_version } if !c.kinds.is_empty() => Some(server_version.to_string()),
            _ => None,
        })
    })
}

pub fn row_names(table: &TableSnapshot) -> Vec<String> {
    table.rows.iter().map(|r| r.key.name.to_string()).collect()
}

/// Every file under `dir`, in any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
