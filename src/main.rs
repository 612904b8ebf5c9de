//! Command line entry: parses arguments, sets up logging, then runs the window, the simulator
//! or the credential helper.
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
    /// Open on a built-in simulated fleet (three clusters, live churn); needs no cluster.
    /// Also the default when no kubeconfig is found at all.
    #[arg(long)]
    demo: bool,
    /// Select every cluster at start (a merged view of the whole fleet).
    #[arg(long)]
    all_clusters: bool,
    /// Open on this kind: `pods`, `deployments.apps`, any CRD's `plural.group`.
    #[arg(long, value_name = "PLURAL[.GROUP]")]
    kind: Option<String>,
    /// Load the plugin in this folder (or each plugin folder in it) for development: it runs
    /// with what it declares and reloads when a file changes. Repeat for more.
    #[arg(long = "plugin-dir", value_name = "FOLDER")]
    plugin_dirs: Vec<PathBuf>,
    /// Start with every plugin off (to get past a plugin that misbehaves).
    #[arg(long)]
    safe_mode: bool,
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Print the credentials of a cluster added in Klieg, from the OS keyring, as a kubectl
    /// exec credential plugin does (Klieg's own kubeconfig names this command).
    Credential {
        /// The keyring entry, as named in the kubeconfig.
        #[arg(long)]
        entry: String,
    },
    /// Run the Kubernetes API simulator.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Write and check plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Create a plugin folder NAME with a manifest, a first column and the API's definitions file.
    New { name: String },
    /// Check a plugin folder: its manifest, the API range, every source file, and a sandboxed
    /// load; prints what it registers.
    Check { folder: PathBuf },
    /// Pack a plugin folder (checked first) into a reproducible ID-VERSION.tar.gz in OUT (the
    /// current folder by default) and print its sha256 and size.
    Pack {
        folder: PathBuf,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Serve simulated clusters on loopback until interrupted, and write a kubeconfig for them.
    Serve {
        #[arg(long, default_value_t = 3)]
        clusters: usize,
        #[arg(long, default_value_t = 100)]
        pods_per_cluster: usize,
        #[arg(long, default_value_t = 3)]
        nodes_per_cluster: usize,
        /// Changes per second per cluster (crash loops, restarts, replacements).
        #[arg(long, default_value_t = 1.0)]
        churn: f64,
        /// Faults to inject, e.g. `latency-ms=50,throttle-every=20,error-every=50,offline-every=60,expire-every=30,drop-every=45`.
        #[arg(long, default_value = "")]
        faults: klieg::sim::FaultPlan,
        /// Where to write the kubeconfig (mode 0600).
        #[arg(long, value_name = "PATH", default_value = "klieg-sim.kubeconfig")]
        kubeconfig_out: PathBuf,
    },
}

/// True when nothing names a kubeconfig: no `--kubeconfig`, no `KUBECONFIG`, no `~/.kube/config`.
/// Klieg then opens on the demo fleet instead of an empty window.
fn no_kubeconfig_anywhere(explicit: &[PathBuf]) -> bool {
    let env_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let default_exists = dirs::home_dir().is_some_and(|home| home.join(".kube").join("config").exists());
    let added_exists = klieg::backend::kubeconfig::default_added_file().is_some_and(|file| file.exists());
    explicit.is_empty() && !env_set && !default_exists && !added_exists
}

