//! `klieg-bench --hostile SECONDS`: the whole window (app state, backend, every panel drawn)
//! against healthy clusters alone, then against the same beside eight hostile servers (a TLS
//! handshake that never completes, a server that never answers, perpetual 410, endless
//! continue tokens, giant objects, a 17 MiB watch line, bytes that are neither UTF-8 nor JSON,
//! an answer dripped a few bytes at a time). Prints the frame times of each run: what a person
//! feels while Klieg fights the servers. Frames on the calling thread, at most 60 a second; the
//! backend on its own runtime; the simulators in-process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The hostile servers, by name and fault plan (the same as the window acceptance test).
const HOSTILE: &[(&str, &str)] = klieg_sim::HOSTILE_PLANS;
/// Healthy clusters in both runs: pods with churn.
const HEALTHY_CLUSTERS: usize = 2;
const HEALTHY_PODS: usize = 2000;
const HEALTHY_CHURN_PER_SEC: f64 = 20.0;
/// One frame every this long at most, as a 60 Hz display asks.
const FRAME_INTERVAL: Duration = Duration::from_micros(16_667);

pub fn run(seconds: u64) {
    println!(
        "hostile: the window for {seconds} s against {HEALTHY_CLUSTERS} healthy clusters x {HEALTHY_PODS} pods ({HEALTHY_CHURN_PER_SEC} changes/s), alone and beside {} hostile servers",
        HOSTILE.len()
    );
    println!(
        "{:<28} {:>7} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "run", "frames", "p50 ms", "p90 ms", "p99 ms", "max ms", ">16.7 ms"
    );
    let healthy = start_healthy();
    let Some(healthy) = healthy else {
        println!("hostile: the simulator did not start");
        return;
    };
    let healthy_paths = vec![healthy.kubeconfig_path.clone()];
    let names: Vec<String> = healthy.clusters.iter().map(|c| c.name.clone()).collect();
    report("healthy only", &frames_against(healthy_paths.clone(), names.clone(), seconds));
    let hostile: Vec<klieg_sim::Fleet> =
        HOSTILE.iter().filter_map(|(name, faults)| start_hostile(name, faults)).collect();
    let mut paths = healthy_paths;
    paths.extend(hostile.iter().map(|fleet| fleet.kubeconfig_path.clone()));
    let mut all_names = names;
    all_names.extend(HOSTILE.iter().map(|(name, _)| name.to_string()));
    report(&format!("healthy + {} hostile", hostile.len()), &frames_against(paths, all_names, seconds));
}

pub fn start_healthy() -> Option<klieg_sim::Fleet> {
    let specs = (0..HEALTHY_CLUSTERS)
        .map(|i| klieg_sim::ClusterSpec {
            name: format!("healthy-{i}"),
            git_version: "v1.31.2".into(),
            nodes: 10,
            pods: HEALTHY_PODS,
        })
        .collect();
    klieg_sim::Fleet::start(specs, HEALTHY_CHURN_PER_SEC, None).ok()
}

fn start_hostile(name: &str, faults: &str) -> Option<klieg_sim::Fleet> {
    let spec = klieg_sim::ClusterSpec { name: name.into(), git_version: "v1.31.2".into(), nodes: 1, pods: 20 };
    let fleet = klieg_sim::Fleet::start(vec![spec], 0.0, None).ok()?;
    fleet.inject_faults(&faults.parse().ok()?);
    Some(fleet)
}

/// Draws the whole window for `seconds`, pods of every cluster selected; each frame's time
/// (layout and tessellation).
pub fn frames_against(kubeconfigs: Vec<PathBuf>, clusters: Vec<String>, seconds: u64) -> Vec<Duration> {
    frames_with(kubeconfigs, clusters, seconds, None)
}

/// As [`frames_against`], with the plugin host on `plugins` when given.
pub fn frames_with(
    kubeconfigs: Vec<PathBuf>,
    clusters: Vec<String>,
    seconds: u64,
    plugins: Option<klieg_plugins::HostConfig>,
) -> Vec<Duration> {
    let ctx = egui::Context::default();
    let sources = klieg_backend::kubeconfig::KubeconfigSources { explicit: kubeconfigs, ..Default::default() };
    let settings = klieg::state::Settings {
        locale: "en".into(),
        kind_plural: "pods".into(),
        selected_clusters: clusters,
        ..klieg::state::Settings::default()
    };
    let started_app = match plugins {
        Some(plugins) => klieg::app::KliegApp::with_plugins(&ctx, sources, settings, plugins),
        None => klieg::app::KliegApp::with_extensions(&ctx, sources, settings, klieg_backend::Extensions::builtin()),
    };
    let mut app = match started_app {
        Ok(app) => app,
        Err(error) => {
            println!("hostile: the app did not start: {error}");
            return Vec::new();
        }
    };
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut times = Vec::new();
    while Instant::now() < end {
        let frame_start = Instant::now();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1500.0, 950.0))),
            time: Some(started.elapsed().as_secs_f64()),
            ..Default::default()
        };
        let mut output = ctx.run_ui(input, |ui| app.frame_ui(ui));
        // No GPU here: the texture uploads a renderer would do are left out.
        output.textures_delta.clear();
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        times.push(frame_start.elapsed());
        if let Some(rest) = FRAME_INTERVAL.checked_sub(frame_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    for plugin in &app.plugin_list.plugins {
        let reason = match &plugin.state {
            klieg_plugins::PluginState::Failed(reason) => reason.chars().take(140).collect::<String>(),
            other => other.label(),
        };
        println!("  {}: {}", plugin.id, reason);
    }
    drop(app);
    times
}

pub fn report(run: &str, times: &[Duration]) {
    if times.is_empty() {
        println!("{run:<28} no frames");
        return;
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = |fraction: f64| sorted[((sorted.len() - 1) as f64 * fraction) as usize].as_secs_f64() * 1000.0;
    let slow = times.iter().filter(|t| **t > FRAME_INTERVAL).count();
    println!(
        "{run:<28} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10}",
        times.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        slow
    );
}
