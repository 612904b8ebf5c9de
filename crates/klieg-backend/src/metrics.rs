//! metrics-server usage: a poller per (cluster, pods or nodes) in the table view that lists
//! `metrics.k8s.io` usage with the pods' requests and limits (or the nodes' allocatable) and
//! publishes table cells; and a sampler for the one pod or node open in details that keeps its
//! rolling history for the charts. Backend runtime.

use super::Waker;
use klieg_model::ObjectKey;
use klieg_model::usage::{NameKey, Usage, UsageHistory, UsageKind, UsageSample, UsageTable, parse_quantity};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use rust_i18n::t;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How often usage is asked for: metrics-server itself scrapes every 15 s by default.
pub const POLL_INTERVAL: Duration = Duration::from_secs(10);

fn metrics_resource(plural: &str) -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: if plural == "pods" { "PodMetrics".into() } else { "NodeMetrics".into() },
        plural: plural.into(),
    }
}

/// The core/v1 pods or nodes, for their requests, limits and allocatable.
fn core_resource(plural: &str) -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: if plural == "nodes" { "Node".into() } else { "Pod".into() },
        plural: plural.into(),
    }
}

/// The quantity (`250m`, `1Gi`…) at `pointer`, as a number.
fn quantity_at(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_str).and_then(parse_quantity)
}

/// Sums a resource over a metrics item's containers (pods) or reads it (nodes).
fn measured(item: &Value, resource: &str) -> f64 {
    match item.get("containers").and_then(Value::as_array) {
        Some(containers) => containers.iter().filter_map(|c| quantity_at(c, &format!("/usage/{resource}"))).sum(),
        None => quantity_at(item, &format!("/usage/{resource}")).unwrap_or(0.0),
    }
}

/// A pod's requests or limits for `resource`, summed over its containers; `None` when any
/// container sets none (for limits: the pod is then unlimited) or none sets one.
fn pod_total(pod: &Value, field: &str, resource: &str) -> Option<f64> {
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array)?;
    let mut total = 0.0;
    for container in containers {
        total += quantity_at(container, &format!("/resources/{field}/{resource}"))?;
    }
    (!containers.is_empty()).then_some(total)
}

/// Usage against what each object is measured by: pods' requests and limits, nodes' allocatable.
pub fn usage_of(kind: UsageKind, metrics_item: &Value, object: Option<&Value>) -> Usage {
    let mut usage = Usage {
        cpu_cores: measured(metrics_item, "cpu"),
        memory_bytes: measured(metrics_item, "memory"),
        ..Usage::default()
    };
    let Some(object) = object else { return usage };
    match kind {
        UsageKind::Pods => {
            usage.cpu_request_cores = pod_total(object, "requests", "cpu");
            usage.cpu_limit_cores = pod_total(object, "limits", "cpu");
            usage.memory_request_bytes = pod_total(object, "requests", "memory");
            usage.memory_limit_bytes = pod_total(object, "limits", "memory");
        }
        UsageKind::Nodes => {
            let allocatable = |resource: &str| quantity_at(object, &format!("/status/allocatable/{resource}"));
            (usage.cpu_request_cores, usage.memory_request_bytes) = (allocatable("cpu"), allocatable("memory"));
            (usage.cpu_limit_cores, usage.memory_limit_bytes) = (usage.cpu_request_cores, usage.memory_request_bytes);
        }
    }
    usage
}

/// The table cells for every measured object, against its bounds where known. Keys are taken
/// from the bounds where they match, so a pod's names are held once for both.
pub fn usage_table(
    kind: UsageKind,
    measured: Vec<(NameKey, Usage)>,
    bounds: Option<&HashMap<NameKey, Usage>>,
) -> UsageTable {
    let cells = measured
        .into_iter()
        .map(|(key, measured)| match bounds.and_then(|b| b.get_key_value(&key)) {
            Some((shared_key, bounds)) => {
                let usage = Usage { cpu_cores: measured.cpu_cores, memory_bytes: measured.memory_bytes, ..*bounds };
                (shared_key.clone(), kind.cells(&usage))
            }
            None => (key, kind.cells(&measured)),
        })
        .collect();
    UsageTable { columns: Arc::from(kind.columns()), cells, error: None }
}

