//! The only module that talks to Kubernetes. It runs a tokio runtime on its own OS thread:
//! a hub task reads UI commands, one worker per cluster connects and discovers, a view task
//! merges subscriptions into table snapshots, and a details task follows the open object.
//! The UI reads results from `tokio::sync::watch` channels and is woken only on change.
//! Messages it builds for the user are translated here, in the locale the app set.

// The app's locale files: backend messages use the same keys and the same global locale.
rust_i18n::i18n!("../../i18n", fallback = "en");

use rust_i18n::t;

pub mod access;
pub mod actions;
pub mod added;
pub mod bearer;
pub mod bounded;
pub mod cache;
pub mod connection;
pub mod credentials;
pub mod details;
pub mod discovery;
pub mod errors;
pub mod exec_auth;
pub mod feed;
pub mod files;
pub mod forwards;
pub mod glances;
pub mod ingest;
pub mod kubeconfig;
pub mod logs;
pub mod metrics;
pub mod oidc;
pub mod plugin_calls;
pub mod plugin_watch;
pub mod pool;
pub mod prometheus;
pub mod rows;
pub mod table_watch;
pub mod terminal;
pub mod view;
pub mod view_task;

use feed::Feed;
use futures::StreamExt;
use klieg_model::TerminalList;
use klieg_model::{
    ActivityLog, ClusterErrorKind, ClusterId, ClusterInfo, ClusterState, Command, DetailsSnapshot, FleetSnapshot,
    ForwardList, KindKey, LogSnapshot, ObjectKey, ResourceKind, TableSnapshot, ViewQuery,
};
use kubeconfig::{ContextEntry, KubeconfigSources};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Wakes the UI (egui's `request_repaint`); called only when something it shows changed.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

const COMMAND_QUEUE_LEN: usize = 256;
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{}", t!("backend.runtime", error = .0))]
    Runtime(#[source] std::io::Error),
}

/// The UI's end of the backend: commands for what happens once (actions, edits, terminal
/// input, forwards), feeds for what the UI looks at (it asks a query, reads the latest
/// snapshot), and the snapshots of what the backend keeps on its own (the fleet, the activity
/// log, forwards, terminals).
pub struct BackendHandle {
    commands: CommandSender,
    pub fleet: watch::Receiver<Arc<FleetSnapshot>>,
    /// The table of the selected clusters, kind and namespaces.
    pub table: Feed<ViewQuery, TableSnapshot>,
    /// The object open in details.
    pub details: Feed<(KindKey, ObjectKey), DetailsSnapshot>,
    /// The rolling usage of the pod or node open in details, while its cluster has metrics.
    pub usage_history: Feed<(KindKey, ObjectKey), klieg_model::UsageHistory>,
    /// The log view's lines.
    pub logs: Feed<klieg_model::LogQuery, LogSnapshot>,
    /// Prometheus charts of the open object, while shown.
    pub charts: Feed<klieg_model::ChartRequest, klieg_model::ChartSet>,
    /// Capacity and allocations of the clusters in the overview, while it is shown.
    pub overview: Feed<Vec<(ClusterId, bool)>, klieg_model::OverviewSnapshot>,
    /// What the user may do over the bulk selection.
    pub bulk_access: Feed<(KindKey, Vec<klieg_model::AccessScope>), klieg_model::BulkAccess>,
    /// The registered glances of the row the pointer rests on.
    pub glances: Feed<(KindKey, ObjectKey), klieg_model::registry::GlanceSnapshot>,
    /// Actions and edits and how they ended.
    pub activity: watch::Receiver<Arc<ActivityLog>>,
    pub forwards: watch::Receiver<Arc<ForwardList>>,
    pub terminals: watch::Receiver<Arc<TerminalList>>,
    /// Where plugin handlers' Kubernetes and HTTP calls go.
    pub plugin_gateway: plugin_calls::PluginGateway,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackendHandle {
    /// Opens `object` in details (its usage sampled where it has any), or closes details.
    pub fn open_object(&self, object: Option<(KindKey, ObjectKey)>) {
        self.usage_history.ask(object.clone());
        self.details.ask(object);
    }

    /// Sends without waiting and without losing anything: what the queue cannot take now waits,
    /// in order, until [`BackendHandle::flush`] (each frame) can pass it on.
    pub fn send(&self, command: Command) {
        self.commands.send(command);
    }

    /// Passes on the commands that waited for room; says whether some still wait (the window
    /// then draws again soon, to try again).
    pub fn flush(&self) -> bool {
        self.commands.flush()
    }
}

/// The UI's end of the command queue: never blocks, never drops. The queue is bounded (the
/// backend reads it as fast as it can); commands that find it full wait in an overflow list,
/// which only the user's own actions fill, and go out first once there is room.
struct CommandSender {
    queue: mpsc::Sender<Command>,
    overflow: parking_lot::Mutex<std::collections::VecDeque<Command>>,
}

impl CommandSender {
    fn new(queue: mpsc::Sender<Command>) -> Self {
        Self { queue, overflow: parking_lot::Mutex::default() }
    }

    fn send(&self, command: Command) {
        let mut overflow = self.overflow.lock();
        overflow.push_back(command);
        Self::drain(&self.queue, &mut overflow);
    }

    fn flush(&self) -> bool {
        let mut overflow = self.overflow.lock();
        Self::drain(&self.queue, &mut overflow);
        !overflow.is_empty()
    }

    fn drain(queue: &mpsc::Sender<Command>, overflow: &mut std::collections::VecDeque<Command>) {
        while let Some(command) = overflow.pop_front() {
            match queue.try_send(command) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(command)) => {
                    overflow.push_front(command);
                    return;
                }
                // The backend has stopped; nothing will read them.
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    overflow.clear();
                    return;
                }
            }
        }
    }
}

