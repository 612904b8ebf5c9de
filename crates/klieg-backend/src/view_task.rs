//! The view task: holds the subscriptions the current table view needs (shared through the
//! subscription pool), shows cached or frozen rows where a cluster is off, paused, unreachable or
//! still listing, saves live rows to the offline cache, and publishes the merged snapshot on
//! change. Runs on the backend runtime; merging and sorting happen on a blocking thread.

use super::cache::{CachedRows, OfflineCache};
use super::ingest::{self, Subscription, SubscriptionRows};
use super::pool::{PoolLimits, SubscriptionPool};
use super::{ClientMap, Waker, metrics, serves_metrics, view};
use klieg_model::{
    ClusterId, ClusterMode, ClusterState, FleetSnapshot, KindKey, TableSnapshot, ViewQuery, ViewStatus, now_unix_secs,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// An unused subscription keeps watching this long, so switching back is instant.
pub const SUBSCRIPTION_LINGER: Duration = Duration::from_secs(60);
/// Live subscriptions over all clusters, the ones on screen included.
pub const MAX_LIVE_SUBSCRIPTIONS: usize = 64;
/// Rows kept over all live subscriptions; idle subscriptions are stopped first when over.
pub const MAX_TOTAL_ROWS: usize = 1_500_000;
/// A changing subscription's rows are written to the offline cache at most this often.
const CACHE_SAVE_INTERVAL: Duration = Duration::from_secs(30);

/// (cluster, kind, namespace or all).
pub type SubKey = (ClusterId, KindKey, Option<Arc<str>>);

pub struct ViewSubscription {
    subscription: Subscription,
    epoch: u64,
    /// The column sets its rows were ingested with (a plugin's reload changes them).
    columns: ColumnSignature,
}

impl ViewSubscription {
    fn rows(&self) -> Arc<SubscriptionRows> {
        self.subscription.rows.borrow().clone()
    }
}

/// Which column sets, by id and builder, a subscription's rows were ingested with: a plugin's
/// reload builds new builders, so its kinds are listed again and their cells computed anew,
/// while kinds it does not touch keep their watches.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ColumnSignature(Vec<(Arc<str>, usize)>);

impl ColumnSignature {
    fn of(sets: &[klieg_model::registry::ColumnSetSpec]) -> Self {
        let builder = |values: &klieg_model::registry::ColumnValues| match values {
            klieg_model::registry::ColumnValues::Row(build) => Arc::as_ptr(build).cast::<()>() as usize,
            klieg_model::registry::ColumnValues::Usage(_) => 0,
        };
        Self(sets.iter().map(|set| (set.id.clone(), builder(&set.values))).collect())
    }
}

/// Rows written to the offline cache: generation and when.
struct Saved {
    generation: u64,
    at: Instant,
}

struct ViewState {
    pool: SubscriptionPool<SubKey, ViewSubscription>,
    /// What the current view holds in the pool.
    held: BTreeSet<SubKey>,
    /// Rows shown while no live rows are: frozen when a cluster was paused, or read from the
    /// offline cache. Dropped once live rows arrive.
    known: HashMap<SubKey, Arc<SubscriptionRows>>,
    /// Keys the offline cache has nothing for (cleared when they are saved).
    not_cached: HashSet<SubKey>,
    saved: HashMap<SubKey, Saved>,
    cache: OfflineCache,
}

impl ViewState {
    /// Frozen or cached rows of `key`, reading the cache once.
    async fn known_rows(&mut self, key: &SubKey) -> Option<Arc<SubscriptionRows>> {
        if let Some(rows) = self.known.get(key) {
            return Some(rows.clone());
        }
        if self.not_cached.contains(key) {
            return None;
        }
        let (cache, load_key) = (self.cache.clone(), key.clone());
        let loaded =
            tokio::task::spawn_blocking(move || cache.load_rows(&load_key.0, &load_key.1, load_key.2.as_deref()))
                .await
                .ok()
                .flatten();
        match loaded {
            Some(CachedRows { rows, .. }) => {
                self.known.insert(key.clone(), rows.clone());
                Some(rows)
            }
            None => {
                self.not_cached.insert(key.clone());
                None
            }
        }
    }

    /// Writes live rows to the offline cache: the first full list at once, changes at most every
    /// `CACHE_SAVE_INTERVAL`. Returns when a held change is next due, if one waits.
    fn save_due(&mut self, key: &SubKey, rows: &Arc<SubscriptionRows>, now: Instant, force: bool) -> Option<Instant> {
        if rows.status != ViewStatus::Live {
            return None;
        }
        if let Some(saved) = self.saved.get(key) {
            if saved.generation == rows.generation {
                return None;
            }
            let due = saved.at + CACHE_SAVE_INTERVAL;
            if !force && now < due {
                return Some(due);
            }
        }
        self.saved.insert(key.clone(), Saved { generation: rows.generation, at: now });
        self.not_cached.remove(key);
        self.cache.save_rows(&key.0, &key.1, key.2.as_deref(), rows.clone(), now_unix_secs());
        None
    }

    /// Stops a subscription, keeping its rows for display (paused) or on disk (evicted).
    fn stop(&mut self, key: &SubKey, subscription: ViewSubscription, keep_in_memory: bool, now: Instant) {
        let rows = subscription.rows();
        self.save_due(key, &rows, now, true);
        self.saved.remove(key);
        if keep_in_memory && rows.status == ViewStatus::Live {
            self.known.insert(key.clone(), rows);
        }
    }
}

/// Keeps the subscriptions of the current view alive and publishes its snapshot on change,
/// at most every `PUBLISH_INTERVAL` unless the query itself changed.
pub async fn view_task(
    mut query_rx: watch::Receiver<Option<ViewQuery>>,
    mut clients_rx: watch::Receiver<Arc<ClientMap>>,
    mut fleet_rx: watch::Receiver<Arc<FleetSnapshot>>,
    table_tx: watch::Sender<Arc<TableSnapshot>>,
    waker: Waker,
    cache: OfflineCache,
    (registry, mut registry_changes, plugin_watches): (
        klieg_model::LiveRegistry,
        watch::Receiver<u64>,
        Arc<super::plugin_watch::PluginWatches>,
    ),
) {
    let limits = PoolLimits { linger: SUBSCRIPTION_LINGER, max_live: MAX_LIVE_SUBSCRIPTIONS, max_rows: MAX_TOTAL_ROWS };
    let mut driver = ViewDriver {
        state: ViewState {
            pool: SubscriptionPool::new(limits),
            held: BTreeSet::new(),
            known: HashMap::new(),
            not_cached: HashSet::new(),
            saved: HashMap::new(),
            cache,
        },
        forbidden_wide: BTreeSet::new(),
        usage_polls: HashMap::new(),
        changed: Arc::new(Notify::new()),
        registry,
        plugin_watches: plugin_watches.clone(),
        plugin_held: std::collections::BTreeMap::new(),
    };
    let mut generation = 0;
    let mut last_query = ViewQuery::default();
    loop {
        let query = query_rx.borrow_and_update().clone().unwrap_or_default();
        let clients = clients_rx.borrow_and_update().clone();
        let fleet = fleet_rx.borrow_and_update().clone();
        let Some(round) = driver.round(&query, &clients, &fleet).await else {
            // A cluster-wide watch was just refused: build again with per-namespace watches.
            continue;
        };
        generation += 1;
        let query_for_build = query.clone();
        let Round { parts, kind, next_save } = round;
        let snapshot =
            tokio::task::spawn_blocking(move || view::build_view(&query_for_build, kind, &parts, generation)).await;
        if let Ok(snapshot) = snapshot {
            table_tx.send_replace(Arc::new(snapshot));
            waker();
        }
        let query_changed = query != last_query;
        last_query = query;
        // Row changes publish at most every PUBLISH_INTERVAL; a new query (the user switching
        // kind or cluster) cuts the wait short.
        if !query_changed {
            tokio::select! {
                () = tokio::time::sleep(ingest::PUBLISH_INTERVAL) => {}
                result = query_rx.changed() => {
                    if result.is_err() {
                        return;
                    }
                    continue;
                }
            }
        }
        let wake_at = [driver.state.pool.next_expiry(), next_save].into_iter().flatten().min();
        tokio::select! {
            result = query_rx.changed() => if result.is_err() { return },
            result = clients_rx.changed() => if result.is_err() { return },
            result = fleet_rx.changed() => if result.is_err() { return },
            result = registry_changes.changed() => if result.is_err() { return },
            () = driver.changed.notified() => {}
            () = plugin_watches.changed.notified() => {}
            () = sleep_until_some(wake_at) => {}
        }
    }
}

/// What one round of the view task found: the parts to merge, the kind shown, and when a held
/// cache write is next due.
struct Round {
    parts: Vec<view::ViewPart>,
    kind: Option<klieg_model::ResourceKind>,
    next_save: Option<Instant>,
}

/// The view task's state between rounds.
struct ViewDriver {
    state: ViewState,
    /// (cluster, kind, connection epoch) where listing across namespaces was refused (403).
    forbidden_wide: BTreeSet<(ClusterId, KindKey, u64)>,
    /// Pod and node tables also poll metrics-server, where the cluster serves it.
    usage_polls: HashMap<(ClusterId, KindKey), (u64, metrics::UsageSubscription)>,
    /// Notified after every publish of a subscription or a usage poll.
    changed: Arc<Notify>,
    registry: klieg_model::LiveRegistry,
    /// What plugins watch, and the subscriptions held in the pool for them.
    plugin_watches: Arc<super::plugin_watch::PluginWatches>,
    /// Each watched key, and the subscription serving it.
    plugin_held: std::collections::BTreeMap<SubKey, SubKey>,
}

impl ViewDriver {
    /// Takes a hold on `key` in the pool, starting its watch (with the kind's column sets) if
    /// none runs: the table's and plugins' holds alike.
    fn acquire(
        &mut self,
        key: &SubKey,
        kind: &klieg_model::ResourceKind,
        connected: &super::ConnectedCluster,
        now: Instant,
    ) -> &mut ViewSubscription {
        let (changed, column_sets) = (self.changed.clone(), self.registry.current().column_sets_for(&key.1));
        let columns = ColumnSignature::of(&column_sets);
        self.state.pool.acquire(key, now, || ViewSubscription {
            subscription: ingest::subscribe(
                connected.client.clone(),
                key.0.clone(),
                kind.clone(),
                key.2.clone(),
                connected.lists.clone(),
                changed,
                column_sets.into(),
            ),
            epoch: connected.epoch,
            columns,
        })
    }

    /// Holds a subscription in the pool for each key a plugin watches, and gives the rest back.
    /// A watch of one namespace is served by the cluster-wide subscription of its kind when one
    /// runs (the table's, usually), its rows filtered to the namespace; else by its own.
    fn hold_plugin_watches(&mut self, clients: &ClientMap, fleet: &FleetSnapshot, now: Instant) {
        let wanted: BTreeSet<SubKey> = self.plugin_watches.wanted().into_iter().collect();
        // Subscriptions stopped since (a paused cluster, a new connection) are held again.
        let pool = &self.state.pool;
        self.plugin_held.retain(|_, serving| pool.get(serving).is_some());
        for key in self.plugin_held.keys().filter(|k| !wanted.contains(*k)).cloned().collect::<Vec<_>>() {
            if let Some(serving) = self.plugin_held.remove(&key) {
                self.state.pool.release(&serving, now);
            }
        }
        for key in &wanted {
            if !self.plugin_held.contains_key(key) {
                let live = fleet.cluster(&key.0).map(|c| c.mode).unwrap_or_default() == ClusterMode::Live;
                let connected = clients.get(&key.0).filter(|_| live);
                let kind = connected.and_then(|c| c.kinds.iter().find(|k| k.key() == key.1).map(|k| (c, k.clone())));
                let Some((connected, kind)) = kind else {
                    self.plugin_watches.provide(key, None);
                    continue;
                };
                let wide: SubKey = (key.0.clone(), key.1.clone(), None);
                let serving = if key.2.is_some() && self.state.pool.get(&wide).is_some() { wide } else { key.clone() };
                self.acquire(&serving, &kind, connected, now);
                self.plugin_held.insert(key.clone(), serving);
            }
            let rows =
                self.plugin_held.get(key).and_then(|s| self.state.pool.get(s)).map(|s| s.subscription.rows.clone());
            self.plugin_watches.provide(key, rows);
        }
        let shared = self.plugin_held.values().filter(|serving| self.state.held.contains(*serving)).count();
        self.plugin_watches.set_shared(shared);
    }

    /// Holds what `query` needs and gathers its parts; `None` when a cluster-wide watch was just
    /// refused and the round must be planned again.
    async fn round(&mut self, query: &ViewQuery, clients: &ClientMap, fleet: &FleetSnapshot) -> Option<Round> {
        let now = Instant::now();
        self.stop_unwatched(clients, fleet, now);
        let mut round = Round { parts: Vec::new(), kind: None, next_save: None };
        let mut wanted: BTreeSet<SubKey> = BTreeSet::new();
        let mut rerun = false;
        if let Some(kind_key) = &query.kind {
            for cluster in &query.clusters {
                let seen = ClusterView { cluster, kind_key, query, clients, fleet, now };
                rerun |= self.cluster_parts(&seen, &mut round, &mut wanted).await;
            }
        }
        // Holds follow what this view needs: new keys were acquired above, old ones go back.
        for key in self.state.held.difference(&wanted).cloned().collect::<Vec<_>>() {
            self.state.pool.release(&key, now);
        }
        self.state.held = wanted.clone();
        self.hold_plugin_watches(clients, fleet, now);
        if rerun {
            return None;
        }
        // Usage is polled only for what is on screen.
        self.usage_polls.retain(|key, _| wanted.iter().any(|(c, k, _)| (c, k) == (&key.0, &key.1)));
        for (key, subscription) in self.state.pool.evict(now, |s| s.subscription.rows.borrow().rows.len()) {
            self.state.stop(&key, subscription, false, now);
        }
        Some(round)
    }

    /// Watches of clusters now paused, off or reconnected stop; the rows of those on screen stay
    /// in memory, to be shown frozen (paused, off) or while the new connection lists.
    fn stop_unwatched(&mut self, clients: &ClientMap, fleet: &FleetSnapshot, now: Instant) {
        let registry = self.registry.current();
        let gone = self.state.pool.remove_where(|(cluster, kind, _), subscription| {
            let mode = fleet.cluster(cluster).map(|c| c.mode).unwrap_or_default();
            mode != ClusterMode::Live
                || clients.get(cluster).is_none_or(|c| c.epoch != subscription.epoch)
                || subscription.columns != ColumnSignature::of(&registry.column_sets_for(kind))
        });
        for (key, subscription) in gone {
            let on_screen = self.state.held.remove(&key);
            let mode = fleet.cluster(&key.0).map(|c| c.mode).unwrap_or_default();
            self.state.stop(&key, subscription, on_screen && mode != ClusterMode::Live, now);
        }
    }

    /// The parts one cluster adds to the view; says whether a cluster-wide watch was refused.
    async fn cluster_parts(
        &mut self,
        seen: &ClusterView<'_>,
        round: &mut Round,
        wanted: &mut BTreeSet<SubKey>,
    ) -> bool {
        let ClusterView { cluster, kind_key, query, clients, fleet, .. } = *seen;
        let info = fleet.cluster(cluster);
        let connected = clients.get(cluster);
        // The kind as the connection discovered it, else as the offline cache remembers it.
        let kind = match connected {
            Some(connected) => connected.kinds.iter().find(|k| &k.key() == kind_key),
            None => info.and_then(|c| c.kinds.iter().find(|k| &k.key() == kind_key)),
        };
        let Some(kind) = kind else {
            let status = status_without_kind(connected.is_some(), info.map(|c| &c.state));
            round.parts.push(view::ViewPart { cluster: cluster.clone(), rows: None, status, usage: None });
            return false;
        };
        round.kind.get_or_insert_with(|| kind.clone());
        let wide_forbidden = connected.is_some_and(|connected| {
            kind.is_namespaced() && self.forbidden_wide.contains(&(cluster.clone(), kind_key.clone(), connected.epoch))
        });
        // Whether a cluster-wide offline copy exists matters only without a connection.
        let wide_copy = connected.is_none()
            && kind.is_namespaced()
            && self.state.known_rows(&(cluster.clone(), kind_key.clone(), None)).await.is_some();
        let scopes = plan_scopes(&ScopeInputs {
            namespaced: kind.is_namespaced(),
            connected: connected.is_some(),
            wide_forbidden,
            wide_copy,
            chosen: &query.namespaces,
            context_namespace: info.and_then(|c| c.default_namespace.clone()),
            listed: info.map(|c| &c.namespaces[..]).unwrap_or_default(),
        });
        if scopes.is_empty() {
            let status = ViewStatus::Forbidden(Arc::from("no namespace to look in"));
            round.parts.push(view::ViewPart { cluster: cluster.clone(), rows: None, status, usage: None });
            return false;
        }
        let mode = info.map(|c| c.mode).unwrap_or_default();
        let live_connection = connected.filter(|_| mode == ClusterMode::Live);
        let mut usage = live_connection.and_then(|connected| self.usage_of(cluster, kind_key, connected));
        let failed = info.and_then(|c| match &c.state {
            ClusterState::Failed { detail, .. } => Some(detail.clone()),
            _ => None,
        });
        let mut refused = false;
        for scope in scopes {
            let key: SubKey = (cluster.clone(), kind_key.clone(), scope.clone());
            // Paused or off clusters are not watched (their watches stopped above).
            let live_rows = live_connection.and_then(|connected| {
                wanted.insert(key.clone());
                self.live_rows(&key, kind, connected, seen.now, &mut round.next_save)
            });
            if let Some(rows) = &live_rows {
                if scope.is_none() && kind.is_namespaced() && matches!(rows.status, ViewStatus::Forbidden(_)) {
                    if let Some(connected) = connected {
                        self.forbidden_wide.insert((cluster.clone(), kind_key.clone(), connected.epoch));
                    }
                    refused = true;
                }
                if rows.status == ViewStatus::Live {
                    self.state.known.remove(&key);
                }
            }
            let listing = live_rows.as_ref().is_none_or(|r| r.status == ViewStatus::Loading);
            let known = if listing { self.state.known_rows(&key).await } else { None };
            let (rows, status) = merge_rows(mode, live_rows, known, failed.clone(), now_unix_secs());
            round.parts.push(view::ViewPart { cluster: cluster.clone(), status, rows, usage: usage.take() });
        }
        refused
    }

    /// The usage columns' values for a pod or node table, polled while shown.
    fn usage_of(
        &mut self,
        cluster: &ClusterId,
        kind_key: &KindKey,
        connected: &super::ConnectedCluster,
    ) -> Option<Arc<klieg_model::UsageTable>> {
        let (usage_kind, columns) = self
            .registry
            .current()
            .usage_columns_for(kind_key)
            .filter(|_| serves_metrics(connected))
            .map(|(u, c)| (u, Arc::<[klieg_model::Column]>::from(c)))?;
        let key = (cluster.clone(), kind_key.clone());
        if self.usage_polls.get(&key).is_some_and(|(epoch, _)| *epoch != connected.epoch) {
            self.usage_polls.remove(&key);
        }
        let changed = self.changed.clone();
        let (_, poll) = self.usage_polls.entry(key).or_insert_with(|| {
            (connected.epoch, metrics::subscribe_usage(connected.client.clone(), (usage_kind, columns), changed))
        });
        Some(poll.table.borrow().clone())
    }

    /// The live rows of one scope, its subscription held (or acquired); saves them to the
    /// offline cache when due, and notes when a held write is next due.
    fn live_rows(
        &mut self,
        key: &SubKey,
        kind: &klieg_model::ResourceKind,
        connected: &super::ConnectedCluster,
        now: Instant,
        next_save: &mut Option<Instant>,
    ) -> Option<Arc<SubscriptionRows>> {
        let rows = if self.state.held.contains(key) {
            self.state.pool.get(key).map(ViewSubscription::rows)
        } else {
            Some(self.acquire(key, kind, connected, now).rows())
        };
        if let Some(rows) = &rows
            && let Some(due) = self.state.save_due(key, rows, now, false)
        {
            *next_save = Some(next_save.map_or(due, |t| t.min(due)));
        }
        rows
    }
}

/// What a round looks at for one cluster.
#[derive(Clone, Copy)]
struct ClusterView<'a> {
    cluster: &'a ClusterId,
    kind_key: &'a KindKey,
    query: &'a ViewQuery,
    clients: &'a ClientMap,
    fleet: &'a FleetSnapshot,
    now: Instant,
}

