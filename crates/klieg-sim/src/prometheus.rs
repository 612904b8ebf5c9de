//! A Prometheus-compatible HTTP API for the simulator (`/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/status/buildinfo`), reached through the apiserver's service proxy of the simulated
//! `monitoring/prometheus-server` Service. Series are cadvisor- and kubelet-style metrics of the
//! stored pods and volume claims, as smooth functions of time, so any range can be evaluated
//! without keeping samples. PromQL is parsed with the `promql-parser` crate; the evaluator covers
//! selectors, `rate`/`irate`/`increase`/`*_over_time`, aggregations with `by`/`without`, and
//! arithmetic and comparisons. Runs on the simulator's runtime.

use super::store::Store;
use promql_parser::label::Matcher;
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::f64::consts::TAU;

/// Prometheus refuses ranges with more points than this per series.
pub const MAX_POINTS: usize = 11_000;
/// The simulated scrape interval, used by `irate` and `*_over_time`.
const SCRAPE_SECS: f64 = 15.0;

type Labels = BTreeMap<String, String>;

/// How a series moves over time.
#[derive(Debug, Clone, Copy)]
enum Signal {
    /// A counter whose rate is `base + amplitude * sin(2π t / period + phase)`.
    Counter { base: f64, amplitude: f64, period: f64, phase: f64 },
    /// A gauge `base + amplitude * sin(2π t / period + phase)`.
    Gauge { base: f64, amplitude: f64, period: f64, phase: f64 },
}