impl Drop for BackendHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connected cluster: its client and kinds. `epoch` changes when the worker restarts.
#[derive(Clone)]
pub struct ConnectedCluster {
    /// Every list, watch and request: one HTTP/2 connection where the server offers it.
    pub client: kube::Client,
    /// Exec, attach and port-forward, which need HTTP/1.1 upgrades.
    pub upgrades: kube::Client,
    pub kinds: Arc<[ResourceKind]>,
    pub epoch: u64,
    /// Serves `metrics.k8s.io`: pod and node usage can be polled.
    pub metrics: bool,
    /// Permits for initial lists, so a burst of new watches lists a few at a time.
    pub lists: Arc<tokio::sync::Semaphore>,
    /// The server's answers about what the user may do, until RBAC changes.
    pub access: Arc<access::AccessCache>,
    /// The kubeconfig file the context came from (a plugin's commands are given it).
    pub source: Arc<str>,
}

/// Initial lists running at once per cluster; the rest wait for a permit.
pub const CONCURRENT_LISTS_PER_CLUSTER: usize = 4;

pub type ClientMap = BTreeMap<ClusterId, ConnectedCluster>;

/// Shared state of all cluster workers; each update republishes the fleet snapshot.
struct FleetState {
    inner: Mutex<FleetInner>,
    cache: cache::OfflineCache,
    fleet_tx: watch::Sender<Arc<FleetSnapshot>>,
    clients_tx: watch::Sender<Arc<ClientMap>>,
    /// The namespaces the user chose to look at (empty: all), for the access rules.
    namespaces_tx: watch::Sender<Vec<Arc<str>>>,
    /// The exec credential plugins the user approved (`exec_auth::approval_key`s).
    approved_exec_tx: watch::Sender<BTreeSet<String>>,
    waker: Waker,
}

#[derive(Default)]
struct FleetInner {
    order: Vec<ClusterId>,
    infos: HashMap<ClusterId, ClusterInfo>,
    clients: ClientMap,
    generation: u64,
    next_epoch: u64,
    /// Each cluster's kinds and namespaces as last saved to the offline cache.
    cached: HashMap<ClusterId, cache::CachedCluster>,
    modes: BTreeMap<ClusterId, klieg_model::ClusterMode>,
}

