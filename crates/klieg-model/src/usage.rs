//! Resource usage: Kubernetes quantities parsed and formatted, the usage columns merged into pod
//! and node tables (usage against request and limit, or against allocatable), and the rolling
//! usage history charted for one open object. Pure data; any thread.

use super::{Cell, CellTone, Column, ColumnType};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A quantity (`250m`, `1.5`, `128Mi`, `1G`, `123456n`, `1e3`) in base units: cores or bytes.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E').unwrap_or(text.len());
    let (mut number, mut suffix) = text.split_at(split);
    // A trailing `E` is the exa suffix, not an exponent with its digits missing.
    if suffix.is_empty() && number.ends_with('E') && number[..number.len() - 1].parse::<f64>().is_ok() {
        (number, suffix) = number.split_at(number.len() - 1);
    }
    let value: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        _ => return None,
    };
    Some(value * scale).filter(|v| v.is_finite())
}

/// CPU as kubectl shows it: millicores below ten cores (`250m`), else cores (`12.5`).
pub fn format_cores(cores: f64) -> String {
    if cores < 10.0 { format!("{}m", (cores * 1000.0).round() as i64) } else { format!("{:.1}", cores) }
}

/// Bytes in binary units with three significant digits: `512Ki`, `96.0Mi`, `1.25Gi`.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match value {
        v if unit == 0 => format!("{}", v.round() as i64),
        v if v >= 100.0 => format!("{v:.0}{}", UNITS[unit]),
        v if v >= 10.0 => format!("{v:.1}{}", UNITS[unit]),
        v => format!("{v:.2}{}", UNITS[unit]),
    }
}

/// CPU and memory of one object: usage, and what it is measured against.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub cpu_cores: f64,
    pub memory_bytes: f64,
    /// Pods: the sums of their containers' requests and limits (`None` when a container has none,
    /// for limits: then the pod is unlimited). Nodes: allocatable, as the request and the limit.
    pub cpu_request_cores: Option<f64>,
    pub cpu_limit_cores: Option<f64>,
    pub memory_request_bytes: Option<f64>,
    pub memory_limit_bytes: Option<f64>,
}

/// Which usage columns a table gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageKind {
    Pods,
    Nodes,
}

impl UsageKind {
    /// The resource metrics-server measures (`pods`, `nodes`, in `metrics.k8s.io`).
    pub fn plural(self) -> &'static str {
        match self {
            Self::Pods => "pods",
            Self::Nodes => "nodes",
        }
    }

    /// Column titles (k9s's abbreviations) and translation keys of their descriptions: usage,
    /// then percent of request and of limit (pods) or of allocatable (nodes).
    pub fn columns(self) -> Vec<Column> {
        let column = |name: &str, description: &str| Column {
            name: Arc::from(name),
            description: Arc::from(description),
            column_type: ColumnType::Number,
            priority: 0,
            is_age: false,
        };
        match self {
            Self::Pods => vec![
                column("CPU", "usage.cpu"),
                column("%CPU/R", "usage.cpu_of_requests"),
                column("%CPU/L", "usage.cpu_of_limits"),
                column("MEM", "usage.memory"),
                column("%MEM/R", "usage.memory_of_requests"),
                column("%MEM/L", "usage.memory_of_limits"),
            ],
            Self::Nodes => vec![
                column("CPU", "usage.cpu"),
                column("%CPU", "usage.cpu_of_allocatable"),
                column("MEM", "usage.memory"),
                column("%MEM", "usage.memory_of_allocatable"),
            ],
        }
    }

    /// The cells for `usage`, aligned with `columns`.
    pub fn cells(self, usage: &Usage) -> Box<[Cell]> {
        let cpu = Cell::Measure(usage.cpu_cores, Arc::from(format_cores(usage.cpu_cores)), CellTone::Normal);
        let memory = Cell::Measure(usage.memory_bytes, Arc::from(format_bytes(usage.memory_bytes)), CellTone::Normal);
        match self {
            Self::Pods => Box::new([
                cpu,
                percent(usage.cpu_cores, usage.cpu_request_cores, false),
                percent(usage.cpu_cores, usage.cpu_limit_cores, true),
                memory,
                percent(usage.memory_bytes, usage.memory_request_bytes, false),
                percent(usage.memory_bytes, usage.memory_limit_bytes, true),
            ]),
            Self::Nodes => Box::new([
                cpu,
                percent(usage.cpu_cores, usage.cpu_request_cores, true),
                memory,
                percent(usage.memory_bytes, usage.memory_request_bytes, true),
            ]),
        }
    }
}

/// `used` as a percentage of `of`; against a limit, 90% and more is a warning and past 100% bad
/// (CPU throttled, memory about to be OOM-killed); past a request is only a warning.
fn percent(used: f64, of: Option<f64>, is_limit: bool) -> Cell {
    let Some(of) = of.filter(|of| *of > 0.0) else { return Cell::Empty };
    let value = used / of * 100.0;
    let tone = match (is_limit, value) {
        (true, v) if v >= 100.0 => CellTone::Bad,
        (true, v) if v >= 90.0 => CellTone::Warning,
        (false, v) if v > 100.0 => CellTone::Warning,
        _ => CellTone::Normal,
    };
    Cell::Measure(value, Arc::from(format!("{}%", value.round() as i64)), tone)
}

/// An object by namespace (none for nodes) and name, within one cluster.
pub type NameKey = (Option<Arc<str>>, Arc<str>);