/// Every object of `api`, a page at a time, each turned by `each` into what is kept of it,
/// so a whole list of objects is never held at once.
async fn list_paged<T>(api: &Api<DynamicObject>, each: impl Fn(DynamicObject) -> T) -> Result<Vec<T>, kube::Error> {
    let mut kept = Vec::new();
    let mut params = ListParams::default().limit(OBJECTS_PAGE);
    loop {
        let page = api.list(&params).await?;
        let next = page.metadata.continue_.clone().filter(|token| !token.is_empty());
        kept.extend(page.items.into_iter().map(&each));
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(kept),
        }
    }
}

/// Every metrics item's usage.
async fn list_measured(api: &Api<DynamicObject>, kind: UsageKind) -> Result<Vec<(NameKey, Usage)>, kube::Error> {
    list_paged(api, |item| (key_of(&item), usage_of(kind, &item.data, None))).await
}

fn key_of(object: &DynamicObject) -> NameKey {
    (
        object.metadata.namespace.as_deref().map(Arc::from),
        Arc::from(object.metadata.name.as_deref().unwrap_or_default()),
    )
}

fn error_text(error: &kube::Error) -> Arc<str> {
    match error {
        kube::Error::Api(status) => Arc::from(format!("metrics: {}", status.message)),
        other => Arc::from(format!("metrics: {other}")),
    }
}

/// A live usage table for one cluster's pods or nodes; polling stops when this is dropped.
pub struct UsageSubscription {
    pub table: watch::Receiver<Arc<UsageTable>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UsageSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Requests, limits and allocatable change rarely: objects are listed again this often (and
/// sooner when metrics name an object not seen yet), usage every `POLL_INTERVAL`.
const OBJECTS_REFRESH: Duration = Duration::from_secs(60);
const OBJECTS_PAGE: u32 = 500;

/// Each object's bounds: a pod's requests and limits, a node's allocatable (usage left zero),
/// listed a page at a time and kept as numbers only.
async fn list_bounds(api: &Api<DynamicObject>, kind: UsageKind) -> Result<HashMap<NameKey, Usage>, kube::Error> {
    let bounds = list_paged(api, |object| (key_of(&object), usage_of(kind, &Value::Null, Some(&object.data)))).await?;
    Ok(bounds.into_iter().collect())
}

/// Polls one cluster's usage of `kind` into cells for `columns` (the registered usage columns).
pub fn subscribe_usage(
    client: kube::Client,
    (kind, columns): (UsageKind, Arc<[klieg_model::Column]>),
    changed: Arc<Notify>,
) -> UsageSubscription {
    let empty = UsageTable { columns: columns.clone(), ..UsageTable::default() };
    let (tx, rx) = watch::channel(Arc::new(empty));
    let task = tokio::spawn(async move {
        let plural = kind.plural();
        let metrics: Api<DynamicObject> = Api::all_with(client.clone(), &metrics_resource(plural));
        let objects_api: Api<DynamicObject> = Api::all_with(client, &core_resource(plural));
        let mut bounds: Option<(HashMap<NameKey, Usage>, tokio::time::Instant)> = None;
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let polled = async {
                let items = list_measured(&metrics, kind).await?;
                let stale = bounds.as_ref().is_none_or(|(known, at)| {
                    at.elapsed() >= OBJECTS_REFRESH || items.iter().any(|(key, _)| !known.contains_key(key))
                });
                if stale {
                    bounds = Some((list_bounds(&objects_api, kind).await?, tokio::time::Instant::now()));
                }
                Ok::<_, kube::Error>(items)
            };
            let table = match polled.await {
                Ok(items) => UsageTable {
                    columns: columns.clone(),
                    ..usage_table(kind, items, bounds.as_ref().map(|(known, _)| known))
                },
                Err(error) => UsageTable { error: Some(error_text(&error)), ..(**tx.borrow()).clone() },
            };
            // Unchanged usage costs no view rebuild and no repaint.
            if **tx.borrow() != table {
                tx.send_replace(Arc::new(table));
                changed.notify_one();
            }
        }
    });
    UsageSubscription { table: rx, task }
}

impl super::feed::Follower for UsageSampler {
    /// The object open in details; only pods and nodes of clusters with metrics-server are sampled.
    type Query = (klieg_model::KindKey, ObjectKey);
    type Snapshot = UsageHistory;