impl FleetState {
    fn publish(&self, inner: &mut FleetInner) {
        inner.generation += 1;
        let clusters: Vec<ClusterInfo> = inner.order.iter().filter_map(|id| inner.infos.get(id).cloned()).collect();
        self.fleet_tx
            .send_replace(Arc::new(FleetSnapshot { generation: inner.generation, clusters: Arc::from(clusters) }));
        (self.waker)();
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, FleetInner> {
        self.inner.lock()
    }

    fn update(&self, id: &ClusterId, change: impl FnOnce(&mut ClusterInfo)) {
        let mut inner = self.lock();
        if let Some(info) = inner.infos.get_mut(id) {
            let before = info.clone();
            change(info);
            if *info != before {
                self.publish(&mut inner);
            }
        }
    }

    fn set_client(
        &self,
        id: &ClusterId,
        clients: connection::ClusterClients,
        kinds: Arc<[ResourceKind]>,
        metrics: bool,
        access: Arc<access::AccessCache>,
    ) {
        let mut inner = self.lock();
        inner.next_epoch += 1;
        let epoch = inner.next_epoch;
        let source = inner.infos.get(id).map(|info| info.source.clone()).unwrap_or_else(|| Arc::from(""));
        let connected = ConnectedCluster {
            source,
            client: clients.shared,
            upgrades: clients.upgrades,
            kinds,
            epoch,
            metrics,
            lists: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_LISTS_PER_CLUSTER)),
            access,
        };
        inner.clients.insert(id.clone(), connected);
        self.clients_tx.send_replace(Arc::new(inner.clients.clone()));
    }

    fn update_kinds(&self, id: &ClusterId, kinds: Arc<[ResourceKind]>, metrics: bool) {
        let mut inner = self.lock();
        if let Some(connected) = inner.clients.get_mut(id) {
            connected.kinds = kinds;
            connected.metrics = metrics;
            self.clients_tx.send_replace(Arc::new(inner.clients.clone()));
        }
    }

    /// Replaces the set of contexts, dropping the state of contexts that are gone.
    fn set_contexts(&self, entries: &[ContextEntry], cached: HashMap<ClusterId, cache::CachedCluster>) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        for (id, cluster) in cached {
            inner.cached.entry(id).or_insert(cluster);
        }
        inner.order = entries.iter().map(|e| e.id.clone()).collect();
        let keep: BTreeSet<ClusterId> = inner.order.iter().cloned().collect();
        inner.infos.retain(|id, _| keep.contains(id));
        inner.clients.retain(|id, _| keep.contains(id));
        for entry in entries {
            let info = inner.infos.entry(entry.id.clone()).or_insert_with(|| ClusterInfo {
                id: entry.id.clone(),
                source: entry.source.clone(),
                server_url: None,
                default_namespace: None,
                insecure_tls: false,
                is_current_context: false,
                added_in_klieg: entry.added,
                state: ClusterState::Connecting,
                mode: inner.modes.get(&entry.id).copied().unwrap_or_default(),
                kinds: Arc::from(Vec::new()),
                namespaces: Arc::from(Vec::new()),
                access: None,
            });
            if info.kinds.is_empty()
                && let Some(cached) = inner.cached.get(&entry.id)
            {
                info.kinds = cached.kinds.clone();
                info.namespaces = cached.namespaces.clone();
            }
            info.source = entry.source.clone();
            info.server_url = entry.server_url.clone();
            info.default_namespace = entry.default_namespace.clone();
            info.insecure_tls = entry.insecure_tls;
            info.is_current_context = entry.is_current;
            info.added_in_klieg = entry.added;
        }
        self.clients_tx.send_replace(Arc::new(inner.clients.clone()));
        self.publish(inner);
    }

    /// Forgets a cluster's connection: it shows `state` (connecting again, or off) with the
    /// offline cache's kinds and namespaces, if any.
    fn reset_cluster(&self, id: &ClusterId, state: ClusterState) {
        let mut inner = self.lock();
        inner.clients.remove(id);
        let cached = inner.cached.get(id).cloned().unwrap_or_default();
        if let Some(info) = inner.infos.get_mut(id) {
            info.state = state;
            info.kinds = cached.kinds;
            info.namespaces = cached.namespaces;
            info.access = None;
        }
        self.clients_tx.send_replace(Arc::new(inner.clients.clone()));
        self.publish(&mut inner);
    }

    fn set_modes(&self, modes: &BTreeMap<ClusterId, klieg_model::ClusterMode>) {
        let mut inner = self.lock();
        inner.modes = modes.clone();
        for (id, info) in inner.infos.iter_mut() {
            info.mode = modes.get(id).copied().unwrap_or_default();
        }
        self.publish(&mut inner);
    }

    fn mode(&self, id: &ClusterId) -> klieg_model::ClusterMode {
        self.lock().modes.get(id).copied().unwrap_or_default()
    }

    /// Saves the cluster's kinds and namespaces to the offline cache, if they changed. `false`:
    /// nothing could be saved now (the cluster is not connected at this moment); ask again later.
    fn remember(&self, id: &ClusterId) -> bool {
        let mut inner = self.lock();
        let Some(info) = inner.infos.get(id) else { return false };
        let ClusterState::Connected { server_version } = &info.state else { return false };
        let cluster = cache::CachedCluster {
            server_version: server_version.clone(),
            kinds: info.kinds.clone(),
            namespaces: info.namespaces.clone(),
        };
        if inner.cached.get(id) == Some(&cluster) {
            return true;
        }
        inner.cached.insert(id.clone(), cluster.clone());
        self.cache.save_cluster(id, cluster);
        true
    }
}

/// What the backend runs beside its own code: the registries (shared with the UI, replaced
/// whole when a plugin loads or stops) and the handlers of the registered backend actions.
/// Built-ins and extensions alike.
#[derive(Clone)]
pub struct Extensions {
    pub registry: klieg_model::LiveRegistry,
    pub handlers: actions::ActionHandlers,
}

impl Extensions {
    /// Klieg's own features and nothing else.
    pub fn builtin() -> Self {
        Self { registry: klieg_model::LiveRegistry::default(), handlers: actions::ActionHandlers::with_builtins() }
    }
}

/// Starts the backend thread with the built-in features and returns the UI's handle to it.
pub fn start(sources: KubeconfigSources, waker: Waker) -> Result<BackendHandle, BackendError> {
    start_with(sources, waker, Extensions::builtin())
}

