//! The kinds the simulator serves, and how it prints each as a Table row the way a real
//! apiserver does (pods, deployments, nodes, services…; custom resources from printer columns).
//! Pure functions, any thread.

use serde_json::{Value, json};

/// One served kind. Custom resources are added at runtime from CRD objects.
#[derive(Clone, Debug, PartialEq)]
pub struct SimKind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    /// `(name, type, JSONPath)` printer columns of a custom resource.
    pub printer_columns: Vec<(String, String, String)>,
}

impl SimKind {
    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            printer_columns: Vec::new(),
        }
    }

    /// kubectl's short names (`po`, `deploy`…) for the built-in kinds.
    pub fn short_names(&self) -> Vec<&'static str> {
        let names: &[&str] = match self.plural.as_str() {
            "pods" => &["po"],
            "services" => &["svc"],
            "deployments" => &["deploy"],
            "replicasets" => &["rs"],
            "statefulsets" => &["sts"],
            "daemonsets" => &["ds"],
            "namespaces" => &["ns"],
            "nodes" => &["no"],
            "configmaps" => &["cm"],
            "events" => &["ev"],
            "serviceaccounts" => &["sa"],
            "persistentvolumeclaims" => &["pvc"],
            "persistentvolumes" => &["pv"],
            "ingresses" => &["ing"],
            "networkpolicies" => &["netpol"],
            "cronjobs" => &["cj"],
            "horizontalpodautoscalers" => &["hpa"],
            "poddisruptionbudgets" => &["pdb"],
            "storageclasses" => &["sc"],
            "customresourcedefinitions" => &["crd", "crds"],
            "endpoints" => &["ep"],
            _ => &[],
        };
        names.to_vec()
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// Built-in kinds, newer API versions included (the point of a simulator: what v1.20 lacks).
pub fn builtin_kinds() -> Vec<SimKind> {
    let k = SimKind::builtin;
    vec![
        k("", "v1", "Namespace", "namespaces", false),
        k("", "v1", "Node", "nodes", false),
        k("", "v1", "Pod", "pods", true),
        k("", "v1", "Service", "services", true),
        k("", "v1", "Endpoints", "endpoints", true),
        k("", "v1", "ConfigMap", "configmaps", true),
        k("", "v1", "Secret", "secrets", true),
        k("", "v1", "ServiceAccount", "serviceaccounts", true),
        k("", "v1", "Event", "events", true),
        k("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
        k("", "v1", "PersistentVolume", "persistentvolumes", false),
        k("apps", "v1", "Deployment", "deployments", true),
        k("apps", "v1", "ReplicaSet", "replicasets", true),
        k("apps", "v1", "StatefulSet", "statefulsets", true),
        k("apps", "v1", "DaemonSet", "daemonsets", true),
        k("batch", "v1", "Job", "jobs", true),
        k("batch", "v1", "CronJob", "cronjobs", true),
        k("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        k("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true),
        k("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
        k("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
        k("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true),
        k("storage.k8s.io", "v1", "StorageClass", "storageclasses", false),
        k("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        k("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
        k("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
        k("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
        k("coordination.k8s.io", "v1", "Lease", "leases", true),
        k("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false),
    ]
}

/// The served kind a CRD object declares (its storage version), if it is well formed.
pub fn kind_from_crd(crd: &Value) -> Option<SimKind> {
    let spec = crd.get("spec")?;
    let names = spec.get("names")?;
    let version =
        spec.get("versions")?.as_array()?.iter().find(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))?;
    let printer_columns = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|columns| {
            columns
                .iter()
                .filter_map(|c| {
                    Some((
                        c.get("name")?.as_str()?.to_string(),
                        c.get("type")?.as_str()?.to_string(),
                        c.get("jsonPath")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(SimKind {
        group: spec.get("group")?.as_str()?.to_string(),
        version: version.get("name")?.as_str()?.to_string(),
        kind: names.get("kind")?.as_str()?.to_string(),
        plural: names.get("plural")?.as_str()?.to_string(),
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        printer_columns,
    })
}

fn column(name: &str, kind: &str, format: &str, priority: i32, description: &str) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority})
}

/// Column definitions, as a real apiserver sends them for this kind.
pub fn column_definitions(kind: &SimKind) -> Vec<Value> {
    let name = column("Name", "string", "name", 0, "Name must be unique within a namespace.");
    let age = column(
        "Age",
        "string",
        "",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    let mut columns = vec![name];
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("", "Pod") => {
            columns.push(column(
                "Ready",
                "string",
                "",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ));
            columns.push(column("Status", "string", "", 0, "The aggregate status of the containers in this pod."));
            columns.push(column(
                "Restarts",
                "integer",
                "",
                0,
                "The number of times the containers in this pod have been restarted.",
            ));
            columns.push(age);
            columns.push(column("IP", "string", "", 1, "IP address allocated to the pod."));
            columns.push(column("Node", "string", "", 1, "Name of the Node to which this pod is assigned."));
        }
        ("apps", "Deployment") => {
            columns.push(column("Ready", "string", "", 0, "Number of the pod with ready state."));
            columns.push(column(
                "Up-to-date",
                "string",
                "",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ));
            columns.push(column(
                "Available",
                "string",
                "",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ));
            columns.push(age);
            columns.push(column("Containers", "string", "", 1, "Names of each container in the template."));
            columns.push(column("Images", "string", "", 1, "Images referenced by each container in the template."));
        }
        ("apps", "ReplicaSet") => {
            columns.push(column("Desired", "integer", "", 0, "Number of desired pods."));
            columns.push(column("Current", "integer", "", 0, "Number of actually running pods."));
            columns.push(column("Ready", "integer", "", 0, "Number of ready pods."));
            columns.push(age);
        }
        ("", "Node") => {
            columns.push(column("Status", "string", "", 0, "The status of the node"));
            columns.push(column("Roles", "string", "", 0, "The roles of the node"));
            columns.push(age);
            columns.push(column("Version", "string", "", 0, "Kubelet Version reported by the node."));
        }
        ("", "Service") => {
            columns.push(column("Type", "string", "", 0, "The type of the service."));
            columns.push(column("Cluster-IP", "string", "", 0, "The cluster IP of the service."));
            columns.push(column("Ports", "string", "", 0, "The ports of the service."));
            columns.push(age);
        }
        ("", "ConfigMap") | ("", "Secret") => {
            if kind.kind == "Secret" {
                columns.push(column("Type", "string", "", 0, "The type of the secret"));
            }
            columns.push(column("Data", "integer", "", 0, "The number of entries in the data"));
            columns.push(age);
        }
        ("", "Namespace") => {
            columns.push(column("Status", "string", "", 0, "The status of the namespace"));
            columns.push(age);
        }
        ("", "Event") => {
            columns.push(column("Type", "string", "", 0, "Type of this event."));
            columns.push(column("Reason", "string", "", 0, "Reason why this event was generated."));
            columns.push(column("Object", "string", "", 0, "The object that this event is about."));
            columns.push(column("Message", "string", "", 0, "A human-readable description of the status."));
            columns.push(age);
        }
        _ if !kind.printer_columns.is_empty() => {
            for (name, kind_type, _) in &kind.printer_columns {
                columns.push(column(name, kind_type, "", 0, ""));
            }
            if !kind.printer_columns.iter().any(|(name, _, _)| name == "Age") {
                columns.push(age);
            }
        }
        _ => columns.push(age),
    }
    columns
}

fn at<'a>(object: &'a Value, path: &str) -> &'a Value {
    object.pointer(path).unwrap_or(&Value::Null)
}

fn int(object: &Value, path: &str) -> i64 {
    at(object, path).as_i64().unwrap_or(0)
}

fn text(object: &Value, path: &str) -> String {
    at(object, path).as_str().unwrap_or_default().to_string()
}

/// Evaluates the simple JSONPath forms CRDs use: `.a.b`, `.a[0].b`, `.a[?(@.type=="Ready")].status`.
pub fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    let mut rest = path.strip_prefix('.').unwrap_or(path);
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end > 0 {
            current = current.get(&rest[..end])?;
            rest = &rest[end..];
        }
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inside = &after[..close];
            let items = current.as_array()?;
            current = if let Some(filter) = inside.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, wanted) = filter.split_once("==")?;
                let wanted = wanted.trim_matches(['"', '\'']);
                items.iter().find(|item| item.get(field).and_then(Value::as_str) == Some(wanted))?
            } else {
                items.get(inside.parse::<usize>().ok()?)?
            };
            rest = &after[close + 1..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(current)
}

fn or_default(value: String, default: &str) -> String {
    if value.is_empty() { default.to_string() } else { value }
}

fn pod_status(pod: &Value) -> String {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let statuses = at(pod, "/status/containerStatuses").as_array().cloned().unwrap_or_default();
    for status in &statuses {
        if let Some(reason) = status.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return reason.to_string();
        }
        if let Some(reason) = status.pointer("/state/terminated/reason").and_then(Value::as_str) {
            return reason.to_string();
        }
    }
    let phase = text(pod, "/status/phase");
    if phase.is_empty() { "Pending".into() } else { phase }
}

/// Cells of one row, aligned with `column_definitions(kind)`.
/// kubectl's age of a timestamp, as the server prints it in Table cells.
fn age_of(timestamp: &str) -> String {
    timestamp
        .parse::<jiff::Timestamp>()
        .map(|created| klieg_model::row::format_age(jiff::Timestamp::now().as_second() - created.as_second()))
        .unwrap_or_else(|_| "<unknown>".to_string())
}

pub fn cells(kind: &SimKind, object: &Value) -> Vec<Value> {
    let name = Value::String(text(object, "/metadata/name"));
    let age = Value::String(age_of(&text(object, "/metadata/creationTimestamp")));
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("", "Pod") => pod_cells(object, name, age),
        ("apps", "Deployment") => deployment_cells(object, name, age),
        ("apps", "ReplicaSet") => vec![
            name,
            json!(int(object, "/spec/replicas")),
            json!(int(object, "/status/replicas")),
            json!(int(object, "/status/readyReplicas")),
            age,
        ],
        ("", "Node") => node_cells(object, name, age),
        ("", "Service") => service_cells(object, name, age),
        ("", "ConfigMap") => {
            let data = at(object, "/data").as_object().map_or(0, |m| m.len())
                + at(object, "/binaryData").as_object().map_or(0, |m| m.len());
            vec![name, json!(data), age]
        }
        ("", "Secret") => {
            let data = at(object, "/data").as_object().map_or(0, |m| m.len());
            vec![name, json!(text(object, "/type")), json!(data), age]
        }
        ("", "Namespace") => vec![name, json!(or_default(text(object, "/status/phase"), "Active")), age],
        ("", "Event") => vec![
            name,
            json!(text(object, "/type")),
            json!(text(object, "/reason")),
            json!(format!(
                "{}/{}",
                text(object, "/involvedObject/kind").to_lowercase(),
                text(object, "/involvedObject/name")
            )),
            json!(text(object, "/message")),
            age,
        ],
        _ if !kind.printer_columns.is_empty() => printer_cells(kind, object, name, age),
        _ => vec![name, age],
    }
}

fn pod_cells(object: &Value, name: Value, age: Value) -> Vec<Value> {
    let statuses = at(object, "/status/containerStatuses").as_array().cloned().unwrap_or_default();
    let containers = at(object, "/spec/containers").as_array().map_or(0, Vec::len);
    let ready = statuses.iter().filter(|s| s.get("ready").and_then(Value::as_bool).unwrap_or(false)).count();
    let restarts: i64 = statuses.iter().map(|s| s.get("restartCount").and_then(Value::as_i64).unwrap_or(0)).sum();
    let ip = text(object, "/status/podIP");
    let node = text(object, "/spec/nodeName");
    vec![
        name,
        json!(format!("{ready}/{containers}")),
        json!(pod_status(object)),
        json!(restarts),
        age,
        json!(if ip.is_empty() { "<none>".to_string() } else { ip }),
        json!(if node.is_empty() { "<none>".to_string() } else { node }),
    ]
}

fn deployment_cells(object: &Value, name: Value, age: Value) -> Vec<Value> {
    let desired = int(object, "/spec/replicas");
    let containers = at(object, "/spec/template/spec/containers").as_array().cloned().unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, "/image")).collect();
    vec![
        name,
        json!(format!("{}/{desired}", int(object, "/status/readyReplicas"))),
        json!(int(object, "/status/updatedReplicas").to_string()),
        json!(int(object, "/status/availableReplicas").to_string()),
        age,
        json!(names.join(",")),
        json!(images.join(",")),
    ]
}

fn node_cells(object: &Value, name: Value, age: Value) -> Vec<Value> {
    let ready =
        json_path(object, ".status.conditions[?(@.type==\"Ready\")].status").and_then(Value::as_str) == Some("True");
    let mut status = if ready { "Ready".to_string() } else { "NotReady".to_string() };
    if at(object, "/spec/unschedulable").as_bool().unwrap_or(false) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<String> = at(object, "/metadata/labels")
        .as_object()
        .map(|labels| {
            labels.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).map(str::to_string).collect()
        })
        .unwrap_or_default();
    vec![
        name,
        json!(status),
        json!(if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }),
        age,
        json!(text(object, "/status/nodeInfo/kubeletVersion")),
    ]
}

