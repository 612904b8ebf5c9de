//! Prometheus charts: where a cluster's Prometheus is (detected, a Service through the apiserver
//! proxy, a direct URL, or off), which object is charted over which range, the PromQL behind each
//! chart (cadvisor and kubelet series, as Headlamp queries them), and the points kept. Pure data.

use super::ObjectKey;
use std::collections::VecDeque;
use std::sync::Arc;

/// A per-cluster setting, saved with the settings (it holds no secret).
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum PrometheusSource {
    /// Look for a Service labelled as Prometheus, as Headlamp does.
    #[default]
    Auto,
    /// A Service reached through the apiserver's service proxy.
    Service {
        namespace: String,
        name: String,
        port: String,
    },
    /// A URL Klieg connects to itself (`http://…`), for example a port-forward.
    Url(String),
    Off,
}

/// What a chart's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartUnit {
    Cores,
    Bytes,
    BytesPerSecond,
    /// Plain numbers (an extension's counts), up to two decimals.
    Count,
}

impl ChartUnit {
    pub fn format(self, value: f64) -> String {
        use super::usage::{format_bytes, format_cores};
        match self {
            ChartUnit::Cores => format_cores(value),
            ChartUnit::Bytes => format_bytes(value),
            ChartUnit::BytesPerSecond => format!("{}/s", format_bytes(value)),
            ChartUnit::Count => {
                let text = format!("{value:.2}");
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            }
        }
    }
}

/// The kinds that can be charted, and how their series are selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartSubject {
    Pod,
    /// A Deployment, StatefulSet, DaemonSet, ReplicaSet or Job: its pods by name prefix.
    Workload,
    Node,
    Namespace,
    Claim,
}

/// Which object to chart, over how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartQuery {
    pub key: ObjectKey,
    pub subject: ChartSubject,
    pub range_secs: u64,
}

/// The charts asked for: the object and range, and where its cluster's Prometheus is (`None`:
/// detected), so a change of either follows the open charts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartRequest {
    pub query: ChartQuery,
    pub source: Option<PrometheusSource>,
}

/// The ranges offered, in seconds.
pub const CHART_RANGES_SECS: [u64; 4] = [15 * 60, 60 * 60, 6 * 60 * 60, 24 * 60 * 60];

impl ChartQuery {
    /// Seconds between points: about 120 points per range, never under 5 s.
    pub fn step_secs(&self) -> u64 {
        (self.range_secs / 120).max(5)
    }
}

/// One chart: a translation key for its title, its unit, and a line per PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSpec {
    pub title_key: &'static str,
    pub unit: ChartUnit,
    /// (translation key of the line's name, PromQL)
    pub lines: Vec<(&'static str, String)>,
}

/// A PromQL label value, quoted and escaped.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A regular expression matching `text` literally (RE2 syntax).
fn literal_regex(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// The charts for `subject` named `key`, as Headlamp's Prometheus plugin draws them.
pub fn chart_specs(subject: &ChartSubject, key: &ObjectKey) -> Vec<ChartSpec> {
    let namespace = key.namespace.as_deref().unwrap_or_default();
    let selector = match subject {
        ChartSubject::Pod => format!("namespace={},pod={}", quoted(namespace), quoted(&key.name)),
        ChartSubject::Workload => {
            format!("namespace={},pod=~{}", quoted(namespace), quoted(&format!("{}-.*", literal_regex(&key.name))))
        }
        ChartSubject::Node => format!("node={}", quoted(&key.name)),
        ChartSubject::Namespace => format!("namespace={}", quoted(&key.name)),
        ChartSubject::Claim => {
            let claim = format!("namespace={},persistentvolumeclaim={}", quoted(namespace), quoted(&key.name));
            return vec![ChartSpec {
                title_key: "charts.volume",
                unit: ChartUnit::Bytes,
                lines: vec![
                    ("charts.used", format!("sum(kubelet_volume_stats_used_bytes{{{claim}}})")),
                    ("charts.capacity", format!("sum(kubelet_volume_stats_capacity_bytes{{{claim}}})")),
                ],
            }];
        }
    };
    vec![
        ChartSpec {
            title_key: "charts.cpu",
            unit: ChartUnit::Cores,
            lines: vec![(
                "charts.cpu",
                format!("sum(rate(container_cpu_usage_seconds_total{{{selector},container!=\"\"}}[2m]))"),
            )],
        },
        ChartSpec {
            title_key: "charts.memory",
            unit: ChartUnit::Bytes,
            lines: vec![(
                "charts.memory",
                format!("sum(container_memory_working_set_bytes{{{selector},container!=\"\"}})"),
            )],
        },
        ChartSpec {
            title_key: "charts.network",
            unit: ChartUnit::BytesPerSecond,
            lines: vec![
                ("charts.receive", format!("sum(rate(container_network_receive_bytes_total{{{selector}}}[2m]))")),
                ("charts.transmit", format!("sum(rate(container_network_transmit_bytes_total{{{selector}}}[2m]))")),
            ],
        },
        ChartSpec {
            title_key: "charts.filesystem",
            unit: ChartUnit::Bytes,
            lines: vec![("charts.filesystem", format!("sum(container_fs_usage_bytes{{{selector},container!=\"\"}})"))],
        },
    ]
}

/// A line's points as (unix seconds, value), oldest first, within the chart's range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartLine {
    pub name_key: &'static str,
    pub points: VecDeque<[f64; 2]>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    pub spec: ChartSpec,
    pub lines: Vec<ChartLine>,
    /// The last query's error, shown inside the chart; points already shown stay.
    pub error: Option<Arc<str>>,
}