/// Starts the backend thread with `extensions` and returns the UI's handle to it.
pub fn start_with(
    sources: KubeconfigSources,
    waker: Waker,
    extensions: Extensions,
) -> Result<BackendHandle, BackendError> {
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE_LEN);
    let (fleet_tx, fleet_rx) = watch::channel(Arc::new(FleetSnapshot::default()));
    let (activity_tx, activity_rx) = watch::channel(Arc::new(ActivityLog::default()));
    let activities = actions::Activities::new(activity_tx, waker.clone());
    let (forwards_tx, forwards_rx) = watch::channel(Arc::new(ForwardList::default()));
    let forwards = forwards::Forwards::new(forwards_tx, waker.clone());
    let (terminals_tx, terminals_rx) = watch::channel(Arc::new(TerminalList::default()));
    let terminals = terminal::Terminals::new(terminals_tx, waker.clone());
    // The feeds: the view task serves the table; one follower serves each of the others.
    let (table, feed::FeedServer { out: table_tx, queries: table_queries }) = feed::feed();
    let mut followers = Followers::default();
    let registry = extensions.registry.clone();
    let details = followers.add(|out| details::DetailsFollower::new(out, waker.clone(), registry.clone()));
    let usage_history = followers.add(|out| metrics::UsageSampler::new(registry.clone(), out, waker.clone()));
    let logs = followers.add(|out| logs::LogFollower::new(out, waker.clone()));
    let charts = followers.add(|out| prometheus::ChartsFollower::new(out, waker.clone()));
    let overview = followers.add(|out| metrics::OverviewPoller::new(out, waker.clone()));
    let bulk_access = followers.add(|out| access::BulkChecker::new(out, waker.clone(), registry.clone()));
    let glances = followers.add(|out| glances::GlanceFollower::new(out, waker.clone(), registry.clone()));
    let shown_logs = logs.snapshots.clone();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // View builds, cache files and keyring calls: a few at a time is plenty.
        .max_blocking_threads(16)
        .thread_name("klieg-backend")
        .enable_all()
        .build()
        .map_err(BackendError::Runtime)?;
    let (clients_tx, clients_rx) = watch::channel(Arc::new(ClientMap::new()));
    let plugin_watches = Arc::new(plugin_watch::PluginWatches::default());
    let plugin_gateway = plugin_calls::PluginGateway::new(runtime.handle().clone(), clients_rx, plugin_watches.clone());
    let thread = std::thread::Builder::new()
        .name("klieg-runtime".into())
        .spawn(move || {
            runtime.block_on(async move {
                let fleet = Arc::new(FleetState {
                    inner: Mutex::new(FleetInner::default()),
                    cache: cache::OfflineCache::new(sources.offline_cache.clone()),
                    fleet_tx,
                    clients_tx,
                    namespaces_tx: watch::Sender::new(Vec::new()),
                    approved_exec_tx: watch::Sender::new(sources.approved_exec.clone()),
                    waker,
                });
                tokio::select! {
                    () = hub_main(sources, commands_rx, fleet, extensions, Outputs { table_tx, table_queries, followers, shown_logs, activities, forwards, terminals, plugin_watches }) => {}
                    _ = shutdown_rx => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(BackendError::Runtime)?;
    Ok(BackendHandle {
        commands: CommandSender::new(commands_tx),
        fleet: fleet_rx,
        table,
        details,
        usage_history,
        logs,
        charts,
        overview,
        bulk_access,
        glances,
        activity: activity_rx,
        forwards: forwards_rx,
        terminals: terminals_rx,
        plugin_gateway,
        shutdown: Some(shutdown_tx),
        thread: Some(thread),
    })
}

/// The followers of the feeds, each to be served in a task of its own once the runtime runs.
#[derive(Default)]
struct Followers(Vec<Box<dyn FnOnce(feed::FeedContext) -> tokio::task::JoinHandle<()> + Send>>);

impl Followers {
    /// Makes a feed whose follower `make` builds around the feed's snapshot sender.
    fn add<F: feed::Follower>(
        &mut self,
        make: impl FnOnce(watch::Sender<Arc<F::Snapshot>>) -> F,
    ) -> Feed<F::Query, F::Snapshot>
    where
        F::Snapshot: Default,
    {
        let (ui_end, feed::FeedServer { out, queries }) = feed::feed();
        let follower = make(out);
        self.0.push(Box::new(move |context| tokio::spawn(feed::serve(follower, context, queries))));
        ui_end
    }

    fn spawn(self, context: &feed::FeedContext) -> Vec<tokio::task::JoinHandle<()>> {
        self.0.into_iter().map(|start| start(context.clone())).collect()
    }
}

/// The one task a follower runs: setting a new one or stopping aborts the old, as does drop.
#[derive(Default)]
pub(crate) struct TaskSlot(Option<tokio::task::JoinHandle<()>>);

impl TaskSlot {
    pub(crate) fn set(&mut self, task: tokio::task::JoinHandle<()>) {
        self.stop();
        self.0 = Some(task);
    }

    pub(crate) fn stop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        self.stop();
    }
}

struct WorkerHandle {
    fingerprint: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the hub publishes what it produces.
struct Outputs {
    table_tx: watch::Sender<Arc<TableSnapshot>>,
    table_queries: watch::Receiver<Option<ViewQuery>>,
    followers: Followers,
    /// The logs feed's snapshots, for saving what is shown.
    shown_logs: watch::Receiver<Arc<LogSnapshot>>,
    activities: actions::Activities,
    forwards: forwards::Forwards,
    terminals: terminal::Terminals,
    plugin_watches: Arc<plugin_watch::PluginWatches>,
}

enum Change {
    Add(klieg_model::AddCluster),
    Remove(String),
}

/// Adds and removes clusters beside the hub (a keyring may ask the user to unlock it, and wait
/// as long as they take), one change at a time; each change that landed asks the hub to
/// reconcile the workers.
struct ClusterChanges {
    changed: mpsc::Sender<()>,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

impl ClusterChanges {
    fn spawn(
        &self,
        sources: &KubeconfigSources,
        fleet: &Arc<FleetState>,
        activities: &actions::Activities,
        request_id: u64,
        change: Change,
    ) {
        let (sources, fleet, activities) = (sources.clone(), fleet.clone(), activities.clone());
        let (changed, lock) = (self.changed.clone(), self.one_at_a_time.clone());
        tokio::spawn(async move {
            let _one = lock.lock().await;
            if add_or_remove(&sources, &fleet, &activities, request_id, change).await {
                // A full channel already asks for the reconcile.
                let _ = changed.try_send(());
            }
        });
    }
}

/// Adds clusters to, or removes one from, Klieg's own kubeconfig (secrets to or from the
/// keyring, on a blocking thread) and reports the outcome; true when something changed.
async fn add_or_remove(
    sources: &KubeconfigSources,
    fleet: &FleetState,
    activities: &actions::Activities,
    request_id: u64,
    change: Change,
) -> bool {
    use klieg_model::{Activity, Outcome};
    let (what, subject): (&'static str, Arc<str>) = match &change {
        Change::Add(_) => ("cluster.add", Arc::from("")),
        Change::Remove(name) => ("cluster.remove", Arc::from(name.as_str())),
    };
    let record = |outcome| {
        activities.record(Activity {
            request_id,
            subject: subject.clone(),
            what: klieg_model::Text::Key(what),
            outcome,
        })
    };
    let Some(file) = sources.added.clone() else {
        record(Outcome::Failed { message: Arc::from(added::AddError::NoFile.to_string()) });
        return false;
    };
    record(Outcome::Running);
    let shown = file.display().to_string();
    // The user's own contexts keep their names: an added one may not shadow them.
    let taken: Vec<String> =
        fleet.fleet_tx.borrow().clusters.iter().filter(|c| *c.source != *shown).map(|c| c.id.to_string()).collect();
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "klieg".into());
    let secrets = sources.secrets.clone();
    let result = tokio::task::spawn_blocking(move || match change {
        Change::Add(request) => {
            added::add(&file, secrets.0.as_ref(), &request, &taken, &exe).map(|names| names.join(", "))
        }
        Change::Remove(name) => added::remove(&file, secrets.0.as_ref(), &name).map(|()| name),
    })
    .await;
    match result {
        Ok(Ok(names)) => {
            record(Outcome::Done { message: Arc::from(names) });
            true
        }
        Ok(Err(error)) => {
            record(Outcome::Failed { message: Arc::from(error.to_string()) });
            false
        }
        Err(error) => {
            record(Outcome::Failed { message: Arc::from(error.to_string()) });
            false
        }
    }
}

/// Whether a connected cluster serves metrics-server's resource `plural`.
/// Whether the cluster serves metrics-server's API (checked at connection).
fn serves_metrics(connected: &ConnectedCluster) -> bool {
    connected.metrics
}

async fn hub_main(
    sources: KubeconfigSources,
    mut commands: mpsc::Receiver<Command>,
    fleet: Arc<FleetState>,
    extensions: Extensions,
    outputs: Outputs,
) {
    let Outputs { table_tx, table_queries, followers, shown_logs, activities, forwards, terminals, plugin_watches } =
        outputs;
    let (reload_tx, mut reload_rx) = mpsc::channel::<()>(1);
    let mut file_watcher = watch_files(&sources, reload_tx.clone());
    // Adding and removing clusters runs beside the hub (a keyring may ask the user to unlock it,
    // and wait as long as they take), one change at a time; each change that landed asks for
    // the workers to be reconciled.
    let (changed_tx, mut changed_rx) = mpsc::channel::<()>(1);
    let changes = ClusterChanges { changed: changed_tx, one_at_a_time: Arc::default() };
    let mut workers: HashMap<ClusterId, WorkerHandle> = HashMap::new();
    fleet.set_modes(&sources.cluster_modes);
    reconcile_workers(&sources, &fleet, &mut workers).await;

    let (registry_tx, registry_changes) = watch::channel(0_u64);
    extensions.registry.on_change(move || {
        registry_tx.send_modify(|count| *count += 1);
    });
    let context =
        feed::FeedContext { clients: fleet.clients_tx.subscribe(), registry_changes: registry_changes.clone() };
    let served = followers.spawn(&context);
    let chosen = tokio::spawn(follow_chosen_namespaces(table_queries.clone(), fleet.clone()));
    let view = tokio::spawn(view_task::view_task(
        table_queries,
        fleet.clients_tx.subscribe(),
        fleet.fleet_tx.subscribe(),
        table_tx,
        fleet.waker.clone(),
        fleet.cache.clone(),
        (extensions.registry.clone(), registry_changes, plugin_watches),
    ));
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    Command::SetClusterModes(modes) => {
                        fleet.set_modes(&modes);
                        reconcile_workers(&sources, &fleet, &mut workers).await;
                    }
                    Command::SetApprovedExec(approved) => {
                        fleet.approved_exec_tx.send_replace(approved);
                    }
                    Command::ReloadKubeconfig => {
                        reconcile_workers(&sources, &fleet, &mut workers).await;
                    }
                    Command::AddClusters { request_id, request } => {
                        changes.spawn(&sources, &fleet, &activities, request_id, Change::Add(request));
                    }
                    Command::RemoveCluster { request_id, name } => {
                        changes.spawn(&sources, &fleet, &activities, request_id, Change::Remove(name));
                    }
                    Command::Act { request_id, targets, action } => {
                        let clients = fleet.clients_tx.borrow().clone();
                        actions::start_action(clients, &extensions, activities.clone(), request_id, targets, action);
                    }
                    Command::StartForward { id, request } => {
                        let clients = fleet.clients_tx.borrow().clone();
                        forwards.start(&clients, id, request);
                    }
                    Command::StopForward { id } => forwards.stop(id),
                    Command::OpenTerminal { id, request } => {
                        let clients = fleet.clients_tx.borrow().clone();
                        terminals.open(&clients, id, request);
                    }
                    Command::TerminalInput { id, bytes } => terminals.input(id, bytes),
                    Command::ResizeTerminal { id, rows, cols } => terminals.resize(id, rows, cols),
                    Command::ScrollTerminal { id, lines } => terminals.scroll(id, lines),
                    Command::CloseTerminal { id } => terminals.close(id),
                    Command::SaveLogs { request_id } => logs::save(&shown_logs, &activities, request_id),
                    Command::Edit { request_id, request } => {
                        let clients = fleet.clients_tx.borrow().clone();
                        actions::start_edit(clients, activities.clone(), request_id, request);
                    }
                }
            }
            Some(()) = changed_rx.recv() => {
                reconcile_workers(&sources, &fleet, &mut workers).await;
            }
            Some(()) = reload_rx.recv() => {
                // Editors write files in several steps; wait until they are done.
                tokio::time::sleep(RELOAD_DEBOUNCE).await;
                while reload_rx.try_recv().is_ok() {}
                tracing::info!("kubeconfig changed; reloading");
                reconcile_workers(&sources, &fleet, &mut workers).await;
                file_watcher = watch_files(&sources, reload_tx.clone()).or(file_watcher);
            }
        }
    }
    view.abort();
    chosen.abort();
    for task in served {
        task.abort();
    }
}

