//! What the host offers plugin handlers beyond their own state, as a trait the app implements:
//! Kubernetes calls with the user's credentials, HTTP fetches, prompts, notices, the
//! clipboard, navigation and the OS keyring. Every method may block (the handler thread waits)
//! and is called only after the host checked the plugin's capabilities.

use klieg_model::registry::CommandContext;
use klieg_model::{CellTone, KindKey};
use std::sync::Arc;

pub use klieg_model::host_call::{CommandOutput, CommandRequest, HttpRequest, HttpResponse, KubeRequest, KubeVerb};

/// A write a plugin wants to make, shown to the user before it is made.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub plugin: Arc<str>,
    pub plugin_name: Arc<str>,
    /// One line: what it does, to what ("patch certificates web in default").
    pub summary: String,
    /// The whole change (the patch as YAML), shown below.
    pub detail: String,
    /// "Don't ask again" is offered (writes); a dangerous command is asked each time.
    pub can_trust: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    No,
    Yes,
    /// Yes, and do not ask again for this plugin's writes.
    Always,
}

/// Where a plugin asks the window to go.
#[derive(Clone, Debug, PartialEq)]
pub enum OpenTarget {
    View(klieg_model::registry::ViewId),
    Object { kind: KindKey, key: klieg_model::ObjectKey },
}

#[derive(Clone, Debug, PartialEq)]
pub enum SecretOp {
    Get,
    Set(String),
    Delete,
}

/// A plugin's watch: each call waits up to `patience` for the objects as they are after a
/// change (`None`: nothing changed in that time). Dropping it ends the watch.
pub trait WatchStream: Send {
    fn next(&mut self, patience: std::time::Duration) -> Option<serde_json::Value>;
}

/// The app's side of the plugin API.
pub trait HostServices: Send + Sync {
    /// Runs a command the manifest lists (its variables filled), waiting for it to end.
    fn run_command(&self, request: CommandRequest) -> Result<CommandOutput, String> {
        let _ = request;
        Err(crate::t!("plugins.no_services").into_owned())
    }

    /// Watches `request.kind` in its cluster and namespace, sharing the table's watches.
    fn watch(&self, request: KubeRequest) -> Result<Box<dyn WatchStream>, String> {
        let _ = request;
        Err(crate::t!("plugins.no_services").into_owned())
    }
    fn kube(&self, request: KubeRequest, context: &CommandContext) -> Result<serde_json::Value, String>;
    fn http(&self, request: HttpRequest, max_bytes: usize) -> Result<HttpResponse, String>;
    /// Blocks until the user answers (or the prompt times out: `No`).
    fn confirm(&self, prompt: Prompt) -> Answer;
    fn notify(&self, plugin_name: &str, text: &str, tone: CellTone);
    fn clipboard(&self, text: &str);
    fn open(&self, target: OpenTarget);
    /// The OS keyring, at an entry the host names for the plugin (another cannot reach it).
    fn secret(&self, entry: &str, op: SecretOp) -> Result<Option<String>, String>;
}

/// No window, no backend: every call refused (headless checks, before the app connects).
pub struct NoServices;

impl HostServices for NoServices {
    fn kube(&self, _: KubeRequest, _: &CommandContext) -> Result<serde_json::Value, String> {
        Err(crate::t!("plugins.no_services").into_owned())
    }
    fn http(&self, _: HttpRequest, _: usize) -> Result<HttpResponse, String> {
        Err(crate::t!("plugins.no_services").into_owned())
    }
    fn confirm(&self, _: Prompt) -> Answer {
        Answer::No
    }
    fn notify(&self, _: &str, _: &str, _: CellTone) {}
    fn clipboard(&self, _: &str) {}
    fn open(&self, _: OpenTarget) {}
    fn secret(&self, _: &str, _: SecretOp) -> Result<Option<String>, String> {
        Err(crate::t!("plugins.no_services").into_owned())
    }
}

/// The services in use, set once the app has them (the host starts before the backend).
#[derive(Clone)]
pub struct ServicesSlot(Arc<arc_swap::ArcSwap<Box<dyn HostServices>>>);

impl Default for ServicesSlot {
    fn default() -> Self {
        Self(Arc::new(arc_swap::ArcSwap::from_pointee(Box::new(NoServices))))
    }
}

impl ServicesSlot {
    pub fn set(&self, services: Box<dyn HostServices>) {
        self.0.store(Arc::new(services));
    }

    pub fn get(&self) -> Arc<Box<dyn HostServices>> {
        self.0.load_full()
    }
}
