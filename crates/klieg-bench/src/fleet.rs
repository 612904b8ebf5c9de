//! `klieg-bench --fleet`: Klieg against its peers on one simulated fleet, in one run. The
//! simulator runs as its own process (`klieg sim serve`); Klieg's backend runs as a child
//! (`klieg-bench watch-child`), the real window under the display in `DISPLAY` (Xvfb will do), and
//! `kubectl get -w` and kdash (if installed) as they are. Memory and CPU are read from `/proc`.
//! Prints figures; never fails on timing. Runs on the calling thread plus reader threads.

use parking_lot::Mutex;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Clone, Debug)]
pub struct FleetBenchOptions {
    pub clusters: usize,
    pub pods_per_cluster: usize,
    /// Changes per second on the one cluster of the ingest comparison.
    pub churn_per_sec: f64,
    pub kdash_instances: usize,
    pub idle_secs: u64,
    /// Which parts run: `ingest`, `memory`, `start` (cold start, switch, idle).
    pub phases: Vec<String>,
}

impl Default for FleetBenchOptions {
    fn default() -> Self {
        Self {
            clusters: 10,
            pods_per_cluster: 10_000,
            churn_per_sec: 3000.0,
            kdash_instances: 10,
            idle_secs: 60,
            phases: vec!["ingest".into(), "memory".into(), "start".into()],
        }
    }
}

/// A process this benchmark started; killed by PID and reaped when dropped.
pub(crate) struct Spawned {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    started: Instant,
}

