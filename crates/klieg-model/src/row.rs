//! Table rows with pre-formatted cells and sort keys, and the snapshots the UI draws.

use super::{ClusterId, ResourceKind};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where an object lives: cluster, namespace (none for cluster-scoped kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ObjectKey {
    pub cluster: ClusterId,
    pub namespace: Option<Arc<str>>,
    pub name: Arc<str>,
}

/// The type a server's Table column declares (`string`, `integer`, `number`, `boolean`, `date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ColumnType {
    Text,
    Integer,
    Number,
    Boolean,
    Date,
}

impl ColumnType {
    pub fn from_openapi(kind: &str, format: &str) -> Self {
        match (kind, format) {
            (_, "date") | (_, "date-time") | ("date", _) => ColumnType::Date,
            ("integer", _) => ColumnType::Integer,
            ("number", _) => ColumnType::Number,
            ("boolean", _) => ColumnType::Boolean,
            _ => ColumnType::Text,
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    pub name: Arc<str>,
    pub description: Arc<str>,
    pub column_type: ColumnType,
    /// 0 for the columns `kubectl get` shows; higher ones appear in the wide view.
    pub priority: i32,
    /// Age columns are recomputed from the creation time at draw time, so they stay current.
    pub is_age: bool,
}

/// How a cell should be coloured; the UI maps tones to theme colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CellTone {
    Normal,
    Good,
    Warning,
    Bad,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Cell {
    Text(Arc<str>, CellTone),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    /// Seconds since the Unix epoch of the object's creation; drawn as a live age.
    Age(i64),
    /// A measured value shown formatted (`250m`, `48%`), sorted by the value.
    Measure(f64, Arc<str>, CellTone),
    Empty,
}

/// A comparable key; text compares in natural order so `pod-10` sorts after `pod-9`.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
}

impl Cell {
    pub fn sort_key(&self) -> SortKey<'_> {
        match self {
            Cell::Text(text, _) => SortKey::Text(text),
            Cell::Integer(value) => SortKey::Number(*value as f64),
            Cell::Number(value) => SortKey::Number(*value),
            Cell::Boolean(value) => SortKey::Number(f64::from(u8::from(*value))),
            // Older objects have a larger age: sort by negated creation time.
            Cell::Age(created_secs) => SortKey::Number(-(*created_secs as f64)),
            Cell::Measure(value, _, _) => SortKey::Number(*value),
            Cell::Empty => SortKey::Missing,
        }
    }

    pub fn tone(&self) -> CellTone {
        match self {
            Cell::Text(_, tone) | Cell::Measure(_, _, tone) => *tone,
            _ => CellTone::Normal,
        }
    }

    /// Text of the cell; ages are formatted relative to `now_unix_secs`.
    pub fn display(&self, now_unix_secs: i64) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Cell::Text(text, _) | Cell::Measure(_, text, _) => Cow::Borrowed(text),
            Cell::Integer(value) => Cow::Owned(value.to_string()),
            Cell::Number(value) => Cow::Owned(format!("{value}")),
            Cell::Boolean(value) => Cow::Borrowed(if *value { "true" } else { "false" }),
            Cell::Age(created_secs) => Cow::Owned(format_age(now_unix_secs - created_secs)),
            Cell::Empty => Cow::Borrowed(""),
        }
    }
}

impl SortKey<'_> {
    pub fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Missing, SortKey::Missing) => Ordering::Equal,
            (SortKey::Missing, _) => Ordering::Greater,
            (_, SortKey::Missing) => Ordering::Less,
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Number(_), SortKey::Text(_)) => Ordering::Less,
            (SortKey::Text(_), SortKey::Number(_)) => Ordering::Greater,
            (SortKey::Text(a), SortKey::Text(b)) => natural_cmp(a, b),
        }
    }
}

/// Compares strings with runs of digits taken as numbers: `a2 < a10`, `2/3 < 10/10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let a_len = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let b_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (a_num, b_num) = (trim_zeros(&a[..a_len]), trim_zeros(&b[..b_len]));
                let order = a_num.len().cmp(&b_num.len()).then_with(|| a_num.cmp(b_num));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[a_len..];
                b = &b[b_len..];
            }
            (Some(x), Some(y)) => {
                let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()).then(x.cmp(y));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|d| **d == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

/// kubectl's short age format: `45s`, `12m`, `5h3m`, `3d4h`, `400d`.
/// The wall clock in Unix seconds, as ages and cache times are measured.
pub fn now_unix_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub fn format_age(age_secs: i64) -> String {
    let secs = age_secs.max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 { format!("{h}h") } else { format!("{h}h{m}m") }
        }
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => {
            let (d, h) = (s / 86400, (s % 86400) / 3600);
            if h == 0 { format!("{d}d") } else { format!("{d}d{h}h") }
        }
        s => format!("{}d", s / 86400),
    }
}

