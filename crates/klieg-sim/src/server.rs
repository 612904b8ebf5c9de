//! The simulator's HTTPS API server: discovery (legacy and aggregated), list/watch/get/create/
//! update/patch/delete for every stored kind, the Table representation, token auth, and injected
//! faults. Runs on the simulator's tokio runtime; one task per connection.

use super::kinds::{SimKind, cells, column_definitions};
use super::rbac::{Attributes, User, access_review, authorize, rules_review, verb_for};
use super::store::{FieldSelector, ListOptions, ListResult, Store, StoreError, kind_key};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use klieg_model::LabelSelector;
use klieg_model::Propagation;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

pub type Body = BoxBody<Bytes, Infallible>;

/// Faults to inject, changeable while serving.
#[derive(Debug, Default)]
pub struct Faults {
    /// Answer every request with 503 and drop watches, as if the cluster went away.
    pub offline: AtomicBool,
    /// Extra latency per request, in milliseconds.
    pub latency_ms: AtomicU64,
    /// Every Nth request gets a 429 Too Many Requests (0: never).
    pub throttle_every: AtomicU64,
    /// Every Nth request gets a 500 (0: never).
    pub error_every: AtomicU64,
    /// Accept TCP connections and never complete the TLS handshake.
    pub stall_handshake: AtomicBool,
    /// Complete TLS, read requests, and never answer them.
    pub stall_answers: AtomicBool,
    /// Answer every watch at once with 410 Gone, as a server whose watch cache is always behind.
    pub always_gone: AtomicBool,
    /// Every list page, the last included, carries another continue token: a list that never ends.
    pub endless_continue: AtomicBool,
    /// Every watch starts with one line of 17 MiB.
    pub giant_line: AtomicBool,
    /// Every watch starts with bytes that are neither UTF-8 nor JSON.
    pub garbage_lines: AtomicBool,
    /// List answers come a few bytes at a time, this many milliseconds apart (0: at once).
    pub slow_drip_ms: AtomicU64,
    requests: AtomicU64,
    /// LIST requests served, so tests can see a client relist.
    pub lists_served: AtomicU64,
    /// LIST requests being answered now (injected latency included), and the most at once.
    pub lists_in_flight: AtomicU64,
    pub max_lists_in_flight: AtomicU64,
    /// DELETE requests being answered now, and the most at once.
    pub deletes_in_flight: AtomicU64,
    pub max_deletes_in_flight: AtomicU64,
    /// The kinds (plurals) whose lists or watches were asked as metadata only
    /// (`as=PartialObjectMetadata`).
    pub metadata_kinds: parking_lot::Mutex<std::collections::BTreeSet<String>>,
    /// TCP connections accepted, so tests can see a client reconnect.
    pub connections_accepted: AtomicU64,
    /// Bumped to end every open watch (see `SimCluster::expire_watches`).
    watch_epoch: AtomicU64,
    /// Wakes every open connection's task to drop it (see `SimCluster::drop_connections`).
    pub dropped: tokio::sync::Notify,
}

/// One simulated cluster: its store, its change feed and its settings.
pub struct SimCluster {
    pub name: String,
    pub git_version: String,
    /// The kubeconfig's token, an admin's (`system:masters`); `add_user` adds more users.
    pub token: String,
    users: Mutex<HashMap<String, User>>,
    pub store: Mutex<Store>,
    pub changes: broadcast::Sender<Arc<super::store::StoredEvent>>,
    pub faults: Faults,
    /// How often watches get a bookmark.
    pub bookmark_interval: Duration,
}

impl SimCluster {
    pub fn new(name: &str, git_version: &str, token: &str) -> Self {
        let (changes, _) = broadcast::channel(8192);
        let cluster = Self {
            name: name.into(),
            git_version: git_version.into(),
            token: token.into(),
            users: Mutex::new(HashMap::from([(token.to_string(), User::new("admin", &["system:masters"]))])),
            store: Mutex::new(Store::new()),
            changes,
            faults: Faults::default(),
            bookmark_interval: Duration::from_secs(15),
        };
        cluster.mutate(|store| {
            if let Some(kind) = store.kind("rbac.authorization.k8s.io", "v1", "clusterroles").cloned() {
                for role in super::rbac::bootstrap_roles() {
                    let _ = store.create(&kind, "", role);
                }
            }
        });
        cluster
    }

    /// Accepts a bearer token as `user`, whose rights come from the stored RBAC objects.
    pub fn add_user(&self, token: &str, user: User) {
        self.users.lock().insert(token.to_string(), user);
    }

    fn user_for(&self, token: &str) -> Option<User> {
        self.users.lock().get(token).cloned()
    }

    /// Forgets the watch history and ends every open watch, so clients resuming from their last
    /// resource version get 410 Gone and must relist, as after an etcd compaction.
    pub fn expire_watches(&self) {
        self.lock().compact();
        self.faults.watch_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `count` ConfigMaps (`giant-0`…) in `default`, each with 1 MiB of annotations: a page
    /// of 500 of them is far larger than a client should read at once.
    pub fn add_giant_objects(&self, count: u64) {
        let mut store = self.lock();
        let Some(kind) = store.kind("", "v1", "configmaps").cloned() else { return };
        let ballast = "x".repeat(1024 * 1024);
        for index in 0..count {
            let object = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("giant-{index}"), "namespace": "default", "annotations": {"klieg.test/ballast": ballast}},
            });
            if let Err(error) = store.create(&kind, "default", object) {
                tracing::warn!(%error, "could not add a giant object");
            }
        }
    }

    /// Closes every open connection abruptly, mid-response, as a broken network or a restarting
    /// load balancer would. Clients must reconnect and resume their watches.
    pub fn drop_connections(&self) {
        self.faults.dropped.notify_waiters();
    }

    pub fn set_offline(&self, offline: bool) {
        self.faults.offline.store(offline, Ordering::Relaxed);
    }

    pub fn lock(&self) -> parking_lot::MutexGuard<'_, Store> {
        self.store.lock()
    }

    /// Runs a store mutation and publishes its events to watchers.
    /// A client's write: with `dryRun=All` in `query` it is checked and answered, not stored.
    pub fn write<T>(&self, query: &HashMap<String, String>, change: impl FnOnce(&mut Store) -> T) -> T {
        let dry_run = query.get("dryRun").is_some_and(|v| v == "All");
        self.mutate(|store| store.maybe_dry_run(dry_run, change))
    }

    pub fn mutate<T>(&self, change: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.lock();
        let before = store.resource_version();
        let result = change(&mut store);
        let mut events = Vec::new();
        if store.resource_version() != before
            && let Ok(new_events) = store.events_since_any(before)
        {
            events = new_events;
        }
        drop(store);
        for event in events {
            // No receivers is fine: nobody is watching.
            let _ = self.changes.send(event);
        }
        result
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(full(serde_json::to_vec(value).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// A `Status` failure, shaped like the real apiserver's.
pub fn status_response(code: u16, reason: &str, message: &str) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        status,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}),
    )
}

/// A request that cannot be served, as a Status answer.
#[derive(Debug)]
pub struct ApiError {
    code: u16,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into() }
    }

    fn response(&self) -> Response<Body> {
        status_response(self.code, self.reason, &self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::new(error.code(), error.reason(), error.to_string())
    }
}

fn store_error(error: &StoreError) -> Response<Body> {
    status_response(error.code(), error.reason(), &error.to_string())
}