fn service_cells(object: &Value, name: Value, age: Value) -> Vec<Value> {
    let ports: Vec<String> = at(object, "/spec/ports")
        .as_array()
        .map(|ports| {
            ports
                .iter()
                .map(|p| {
                    let protocol = text(p, "/protocol");
                    format!("{}/{}", int(p, "/port"), if protocol.is_empty() { "TCP" } else { &protocol })
                })
                .collect()
        })
        .unwrap_or_default();
    vec![
        name,
        json!(or_default(text(object, "/spec/type"), "ClusterIP")),
        json!(text(object, "/spec/clusterIP")),
        json!(ports.join(",")),
        age,
    ]
}

fn printer_cells(kind: &SimKind, object: &Value, name: Value, age: Value) -> Vec<Value> {
    let mut row = vec![name];
    for (_, column_type, path) in &kind.printer_columns {
        let value = json_path(object, path).cloned().unwrap_or(Value::Null);
        row.push(match (column_type.as_str(), value) {
            ("integer" | "number", v @ Value::Number(_)) => v,
            ("date", Value::String(s)) => Value::String(age_of(&s)),
            (_, Value::Null) => Value::String(String::new()),
            (_, Value::String(s)) => Value::String(s),
            (_, other) => Value::String(other.to_string()),
        });
    }
    if !kind.printer_columns.iter().any(|(name, _, _)| name == "Age") {
        row.push(age);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_as_crds_use_them() {
        let object = json!({"spec": {"size": 3, "items": [{"a": 1}]}, "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(json_path(&object, ".spec.size"), Some(&json!(3)));
        assert_eq!(json_path(&object, ".spec.items[0].a"), Some(&json!(1)));
        assert_eq!(json_path(&object, ".status.conditions[?(@.type==\"Ready\")].status"), Some(&json!("True")));
        assert_eq!(json_path(&object, ".spec.missing"), None);
    }

    #[test]
    fn pods_print_like_kubectl() {
        let pods = builtin_kinds().into_iter().find(|k| k.kind == "Pod").expect("pods");
        let pod = json!({"metadata": {"name": "web-1"}, "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let row = cells(&pods, &pod);
        assert_eq!(row.len(), column_definitions(&pods).len());
        assert_eq!(row[1], json!("1/2"));
        assert_eq!(row[2], json!("CrashLoopBackOff"));
        assert_eq!(row[3], json!(7));
        assert_eq!(row[6], json!("n1"));
    }
}
