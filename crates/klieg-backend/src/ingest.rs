//! The row store of one (cluster, kind) subscription: applies watcher events and publishes
//! unsorted snapshots at most five times a second. Runs as a task on the backend runtime.

use super::table_watch::{TableEvent, run_table_watch};
use klieg_model::registry::{ColumnSetSpec, ColumnValues, RowInput};
use klieg_model::{Cell, ClusterId, Column, ResourceKind, Row, ViewStatus};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(200);
const EVENT_QUEUE_LEN: usize = 4096;

/// The latest rows of one subscription, in no particular order.
#[derive(Debug, Clone)]
pub struct SubscriptionRows {
    pub generation: u64,
    pub columns: Arc<[Column]>,
    pub rows: Arc<[Arc<Row>]>,
    pub status: ViewStatus,
}

type RowId = (Option<Arc<str>>, Arc<str>);
type RowMap = HashMap<RowId, Arc<Row>>;

/// Rows by namespace and name. A relist fills `pending` and swaps it in whole at `InitDone`,
/// so the table never flashes empty and stale rows vanish together.
#[derive(Debug)]
pub struct RowStore {
    columns: Arc<[Column]>,
    live: HashMap<RowId, Arc<Row>>,
    pending: Option<(Arc<[Column]>, RowMap)>,
    status: ViewStatus,
    generation: u64,
    dirty: bool,
}

impl Default for RowStore {
    fn default() -> Self {
        Self {
            columns: Arc::from(Vec::new()),
            live: HashMap::new(),
            pending: None,
            status: ViewStatus::Loading,
            generation: 0,
            dirty: false,
        }
    }
}

fn row_id(row: &Row) -> RowId {
    (row.key.namespace.clone(), row.key.name.clone())
}