/// The namespaces the table looks at are the ones the access rules are asked for too.
async fn follow_chosen_namespaces(mut queries: watch::Receiver<Option<ViewQuery>>, fleet: Arc<FleetState>) {
    loop {
        let chosen = queries.borrow_and_update().as_ref().map(|q| q.namespaces.clone()).unwrap_or_default();
        fleet.namespaces_tx.send_if_modified(|namespaces| {
            let changed = *namespaces != chosen;
            if changed {
                *namespaces = chosen;
            }
            changed
        });
        if queries.changed().await.is_err() {
            return;
        }
    }
}

/// Loads contexts and restarts exactly the workers whose context changed.
async fn reconcile_workers(
    sources: &KubeconfigSources,
    fleet: &Arc<FleetState>,
    workers: &mut HashMap<ClusterId, WorkerHandle>,
) {
    let sources = sources.clone();
    let cache = fleet.cache.clone();
    let (entries, cached) = tokio::task::spawn_blocking(move || {
        let entries = kubeconfig::load_contexts(&sources);
        let cached: HashMap<ClusterId, cache::CachedCluster> =
            entries.iter().filter_map(|e| Some((e.id.clone(), cache.load_cluster(&e.id)?))).collect();
        (entries, cached)
    })
    .await
    .unwrap_or_default();
    let ids: BTreeSet<ClusterId> = entries.iter().map(|e| e.id.clone()).collect();
    workers.retain(|id, _| ids.contains(id));
    fleet.set_contexts(&entries, cached);
    for entry in entries {
        if fleet.mode(&entry.id) == klieg_model::ClusterMode::Off {
            workers.remove(&entry.id);
            fleet.reset_cluster(&entry.id, ClusterState::Off);
            continue;
        }
        let unchanged =
            workers.get(&entry.id).is_some_and(|w| w.fingerprint == entry.fingerprint && entry.config.is_ok());
        if unchanged {
            continue;
        }
        fleet.reset_cluster(&entry.id, ClusterState::Connecting);
        let id = entry.id.clone();
        let fingerprint = entry.fingerprint;
        let task = tokio::spawn(supervise_worker(entry, fleet.clone()));
        workers.insert(id, WorkerHandle { fingerprint, task });
    }
}

