//! Fills a simulated cluster with realistic objects (nodes, namespaces, deployments with their
//! replica sets and pods, services, config, secrets, events, a CRD) and keeps it moving with churn:
//! crash loops, restarts, scaling. Runs on the simulator's runtime.

use super::kinds::SimKind;
use super::server::SimCluster;
use super::store::{Store, metadata, now_rfc3339};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A small deterministic generator, so a seed reproduces a cluster.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

const APPS: [(&str, &str); 12] = [
    ("storefront", "ghcr.io/example/storefront:2.3.1"),
    ("cart", "ghcr.io/example/cart:1.9.0"),
    ("checkout", "ghcr.io/example/checkout:4.0.2"),
    ("ledger", "ghcr.io/example/ledger:0.8.5"),
    ("search", "ghcr.io/example/search:3.1.0"),
    ("recommendations", "ghcr.io/example/recs:1.2.7"),
    ("grafana", "grafana/grafana:10.2.0"),
    ("prometheus", "prom/prometheus:v2.48.0"),
    ("ingest", "ghcr.io/example/ingest:5.0.0"),
    ("auth", "ghcr.io/example/auth:2.0.4"),
    ("notifications", "ghcr.io/example/notify:0.4.1"),
    ("billing", "ghcr.io/example/billing:1.0.9"),
];
const NAMESPACES: [&str; 6] = ["shop", "payments", "monitoring", "platform", "data", "edge"];

fn kind(store: &Store, group: &str, plural: &str) -> Option<super::kinds::SimKind> {
    store.kinds.iter().find(|k| k.group == group && k.plural == plural).cloned()
}

fn hash_suffix(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())] as char).collect()
}

fn pod_status(rng: &mut Rng, container: &str, node: &str, index: usize) -> Value {
    let now = now_rfc3339();
    let roll = rng.below(100);
    let (phase, ready, restarts, state) = if roll < 4 {
        (
            "Running",
            false,
            3 + rng.below(20),
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}),
        )
    } else if roll < 7 {
        ("Pending", false, 0, json!({"waiting": {"reason": "ContainerCreating"}}))
    } else {
        ("Running", true, if rng.chance(15) { 1 + rng.below(3) } else { 0 }, json!({"running": {"startedAt": now}}))
    };
    json!({
        "phase": phase,
        "podIP": format!("10.244.{}.{}", (index / 250) % 250, index % 250 + 2),
        "hostIP": format!("192.168.0.{}", node.trim_start_matches("node-").parse::<usize>().unwrap_or(0) + 10),
        "startTime": now,
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": now}],
        "containerStatuses": [{"name": container, "ready": ready, "restartCount": restarts, "image": "", "imageID": "", "state": state}]
    })
}