pub fn query_map(uri: &http::Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            q.split('&')
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    Some((percent_decode(k)?, percent_decode(v)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// What a request path names.
#[derive(Debug, PartialEq)]
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (String::new(), (*version).to_string(), rest),
        ["apis", group, version, rest @ ..] => ((*group).to_string(), (*version).to_string(), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] => (Some((*ns).to_string()), [&[*plural][..], more].concat()),
        other => (None, other.to_vec()),
    };
    let plural = rest.first()?.to_string();
    Some(Target {
        group,
        version,
        namespace,
        plural,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    })
}

/// Whether the client asked for metadata only (`as=PartialObjectMetadata`, or its list).
fn wants_metadata(request: &Request<hyper::body::Incoming>) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("as=PartialObjectMetadata"))
}

fn wants_table(request: &Request<hyper::body::Incoming>) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("as=Table"))
}

/// The aggregated discovery version asked for (`v2` or `v2beta1`), if any.
fn wants_aggregated(request: &Request<hyper::body::Incoming>) -> Option<&'static str> {
    let accept = request.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok())?;
    accept.split(',').filter(|media| media.contains("as=APIGroupDiscoveryList")).find_map(|media| {
        let version = media.split(';').find_map(|param| param.trim().strip_prefix("v="))?;
        match version {
            "v2" => Some("v2"),
            "v2beta1" => Some("v2beta1"),
            _ => None,
        }
    })
}

fn verbs() -> Value {
    json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
}

fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&SimKind> = store.kinds.iter().filter(|k| k.group == group && k.version == version).collect();
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for kind in kinds {
        resources.push(json!({"name": kind.plural, "singularName": kind.kind.to_lowercase(), "namespaced": kind.namespaced, "kind": kind.kind, "verbs": verbs(), "shortNames": kind.short_names()}));
        resources.push(json!({"name": format!("{}/status", kind.plural), "singularName": "", "namespaced": kind.namespaced, "kind": kind.kind, "verbs": ["get", "patch", "update"]}));
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

fn groups(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for kind in store.kinds.iter().filter(|k| !k.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == kind.group) {
            Some((_, versions)) if !versions.contains(&kind.version) => versions.push(kind.version.clone()),
            Some(_) => {}
            None => groups.push((kind.group.clone(), vec![kind.version.clone()])),
        }
    }
    groups
}

fn aggregated(store: &Store, core: bool, version: &str) -> Value {
    let entry = |group: &str, versions: &[String]| {
        let versions: Vec<Value> = versions
            .iter()
            .map(|version| {
                let resources: Vec<Value> = store
                    .kinds
                    .iter()
                    .filter(|k| k.group == group && &k.version == version)
                    .map(|k| {
                        json!({"resource": k.plural, "responseKind": {"group": k.group, "version": k.version, "kind": k.kind},
                            "scope": if k.namespaced { "Namespaced" } else { "Cluster" }, "singularResource": k.kind.to_lowercase(), "shortNames": k.short_names(),
                            "verbs": verbs(), "subresources": [{"subresource": "status", "responseKind": {"group": k.group, "version": k.version, "kind": k.kind}, "verbs": ["get", "patch", "update"]}]})
                    })
                    .collect();
                json!({"version": version, "resources": resources, "freshness": "Current"})
            })
            .collect();
        json!({"metadata": {"name": group}, "versions": versions})
    };
    let items: Vec<Value> = if core {
        vec![entry("", &["v1".to_string()])]
    } else {
        let mut items: Vec<Value> = groups(store).iter().map(|(g, v)| entry(g, v)).collect();
        items.push(super::metrics::aggregated_group());
        items
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

fn openapi_v3(store: &Store, group: &str, version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let field_validation = json!([{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]);
    for kind in store.kinds.iter().filter(|k| k.group == group && k.version == version) {
        let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let base = if kind.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", kind.plural)
        } else {
            format!("{prefix}/{}", kind.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": kind.kind});
        let operation = |action: &str| json!({"parameters": field_validation, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "responses": {}});
        paths.insert(base.clone(), json!({"post": operation("post")}));
        paths.insert(format!("{base}/{{name}}"), json!({"put": operation("put"), "patch": operation("patch")}));
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes (klieg simulator)", "version": version}, "paths": paths, "components": {"schemas": {}}})
}

fn discovery(cluster: &SimCluster, request: &Request<hyper::body::Incoming>, path: &str) -> Option<Response<Body>> {
    let store = cluster.lock();
    let aggregated_version = wants_aggregated(request);
    let with_type = |mut response: Response<Body>, version: &str| {
        let media = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
        if let Ok(value) = http::HeaderValue::from_str(&media) {
            response.headers_mut().insert(http::header::CONTENT_TYPE, value);
        }
        response
    };
    match path.trim_end_matches('/') {
        "/version" => Some(json_response(
            StatusCode::OK,
            &json!({"major": "1", "minor": cluster.git_version.trim_start_matches('v').split('.').nth(1).unwrap_or("0"),
                "gitVersion": cluster.git_version, "gitCommit": "simulated", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.22", "compiler": "gc", "platform": "linux/amd64"}),
        )),
        "/healthz" | "/readyz" | "/livez" => Some(Response::new(full("ok"))),
        // What a kubelet's cAdvisor endpoint serves, for a real Prometheus to scrape.
        "/metrics/cadvisor" => {
            let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
            let mut response = Response::new(full(super::prometheus::cadvisor_exposition(&store, now)));
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4"));
            Some(response)
        }
        // kubectl validates against OpenAPI v2; an empty document makes it skip kinds it does not
        // know (as for CRDs without schemas). Protobuf is refused so clients fall back to JSON.
        "/openapi/v2" => {
            let accept = request.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if accept.contains("protobuf") && !accept.contains("application/json") {
                Some(status_response(406, "NotAcceptable", "only application/json is served"))
            } else {
                Some(json_response(
                    StatusCode::OK,
                    &json!({"swagger": "2.0", "info": {"title": "Kubernetes (klieg simulator)", "version": cluster.git_version}, "paths": {}, "definitions": {}}),
                ))
            }
        }
        "/api" | "/apis" if aggregated_version.is_some() => {
            let version = aggregated_version.unwrap_or("v2");
            Some(with_type(
                json_response(StatusCode::OK, &aggregated(&store, path.trim_end_matches('/') == "/api", version)),
                version,
            ))
        }
        "/api" => Some(json_response(
            StatusCode::OK,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        )),
        "/apis" => {
            let groups: Vec<Value> = groups(&store)
                .iter()
                .map(|(group, versions)| {
                    let versions: Vec<Value> = versions
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                        .collect();
                    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
                })
                .chain(std::iter::once(super::metrics::api_group()))
                .collect();
            Some(json_response(StatusCode::OK, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})))
        }
        "/api/v1" => resource_list(&store, "", "v1").map(|list| json_response(StatusCode::OK, &list)),
        "/openapi/v3" => Some(json_response(StatusCode::OK, &openapi_v3_paths(&store))),
        other if other.starts_with("/openapi/v3/") => {
            let group_version = other.trim_start_matches("/openapi/v3/");
            let (group, version) = match group_version.split('/').collect::<Vec<_>>().as_slice() {
                ["api", version] => (String::new(), (*version).to_string()),
                ["apis", group, version] => ((*group).to_string(), (*version).to_string()),
                _ => return Some(status_response(404, "NotFound", "no such OpenAPI document")),
            };
            Some(json_response(StatusCode::OK, &openapi_v3(&store, &group, &version)))
        }
        other => group_discovery(&store, other),
    }
}

/// `/apis/GROUP` and `/apis/GROUP/VERSION`, metrics-server's resources included.
fn group_discovery(store: &Store, path: &str) -> Option<Response<Body>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis", "metrics.k8s.io", "v1beta1"] => Some(json_response(StatusCode::OK, &super::metrics::resource_list())),
        ["apis", "metrics.k8s.io", "v1beta1", ..] => Some(match super::metrics::serve(store, path) {
            Ok(value) => json_response(StatusCode::OK, &value),
            Err(message) => status_response(404, "NotFound", &message),
        }),
        ["apis", group, version] => Some(
            resource_list(store, group, version)
                .map(|list| json_response(StatusCode::OK, &list))
                .unwrap_or_else(|| status_response(404, "NotFound", "the server could not find the requested resource")),
        ),
        ["apis", group] => groups(store).into_iter().find(|(g, _)| g == group).map(|(group, versions)| {
            let versions: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
            json_response(StatusCode::OK, &json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions[0]}))
        }),
        _ => None,
    }
}

/// OpenAPI v3's index: just enough for kubectl to see that every kind accepts `fieldValidation`,
/// so it validates on the server instead of downloading a full schema.
fn openapi_v3_paths(store: &Store) -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("api/v1".into(), json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=sim"}));
    for (group, versions) in groups(store) {
        for version in versions {
            paths.insert(
                format!("apis/{group}/{version}"),
                json!({"serverRelativeURL": format!("/openapi/v3/apis/{group}/{version}?hash=sim")}),
            );
        }
    }
    json!({"paths": paths})
}

/// Counts a request of one sort (LISTs, DELETEs) while it is answered, and the most at once.
struct InFlight<'a>(Option<&'a AtomicU64>);

