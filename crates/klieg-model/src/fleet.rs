//! What the backend tells the UI about clusters and open objects, and what the UI asks of it.

use super::{ClusterId, KindKey, ObjectKey, ResourceKind};
use std::sync::Arc;

/// Why a cluster is not usable; the UI shows a translated title and the detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterErrorKind {
    /// The kubeconfig file could not be read or parsed.
    MalformedKubeconfig,
    /// The context, its cluster or its user is missing or incomplete.
    InvalidContext,
    /// A certificate, key or token file named by the kubeconfig is missing or unreadable.
    MissingFile,
    /// No connection could be made (DNS, refused, timeout, TLS).
    Unreachable,
    /// The server rejected the credentials (401).
    Unauthorized,
    /// The exec credential plugin is missing, failed or returned garbage.
    ExecPlugin,
    Other,
}

impl ClusterErrorKind {
    pub fn label_key(self) -> &'static str {
        match self {
            ClusterErrorKind::MalformedKubeconfig => "error.malformed_kubeconfig",
            ClusterErrorKind::InvalidContext => "error.invalid_context",
            ClusterErrorKind::MissingFile => "error.missing_file",
            ClusterErrorKind::Unreachable => "error.unreachable",
            ClusterErrorKind::Unauthorized => "error.unauthorized",
            ClusterErrorKind::ExecPlugin => "error.exec_plugin",
            ClusterErrorKind::Other => "error.other",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClusterState {
    /// Switched off by the user: no connection, cached rows only.
    Off,
    Connecting,
    Connected {
        server_version: Arc<str>,
    },
    Failed {
        kind: ClusterErrorKind,
        detail: Arc<str>,
    },
    /// Its credentials come from an exec plugin the user has not approved: nothing runs until
    /// they do (`Command::SetApprovedExec`).
    NeedsApproval {
        /// The command line to run, as the user reads it (environment values left out).
        command: Arc<str>,
        /// What approving it saves: bound to the command, its environment, the context and
        /// the server.
        approval: Arc<str>,
    },
}

/// What the user wants of a cluster: watched live, connected with its tables frozen, or not
/// connected at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ClusterMode {
    #[default]
    Live,
    Paused,
    Off,
}

impl ClusterMode {
    pub const ALL: [ClusterMode; 3] = [ClusterMode::Live, ClusterMode::Paused, ClusterMode::Off];

    pub fn label_key(self) -> &'static str {
        match self {
            ClusterMode::Live => "cluster.mode_live",
            ClusterMode::Paused => "cluster.mode_paused",
            ClusterMode::Off => "cluster.mode_off",
        }
    }
}

/// One kubeconfig context as the sidebar shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterInfo {
    pub id: ClusterId,
    /// The kubeconfig file the context came from.
    pub source: Arc<str>,
    pub server_url: Option<Arc<str>>,
    pub default_namespace: Option<Arc<str>>,
    pub insecure_tls: bool,
    pub is_current_context: bool,
    /// Added in Klieg (its secrets in the keyring): it can be removed from Klieg.
    pub added_in_klieg: bool,
    pub state: ClusterState,
    pub mode: ClusterMode,
    /// Listable kinds from discovery, sorted by kind name (the offline cache's until connected).
    pub kinds: Arc<[ResourceKind]>,
    pub namespaces: Arc<[Arc<str>]>,
    /// What the user may do in the context's namespace (cluster-wide rules included), from a
    /// SelfSubjectRulesReview refreshed every minute; `None` until the server answered.
    pub access: Option<Arc<super::AccessRules>>,
}

/// All clusters, in kubeconfig order.
#[derive(Clone, Debug, Default)]
pub struct FleetSnapshot {
    pub generation: u64,
    pub clusters: Arc<[ClusterInfo]>,
}

impl FleetSnapshot {
    pub fn cluster(&self, id: &ClusterId) -> Option<&ClusterInfo> {
        self.clusters.iter().find(|c| &c.id == id)
    }
}

/// Sort order of a table view: a column index into the view's columns, or the cluster column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortColumn {
    #[default]
    Name,
    Cluster,
    Namespace,
    Column(usize),
}

/// Everything that decides which rows a table view shows and in what order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewQuery {
    pub clusters: Vec<ClusterId>,
    pub kind: Option<KindKey>,
    /// Empty means all namespaces.
    pub namespaces: Vec<Arc<str>>,
    pub text_filter: String,
    pub label_selector: String,
    pub sort: SortColumn,
    pub sort_descending: bool,
}

