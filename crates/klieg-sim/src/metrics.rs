//! `metrics.k8s.io/v1beta1` for the simulator: node and pod usage that moves plausibly over time
//! (a per-object baseline plus slow waves), as metrics-server would report it. Any thread.

use super::kinds::SimKind;
use super::store::{ListOptions, Store, now_rfc3339};
use serde_json::{Value, json};

pub const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
}

/// Usage of one container at `now_secs`: millicores and bytes, different per name, smooth in time.
pub fn container_usage(name: &str, now_secs: i64) -> (u64, u64) {
    let hash = stable_hash(name);
    let base_millicores = 20 + hash % 400;
    let base_bytes = (64 + (hash >> 16) % 900) * 1024 * 1024;
    let phase = (hash % 360) as f64;
    let wave = ((now_secs as f64 / 45.0) + phase).sin() * 0.35 + ((now_secs as f64 / 7.0) + phase * 2.0).sin() * 0.1;
    let millicores = (base_millicores as f64 * (1.0 + wave)).max(1.0) as u64;
    let bytes = (base_bytes as f64 * (1.0 + wave * 0.2)).max(1_048_576.0) as u64;
    (millicores, bytes)
}

/// The group's entry in `/apis`.
pub fn api_group() -> Value {
    json!({"name": "metrics.k8s.io", "versions": [{"groupVersion": GROUP_VERSION, "version": "v1beta1"}],
        "preferredVersion": {"groupVersion": GROUP_VERSION, "version": "v1beta1"}})
}

/// The group's entry in aggregated discovery.
pub fn aggregated_group() -> Value {
    let resource = |plural: &str, kind: &str, scope: &str| {
        json!({"resource": plural, "responseKind": {"group": "metrics.k8s.io", "version": "v1beta1", "kind": kind},
            "scope": scope, "singularResource": "", "verbs": ["get", "list"]})
    };
    json!({"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1", "freshness": "Current",
        "resources": [resource("nodes", "NodeMetrics", "Cluster"), resource("pods", "PodMetrics", "Namespaced")]}]})
}

pub fn resource_list() -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": [
        {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}]})
}

fn kind(store: &Store, plural: &str) -> Option<SimKind> {
    store.kinds.iter().find(|k| k.group.is_empty() && k.plural == plural).cloned()
}

fn pod_metrics(pod: &Value, now_secs: i64, timestamp: &str) -> Value {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .map(|c| {
                    let container = c["name"].as_str().unwrap_or("app");
                    let (millicores, bytes) = container_usage(&format!("{namespace}/{name}/{container}"), now_secs);
                    json!({"name": container, "usage": {"cpu": format!("{}n", millicores * 1_000_000), "memory": format!("{}Ki", bytes / 1024)}})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"metadata": {"name": name, "namespace": namespace, "creationTimestamp": timestamp}, "timestamp": timestamp, "window": "30s", "containers": containers})
}

/// Answers `GET /apis/metrics.k8s.io/v1beta1/...`; `Err` holds a 404 message.
pub fn serve(store: &Store, path: &str) -> Result<Value, String> {
    let rest = path.trim_start_matches("/apis/metrics.k8s.io/v1beta1").trim_matches('/');
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let now_secs = jiff::Timestamp::now().as_second();
    let timestamp = now_rfc3339();
    let running = |pod: &Value| pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    match segments.as_slice() {
        ["nodes", name @ ..] => {
            let nodes = kind(store, "nodes").ok_or("no nodes")?;
            let pods = kind(store, "pods").ok_or("no pods")?;
            let all_pods = store.list_now(&pods, &ListOptions::default()).items;
            let node_item = |node: &Value| {
                let node_name = node["metadata"]["name"].as_str().unwrap_or_default();
                let (mut millicores, mut bytes) = (150u64, 900u64 * 1024 * 1024);
                for pod in all_pods
                    .iter()
                    .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node_name) && running(p))
                {
                    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
                    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
                    for container in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
                        let (m, b) = container_usage(
                            &format!("{namespace}/{pod_name}/{}", container["name"].as_str().unwrap_or("app")),
                            now_secs,
                        );
                        millicores += m;
                        bytes += b;
                    }
                }
                json!({"metadata": {"name": node_name, "creationTimestamp": timestamp}, "timestamp": timestamp, "window": "30s",
                    "usage": {"cpu": format!("{}n", millicores * 1_000_000), "memory": format!("{}Ki", bytes / 1024)}})
            };
            match name {
                [] => {
                    let items: Vec<Value> =
                        store.list_now(&nodes, &ListOptions::default()).items.iter().map(|n| node_item(n)).collect();
                    Ok(json!({"kind": "NodeMetricsList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}))
                }
                [name] => {
                    let node = store.get(&nodes, "", name).map_err(|e| e.to_string())?;
                    let mut item = node_item(&node);
                    item["kind"] = json!("NodeMetrics");
                    item["apiVersion"] = json!(GROUP_VERSION);
                    Ok(item)
                }
                _ => Err("the server could not find the requested resource".into()),
            }
        }
        ["pods"] | ["namespaces", _, "pods"] | ["namespaces", _, "pods", _] => {
            let pods = kind(store, "pods").ok_or("no pods")?;
            let namespace = if segments[0] == "namespaces" { Some(segments[1].to_string()) } else { None };
            if let (Some(ns), Some(name)) = (&namespace, segments.get(3)) {
                let pod = store.get(&pods, ns, name).map_err(|e| e.to_string())?;
                let mut item = pod_metrics(&pod, now_secs, &timestamp);
                item["kind"] = json!("PodMetrics");
                item["apiVersion"] = json!(GROUP_VERSION);
                return Ok(item);
            }
            let items: Vec<Value> = store
                .list_now(&pods, &ListOptions { namespace, ..ListOptions::default() })
                .items
                .iter()
                .filter(|p| running(p))
                .map(|p| pod_metrics(p, now_secs, &timestamp))
                .collect();
            Ok(json!({"kind": "PodMetricsList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}))
        }
        _ => Err("the server could not find the requested resource".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_differs_per_container_and_moves_smoothly() {
        let (a0, _) = container_usage("shop/web-1/web", 1_000);
        let (a1, _) = container_usage("shop/web-1/web", 1_005);
        let (b0, _) = container_usage("shop/db-0/db", 1_000);
        assert_ne!(a0, b0);
        assert!(a0.abs_diff(a1) * 3 < a0, "5 s later the value changed a little: {a0} -> {a1}");
        let samples: Vec<u64> = (0..200).map(|t| container_usage("x/y/z", t * 10).0).collect();
        assert!(samples.iter().max() > samples.iter().min(), "values move over time");
    }
}
