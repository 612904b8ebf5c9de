//! An in-process Kubernetes API simulator: HTTPS on loopback that kube-rs and kubectl accept,
//! serving generated clusters with churn and injectable faults. Used by `klieg --demo`,
//! `klieg sim serve`, fleet-scale benchmarks and tests. Runs on its own tokio runtime thread.

pub mod generator;
pub mod kinds;
pub mod kubelet;
pub mod logs;
pub mod merge;
pub mod metrics;
pub mod metrics_server;
pub mod prometheus;
pub mod rbac;
pub mod server;
pub mod store;
pub mod stream;

use server::SimCluster;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not make the simulator's certificates: {0}")]
    Certificates(#[from] rcgen::Error),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not load the given objects: {0}")]
    Setup(String),
}

/// A CA and a loopback server certificate made for this process only.
pub struct Certificates {
    pub ca_pem: String,
    server_cert_der: Vec<u8>,
    server_key_der: Vec<u8>,
}

impl Certificates {
    pub fn generate() -> Result<Self, SimError> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "klieg-simulator-ca");
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Self { ca_pem: ca_cert.pem(), server_cert_der: cert.der().to_vec(), server_key_der: key.serialize_der() })
    }

    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, SimError> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.server_cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone())),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// A running simulated cluster.
pub struct RunningCluster {
    pub cluster: Arc<SimCluster>,
    pub address: SocketAddr,
}

/// Serves `cluster` on a free loopback port until the runtime stops.
pub async fn serve(cluster: Arc<SimCluster>, certificates: &Certificates) -> Result<RunningCluster, SimError> {
    let acceptor = certificates.acceptor()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    let served = cluster.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            let cluster = served.clone();
            let cluster_for_drops = served.clone();
            served.faults.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                if cluster.faults.stall_handshake.load(std::sync::atomic::Ordering::Relaxed) {
                    // Hold the socket open, say nothing, until the client gives up.
                    let mut tcp = tcp;
                    let mut sink = [0u8; 1024];
                    while matches!(tokio::io::AsyncReadExt::read(&mut tcp, &mut sink).await, Ok(1..)) {}
                    return;
                }
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |request| server::handle(cluster.clone(), request));
                let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                let dropped = cluster_for_drops.faults.dropped.notified();
                // A client hanging up mid-stream is normal (closed watches). A dropped-connections
                // fault ends the connection future, closing the socket mid-response.
                tokio::select! {
                    _ = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service) => {}
                    _ = dropped => {}
                }
            });
        }
    });
    Ok(RunningCluster { cluster, address })
}

/// A kubeconfig with one context per cluster, CA inline, for kube-rs and kubectl.
pub fn kubeconfig_yaml(clusters: &[RunningCluster], ca_pem: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut text = String::from("apiVersion: v1\nkind: Config\n");
    if let Some(first) = clusters.first() {
        text.push_str(&format!("current-context: {}\n", first.cluster.name));
    }
    text.push_str("clusters:\n");
    for running in clusters {
        text.push_str(&format!(
            "- name: {0}\n  cluster:\n    server: https://127.0.0.1:{1}\n    certificate-authority-data: {ca}\n",
            running.cluster.name,
            running.address.port()
        ));
    }
    text.push_str("users:\n");
    for running in clusters {
        text.push_str(&format!(
            "- name: {0}-user\n  user:\n    token: {1}\n",
            running.cluster.name, running.cluster.token
        ));
    }
    text.push_str("contexts:\n");
    for running in clusters {
        text.push_str(&format!("- name: {0}\n  context: {{cluster: {0}, user: {0}-user}}\n", running.cluster.name));
    }
    text
}

/// Writes a kubeconfig readable by its owner only.
pub fn write_kubeconfig(path: &Path, text: &str) -> Result<(), SimError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

/// A random hex token from the OS's randomness (a fresh one per simulated cluster and run).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom_fill(&mut bytes).is_err() {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        bytes.copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn getrandom_fill(bytes: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(bytes)
}