/// What happens once, from the UI (actions, edits, terminal input, forwards, cluster changes);
/// sent with `try_send`, so the UI never waits. What the UI looks at is asked through feeds
/// instead (the backend's `feed` module).
#[derive(Clone, Debug)]
pub enum Command {
    /// Live, paused or off, per cluster; clusters not named are live.
    SetClusterModes(std::collections::BTreeMap<ClusterId, ClusterMode>),
    /// The exec credential plugins the user approved (`ClusterState::NeedsApproval::approval`
    /// keys); a cluster waiting for one of them connects.
    SetApprovedExec(std::collections::BTreeSet<String>),
    /// Re-read every kubeconfig file now (files are also watched for changes).
    ReloadKubeconfig,
    /// Run an action on each target (several clusters at once for bulk actions).
    Act {
        request_id: u64,
        targets: Vec<super::Target>,
        action: super::ActionCall,
    },
    /// Apply or create YAML.
    Edit {
        request_id: u64,
        request: super::EditRequest,
    },
    /// Write the lines received so far to a file in the downloads folder.
    SaveLogs {
        request_id: u64,
    },
    /// Start a port-forward; `id` is chosen by the UI.
    StartForward {
        id: u64,
        request: super::ForwardRequest,
    },
    StopForward {
        id: u64,
    },
    /// Start an exec terminal; `id` is chosen by the UI.
    OpenTerminal {
        id: u64,
        request: super::ExecRequest,
    },
    /// Keystrokes for a terminal, as the bytes a terminal sends.
    TerminalInput {
        id: u64,
        bytes: Vec<u8>,
    },
    ResizeTerminal {
        id: u64,
        rows: u16,
        cols: u16,
    },
    /// Moves a terminal's view into its scrollback (positive: older lines) or back; typing
    /// returns it to the live screen.
    ScrollTerminal {
        id: u64,
        lines: i32,
    },
    CloseTerminal {
        id: u64,
    },
    /// Add clusters to Klieg's own kubeconfig, their secrets to the OS keyring.
    AddClusters {
        request_id: u64,
        request: AddCluster,
    },
    /// Remove a cluster added in Klieg, and its keyring entry.
    RemoveCluster {
        request_id: u64,
        name: String,
    },
}

/// A cluster to add. Its `Debug` never prints a secret.
#[derive(Clone, PartialEq)]
pub enum AddCluster {
    /// A pasted kubeconfig: every context in it is added.
    Kubeconfig { yaml: String },
    /// A server URL, an optional CA certificate (PEM) and a bearer token.
    Token { name: String, server: String, ca_pem: String, token: String, insecure: bool },
}

impl std::fmt::Debug for AddCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddCluster::Kubeconfig { yaml } => write!(f, "Kubeconfig {{ {} bytes }}", yaml.len()),
            AddCluster::Token { name, server, insecure, .. } => {
                write!(f, "Token {{ name: {name:?}, server: {server:?}, insecure: {insecure}, token: <redacted> }}")
            }
        }
    }
}

/// An object's key facts and views, fetched when it is opened and kept live while open.
#[derive(Clone, Debug, Default)]
pub struct DetailsSnapshot {
    pub generation: u64,
    pub key: Option<ObjectKey>,
    pub kind: Option<ResourceKind>,
    pub loading: bool,
    pub error: Option<Arc<str>>,
    /// The object's cluster is not connected, or no longer serves its kind.
    pub unavailable: bool,
    pub deleted: bool,
    pub uid: Arc<str>,
    pub created: Option<Arc<str>>,
    pub resource_version: Arc<str>,
    pub labels: Vec<(Arc<str>, Arc<str>)>,
    pub annotations: Vec<(Arc<str>, Arc<str>)>,
    /// Objects this one points at (owners, its node, what it mounts), from the registered
    /// relation providers, resolved to kinds the cluster serves.
    pub related: Vec<RelatedLink>,
    pub conditions: Vec<ConditionRow>,
    pub events: Vec<EventRow>,
    /// YAML with Secret values replaced by a mask.
    pub masked_yaml: Arc<str>,
    /// YAML as the server returned it (managedFields stripped). Equal to `masked_yaml` except for Secrets.
    pub yaml: Arc<str>,
    /// The registered sections that have something to show for the object, in order (a
    /// Secret's values, masked until revealed; a ConfigMap's data; an extension's).
    pub sections: Vec<crate::registry::Section>,
    /// A pod's first container port or a Service's first port, to suggest for port-forwards.
    pub first_port: Option<u16>,
    /// What the user may do with the object; `None` until the server answered.
    pub access: Option<Arc<super::ObjectAccess>>,
}

/// A related object the details pane links to.
#[derive(Clone, Debug, PartialEq)]
pub struct RelatedLink {
    pub kind: KindKey,
    pub kind_name: Arc<str>,
    pub key: ObjectKey,
    pub label: crate::registry::Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConditionRow {
    pub condition_type: Arc<str>,
    pub status: Arc<str>,
    pub reason: Arc<str>,
    pub message: Arc<str>,
    pub last_transition: Arc<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub event_type: Arc<str>,
    pub reason: Arc<str>,
    pub message: Arc<str>,
    pub count: i64,
    pub last_seen_unix_secs: Option<i64>,
    pub source: Arc<str>,
}

impl EventRow {
    pub fn is_warning(&self) -> bool {
        &*self.event_type == "Warning"
    }
}
