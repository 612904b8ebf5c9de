//! Carries out the calls plugin handlers make (checked against their capabilities by the
//! plugin host first): Kubernetes requests with the user's own client and RBAC, and HTTP
//! fetches with the system's roots. Called from a plugin's handler thread, which waits; the
//! work runs on the backend runtime.

use super::ClientMap;
use klieg_model::host_call::{HttpRequest, HttpResponse, KubeRequest, KubeVerb};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use rust_i18n::t;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One Kubernetes call, at most this long.
pub const PLUGIN_KUBE_TIMEOUT: Duration = Duration::from_secs(30);
/// One HTTP fetch, at most this long.
pub const PLUGIN_HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes of a pod's log one call returns at most.
pub const PLUGIN_LOG_MAX_BYTES: i64 = 4 * 1024 * 1024;

/// The way in for plugin handlers: the runtime, and the connected clusters.
#[derive(Clone)]
pub struct PluginGateway {
    runtime: tokio::runtime::Handle,
    clients: watch::Receiver<Arc<ClientMap>>,
    watches: Arc<super::plugin_watch::PluginWatches>,
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

fn https_client() -> HttpsClient {
    static CLIENT: std::sync::OnceLock<HttpsClient> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
            // Plain HTTP reaches only this machine: the plugin host refuses other http:// URLs.
            let https =
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https)
        })
        .clone()
}

fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => super::errors::error_chain(other),
    }
}

fn plain(mut object: DynamicObject) -> Result<Value, String> {
    object.metadata.managed_fields = None;
    serde_json::to_value(&object).map_err(|e| e.to_string())
}

impl PluginGateway {
    pub(crate) fn new(
        runtime: tokio::runtime::Handle,
        clients: watch::Receiver<Arc<ClientMap>>,
        watches: Arc<super::plugin_watch::PluginWatches>,
    ) -> Self {
        Self { runtime, clients, watches }
    }

    /// Plugins' watches served by the table's own subscription right now.
    pub fn watches_shared_with_table(&self) -> usize {
        self.watches.shared_with_table()
    }

    /// Watches `kind` in `cluster` (in `namespace`, or all), through the subscription the
    /// table of that kind uses; the hold ends when the watch is dropped.
    pub fn watch(
        &self,
        cluster: klieg_model::ClusterId,
        kind: klieg_model::KindKey,
        namespace: Option<String>,
    ) -> Result<super::plugin_watch::PluginWatch, String> {
        let key = (cluster, kind, namespace.map(Arc::from));
        super::plugin_watch::PluginWatch::start(key, self.watches.clone(), self.runtime.clone())
    }