impl Spawned {
    fn start(command: &mut Command) -> std::io::Result<Spawned> {
        let started = Instant::now();
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).stdin(Stdio::null()).spawn()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    // Only the start of a line is looked at (kubectl's are whole objects).
                    let start: String = line.chars().take(64).collect();
                    sink.lock().push((Instant::now(), start));
                }
            });
        }
        Ok(Spawned { child, lines, started })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line matching `matches`; returns when it came, counted from the start.
    fn wait_line(&self, timeout: Duration, matches: impl Fn(&str) -> bool) -> Option<(Duration, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((at, line)) = self.lines.lock().iter().find(|(_, l)| matches(l)) {
                return Some((at.duration_since(self.started), line.clone()));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn last_line(&self) -> Option<String> {
        self.lines.lock().last().map(|(_, l)| l.clone())
    }

    fn line_count(&self, matches: impl Fn(&str) -> bool) -> usize {
        self.lines.lock().iter().filter(|(_, l)| matches(l)).count()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// User plus system CPU time of a process, in ticks.
fn cpu_ticks_of(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// This benchmark's own binary, which also serves as the measured watch child.
fn bench_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("klieg-bench"))
}

/// The `klieg` binary built beside this one (`cargo build --release` builds both), for the
/// simulator and the real window.
fn exe() -> PathBuf {
    let beside = bench_exe().with_file_name("klieg");
    if beside.is_file() { beside } else { PathBuf::from("klieg") }
}

fn found_on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The simulator as its own process, serving until dropped.
fn start_simulator(dir: &Path, clusters: usize, pods: usize, churn: f64) -> Option<(Spawned, PathBuf)> {
    start_simulator_with_faults(dir, clusters, pods, churn, "")
}

/// `klieg sim serve` as a child, with `faults` (`klieg sim serve --faults`), and its kubeconfig.
pub(crate) fn start_simulator_with_faults(
    dir: &Path,
    clusters: usize,
    pods: usize,
    churn: f64,
    faults: &str,
) -> Option<(Spawned, PathBuf)> {
    let kubeconfig = dir.join(format!("sim-{clusters}x{pods}.kubeconfig"));
    let sim = Spawned::start(Command::new(exe()).args([
        "sim",
        "serve",
        "--faults",
        faults,
        "--clusters",
        &clusters.to_string(),
        "--pods-per-cluster",
        &pods.to_string(),
        "--nodes-per-cluster",
        "10",
        "--churn",
        &churn.to_string(),
        "--kubeconfig-out",
        &kubeconfig.display().to_string(),
    ]))
    .ok()?;
    sim.wait_line(Duration::from_secs(300), |l| l.starts_with("press Ctrl-C"))?;
    Some((sim, kubeconfig))
}

fn kubectl_watch(kubeconfig: &Path, context: &str) -> Option<Spawned> {
    Spawned::start(Command::new("kubectl").args([
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--context",
        context,
        "get",
        "pods",
        "-A",
        "-w",
        "-o",
        "json",
        "--output-watch-events",
    ]))
    .ok()
}

/// Lines `kubectl get -w -o json --output-watch-events` printed: one compact JSON event per line,
/// the first holding the initial list whole.
fn kubectl_events(kubectl: &Spawned) -> usize {
    kubectl.line_count(|l| l.starts_with("{\"type\""))
}

/// kdash on a pseudo-terminal (it needs one), through the small Python host in this folder.
fn start_kdash(kubeconfig: &Path, context: &str) -> Option<(Spawned, u32)> {
    let host = Spawned::start(
        Command::new("python3")
            .args(["-c", include_str!("pty_host.py"), "kdash", "--context", context])
            .env("KUBECONFIG", kubeconfig),
    )
    .ok()?;
    let (_, pid) = host.wait_line(Duration::from_secs(10), |l| l.parse::<u32>().is_ok())?;
    Some((host, pid.parse().ok()?))
}

/// The real window on `kind`, with its own settings, data and cache folders under `home`.
fn start_window(kubeconfig: &Path, home: &Path, kind: &str) -> Option<Spawned> {
    Spawned::start(
        Command::new(exe())
            .args(["--kubeconfig", &kubeconfig.display().to_string(), "--all-clusters", "--lang", "en", "--kind", kind])
            .env("KLIEG_BENCH_REPORT", "1")
            .env("KUBECONFIG", "")
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache")),
    )
    .ok()
}

fn rows_line(expected: usize, live: bool) -> impl Fn(&str) -> bool {
    move |line: &str| {
        let mut parts = line.split_whitespace();
        parts.next() == Some("rows")
            && parts.next().and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n >= expected)
            && (!live || parts.next() == Some("live"))
    }
}

fn cpu_percent(ticks: u64, wall: Duration) -> f64 {
    ticks as f64 / TICKS_PER_SEC / wall.as_secs_f64() * 100.0
}

pub fn run(options: &FleetBenchOptions) {
    println!("klieg-bench --fleet (release build; figures vary with machine load)");
    let Ok(dir) = tempfile::Builder::new().prefix("klieg-bench-").tempdir() else {
        println!("no temporary folder");
        return;
    };
    let kubectl = found_on_path("kubectl");
    let kdash = found_on_path("kdash") && found_on_path("python3");
    if !kubectl {
        println!("kubectl not on PATH: its figures are skipped");
    }
    if !kdash {
        println!("kdash (cargo install kdash) or python3 not found: kdash's figures are skipped");
    }
    let display = std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty());
    if !display {
        println!("no DISPLAY (start Xvfb): window figures (cold start, idle CPU, window memory) are skipped");
    }
    let runs = |phase: &str| options.phases.iter().any(|p| p == phase);
    if runs("ingest") {
        ingest_against_kubectl(dir.path(), options, kubectl);
    }
    if runs("memory") {
        memory_against_kdash(dir.path(), options, kdash, display);
    }
    if runs("start") {
        start_switch_and_idle(dir.path(), options, kubectl, kdash, display);
    }
}