/// What to simulate: one entry per cluster.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub name: String,
    pub git_version: String,
    pub nodes: usize,
    pub pods: usize,
}

/// One server per hostile mode, by name and fault plan: what the window acceptance test and
/// `klieg-bench --hostile` run beside healthy clusters.
pub const HOSTILE_PLANS: &[(&str, &str)] = &[
    ("no-tls", "stall-handshake=1"),
    ("silent", "stall-answers=1"),
    ("gone", "always-gone=1"),
    ("endless", "endless-continue=1"),
    ("giant", "giant-objects=80"),
    ("long-line", "giant-line=1"),
    ("garbage", "garbage-lines=1"),
    ("drip", "slow-drip-ms=2000"),
];

/// A fleet of simulated clusters on a runtime thread of its own, with a kubeconfig for it.
pub struct Fleet {
    pub kubeconfig_path: PathBuf,
    pub clusters: Vec<Arc<SimCluster>>,
    /// `https://127.0.0.1:PORT` of each cluster, in order.
    pub server_urls: Vec<String>,
    /// The CA that signed every cluster's certificate.
    pub ca_pem: String,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Fleet {
    /// Starts the clusters, fills them, starts churn (`churn_per_sec` changes per second per
    /// cluster) and writes the kubeconfig to `kubeconfig_out`, or to a private temporary folder.
    pub fn start(
        specs: Vec<ClusterSpec>,
        churn_per_sec: f64,
        kubeconfig_out: Option<PathBuf>,
    ) -> Result<Fleet, SimError> {
        let certificates = Certificates::generate()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("klieg-sim")
            .enable_all()
            .build()?;
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("klieg-sim".into()).spawn(move || {
            runtime.block_on(async move {
                let mut running = Vec::new();
                for (index, spec) in specs.iter().enumerate() {
                    let cluster = Arc::new(SimCluster::new(&spec.name, &spec.git_version, &random_token()));
                    generator::populate(&cluster, spec, index as u64 + 1);
                    match serve(cluster, &certificates).await {
                        Ok(cluster) => running.push(cluster),
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return;
                        }
                    }
                }
                if churn_per_sec > 0.0 {
                    for (index, cluster) in running.iter().enumerate() {
                        tokio::spawn(generator::churn(cluster.cluster.clone(), churn_per_sec, index as u64 + 7));
                    }
                }
                let kubeconfig = kubeconfig_yaml(&running, &certificates.ca_pem);
                let clusters = running.iter().map(|r| r.cluster.clone()).collect::<Vec<_>>();
                let urls =
                    running.iter().map(|r| format!("https://127.0.0.1:{}", r.address.port())).collect::<Vec<_>>();
                let _ = ready_tx.send(Ok((kubeconfig, clusters, urls, certificates.ca_pem.clone())));
                let _ = shutdown_rx.await;
            });
        })?;
        let (kubeconfig, clusters, server_urls, ca_pem) =
            ready_rx.recv().map_err(|_| SimError::Io(std::io::Error::other("the simulator thread stopped")))??;
        let (dir, path) = match kubeconfig_out {
            Some(path) => (None, path),
            None => {
                let dir = tempfile::Builder::new().prefix("klieg-sim-").tempdir()?;
                let path = dir.path().join("kubeconfig");
                (Some(dir), path)
            }
        };
        write_kubeconfig(&path, &kubeconfig)?;
        Ok(Fleet {
            kubeconfig_path: path,
            clusters,
            server_urls,
            ca_pem,
            _dir: dir,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// The demo fleet: three clusters of different names, versions and sizes, with gentle churn.
    pub fn demo() -> Result<Fleet, SimError> {
        let specs = vec![
            ClusterSpec { name: "prod-eu-west".into(), git_version: "v1.31.2".into(), nodes: 6, pods: 120 },
            ClusterSpec { name: "staging-us-east".into(), git_version: "v1.30.5".into(), nodes: 3, pods: 45 },
            ClusterSpec { name: "edge-lab".into(), git_version: "v1.29.9".into(), nodes: 1, pods: 12 },
        ];
        Self::start(specs, 2.0, None)
    }
}

/// Faults for `klieg sim serve --faults`, e.g. `latency-ms=50,throttle-every=20,error-every=50,
/// offline-every=60,expire-every=30`: fixed latency, every Nth request answered 429 or 500, every
/// N seconds one cluster offline for 10 s, every N seconds all watches expired (410 on resume);
/// `stall-handshake=1` and `stall-answers=1` make a server that never completes TLS or never
/// answers; `always-gone=1` answers every watch with 410 Gone. Hostile answers:
/// `endless-continue=1` (list pages never end), `giant-objects=N` (N ConfigMaps of 1 MiB of
/// annotations each in `default`), `giant-line=1` (every watch starts with a 17 MiB line),
/// `garbage-lines=1` (every watch starts with bytes that are neither UTF-8 nor JSON),
/// `slow-drip-ms=N` (list answers 16 bytes every N ms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    pub latency_ms: u64,
    pub throttle_every: u64,
    pub error_every: u64,
    pub offline_every_secs: u64,
    pub expire_every_secs: u64,
    pub drop_every_secs: u64,
    /// `stall-handshake=1`: accept connections and never complete TLS.
    pub stall_handshake: bool,
    /// `stall-answers=1`: complete TLS and never answer a request.
    pub stall_answers: bool,
    /// `always-gone=1`: answer every watch at once with 410 Gone.
    pub always_gone: bool,
    pub endless_continue: bool,
    pub giant_objects: u64,
    pub giant_line: bool,
    pub garbage_lines: bool,
    pub slow_drip_ms: u64,
}

impl std::str::FromStr for FaultPlan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut plan = FaultPlan::default();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (name, value) = term.split_once('=').ok_or_else(|| format!("expected NAME=NUMBER, got {term:?}"))?;
            let value: u64 = value.parse().map_err(|_| format!("{name}: {value:?} is not a whole number"))?;
            match name {
                "latency-ms" => plan.latency_ms = value,
                "throttle-every" => plan.throttle_every = value,
                "error-every" => plan.error_every = value,
                "offline-every" => plan.offline_every_secs = value,
                "expire-every" => plan.expire_every_secs = value,
                "drop-every" => plan.drop_every_secs = value,
                "stall-handshake" => plan.stall_handshake = value != 0,
                "stall-answers" => plan.stall_answers = value != 0,
                "always-gone" => plan.always_gone = value != 0,
                "endless-continue" => plan.endless_continue = value != 0,
                "giant-objects" => plan.giant_objects = value,
                "giant-line" => plan.giant_line = value != 0,
                "garbage-lines" => plan.garbage_lines = value != 0,
                "slow-drip-ms" => plan.slow_drip_ms = value,
                other => {
                    return Err(format!(
                        "unknown fault {other:?}; known: latency-ms, throttle-every, error-every, offline-every, expire-every, drop-every, stall-handshake, stall-answers, always-gone, endless-continue, giant-objects, giant-line, garbage-lines, slow-drip-ms"
                    ));
                }
            }
        }
        Ok(plan)
    }
}

