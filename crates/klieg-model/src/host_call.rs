//! Calls extensions make through the host: a Kubernetes request with the user's credentials,
//! and an HTTP fetch. Plain data, built by the plugin host and carried out by the backend.

use crate::{ClusterId, KindKey};

/// A Kubernetes call a plugin makes.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeRequest {
    pub verb: KubeVerb,
    /// The context's cluster when the plugin names none.
    pub cluster: Option<ClusterId>,
    pub kind: KindKey,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// A merge patch.
    pub patch: Option<serde_json::Value>,
    pub label_selector: Option<String>,
    /// Objects listed at most (and log lines from the end).
    pub limit: usize,
    pub container: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeVerb {
    Get,
    List,
    Patch,
    Delete,
    Logs,
    /// Server-side apply of `patch` (the whole object): creates it or updates the fields it
    /// names, as Klieg's field manager for the plugin.
    Apply,
}

impl KubeVerb {
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::Logs => "logs",
            Self::Apply => "apply",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

/// A command a plugin runs from a handler: the program and its arguments (no shell), with the
/// kubeconfig of `cluster` as `KUBECONFIG`.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRequest {
    pub argv: Vec<String>,
    pub cluster: Option<ClusterId>,
}

/// How a command ended: its exit code (none when killed) and what it printed.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOutput {
    pub code: Option<i32>,
    pub output: String,
}