/// The same watch stream into Klieg's watcher and into `kubectl get -w -o json`.
fn ingest_against_kubectl(dir: &Path, options: &FleetBenchOptions, kubectl: bool) {
    let pods = options.pods_per_cluster;
    let Some((sim, kubeconfig)) = start_simulator(dir, 1, pods, options.churn_per_sec) else {
        println!("ingest  simulator did not start");
        return;
    };
    let Ok(klieg) = Spawned::start(Command::new(bench_exe()).args([
        "watch-child",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--raw",
        "sim-000",
    ])) else {
        return;
    };
    let mut peer = if kubectl { kubectl_watch(&kubeconfig, "sim-000") } else { None };
    // Both list first; the window starts once both have.
    let listed = klieg.wait_line(Duration::from_secs(120), |l| l.starts_with("listed"));
    let peer_listed =
        peer.as_ref().is_none_or(|p| p.wait_line(Duration::from_secs(120), |l| l.starts_with("{\"type\"")).is_some());
    if listed.is_none() || !peer_listed {
        println!("ingest  a watcher did not finish its initial list in time");
        return;
    }
    std::thread::sleep(Duration::from_secs(3));
    let klieg_events = |k: &Spawned| -> u64 {
        k.last_line().and_then(|l| l.strip_prefix("events ").and_then(|n| n.parse().ok())).unwrap_or(0)
    };
    let window = Duration::from_secs(20);
    let (k0, kc0) = (klieg_events(&klieg), cpu_ticks_of(klieg.pid()));
    let p0 = peer.as_ref().map(|p| (kubectl_events(p), cpu_ticks_of(p.pid())));
    let sim0 = cpu_ticks_of(sim.pid());
    std::thread::sleep(window);
    let (k1, kc1) = (klieg_events(&klieg), cpu_ticks_of(klieg.pid()));
    let sim_cpu = cpu_percent(cpu_ticks_of(sim.pid()) - sim0, window);
    let received = (k1 - k0) as f64;
    let klieg_cpu_secs = (kc1 - kc0) as f64 / TICKS_PER_SEC;
    println!(
        "ingest  simulator churning {:.0} changes/s on {pods} pods (simulator used {sim_cpu:.0} % of a core), {}s window:",
        options.churn_per_sec,
        window.as_secs()
    );
    println!(
        "ingest    klieg watcher   {:>8.0} events/s received, {:>5.1} % CPU, {:>9.0} events per CPU-second, RSS {:.0} MiB",
        received / window.as_secs_f64(),
        klieg_cpu_secs / window.as_secs_f64() * 100.0,
        received / klieg_cpu_secs.max(0.01),
        mib(rss_of(klieg.pid()))
    );
    if let (Some(peer), Some((e0, c0))) = (&mut peer, p0) {
        if let Ok(Some(status)) = peer.child.try_wait() {
            println!(
                "ingest    kubectl get -w  exited ({status}) during the window: it fell behind and its watch was closed"
            );
            return;
        }
        let events = (kubectl_events(peer) - e0) as f64;
        let cpu_secs = (cpu_ticks_of(peer.pid()) - c0) as f64 / TICKS_PER_SEC;
        println!(
            "ingest    kubectl get -w  {:>8.0} events/s received, {:>5.1} % CPU, {:>9.0} events per CPU-second, RSS {:.0} MiB",
            events / window.as_secs_f64(),
            cpu_secs / window.as_secs_f64() * 100.0,
            events / cpu_secs.max(0.01),
            mib(rss_of(peer.pid()))
        );
        if cpu_secs > 0.0 && klieg_cpu_secs > 0.0 {
            println!(
                "ingest    CPU per event: kubectl / klieg = {:.1}x",
                (cpu_secs / events.max(1.0)) / (klieg_cpu_secs / received.max(1.0))
            );
        }
    }
}

