//! Klieg's own kind-specific features, registered through the same calls an extension makes.
//! The only place that says which kinds offer which action, which kinds have extra detail
//! sections, and which kinds have charts. Pure data; called once at start.

use super::{
    ActionInput, ActionSpec, AppBarAction, AppBarTarget, ChartPanelSpec, KindMatch, Need, Registry, Runs, SectionBody,
    SectionInput, SectionSpec, SidebarEntry, Text, ViewId,
};
use crate::{ChartSubject, Propagation};
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