/// One object as a table row. Rebuilt only when its object changes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub key: ObjectKey,
    pub uid: Arc<str>,
    pub resource_version: Arc<str>,
    /// Aligned with the columns of the cluster the row came from.
    pub cells: Box<[Cell]>,
    pub labels: Labels,
    pub created_unix_secs: Option<i64>,
    /// The object's spec, status and data while the row is ingested, for column sets that
    /// compute cells from them; dropped once they have (never kept, never cached).
    #[serde(skip)]
    pub object: Option<Arc<serde_json::Value>>,
}

/// An object's labels, sorted by key, in one allocation (a map's node would take several
/// hundred bytes per row for the usual two or three labels).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Labels(Box<[(Arc<str>, Arc<str>)]>);

impl Labels {
    pub fn as_slice(&self) -> &[(Arc<str>, Arc<str>)] {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&Arc<str>> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key)).ok().map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<str>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(Arc<str>, Arc<str>)> for Labels {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Arc<str>)>>(pairs: I) -> Self {
        let mut pairs: Vec<(Arc<str>, Arc<str>)> = pairs.into_iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, earlier| later.0 == earlier.0);
        Labels(pairs.into_boxed_slice())
    }
}

/// Per-cluster state of a table view, shown above the table.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewStatus {
    Loading,
    Live,
    /// Watching failed; the worker retries with backoff. Rows shown are the last good ones.
    Error(Arc<str>),
    /// The kind does not exist on this cluster.
    Unavailable,
    /// The user may not list this kind across all namespaces; the view falls back to the
    /// namespaces the user works in (the context's, the ones selected).
    Forbidden(Arc<str>),
    /// Rows from the offline cache, saved at this time (Unix seconds); the watch has not
    /// caught up yet, or the cluster is off or unreachable.
    Stale {
        saved_unix_secs: i64,
    },
    /// The cluster is paused: rows as they were when it was paused (or as last cached).
    Paused,
}

/// What the UI draws for one table view; replaced whole on every change.
#[derive(Clone, Debug, Default)]
pub struct TableSnapshot {
    pub generation: u64,
    pub kind: Option<ResourceKind>,
    /// Union of the columns of all clusters in the view, in first-seen order.
    pub columns: Arc<[Column]>,
    /// For each cluster, where each view column is found in that cluster's rows.
    pub column_maps: BTreeMap<ClusterId, Arc<[Option<usize>]>>,
    pub rows: Arc<[Arc<Row>]>,
    pub status: BTreeMap<ClusterId, ViewStatus>,
    /// Rows in the selected namespaces, before the text and label filters.
    pub unfiltered_rows: usize,
    /// Usage columns (pods and nodes, from metrics-server) start at this column, after the
    /// server's; their cells come from `usage`, per cluster, by namespace and name.
    pub usage_from: Option<usize>,
    pub usage: BTreeMap<ClusterId, Arc<super::UsageTable>>,
}

impl TableSnapshot {
    /// Every cluster in the view is watched live (none loading, stale, paused or failing).
    pub fn is_live(&self) -> bool {
        !self.status.is_empty() && self.status.values().all(|s| *s == ViewStatus::Live)
    }

    /// The cell of `row` under view column `column`, if that row's cluster has the column.
    pub fn cell<'a>(&'a self, row: &'a Row, column: usize) -> &'a Cell {
        static EMPTY: Cell = Cell::Empty;
        if let Some(from) = self.usage_from
            && column >= from
        {
            let key = (row.key.namespace.clone(), row.key.name.clone());
            return self
                .usage
                .get(&row.key.cluster)
                .and_then(|usage| usage.cells.get(&key))
                .and_then(|cells| cells.get(column - from))
                .unwrap_or(&EMPTY);
        }
        self.column_maps
            .get(&row.key.cluster)
            .and_then(|map| map.get(column).copied().flatten())
            .and_then(|index| row.cells.get(index))
            .unwrap_or(&EMPTY)
    }

    pub fn show_cluster_column(&self) -> bool {
        self.status.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        assert_eq!(natural_cmp("pod-9", "pod-10"), Ordering::Less);
        assert_eq!(natural_cmp("2/3", "10/10"), Ordering::Less);
        assert_eq!(natural_cmp("web-007", "web-7"), Ordering::Equal.then(Ordering::Equal));
        assert_eq!(natural_cmp("Alpha", "beta"), Ordering::Less);
        assert_eq!(natural_cmp("abc", "abcd"), Ordering::Less);
    }

    #[test]
    fn ages_follow_kubectl_format() {
        assert_eq!(format_age(5), "5s");
        assert_eq!(format_age(600), "10m");
        assert_eq!(format_age(3 * 3600 + 120), "3h2m");
        assert_eq!(format_age(30 * 3600), "30h");
        assert_eq!(format_age(3 * 86400 + 7200), "3d2h");
        assert_eq!(format_age(400 * 86400), "400d");
    }

    #[test]
    fn missing_cells_sort_last_and_ages_sort_oldest_first_when_descending() {
        let young = Cell::Age(2_000);
        let old = Cell::Age(1_000);
        assert_eq!(old.sort_key().compare(&young.sort_key()), Ordering::Greater);
        assert_eq!(Cell::Empty.sort_key().compare(&Cell::Integer(1).sort_key()), Ordering::Greater);
    }
}
