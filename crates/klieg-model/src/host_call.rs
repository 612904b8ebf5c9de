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
}

impl KubeVerb {
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::Logs => "logs",
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