impl Fleet {
    /// Applies a fault plan; periodic faults run on a helper thread for the fleet's lifetime.
    pub fn inject_faults(&self, plan: &FaultPlan) {
        use std::sync::atomic::Ordering;
        for cluster in &self.clusters {
            cluster.faults.latency_ms.store(plan.latency_ms, Ordering::Relaxed);
            cluster.faults.throttle_every.store(plan.throttle_every, Ordering::Relaxed);
            cluster.faults.error_every.store(plan.error_every, Ordering::Relaxed);
            cluster.faults.stall_handshake.store(plan.stall_handshake, Ordering::Relaxed);
            cluster.faults.stall_answers.store(plan.stall_answers, Ordering::Relaxed);
            cluster.faults.always_gone.store(plan.always_gone, Ordering::Relaxed);
            cluster.faults.endless_continue.store(plan.endless_continue, Ordering::Relaxed);
            cluster.faults.giant_line.store(plan.giant_line, Ordering::Relaxed);
            cluster.faults.garbage_lines.store(plan.garbage_lines, Ordering::Relaxed);
            cluster.faults.slow_drip_ms.store(plan.slow_drip_ms, Ordering::Relaxed);
            cluster.add_giant_objects(plan.giant_objects);
        }
        if plan.offline_every_secs == 0 && plan.expire_every_secs == 0 && plan.drop_every_secs == 0 {
            return;
        }
        let clusters = self.clusters.clone();
        let plan = plan.clone();
        let spawned = std::thread::Builder::new().name("klieg-sim-faults".into()).spawn(move || {
            let mut elapsed_secs = 0u64;
            let mut victim = 0usize;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                elapsed_secs += 1;
                if plan.expire_every_secs > 0 && elapsed_secs.is_multiple_of(plan.expire_every_secs) {
                    clusters.iter().for_each(|c| c.expire_watches());
                }
                if plan.drop_every_secs > 0 && elapsed_secs.is_multiple_of(plan.drop_every_secs) {
                    clusters.iter().for_each(|c| c.drop_connections());
                }
                if plan.offline_every_secs > 0 && !clusters.is_empty() {
                    let phase = elapsed_secs % plan.offline_every_secs.max(11);
                    if phase == 0 {
                        victim = (victim + 1) % clusters.len();
                        clusters[victim].set_offline(true);
                    } else if phase == 10 {
                        clusters[victim].set_offline(false);
                    }
                }
            }
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start the fault injector");
        }
    }
}