    fn follow(&mut self, context: &super::feed::FeedContext, query: Option<Self::Query>) {
        let clients = context.clients();
        self.waiting = query.as_ref().is_some_and(|(_, key)| !clients.contains_key(&key.cluster));
        let sampled = query.and_then(|(kind, key)| {
            let (usage_kind, _) = self.registry.current().usage_columns_for(&kind)?;
            let connected = clients.get(&key.cluster).filter(|c| super::serves_metrics(c))?;
            Some((connected.client.clone(), usage_kind, key))
        });
        match sampled {
            Some((client, usage_kind, key)) => self.start(client, usage_kind, key),
            None => self.stop(),
        }
    }

    fn waits_for_a_cluster(&self) -> bool {
        self.waiting
    }
}

impl super::feed::Follower for OverviewPoller {
    /// The clusters shown, with whether each was connected when asked (a cluster that connects
    /// later changes the query, and is polled at once).
    type Query = Vec<(klieg_model::ClusterId, bool)>;
    type Snapshot = klieg_model::OverviewSnapshot;

    fn follow(&mut self, context: &super::feed::FeedContext, query: Option<Self::Query>) {
        match query {
            Some(clusters) => self.open(context.clients.clone(), clusters.into_iter().map(|(id, _)| id).collect()),
            None => self.close(),
        }
    }
}

/// Samples the usage of the pod or node open in details every `POLL_INTERVAL` into a bounded
/// rolling history, published for the charts; stops when dropped.
pub struct UsageSampler {
    /// Which kinds have usage (the registered usage column sets).
    registry: klieg_model::LiveRegistry,
    task: super::TaskSlot,
    out: watch::Sender<Arc<UsageHistory>>,
    waker: Waker,
    generation: u64,
    /// The object asked for is on a cluster not connected (yet).
    waiting: bool,
}

impl UsageSampler {
    pub fn new(registry: klieg_model::LiveRegistry, out: watch::Sender<Arc<UsageHistory>>, waker: Waker) -> Self {
        Self { registry, task: super::TaskSlot::default(), out, waker, generation: 0, waiting: false }
    }

    pub fn stop(&mut self) {
        self.task.stop();
        self.generation += 1;
        self.out.send_replace(Arc::new(UsageHistory { generation: self.generation, ..UsageHistory::default() }));
        (self.waker)();
    }

    pub fn start(&mut self, client: kube::Client, kind: UsageKind, key: ObjectKey) {
        self.stop();
        let (out, waker) = (self.out.clone(), self.waker.clone());
        let mut history = UsageHistory {
            generation: self.generation,
            key: Some(key.clone()),
            kind: Some(kind),
            ..UsageHistory::default()
        };
        self.task.set(tokio::spawn(async move {
            let plural = kind.plural();
            let namespace = key.namespace.as_deref();
            let api = |resource: &ApiResource| match namespace {
                Some(ns) => Api::<DynamicObject>::namespaced_with(client.clone(), ns, resource),
                None => Api::<DynamicObject>::all_with(client.clone(), resource),
            };
            let metrics = api(&metrics_resource(plural));
            let objects = api(&core_resource(plural));
            let mut ticker = tokio::time::interval(POLL_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let sampled = async {
                    let item = serde_json::to_value(metrics.get(&key.name).await?).unwrap_or_default();
                    let object = serde_json::to_value(objects.get(&key.name).await?).unwrap_or_default();
                    Ok::<_, kube::Error>(usage_of(kind, &item, Some(&object)))
                };
                match sampled.await {
                    Ok(usage) => {
                        let at_unix_secs = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
                        history.push(UsageSample {
                            at_unix_secs,
                            cpu_cores: usage.cpu_cores,
                            memory_bytes: usage.memory_bytes,
                        });
                        history.latest = usage;
                        history.error = None;
                    }
                    Err(error) => history.error = Some(error_text(&error)),
                }
                history.generation += 1;
                out.send_replace(Arc::new(history.clone()));
                waker();
            }
        }));
    }
}

/// What one unfinished pod asks of the cluster: requests and limits summed over its containers
/// (a container without a limit adds its request, as the scheduler's view of limits does not
/// exist).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PodAllocation {
    pub cpu_requests: f64,
    pub memory_requests: f64,
    pub cpu_limits: f64,
    pub memory_limits: f64,
}

