//! A metrics-server stand-in for the real apiserver's aggregation layer: HTTPS on loopback serving
//! `metrics.k8s.io/v1beta1` (discovery, nodes, pods) for the nodes and pods it is given, with the
//! simulator's moving usage. Registered with an APIService, the real apiserver proxies
//! `/apis/metrics.k8s.io/...` to it, so clients reach metrics as they would a real metrics-server.
//! Test support; runs on its own runtime thread.

use super::SimError;
use super::server::{Body, json_response, status_response};
use super::store::Store;
use http::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;

/// A running stand-in; stops when dropped.
pub struct FakeMetricsServer {
    pub port: u16,
    objects: Arc<Mutex<Store>>,
    _server: super::LoopbackServer,
}

fn answer(store: &Mutex<Store>, request: &Request<hyper::body::Incoming>) -> Response<Body> {
    let path = request.uri().path();
    if request.method() != Method::GET {
        return status_response(405, "MethodNotAllowed", "metrics are read-only");
    }
    if path.trim_end_matches('/') == "/apis/metrics.k8s.io/v1beta1" {
        return json_response(StatusCode::OK, &super::metrics::resource_list());
    }
    if !path.starts_with("/apis/metrics.k8s.io/v1beta1/") {
        return status_response(404, "NotFound", "the server could not find the requested resource");
    }
    let store = store.lock();
    match super::metrics::serve(&store, path) {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(message) => status_response(404, "NotFound", &message),
    }
}

impl FakeMetricsServer {
    pub fn start() -> Result<Self, SimError> {
        let objects = Arc::new(Mutex::new(Store::new()));
        let served = objects.clone();
        let server = super::LoopbackServer::start("klieg-fake-metrics-server", move |request| {
            let response = answer(&served, &request);
            async move { Ok::<_, Infallible>(response) }
        })?;
        Ok(Self { port: server.port, objects, _server: server })
    }

    /// Replaces what has metrics: `namespaces`, `nodes` and `pods` as JSON objects (only running
    /// pods report usage, as with a real metrics-server).
    pub fn set_objects(&self, namespaces: &[Value], nodes: &[Value], pods: &[Value]) -> Result<(), SimError> {
        let mut store = Store::new();
        for (plural, objects) in [("namespaces", namespaces), ("nodes", nodes), ("pods", pods)] {
            let Some(kind) = store.kind("", "v1", plural).cloned() else { continue };
            for object in objects {
                let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
                let mut object = object.clone();
                if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
                store.create(&kind, namespace, object).map_err(|e| SimError::Setup(e.to_string()))?;
            }
        }
        *self.objects.lock() = store;
        Ok(())
    }
}