/// Serves one accepted connection over TLS with `handler`, upgrades allowed.
async fn serve_tls<F, Fut>(acceptor: tokio_rustls::TlsAcceptor, tcp: tokio::net::TcpStream, handler: F)
where
    F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<http::Response<server::Body>, std::convert::Infallible>> + Send + 'static,
{
    let Ok(tls) = acceptor.accept(tcp).await else { return };
    let service = hyper::service::service_fn(handler);
    let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    let _ = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service).await;
}

/// An HTTPS server on a loopback port with a certificate of its own, served from a thread of its
/// own until dropped (the fake kubelet and the metrics-server stand-in). Upgrades (WebSocket)
/// are allowed.
pub struct LoopbackServer {
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackServer {
    pub fn start<F, Fut>(thread_name: &str, handler: F) -> Result<Self, SimError>
    where
        F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<http::Response<server::Body>, std::convert::Infallible>>
            + Send
            + 'static,
    {
        let certificates = Certificates::generate()?;
        let acceptor = certificates.acceptor()?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let thread = std::thread::Builder::new().name(thread_name.into()).spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let serve = async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else { continue };
                        let (acceptor, handler) = (acceptor.clone(), handler.clone());
                        tokio::spawn(serve_tls(acceptor, tcp, handler));
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = shutdown_rx => {}
                }
            });
        })?;
        Ok(Self { port, shutdown: Some(shutdown_tx), thread: Some(thread) })
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_plans_parse_and_reject_nonsense() {
        let plan: FaultPlan = "latency-ms=50, throttle-every=20,expire-every=30".parse().expect("valid");
        assert_eq!(
            plan,
            FaultPlan { latency_ms: 50, throttle_every: 20, expire_every_secs: 30, ..FaultPlan::default() }
        );
        assert!("latency=5".parse::<FaultPlan>().is_err());
        assert!("latency-ms=fast".parse::<FaultPlan>().is_err());
        assert_eq!("".parse::<FaultPlan>(), Ok(FaultPlan::default()));
    }
}