/// A pod's allocation, or `None` when it has finished (Succeeded or Failed).
pub fn pod_allocation(pod: &Value) -> Option<PodAllocation> {
    if matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed")) {
        return None;
    }
    let mut allocation = PodAllocation::default();
    for container in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
        let cpu_request = quantity_at(container, "/resources/requests/cpu").unwrap_or(0.0);
        let memory_request = quantity_at(container, "/resources/requests/memory").unwrap_or(0.0);
        allocation.cpu_requests += cpu_request;
        allocation.memory_requests += memory_request;
        allocation.cpu_limits += quantity_at(container, "/resources/limits/cpu").unwrap_or(cpu_request);
        allocation.memory_limits += quantity_at(container, "/resources/limits/memory").unwrap_or(memory_request);
    }
    Some(allocation)
}

/// Totals one cluster's nodes and its unfinished pods' allocations, with the nodes' usage when
/// `node_metrics` is given.
pub fn overview_of(
    nodes: &[Value],
    pods: &[PodAllocation],
    node_metrics: Option<&[Value]>,
) -> klieg_model::ClusterOverview {
    use klieg_model::ClusterOverview;
    let mut overview = ClusterOverview { nodes: nodes.len(), pods: pods.len(), ..ClusterOverview::default() };
    for node in nodes {
        let ready = node
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        overview.ready_nodes += usize::from(ready);
        overview.cpu.capacity += quantity_at(node, "/status/capacity/cpu").unwrap_or(0.0);
        overview.cpu.allocatable += quantity_at(node, "/status/allocatable/cpu").unwrap_or(0.0);
        overview.memory.capacity += quantity_at(node, "/status/capacity/memory").unwrap_or(0.0);
        overview.memory.allocatable += quantity_at(node, "/status/allocatable/memory").unwrap_or(0.0);
        overview.pod_capacity += quantity_at(node, "/status/allocatable/pods").unwrap_or(0.0);
    }
    for pod in pods {
        overview.cpu.requests += pod.cpu_requests;
        overview.memory.requests += pod.memory_requests;
        overview.cpu.limits += pod.cpu_limits;
        overview.memory.limits += pod.memory_limits;
    }
    if let Some(metrics) = node_metrics {
        overview.cpu.usage = Some(metrics.iter().map(|m| measured(m, "cpu")).sum());
        overview.memory.usage = Some(metrics.iter().map(|m| measured(m, "memory")).sum());
    }
    overview
}

/// A cluster's pod allocations as last listed: when, on which connection, and how many pods
/// (finished ones included) the list held.
struct ListedAllocations {
    epoch: u64,
    at: tokio::time::Instant,
    listed: usize,
    pods: Arc<Vec<PodAllocation>>,
}

/// How many pods the cluster holds, from a one-item list (`remainingItemCount`), if it says.
async fn pod_count(api: &Api<DynamicObject>) -> Result<Option<usize>, kube::Error> {
    let page = api.list(&ListParams::default().limit(1)).await?;
    let more = page.metadata.continue_.as_deref().is_some_and(|token| !token.is_empty());
    Ok(match (more, page.metadata.remaining_item_count) {
        (false, _) => Some(page.items.len()),
        (true, Some(remaining)) => usize::try_from(remaining).ok().map(|r| r + page.items.len()),
        (true, None) => None,
    })
}

/// The pods' allocations of one cluster. Listed in full (paged, each pod reduced to its
/// allocation as it arrives) on a new connection, every `OBJECTS_REFRESH`, and when a one-item
/// probe shows the number of pods changed; else the last list is reused, so a shown overview
/// does not read every pod each `POLL_INTERVAL`.
async fn pod_allocations(
    client: &kube::Client,
    epoch: u64,
    cached: Option<&ListedAllocations>,
) -> Result<ListedAllocations, kube::Error> {
    let api = Api::<DynamicObject>::all_with(client.clone(), &core_resource("pods"));
    if let Some(cached) = cached.filter(|c| c.epoch == epoch && c.at.elapsed() < OBJECTS_REFRESH)
        && pod_count(&api).await?.is_none_or(|count| count == cached.listed)
    {
        return Ok(ListedAllocations { epoch, at: cached.at, listed: cached.listed, pods: cached.pods.clone() });
    }
    let listed = list_paged(&api, |pod| pod_allocation(&pod.data)).await?;
    let count = listed.len();
    let pods = listed.into_iter().flatten().collect();
    Ok(ListedAllocations { epoch, at: tokio::time::Instant::now(), listed: count, pods: Arc::new(pods) })
}