/// Creates the objects of one cluster.
pub fn populate(cluster: &SimCluster, spec: &super::ClusterSpec, seed: u64) {
    let mut rng = Rng::new(seed);
    cluster.mutate(|store| {
        let Some(namespaces) = kind(store, "", "namespaces") else { return };
        for ns in ["default", "kube-system", "kube-public"] {
            let _ = store.create(&namespaces, "", json!({"metadata": metadata(ns, None, &[])}));
        }
        let app_namespaces = NAMESPACES.len().min(2 + spec.pods / 40).max(1);
        for ns in &NAMESPACES[..app_namespaces] {
            let _ = store.create(&namespaces, "", json!({"metadata": metadata(ns, None, &[("team", ns)])}));
        }
        // A Prometheus the way Helm charts install it, for the metrics charts (see `prometheus`).
        if let (Some(services), true) = (kind(store, "", "services"), spec.pods > 0) {
            let _ = store.create(&namespaces, "", json!({"metadata": metadata("monitoring", None, &[])}));
            let _ = store.create(&services, "monitoring", json!({
                "metadata": metadata("prometheus-server", Some("monitoring"), &[("app.kubernetes.io/name", "prometheus"), ("app.kubernetes.io/component", "server")]),
                "spec": {"type": "ClusterIP", "clusterIP": "10.96.200.9", "selector": {"app.kubernetes.io/name": "prometheus"},
                    "ports": [{"name": "http", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}}));
        }
        create_nodes(store, spec);
        let (Some(deployments), Some(replica_sets), Some(pods), Some(services), Some(config_maps), Some(secrets), Some(events)) = (
            kind(store, "apps", "deployments"),
            kind(store, "apps", "replicasets"),
            kind(store, "", "pods"),
            kind(store, "", "services"),
            kind(store, "", "configmaps"),
            kind(store, "", "secrets"),
            kind(store, "", "events"),
        ) else {
            return;
        };
        let kinds = WorkloadKinds { deployments, replica_sets, pods, services, config_maps, events };
        create_workloads(store, &mut rng, spec, app_namespaces, &kinds);
        create_secrets_and_certificates(store, &mut rng, &secrets, app_namespaces);
    });
}

/// The kinds the generated workloads are made of.
struct WorkloadKinds {
    deployments: SimKind,
    replica_sets: SimKind,
    pods: SimKind,
    services: SimKind,
    config_maps: SimKind,
    events: SimKind,
}

/// `spec.nodes` Ready nodes (at least one), the first the control plane.
fn create_nodes(store: &mut Store, spec: &super::ClusterSpec) {
    if let Some(nodes) = kind(store, "", "nodes") {
        for i in 0..spec.nodes.max(1) {
            let name = format!("node-{i}");
            let role = if i == 0 { "control-plane" } else { "worker" };
            let mut meta = metadata(&name, None, &[("kubernetes.io/hostname", &name), ("kubernetes.io/os", "linux")]);
            meta["labels"][format!("node-role.kubernetes.io/{role}")] = json!("");
            let _ = store.create(&nodes, "", json!({"metadata": meta, "spec": {},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()}],
                    "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"}, "allocatable": {"cpu": "15800m", "memory": "62Gi", "pods": "110"},
                    "nodeInfo": {"kubeletVersion": spec.git_version, "kubeProxyVersion": spec.git_version, "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0-28-amd64",
                        "containerRuntimeVersion": "containerd://1.7.22", "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "", "bootID": ""}}}));
        }
    }
}

/// Deployments with their ReplicaSets, pods (every tenth with a Scheduled event), a Service and a
/// ConfigMap each, until `spec.pods` pods exist.
fn create_workloads(
    store: &mut Store,
    rng: &mut Rng,
    spec: &super::ClusterSpec,
    app_namespaces: usize,
    kinds: &WorkloadKinds,
) {
    let WorkloadKinds { deployments, replica_sets, pods, services, config_maps, events } = kinds;
    let mut created_pods = 0;
    let mut deployment_index = 0;
    while created_pods < spec.pods {
        let (app, image) = APPS[deployment_index % APPS.len()];
        let ns = NAMESPACES[deployment_index % app_namespaces];
        let name = if deployment_index < APPS.len() {
            app.to_string()
        } else {
            format!("{app}-{}", deployment_index / APPS.len())
        };
        deployment_index += 1;
        let replicas = (1 + rng.below(5)).min(spec.pods - created_pods);
        let labels = [("app", name.as_str()), ("tier", if deployment_index % 3 == 0 { "db" } else { "web" })];
        let template = json!({"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": app, "image": image, "ports": [{"containerPort": 8080}]}]}});
        let Ok(deployment) = store.create(deployments, ns, json!({"metadata": metadata(&name, Some(ns), &labels),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template},
            "status": {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "observedGeneration": 1}})) else { continue };
        let hash = hash_suffix(rng, 10);
        let rs_name = format!("{name}-{hash}");
        let owner = |kind: &str, object: &Value| {
            json!([{"apiVersion": if kind == "Deployment" || kind == "ReplicaSet" { "apps/v1" } else { "v1" }, "kind": kind,
            "name": object["metadata"]["name"], "uid": object["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
        };
        let mut rs_meta = metadata(&rs_name, Some(ns), &[("app", &name), ("pod-template-hash", &hash)]);
        rs_meta["ownerReferences"] = owner("Deployment", &deployment);
        let Ok(replica_set) = store.create(replica_sets, ns, json!({"metadata": rs_meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name, "pod-template-hash": hash}}, "template": template},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}})) else { continue };
        for _ in 0..replicas {
            let pod_name = format!("{rs_name}-{}", hash_suffix(rng, 5));
            let node = format!("node-{}", rng.below(spec.nodes.max(1)));
            let mut pod_meta = metadata(&pod_name, Some(ns), &[("app", &name), ("pod-template-hash", &hash)]);
            pod_meta["ownerReferences"] = owner("ReplicaSet", &replica_set);
            let status = pod_status(rng, app, &node, created_pods);
            let _ = store.create(pods, ns, json!({"metadata": pod_meta,
                "spec": {"nodeName": node, "containers": [{"name": app, "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}], "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}, "status": status}));
            if created_pods % 10 == 0 {
                let _ = store.create(events, ns, json!({"metadata": metadata(&format!("{pod_name}.{:x}", rng.next_u64() % 0xffff_ffff), Some(ns), &[]),
                    "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod_name, "apiVersion": "v1"},
                    "reason": "Scheduled", "message": format!("Successfully assigned {ns}/{pod_name} to {node}"), "type": "Normal",
                    "source": {"component": "default-scheduler"}, "count": 1, "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339()}));
            }
            created_pods += 1;
        }
        let _ = store.create(services, ns, json!({"metadata": metadata(&name, Some(ns), &[("app", &name)]),
            "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.{}.{}", deployment_index / 250, deployment_index % 250 + 1), "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}));
        let _ = store.create(
            config_maps,
            ns,
            json!({"metadata": metadata(&format!("{name}-config"), Some(ns), &[("app", &name)]),
            "data": {"LOG_LEVEL": "info", "FEATURE_FLAGS": "search-v2,fast-checkout"}}),
        );
    }
}

/// A database Secret per namespace, and a Certificate CRD with one certificate per namespace.
fn create_secrets_and_certificates(store: &mut Store, rng: &mut Rng, secrets: &SimKind, app_namespaces: usize) {
    for ns in &NAMESPACES[..app_namespaces] {
        use base64::Engine;
        let value = base64::engine::general_purpose::STANDARD.encode(format!("demo-{ns}-not-a-real-secret"));
        let _ = store.create(secrets, ns, json!({"metadata": metadata("database-credentials", Some(ns), &[]), "type": "Opaque", "data": {"password": value}}));
    }
    let Some(crds) = kind(store, "apiextensions.k8s.io", "customresourcedefinitions") else { return };
    create_cert_manager(store, rng, &crds, app_namespaces);
    create_flux(store, rng, &crds, app_namespaces);
}

/// A CRD as its operator installs it: one served version, any schema, its printer columns.
fn crd(group: &str, version: &str, kind: &str, plural: &str, columns: Value) -> Value {
    json!({"metadata": {"name": format!("{plural}.{group}")}, "spec": {"group": group, "scope": "Namespaced",
        "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
        "versions": [{"name": version, "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            "additionalPrinterColumns": columns}]}})
}

fn rfc3339_in_days(days: i64) -> String {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now + days * 86_400).map(|t| t.to_string()).unwrap_or_default()
}

/// cert-manager's Certificates (one per app namespace, expiring in 3 to 80 days) with Issuers.
fn create_cert_manager(store: &mut Store, rng: &mut Rng, crds: &SimKind, app_namespaces: usize) {
    let ready_columns = json!([
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "Secret", "type": "string", "jsonPath": ".spec.secretName"},
        {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuerRef.name"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]);
    let _ = store.create(crds, "", crd("cert-manager.io", "v1", "Certificate", "certificates", ready_columns));
    let issuer_columns = json!([{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]);
    let _ = store.create(crds, "", crd("cert-manager.io", "v1", "Issuer", "issuers", issuer_columns));
    let (Some(certificates), Some(issuers)) =
        (kind(store, "cert-manager.io", "certificates"), kind(store, "cert-manager.io", "issuers"))
    else {
        return;
    };
    for (index, ns) in NAMESPACES[..app_namespaces].iter().enumerate() {
        let _ = store.create(
            &issuers,
            ns,
            json!({"metadata": metadata("letsencrypt-prod", Some(ns), &[]),
            "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        // Spread over the tones: one due within a week, one within a month, the rest fine.
        let days_left = [3, 21, 80, 64, 45][index % 5] + i64::try_from(rng.below(3)).unwrap_or(0);
        let ready = if rng.chance(80) { "True" } else { "False" };
        let _ = store.create(&certificates, ns, json!({"metadata": metadata(&format!("{ns}-tls"), Some(ns), &[]),
            "spec": {"secretName": format!("{ns}-tls"), "issuerRef": {"name": "letsencrypt-prod", "kind": "Issuer"},
                "dnsNames": [format!("{ns}.example.com")], "duration": "2160h", "renewBefore": "360h"},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "Ready", "message": "Certificate is up to date and has not expired"}],
                "notBefore": rfc3339_in_days(days_left - 90), "notAfter": rfc3339_in_days(days_left),
                "renewalTime": rfc3339_in_days(days_left - 15), "revision": 1}}));
    }
}

/// Flux's sources and deliveries: a GitRepository, a Kustomization per app namespace, and a
/// HelmRelease, with Ready conditions and the revisions last applied.
fn create_flux(store: &mut Store, rng: &mut Rng, crds: &SimKind, app_namespaces: usize) {
    let status_columns = json!([
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "Status", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message"}]);
    for (group, version, kind_name, plural) in [
        ("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
        ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
        ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
    ] {
        let _ = store.create(crds, "", crd(group, version, kind_name, plural, status_columns.clone()));
    }
    if let Some(namespaces) = kind(store, "", "namespaces") {
        let _ = store.create(&namespaces, "", json!({"metadata": metadata("flux-system", None, &[])}));
    }
    let (Some(repos), Some(kustomizations), Some(releases)) = (
        kind(store, "source.toolkit.fluxcd.io", "gitrepositories"),
        kind(store, "kustomize.toolkit.fluxcd.io", "kustomizations"),
        kind(store, "helm.toolkit.fluxcd.io", "helmreleases"),
    ) else {
        return;
    };
    let revision = format!("main@sha1:{:016x}{:016x}{:08x}", rng.next_u64(), rng.next_u64(), rng.next_u64() as u32);
    let ready = |ok: bool, message: &str| {
        json!([{"type": "Ready", "status": if ok { "True" } else { "False" },
        "reason": if ok { "ReconciliationSucceeded" } else { "ReconciliationFailed" }, "message": message,
        "lastTransitionTime": now_rfc3339()}])
    };
    let _ = store.create(
        &repos,
        "flux-system",
        json!({"metadata": metadata("flux-system", Some("flux-system"), &[]),
        "spec": {"interval": "1m0s", "url": "https://github.com/example/fleet-infra", "ref": {"branch": "main"}},
        "status": {"conditions": ready(true, &format!("stored artifact for revision '{revision}'")),
            "artifact": {"revision": revision, "lastUpdateTime": now_rfc3339()}}}),
    );
    for (index, ns) in NAMESPACES[..app_namespaces].iter().enumerate() {
        let ok = index % 4 != 3;
        let message = if ok {
            format!("Applied revision: {revision}")
        } else {
            "kustomize build failed: accumulating resources".to_string()
        };
        let _ = store.create(&kustomizations, "flux-system", json!({"metadata": metadata(ns, Some("flux-system"), &[]),
            "spec": {"interval": "10m0s", "path": format!("./apps/{ns}"), "prune": true, "targetNamespace": ns,
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            "status": {"conditions": ready(ok, &message), "lastAppliedRevision": if ok { revision.clone() } else { String::new() },
                "lastAttemptedRevision": revision}}));
    }
    let _ = store.create(&releases, "monitoring", json!({"metadata": metadata("prometheus", Some("monitoring"), &[]),
        "spec": {"interval": "30m", "chart": {"spec": {"chart": "prometheus", "version": "25.x", "sourceRef": {"kind": "HelmRepository", "name": "prometheus-community"}}}},
        "status": {"conditions": ready(true, "Helm upgrade succeeded for release monitoring/prometheus.v3 with chart prometheus@25.27.0"),
            "lastAppliedRevision": "25.27.0", "history": [{"chartVersion": "25.27.0", "status": "deployed"}]}}));
}

/// Keeps a cluster moving: `per_sec` changes a second (crash loops, restarts, scaling, events).
pub async fn churn(cluster: Arc<SimCluster>, per_sec: f64, seed: u64) {
    let mut churn = Churn::new(seed);
    let period = Duration::from_secs_f64(1.0 / per_sec.max(0.001));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        cluster.mutate(|store| churn.step(store));
    }
}

/// Random changes to a cluster. Pods are picked from a key list refreshed after a tenth of
/// its length in changes, so a pick costs O(1) amortised instead of a walk over every pod.
pub struct Churn {
    pub rng: Rng,
    keys: Vec<super::store::ObjectId>,
    steps_since_refresh: usize,
}

impl Churn {
    pub fn new(seed: u64) -> Self {
        Self { rng: Rng::new(seed), keys: Vec::new(), steps_since_refresh: 0 }
    }

    /// One random change. Returns what it did, for logs and tests.
    pub fn step(&mut self, store: &mut Store) -> &'static str {
        if self.keys.is_empty() || self.steps_since_refresh > (self.keys.len() / 10).max(100) {
            self.keys = store.keys_of("/pods");
            self.steps_since_refresh = 0;
        }
        self.steps_since_refresh += 1;
        if self.keys.is_empty() {
            return "nothing";
        }
        let (ns, name) = &self.keys[self.rng.below(self.keys.len())];
        // A pod replaced since the last refresh is simply skipped.
        let Some(pod) = store.get_by_plural("", "pods", ns, name) else { return "nothing" };
        churn_pod(store, &mut self.rng, &pod)
    }
}

/// One random change to `pod`: a crash, a recovery or a replacement.
fn churn_pod(store: &mut Store, rng: &mut Rng, pod: &Value) -> &'static str {
    let (Some(pods), Some(events)) = (kind(store, "", "pods"), kind(store, "", "events")) else { return "nothing" };
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let container = pod.pointer("/spec/containers/0/name").and_then(Value::as_str).unwrap_or("app").to_string();
    let restarts = pod.pointer("/status/containerStatuses/0/restartCount").and_then(Value::as_i64).unwrap_or(0);
    let roll = rng.below(100);
    let (what, status, event) = if roll < 35 {
        let status = json!({"containerStatuses": [{"name": container, "ready": false, "restartCount": restarts + 1, "image": "", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}}}],
            "conditions": [{"type": "Ready", "status": "False"}]});
        (
            "crash",
            status,
            Some(("Warning", "BackOff", format!("Back-off restarting failed container {container} in pod {name}"))),
        )
    } else if roll < 80 {
        let status = json!({"phase": "Running", "containerStatuses": [{"name": container, "ready": true, "restartCount": restarts, "image": "", "imageID": "",
            "state": {"running": {"startedAt": now_rfc3339()}}}], "conditions": [{"type": "Ready", "status": "True"}]});
        ("recover", status, Some(("Normal", "Started", format!("Started container {container}"))))
    } else {
        // Replace the pod, as a rollout or a rescheduling would.
        let _ = store.delete(&pods, &ns, &name);
        let mut replacement = pod.clone();
        let new_name =
            format!("{}-{}", name.rsplit_once('-').map_or(name.as_str(), |(base, _)| base), hash_suffix(rng, 5));
        replacement["metadata"] = json!({"name": new_name, "namespace": ns, "labels": pod["metadata"]["labels"], "ownerReferences": pod["metadata"]["ownerReferences"]});
        replacement["status"] = json!({"phase": "Pending", "containerStatuses": [{"name": container, "ready": false, "restartCount": 0, "image": "", "imageID": "",
            "state": {"waiting": {"reason": "ContainerCreating"}}}]});
        let _ = store.create(&pods, &ns, replacement);
        return "replace";
    };
    let _ = store.patch(&pods, &ns, &name, &json!({"status": status}), true);
    if let Some((event_type, reason, message)) = event {
        let _ = store.create(
            &events,
            &ns,
            json!({"metadata": metadata(&format!("{name}.{:x}", rng.next_u64() % 0xffff_ffff), Some(&ns), &[]),
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": name, "apiVersion": "v1"},
            "reason": reason, "message": message, "type": event_type, "source": {"component": "kubelet"}, "count": 1,
            "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339()}),
        );
    }
    what
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_cluster_has_what_was_asked_and_churn_changes_it() {
        let cluster = SimCluster::new("t", "v1.31.0", "token");
        let spec = super::super::ClusterSpec { name: "t".into(), git_version: "v1.31.0".into(), nodes: 3, pods: 50 };
        populate(&cluster, &spec, 1);
        let store = cluster.lock();
        assert_eq!(store.count("/pods"), 50);
        assert_eq!(store.count("/nodes"), 3);
        assert!(store.count("apps/deployments") >= 10);
        assert!(store.count("cert-manager.io/certificates") > 0);
        assert!(store.count("kustomize.toolkit.fluxcd.io/kustomizations") > 0);
        drop(store);
        let before = cluster.lock().resource_version();
        let mut churn = Churn::new(3);
        for _ in 0..20 {
            cluster.mutate(|store| churn.step(store));
        }
        assert!(cluster.lock().resource_version() > before);
        assert_eq!(cluster.lock().count("/pods"), 50, "replacements keep the pod count");
        let what: std::collections::HashSet<&str> =
            (0..200).map(|_| cluster.mutate(|store| churn.step(store))).collect();
        assert!(what.contains("crash") && what.contains("recover") && what.contains("replace"), "{what:?}");
    }
}
