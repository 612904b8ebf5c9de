//! `klieg-bench --soak MINUTES`: Klieg's backend against a simulated fleet with churn and
//! rotating faults (clusters going offline, watches expired, connections dropped, requests
//! throttled and failed), for as long as asked. Every half minute it prints the backend's RSS,
//! its rows against the simulator's own answer (rows lost or left over that stay so across two
//! checks, and duplicated keys), and per cluster the failures and reconnects seen. The simulator
//! runs as its own process, so the RSS is Klieg's alone. Prints figures; never fails on them.
//! Runs on the calling thread; the backend on its own runtime thread.

use klieg_model::{ClusterId, ClusterState, KindKey, ObjectKey, ViewQuery};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the figures are printed.
const REPORT_EVERY: Duration = Duration::from_secs(30);
/// How often Klieg's rows are compared with the simulator's own answer.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// A row missing (or left over) this long, while the simulator kept (or never had) it the whole
/// time, is lost (or stale): longer than the longest retry pause (30 s) and a relist.
const LOST_AFTER: Duration = Duration::from_secs(90);

#[derive(Clone, Debug)]
pub struct SoakOptions {
    pub minutes: u64,
    pub clusters: usize,
    pub pods_per_cluster: usize,
    pub churn_per_sec: f64,
    pub faults: String,
}

impl Default for SoakOptions {
    fn default() -> Self {
        Self {
            minutes: 10,
            clusters: 5,
            pods_per_cluster: 2000,
            churn_per_sec: 20.0,
            faults: "offline-every=60,expire-every=45,drop-every=35,throttle-every=40,error-every=70".into(),
        }
    }
}

/// What happened to one cluster, as the fleet snapshots showed it.
#[derive(Default)]
struct ClusterLog {
    failures: usize,
    reconnects: usize,
    last_failed: bool,
}

pub fn run(options: &SoakOptions) {
    let Ok(dir) = tempfile::tempdir() else { return };
    println!(
        "soak: {} clusters x {} pods, churn {}/s, faults {}, {} min",
        options.clusters, options.pods_per_cluster, options.churn_per_sec, options.faults, options.minutes
    );
    let Some((sim, kubeconfig)) = crate::fleet::start_simulator_with_faults(
        dir.path(),
        options.clusters,
        options.pods_per_cluster,
        options.churn_per_sec,
        &options.faults,
    ) else {
        println!("soak: the simulator did not start");
        return;
    };
    let sources =
        klieg_backend::kubeconfig::KubeconfigSources { explicit: vec![kubeconfig.clone()], ..Default::default() };
    let Ok(handle) = klieg_backend::start(sources, Arc::new(|| {})) else { return };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    let Some(truth) = runtime.block_on(TruthClients::connect(&kubeconfig)) else {
        println!("soak: could not reach the simulator directly");
        return;
    };
    let clusters: Vec<ClusterId> = truth.clients.keys().cloned().collect();
    handle.table.ask(Some(ViewQuery {
        clusters: clusters.clone(),
        kind: Some(KindKey::new("", "pods")),
        ..ViewQuery::default()
    }));
    println!(
        "{:>6} {:>9} {:>8} {:>8} {:>6} {:>6} {:>6}  per cluster: failures/reconnects",
        "min", "rss MiB", "rows", "truth", "lost", "extra", "dups"
    );
    let started = Instant::now();
    let end = started + Duration::from_secs(options.minutes * 60);
    let mut logs: BTreeMap<ClusterId, ClusterLog> = BTreeMap::new();
    let mut missing_since: BTreeMap<ObjectKey, Instant> = BTreeMap::new();
    let mut extra_since: BTreeMap<ObjectKey, Instant> = BTreeMap::new();
    let mut next_check = started + CHECK_EVERY;
    let mut next_report = started + REPORT_EVERY;
    let mut longest_gap = Duration::ZERO;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        watch_states(&handle.fleet.borrow(), &mut logs);
        if Instant::now() < next_check {
            continue;
        }
        next_check = Instant::now() + CHECK_EVERY;
        // A cluster the fault plan has offline answers nobody: that check is skipped.
        let Some(expected) = runtime.block_on(truth.keys()) else { continue };
        let table = handle.table.snapshots.borrow().clone();
        let mut shown = BTreeSet::new();
        let mut duplicates = 0;
        for row in table.rows.iter() {
            if !shown.insert(row.key.clone()) {
                duplicates += 1;
            }
        }
        // A row missing (or left over) for a while is a change in flight, or a watch waiting out
        // a fault; one missing for `LOST_AFTER` at every check is lost.
        let now = Instant::now();
        let missing: BTreeSet<ObjectKey> = expected.difference(&shown).cloned().collect();
        let extra: BTreeSet<ObjectKey> = shown.difference(&expected).cloned().collect();
        missing_since.retain(|key, _| missing.contains(key));
        extra_since.retain(|key, _| extra.contains(key));
        for key in missing {
            missing_since.entry(key).or_insert(now);
        }
        for key in extra {
            extra_since.entry(key).or_insert(now);
        }
        let oldest = missing_since.values().chain(extra_since.values()).map(|at| now - *at).max();
        longest_gap = longest_gap.max(oldest.unwrap_or_default());
        if now < next_report {
            continue;
        }
        next_report = now + REPORT_EVERY;
        let lost = missing_since.values().filter(|at| now - **at >= LOST_AFTER).count();
        let left_over = extra_since.values().filter(|at| now - **at >= LOST_AFTER).count();
        let per_cluster: Vec<String> =
            logs.iter().map(|(id, log)| format!("{id} {}/{}", log.failures, log.reconnects)).collect();
        println!(
            "{:>6.1} {:>9.1} {:>8} {:>8} {:>6} {:>6} {:>6}  {}",
            started.elapsed().as_secs_f64() / 60.0,
            crate::fleet::mib(crate::rss_bytes()),
            table.rows.len(),
            expected.len(),
            lost,
            left_over,
            duplicates,
            per_cluster.join(", ")
        );
    }
    println!(
        "soak: longest a row stayed missing or left over: {:.0} s (lost/extra count rows past {} s)",
        longest_gap.as_secs_f64(),
        LOST_AFTER.as_secs()
    );
    println!(
        "soak: simulator RSS at the end {:.1} MiB (its own process)",
        crate::fleet::mib(crate::fleet::rss_of(sim.pid()))
    );
    drop(sim);
}