/// One cluster's overview, and the pods' allocations it was computed from (kept for the next
/// poll, which reads pods in full only when their number changed or a minute passed).
async fn poll_cluster(
    id: &klieg_model::ClusterId,
    connected: Option<super::ConnectedCluster>,
    cached: Option<&ListedAllocations>,
) -> (klieg_model::ClusterOverview, Option<ListedAllocations>) {
    use klieg_model::ClusterOverview;
    let failed = |error: Arc<str>| ClusterOverview {
        cluster: Some(id.clone()),
        error: Some(error),
        ..ClusterOverview::default()
    };
    let Some(connected) = connected else {
        return (failed(Arc::from(t!("backend.not_connected").as_ref())), None);
    };
    let client = &connected.client;
    let nodes = Api::<DynamicObject>::all_with(client.clone(), &core_resource("nodes"));
    let node_metrics = Api::<DynamicObject>::all_with(client.clone(), &metrics_resource("nodes"));
    let polled = async {
        let nodes = list_paged(&nodes, |node| node.data).await?;
        let pods = pod_allocations(client, connected.epoch, cached).await?;
        // Usage is optional: the totals stand without it.
        let usage = if connected.metrics { list_paged(&node_metrics, |m| m.data).await.ok() } else { None };
        Ok::<_, kube::Error>((overview_of(&nodes, &pods.pods, usage.as_deref()), pods))
    };
    match polled.await {
        Ok((overview, pods)) => (ClusterOverview { cluster: Some(id.clone()), ..overview }, Some(pods)),
        Err(error) => (failed(error_text(&error)), None),
    }
}

/// Polls the overview of the chosen clusters every `POLL_INTERVAL` while it is shown.
pub struct OverviewPoller {
    out: watch::Sender<Arc<klieg_model::OverviewSnapshot>>,
    waker: Waker,
    task: super::TaskSlot,
}

impl OverviewPoller {
    pub fn new(out: watch::Sender<Arc<klieg_model::OverviewSnapshot>>, waker: Waker) -> Self {
        Self { out, waker, task: super::TaskSlot::default() }
    }

    pub fn close(&mut self) {
        self.task.stop();
    }