impl Signal {
    fn at(self, t: f64) -> f64 {
        match self {
            // The integral of the rate from 0 to t.
            Signal::Counter { base, amplitude, period, phase } => {
                base * t + amplitude * period / TAU * (phase.cos() - (TAU * t / period + phase).cos())
            }
            Signal::Gauge { base, amplitude, period, phase } => {
                (base + amplitude * (TAU * t / period + phase).sin()).max(0.0)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Series {
    labels: Labels,
    signal: Signal,
}

/// The series as a kubelet's `/metrics/cadvisor` exposes them, in the Prometheus text format at
/// `now_unix_secs`, for a real Prometheus to scrape (with `honor_labels`, so `namespace`, `pod`,
/// `container` and `node` are kept; `job` and `instance` come from the scrape).
pub fn cadvisor_exposition(store: &Store, now_unix_secs: f64) -> String {
    use std::fmt::Write;
    let mut by_name: BTreeMap<String, Vec<&Series>> = BTreeMap::new();
    let series = all_series(store);
    for one in &series {
        by_name.entry(one.labels.get("__name__").cloned().unwrap_or_default()).or_default().push(one);
    }
    let escape = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let mut text = String::new();
    for (name, series) in by_name {
        let kind = if matches!(series[0].signal, Signal::Counter { .. }) { "counter" } else { "gauge" };
        let _ = writeln!(text, "# TYPE {name} {kind}");
        for one in series {
            let labels: Vec<String> = one
                .labels
                .iter()
                .filter(|(key, _)| !matches!(key.as_str(), "__name__" | "job" | "instance" | "metrics_path"))
                .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
                .collect();
            let _ = writeln!(text, "{name}{{{}}} {}", labels.join(","), one.signal.at(now_unix_secs));
        }
    }
    text
}

fn seed_of(text: &str) -> f64 {
    let hash = text.bytes().fold(1469598103934665603u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1099511628211));
    (hash % 10_000) as f64 / 10_000.0
}

/// Every series the simulated cluster exposes now.
fn all_series(store: &Store) -> Vec<Series> {
    let mut out = Vec::new();
    for pod in store.all_of("", "pods") {
        if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
            continue;
        }
        let meta = &pod["metadata"];
        let namespace = meta["namespace"].as_str().unwrap_or_default();
        let name = meta["name"].as_str().unwrap_or_default();
        let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
        let base_labels = |container: &str| -> Labels {
            let mut labels = Labels::new();
            labels.insert("namespace".into(), namespace.into());
            labels.insert("pod".into(), name.into());
            labels.insert("container".into(), container.into());
            labels.insert("node".into(), node.into());
            labels.insert("instance".into(), node.into());
            labels.insert("job".into(), "kubelet".into());
            labels.insert("metrics_path".into(), "/metrics/cadvisor".into());
            labels
        };
        let named = |labels: &Labels, metric: &str| {
            let mut labels = labels.clone();
            labels.insert("__name__".into(), metric.into());
            labels
        };
        for container in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
            let container_name = container["name"].as_str().unwrap_or_default();
            let labels = base_labels(container_name);
            let seed = seed_of(&format!("{namespace}/{name}/{container_name}"));
            let phase = seed * TAU;
            out.push(Series {
                labels: named(&labels, "container_cpu_usage_seconds_total"),
                signal: Signal::Counter { base: 0.05 + 0.3 * seed, amplitude: 0.04 + 0.1 * seed, period: 300.0, phase },
            });
            let memory = (64.0 + 320.0 * seed) * 1024.0 * 1024.0;
            out.push(Series {
                labels: named(&labels, "container_memory_working_set_bytes"),
                signal: Signal::Gauge { base: memory, amplitude: memory * 0.15, period: 900.0, phase },
            });
            out.push(Series {
                labels: named(&labels, "container_fs_usage_bytes"),
                signal: Signal::Gauge { base: memory * 2.0, amplitude: memory * 0.05, period: 3600.0, phase },
            });
        }
        let mut network = base_labels("");
        network.insert("interface".into(), "eth0".into());
        let seed = seed_of(&format!("{namespace}/{name}"));
        for (metric, base) in
            [("container_network_receive_bytes_total", 40_000.0), ("container_network_transmit_bytes_total", 25_000.0)]
        {
            out.push(Series {
                labels: named(&network, metric),
                signal: Signal::Counter {
                    base: base * (0.2 + seed),
                    amplitude: base * 0.3 * (0.2 + seed),
                    period: 240.0,
                    phase: seed * TAU,
                },
            });
        }
    }
    for claim in store.all_of("", "persistentvolumeclaims") {
        let meta = &claim["metadata"];
        let mut labels = Labels::new();
        labels.insert("namespace".into(), meta["namespace"].as_str().unwrap_or_default().into());
        labels.insert("persistentvolumeclaim".into(), meta["name"].as_str().unwrap_or_default().into());
        labels.insert("job".into(), "kubelet".into());
        let seed = seed_of(&labels["persistentvolumeclaim"]);
        let capacity = 10.0 * 1024.0 * 1024.0 * 1024.0;
        let mut used = labels.clone();
        used.insert("__name__".into(), "kubelet_volume_stats_used_bytes".into());
        out.push(Series {
            labels: used,
            signal: Signal::Gauge {
                base: capacity * (0.2 + 0.6 * seed),
                amplitude: capacity * 0.02,
                period: 7200.0,
                phase: 0.0,
            },
        });
        labels.insert("__name__".into(), "kubelet_volume_stats_capacity_bytes".into());
        out.push(Series { labels, signal: Signal::Gauge { base: capacity, amplitude: 0.0, period: 1.0, phase: 0.0 } });
    }
    out
}

/// A query error, as Prometheus reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub error_type: &'static str,
    pub message: String,
}

fn bad_data(message: impl Into<String>) -> QueryError {
    QueryError { error_type: "bad_data", message: message.into() }
}

#[derive(Debug, Clone)]
enum Val {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

fn matches(matcher: &Matcher, labels: &Labels) -> bool {
    // A missing label matches as the empty string, as in Prometheus.
    matcher.is_match(labels.get(&matcher.name).map(String::as_str).unwrap_or_default())
}

fn select<'a>(series: &'a [Series], selector: &VectorSelector) -> Vec<&'a Series> {
    series
        .iter()
        .filter(|s| selector.name.as_ref().is_none_or(|name| s.labels.get("__name__") == Some(name)))
        .filter(|s| {
            let all = selector.matchers.matchers.iter().all(|m| matches(m, &s.labels));
            let any_group = selector.matchers.or_matchers.is_empty()
                || selector.matchers.or_matchers.iter().any(|group| group.iter().all(|m| matches(m, &s.labels)));
            all && any_group
        })
        .collect()
}

