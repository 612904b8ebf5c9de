//! Klieg's own kind-specific features, registered through the same calls an extension makes.
//! The only place that says which kinds offer which action, have extra detail sections, usage
//! columns, charts, icons and relations, and what the app bar and sidebar offer. Pure data;
//! called once at start.

use super::{
    ActionInput, ActionSpec, AppBarAction, AppBarTarget, ChartPanelSpec, ColumnSetSpec, ColumnValues, KindIcon,
    KindMatch, Need, Registry, RelatedKind, Relation, RelationProvider, Runs, SectionBody, SectionInput, SectionSpec,
    SidebarEntry, Text, ViewId,
};
use crate::{ChartSubject, KindKey, Propagation, UsageKind};
use base64::Engine;
use std::sync::Arc;

/// Kinds whose pods' logs Klieg follows: pods, and the workloads whose pods it merges.
pub const LOG_KINDS: [(&str, &str); 6] = [
    ("", "pods"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
];

/// The id of the built-in overview view.
pub const OVERVIEW_VIEW: &str = "overview";
/// The id of the Plugins page.
pub const PLUGINS_VIEW: &str = "plugins";

/// Registers every built-in feature.
pub fn register(registry: &mut Registry) {
    for spec in actions() {
        // The built-ins' ids are distinct; a duplicate is a programming error caught by tests.
        let _ = registry.add_action(spec);
    }
    for spec in sections() {
        let _ = registry.add_section(spec);
    }
    for (id, kinds, subject) in chart_panels() {
        let _ = registry.add_chart_panel(ChartPanelSpec { id: Arc::from(id), kinds, subject });
    }
    for (glyph, kinds) in kind_icons() {
        registry.add_kind_icon(KindIcon { kinds: KindMatch::any_of(kinds), glyph: Arc::from(glyph) });
    }
    for provider in relation_providers() {
        let _ = registry.add_relation_provider(provider);
    }
    for (id, plural, usage) in [("pod-usage", "pods", UsageKind::Pods), ("node-usage", "nodes", UsageKind::Nodes)] {
        let _ = registry.add_column_set(ColumnSetSpec {
            id: Arc::from(id),
            kinds: KindMatch::one("", plural),
            columns: usage.columns(),
            values: ColumnValues::Usage(usage),
            needs_object: false,
        });
    }
    let _ = registry.add_sidebar_entry(SidebarEntry {
        id: Arc::from(OVERVIEW_VIEW),
        label: Text::Key("overview.title"),
        view: ViewId(Arc::from(OVERVIEW_VIEW)),
        order: 0,
    });
    for (id, label, hint, order) in
        [(FORWARDS_WINDOW, "forward.open", None, 100), (CREATE_WINDOW, "create.open", Some("create.title"), 200)]
    {
        let _ = registry.add_app_bar_action(AppBarAction {
            id: Arc::from(id),
            label: Text::Key(label),
            hint: hint.map(Text::Key),
            opens: AppBarTarget::Window,
            order,
        });
    }
    let _ = registry.add_app_bar_action(AppBarAction {
        id: Arc::from(PLUGINS_VIEW),
        label: Text::Key("plugins.title"),
        hint: Some(Text::Key("plugins.hint")),
        opens: AppBarTarget::View(ViewId(Arc::from(PLUGINS_VIEW))),
        order: 300,
    });
}

/// The app-bar button of the port-forwards' window.
pub const FORWARDS_WINDOW: &str = "port-forwards";
/// The app-bar button of the "create from YAML" window.
pub const CREATE_WINDOW: &str = "create";

fn window_action(id: &str, label: &'static str, kinds: KindMatch, needs: Vec<Need>, order: i32) -> ActionSpec {
    ActionSpec { needs, runs: Runs::Window, order, ..ActionSpec::new(id, Text::Key(label), kinds) }
}

fn backend_action(id: &str, label: &'static str, kinds: KindMatch, needs: Vec<Need>, order: i32) -> ActionSpec {
    ActionSpec { needs, bulk: true, order, ..ActionSpec::new(id, Text::Key(label), kinds) }
}

/// The built-in actions, in the order their buttons appear.
fn actions() -> Vec<ActionSpec> {
    let mut actions = window_actions();
    actions.extend(backend_actions());
    actions.sort_by_key(|a| a.order);
    actions
}

/// The actions that open a panel of the window (the app draws them).
fn window_actions() -> Vec<ActionSpec> {
    vec![
        window_action(
            "logs",
            "logs.open",
            KindMatch::any_of(&LOG_KINDS),
            vec![Need::resource("get", "", "pods/log")],
            10,
        ),
        ActionSpec {
            served_verb: Some("update"),
            ..window_action("edit", "edit.edit", KindMatch::Any, vec![Need::object("update")], 20)
        },
        window_action(
            "shell",
            "terminal.open",
            KindMatch::one("", "pods"),
            vec![Need::resource("create", "", "pods/exec")],
            60,
        ),
        window_action(
            "port-forward",
            "forward.start",
            KindMatch::any_of(&[("", "pods"), ("", "services")]),
            vec![Need::resource("create", "", "pods/portforward")],
            70,
        ),
    ]
}

/// The actions the backend carries out (`ActionHandlers::with_builtins` has their handlers).
fn backend_actions() -> Vec<ActionSpec> {
    let patch = || vec![Need::object("patch")];
    let nodes = || KindMatch::one("", "nodes");
    let suspendable = || KindMatch::any_of(&[("batch", "cronjobs"), ("batch", "jobs")]);
    vec![
        ActionSpec {
            input: ActionInput::Count { prefix: Text::Key("action.replicas_prefix"), min: 0, max: 10_000, default: 1 },
            ..backend_action(
                "scale",
                "action.scale",
                KindMatch::any_of(&[
                    ("apps", "deployments"),
                    ("apps", "replicasets"),
                    ("apps", "statefulsets"),
                    ("", "replicationcontrollers"),
                ]),
                vec![Need::subresource("patch", "scale")],
                30,
            )
        },
        backend_action(
            "restart",
            "action.restart",
            KindMatch::any_of(&[("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets")]),
            patch(),
            40,
        ),
        backend_action("cordon", "action.cordon", nodes(), patch(), 41),
        backend_action("uncordon", "action.uncordon", nodes(), patch(), 42),
        ActionSpec {
            destructive: true,
            ..backend_action(
                "drain",
                "action.drain",
                nodes(),
                vec![Need::object("patch"), Need::resource("create", "", "pods/eviction")],
                43,
            )
        },
        ActionSpec {
            destructive: true,
            ..backend_action(
                "evict",
                "action.evict",
                KindMatch::one("", "pods"),
                vec![Need::resource("create", "", "pods/eviction")],
                44,
            )
        },
        backend_action("suspend", "action.suspend", suspendable(), patch(), 45),
        backend_action("resume", "action.resume", suspendable(), patch(), 46),
        backend_action(
            "trigger",
            "action.trigger",
            KindMatch::one("batch", "cronjobs"),
            vec![Need::resource("create", "batch", "jobs")],
            47,
        ),
        ActionSpec {
            destructive: true,
            bulk: false,
            input: ActionInput::Count {
                prefix: Text::Key("action.revision_prefix"),
                min: 1,
                max: 1_000_000,
                default: 1,
            },
            ..backend_action("rollback", "action.rollback", KindMatch::one("apps", "deployments"), patch(), 50)
        },
        ActionSpec {
            served_verb: Some("delete"),
            destructive: true,
            input: ActionInput::Choice {
                label: Text::Key("confirm.propagation"),
                options: Propagation::ALL
                    .iter()
                    .map(|p| (Arc::from(p.api_name()), Text::Key(propagation_label(*p))))
                    .collect(),
            },
            ..backend_action("delete", "action.delete", KindMatch::Any, vec![Need::object("delete")], 90)
        },
    ]
}

fn propagation_label(propagation: Propagation) -> &'static str {
    match propagation {
        Propagation::Background => "confirm.background",
        Propagation::Foreground => "confirm.foreground",
        Propagation::Orphan => "confirm.orphan",
    }
}