    /// Polls `clusters`, each with the client it has at that moment (a cluster that connects
    /// later is picked up at the next poll).
    pub fn open(&mut self, clients: watch::Receiver<Arc<super::ClientMap>>, clusters: Vec<klieg_model::ClusterId>) {
        use klieg_model::{ClusterOverview, OverviewSnapshot};
        self.close();
        let (out, waker) = (self.out.clone(), self.waker.clone());
        self.task.set(tokio::spawn(async move {
            let mut generation = 0;
            let mut ticker = tokio::time::interval(POLL_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut clients = clients;
            let mut allocations: HashMap<klieg_model::ClusterId, ListedAllocations> = HashMap::new();
            let mut last: Option<Vec<ClusterOverview>> = None;
            loop {
                // Every interval, and at once when a cluster connects or reconnects.
                tokio::select! {
                    _ = ticker.tick() => {}
                    changed = clients.changed() => if changed.is_err() { return },
                }
                let map = clients.borrow_and_update().clone();
                let cached = &allocations;
                let polls = clusters.iter().map(|id| poll_cluster(id, map.get(id).cloned(), cached.get(id)));
                let polled = futures::future::join_all(polls).await;
                let mut overviews = Vec::with_capacity(polled.len());
                for (overview, pods) in polled {
                    if let (Some(id), Some(pods)) = (&overview.cluster, pods) {
                        allocations.insert(id.clone(), pods);
                    }
                    overviews.push(overview);
                }
                // Published only when something changed, so an idle overview stays idle.
                if last.as_ref() == Some(&overviews) {
                    continue;
                }
                last = Some(overviews.clone());
                generation += 1;
                out.send_replace(Arc::new(OverviewSnapshot { generation, clusters: overviews }));
                waker();
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_key(value: &Value) -> NameKey {
        let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str).map(Arc::from);
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        (namespace, Arc::from(name))
    }

    use serde_json::json;

    #[test]
    fn pod_usage_sums_containers_against_requests_and_limits() {
        let metrics = json!({"metadata": {"name": "web", "namespace": "shop"}, "containers": [
            {"name": "app", "usage": {"cpu": "150000000n", "memory": "65536Ki"}},
            {"name": "proxy", "usage": {"cpu": "50m", "memory": "32Mi"}}]});
        let pod = json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "400m"}}},
            {"name": "proxy", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}});
        let usage = usage_of(UsageKind::Pods, &metrics, Some(&pod));
        assert!((usage.cpu_cores - 0.2).abs() < 1e-9);
        assert!((usage.memory_bytes - 96.0 * 1024.0 * 1024.0).abs() < 1.0);
        assert_eq!(usage.cpu_request_cores.map(|c| (c * 1000.0).round()), Some(200.0));
        assert_eq!(usage.cpu_limit_cores, None, "one container without a limit: unlimited");
        let bounds = HashMap::from([(name_key(&pod), usage_of(UsageKind::Pods, &Value::Null, Some(&pod)))]);
        let measured = vec![(name_key(&metrics), usage_of(UsageKind::Pods, &metrics, None))];
        let table = usage_table(UsageKind::Pods, measured, Some(&bounds));
        let cells = &table.cells[&(Some(Arc::from("shop")), Arc::from("web"))];
        assert_eq!(cells[0].display(0), "200m");
        assert_eq!(cells[1].display(0), "100%");
        assert_eq!(cells[4].display(0), "75%");
    }

    #[test]
    fn node_usage_is_measured_against_allocatable() {
        let metrics = json!({"metadata": {"name": "n1"}, "usage": {"cpu": "2", "memory": "4Gi"}});
        let node = json!({"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "8", "memory": "16Gi"}}});
        let bounds = HashMap::from([(name_key(&node), usage_of(UsageKind::Nodes, &Value::Null, Some(&node)))]);
        let measured = vec![(name_key(&metrics), usage_of(UsageKind::Nodes, &metrics, None))];
        let table = usage_table(UsageKind::Nodes, measured, Some(&bounds));
        let cells = &table.cells[&(None, Arc::from("n1"))];
        assert_eq!(
            cells.iter().map(|c| c.display(0).into_owned()).collect::<Vec<_>>(),
            ["2000m", "25%", "4.00Gi", "25%"]
        );
    }

    #[test]
    fn the_overview_totals_nodes_and_unfinished_pods() {
        let node = |name: &str, ready: &str| {
            json!({"metadata": {"name": name}, "status": {
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": ready}]}})
        };
        let pod = |phase: &str| {
            json!({"spec": {"containers": [
                {"resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}},
                {"resources": {"requests": {"cpu": "100m"}}}]}, "status": {"phase": phase}})
        };
        let metrics = [json!({"metadata": {"name": "a"}, "usage": {"cpu": "1500m", "memory": "4Gi"}})];
        let pods: Vec<PodAllocation> = [pod("Running"), pod("Succeeded")].iter().filter_map(pod_allocation).collect();
        let overview = overview_of(&[node("a", "True"), node("b", "False")], &pods, Some(&metrics));
        assert_eq!((overview.nodes, overview.ready_nodes, overview.pods), (2, 1, 1));
        assert!((overview.cpu.allocatable - 7.6).abs() < 1e-9);
        assert!((overview.cpu.requests - 0.35).abs() < 1e-9);
        assert!((overview.cpu.limits - 1.1).abs() < 1e-9, "a container without a limit counts its request");
        assert_eq!(overview.memory.requests, 256.0 * 1024.0 * 1024.0);
        assert_eq!(overview.pod_capacity, 220.0);
        assert_eq!(overview.cpu.usage, Some(1.5));
        assert_eq!(overview_of(&[], &[], None).cpu.usage, None);
    }
}