impl<'a> InFlight<'a> {
    fn start(counting: bool, now: &'a AtomicU64, most: &AtomicU64) -> Self {
        if !counting {
            return Self(None);
        }
        let current = now.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(current, Ordering::SeqCst);
        Self(Some(now))
    }

    /// A LIST: a GET of a collection, not a watch.
    fn list(faults: &'a Faults, request: &Request<hyper::body::Incoming>) -> Self {
        let query = request.uri().query().unwrap_or_default();
        let is_list = request.method() == Method::GET
            && !query.split('&').any(|p| p == "watch=1" || p == "watch=true")
            && parse_target(request.uri().path()).is_some_and(|t| t.name.is_none());
        Self::start(is_list, &faults.lists_in_flight, &faults.max_lists_in_flight)
    }

    fn delete(faults: &'a Faults, request: &Request<hyper::body::Incoming>) -> Self {
        Self::start(request.method() == Method::DELETE, &faults.deletes_in_flight, &faults.max_deletes_in_flight)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(now) = self.0 {
            now.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Simulated faults that answer before anything else: latency, offline, throttling (429 with
/// Retry-After) and server errors, by the fault plan's counters.
async fn fault_response(faults: &Faults) -> Option<Response<Body>> {
    if faults.stall_answers.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
    let latency = faults.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if faults.offline.load(Ordering::Relaxed) {
        return Some(status_response(503, "ServiceUnavailable", "the cluster is offline (simulated)"));
    }
    let count = faults.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let throttle = faults.throttle_every.load(Ordering::Relaxed);
    if throttle > 0 && count.is_multiple_of(throttle) {
        let mut response =
            status_response(429, "TooManyRequests", "too many requests, please try again later (simulated)");
        response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
        return Some(response);
    }
    let error_every = faults.error_every.load(Ordering::Relaxed);
    if error_every > 0 && count.is_multiple_of(error_every) {
        return Some(status_response(
            500,
            "InternalError",
            "an error on the server (simulated) has prevented the request from succeeding",
        ));
    }
    None
}

/// The user of a request's bearer token.
fn user_of(cluster: &SimCluster, request: &Request<hyper::body::Incoming>) -> Option<User> {
    request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| cluster.user_for(token))
}

fn is_watch(query: &HashMap<String, String>) -> bool {
    query.get("watch").is_some_and(|w| w == "1" || w == "true")
}

fn method_not_allowed() -> Response<Body> {
    status_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
}

/// Serves one request as the apiserver would: faults, authentication, self reviews, non-resource
/// paths and discovery, then resource requests (authorized, then routed by subresource and
/// method through [`ROUTES`]).
pub async fn handle(
    cluster: Arc<SimCluster>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let _list = InFlight::list(&cluster.faults, &request);
    let _delete = InFlight::delete(&cluster.faults, &request);
    if let Some(response) = fault_response(&cluster.faults).await {
        return Ok(response);
    }
    let path = request.uri().path().to_string();
    let Some(user) = user_of(&cluster, &request) else {
        if matches!(path.as_str(), "/healthz" | "/readyz" | "/livez") {
            return Ok(json_response(StatusCode::OK, &json!("ok")));
        }
        return Ok(status_response(401, "Unauthorized", "Unauthorized"));
    };
    if request.method() == Method::POST
        && let Some(review) = SelfReview::at(&path)
    {
        return Ok(self_review(&cluster, &user, review, request.into_body()).await);
    }
    let target = parse_target(&path);
    if target.is_none() {
        let attributes = Attributes {
            verb: request.method().as_str().to_ascii_lowercase(),
            path: Some(path.clone()),
            ..Attributes::default()
        };
        if !authorize(&cluster.lock(), &user, &attributes).0 {
            return Ok(status_response(403, "Forbidden", &attributes.forbidden_message(&user)));
        }
    }
    if request.method() == Method::GET
        && let Some(response) = discovery(&cluster, &request, &path)
    {
        return Ok(response);
    }
    let Some(target) = target else {
        return Ok(status_response(404, "NotFound", "the server could not find the requested resource"));
    };
    Ok(resource_request(cluster.clone(), request, &user, target, &path).await)
}

/// A request for a resource (or its subresource): the kind, RBAC, then the route.
async fn resource_request(
    cluster: Arc<SimCluster>,
    mut request: Request<hyper::body::Incoming>,
    user: &User,
    target: Target,
    path: &str,
) -> Response<Body> {
    let kind = cluster.lock().kind(&target.group, &target.version, &target.plural).cloned();
    let Some(kind) = kind else {
        let message = format!("the server could not find the requested resource ({})", target.plural);
        return status_response(404, "NotFound", &message);
    };
    let query = query_map(request.uri());
    let namespace = target.namespace.clone().unwrap_or_default();
    let subresource = target.subresource.as_deref();
    let attributes = Attributes {
        verb: verb_for(request.method(), target.name.is_some(), is_watch(&query), subresource).into(),
        group: kind.group.clone(),
        resource: kind.plural.clone(),
        subresource: target.subresource.clone().unwrap_or_default(),
        namespace: namespace.clone(),
        name: target.name.clone().unwrap_or_default(),
        path: None,
    };
    if !authorize(&cluster.lock(), user, &attributes).0 {
        return status_response(403, "Forbidden", &attributes.forbidden_message(user));
    }
    // Streams upgrade the connection, so they are served before the body is read.
    let core_pods = kind.plural == "pods" && kind.group.is_empty();
    if core_pods
        && matches!(subresource, Some("exec" | "attach" | "portforward"))
        && matches!(*request.method(), Method::GET | Method::POST)
    {
        return pod_stream(&cluster, &mut request, &namespace, &target, &query);
    }
    let table = wants_table(&request);
    let metadata_only = !table && wants_metadata(&request);
    if metadata_only && matches!(*request.method(), Method::GET) {
        cluster.faults.metadata_kinds.lock().insert(kind.plural.clone());
    }
    let include_object = query.get("includeObject").map(String::as_str).unwrap_or("Metadata").to_string();
    let method = request.method().clone();
    // Writes are recorded under the named field manager, else the client's name (as the apiserver does).
    let manager = query.get("fieldManager").cloned().unwrap_or_else(|| {
        let agent = request.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
        agent.split('/').next().unwrap_or(agent).to_string()
    });
    let content_type =
        request.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => return status_response(400, "BadRequest", &format!("could not read the body: {error}")),
    };
    let call = Call {
        cluster: &cluster,
        kind: &kind,
        target: &target,
        namespace: &namespace,
        path,
        query: &query,
        method: &method,
        manager: &manager,
        content_type: &content_type,
        body: &body,
        table,
        metadata_only,
        include_object: &include_object,
    };
    let route = ROUTES.iter().find(|route| route.matches(&call));
    route.map_or_else(method_not_allowed, |route| (route.serve)(&call))
}

/// One resource request, read: everything a route needs.
struct Call<'a> {
    cluster: &'a Arc<SimCluster>,
    kind: &'a SimKind,
    target: &'a Target,
    namespace: &'a str,
    path: &'a str,
    query: &'a HashMap<String, String>,
    method: &'a Method,
    manager: &'a str,
    content_type: &'a str,
    body: &'a Bytes,
    table: bool,
    /// `as=PartialObjectMetadata`: objects as their metadata only.
    metadata_only: bool,
    include_object: &'a str,
}

impl Call<'_> {
    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or_default()
    }

    fn write(&self) -> Write<'_> {
        Write { namespace: self.namespace, name: self.name(), manager: self.manager, query: self.query }
    }

    fn parse_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice::<Value>(self.body)
            .map_err(|e| ApiError::new(400, "BadRequest", format!("the body is not valid JSON: {e}")))
    }
}

