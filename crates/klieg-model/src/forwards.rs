//! Port-forwards: what the UI asks to forward and the live list of forwards. Pure data.

use super::Target;
use std::sync::Arc;

/// Forward a local port to a pod's port, or to a Service's port (through one of its pods).
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardRequest {
    pub target: Target,
    /// The pod's container port, or the Service's port.
    pub remote_port: u16,
    /// `None` picks a free port.
    pub local_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ForwardState {
    Starting,
    Listening,
    /// The last connection failed; the next one tries again (re-resolving a Service's pod).
    Degraded {
        error: Arc<str>,
    },
    Failed {
        error: Arc<str>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForwardInfo {
    pub id: u64,
    pub request: ForwardRequest,
    pub local_port: Option<u16>,
    /// The pod connections go to (for a Service, the one picked last).
    pub pod: Option<Arc<str>>,
    pub pod_port: Option<u16>,
    pub state: ForwardState,
    pub connections: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ForwardList {
    pub generation: u64,
    pub forwards: Vec<ForwardInfo>,
}
