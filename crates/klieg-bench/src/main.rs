//! `klieg-bench`: prints Klieg's benchmark figures (ingest, frame cost, view builds, the
//! simulator at scale, and the fleet comparison against kubectl and kdash). Never fails on
//! timing. Runs on the main thread; the fleet benchmark spawns the `klieg` binary beside it.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "klieg-bench", version, about = "Klieg's benchmarks: figures printed, never a timed test")]
struct Cli {
    /// Row counts for the frame-cost benchmark.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    rows: Vec<usize>,
    /// Measure the simulator at fleet scale instead (100 clusters x 1k pods, 1 x 100k pods).
    #[arg(long)]
    sim: bool,
    /// Klieg against kubectl and kdash on a simulated fleet: ingest, memory, cold start,
    /// cached switch, idle CPU (window figures need DISPLAY, e.g. Xvfb).
    #[arg(long)]
    fleet: bool,
    /// Fleet benchmark: clusters in the memory comparison.
    #[arg(long, default_value_t = 10)]
    clusters: usize,
    /// Fleet benchmark: pods per cluster.
    #[arg(long, default_value_t = 10_000)]
    pods_per_cluster: usize,
    /// Fleet benchmark: changes per second in the ingest comparison.
    #[arg(long, default_value_t = 3000.0)]
    churn: f64,
    /// Fleet benchmark: kdash instances (one per cluster) in the memory comparison.
    #[arg(long, default_value_t = 10)]
    kdash_instances: usize,
    /// Fleet benchmark: seconds of idle CPU measured.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Soak: run the backend this many minutes against a fleet with churn and rotating faults,
    /// printing RSS, rows against the simulator's own, and failures and reconnects per cluster.
    #[arg(long, value_name = "MINUTES")]
    soak: Option<u64>,
    /// Frame times of the whole window against healthy clusters alone, then beside eight
    /// hostile servers, each run this many seconds.
    #[arg(long, value_name = "SECONDS")]
    hostile: Option<u64>,
    /// What plugins cost: load time and memory per plugin, ingest with and without a plugin
    /// column, the frame cost of a plugin view.
    #[arg(long)]
    plugins: bool,
    /// Fleet benchmark: the parts to run.
    #[arg(long, value_delimiter = ',', default_value = "ingest,memory,start")]
    phases: Vec<String>,
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// The process the fleet benchmark measures (started by it, not for direct use).
    #[command(hide = true)]
    WatchChild {
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Watch this context's pods through the bare watcher instead of the whole backend.
        #[arg(long)]
        raw: Option<String>,
    },
}

fn main() {
    tracing_subscriber::fmt()
        // kube logs every refused request at error level; Klieg shows each where it matters.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KLIEG_LOG")
                .unwrap_or_else(|_| "warn,kube_client::client::builder=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Commands::WatchChild { kubeconfig, raw }) = cli.command {
        klieg_bench::fleet::watch_child(&kubeconfig, raw.as_deref());
    } else if cli.plugins {
        klieg_bench::plugins::run();
    } else if let Some(seconds) = cli.hostile {
        klieg_bench::hostile::run(seconds);
    } else if let Some(minutes) = cli.soak {
        klieg_bench::soak::run(&klieg_bench::soak::SoakOptions { minutes, ..Default::default() });
    } else if cli.fleet {
        let options = klieg_bench::fleet::FleetBenchOptions {
            clusters: cli.clusters,
            pods_per_cluster: cli.pods_per_cluster,
            churn_per_sec: cli.churn,
            kdash_instances: cli.kdash_instances,
            idle_secs: cli.idle_secs,
            phases: cli.phases,
        };
        klieg_bench::fleet::run(&options);
    } else if cli.sim {
        klieg_bench::run_simulator();
    } else {
        klieg_bench::run(&cli.rows);
    }
}
