//! Pure data shared by the UI thread and the backend runtime: ids, kinds, rows, snapshots, and
//! the registries every kind-specific feature goes through.
//! No egui, no tokio, no I/O; safe to use from any thread.

mod access;
mod actions;
pub mod diff;
mod fleet;
mod forwards;
pub mod host_call;
mod kind;
mod logs;
pub mod prometheus;
pub mod registry;
pub mod row;
pub mod search;
mod selector;
mod terminal;
pub mod usage;

pub use access::{AccessRule, AccessRules, AccessScope, BulkAccess, ObjectAccess, Permission};
pub use actions::{Action, Activity, ActivityLog, EditRequest, Outcome, Propagation, Target};
pub use fleet::{
    AddCluster, ClusterErrorKind, ClusterInfo, ClusterMode, ClusterState, Command, ConditionRow, DetailsSnapshot,
    EventRow, FleetSnapshot, RelatedLink, SortColumn, ViewQuery,
};
pub use forwards::{ForwardInfo, ForwardList, ForwardRequest, ForwardState};
pub use kind::{Category, KindKey, ResourceKind, Scope};
pub use logs::{CHUNK_LINES, LogBuffer, LogLine, LogQuery, LogSnapshot};
pub use prometheus::{ChartData, ChartQuery, ChartRequest, ChartSet, ChartSubject, ChartUnit, PrometheusSource};
pub use registry::{ActionCall, InputValue, LiveRegistry, Registry, Text};
pub use row::{Cell, CellTone, Column, ColumnType, ObjectKey, Row, SortKey, TableSnapshot, ViewStatus, now_unix_secs};
pub use selector::{LabelSelector, SelectorError};
pub use terminal::{ExecRequest, TermColor, TermSpan, TerminalList, TerminalView};
pub use usage::{
    ClusterOverview, OverviewSnapshot, ResourceTotals, Usage, UsageHistory, UsageKind, UsageSample, UsageTable,
};

use std::fmt;
use std::sync::Arc;

/// A cluster is identified by its kubeconfig context name, unique after merging.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ClusterId(pub Arc<str>);

impl ClusterId {
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