fn without_name(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    labels.remove("__name__");
    labels
}

fn arithmetic(op: &str, a: f64, b: f64) -> Result<Option<f64>, QueryError> {
    Ok(Some(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => a / b,
        "%" => a % b,
        "^" => a.powf(b),
        ">" => return Ok((a > b).then_some(a)),
        "<" => return Ok((a < b).then_some(a)),
        ">=" => return Ok((a >= b).then_some(a)),
        "<=" => return Ok((a <= b).then_some(a)),
        "==" => return Ok((a == b).then_some(a)),
        "!=" => return Ok((a != b).then_some(a)),
        other => return Err(bad_data(format!("operator {other:?} is not supported by the simulator"))),
    }))
}

/// Applies an operation with a scalar to every sample; comparisons drop the samples they fail.
fn with_scalar(
    samples: Vec<(Labels, f64)>,
    operation: impl Fn(f64) -> Result<Option<f64>, QueryError>,
) -> Result<Val, QueryError> {
    let mut out = Vec::new();
    for (labels, value) in samples {
        if let Some(result) = operation(value)? {
            out.push((without_name(&labels), result));
        }
    }
    Ok(Val::Vector(out))
}

/// Evaluates `expr` at unix time `t`.
fn eval(expr: &Expr, series: &[Series], t: f64) -> Result<Val, QueryError> {
    match expr {
        Expr::NumberLiteral(number) => Ok(Val::Scalar(number.val)),
        Expr::Paren(paren) => eval(&paren.expr, series, t),
        Expr::Unary(unary) => match eval(&unary.expr, series, t)? {
            Val::Scalar(v) => Ok(Val::Scalar(-v)),
            Val::Vector(samples) => Ok(Val::Vector(samples.into_iter().map(|(l, v)| (without_name(&l), -v)).collect())),
        },
        Expr::VectorSelector(selector) => {
            Ok(Val::Vector(select(series, selector).into_iter().map(|s| (s.labels.clone(), s.signal.at(t))).collect()))
        }
        Expr::Call(call) => eval_call(call, series, t),
        Expr::Aggregate(aggregate) => eval_aggregate(aggregate, series, t),
        Expr::Binary(binary) => eval_binary(binary, series, t),
        Expr::MatrixSelector(_) => Err(bad_data("a range vector cannot be graphed; wrap it in a function like rate()")),
        other => Err(bad_data(format!("{other} is not supported by the simulator"))),
    }
}