impl RowStore {
    pub fn apply(&mut self, event: TableEvent) {
        match event {
            TableEvent::Init(columns) => self.pending = Some((columns, HashMap::new())),
            TableEvent::InitRow(row) => {
                if let Some((_, pending)) = &mut self.pending {
                    pending.insert(row_id(&row), Arc::new(row));
                }
            }
            TableEvent::InitDone => {
                if let Some((columns, rows)) = self.pending.take() {
                    self.columns = columns;
                    self.live = rows;
                }
                self.status = ViewStatus::Live;
                self.dirty = true;
            }
            TableEvent::Apply(row) => {
                let id = row_id(&row);
                // Identical rows (bookmarks re-sent, no-op updates) cost no publish.
                if self.live.get(&id).is_none_or(|old| **old != row) {
                    self.live.insert(id, Arc::new(row));
                    self.dirty = true;
                }
                if self.status != ViewStatus::Live {
                    self.status = ViewStatus::Live;
                    self.dirty = true;
                }
            }
            TableEvent::Delete(key) => {
                if self.live.remove(&(key.namespace, key.name)).is_some() {
                    self.dirty = true;
                }
            }
            TableEvent::Forbidden(message) => {
                self.pending = None;
                self.status = ViewStatus::Forbidden(message);
                self.dirty = true;
            }
            TableEvent::Failed(message) => {
                self.pending = None;
                self.status = ViewStatus::Error(message);
                self.dirty = true;
            }
            TableEvent::Batch(events) => {
                for event in events {
                    self.apply(event);
                }
            }
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Takes a snapshot and clears the dirty mark.
    pub fn snapshot(&mut self) -> SubscriptionRows {
        self.dirty = false;
        self.generation += 1;
        SubscriptionRows {
            generation: self.generation,
            columns: self.columns.clone(),
            rows: self.live.values().cloned().collect(),
            status: self.status.clone(),
        }
    }
}

/// A live subscription; dropping it stops its watch.
pub struct Subscription {
    pub rows: watch::Receiver<Arc<SubscriptionRows>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Subscription {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts watching `kind` on `cluster`; `changed` is notified after every publish.
/// Watches `kind` on `cluster`, in `namespace` or across all namespaces.
pub fn subscribe(
    client: kube::Client,
    cluster: ClusterId,
    kind: ResourceKind,
    namespace: Option<Arc<str>>,
    lists: Arc<tokio::sync::Semaphore>,
    changed: Arc<Notify>,
    column_sets: Arc<[ColumnSetSpec]>,
) -> Subscription {
    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE_LEN);
    let (rows_tx, rows_rx) = watch::channel(Arc::new(RowStore::default().snapshot()));
    let with_objects = column_sets.iter().any(|set| set.needs_object);
    let watch_task = tokio::spawn(run_table_watch(client, cluster, kind, namespace, lists, event_tx, with_objects));
    let ingest_task = tokio::spawn(ingest_loop(event_rx, rows_tx, changed, column_sets));
    Subscription { rows: rows_rx, tasks: [watch_task, ingest_task] }
}

/// Adds the registered column sets' columns and cells to what the server sent: computed once
/// per row as it arrives, so drawing and sorting never compute a cell.
pub fn with_column_sets(event: TableEvent, sets: &[ColumnSetSpec]) -> TableEvent {
    if sets.is_empty() {
        return event;
    }
    match event {
        TableEvent::Init(columns) => {
            let added = sets.iter().flat_map(|set| set.columns.iter().cloned());
            TableEvent::Init(columns.iter().cloned().chain(added).collect())
        }
        TableEvent::InitRow(row) => TableEvent::InitRow(with_cells(row, sets)),
        TableEvent::Apply(row) => TableEvent::Apply(with_cells(row, sets)),
        TableEvent::Batch(events) => {
            TableEvent::Batch(events.into_iter().map(|event| with_column_sets(event, sets)).collect())
        }
        other => other,
    }
}

fn with_cells(mut row: Row, sets: &[ColumnSetSpec]) -> Row {
    let object = row.object.take();
    let mut cells = std::mem::take(&mut row.cells).into_vec();
    let server_cells = cells.len();
    for set in sets {
        let input = RowInput {
            name: &row.key.name,
            namespace: row.key.namespace.as_deref(),
            labels: row.labels.as_slice(),
            cells: &cells[..server_cells],
            object: object.as_deref(),
        };
        let ColumnValues::Row(build) = &set.values else { continue };
        // A set whose builder panics shows empty cells; the other sets and the rows stay.
        let mut computed = klieg_model::registry::run_guarded(|| build(&input)).unwrap_or_default();
        computed.resize(set.columns.len(), Cell::Empty);
        cells.extend(computed);
    }
    row.cells = cells.into_boxed_slice();
    row
}

async fn ingest_loop(
    mut events: mpsc::Receiver<TableEvent>,
    rows: watch::Sender<Arc<SubscriptionRows>>,
    changed: Arc<Notify>,
    column_sets: Arc<[ColumnSetSpec]>,
) {
    let mut store = RowStore::default();
    let mut last_publish = Instant::now() - PUBLISH_INTERVAL;
    loop {
        let publish_at = last_publish + PUBLISH_INTERVAL;
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return };
                store.apply(with_column_sets(event, &column_sets));
                // Apply whatever else is queued before considering a publish.
                while let Ok(event) = events.try_recv() {
                    store.apply(with_column_sets(event, &column_sets));
                }
            }
            _ = tokio::time::sleep_until(publish_at), if store.is_dirty() => {}
        }
        if store.is_dirty() && Instant::now() >= last_publish + PUBLISH_INTERVAL {
            rows.send_replace(Arc::new(store.snapshot()));
            last_publish = Instant::now();
            changed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klieg_model::{Cell, CellTone, ObjectKey};

    fn row(name: &str, status: &str) -> Row {
        Row {
            key: ObjectKey { cluster: ClusterId::new("c"), namespace: Some(Arc::from("ns")), name: Arc::from(name) },
            uid: Arc::from(name),
            resource_version: Arc::from("1"),
            cells: vec![Cell::Text(Arc::from(status), CellTone::Normal)].into_boxed_slice(),
            labels: klieg_model::row::Labels::default(),
            created_unix_secs: None,
            object: None,
        }
    }

    fn names(snapshot: &SubscriptionRows) -> Vec<String> {
        let mut names: Vec<String> = snapshot.rows.iter().map(|r| r.key.name.to_string()).collect();
        names.sort();
        names
    }

    #[test]
    fn relist_swaps_in_whole_and_never_shows_a_half_list() {
        let mut store = RowStore::default();
        store.apply(TableEvent::Init(Arc::from(Vec::new())));
        store.apply(TableEvent::InitRow(row("a", "x")));
        store.apply(TableEvent::InitRow(row("b", "x")));
        store.apply(TableEvent::InitDone);
        assert_eq!(names(&store.snapshot()), ["a", "b"]);

        // A relist after 410: until InitDone the old rows stay.
        store.apply(TableEvent::Init(Arc::from(Vec::new())));
        store.apply(TableEvent::InitRow(row("b", "y")));
        assert!(!store.is_dirty());
        assert_eq!(names(&store.snapshot()), ["a", "b"]);
        store.apply(TableEvent::InitRow(row("c", "y")));
        store.apply(TableEvent::InitDone);
        assert_eq!(names(&store.snapshot()), ["b", "c"]);
    }

    #[test]
    fn apply_and_delete_mark_changes_once() {
        let mut store = RowStore::default();
        store.apply(TableEvent::Init(Arc::from(Vec::new())));
        store.apply(TableEvent::InitDone);
        store.snapshot();
        store.apply(TableEvent::Apply(row("a", "Pending")));
        assert!(store.is_dirty());
        store.snapshot();
        store.apply(TableEvent::Apply(row("a", "Pending")));
        assert!(!store.is_dirty(), "an identical row is no change");
        store.apply(TableEvent::Delete(row("a", "").key));
        assert!(store.is_dirty());
        assert!(store.snapshot().rows.is_empty());
    }

    #[test]
    fn a_batch_applies_like_its_events_one_by_one() {
        let mut store = RowStore::default();
        store.apply(TableEvent::Batch(vec![
            TableEvent::Init(Arc::from(Vec::new())),
            TableEvent::InitRow(row("a", "x")),
            TableEvent::InitRow(row("b", "x")),
            TableEvent::InitDone,
        ]));
        let batch = TableEvent::Batch(vec![TableEvent::Apply(row("c", "y")), TableEvent::Delete(row("a", "").key)]);
        assert_eq!(batch.changes(), 2);
        store.apply(batch);
        assert_eq!(names(&store.snapshot()), ["b", "c"]);
    }

    #[test]
    fn failures_keep_rows_and_report_the_error() {
        let mut store = RowStore::default();
        store.apply(TableEvent::Init(Arc::from(Vec::new())));
        store.apply(TableEvent::InitRow(row("a", "x")));
        store.apply(TableEvent::InitDone);
        store.apply(TableEvent::Failed(Arc::from("connection refused")));
        let snapshot = store.snapshot();
        assert_eq!(snapshot.rows.len(), 1);
        assert_eq!(snapshot.status, ViewStatus::Error(Arc::from("connection refused")));
    }
}