/// A JSON value as shown: a string as it is, nothing for a missing value or null, anything else
/// as JSON text. Shared by sections and the details follower.
pub fn value_text(value: Option<&serde_json::Value>) -> Arc<str> {
    match value {
        Some(serde_json::Value::String(s)) => Arc::from(s.as_str()),
        Some(serde_json::Value::Null) | None => Arc::from(""),
        Some(other) => Arc::from(other.to_string().as_str()),
    }
}

/// A ConfigMap's `data` entries as they are and its `binaryData` entries by size, by key.
pub fn config_map_entries(object: &serde_json::Value) -> Vec<(Arc<str>, Arc<str>)> {
    let mut entries: Vec<(Arc<str>, Arc<str>)> = Vec::new();
    if let Some(data) = object.get("data").and_then(|d| d.as_object()) {
        for (key, value) in data {
            entries.push((Arc::from(key.as_str()), value_text(Some(value))));
        }
    }
    if let Some(binary) = object.get("binaryData").and_then(|d| d.as_object()) {
        for (key, value) in binary {
            let bytes = value.as_str().and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
            let size = bytes.map_or(0, |b| b.len());
            entries.push((Arc::from(key.as_str()), Arc::from(format!("(binary, {size} bytes)").as_str())));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

/// A Secret's values, decoded (`data` from base64, `stringData` as it is), for reveal on demand.
pub fn secret_values(object: &serde_json::Value) -> Vec<(Arc<str>, Arc<str>)> {
    let mut values = Vec::new();
    for field in ["data", "stringData"] {
        let Some(map) = object.get(field).and_then(|d| d.as_object()) else { continue };
        for (name, value) in map {
            let raw = value.as_str().unwrap_or_default();
            let decoded = if field == "data" {
                base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_else(|_| raw.to_string())
            } else {
                raw.to_string()
            };
            values.push((Arc::from(name.as_str()), Arc::from(decoded.as_str())));
        }
    }
    values
}

fn non_empty(entries: Vec<(Arc<str>, Arc<str>)>) -> Option<Vec<(Arc<str>, Arc<str>)>> {
    (!entries.is_empty()).then_some(entries)
}

fn sections() -> Vec<SectionSpec> {
    vec![
        SectionSpec {
            id: Arc::from("secret-data"),
            title: Text::Key("details.secret_data"),
            kinds: KindMatch::one("", "secrets"),
            order: 10,
            build: Arc::new(|input: &SectionInput<'_>| non_empty(secret_values(input.object)).map(SectionBody::Masked)),
        },
        SectionSpec {
            id: Arc::from("configmap-data"),
            title: Text::Key("details.config_data"),
            kinds: KindMatch::one("", "configmaps"),
            order: 20,
            build: Arc::new(|input: &SectionInput<'_>| {
                non_empty(config_map_entries(input.object)).map(SectionBody::Entries)
            }),
        },
    ]
}

/// The glyph before each common kind's name in the sidebar (all drawn by the bundled fonts).
fn kind_icons() -> [(&'static str, &'static [(&'static str, &'static str)]); 22] {
    [
        ("📦", &[("", "pods")]),
        ("🚀", &[("apps", "deployments")]),
        ("🗐", &[("apps", "replicasets")]),
        ("🗄", &[("apps", "statefulsets")]),
        ("👥", &[("apps", "daemonsets")]),
        ("⏱", &[("batch", "jobs")]),
        ("⏰", &[("batch", "cronjobs")]),
        ("⚖", &[("autoscaling", "horizontalpodautoscalers")]),
        ("🔀", &[("", "services")]),
        ("🖧", &[("", "endpoints"), ("discovery.k8s.io", "endpointslices")]),
        ("🌐", &[("networking.k8s.io", "ingresses")]),
        ("🛡", &[("networking.k8s.io", "networkpolicies")]),
        ("📄", &[("", "configmaps")]),
        ("🔒", &[("", "secrets")]),
        ("💾", &[("", "persistentvolumeclaims")]),
        ("🖴", &[("", "persistentvolumes")]),
        ("💿", &[("storage.k8s.io", "storageclasses")]),
        ("🖥", &[("", "nodes")]),
        ("📁", &[("", "namespaces")]),
        ("🔔", &[("", "events"), ("events.k8s.io", "events")]),
        ("👤", &[("", "serviceaccounts")]),
        (
            "🔑",
            &[
                ("rbac.authorization.k8s.io", "roles"),
                ("rbac.authorization.k8s.io", "clusterroles"),
                ("rbac.authorization.k8s.io", "rolebindings"),
                ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ],
        ),
    ]
}

/// Reads `pointer` of the object as a string.
fn str_at<'a>(object: &'a serde_json::Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty())
}

fn relation(kind: RelatedKind, namespace: Option<&str>, name: &str, label: &'static str) -> Relation {
    Relation { kind, namespace: namespace.map(Arc::from), name: Arc::from(name), label: Text::Key(label) }
}

fn core_kind(plural: &str) -> RelatedKind {
    RelatedKind::Key(KindKey::new("", plural))
}

/// Owners (any kind), as its ownerReferences name them.
fn owners(input: &SectionInput<'_>) -> Vec<Relation> {
    let references = input.object.pointer("/metadata/ownerReferences").and_then(serde_json::Value::as_array);
    references
        .into_iter()
        .flatten()
        .filter_map(|owner| {
            let kind = RelatedKind::Named {
                api_version: Arc::from(str_at(owner, "/apiVersion")?),
                kind: Arc::from(str_at(owner, "/kind")?),
            };
            Some(relation(kind, input.key.namespace.as_deref(), str_at(owner, "/name")?, "relation.owner"))
        })
        .collect()
}

/// A pod's node, service account, and the ConfigMaps, Secrets and claims its volumes mount.
fn pod_relations(input: &SectionInput<'_>) -> Vec<Relation> {
    let (object, namespace) = (input.object, input.key.namespace.as_deref());
    let mut found = Vec::new();
    if let Some(node) = str_at(object, "/spec/nodeName") {
        found.push(relation(core_kind("nodes"), None, node, "relation.node"));
    }
    if let Some(account) = str_at(object, "/spec/serviceAccountName") {
        found.push(relation(core_kind("serviceaccounts"), namespace, account, "relation.service_account"));
    }
    let volumes = object.pointer("/spec/volumes").and_then(serde_json::Value::as_array);
    for volume in volumes.into_iter().flatten() {
        let mounted = [
            ("configmaps", "/configMap/name"),
            ("secrets", "/secret/secretName"),
            ("persistentvolumeclaims", "/persistentVolumeClaim/claimName"),
        ];
        for (plural, pointer) in mounted {
            if let Some(name) = str_at(volume, pointer) {
                found.push(relation(core_kind(plural), namespace, name, "relation.mounts"));
            }
        }
    }
    found
}

/// The volume a claim is bound to.
fn claim_relations(input: &SectionInput<'_>) -> Vec<Relation> {
    str_at(input.object, "/spec/volumeName")
        .map(|volume| relation(core_kind("persistentvolumes"), None, volume, "relation.volume"))
        .into_iter()
        .collect()
}

/// The Services an Ingress routes to.
fn ingress_relations(input: &SectionInput<'_>) -> Vec<Relation> {
    let object = input.object;
    let mut names: Vec<&str> = str_at(object, "/spec/defaultBackend/service/name").into_iter().collect();
    let rules = object.pointer("/spec/rules").and_then(serde_json::Value::as_array);
    for rule in rules.into_iter().flatten() {
        let paths = rule.pointer("/http/paths").and_then(serde_json::Value::as_array);
        names.extend(paths.into_iter().flatten().filter_map(|path| str_at(path, "/backend/service/name")));
    }
    names.sort_unstable();
    names.dedup();
    let namespace = input.key.namespace.as_deref();
    names.into_iter().map(|name| relation(core_kind("services"), namespace, name, "relation.routes_to")).collect()
}

fn relation_providers() -> Vec<RelationProvider> {
    let provider = |id: &str, kinds: KindMatch, build: fn(&SectionInput<'_>) -> Vec<Relation>| RelationProvider {
        id: Arc::from(id),
        kinds,
        relations: Arc::new(build),
    };
    vec![
        provider("owners", KindMatch::Any, owners),
        provider("pod", KindMatch::one("", "pods"), pod_relations),
        provider("claim", KindMatch::one("", "persistentvolumeclaims"), claim_relations),
        provider("ingress", KindMatch::one("networking.k8s.io", "ingresses"), ingress_relations),
    ]
}

fn chart_panels() -> Vec<(&'static str, KindMatch, ChartSubject)> {
    vec![
        ("pod", KindMatch::one("", "pods"), ChartSubject::Pod),
        (
            "workload",
            KindMatch::any_of(&[
                ("apps", "deployments"),
                ("apps", "statefulsets"),
                ("apps", "daemonsets"),
                ("apps", "replicasets"),
                ("batch", "jobs"),
            ]),
            ChartSubject::Workload,
        ),
        ("node", KindMatch::one("", "nodes"), ChartSubject::Node),
        ("namespace", KindMatch::one("", "namespaces"), ChartSubject::Namespace),
        ("claim", KindMatch::one("", "persistentvolumeclaims"), ChartSubject::Claim),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KindKey, Permission};

    fn verbs(list: &[&str]) -> Vec<Arc<str>> {
        list.iter().map(|v| Arc::from(*v)).collect()
    }

    fn offered(registry: &Registry, group: &str, plural: &str, verbs: &[Arc<str>]) -> Vec<String> {
        registry.actions_for(&KindKey::new(group, plural), verbs).map(|a| a.id.to_string()).collect()
    }

    #[test]
    fn built_in_ids_are_unique() {
        let mut registry = Registry::default();
        for spec in actions() {
            registry.add_action(spec).expect("unique action id");
        }
        for spec in sections() {
            registry.add_section(spec).expect("unique section id");
        }
        assert!(registry.add_action(ActionSpec::new("scale", Text::plain("again"), KindMatch::Any)).is_err());
    }

    #[test]
    fn relations_name_owners_nodes_mounts_volumes_and_backends() {
        let registry = Registry::with_builtins();
        let key = crate::ObjectKey {
            cluster: crate::ClusterId::new("a"),
            namespace: Some(Arc::from("shop")),
            name: Arc::from("web-1"),
        };
        let pod = serde_json::json!({
            "metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9"}]},
            "spec": {"nodeName": "node-2", "serviceAccountName": "web",
                "volumes": [{"configMap": {"name": "web-config"}}, {"secret": {"secretName": "web-tls"}},
                    {"persistentVolumeClaim": {"claimName": "data"}}, {"emptyDir": {}}]}
        });
        let described = |object: &serde_json::Value, kind: KindKey| -> Vec<String> {
            let input = SectionInput { object, key: &key, kind: &kind };
            registry
                .relations_of(&input)
                .into_iter()
                .map(|r| {
                    let kind = match r.kind {
                        RelatedKind::Key(k) => k.plural.to_string(),
                        RelatedKind::Named { kind, .. } => kind.to_string(),
                    };
                    format!("{kind}/{}", r.name)
                })
                .collect()
        };
        assert_eq!(
            described(&pod, KindKey::new("", "pods")),
            [
                "ReplicaSet/web-7c9",
                "nodes/node-2",
                "serviceaccounts/web",
                "configmaps/web-config",
                "secrets/web-tls",
                "persistentvolumeclaims/data"
            ]
        );
        let claim = serde_json::json!({"spec": {"volumeName": "pv-9"}});
        assert_eq!(described(&claim, KindKey::new("", "persistentvolumeclaims")), ["persistentvolumes/pv-9"]);
        let ingress = serde_json::json!({"spec": {"defaultBackend": {"service": {"name": "fallback"}},
            "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web"}}},
                {"backend": {"service": {"name": "web"}}}]}}]}});
        assert_eq!(
            described(&ingress, KindKey::new("networking.k8s.io", "ingresses")),
            ["services/fallback", "services/web"]
        );
        // Hostile shapes (wrong types, empty names) relate to nothing rather than fail.
        let odd = serde_json::json!({"metadata": {"ownerReferences": "yes"}, "spec": {"nodeName": 7, "volumes": {}}});
        assert!(described(&odd, KindKey::new("", "pods")).is_empty());
    }

    #[test]
    fn pods_and_nodes_have_usage_columns_and_other_kinds_none() {
        let registry = Registry::with_builtins();
        let pods = registry.usage_columns_for(&KindKey::new("", "pods"));
        assert_eq!(pods.map(|(kind, columns)| (kind, columns.len())), Some((UsageKind::Pods, 6)));
        assert_eq!(registry.usage_columns_for(&KindKey::new("", "nodes")).map(|(k, _)| k), Some(UsageKind::Nodes));
        assert!(registry.usage_columns_for(&KindKey::new("apps", "deployments")).is_none());
        assert!(registry.column_sets_for(&KindKey::new("", "pods")).is_empty(), "usage is not computed at ingest");
    }

    #[test]
    fn actions_are_offered_where_the_api_has_them() {
        let registry = Registry::with_builtins();
        let all = verbs(&["get", "list", "delete", "update", "patch"]);
        assert!(offered(&registry, "apps", "deployments", &all).contains(&"scale".to_string()));
        assert!(!offered(&registry, "apps", "daemonsets", &all).contains(&"scale".to_string()));
        assert!(offered(&registry, "", "nodes", &all).contains(&"drain".to_string()));
        assert!(!offered(&registry, "", "pods", &all).contains(&"drain".to_string()));
        assert!(offered(&registry, "batch", "cronjobs", &all).contains(&"trigger".to_string()));
        assert!(!offered(&registry, "batch", "jobs", &all).contains(&"trigger".to_string()));
        assert_eq!(offered(&registry, "x.io", "widgets", &all), ["edit", "delete"]);
        assert!(offered(&registry, "x.io", "widgets", &verbs(&["get", "list"])).is_empty());
        let destructive = |id: &str| registry.action(id).is_some_and(|a| a.destructive);
        assert!(destructive("drain") && !destructive("cordon"));
        assert_eq!(
            offered(&registry, "", "pods", &all),
            ["logs", "edit", "evict", "shell", "port-forward", "delete"],
            "a pod's buttons, in order"
        );
    }

    #[test]
    fn the_panes_permissions_come_from_the_registered_actions() {
        let registry = Registry::with_builtins();
        let all = verbs(&["get", "list", "delete", "update", "patch"]);
        let pod = registry.object_permissions(&KindKey::new("", "pods"), &all);
        let expected = [
            Permission::new("create", "", "pods/eviction"),
            Permission::new("create", "", "pods/exec"),
            Permission::new("create", "", "pods/portforward"),
            Permission::new("delete", "", "pods"),
            Permission::new("get", "", "pods/log"),
            Permission::new("update", "", "pods"),
        ];
        assert_eq!(pod, expected);
        let bulk = registry.bulk_permissions(&KindKey::new("apps", "deployments"), &all);
        assert_eq!(
            bulk,
            [
                Permission::new("delete", "apps", "deployments"),
                Permission::new("patch", "apps", "deployments"),
                Permission::new("patch", "apps", "deployments/scale"),
            ],
            "rollback is not a bulk action; restart and scale are"
        );
    }

    #[test]
    fn a_configmaps_entries_are_shown_by_key_binary_ones_by_size() {
        let object = serde_json::json!({
            "metadata": {"name": "settings", "namespace": "shop"},
            "data": {"mode": "fast", "app.conf": "a = 1\nb = 2\n"},
            "binaryData": {"logo.png": "iVBORw0KGgo="}
        });
        let entries: Vec<(String, String)> =
            config_map_entries(&object).into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(
            entries,
            [
                ("app.conf".to_string(), "a = 1\nb = 2\n".to_string()),
                ("logo.png".to_string(), "(binary, 8 bytes)".to_string()),
                ("mode".to_string(), "fast".to_string())
            ]
        );
    }
}