/// A function call: range functions, math functions, `time`, `vector` and `scalar`.
fn eval_call(call: &promql_parser::parser::Call, series: &[Series], t: f64) -> Result<Val, QueryError> {
    let name = call.func.name;
    let arg = call.args.args.first().map(|a| a.as_ref());
    let range_arg = || match arg {
        Some(Expr::MatrixSelector(matrix)) => Ok((select(series, &matrix.vs), matrix.range.as_secs_f64())),
        _ => Err(bad_data(format!("{name}: expected a range vector argument"))),
    };
    let samples = match name {
        "rate" | "increase" | "irate" => {
            let (selected, range) = range_arg()?;
            let window = if name == "irate" { SCRAPE_SECS.min(range) } else { range };
            selected
                .into_iter()
                .map(|s| {
                    let delta = s.signal.at(t) - s.signal.at(t - window);
                    let value = if name == "increase" { delta } else { delta / window };
                    (without_name(&s.labels), value)
                })
                .collect()
        }
        "avg_over_time" | "max_over_time" | "min_over_time" | "sum_over_time" | "count_over_time" => {
            let (selected, range) = range_arg()?;
            let steps = ((range / SCRAPE_SECS).floor() as usize).max(1);
            selected
                .into_iter()
                .map(|s| {
                    let values: Vec<f64> = (0..steps).map(|i| s.signal.at(t - i as f64 * SCRAPE_SECS)).collect();
                    let value = match name {
                        "avg_over_time" => values.iter().sum::<f64>() / values.len() as f64,
                        "max_over_time" => values.iter().copied().fold(f64::MIN, f64::max),
                        "min_over_time" => values.iter().copied().fold(f64::MAX, f64::min),
                        "sum_over_time" => values.iter().sum(),
                        _ => values.len() as f64,
                    };
                    (without_name(&s.labels), value)
                })
                .collect()
        }
        "abs" | "ceil" | "floor" | "round" | "sqrt" | "ln" | "exp" => {
            let Some(arg) = arg else { return Err(bad_data(format!("{name}: missing argument"))) };
            let Val::Vector(samples) = eval(arg, series, t)? else {
                return Err(bad_data(format!("{name}: expected an instant vector")));
            };
            let f = |v: f64| match name {
                "abs" => v.abs(),
                "ceil" => v.ceil(),
                "floor" => v.floor(),
                "round" => v.round(),
                "sqrt" => v.sqrt(),
                "ln" => v.ln(),
                _ => v.exp(),
            };
            samples.into_iter().map(|(l, v)| (without_name(&l), f(v))).collect()
        }
        "time" => return Ok(Val::Scalar(t)),
        "vector" | "scalar" => return arg.map_or(Err(bad_data("missing argument")), |a| eval(a, series, t)),
        other => return Err(bad_data(format!("function {other:?} is not supported by the simulator"))),
    };
    Ok(Val::Vector(samples))
}

/// `sum`, `avg`, `max`, `min` and `count`, by or without labels.
fn eval_aggregate(
    aggregate: &promql_parser::parser::AggregateExpr,
    series: &[Series],
    t: f64,
) -> Result<Val, QueryError> {
    let Val::Vector(samples) = eval(&aggregate.expr, series, t)? else {
        return Err(bad_data("aggregations need an instant vector"));
    };
    let op = aggregate.op.to_string();
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for (labels, value) in samples {
        let key: Labels = match &aggregate.modifier {
            Some(LabelModifier::Include(by)) => labels.into_iter().filter(|(k, _)| by.labels.contains(k)).collect(),
            Some(LabelModifier::Exclude(without)) => {
                labels.into_iter().filter(|(k, _)| k != "__name__" && !without.labels.contains(k)).collect()
            }
            None => Labels::new(),
        };
        groups.entry(key).or_default().push(value);
    }
    let reduce = |values: &[f64]| -> Result<f64, QueryError> {
        Ok(match op.as_str() {
            "sum" => values.iter().sum(),
            "avg" => values.iter().sum::<f64>() / values.len() as f64,
            "max" => values.iter().copied().fold(f64::MIN, f64::max),
            "min" => values.iter().copied().fold(f64::MAX, f64::min),
            "count" => values.len() as f64,
            other => return Err(bad_data(format!("aggregation {other:?} is not supported by the simulator"))),
        })
    };
    let mut out = Vec::with_capacity(groups.len());
    for (labels, values) in groups {
        out.push((labels, reduce(&values)?));
    }
    Ok(Val::Vector(out))
}

