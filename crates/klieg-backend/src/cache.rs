//! The offline cache: the last rows of each (cluster, kind, namespace) and each cluster's kinds
//! and namespaces, under `$XDG_CACHE_HOME/klieg/`, so a start or a switch shows something at once
//! and an unreachable or switched-off cluster can still be browsed, marked stale. Rows are table
//! rows of metadata-only watches: names, labels and printed columns, never a Secret's data.
//! Blocking file I/O: called on blocking threads of the backend runtime.

use super::ingest::SubscriptionRows;
use klieg_model::{ClusterId, Column, KindKey, ResourceKind, Row, ViewStatus};
use rust_i18n::t;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bumped when the files' layout changes; older files are ignored.
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}", t!("backend.cache_write", path = .path.display(), error = .source))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", t!("backend.cache_encode", error = .0))]
    Encode(#[from] serde_json::Error),
}

/// What is kept of a cluster between runs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CachedCluster {
    pub server_version: Arc<str>,
    pub kinds: Arc<[ResourceKind]>,
    pub namespaces: Arc<[Arc<str>]>,
}

/// The rows of one subscription as saved.
#[derive(Clone, Debug)]
pub struct CachedRows {
    pub rows: Arc<SubscriptionRows>,
    pub saved_unix_secs: i64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ClusterFile {
    format: u32,
    cluster: CachedCluster,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RowsFile {
    format: u32,
    saved_unix_secs: i64,
    columns: Arc<[Column]>,
    rows: Vec<Arc<Row>>,
}

/// Where the cache lives; `None` keeps nothing (tests, or no cache folder on this system).
#[derive(Clone, Debug, Default)]
pub struct OfflineCache {
    dir: Option<PathBuf>,
    writer: Arc<Writer>,
}

/// Encodes one file's content when its turn comes (off the runtime: rows can be megabytes).
type Encode = Box<dyn FnOnce() -> Result<Vec<u8>, CacheError> + Send>;

/// Writes the cache's files one at a time on a blocking thread, only the newest content waiting
/// per file: two blocking threads saving the same file finish in any order, so an older save
/// could otherwise land after a newer one and stay (the cluster's file is saved only on change).
#[derive(Default)]
struct Writer {
    state: parking_lot::Mutex<WriterState>,
}

#[derive(Default)]
struct WriterState {
    waiting: HashMap<PathBuf, Encode>,
    order: VecDeque<PathBuf>,
    draining: bool,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("waiting", &self.state.lock().order.len()).finish()
    }
}

impl Writer {
    /// Queues `path`'s new content, replacing any not yet written, and starts the drain if idle.
    fn queue(self: &Arc<Self>, path: PathBuf, encode: Encode) {
        {
            let mut state = self.state.lock();
            if state.waiting.insert(path.clone(), encode).is_none() {
                state.order.push_back(path);
            }
            if state.draining {
                return;
            }
            state.draining = true;
        }
        let writer = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || writer.drain())),
            Err(_) => writer.drain(),
        }
    }

    fn drain(&self) {
        loop {
            let (path, encode) = {
                let mut state = self.state.lock();
                let next = state.order.pop_front().and_then(|path| Some((state.waiting.remove(&path)?, path)));
                let Some((encode, path)) = next else {
                    state.draining = false;
                    return;
                };
                (path, encode)
            };
            if let Err(error) = encode().and_then(|bytes| write_whole(&path, &bytes)) {
                tracing::warn!(%error, "offline cache not written");
            }
        }
    }

    #[cfg(test)]
    fn is_idle(&self) -> bool {
        !self.state.lock().draining
    }
}