/// Which requests a route serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Methods {
    Any,
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// Whether the request names one object, or the collection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Named {
    Either,
    Collection,
    Object,
}

struct Route {
    /// Core-group resource the route is for; `None`: any kind.
    core_resource: Option<&'static str>,
    subresource: Option<&'static str>,
    methods: Methods,
    named: Named,
    serve: fn(&Call<'_>) -> Response<Body>,
}

impl Route {
    fn matches(&self, call: &Call<'_>) -> bool {
        let kind_matches =
            self.core_resource.is_none_or(|plural| call.kind.group.is_empty() && call.kind.plural == plural);
        // Routes without a subresource serve the object itself, its status, and any other
        // subresource no earlier route claims (as the object).
        let subresource_matches =
            self.subresource.is_none_or(|wanted| call.target.subresource.as_deref() == Some(wanted));
        let method_matches = match self.methods {
            Methods::Any => true,
            Methods::Get => *call.method == Method::GET,
            Methods::Post => *call.method == Method::POST,
            Methods::Put => *call.method == Method::PUT,
            Methods::Patch => *call.method == Method::PATCH,
            Methods::Delete => *call.method == Method::DELETE,
        };
        let named_matches = match self.named {
            Named::Either => true,
            Named::Collection => call.target.name.is_none(),
            Named::Object => call.target.name.is_some(),
        };
        kind_matches && subresource_matches && method_matches && named_matches
    }
}

/// The resource routes, first match wins; a request no route takes is refused with 405.
const ROUTES: &[Route] = &[
    Route {
        core_resource: Some("services"),
        subresource: Some("proxy"),
        methods: Methods::Any,
        named: Named::Either,
        serve: serve_service_proxy,
    },
    Route {
        core_resource: Some("pods"),
        subresource: Some("eviction"),
        methods: Methods::Post,
        named: Named::Either,
        serve: serve_eviction,
    },
    Route {
        core_resource: Some("pods"),
        subresource: Some("eviction"),
        methods: Methods::Any,
        named: Named::Either,
        serve: |_| method_not_allowed(),
    },
    Route {
        core_resource: None,
        subresource: Some("scale"),
        methods: Methods::Any,
        named: Named::Either,
        serve: serve_scale,
    },
    Route {
        core_resource: Some("pods"),
        subresource: Some("log"),
        methods: Methods::Get,
        named: Named::Either,
        serve: serve_log,
    },
    Route {
        core_resource: None,
        subresource: None,
        methods: Methods::Get,
        named: Named::Collection,
        serve: serve_list_or_watch,
    },
    Route { core_resource: None, subresource: None, methods: Methods::Get, named: Named::Object, serve: serve_get },
    Route {
        core_resource: None,
        subresource: None,
        methods: Methods::Post,
        named: Named::Collection,
        serve: serve_create,
    },
    Route { core_resource: None, subresource: None, methods: Methods::Put, named: Named::Object, serve: serve_update },
    Route { core_resource: None, subresource: None, methods: Methods::Patch, named: Named::Object, serve: serve_patch },
    Route {
        core_resource: None,
        subresource: None,
        methods: Methods::Delete,
        named: Named::Object,
        serve: serve_delete,
    },
];

fn serve_service_proxy(call: &Call<'_>) -> Response<Body> {
    service_proxy(call.cluster, call.namespace, call.target, call.path, call.query, call.content_type, call.body)
}

fn serve_eviction(call: &Call<'_>) -> Response<Body> {
    evict(call.cluster, call.namespace, call.name(), call.body)
}

fn serve_scale(call: &Call<'_>) -> Response<Body> {
    scale(call.cluster, call.kind, call.write(), call.method, call.content_type, call.body)
}

fn serve_log(call: &Call<'_>) -> Response<Body> {
    pod_log(call.cluster, call.namespace, call.name(), call.query)
}

fn serve_list_or_watch(call: &Call<'_>) -> Response<Body> {
    let (kind, namespace) = (call.kind.clone(), call.target.namespace.clone());
    if is_watch(call.query) {
        let shape = WatchShape { table: call.table, metadata_only: call.metadata_only };
        return watch(call.cluster.clone(), kind, namespace, call.query, shape, call.include_object.to_string());
    }
    call.cluster.faults.lists_served.fetch_add(1, Ordering::Relaxed);
    if call.metadata_only {
        return metadata_list(call.cluster, &kind, namespace, call.query);
    }
    list(call.cluster, &kind, namespace, call.query, call.table, call.include_object)
}

fn serve_get(call: &Call<'_>) -> Response<Body> {
    match call.cluster.lock().get(call.kind, call.namespace, call.name()) {
        Ok(object) if call.table => {
            json_response(StatusCode::OK, &table_for(call.kind, &[object], call.include_object, true, None, None))
        }
        Ok(object) => json_response(StatusCode::OK, &object),
        Err(error) => store_error(&error),
    }
}

fn serve_create(call: &Call<'_>) -> Response<Body> {
    let object = match call.parse_body() {
        Ok(object) => object,
        Err(error) => return error.response(),
    };
    let created = call
        .cluster
        .write(call.query, |store| store.as_manager(call.manager, |s| s.create(call.kind, call.namespace, object)));
    match created {
        Ok(object) => json_response(StatusCode::CREATED, &object),
        Err(error) => store_error(&error),
    }
}

fn serve_update(call: &Call<'_>) -> Response<Body> {
    let object = match call.parse_body() {
        Ok(object) => object,
        Err(error) => return error.response(),
    };
    let updated = call
        .cluster
        .write(call.query, |store| store.as_manager(call.manager, |s| s.update(call.kind, call.namespace, object)));
    match updated {
        Ok(object) => json_response(StatusCode::OK, &object),
        Err(error) => store_error(&error),
    }
}

fn serve_patch(call: &Call<'_>) -> Response<Body> {
    let status = call.target.subresource.as_deref() == Some("status");
    patch(call.cluster, call.kind, call.write(), call.content_type, call.body, status)
}

/// The propagation a delete asks for, from the query or a DeleteOptions body; an unknown one is
/// refused (422) in the apiserver's words.
fn delete_propagation(call: &Call<'_>) -> Result<Propagation, String> {
    let options: Value = serde_json::from_slice(call.body).unwrap_or(Value::Null);
    let policy = call
        .query
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| options["propagationPolicy"].as_str())
        .or_else(|| match options["orphanDependents"].as_bool() {
            Some(true) => Some("Orphan"),
            _ => None,
        });
    match policy.map(|text| (text, Propagation::parse(text))) {
        None => Ok(Propagation::default()),
        Some((_, Some(propagation))) => Ok(propagation),
        Some((text, None)) => Err(format!(
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{text}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        )),
    }
}