/// Arithmetic between scalars and vectors, vectors matched one to one.
fn eval_binary(binary: &promql_parser::parser::BinaryExpr, series: &[Series], t: f64) -> Result<Val, QueryError> {
    let op = binary.op.to_string();
    let lhs = eval(&binary.lhs, series, t)?;
    let rhs = eval(&binary.rhs, series, t)?;
    match (lhs, rhs) {
        (Val::Scalar(a), Val::Scalar(b)) => Ok(Val::Scalar(arithmetic(&op, a, b)?.unwrap_or(f64::NAN))),
        (Val::Vector(samples), Val::Scalar(b)) => with_scalar(samples, |a| arithmetic(&op, a, b)),
        (Val::Scalar(a), Val::Vector(samples)) => with_scalar(samples, |b| arithmetic(&op, a, b)),
        (Val::Vector(left), Val::Vector(right)) => {
            // One-to-one matching on all labels, or those of `on (...)`, less those of `ignoring (...)`.
            let key = |labels: &Labels| -> Labels {
                let labels = without_name(labels);
                match binary.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    Some(LabelModifier::Include(on)) => {
                        labels.into_iter().filter(|(k, _)| on.labels.contains(k)).collect()
                    }
                    Some(LabelModifier::Exclude(ignoring)) => {
                        labels.into_iter().filter(|(k, _)| !ignoring.labels.contains(k)).collect()
                    }
                    None => labels,
                }
            };
            let right: BTreeMap<Labels, f64> = right.iter().map(|(l, v)| (key(l), *v)).collect();
            let mut out = Vec::new();
            for (labels, a) in left {
                if let Some(b) = right.get(&key(&labels))
                    && let Some(v) = arithmetic(&op, a, *b)?
                {
                    out.push((without_name(&labels), v));
                }
            }
            Ok(Val::Vector(out))
        }
    }
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        value.to_string()
    }
}

fn parse_time(text: &str) -> Result<f64, QueryError> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok(seconds);
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond() as f64 / 1000.0)
        .map_err(|_| bad_data(format!("invalid parameter \"time\": cannot parse \"{text}\" to a valid timestamp")))
}

fn parse_step(text: &str) -> Result<f64, QueryError> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok(seconds);
    }
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let number: f64 =
        number.parse().map_err(|_| bad_data(format!("invalid parameter \"step\": cannot parse \"{text}\"")))?;
    let factor = match unit {
        "ms" => 0.001,
        "s" | "" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(bad_data(format!("invalid parameter \"step\": unknown unit in \"{text}\""))),
    };
    Ok(number * factor)
}

/// Answers one request under the Prometheus HTTP API; `path` starts at `/api/v1/` (or `/-/`).
/// Returns the HTTP status and the JSON body.
pub fn answer(store: &Store, path: &str, params: &BTreeMap<String, String>) -> (u16, Value) {
    match run(store, path, params) {
        Ok(data) => (200, json!({"status": "success", "data": data})),
        Err(error) if error.error_type == "not_found" => {
            (404, json!({"status": "error", "errorType": "not_found", "error": error.message}))
        }
        Err(error) => (400, json!({"status": "error", "errorType": error.error_type, "error": error.message})),
    }
}