fn watch_files(sources: &KubeconfigSources, reload: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            // A full queue already holds a reload request.
            let _ = reload.try_send(());
        }
    })
    .inspect_err(|error| tracing::warn!(%error, "cannot watch kubeconfig files"))
    .ok()?;
    for dir in sources.watch_dirs() {
        if let Err(error) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(%error, dir = %dir.display(), "cannot watch kubeconfig folder");
        }
    }
    Some(watcher)
}

/// Runs a worker and turns a panic into a visible error instead of an endless "connecting".
async fn supervise_worker(entry: ContextEntry, fleet: Arc<FleetState>) {
    struct AbortOnDrop(tokio::task::JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let id = entry.id.clone();
    let mut worker = AbortOnDrop(tokio::spawn(cluster_worker(entry, fleet.clone())));
    if let Err(error) = (&mut worker.0).await
        && error.is_panic()
    {
        tracing::error!(cluster = %id, "cluster worker panicked");
        fleet.update(&id, |info| {
            info.state = failed(ClusterErrorKind::Other, t!("backend.worker_panicked").into_owned())
        });
    }
}

fn failed(kind: ClusterErrorKind, detail: String) -> ClusterState {
    ClusterState::Failed { kind, detail: Arc::from(detail.as_str()) }
}

/// Connects one context, discovers its kinds and follows its namespaces and CRDs.
async fn cluster_worker(entry: ContextEntry, fleet: Arc<FleetState>) {
    let id = entry.id.clone();
    let entry_namespace = entry.default_namespace.as_deref().map(str::to_string);
    let (mut config, oidc_saver) = match kubeconfig::client_config_and_saver(&entry).await {
        Ok(resolved) => resolved,
        Err(error) => {
            let state = failed(error.kind(), errors::error_chain(error.as_ref()));
            fleet.update(&id, |info| info.state = state);
            return;
        }
    };
    let exec = match approved_exec_credential(&mut config, &id, &fleet).await {
        Ok(exec) => exec,
        Err(error) => {
            fleet.update(&id, |info| info.state = failed(ClusterErrorKind::ExecPlugin, error.to_string()));
            return;
        }
    };
    let clients = match connection::cluster_clients_saving(&config, oidc_saver, exec) {
        Ok(clients) => clients,
        Err(error) => {
            let kind = match &error {
                connection::ConnectionError::Kube(error @ kube::Error::Auth(_)) => errors::classify(error),
                connection::ConnectionError::Bearer(bearer) => errors::classify_bearer(bearer),
                _ => ClusterErrorKind::MissingFile,
            };
            fleet.update(&id, |info| info.state = failed(kind, errors::error_chain(&error)));
            return;
        }
    };
    let client = clients.shared.clone();
    let mut backoff = table_watch::Backoff::default();
    let (version, kinds, metrics) = loop {
        match connect(&client).await {
            Ok(result) => break result,
            Err(error) => {
                let state = failed(errors::classify(&error), errors::error_chain(&error));
                fleet.update(&id, |info| info.state = state);
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    };
    let kinds: Arc<[ResourceKind]> = Arc::from(kinds);
    // The client first: whoever sees the cluster Connected (a feed asked at that moment) finds
    // its client.
    let access_cache = Arc::new(access::AccessCache::default());
    fleet.set_client(&id, clients, kinds.clone(), metrics, access_cache.clone());
    fleet.update(&id, |info| {
        info.state = ClusterState::Connected { server_version: Arc::from(version.as_str()) };
        info.kinds = kinds.clone();
        if info.namespaces.is_empty() {
            info.namespaces = info.default_namespace.iter().cloned().collect();
        }
    });
    fleet.remember(&id);
    let namespace = entry_namespace.unwrap_or_else(|| "default".into());
    tokio::join!(
        follow_namespaces(&client, &id, &fleet, &version),
        follow_crds(&client, &id, &fleet),
        access::follow_access(&client, &id, &fleet, &namespace, &access_cache),
        access::follow_rbac(&client, &id, &namespace, &access_cache)
    );
}

/// A context whose user runs an exec credential plugin: the plugin is taken out of `config`
/// (kube would run it synchronously) and run by Klieg, once the user approved this exact command
/// for this context and server. Until then the cluster waits, showing the command; a plugin
/// that is not installed is named at once. A client certificate the plugin prints goes into
/// `config`; a token is renewed by the returned `ExecAuth`.
async fn approved_exec_credential(
    config: &mut kube::Config,
    id: &ClusterId,
    fleet: &FleetState,
) -> Result<Option<exec_auth::ExecAuth>, exec_auth::ExecError> {
    let Some(exec) = config.auth_info.exec.take() else { return Ok(None) };
    exec_auth::check_runnable(&exec)?;
    let key = exec_auth::approval_key(id.as_str(), config.cluster_url.to_string().as_str(), &exec);
    let mut approved = fleet.approved_exec_tx.subscribe();
    if !approved.borrow().contains(&key) {
        let waiting = ClusterState::NeedsApproval {
            command: Arc::from(exec_auth::command_line(&exec).as_str()),
            approval: Arc::from(key.as_str()),
        };
        fleet.update(id, |info| info.state = waiting);
        // The sender lives as long as the hub, which outlives its workers.
        let _ = approved.wait_for(|set| set.contains(&key)).await;
        fleet.update(id, |info| info.state = ClusterState::Connecting);
    }
    let first = exec_auth::run_plugin(&exec, exec_auth::EXEC_PLUGIN_TIMEOUT).await?;
    if let (Some(certificate), Some(key)) = (&first.client_certificate_data, &first.client_key_data) {
        use base64::Engine;
        use secrecy::ExposeSecret;
        let encode = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
        config.auth_info.client_certificate_data = Some(encode(certificate));
        config.auth_info.client_key_data = Some(encode(key.expose_secret()).into());
    }
    Ok(Some(exec_auth::ExecAuth::new(exec, first)))
}

async fn connect(client: &kube::Client) -> Result<(String, Vec<ResourceKind>, bool), kube::Error> {
    let info = client.apiserver_version().await?;
    let found = discovery::discover(client).await.map_err(|discovery::DiscoveryError::Groups(e)| e)?;
    for (group, error) in &found.failed_groups {
        tracing::warn!(%group, %error, "API group discovery failed; its kinds are not listed");
    }
    Ok((info.git_version, found.kinds, found.metrics))
}

/// Keeps the namespace list current, and the cluster's state with it. A watch that broke (a
/// dropped connection) is not shown as a failure unless the server then fails to answer; an
/// outage shows until the server answers again, without waiting for a namespace to change
/// (kube's watcher resumes silently). A user who may not list namespaces keeps the context's
/// namespace.
async fn follow_namespaces(client: &kube::Client, id: &ClusterId, fleet: &FleetState, version: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::runtime::watcher::{self, Event};
    // Metadata only (kube asks for `PartialObjectMetadata`): a namespace's name is all that is needed.
    let api: kube::Api<kube::core::PartialObjectMeta<Namespace>> = kube::Api::all(client.clone());
    let stream = table_watch::backed_off(watcher::watcher(api, watcher::Config::default()));
    futures::pin_mut!(stream);
    let mut names: BTreeSet<Arc<str>> = BTreeSet::new();
    let mut pending: BTreeSet<Arc<str>> = BTreeSet::new();
    let mut listed = false;
    let connected = ClusterState::Connected { server_version: Arc::from(version) };
    // Runs while the server may be out of reach: it names the outage and ends once it answers.
    let mut recovery: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>> = None;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            () = async { if let Some(recovery) = recovery.as_mut() { recovery.await } }, if recovery.is_some() => {
                recovery = None;
                continue;
            }
        };
        let Some(event) = event else { return };
        let name_of = |meta: &kube::core::PartialObjectMeta<Namespace>| {
            Arc::from(meta.metadata.name.as_deref().unwrap_or_default())
        };
        match event {
            Ok(Event::Init) => pending.clear(),
            Ok(Event::InitApply(ns)) => {
                pending.insert(name_of(&ns));
            }
            Ok(Event::InitDone) => {
                names = std::mem::take(&mut pending);
                listed = true;
            }
            Ok(Event::Apply(ns)) => {
                names.insert(name_of(&ns));
            }
            Ok(Event::Delete(ns)) => {
                names.remove(&name_of(&ns));
            }
            Err(
                watcher::Error::InitialListFailed(kube::Error::Api(status))
                | watcher::Error::WatchStartFailed(kube::Error::Api(status)),
            ) if status.code == 403 => {
                tracing::info!(cluster = %id, "may not list namespaces; using the context's namespace");
                return;
            }
            Err(error) => {
                let (kind, broke) = match &error {
                    watcher::Error::WatchFailed(e) => (errors::classify(e), true),
                    watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) => {
                        (errors::classify(e), false)
                    }
                    _ => (ClusterErrorKind::Other, false),
                };
                let state = failed(kind, errors::error_chain(&error));
                if bounded::is_endless_list(&error) || bounded::is_too_large(&error) {
                    // The server answers, but more than Klieg reads: that shows until the
                    // watch recovers, whatever else the server answers meanwhile.
                    fleet.update(id, |info| info.state = state);
                } else if recovery.is_none() {
                    // A broken stream is shown only if the server then does not answer.
                    let shown_now = (!broke).then_some(state);
                    recovery = Some(Box::pin(until_answered(client, id, fleet, connected.clone(), shown_now)));
                }
                continue;
            }
        }
        let list: Arc<[Arc<str>]> = names.iter().cloned().collect();
        let state = connected.clone();
        fleet.update(id, |info| {
            info.state = state;
            if !list.is_empty() {
                info.namespaces = list;
            }
        });
        // Saved once per full list, not on every namespace event; a list that came while another
        // follower showed the cluster failing is saved with the next event.
        if listed && fleet.remember(id) {
            listed = false;
        }
    }
}