fn serve_delete(call: &Call<'_>) -> Response<Body> {
    let propagation = match delete_propagation(call) {
        Ok(propagation) => propagation,
        Err(message) => return status_response(422, "Invalid", &message),
    };
    // A dry-run delete answers with the object as it stands.
    let deleted = if call.query.get("dryRun").is_some_and(|v| v == "All") {
        call.cluster.lock().get(call.kind, call.namespace, call.name())
    } else {
        call.cluster.mutate(|store| store.delete_with(call.kind, call.namespace, call.name(), propagation))
    };
    match deleted {
        Ok(object) => json_response(StatusCode::OK, &object),
        Err(error) => store_error(&error),
    }
}

/// `services/[SCHEME:]NAME[:PORT]/proxy/...`: the simulated Prometheus answers behind a Service
/// that looks like one (its name or `app.kubernetes.io/name` label says prometheus); any other
/// Service has no endpoints, as it would with no pods behind it.
fn service_proxy(
    cluster: &SimCluster,
    namespace: &str,
    target: &Target,
    path: &str,
    query: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Response<Body> {
    let reference = target.name.clone().unwrap_or_default();
    let parts: Vec<&str> = reference.split(':').collect();
    let service_name = match parts.as_slice() {
        ["http" | "https", name, ..] => *name,
        [name, ..] => *name,
        [] => "",
    };
    let store = cluster.lock();
    let Some(service) = store.get_by_plural("", "services", namespace, service_name) else {
        return status_response(404, "NotFound", &format!("services \"{service_name}\" not found"));
    };
    let is_prometheus = service_name.contains("prometheus")
        || service.pointer("/metadata/labels/app.kubernetes.io~1name").and_then(Value::as_str) == Some("prometheus");
    if !is_prometheus {
        return status_response(
            503,
            "ServiceUnavailable",
            &format!("no endpoints available for service \"{reference}\""),
        );
    }
    let rest = path.split_once("/proxy").map_or("/", |(_, rest)| rest);
    let mut params: std::collections::BTreeMap<String, String> = query.clone().into_iter().collect();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = String::from_utf8_lossy(body);
        params.extend(form.split('&').filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((percent_decode(k)?, percent_decode(v)?))
        }));
    }
    let (code, answer) = super::prometheus::answer(&store, rest, &params);
    json_response(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), &answer)
}

/// `POST pods/NAME/eviction`: deletes the pod unless a PodDisruptionBudget selecting it allows
/// no disruption now (429, as the apiserver answers).
fn evict(cluster: &SimCluster, namespace: &str, name: &str, body: &[u8]) -> Response<Body> {
    let eviction: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if eviction["kind"].as_str() != Some("Eviction") {
        return status_response(400, "BadRequest", "the body must be an Eviction (policy/v1)");
    }
    let pod = match get_pod(cluster, namespace, name) {
        Ok(pod) => pod,
        Err(error) => return error.response(),
    };
    let labels = super::store::labels_of(&pod);
    let blocked = cluster.lock().all_of("policy", "poddisruptionbudgets").iter().any(|budget| {
        budget["metadata"]["namespace"].as_str() == Some(namespace)
            && budget
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
                .is_some_and(|wanted| wanted.iter().all(|(k, v)| labels.get(k.as_str()).map(|l| &**l) == v.as_str()))
            && budget.pointer("/status/disruptionsAllowed").and_then(Value::as_i64).unwrap_or(0) < 1
    });
    if blocked {
        return status_response(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        );
    }
    let pods = cluster.lock().kind("", "v1", "pods").cloned();
    match pods.map(|pods| cluster.mutate(|store| store.delete(&pods, namespace, name))) {
        Some(Ok(_)) => json_response(
            StatusCode::CREATED,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ),
        Some(Err(error)) => store_error(&error),
        None => status_response(404, "NotFound", "pods are not served"),
    }
}

/// The `autoscaling/v1` Scale of a workload.
fn scale_of(object: &Value) -> Value {
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
        })
        .unwrap_or_default();
    let meta = &object["metadata"];
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector}})
}

/// `.../NAME/scale` of deployments, replica sets, stateful sets and replication controllers:
/// GET, PUT and PATCH a Scale that reads and writes the workload's `spec.replicas`.
fn scale(
    cluster: &SimCluster,
    kind: &SimKind,
    write: Write<'_>,
    method: &Method,
    content_type: &str,
    body: &[u8],
) -> Response<Body> {
    if !matches!(kind.plural.as_str(), "deployments" | "replicasets" | "statefulsets" | "replicationcontrollers") {
        return status_response(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({}/scale)", kind.plural),
        );
    }
    let current = match cluster.lock().get(kind, write.namespace, write.name) {
        Ok(object) => object,
        Err(error) => return store_error(&error),
    };
    let mut wanted = scale_of(&current);
    match *method {
        Method::GET => return json_response(StatusCode::OK, &wanted),
        Method::PUT => match serde_json::from_slice::<Value>(body) {
            Ok(sent) => wanted = sent,
            Err(error) => return status_response(400, "BadRequest", &format!("the body is not valid JSON: {error}")),
        },
        Method::PATCH => {
            let patch: Value = match serde_json::from_slice(body) {
                Ok(patch) => patch,
                Err(error) => {
                    return status_response(400, "BadRequest", &format!("the patch is not valid JSON: {error}"));
                }
            };
            if content_type.starts_with("application/json-patch+json") {
                let operations: Result<json_patch::Patch, _> = serde_json::from_value(patch);
                if let Err(error) = operations
                    .map_err(|e| e.to_string())
                    .and_then(|ops| json_patch::patch(&mut wanted, &ops).map_err(|e| e.to_string()))
                {
                    return status_response(422, "Invalid", &format!("the JSON patch could not be applied: {error}"));
                }
            } else {
                super::store::merge_patch(&mut wanted, &patch);
            }
        }
        _ => {
            return status_response(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            );
        }
    }
    let Some(replicas) = wanted.pointer("/spec/replicas").and_then(Value::as_i64).filter(|r| *r >= 0) else {
        return status_response(
            422,
            "Invalid",
            "Scale.autoscaling \"\" is invalid: spec.replicas: Invalid value: must be greater than or equal to 0",
        );
    };
    let mut patch = json!({"spec": {"replicas": replicas}});
    if let Some(rv) =
        wanted.pointer("/metadata/resourceVersion").filter(|rv| rv.as_str().is_some_and(|r| !r.is_empty()))
    {
        patch["metadata"] = json!({"resourceVersion": rv});
    }
    match cluster
        .mutate(|store| store.as_manager(write.manager, |s| s.patch(kind, write.namespace, write.name, &patch, false)))
    {
        Ok(object) => json_response(StatusCode::OK, &scale_of(&object)),
        Err(error) => store_error(&error),
    }
}

/// Who writes what: the object addressed and the writer's field manager.
struct Write<'a> {
    namespace: &'a str,
    name: &'a str,
    manager: &'a str,
    query: &'a HashMap<String, String>,
}

