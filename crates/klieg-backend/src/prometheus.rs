//! Prometheus for charts: finds a cluster's Prometheus (a configured Service or URL, or one
//! detected by its labels, as Headlamp does), runs `query_range` for each chart of the open
//! object, then keeps the charts live by asking only for the points since the last one. Queries
//! go through the apiserver's service proxy, or straight to a configured `http://` URL. Runs only
//! while charts are shown. Backend runtime.

use super::{ClientMap, Waker};
use klieg_model::prometheus::{ChartData, ChartLine, ChartQuery, ChartSet, PrometheusSource, chart_specs};
use rust_i18n::t;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes of one answer from a Prometheus reached directly (through the API server's proxy, the
/// client's own cap, `bounded::MAX_RESPONSE_BYTES`, holds).
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// Points kept per series (Prometheus itself answers at most 11 000 per series).
pub const MAX_POINTS_PER_SERIES: usize = 11_000;
/// Series kept per chart.
pub const MAX_SERIES: usize = 100;

/// Label selectors that find Prometheus's Service, most specific first (Headlamp's list).
const DETECT_SELECTORS: [&str; 4] = [
    "app.kubernetes.io/name=prometheus,app.kubernetes.io/component=server",
    "app.kubernetes.io/name=prometheus",
    "app=prometheus,component=server",
    "app=prometheus",
];

/// Namespaces where auto-detection trusts a Service labelled as Prometheus: those the common
/// installs use. Anyone who may create a Service in another namespace could otherwise label one
/// and have every user's charts come from it (and see which objects they look at).
pub const TRUSTED_NAMESPACES: [&str; 8] = [
    "monitoring",
    "prometheus",
    "observability",
    "kube-prometheus-stack",
    "prometheus-system",
    "cattle-monitoring-system",
    "openshift-monitoring",
    "kube-system",
];

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("{}", t!("backend.prometheus_off"))]
    Off,
    #[error("{}", t!("backend.prometheus_not_found"))]
    NotFound,
    #[error("{}", t!("backend.prometheus_untrusted", service = .0))]
    Untrusted(String),
    #[error("{}", t!("backend.prometheus_url", url = .0))]
    UnsupportedUrl(String),
    #[error("{}", t!("backend.prometheus_unreachable", error = .0))]
    Unreachable(String),
    #[error("{}", t!("backend.prometheus_query", kind = .kind, message = .message))]
    Query { kind: String, message: String },
    #[error("{}", t!("backend.prometheus_malformed", error = .0))]
    Malformed(String),
}

/// Where queries go.
#[derive(Clone)]
enum Endpoint {
    /// `/api/v1/namespaces/NS/services/NAME:PORT/proxy` on the cluster's apiserver.
    Proxy {
        client: kube::Client,
        base: String,
        shown: String,
    },
    Direct {
        base: String,
    },
}

impl Endpoint {
    fn describe(&self) -> String {
        match self {
            Endpoint::Proxy { shown, .. } => shown.clone(),
            Endpoint::Direct { base } => base.clone(),
        }
    }