/// Asks the server for its version, with backoff, until it answers: then the cluster is
/// `connected` again. `failure`, if given, is shown at once; otherwise the first unanswered
/// probe's error is.
async fn until_answered(
    client: &kube::Client,
    id: &ClusterId,
    fleet: &FleetState,
    connected: ClusterState,
    mut failure: Option<ClusterState>,
) {
    if let Some(state) = failure.take() {
        fleet.update(id, |info| info.state = state);
    }
    let mut backoff = table_watch::Backoff::default();
    loop {
        match client.apiserver_version().await {
            Ok(_) => {
                fleet.update(id, |info| info.state = connected);
                return;
            }
            Err(error) => {
                let state = failed(errors::classify(&error), errors::error_chain(&error));
                fleet.update(id, |info| info.state = state);
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// Re-runs discovery when CRDs change, so new custom kinds appear without a restart.
async fn follow_crds(client: &kube::Client, id: &ClusterId, fleet: &FleetState) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::watcher::{self, Event};
    // Metadata only (kube asks for `PartialObjectMetadata`): a change is all that is needed
    // (discovery reads the kinds), and a cluster
    // with many large CRDs (schemas of megabytes each) would otherwise cost that much per relist.
    let api: kube::Api<kube::core::PartialObjectMeta<CustomResourceDefinition>> = kube::Api::all(client.clone());
    let stream = table_watch::backed_off(watcher::watcher(api, watcher::Config::default()));
    futures::pin_mut!(stream);
    let mut listed = false;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::InitDone) => {
                listed = true;
                continue;
            }
            Ok(Event::Apply(_) | Event::Delete(_)) if listed => {}
            _ => continue,
        }
        // A burst of CRD changes settles before discovery runs again.
        let quiet = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(quiet);
        loop {
            tokio::select! {
                _ = &mut quiet => break,
                next = stream.next() => if next.is_none() { return },
            }
        }
        match discovery::discover(client).await {
            Ok(found) => {
                let kinds: Arc<[ResourceKind]> = Arc::from(found.kinds);
                fleet.update(id, |info| info.kinds = kinds.clone());
                fleet.update_kinds(id, kinds, found.metrics);
                fleet.remember(id);
            }
            Err(error) => {
                tracing::warn!(cluster = %id, %error, "rediscovery after a CRD change failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_find_the_queue_full_wait_in_order_and_none_is_lost() {
        let (tx, mut rx) = mpsc::channel(2);
        let sender = CommandSender::new(tx);
        let close = |id| Command::CloseTerminal { id };
        for id in 1..=5 {
            sender.send(close(id));
        }
        let mut received = Vec::new();
        while let Ok(Command::CloseTerminal { id }) = rx.try_recv() {
            received.push(id);
        }
        assert_eq!(received, [1, 2], "the queue holds two");
        assert!(sender.flush(), "three wait");
        sender.send(close(6));
        while sender.flush() || !rx.is_empty() {
            while let Ok(Command::CloseTerminal { id }) = rx.try_recv() {
                received.push(id);
            }
        }
        assert_eq!(received, [1, 2, 3, 4, 5, 6], "in order, none dropped");
        drop(rx);
        sender.send(close(7));
        assert!(!sender.flush(), "a stopped backend keeps nothing waiting");
    }
}