impl ChartLine {
    /// Appends points newer than the last one and drops those older than `since_unix_secs`.
    pub fn extend(&mut self, points: impl IntoIterator<Item = [f64; 2]>, since_unix_secs: f64) {
        let last = self.points.back().map_or(f64::NEG_INFINITY, |p| p[0]);
        self.points.extend(points.into_iter().filter(|p| p[0] > last));
        while self.points.front().is_some_and(|p| p[0] < since_unix_secs) {
            self.points.pop_front();
        }
    }
}

/// What the charts of the open object show now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartSet {
    pub generation: u64,
    pub query: Option<ChartQuery>,
    /// Where the data comes from, in words (`service monitoring/prometheus-server:9090`).
    pub source: Option<Arc<str>>,
    /// Why there is no Prometheus to ask (none found, switched off, unreachable).
    pub problem: Option<Arc<str>>,
    pub charts: Vec<ChartData>,
    pub loading: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClusterId;

    fn key(namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey { cluster: ClusterId::new("c"), namespace: namespace.map(Arc::from), name: Arc::from(name) }
    }

    #[test]
    fn queries_select_the_subject_safely() {
        let pod = chart_specs(&ChartSubject::Pod, &key(Some("shop"), "web-1"));
        assert_eq!(pod.len(), 4);
        assert_eq!(
            pod[0].lines[0].1,
            "sum(rate(container_cpu_usage_seconds_total{namespace=\"shop\",pod=\"web-1\",container!=\"\"}[2m]))"
        );
        let workload = chart_specs(&ChartSubject::Workload, &key(Some("shop"), "web.v2"));
        assert!(workload[1].lines[0].1.contains("pod=~\"web\\\\.v2-.*\""), "{}", workload[1].lines[0].1);
        let node = chart_specs(&ChartSubject::Node, &key(None, "node-\"x"));
        assert!(node[2].lines[0].1.contains("node=\"node-\\\"x\""), "{}", node[2].lines[0].1);
        let claim = chart_specs(&ChartSubject::Claim, &key(Some("db"), "data"));
        assert_eq!(claim.len(), 1);
        assert_eq!(claim[0].lines.len(), 2);
        let registry = crate::Registry::with_builtins();
        let subject = |group, plural| registry.chart_panel_for(&crate::KindKey::new(group, plural)).map(|p| p.subject);
        assert_eq!(subject("apps", "deployments"), Some(ChartSubject::Workload));
        assert_eq!(subject("", "configmaps"), None);
    }

    #[test]
    fn lines_append_newer_points_and_drop_old_ones() {
        let mut line = ChartLine::default();
        line.extend([[10.0, 1.0], [20.0, 2.0], [30.0, 3.0]], 0.0);
        line.extend([[30.0, 3.0], [40.0, 4.0]], 15.0);
        assert_eq!(line.points.iter().map(|p| p[0]).collect::<Vec<_>>(), [20.0, 30.0, 40.0]);
        let query = ChartQuery { key: key(None, "n"), subject: ChartSubject::Node, range_secs: 3600 };
        assert_eq!(query.step_secs(), 30);
    }
}