/// PATCH in its four kinds: JSON patch, merge patch, strategic merge patch and server-side apply.
fn patch(
    cluster: &SimCluster,
    kind: &SimKind,
    write: Write<'_>,
    content_type: &str,
    body: &[u8],
    status_only: bool,
) -> Response<Body> {
    let Write { namespace, name, manager, query } = write;
    if content_type.starts_with("application/apply-patch+yaml") {
        if !query.contains_key("fieldManager") {
            return status_response(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            );
        }
        let config: Value = match serde_yaml::from_slice(body) {
            Ok(config) => config,
            Err(error) => {
                return status_response(
                    400,
                    "BadRequest",
                    &format!("the apply configuration is not valid YAML: {error}"),
                );
            }
        };
        let force = query.get("force").is_some_and(|f| f == "true");
        return match cluster.write(query, |store| store.apply(kind, namespace, name, &config, manager, force)) {
            Ok(object) => json_response(StatusCode::OK, &object),
            Err(error) => store_error(&error),
        };
    }
    let patch: Value = match serde_json::from_slice(body) {
        Ok(patch) => patch,
        Err(error) => return status_response(400, "BadRequest", &format!("the patch is not valid JSON: {error}")),
    };
    let strategic = content_type.starts_with("application/strategic-merge-patch+json");
    if strategic && kind.group.contains('.') && !kind.group.ends_with(".k8s.io") {
        return status_response(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for custom resources like {})",
                kind.plural
            ),
        );
    }
    let result = if content_type.starts_with("application/json-patch+json") {
        cluster.write(query, |store| store.as_manager(manager, |s| s.json_patch(kind, namespace, name, &patch)))
    } else {
        cluster.write(query, |store| {
            store.as_manager(manager, |s| s.patch_as(kind, namespace, name, &patch, status_only, strategic))
        })
    };
    match result {
        Ok(object) => json_response(StatusCode::OK, &object),
        Err(error) => store_error(&error),
    }
}

/// The reviews a user may ask about themselves: answered from the stored RBAC objects, never stored.
#[derive(Clone, Copy)]
enum SelfReview {
    Access,
    Rules,
    Identity,
}

impl SelfReview {
    fn at(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" => Some(Self::Access),
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews" => Some(Self::Rules),
            "/apis/authentication.k8s.io/v1/selfsubjectreviews" => Some(Self::Identity),
            _ => None,
        }
    }
}

/// `POST` of a SelfSubjectAccessReview, SelfSubjectRulesReview or SelfSubjectReview.
async fn self_review(
    cluster: &SimCluster,
    user: &User,
    review: SelfReview,
    body: hyper::body::Incoming,
) -> Response<Body> {
    let request: Value = match body.collect().await.map(|b| serde_json::from_slice(&b.to_bytes())) {
        Ok(Ok(request)) => request,
        Ok(Err(error)) => return status_response(400, "BadRequest", &format!("the body is not valid JSON: {error}")),
        Err(error) => return status_response(400, "BadRequest", &format!("could not read the body: {error}")),
    };
    let answer = match review {
        SelfReview::Access => access_review(&cluster.lock(), user, request),
        SelfReview::Rules => rules_review(&cluster.lock(), user, request),
        SelfReview::Identity => {
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {"username": user.name, "groups": user.groups}}})
        }
    };
    json_response(StatusCode::CREATED, &answer)
}

/// A Table of `objects`; `headers` adds column definitions (lists and a watch's first event).
fn table_for(
    kind: &SimKind,
    objects: &[Arc<Value>],
    include_object: &str,
    headers: bool,
    rv: Option<u64>,
    continue_token: Option<String>,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let embedded = match include_object {
                "Object" => (**object).clone(),
                "None" => Value::Null,
                _ => Store::partial_metadata(object),
            };
            json!({"cells": cells(kind, object), "object": embedded})
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = rv {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    let mut table = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "rows": rows});
    if headers {
        table["columnDefinitions"] = json!(column_definitions(kind));
    }
    table
}

/// A continue token: the list's resource version (every page is served as of it) and the last
/// key sent.
fn encode_continue(resource_version: u64, namespace: &str, name: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{resource_version}\n{namespace}\n{name}"))
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(3, '\n');
    let resource_version = parts.next()?.parse().ok()?;
    Some((resource_version, parts.next()?.to_string(), parts.next()?.to_string()))
}

/// The apiserver's answer to a continue token whose version was compacted away.
const CONTINUE_TOO_OLD: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";

fn list_options(namespace: Option<String>, query: &HashMap<String, String>) -> Result<ListOptions, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or_default())
        .map_err(|e| ApiError::new(400, "BadRequest", format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or_default())?;
    let limit = query.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0);
    let (as_of, continue_after) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, ns, name) =
                decode_continue(token).ok_or_else(|| ApiError::new(410, "Expired", CONTINUE_TOO_OLD))?;
            (Some(rv), Some((ns, name)))
        }
        None => (None, None),
    };
    Ok(ListOptions { namespace, labels, fields, limit, continue_after, as_of })
}

/// One page of a list as the query asks for it, and its continue token (a server with endless
/// continue tokens hands one out past the last object too); the error to answer when the query is
/// invalid or its continue token too old.
fn list_page(
    cluster: &SimCluster,
    kind: &SimKind,
    namespace: Option<String>,
    query: &HashMap<String, String>,
) -> Result<(ListResult, Option<String>), ApiError> {
    let options = list_options(namespace, query)?;
    let result = cluster.lock().list(kind, &options).map_err(|_| ApiError::new(410, "Expired", CONTINUE_TOO_OLD))?;
    let rv = result.resource_version;
    let mut continue_token = result.continue_after.as_ref().map(|(ns, name)| encode_continue(rv, ns, name));
    if cluster.faults.endless_continue.load(Ordering::Relaxed) && continue_token.is_none() {
        // Past every object: the next page is empty, and carries this token again.
        continue_token = Some(encode_continue(rv, "~", "~"));
    }
    Ok((result, continue_token))
}

fn list(
    cluster: &SimCluster,
    kind: &SimKind,
    namespace: Option<String>,
    query: &HashMap<String, String>,
    table: bool,
    include_object: &str,
) -> Response<Body> {
    let (result, continue_token) = match list_page(cluster, kind, namespace, query) {
        Ok(page) => page,
        Err(error) => return error.response(),
    };
    let drip_ms = cluster.faults.slow_drip_ms.load(Ordering::Relaxed);
    if table {
        let mut table =
            table_for(kind, &result.items, include_object, true, Some(result.resource_version), continue_token);
        if let Some(remaining) = result.remaining_item_count {
            table["metadata"]["remainingItemCount"] = json!(remaining);
        }
        if drip_ms > 0 {
            return dripped_response(serde_json::to_vec(&table).unwrap_or_default(), drip_ms);
        }
        return json_response(StatusCode::OK, &table);
    }
    let mut metadata = json!({"resourceVersion": result.resource_version.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = result.remaining_item_count {
        metadata["remainingItemCount"] = json!(remaining);
    }
    let items: Vec<&Value> = result.items.iter().map(|o| &**o).collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(), "metadata": metadata, "items": items}),
    )
}