fn run(store: &Store, path: &str, params: &BTreeMap<String, String>) -> Result<Value, QueryError> {
    let param = |key: &str| {
        params.get(key).map(String::as_str).ok_or_else(|| bad_data(format!("invalid parameter \"{key}\": missing")))
    };
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    match path.trim_end_matches('/') {
        "/api/v1/status/buildinfo" => {
            Ok(json!({"version": "2.53.0", "revision": "klieg-sim", "branch": "HEAD", "goVersion": "go1.22"}))
        }
        "/api/v1/query" => {
            let expr = parser::parse(param("query")?).map_err(bad_data)?;
            let t = params.get("time").map(|t| parse_time(t)).transpose()?.unwrap_or(now);
            let series = all_series(store);
            Ok(match eval(&expr, &series, t)? {
                Val::Scalar(v) => json!({"resultType": "scalar", "result": [t, format_value(v)]}),
                Val::Vector(samples) => json!({"resultType": "vector", "result": samples.into_iter()
                    .map(|(labels, v)| json!({"metric": labels, "value": [t, format_value(v)]})).collect::<Vec<_>>()}),
            })
        }
        "/api/v1/query_range" => {
            let expr = parser::parse(param("query")?).map_err(bad_data)?;
            let start = parse_time(param("start")?)?;
            let end = parse_time(param("end")?)?;
            let step = parse_step(param("step")?)?;
            if step <= 0.0 {
                return Err(bad_data(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            if end < start {
                return Err(bad_data("end timestamp must not be before start time"));
            }
            if (end - start) / step > MAX_POINTS as f64 {
                return Err(bad_data(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
                ));
            }
            let series = all_series(store);
            let mut matrix: BTreeMap<Labels, Vec<Value>> = BTreeMap::new();
            let mut t = start;
            while t <= end + 1e-9 {
                match eval(&expr, &series, t)? {
                    Val::Scalar(v) => matrix.entry(Labels::new()).or_default().push(json!([t, format_value(v)])),
                    Val::Vector(samples) => {
                        for (labels, v) in samples {
                            matrix.entry(labels).or_default().push(json!([t, format_value(v)]));
                        }
                    }
                }
                t += step;
            }
            Ok(json!({"resultType": "matrix", "result": matrix.into_iter()
                .map(|(labels, values)| json!({"metric": labels, "values": values})).collect::<Vec<_>>()}))
        }
        other => Err(QueryError { error_type: "not_found", message: format!("404 page not found: {other}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut store = Store::new();
        let namespaces = store.kind("", "v1", "namespaces").cloned().expect("kind");
        store.create(&namespaces, "", json!({"metadata": {"name": "shop"}})).expect("ns");
        let pods = store.kind("", "v1", "pods").cloned().expect("kind");
        for (name, phase) in [("web-1", "Running"), ("web-2", "Running"), ("job-1", "Succeeded")] {
            store
                .create(&pods, "shop", json!({"metadata": {"name": name}, "spec": {"nodeName": "node-0", "containers": [{"name": "app"}, {"name": "proxy"}]}, "status": {"phase": phase}}))
                .expect("pod");
        }
        store
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn headlamp_style_queries_give_plausible_series_per_pod() {
        let store = store();
        let (code, body) = answer(
            &store,
            "/api/v1/query_range",
            &params(&[
                (
                    "query",
                    "sum(rate(container_cpu_usage_seconds_total{container!='',namespace='shop',pod=~'web-.*'}[1m])) by (pod)",
                ),
                ("start", "1700000000"),
                ("end", "1700000600"),
                ("step", "60s"),
            ]),
        );
        assert_eq!(code, 200, "{body}");
        let result = body["data"]["result"].as_array().cloned().unwrap_or_default();
        let pods: Vec<&str> = result.iter().filter_map(|r| r["metric"]["pod"].as_str()).collect();
        assert_eq!(pods, ["web-1", "web-2"], "only running pods, one series each");
        assert_eq!(result[0]["metric"].as_object().map(|m| m.len()), Some(1), "grouped by pod only");
        let values: Vec<f64> =
            result[0]["values"].as_array().into_iter().flatten().filter_map(|v| v[1].as_str()?.parse().ok()).collect();
        assert_eq!(values.len(), 11);
        assert!(values.iter().all(|v| (0.05..2.0).contains(v)), "two containers' cores: {values:?}");
        assert!(values.windows(2).any(|w| (w[0] - w[1]).abs() > 1e-6), "the values move");

        let (_, memory) = answer(
            &store,
            "/api/v1/query",
            &params(&[(
                "query",
                "sum(container_memory_working_set_bytes{namespace=\"shop\",pod=\"web-1\",container!=\"\"}) / 1024 / 1024",
            )]),
        );
        let mib: f64 = memory["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        assert!((100.0..1000.0).contains(&mib), "{memory}");
    }

    #[test]
    fn bad_queries_get_prometheus_errors() {
        let store = store();
        let (code, body) = answer(&store, "/api/v1/query", &params(&[("query", "sum(rate(x[1m])")]));
        assert_eq!((code, body["errorType"].as_str()), (400, Some("bad_data")));
        let (code, body) = answer(
            &store,
            "/api/v1/query_range",
            &params(&[("query", "up"), ("start", "0"), ("end", "1000000"), ("step", "1")]),
        );
        assert_eq!(code, 400);
        assert!(body["error"].as_str().is_some_and(|e| e.contains("11,000 points")));
        assert_eq!(answer(&store, "/api/v1/nope", &BTreeMap::new()).0, 404);
    }
}