    async fn get(&self, path_and_query: &str) -> Result<Value, PromError> {
        let request = async {
            match self {
                Endpoint::Proxy { client, base, .. } => {
                    let request = http::Request::get(format!("{base}{path_and_query}"))
                        .body(Vec::new())
                        .map_err(|e| PromError::Unreachable(e.to_string()))?;
                    match client.request_text(request).await {
                        Ok(text) => Ok(text),
                        // Prometheus's own error document comes back as the failed request's message.
                        Err(kube::Error::Api(status)) if status.message.trim_start().starts_with('{') => {
                            Ok(status.message)
                        }
                        Err(kube::Error::Api(status)) => Err(PromError::Unreachable(status.message)),
                        Err(error) => Err(PromError::Unreachable(error.to_string())),
                    }
                }
                Endpoint::Direct { base } => {
                    let uri: http::Uri = format!("{base}{path_and_query}")
                        .parse()
                        .map_err(|e: http::uri::InvalidUri| PromError::Unreachable(e.to_string()))?;
                    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                        .build_http::<http_body_util::Empty<bytes::Bytes>>();
                    let response = client.get(uri).await.map_err(|e| PromError::Unreachable(e.to_string()))?;
                    let body = super::bounded::collect_capped(response.into_body(), MAX_ANSWER_BYTES)
                        .await
                        .map_err(|e| PromError::Unreachable(e.to_string()))?;
                    Ok(String::from_utf8_lossy(&body).into_owned())
                }
            }
        };
        let text = tokio::time::timeout(REQUEST_TIMEOUT, request)
            .await
            .map_err(|_| PromError::Unreachable(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))??;
        let value: Value =
            serde_json::from_str(&text).map_err(|_| PromError::Malformed(text.chars().take(200).collect()))?;
        if value["status"] == "error" {
            return Err(PromError::Query {
                kind: value["errorType"].as_str().unwrap_or("error").to_string(),
                message: value["error"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(value)
    }

    /// `query_range` as (unix seconds, value) points per series; NaN and infinite values are
    /// gaps, left out.
    async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_secs: u64,
    ) -> Result<Vec<Vec<[f64; 2]>>, PromError> {
        let query = format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step_secs}",
            super::table_watch::encode_query_value(promql)
        );
        let answer = self.get(&query).await?;
        let result = answer
            .pointer("/data/result")
            .and_then(Value::as_array)
            .ok_or_else(|| PromError::Malformed(answer.to_string().chars().take(200).collect()))?;
        Ok(result
            .iter()
            .take(MAX_SERIES)
            .map(|series| {
                series["values"]
                    .as_array()
                    .map(|values| {
                        values
                            .iter()
                            .take(MAX_POINTS_PER_SERIES)
                            .filter_map(|pair| {
                                let at = pair.get(0)?.as_f64()?;
                                let value: f64 = pair.get(1)?.as_str()?.parse().ok()?;
                                value.is_finite().then_some([at, value])
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect())
    }
}

fn proxy(client: &kube::Client, namespace: &str, name: &str, port: &str) -> Endpoint {
    let reference = if port.is_empty() { name.to_string() } else { format!("{name}:{port}") };
    Endpoint::Proxy {
        client: client.clone(),
        base: format!("/api/v1/namespaces/{namespace}/services/{reference}/proxy"),
        shown: format!("service {namespace}/{reference}"),
    }
}

/// The Service's port to use: one named like Prometheus's web port, else 9090, else the first.
fn service_port(service: &k8s_openapi::api::core::v1::Service) -> String {
    let ports = service.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let named = ports.iter().find(|p| matches!(p.name.as_deref(), Some("http" | "web" | "http-web")));
    let chosen = named.or_else(|| ports.iter().find(|p| p.port == 9090)).or_else(|| ports.first());
    chosen.map(|p| p.port.to_string()).unwrap_or_default()
}

async fn endpoint(client: &kube::Client, source: &PrometheusSource) -> Result<Endpoint, PromError> {
    match source {
        PrometheusSource::Off => Err(PromError::Off),
        PrometheusSource::Url(url) => {
            let base = url.trim().trim_end_matches('/').to_string();
            if base.starts_with("http://") {
                Ok(Endpoint::Direct { base })
            } else {
                Err(PromError::UnsupportedUrl(base))
            }
        }
        PrometheusSource::Service { namespace, name, port } => Ok(proxy(client, namespace, name, port)),
        PrometheusSource::Auto => {
            let services: kube::Api<k8s_openapi::api::core::v1::Service> = kube::Api::all(client.clone());
            let namespace_of =
                |s: &k8s_openapi::api::core::v1::Service| s.metadata.namespace.clone().unwrap_or_default();
            let mut untrusted = None;
            for selector in DETECT_SELECTORS {
                let found = services
                    .list(&kube::api::ListParams::default().labels(selector))
                    .await
                    .map_err(|e| PromError::Unreachable(e.to_string()))?;
                let trusted = found.items.iter().find(|s| TRUSTED_NAMESPACES.contains(&namespace_of(s).as_str()));
                if let Some(service) = trusted {
                    let name = service.metadata.name.clone().unwrap_or_default();
                    return Ok(proxy(client, &namespace_of(service), &name, &service_port(service)));
                }
                untrusted = untrusted.or_else(|| {
                    found
                        .items
                        .first()
                        .map(|s| format!("{}/{}", namespace_of(s), s.metadata.name.as_deref().unwrap_or("")))
                });
            }
            Err(untrusted.map_or(PromError::NotFound, PromError::Untrusted))
        }
    }
}

impl super::feed::Follower for ChartsFollower {
    type Query = klieg_model::ChartRequest;
    type Snapshot = ChartSet;

    fn follow(&mut self, context: &super::feed::FeedContext, query: Option<Self::Query>) {
        match query {
            Some(request) => {
                self.waiting = !context.clients().contains_key(&request.query.key.cluster);
                self.open(&context.clients(), request.source, request.query);
            }
            None => {
                self.waiting = false;
                self.close();
            }
        }
    }

    fn waits_for_a_cluster(&self) -> bool {
        self.waiting
    }
}

/// Follows the charts of one object while they are shown.
pub struct ChartsFollower {
    out: watch::Sender<Arc<ChartSet>>,
    waker: Waker,
    task: super::TaskSlot,
    generation: u64,
    /// The charts asked for are of a cluster not connected (yet).
    waiting: bool,
}

impl ChartsFollower {
    pub fn new(out: watch::Sender<Arc<ChartSet>>, waker: Waker) -> Self {
        Self { out, waker, task: super::TaskSlot::default(), generation: 0, waiting: false }
    }

    pub fn close(&mut self) {
        self.task.stop();
        self.generation += 1;
        self.out.send_replace(Arc::new(ChartSet { generation: self.generation, ..ChartSet::default() }));
        (self.waker)();
    }

    pub fn open(&mut self, clients: &ClientMap, source: Option<PrometheusSource>, query: ChartQuery) {
        self.close();
        let specs = chart_specs(&query.subject, &query.key);
        let mut set = ChartSet {
            generation: self.generation,
            query: Some(query.clone()),
            loading: true,
            charts: specs
                .into_iter()
                .map(|spec| ChartData {
                    lines: spec
                        .lines
                        .iter()
                        .map(|(name_key, _)| ChartLine { name_key, ..ChartLine::default() })
                        .collect(),
                    spec,
                    error: None,
                })
                .collect(),
            ..ChartSet::default()
        };
        let publish = {
            let (out, waker) = (self.out.clone(), self.waker.clone());
            move |set: &mut ChartSet| {
                set.generation += 1;
                out.send_replace(Arc::new(set.clone()));
                waker();
            }
        };
        let Some(connected) = clients.get(&query.key.cluster) else {
            set.loading = false;
            set.problem = Some(Arc::from(t!("backend.not_connected").as_ref()));
            publish(&mut set);
            return;
        };
        let client = connected.client.clone();
        let source = source.unwrap_or_default();
        self.task.set(tokio::spawn(async move {
            let endpoint = match endpoint(&client, &source).await {
                Ok(endpoint) => endpoint,
                Err(error) => {
                    set.loading = false;
                    set.problem = Some(Arc::from(error.to_string()));
                    publish(&mut set);
                    return;
                }
            };
            set.source = Some(Arc::from(endpoint.describe()));
            let step = query.step_secs();
            let now = || jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
            // The whole range first; then, every step, only what is new.
            let mut from = now() - query.range_secs as f64;
            loop {
                let to = now();
                let since = to - query.range_secs as f64;
                for chart in &mut set.charts {
                    chart.error = None;
                    for (line, (_, promql)) in chart.lines.iter_mut().zip(&chart.spec.lines) {
                        match endpoint.query_range(promql, from, to, step).await {
                            // `sum(...)` gives one series; an empty answer is no data yet.
                            Ok(series) => line.extend(series.into_iter().next().unwrap_or_default(), since),
                            Err(error) => chart.error = Some(Arc::from(error.to_string())),
                        }
                    }
                }
                set.loading = false;
                publish(&mut set);
                // The next window overlaps the last point, so a late sample is not lost.
                from = set
                    .charts
                    .iter()
                    .flat_map(|c| c.lines.iter().filter_map(|l| l.points.back().map(|p| p[0])))
                    .fold(to - step as f64, f64::min);
                tokio::time::sleep(Duration::from_secs(step)).await;
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn promql_is_percent_encoded() {
        let encoded = crate::table_watch::encode_query_value("sum(x{a=\"b\"})");
        assert_eq!(encoded, "sum%28x%7Ba%3D%22b%22%7D%29");
    }
}