/// glibc gives each thread that allocates its own malloc arena; with the GL driver's threads and
/// the backend's blocking pool that leaves tens of MiB of freed memory spread over arenas
/// (measured: 454 MiB against 378 MiB with two arenas for 100k watched pods). Two arenas suffice:
/// the hot paths allocate on the runtime's two workers.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called first thing in main, before any
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    tracing_subscriber::fmt()
        // kube logs every refused request at error level; Klieg shows each where it matters.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KLIEG_LOG")
                .unwrap_or_else(|_| "warn,kube_client::client::builder=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let plugins = klieg::plugins::HostConfig {
        installed: klieg::plugins::installed_dir(),
        development: cli.plugin_dirs.clone(),
        safe_mode: cli.safe_mode,
        data_dir: klieg::plugins::data_dir(),
        ..klieg::plugins::HostConfig::default()
    };
    match cli.command {
        Some(Commands::Plugin { command }) => plugin_command(command),
        Some(Commands::Credential { entry }) => {
            let store: std::sync::Arc<dyn klieg::credentials::SecretStore> =
                std::sync::Arc::new(klieg::credentials::OsKeyring);
            let mut credential = klieg::credentials::StoredCredential::load(store.as_ref(), &entry)
                .map_err(|error| anyhow::anyhow!("keyring entry {entry:?}: {error}"))?;
            credential.check_caller(&entry, std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref())?;
            let mut output = credential.exec_credential();
            // An OIDC user: the current id-token, renewed (and saved) first when it has run out,
            // with its expiry so kubectl asks again in time.
            if let Some(settings) = credential.oidc.take() {
                use secrecy::ExposeSecret;
                let saver = klieg::credentials::OidcSaver { store, entry: entry.clone(), renewed_from: None };
                let auth = klieg::backend::oidc::OidcAuth::from_config(&settings.into_iter().collect())?
                    .with_saver(Some(saver));
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let token = runtime.block_on(auth.token())?;
                credential.token = Some(token.expose_secret().to_string());
                output = credential.exec_credential();
                if let Some(expiry) = klieg::backend::oidc::expires_unix_secs(token.expose_secret())
                    .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
                {
                    output["status"]["expirationTimestamp"] = expiry.to_string().into();
                }
            }
            println!("{output}");
            Ok(())
        }
        Some(Commands::Sim {
            command: SimCommand::Serve { clusters, pods_per_cluster, nodes_per_cluster, churn, faults, kubeconfig_out },
        }) => {
            let specs = (0..clusters)
                .map(|i| klieg::sim::ClusterSpec {
                    name: format!("sim-{i:03}"),
                    git_version: format!("v1.{}.{}", 29 + i % 4, i % 10),
                    nodes: nodes_per_cluster,
                    pods: pods_per_cluster,
                })
                .collect();
            let fleet = klieg::sim::Fleet::start(specs, churn, Some(kubeconfig_out))?;
            fleet.inject_faults(&faults);
            println!("serving {clusters} simulated clusters; kubeconfig: {}", fleet.kubeconfig_path.display());
            println!("press Ctrl-C to stop");
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(tokio::signal::ctrl_c())?;
            Ok(())
        }
        None if cli.demo || no_kubeconfig_anywhere(&cli.kubeconfigs) => {
            let fleet = klieg::sim::Fleet::demo()?;
            let mut kubeconfigs = cli.kubeconfigs;
            kubeconfigs.insert(0, fleet.kubeconfig_path.clone());
            // The demo shows only the simulated fleet unless files were named explicitly.
            let launch = klieg::app::LaunchOptions {
                lang: cli.lang,
                only_explicit: true,
                all_clusters: cli.all_clusters,
                kind: cli.kind,
                plugins,
            };
            let result = klieg::app::run_native(kubeconfigs, launch);
            drop(fleet);
            result
        }
        None => {
            let launch = klieg::app::LaunchOptions {
                lang: cli.lang,
                only_explicit: false,
                all_clusters: cli.all_clusters,
                kind: cli.kind,
                plugins,
            };
            klieg::app::run_native(cli.kubeconfigs, launch)
        }
    }
}

/// `klieg plugin new | check | pack`.
fn plugin_command(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New { name } => {
            let folder = klieg::plugins::scaffold(std::path::Path::new("."), &name)?;
            println!("created {}; run it with: klieg --plugin-dir {}", folder.display(), folder.display());
            Ok(())
        }
        PluginCommand::Check { folder } => {
            let report = klieg::plugins::check(&folder).map_err(|error| anyhow::anyhow!("{error}"))?;
            println!("{report}");
            Ok(())
        }
        PluginCommand::Pack { folder, out } => {
            // What is packed is what loads: a plugin that does not check is not packed.
            let report = klieg::plugins::check(&folder).map_err(|error| anyhow::anyhow!("{error}"))?;
            let archive = klieg_catalog::archive::pack(&folder)?;
            let name = format!("{}-{}.tar.gz", report.manifest.id, report.manifest.version);
            let path = out.join(&name);
            std::fs::write(&path, &archive).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
            println!("{}  {}  {} bytes", klieg_catalog::archive::sha256_hex(&archive), path.display(), archive.len());
            Ok(())
        }
    }
}