impl OfflineCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir, writer: Arc::default() }
    }

    /// `$XDG_CACHE_HOME/klieg` (or the platform's cache folder).
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|dir| dir.join("klieg"))
    }

    fn cluster_dir(&self, cluster: &ClusterId) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("v{FORMAT}")).join(file_name(cluster.as_str())))
    }

    fn rows_path(&self, cluster: &ClusterId, kind: &KindKey, namespace: Option<&str>) -> Option<PathBuf> {
        let group = if kind.group.is_empty() { "core" } else { &kind.group };
        let scope = namespace.map(|ns| format!("@{ns}")).unwrap_or_default();
        Some(self.cluster_dir(cluster)?.join(file_name(&format!("{}.{group}{scope}", kind.plural))))
    }

    pub fn load_cluster(&self, cluster: &ClusterId) -> Option<CachedCluster> {
        let path = self.cluster_dir(cluster)?.join("cluster.json");
        let file: ClusterFile = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        (file.format == FORMAT).then_some(file.cluster)
    }

    /// Saves the cluster's file after any save of it already queued; errors are logged.
    pub fn save_cluster(&self, cluster: &ClusterId, cached: CachedCluster) {
        let Some(dir) = self.cluster_dir(cluster) else { return };
        let encode = move || Ok(serde_json::to_vec(&ClusterFile { format: FORMAT, cluster: cached })?);
        self.writer.queue(dir.join("cluster.json"), Box::new(encode));
    }

    pub fn load_rows(&self, cluster: &ClusterId, kind: &KindKey, namespace: Option<&str>) -> Option<CachedRows> {
        let path = self.rows_path(cluster, kind, namespace)?;
        let file: RowsFile = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        if file.format != FORMAT {
            return None;
        }
        let rows = SubscriptionRows {
            generation: 0,
            columns: file.columns,
            rows: Arc::from(file.rows),
            status: ViewStatus::Stale { saved_unix_secs: file.saved_unix_secs },
        };
        Some(CachedRows { rows: Arc::new(rows), saved_unix_secs: file.saved_unix_secs })
    }

    /// Saves a subscription's rows after any save of them already queued; errors are logged.
    pub fn save_rows(
        &self,
        cluster: &ClusterId,
        kind: &KindKey,
        namespace: Option<&str>,
        rows: Arc<SubscriptionRows>,
        saved_unix_secs: i64,
    ) {
        let Some(path) = self.rows_path(cluster, kind, namespace) else { return };
        let encode = move || {
            let file =
                RowsFile { format: FORMAT, saved_unix_secs, columns: rows.columns.clone(), rows: rows.rows.to_vec() };
            Ok(serde_json::to_vec(&file)?)
        };
        self.writer.queue(path, Box::new(encode));
    }
}

/// A file name from any text: safe characters kept, the rest replaced, and a hash of the whole
/// so two names differing only in replaced characters stay apart.
fn file_name(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') { c } else { '_' })
        .take(80)
        .collect();
    format!("{safe}-{:016x}", stable_hash(text))
}

/// FNV-1a: stable across runs and builds, unlike std's hasher (names on disk and in the keyring).
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Writes the file whole (`files::write_atomic`); the folder is private to the user (0700):
/// rows name the user's objects.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    super::files::write_atomic(path, bytes).map_err(|source| CacheError::Write { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klieg_model::{Cell, CellTone, ObjectKey};

    fn rows() -> SubscriptionRows {
        let row = Row {
            key: ObjectKey { cluster: ClusterId::new("c/1"), namespace: Some(Arc::from("ns")), name: Arc::from("a") },
            uid: Arc::from("u"),
            resource_version: Arc::from("7"),
            cells: vec![Cell::Text(Arc::from("Running"), CellTone::Good), Cell::Integer(3)].into_boxed_slice(),
            labels: [(Arc::from("app"), Arc::from("web"))].into_iter().collect(),
            created_unix_secs: Some(1_700_000_000),
            object: None,
        };
        SubscriptionRows {
            generation: 4,
            columns: Arc::from(Vec::new()),
            rows: Arc::from(vec![Arc::new(row)]),
            status: ViewStatus::Live,
        }
    }

    #[test]
    fn rows_round_trip_and_come_back_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = OfflineCache::new(Some(dir.path().to_path_buf()));
        let cluster = ClusterId::new("c/1");
        let kind = KindKey { group: Arc::from(""), plural: Arc::from("pods") };
        assert!(cache.load_rows(&cluster, &kind, None).is_none());
        cache.save_rows(&cluster, &kind, None, Arc::new(rows()), 1_800_000_000);
        let loaded = cache.load_rows(&cluster, &kind, None).expect("cached");
        assert_eq!(loaded.saved_unix_secs, 1_800_000_000);
        assert_eq!(loaded.rows.rows, rows().rows);
        assert_eq!(loaded.rows.status, ViewStatus::Stale { saved_unix_secs: 1_800_000_000 });
        // Another namespace is another file.
        assert!(cache.load_rows(&cluster, &kind, Some("ns")).is_none());
    }

    #[test]
    fn no_folder_keeps_nothing() {
        let cache = OfflineCache::new(None);
        let cluster = ClusterId::new("c");
        cache.save_cluster(&cluster, CachedCluster::default());
        assert!(cache.load_cluster(&cluster).is_none());
    }

    /// Saves of one file from many threads at once: the newest always lands last.
    #[test]
    fn the_newest_save_of_a_file_is_the_one_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = OfflineCache::new(Some(dir.path().to_path_buf()));
        let cluster = ClusterId::new("c");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().expect("runtime");
        runtime.block_on(async {
            for round in 0..200 {
                let version = Arc::from(format!("v{round}").as_str());
                cache.save_cluster(&cluster, CachedCluster { server_version: version, ..CachedCluster::default() });
                if round % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cache.writer.is_idle() {
            assert!(std::time::Instant::now() < deadline, "writes never finished");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(&*cache.load_cluster(&cluster).expect("saved").server_version, "v199");
    }

    #[test]
    fn file_names_stay_apart_and_safe() {
        assert_ne!(file_name("a/b"), file_name("a_b"));
        assert!(file_name("../../etc").chars().all(|c| c != '/'));
        assert_ne!(file_name(".."), "..");
    }
}