/// Klieg's backend and window on `clusters × pods`, against one kdash per cluster.
fn memory_against_kdash(dir: &Path, options: &FleetBenchOptions, kdash: bool, display: bool) {
    let (clusters, pods) = (options.clusters, options.pods_per_cluster);
    let total = clusters * pods;
    let Some((_sim, kubeconfig)) = start_simulator(dir, clusters, pods, 0.0) else {
        println!("memory  simulator did not start");
        return;
    };
    println!("memory  {clusters} clusters x {pods} pods ({total} pods), all watched at once:");
    if let Ok(klieg) = Spawned::start(Command::new(bench_exe()).args([
        "watch-child",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
    ])) {
        let baseline = klieg.wait_line(Duration::from_secs(120), |l| l.starts_with("connected"));
        let full = klieg.wait_line(Duration::from_secs(300), rows_line(total, true));
        match (baseline, full) {
            (Some((_, baseline)), Some((at, _))) => {
                std::thread::sleep(Duration::from_secs(2));
                let baseline_bytes: u64 = baseline.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                let rss = rss_of(klieg.pid());
                println!(
                    "memory    klieg backend   RSS {:.0} MiB after {:.1} s; {:.2} KiB per watched pod over the connected baseline of {:.0} MiB",
                    mib(rss),
                    at.as_secs_f64(),
                    rss.saturating_sub(baseline_bytes) as f64 / 1024.0 / total as f64,
                    mib(baseline_bytes)
                );
            }
            _ => println!("memory    klieg backend did not show all {total} rows in time"),
        }
    }
    if display {
        let home = dir.join("window-memory");
        if let Some(window) = start_window(&kubeconfig, &home, "pods") {
            // At its first frame the window holds no rows yet: its fixed cost.
            let first_frame_rss =
                window.wait_line(Duration::from_secs(60), |l| l == "frame").map(|_| rss_of(window.pid()));
            if let Some(rss) = first_frame_rss {
                println!("memory    klieg window    RSS {:.0} MiB at its first frame, before any rows", mib(rss));
            }
            match window.wait_line(Duration::from_secs(300), rows_line(total, true)) {
                Some((at, _)) => {
                    std::thread::sleep(Duration::from_secs(3));
                    println!(
                        "memory    klieg window    RSS {:.0} MiB, all {total} rows live in one merged table after {:.1} s",
                        mib(rss_of(window.pid())),
                        at.as_secs_f64()
                    );
                }
                None => println!("memory    klieg window did not show all {total} rows in time"),
            }
        }
    }
    if kdash {
        let instances: Vec<(Spawned, u32)> = (0..options.kdash_instances.min(clusters))
            .filter_map(|i| start_kdash(&kubeconfig, &format!("sim-{i:03}")))
            .collect();
        // kdash polls every 5 s; give each a few rounds.
        std::thread::sleep(Duration::from_secs(40));
        let rss: Vec<u64> = instances.iter().map(|(_, pid)| rss_of(*pid)).collect();
        let sum: u64 = rss.iter().sum();
        println!(
            "memory    kdash x {}       RSS {:.0} MiB in all ({:.0}-{:.0} MiB each, one {pods}-pod cluster per instance: kdash shows one context at a time)",
            instances.len(),
            mib(sum),
            mib(rss.iter().copied().min().unwrap_or(0)),
            mib(rss.iter().copied().max().unwrap_or(0)),
        );
    }
}