/// Counts each cluster's failures and its returns to connected.
fn watch_states(fleet: &klieg_model::FleetSnapshot, logs: &mut BTreeMap<ClusterId, ClusterLog>) {
    for cluster in fleet.clusters.iter() {
        let log = logs.entry(cluster.id.clone()).or_default();
        let failed = matches!(cluster.state, ClusterState::Failed { .. });
        if failed && !log.last_failed {
            log.failures += 1;
        }
        if !failed && log.last_failed && matches!(cluster.state, ClusterState::Connected { .. }) {
            log.reconnects += 1;
        }
        log.last_failed = failed;
    }
}

/// Plain kube clients to the simulator, for its own answer (not through Klieg's watchers).
struct TruthClients {
    clients: BTreeMap<ClusterId, kube::Client>,
}

impl TruthClients {
    async fn connect(kubeconfig: &Path) -> Option<Self> {
        let file = kube::config::Kubeconfig::read_from(kubeconfig).ok()?;
        let mut clients = BTreeMap::new();
        for context in &file.contexts {
            let options = kube::config::KubeConfigOptions { context: Some(context.name.clone()), ..Default::default() };
            let config = kube::Config::from_custom_kubeconfig(file.clone(), &options).await.ok()?;
            clients.insert(ClusterId::new(&context.name), kube::Client::try_from(config).ok()?);
        }
        Some(Self { clients })
    }

    /// Every pod's key, as the simulator answers a fresh list now; `None` if a cluster would
    /// not answer (offline by the fault plan): that check is skipped.
    async fn keys(&self) -> Option<BTreeSet<ObjectKey>> {
        use k8s_openapi::api::core::v1::Pod;
        let mut keys = BTreeSet::new();
        for (id, client) in &self.clients {
            let api: kube::Api<kube::core::PartialObjectMeta<Pod>> = kube::Api::all(client.clone());
            let list = api.list(&kube::api::ListParams::default()).await.ok()?;
            for pod in list.items {
                keys.insert(ObjectKey {
                    cluster: id.clone(),
                    namespace: pod.metadata.namespace.as_deref().map(Arc::from),
                    name: Arc::from(pod.metadata.name.as_deref().unwrap_or_default()),
                });
            }
        }
        Some(keys)
    }
}