    /// Runs `work` on the runtime and waits for it; refused on a runtime thread (it would
    /// block the runtime it waits on).
    fn wait<T>(&self, timeout: Duration, work: impl Future<Output = Result<T, String>> + Send) -> Result<T, String> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err("a plugin call was made on the backend runtime".to_string());
        }
        self.runtime.block_on(async {
            tokio::time::timeout(timeout, work)
                .await
                .unwrap_or_else(|_| Err(t!("backend.plugin_call_timeout", secs = timeout.as_secs()).into_owned()))
        })
    }

    /// A Kubernetes call in `request.cluster` with the user's client: the answer as JSON
    /// (managedFields left out), or the server's reason.
    pub fn kube(&self, request: KubeRequest) -> Result<Value, String> {
        let clients = self.clients.borrow().clone();
        let cluster = request.cluster.clone().ok_or_else(|| t!("backend.plugin_no_cluster").into_owned())?;
        let connected = clients.get(&cluster).ok_or_else(|| t!("backend.not_connected").into_owned())?.clone();
        let kind = connected
            .kinds
            .iter()
            .find(|k| k.key() == request.kind)
            .cloned()
            .ok_or_else(|| t!("backend.kind_not_served", kind = request.kind.plural).into_owned())?;
        let resource = super::details::api_resource(&kind);
        let api: Api<DynamicObject> = match (kind.is_namespaced(), request.namespace.as_deref()) {
            (true, Some(ns)) => Api::namespaced_with(connected.client.clone(), ns, &resource),
            _ => Api::all_with(connected.client.clone(), &resource),
        };
        let name = request.name.clone().unwrap_or_default();
        self.wait(PLUGIN_KUBE_TIMEOUT, async move {
            match request.verb {
                KubeVerb::Get => plain(api.get(&name).await.map_err(|e| api_message(&e))?),
                KubeVerb::List => {
                    let mut params = ListParams::default().limit(u32::try_from(request.limit).unwrap_or(u32::MAX));
                    if let Some(selector) = &request.label_selector {
                        params = params.labels(selector);
                    }
                    let list = api.list(&params).await.map_err(|e| api_message(&e))?;
                    list.items.into_iter().map(plain).collect::<Result<Vec<_>, _>>().map(Value::Array)
                }
                KubeVerb::Patch => {
                    let patch = request.patch.unwrap_or(Value::Null);
                    let patched = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await;
                    plain(patched.map_err(|e| api_message(&e))?)
                }
                KubeVerb::Apply => {
                    let object = request.patch.unwrap_or(Value::Null);
                    let params = PatchParams::apply("klieg-plugin");
                    plain(api.patch(&name, &params, &Patch::Apply(&object)).await.map_err(|e| api_message(&e))?)
                }
                KubeVerb::Delete => {
                    api.delete(&name, &DeleteParams::default()).await.map_err(|e| api_message(&e))?;
                    Ok(Value::Bool(true))
                }
                KubeVerb::Logs => {
                    let pods: Api<k8s_openapi::api::core::v1::Pod> = match request.namespace.as_deref() {
                        Some(ns) => Api::namespaced(connected.client.clone(), ns),
                        None => Api::default_namespaced(connected.client.clone()),
                    };
                    let params = LogParams {
                        container: request.container.clone(),
                        tail_lines: i64::try_from(request.limit).ok(),
                        limit_bytes: Some(PLUGIN_LOG_MAX_BYTES),
                        ..LogParams::default()
                    };
                    pods.logs(&name, &params).await.map(Value::String).map_err(|e| api_message(&e))
                }
            }
        })
    }

    /// Runs a plugin's command with the kubeconfig `request.cluster` came from (60 s, 1 MiB,
    /// its process group killed past the time).
    pub fn run_command(
        &self,
        request: klieg_model::host_call::CommandRequest,
    ) -> Result<klieg_model::host_call::CommandOutput, String> {
        let kubeconfig = request
            .cluster
            .as_ref()
            .and_then(|cluster| self.clients.borrow().get(cluster).map(|c| c.source.to_string()))
            .unwrap_or_default();
        let limit = super::actions::PLUGIN_EXEC_TIMEOUT + Duration::from_secs(5);
        self.wait(limit, async move {
            let (code, output) =
                super::actions::run_command(&request.argv, &kubeconfig).await.map_err(|e| e.to_string())?;
            Ok(klieg_model::host_call::CommandOutput { code, output })
        })
    }

    /// One HTTP request; no redirect is followed; a body over `max_bytes` is refused.
    pub fn http(&self, request: HttpRequest, max_bytes: usize) -> Result<HttpResponse, String> {
        let client = https_client();
        self.wait(PLUGIN_HTTP_TIMEOUT, async move {
            let mut builder = http::Request::builder().method(request.method.as_str()).uri(request.url.as_str());
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let body = http_body_util::Full::new(bytes::Bytes::from(request.body.unwrap_or_default()));
            let request = builder.body(body).map_err(|e| e.to_string())?;
            let response = client.request(request).await.map_err(|e| super::errors::error_chain(&e))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .take(100)
                .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect();
            let body = super::bounded::collect_capped(response.into_body(), max_bytes)
                .await
                .map_err(|e| t!("backend.plugin_http_too_large", limit = max_bytes, error = e).into_owned())?;
            Ok(HttpResponse { status, body: String::from_utf8_lossy(&body).into_owned(), headers })
        })
    }
}