/// What decides where a kind is watched on one cluster.
#[derive(Debug, Clone)]
struct ScopeInputs<'a> {
    namespaced: bool,
    connected: bool,
    /// Listing the kind across namespaces was refused (403) on this connection.
    wide_forbidden: bool,
    /// The offline cache holds a cluster-wide copy of the kind's rows.
    wide_copy: bool,
    /// The namespaces the user chose (empty: all).
    chosen: &'a [Arc<str>],
    /// The context's namespace.
    context_namespace: Option<Arc<str>>,
    /// The namespaces the cluster lists (or the context's, for a user who may not list them).
    listed: &'a [Arc<str>],
}

/// Where to watch (or read from the cache): `None` is the whole cluster in one watch, `Some(ns)`
/// one namespace. The whole cluster, unless the user may not list the kind across namespaces
/// (then each namespace they work in: the chosen ones, else the cluster's known ones), or the
/// cluster is unreachable and its rows were cached only per namespace, as a restricted user's
/// were watched (then the chosen namespaces, else the context's). Empty: nowhere to look.
fn plan_scopes(inputs: &ScopeInputs<'_>) -> Vec<Option<Arc<str>>> {
    let chosen_or = |fallback: Vec<Arc<str>>| if inputs.chosen.is_empty() { fallback } else { inputs.chosen.to_vec() };
    let offline_namespaces = chosen_or(inputs.context_namespace.iter().cloned().collect());
    let cached_per_namespace =
        !inputs.connected && inputs.namespaced && !offline_namespaces.is_empty() && !inputs.wide_copy;
    if cached_per_namespace {
        offline_namespaces.into_iter().map(Some).collect()
    } else if inputs.wide_forbidden {
        chosen_or(inputs.listed.to_vec()).into_iter().map(Some).collect()
    } else {
        vec![None]
    }
}