/// A list as `PartialObjectMetadataList`: each object's metadata only.
fn metadata_list(
    cluster: &SimCluster,
    kind: &SimKind,
    namespace: Option<String>,
    query: &HashMap<String, String>,
) -> Response<Body> {
    let (result, continue_token) = match list_page(cluster, kind, namespace, query) {
        Ok(page) => page,
        Err(error) => return error.response(),
    };
    let mut metadata = json!({"resourceVersion": result.resource_version.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    let items: Vec<Value> = result.items.iter().map(|o| Store::partial_metadata(o)).collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": items}),
    )
}

/// How a watch sends its objects: as Table rows, as metadata only, or whole.
#[derive(Clone, Copy)]
struct WatchShape {
    table: bool,
    metadata_only: bool,
}

type Frame = Result<hyper::body::Frame<Bytes>, Infallible>;

fn get_pod(cluster: &SimCluster, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
    let store = cluster.lock();
    let Some(pods) = store.kind("", "v1", "pods") else {
        return Err(ApiError::new(404, "NotFound", "pods are not served"));
    };
    Ok(store.get(pods, namespace, name)?)
}

/// The pod `name` and the container a log/exec/attach request names (or its only container).
fn pod_and_container(
    cluster: &SimCluster,
    namespace: &str,
    name: &str,
    wanted: Option<&String>,
) -> Result<(Arc<Value>, String), ApiError> {
    let pod = get_pod(cluster, namespace, name)?;
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let container = match (wanted, containers.as_slice()) {
        (Some(wanted), _) if containers.contains(wanted) => wanted.clone(),
        (Some(wanted), _) => {
            return Err(ApiError::new(400, "BadRequest", format!("container {wanted} is not valid for pod {name}")));
        }
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("a container name must be specified for pod {name}, choose one of: {containers:?}"),
            ));
        }
    };
    Ok((pod, container))
}

/// `pods/NAME/exec`, `attach` and `portforward` over WebSocket (see `stream`).
fn pod_stream(
    cluster: &SimCluster,
    request: &mut Request<hyper::body::Incoming>,
    namespace: &str,
    target: &Target,
    query: &HashMap<String, String>,
) -> Response<Body> {
    use super::stream::{CHANNEL_PROTOCOLS, ExecSpec, query_values, run_exec, run_port_forward, upgrade};
    let name = target.name.clone().unwrap_or_default();
    let flag = |key: &str| query.get(key).is_some_and(|v| v == "true" || v == "1");
    if target.subresource.as_deref() == Some("portforward") {
        let pod = match get_pod(cluster, namespace, &name) {
            Ok(pod) => pod,
            Err(error) => return error.response(),
        };
        let ports: Vec<u16> = query_values(request.uri(), "ports")
            .iter()
            .flat_map(|v| v.split(',').map(str::trim).map(str::parse::<u16>).collect::<Vec<_>>())
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        if ports.is_empty() {
            return status_response(400, "BadRequest", "query parameter \"ports\" is required: a list of port numbers");
        }
        let open_ports: Vec<u16> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["containerPort"].as_u64().and_then(|p| u16::try_from(p).ok()))
            .collect();
        let namespace = namespace.to_string();
        return upgrade(request, &CHANNEL_PROTOCOLS, move |ws, _| {
            run_port_forward(ws, namespace, name, ports, open_ports)
        });
    }
    let (_, container) = match pod_and_container(cluster, namespace, &name, query.get("container")) {
        Ok(found) => found,
        Err(error) => return error.response(),
    };
    let attach = target.subresource.as_deref() == Some("attach");
    let command = if attach { vec!["/bin/sh".to_string()] } else { query_values(request.uri(), "command") };
    if command.is_empty() {
        return status_response(400, "BadRequest", "you must specify at least 1 command");
    }
    let spec = ExecSpec {
        command,
        stdin: flag("stdin"),
        tty: flag("tty"),
        namespace: namespace.to_string(),
        pod: name,
        container,
    };
    upgrade(request, &CHANNEL_PROTOCOLS, move |ws, _| run_exec(ws, spec))
}

/// `GET .../pods/NAME/log`: the container's history, then, with `follow`, a line about every second.
fn pod_log(cluster: &Arc<SimCluster>, namespace: &str, name: &str, query: &HashMap<String, String>) -> Response<Body> {
    let (pod, container) = match pod_and_container(cluster, namespace, name, query.get("container")) {
        Ok(found) => found,
        Err(error) => return error.response(),
    };
    let started = pod["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_second())
        .saturating_sub(600);
    // A followed log ends when its pod is gone (deleted, or replaced under the same name), as the
    // kubelet ends it when the container goes.
    let uid = pod["metadata"]["uid"].clone();
    let (cluster, namespace_owned, name_owned) = (cluster.clone(), namespace.to_string(), name.to_string());
    let alive: LogAlive = Box::new(move || {
        get_pod(&cluster, &namespace_owned, &name_owned).is_ok_and(|pod| pod["metadata"]["uid"] == uid)
    });
    log_response(format!("{namespace}/{name}/{container}"), started, log_options(query), Some(alive))
}

/// Asked before each followed line: false ends the stream.
pub type LogAlive = Box<dyn Fn() -> bool + Send>;

/// Log options from a `pods/log` (or kubelet `containerLogs`) query.
pub fn log_options(query: &HashMap<String, String>) -> super::logs::LogOptions {
    let flag = |key: &str| query.get(key).is_some_and(|v| v == "true" || v == "1");
    super::logs::LogOptions {
        tail_lines: query.get("tailLines").and_then(|v| v.parse().ok()),
        since_seconds: query.get("sinceSeconds").and_then(|v| v.parse().ok()),
        timestamps: flag("timestamps"),
        previous: flag("previous"),
        follow: flag("follow"),
    }
}

/// A container's log: its history, then, with `follow`, a line about every second.
pub fn log_response(
    key: String,
    started: i64,
    options: super::logs::LogOptions,
    alive: Option<LogAlive>,
) -> Response<Body> {
    use super::logs::{history, line};
    let now = jiff::Timestamp::now().as_second();
    let past = history(&key, started, now, &options).concat();
    let mut response = if options.follow && !options.previous {
        let (tx, rx) = tokio::sync::mpsc::channel::<Frame>(16);
        tokio::spawn(async move {
            if tx.send(Ok(hyper::body::Frame::data(Bytes::from(past)))).await.is_err() {
                return;
            }
            let mut index = ((now - started).max(0) / 2).clamp(1, 5_000) as u64;
            let mut ticker = tokio::time::interval(Duration::from_millis(1000));
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if alive.as_ref().is_some_and(|alive| !alive()) {
                    return;
                }
                let text = line(&key, index, jiff::Timestamp::now().as_second(), options.timestamps);
                index += 1;
                if tx.send(Ok(hyper::body::Frame::data(Bytes::from(text)))).await.is_err() {
                    return;
                }
            }
        });
        Response::new(StreamBody::new(tokio_stream_from(rx)).boxed())
    } else {
        Response::new(full(past))
    };
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    response
}