/// Cold start to first frame, cached switch, and idle CPU, on two clusters.
fn start_switch_and_idle(dir: &Path, options: &FleetBenchOptions, kubectl: bool, kdash: bool, display: bool) {
    let pods = options.pods_per_cluster;
    let Some((sim, kubeconfig)) = start_simulator(dir, 2, pods, 0.0) else {
        println!("start   simulator did not start");
        return;
    };
    let sim_started = Instant::now();
    cached_switch(&kubeconfig, &dir.join("switch-cache"), pods);
    if !display {
        return;
    }
    let home = dir.join("window-start");
    // A first run fills the offline cache; the second starts from it.
    for run in ["first run (empty cache)", "second run (offline cache)"] {
        let Some(window) = start_window(&kubeconfig, &home, "pods") else { return };
        let frame = window.wait_line(Duration::from_secs(60), |l| l == "frame");
        let rows = window.wait_line(Duration::from_secs(120), rows_line(1, false));
        let live = window.wait_line(Duration::from_secs(120), rows_line(2 * pods, true));
        let show = |d: Option<(Duration, String)>| {
            d.map_or("-".to_string(), |(at, line)| format!("{:.0} ms ({line})", at.as_secs_f64() * 1000.0))
        };
        println!("start   {run}: first frame {}, first rows {}, all rows live {}", show(frame), show(rows), show(live));
        if run.starts_with("second") {
            idle(window, &kubeconfig, &dir.join("window-idle"), options, (kubectl, kdash), &sim, sim_started);
            return;
        }
        // The cache is written on the first full list; let the write land.
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// Switching the table between two watched clusters, and to one read from the offline cache.
fn cached_switch(kubeconfig: &Path, cache: &Path, pods: usize) {
    use klieg_model::{ClusterId, ClusterMode, KindKey, ViewQuery, ViewStatus};
    let sources = klieg_backend::kubeconfig::KubeconfigSources {
        explicit: vec![kubeconfig.to_path_buf()],
        offline_cache: Some(cache.to_path_buf()),
        ..Default::default()
    };
    let Ok(handle) = klieg_backend::start(sources, Arc::new(|| {})) else { return };
    let switch_to = |handle: &klieg_backend::BackendHandle, cluster: &str, live: bool| -> Option<Duration> {
        let id = ClusterId::new(cluster);
        let shows = || {
            let table = handle.table.snapshots.borrow().clone();
            table.rows.len() == pods
                && table.rows.first().is_some_and(|r| r.key.cluster == id)
                && table.status.get(&id).is_some_and(|s| !live || *s == ViewStatus::Live)
        };
        let started = Instant::now();
        handle.table.ask(Some(ViewQuery {
            clusters: vec![id.clone()],
            kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("pods") }),
            ..ViewQuery::default()
        }));
        while !shows() {
            if started.elapsed() > Duration::from_secs(120) {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Some(started.elapsed())
    };
    // Both clusters listed once (and so cached); their watches linger after being left.
    if switch_to(&handle, "sim-000", true).is_none() || switch_to(&handle, "sim-001", true).is_none() {
        println!("switch  the clusters did not list in time");
        return;
    }
    let mut lingering: Vec<Duration> =
        (0..6).filter_map(|i| switch_to(&handle, if i % 2 == 0 { "sim-000" } else { "sim-001" }, true)).collect();
    lingering.sort();
    drop(handle);
    // A fresh start with sim-001 switched off: its rows can only come from the cache on disk.
    let sources = klieg_backend::kubeconfig::KubeconfigSources {
        explicit: vec![kubeconfig.to_path_buf()],
        offline_cache: Some(cache.to_path_buf()),
        cluster_modes: [(ClusterId::new("sim-001"), ClusterMode::Off)].into_iter().collect(),
        ..Default::default()
    };
    let Ok(handle) = klieg_backend::start(sources, Arc::new(|| {})) else { return };
    let _ = switch_to(&handle, "sim-000", true);
    let from_disk = switch_to(&handle, "sim-001", false);
    let median = |v: &[Duration]| v.get(v.len() / 2).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    println!(
        "switch  {pods}-pod clusters, command to published table: watched cluster {:.1} ms (median of {}), switched-off cluster read from the offline cache on disk {}",
        median(&lingering),
        lingering.len(),
        from_disk.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
    );
}

/// CPU of the idle window and of its peers watching the same quiet cluster.
/// Measured once every pod is over two minutes old: the table then shows ages in minutes and
/// repaints for them every 30 s, as on a settled cluster (younger ages tick every second).
fn idle(
    window: Spawned,
    kubeconfig: &Path,
    home: &Path,
    options: &FleetBenchOptions,
    (kubectl, kdash): (bool, bool),
    sim: &Spawned,
    sim_started: Instant,
) {
    // A second window on a kind without usage columns: no metrics-server polling.
    let quiet = start_window(kubeconfig, home, "deployments.apps");
    let peer = if kubectl { kubectl_watch(kubeconfig, "sim-000") } else { None };
    let kdash = if kdash { start_kdash(kubeconfig, "sim-000") } else { None };
    let settled = sim_started + Duration::from_secs(125);
    std::thread::sleep(settled.saturating_duration_since(Instant::now()).max(Duration::from_secs(15)));
    let wall = Duration::from_secs(options.idle_secs);
    let pids: Vec<(&str, u32)> = [("klieg window, pods (2 clusters)", Some(window.pid()))]
        .into_iter()
        .chain([("klieg window, deployments", quiet.as_ref().map(Spawned::pid))])
        .chain([("kubectl get -w (1 cluster)", peer.as_ref().map(Spawned::pid))])
        .chain([("kdash (1 cluster)", kdash.as_ref().map(|(_, pid)| *pid))])
        .chain([("simulator", Some(sim.pid()))])
        .filter_map(|(name, pid)| Some((name, pid?)))
        .collect();
    let before: Vec<u64> = pids.iter().map(|(_, pid)| cpu_ticks_of(*pid)).collect();
    std::thread::sleep(wall);
    for ((name, pid), before) in pids.iter().zip(before) {
        let ticks = cpu_ticks_of(*pid).saturating_sub(before);
        println!(
            "idle    {name:<32} {ticks:>5} ticks in {} s = {:.2} % of a core",
            wall.as_secs(),
            cpu_percent(ticks, wall)
        );
    }
}

/// `klieg-bench watch-child`: the child the fleet benchmark measures. With `raw`, one context's pods
/// through the table watcher and row store (what each subscription runs), printing `listed` and
/// then `events N` every half second; without, the whole backend showing every context's pods
/// in one view, printing `connected RSS` and then `rows N live|stale` as the table fills.
pub fn watch_child(kubeconfig: &Path, raw: Option<&str>) {
    match raw {
        Some(context) => raw_watch(kubeconfig, context),
        None => backend_watch(kubeconfig),
    }
}

/// Prints a line for the parent; false once nobody reads (the child then ends).
fn say(line: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

fn raw_watch(kubeconfig: &Path, context: &str) {
    use klieg_backend::ingest::{PUBLISH_INTERVAL, RowStore};
    use klieg_backend::table_watch::{TableEvent, run_table_watch};
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() else {
        return;
    };
    runtime.block_on(async {
        let Ok(config) = kube::config::Kubeconfig::read_from(kubeconfig) else { return };
        let options = kube::config::KubeConfigOptions { context: Some(context.into()), ..Default::default() };
        let Ok(config) = kube::Config::from_custom_kubeconfig(config, &options).await else { return };
        let Ok(clients) = klieg_backend::connection::cluster_clients(&config) else { return };
        let Ok(found) = klieg_backend::discovery::discover(&clients.shared).await else { return };
        let Some(pods) = found.kinds.into_iter().find(|k| k.group.is_empty() && &*k.plural == "pods") else { return };
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let permits = Arc::new(tokio::sync::Semaphore::new(klieg_backend::CONCURRENT_LISTS_PER_CLUSTER));
        tokio::spawn(run_table_watch(
            clients.shared,
            klieg_model::ClusterId::new(context),
            pods,
            None,
            permits,
            tx,
            false,
        ));
        let mut store = RowStore::default();
        let mut events: u64 = 0;
        let mut listed = false;
        let mut last_publish = tokio::time::Instant::now();
        let mut last_print = tokio::time::Instant::now();
        while let Some(event) = rx.recv().await {
            let list_done = !listed && matches!(event, TableEvent::InitDone);
            if listed {
                events += event.changes() as u64;
            }
            store.apply(event);
            if list_done {
                listed = true;
                if !say(&format!("listed {}", store.len())) {
                    return;
                }
            }
            // Snapshots as the subscription publishes them.
            if store.is_dirty() && last_publish.elapsed() >= PUBLISH_INTERVAL {
                let _ = store.snapshot();
                last_publish = tokio::time::Instant::now();
            }
            if last_print.elapsed() >= Duration::from_millis(500) {
                if !say(&format!("events {events}")) {
                    return;
                }
                last_print = tokio::time::Instant::now();
            }
        }
    });
}

fn backend_watch(kubeconfig: &Path) {
    use klieg_model::{ClusterState, KindKey, ViewQuery};
    let sources =
        klieg_backend::kubeconfig::KubeconfigSources { explicit: vec![kubeconfig.to_path_buf()], ..Default::default() };
    let Ok(handle) = klieg_backend::start(sources, Arc::new(|| {})) else { return };
    let deadline = Instant::now() + Duration::from_secs(120);
    let clusters = loop {
        let fleet = handle.fleet.borrow().clone();
        let all_connected = !fleet.clusters.is_empty()
            && fleet.clusters.iter().all(|c| matches!(c.state, ClusterState::Connected { .. }) && !c.kinds.is_empty());
        if all_connected {
            break fleet.clusters.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        }
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_secs(1));
    if !say(&format!("connected {}", crate::rss_bytes())) {
        return;
    }
    handle.table.ask(Some(ViewQuery {
        clusters,
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("pods") }),
        ..ViewQuery::default()
    }));
    let mut last = None;
    loop {
        let table = handle.table.snapshots.borrow().clone();
        let live = table.is_live();
        if last != Some((table.rows.len(), live)) {
            last = Some((table.rows.len(), live));
            if !say(&format!("rows {} {}", table.rows.len(), if live { "live" } else { "stale" })) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
