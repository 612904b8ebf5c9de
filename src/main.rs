//! Command line entry: parses arguments, sets up logging, then runs the window or a benchmark.
//! Runs on the main thread, which becomes eframe's UI thread.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "klieg", version, about = "A native Kubernetes desktop client")]
struct Cli {
    /// A kubeconfig file, or a folder of them; repeat for more. Added to KUBECONFIG or ~/.kube/config.
    #[arg(long = "kubeconfig", value_name = "PATH")]
    kubeconfigs: Vec<PathBuf>,
    /// Interface language (en, de, ja); defaults to the saved choice or the system language.
    #[arg(long)]
    lang: Option<String>,
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Print ingest throughput and table frame cost; never fails on timing.
    Bench {
        /// Row counts for the frame-cost benchmark.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        rows: Vec<usize>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KLIEG_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Commands::Bench { rows }) => {
            klieg::bench::run(&rows);
            Ok(())
        }
        None => klieg::app::run_native(cli.kubeconfigs, cli.lang),
    }
}