/// A 200 answer sent 16 bytes at a time, `drip_ms` apart: a server (or a link) that is alive but
/// slower than anyone can wait for.
fn dripped_response(bytes: Vec<u8>, drip_ms: u64) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Frame>(4);
    tokio::spawn(async move {
        for chunk in bytes.chunks(16) {
            tokio::time::sleep(Duration::from_millis(drip_ms)).await;
            if tx.send(Ok(hyper::body::Frame::data(Bytes::copy_from_slice(chunk)))).await.is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(StreamBody::new(tokio_stream_from(rx)).boxed());
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// Bytes of the line a `giant_line` watch starts with.
pub const GIANT_LINE_BYTES: usize = 17 * 1024 * 1024;

fn watch_line(event_type: &str, object: Value) -> Frame {
    let mut line = serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Ok(hyper::body::Frame::data(Bytes::from(line)))
}

/// A streaming watch: history after `resourceVersion` (or a synthetic initial list), then live
/// changes, bookmarks, and a 410 when the history is gone or the watcher falls behind.
fn watch(
    cluster: Arc<SimCluster>,
    kind: SimKind,
    namespace: Option<String>,
    query: &HashMap<String, String>,
    shape: WatchShape,
    include_object: String,
) -> Response<Body> {
    let table = shape.table;
    let options = match list_options(namespace.clone(), query) {
        Ok(options) => options,
        Err(error) => return error.response(),
    };
    let bookmarks = query.get("allowWatchBookmarks").is_some_and(|b| b == "true" || b == "1");
    let send_initial = query.get("sendInitialEvents").is_some_and(|b| b == "true");
    let timeout =
        Duration::from_secs(query.get("timeoutSeconds").and_then(|t| t.parse().ok()).unwrap_or(1800).min(3600));
    let since: Option<u64> = query.get("resourceVersion").and_then(|rv| rv.parse().ok()).filter(|rv| *rv > 0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Frame>(256);
    let key = kind_key(&kind.group, &kind.plural);
    tokio::spawn(async move {
        let mut live = cluster.changes.subscribe();
        let to_object = |object: &Arc<Value>, first: &mut bool| -> Value {
            if table {
                let headers = std::mem::take(first);
                table_for(&kind, std::slice::from_ref(object), &include_object, headers, None, None)
            } else if shape.metadata_only {
                Store::partial_metadata(object)
            } else {
                (**object).clone()
            }
        };
        let mut first = true;
        let matches = |object: &Value| {
            (options.labels.is_empty() || options.labels.matches(&super::store::labels_of(object)))
                && options.fields.matches(object)
        };
        if !hostile_watch_start(&cluster.faults, &tx).await {
            return;
        }
        let start = watch_backlog(&cluster, &kind, namespace.as_deref(), since.filter(|_| !send_initial));
        let (backlog, mut sent_rv) = match start {
            Ok(start) => start,
            Err(error) => {
                let _ = tx.send(watch_line("ERROR", expired(&error.to_string()))).await;
                return;
            }
        };
        for (event_type, object, _) in &backlog {
            if matches(object) && tx.send(watch_line(event_type, to_object(object, &mut first))).await.is_err() {
                return;
            }
        }
        if let Some(rv) = backlog.iter().map(|(_, _, rv)| *rv).max() {
            sent_rv = sent_rv.max(rv);
        }
        let bookmark = |rv: u64| bookmark_object(&kind, table, rv);
        if send_initial && bookmarks {
            let mut initial = bookmark(sent_rv);
            initial["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            if tx.send(watch_line("BOOKMARK", initial)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval(cluster.bookmark_interval);
        ticker.tick().await;
        // An offline cluster drops its watches within a second, as a dead apiserver would.
        let mut offline_check = tokio::time::interval(Duration::from_secs(1));
        let epoch = cluster.faults.watch_epoch.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = offline_check.tick() => {
                    if cluster.faults.offline.load(Ordering::Relaxed) || cluster.faults.watch_epoch.load(Ordering::Relaxed) != epoch {
                        return;
                    }
                }
                _ = ticker.tick() => {
                    if bookmarks && tx.send(watch_line("BOOKMARK", bookmark(sent_rv))).await.is_err() {
                        return;
                    }
                }
                event = live.recv() => match event {
                    Ok(event) => {
                        if event.resource_version <= sent_rv || event.kind_key != key {
                            continue;
                        }
                        if namespace.as_ref().is_some_and(|ns| event.namespace.as_ref() != Some(ns)) {
                            continue;
                        }
                        sent_rv = event.resource_version;
                        if matches(&event.object) && tx.send(watch_line(event.event_type.as_str(), to_object(&event.object, &mut first))).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(watch_line("ERROR", expired("watcher fell behind"))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = tokio_stream_from(rx);
    let mut response = Response::new(StreamBody::new(stream).boxed());
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// What a watch of a hostile server sends first, by its faults; `false`: the watch ends there.
async fn hostile_watch_start(faults: &Faults, tx: &tokio::sync::mpsc::Sender<Frame>) -> bool {
    if faults.always_gone.load(Ordering::Relaxed) {
        let _ = tx.send(watch_line("ERROR", expired("too old resource version (simulated: always)"))).await;
        return false;
    }
    if faults.giant_line.load(Ordering::Relaxed) {
        let mut line = vec![b'x'; GIANT_LINE_BYTES];
        line.push(b'\n');
        let _ = tx.send(Ok(hyper::body::Frame::data(Bytes::from(line)))).await;
    }
    if faults.garbage_lines.load(Ordering::Relaxed) {
        let garbage = Bytes::from_static(b"\xff\xfe{\"type\": \"ADDED\", \"object\": {\xc3\x28 not json\n");
        let _ = tx.send(Ok(hyper::body::Frame::data(garbage))).await;
    }
    true
}

/// Events to send as a watch starts: type, object, resource version.
type Backlog = Vec<(&'static str, Arc<Value>, u64)>;

/// The events a new watch starts with: those after `since`, or (without one, or with
/// `sendInitialEvents`) every object as ADDED; and the resource version they bring it to.
fn watch_backlog(
    cluster: &SimCluster,
    kind: &SimKind,
    namespace: Option<&str>,
    since: Option<u64>,
) -> Result<(Backlog, u64), StoreError> {
    let store = cluster.lock();
    let key = kind_key(&kind.group, &kind.plural);
    match since {
        Some(rv) => store.events_since(&key, namespace, rv).map(|events| {
            (events.into_iter().map(|e| (e.event_type.as_str(), e.object.clone(), e.resource_version)).collect(), rv)
        }),
        None => {
            let options = ListOptions { namespace: namespace.map(str::to_string), ..ListOptions::default() };
            let all = store.list_now(kind, &options);
            Ok((all.items.into_iter().map(|o| ("ADDED", o, 0)).collect(), all.resource_version))
        }
    }
}

/// A bookmark at `rv`, as a Table row when the watch asked for Tables.
fn bookmark_object(kind: &SimKind, table: bool, rv: u64) -> Value {
    if table {
        json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}, "rows": [{"cells": [], "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}}}]})
    } else {
        json!({"kind": kind.kind, "apiVersion": kind.api_version(), "metadata": {"resourceVersion": rv.to_string()}})
    }
}

/// The 410 Status that ends a watch whose resource version is too old.
fn expired(message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": "Expired", "code": 410})
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Frame>,
) -> impl futures::Stream<Item = Frame> + Send + Sync + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_targets() {
        let pods = parse_target("/api/v1/namespaces/shop/pods/web-1/status").expect("target");
        assert_eq!(
            (pods.namespace.as_deref(), pods.plural.as_str(), pods.name.as_deref(), pods.subresource.as_deref()),
            (Some("shop"), "pods", Some("web-1"), Some("status"))
        );
        let namespace = parse_target("/api/v1/namespaces/shop").expect("target");
        assert_eq!(
            (namespace.namespace, namespace.plural.as_str(), namespace.name.as_deref()),
            (None, "namespaces", Some("shop"))
        );
        let deployments = parse_target("/apis/apps/v1/deployments").expect("target");
        assert_eq!(
            (deployments.group.as_str(), deployments.plural.as_str(), deployments.name),
            ("apps", "deployments", None)
        );
        assert!(parse_target("/metrics").is_none());
    }

    #[test]
    fn continue_tokens_round_trip_and_queries_decode() {
        assert_eq!(decode_continue(&encode_continue(42, "ns", "name-1")), Some((42, "ns".into(), "name-1".into())));
        assert_eq!(decode_continue(&encode_continue(7, "", "a\nb")), Some((7, String::new(), "a\nb".into())));
        assert_eq!(decode_continue("not a token"), None);
        assert_eq!(percent_decode("app%3Dweb%2Ctier%21%3Ddb").as_deref(), Some("app=web,tier!=db"));
    }
}