/// The status of a cluster whose connection (or offline copy) does not know the kind.
fn status_without_kind(connected: bool, state: Option<&ClusterState>) -> ViewStatus {
    match (connected, state) {
        (true, _) => ViewStatus::Unavailable,
        (false, Some(ClusterState::Failed { detail, .. })) => ViewStatus::Error(detail.clone()),
        (false, _) => ViewStatus::Loading,
    }
}

/// The rows one scope shows, and their status: rows known from before (frozen when the cluster
/// was paused, or from the offline cache) win while the watch lists, marked paused or stale;
/// else the live rows; else nothing, with the cluster's failure or "loading".
fn merge_rows(
    mode: ClusterMode,
    live: Option<Arc<SubscriptionRows>>,
    known: Option<Arc<SubscriptionRows>>,
    failed: Option<Arc<str>>,
    now_unix_secs: i64,
) -> (Option<Arc<SubscriptionRows>>, ViewStatus) {
    match (live, known) {
        (_, Some(known)) => {
            let status = match (mode, known.status.clone()) {
                (ClusterMode::Paused, _) => ViewStatus::Paused,
                (_, ViewStatus::Stale { saved_unix_secs }) => ViewStatus::Stale { saved_unix_secs },
                // Rows frozen when paused, shown again while the watch relists.
                _ => ViewStatus::Stale { saved_unix_secs: now_unix_secs },
            };
            (Some(known), status)
        }
        (Some(live), None) => {
            let status = live.status.clone();
            (Some(live), status)
        }
        (None, None) => {
            let status = match (mode, failed) {
                (ClusterMode::Paused, _) => ViewStatus::Paused,
                (_, Some(detail)) => ViewStatus::Error(detail),
                _ => ViewStatus::Loading,
            };
            (None, status)
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<Arc<str>> {
        list.iter().map(|n| Arc::from(*n)).collect()
    }

    fn scopes(inputs: &ScopeInputs<'_>) -> Vec<Option<String>> {
        plan_scopes(inputs).into_iter().map(|s| s.map(|n| n.to_string())).collect()
    }

    fn base<'a>(chosen: &'a [Arc<str>], listed: &'a [Arc<str>]) -> ScopeInputs<'a> {
        ScopeInputs {
            namespaced: true,
            connected: true,
            wide_forbidden: false,
            wide_copy: false,
            chosen,
            context_namespace: Some(Arc::from("team")),
            listed,
        }
    }

    #[test]
    fn a_kind_is_watched_cluster_wide_unless_that_is_refused() {
        let (chosen, listed) = (names(&["shop"]), names(&["shop", "team"]));
        assert_eq!(scopes(&base(&chosen, &listed)), [None]);
        let refused = ScopeInputs { wide_forbidden: true, ..base(&chosen, &listed) };
        assert_eq!(scopes(&refused), [Some("shop".to_string())], "the chosen namespaces");
        let refused_all = ScopeInputs { wide_forbidden: true, ..base(&[], &listed) };
        assert_eq!(scopes(&refused_all), [Some("shop".to_string()), Some("team".to_string())], "the listed ones");
        let nowhere = ScopeInputs { wide_forbidden: true, ..base(&[], &[]) };
        assert!(scopes(&nowhere).is_empty(), "no namespace to look in");
        let cluster_scoped = ScopeInputs { namespaced: false, connected: false, ..base(&chosen, &listed) };
        assert_eq!(scopes(&cluster_scoped), [None]);
    }

    #[test]
    fn offline_a_restricted_users_rows_come_from_the_per_namespace_copy() {
        let listed = names(&["team"]);
        let offline = ScopeInputs { connected: false, ..base(&[], &listed) };
        assert_eq!(scopes(&offline), [Some("team".to_string())], "the context's namespace");
        let chosen = names(&["a", "b"]);
        let offline_chosen = ScopeInputs { connected: false, ..base(&chosen, &listed) };
        assert_eq!(scopes(&offline_chosen), [Some("a".to_string()), Some("b".to_string())]);
        let wide_copy = ScopeInputs { connected: false, wide_copy: true, ..base(&[], &listed) };
        assert_eq!(scopes(&wide_copy), [None], "a cluster-wide copy wins");
    }

    fn rows(status: ViewStatus) -> Arc<SubscriptionRows> {
        Arc::new(SubscriptionRows {
            generation: 0,
            columns: Arc::from(Vec::new()),
            rows: Arc::from(Vec::new()),
            status,
        })
    }

    #[test]
    fn known_rows_show_while_the_watch_lists_and_say_how_old_they_are() {
        let cached = rows(ViewStatus::Stale { saved_unix_secs: 100 });
        let (shown, status) = merge_rows(ClusterMode::Live, Some(rows(ViewStatus::Loading)), Some(cached), None, 500);
        assert!(shown.is_some());
        assert_eq!(status, ViewStatus::Stale { saved_unix_secs: 100 }, "the cache's age");
        let frozen = rows(ViewStatus::Live);
        let (_, status) = merge_rows(ClusterMode::Paused, None, Some(frozen.clone()), None, 500);
        assert_eq!(status, ViewStatus::Paused);
        let (_, status) = merge_rows(ClusterMode::Live, None, Some(frozen), None, 500);
        assert_eq!(status, ViewStatus::Stale { saved_unix_secs: 500 }, "frozen rows shown again while relisting");
        let (shown, status) = merge_rows(ClusterMode::Live, Some(rows(ViewStatus::Live)), None, None, 500);
        assert!(shown.is_some());
        assert_eq!(status, ViewStatus::Live);
        let (shown, status) = merge_rows(ClusterMode::Live, None, None, Some(Arc::from("refused")), 500);
        assert!(shown.is_none());
        assert_eq!(status, ViewStatus::Error(Arc::from("refused")));
        assert_eq!(merge_rows(ClusterMode::Paused, None, None, Some(Arc::from("x")), 0).1, ViewStatus::Paused);
        assert_eq!(merge_rows(ClusterMode::Live, None, None, None, 0).1, ViewStatus::Loading);
        assert_eq!(status_without_kind(true, None), ViewStatus::Unavailable);
        assert_eq!(status_without_kind(false, None), ViewStatus::Loading);
    }
}