/// One cluster's usage cells for a pod or node table, by (namespace, name).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageTable {
    /// The columns the cells are for.
    pub columns: Arc<[Column]>,
    pub cells: HashMap<NameKey, Box<[Cell]>>,
    /// Why the last poll failed; the cells are the last good ones.
    pub error: Option<Arc<str>>,
}

/// One sample of an object's usage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsageSample {
    pub at_unix_secs: f64,
    pub cpu_cores: f64,
    pub memory_bytes: f64,
}

/// How many samples a chart keeps: an hour at one sample per 10 seconds.
pub const USAGE_HISTORY_SAMPLES: usize = 360;

/// The rolling usage of the object open in details, kept only while it is open.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageHistory {
    pub generation: u64,
    pub key: Option<super::ObjectKey>,
    /// What is sampled (a pod's requests and limits, or a node's allocatable).
    pub kind: Option<UsageKind>,
    pub samples: VecDeque<UsageSample>,
    /// Requests, limits or allocatable as of the last sample.
    pub latest: Usage,
    pub error: Option<Arc<str>>,
}

impl UsageHistory {
    /// Appends a sample, dropping the oldest past `USAGE_HISTORY_SAMPLES`.
    pub fn push(&mut self, sample: UsageSample) {
        if self.samples.len() == USAGE_HISTORY_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }
}

/// One resource across a cluster: what the nodes have and what the pods ask for and use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResourceTotals {
    pub capacity: f64,
    pub allocatable: f64,
    /// Sums over the pods that are not finished.
    pub requests: f64,
    pub limits: f64,
    /// From metrics-server, where the cluster has it.
    pub usage: Option<f64>,
}

/// A cluster's capacity and allocations, for the overview.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterOverview {
    pub cluster: Option<super::ClusterId>,
    pub nodes: usize,
    pub ready_nodes: usize,
    /// Pods not finished, and how many the nodes allow.
    pub pods: usize,
    pub pod_capacity: f64,
    pub cpu: ResourceTotals,
    pub memory: ResourceTotals,
    pub error: Option<Arc<str>>,
}

/// The overview of the selected clusters, while it is shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverviewSnapshot {
    pub generation: u64,
    pub clusters: Vec<ClusterOverview>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_in_every_suffix() {
        let close = |text: &str, expected: f64| {
            let value = parse_quantity(text).unwrap_or_else(|| panic!("{text} parses"));
            assert!((value - expected).abs() <= expected.abs() * 1e-9, "{text}: {value} != {expected}");
        };
        close("250m", 0.25);
        close("1", 1.0);
        close("1.5", 1.5);
        close("123456789n", 0.123_456_789);
        close("500u", 0.0005);
        close("128Mi", 134_217_728.0);
        close("1Gi", 1_073_741_824.0);
        close("12345Ki", 12_641_280.0);
        close("1k", 1000.0);
        close("2M", 2e6);
        close("1e3", 1000.0);
        close("1.5E2", 150.0);
        close("2E", 2e18);
        assert_eq!(parse_quantity("lots"), None);
        assert_eq!(parse_quantity("5Qi"), None);
    }

    #[test]
    fn usage_formats_like_kubectl_top() {
        assert_eq!(format_cores(0.2504), "250m");
        assert_eq!(format_cores(12.46), "12.5");
        assert_eq!(format_bytes(512.0), "512");
        assert_eq!(format_bytes(134_217_728.0), "128Mi");
        assert_eq!(format_bytes(1.25 * 1024.0 * 1024.0 * 1024.0), "1.25Gi");
        assert_eq!(format_bytes(50.5 * 1024.0 * 1024.0), "50.5Mi");
    }

    #[test]
    fn pod_cells_measure_against_requests_and_limits() {
        let usage = Usage {
            cpu_cores: 0.475,
            memory_bytes: 300.0 * 1024.0 * 1024.0,
            cpu_request_cores: Some(0.25),
            cpu_limit_cores: Some(0.5),
            memory_request_bytes: Some(128.0 * 1024.0 * 1024.0),
            memory_limit_bytes: None,
        };
        let cells = UsageKind::Pods.cells(&usage);
        assert_eq!(cells.len(), UsageKind::Pods.columns().len());
        assert_eq!(cells[0].display(0), "475m");
        assert_eq!((cells[1].display(0).into_owned(), cells[1].tone()), ("190%".to_string(), CellTone::Warning));
        assert_eq!((cells[2].display(0).into_owned(), cells[2].tone()), ("95%".to_string(), CellTone::Warning));
        assert_eq!(cells[3].display(0), "300Mi");
        assert_eq!(cells[5], Cell::Empty, "no limit, no percentage");
        // Sorted by value, not by text.
        assert!(matches!(cells[1].sort_key(), crate::SortKey::Number(v) if (v - 190.0).abs() < 1e-9));
        let over = UsageKind::Nodes.cells(&Usage { cpu_cores: 4.2, cpu_request_cores: Some(4.0), ..usage });
        assert_eq!(over[1].tone(), CellTone::Bad);
    }

    #[test]
    fn history_is_bounded() {
        let mut history = UsageHistory::default();
        for i in 0..USAGE_HISTORY_SAMPLES + 5 {
            history.push(UsageSample { at_unix_secs: i as f64, cpu_cores: 0.0, memory_bytes: 0.0 });
        }
        assert_eq!(history.samples.len(), USAGE_HISTORY_SAMPLES);
        assert_eq!(history.samples.front().map(|s| s.at_unix_secs), Some(5.0));
    }
}
