//! Klieg's plugin host: plugin manifests and capabilities, one sandboxed Luau state per plugin,
//! and the registry entries their registrations become. Backend threads only: the window draws
//! what plugins returned, from snapshots, and reads the plugin list.

rust_i18n::i18n!("../../i18n", fallback = "en");
use rust_i18n::t;

mod api;
mod authoring;
mod host;
pub mod manifest;
mod output;
pub mod services;
mod vm;
mod worker;

pub use authoring::{
    AuthoringError, CheckReport, DEFINITIONS, check, data_dir, installed_dir, scaffold, write_single_file_plugin,
};
pub use host::{HostConfig, PluginHost};
pub use manifest::{Capabilities, KindName, Manifest, ManifestError, PLUGIN_API_VERSION, parse_manifest};
pub use vm::PluginFault;

/// Every limit a plugin runs under, named (docs/plugins.md lists them).
pub mod limits {
    use std::time::Duration;

    /// Memory one plugin's state may use.
    pub const MEMORY_BYTES: usize = 64 * 1024 * 1024;
    /// CPU time for running the main file (registering features).
    pub const LOAD_BUDGET: Duration = Duration::from_secs(1);
    /// CPU time for one cell: columns run once per row version, at ingest. A cell past it is
    /// left empty; the plugin is stopped at the third.
    pub const CELL_BUDGET: Duration = Duration::from_millis(20);
    pub const CELL_BUDGET_STRIKES: u32 = 3;
    /// CPU time for building one details section.
    pub const SECTION_BUDGET: Duration = Duration::from_millis(250);
    /// Items (list elements, texts, numbers) one returned value may hold.
    pub const MAX_OUTPUT_ITEMS: usize = 100_000;
    /// Bytes of one returned text.
    pub const MAX_OUTPUT_TEXT_BYTES: usize = 256 * 1024;
    /// CPU time for an action's `run` (computing its patch).
    pub const ACTION_BUDGET: Duration = Duration::from_millis(250);
    /// Bytes of the patch one action may return.
    pub const MAX_PATCH_BYTES: usize = 256 * 1024;
    /// Features one plugin may register.
    pub const MAX_REGISTRATIONS: usize = 200;
    /// Plugins loaded at most.
    pub const MAX_PLUGINS: usize = 100;
    /// One source file, all of a plugin's sources, and how many files.
    pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;
    pub const MAX_SOURCES_BYTES: usize = 4 * 1024 * 1024;
    pub const MAX_SOURCE_FILES: usize = 256;
    /// Characters of a plugin's error kept for the Plugins page.
    pub const MAX_ERROR_CHARS: usize = 2000;
    /// File changes within this time reload a plugin once.
    pub const RELOAD_SETTLE: Duration = Duration::from_millis(150);
    /// Requests and file events waiting for the host thread.
    pub const HOST_QUEUE_LEN: usize = 256;
    /// CPU time for one handler (a command, an event hook, a view's build or input). Time spent
    /// waiting on the network, the cluster or the user is not counted.
    pub const HANDLER_BUDGET: Duration = Duration::from_secs(2);
    /// Commands, events and view inputs waiting for one plugin's handler thread; more are
    /// dropped (and logged).
    pub const HANDLER_QUEUE_LEN: usize = 64;
    /// Objects one `klieg.kube.list` returns at most (and the most a `limit` may ask for).
    pub const KUBE_LIST_MAX_ITEMS: usize = 5000;
    /// Watches one plugin holds at most, and how often each looks whether the plugin still runs.
    pub const MAX_WATCHES: usize = 8;
    pub const WATCH_POLL: Duration = Duration::from_secs(1);
    /// Lines `klieg.kube.logs` returns unless asked for fewer.
    pub const KUBE_LOG_DEFAULT_LINES: usize = 500;
    /// Bytes of one HTTP response body (a larger one is refused) and of a request body.
    pub const HTTP_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
    pub const HTTP_MAX_REQUEST_BYTES: usize = 1024 * 1024;
    /// Wall time of one HTTP request.
    pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
    /// Wall time of one Kubernetes call.
    pub const KUBE_TIMEOUT: Duration = Duration::from_secs(30);
    /// How long a write waits for the user's answer before it is declined.
    pub const PROMPT_TIMEOUT: Duration = Duration::from_secs(300);
    /// Characters of one notice.
    pub const NOTICE_MAX_CHARS: usize = 500;
    /// A plugin's store: keys, bytes in all, bytes of one value (or secret).
    pub const STORAGE_MAX_KEYS: usize = 1000;
    pub const STORAGE_MAX_BYTES: usize = 1024 * 1024;
    pub const STORAGE_MAX_VALUE_BYTES: usize = 64 * 1024;
}

/// Where a plugin stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginState {
    Running,
    /// Not enabled by the user.
    Off,
    /// `--safe-mode`.
    SafeMode,
    /// Enabled, but its manifest asks for capabilities not granted (an update asked for more).
    NeedsGrant(Vec<String>),
    /// Stopped: it failed to load, or a fault (an error, its CPU budget or memory, bad output).
    Failed(String),
    /// Its folder holds no valid manifest.
    Invalid(String),
}

impl PluginState {
    /// A short word for the Plugins page.
    pub fn label(&self) -> String {
        match self {
            Self::Running => t!("plugins.state_running"),
            Self::Off => t!("plugins.state_off"),
            Self::SafeMode => t!("plugins.state_safe_mode"),
            Self::NeedsGrant(_) => t!("plugins.state_needs_grant"),
            Self::Failed(_) => t!("plugins.state_failed"),
            Self::Invalid(_) => t!("plugins.state_invalid"),
        }
        .into_owned()
    }
}

/// One plugin as the Plugins page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginInfo {
    pub id: std::sync::Arc<str>,
    pub name: std::sync::Arc<str>,
    pub version: std::sync::Arc<str>,
    pub description: std::sync::Arc<str>,
    pub folder: std::sync::Arc<str>,
    /// From `--plugin-dir`: runs unless turned off, and reloads as its files change.
    pub development: bool,
    /// What it may do, in words, and as the tokens a grant keeps.
    pub capabilities: Vec<String>,
    pub capability_tokens: std::collections::BTreeSet<String>,
    pub state: PluginState,
    pub memory_bytes: usize,
    pub load_ms: f64,
    /// Its settings page, as a schema.
    pub settings: Vec<klieg_model::registry::FormField>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginList {
    pub generation: u64,
    pub plugins: Vec<PluginInfo>,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod handler_tests;
