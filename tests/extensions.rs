//! Features registered from outside Klieg's built-ins, through the same calls a plugin will
//! make: an action with its backend handler, a detail section and a column set. The real window
//! (egui_kittest) on the simulator shows and runs them; no built-in file knows about them.

use crate::common::run_kubectl;
use crate::common::ui::{UI_LOCK, app, configmaps_in, has_label, has_label_containing, start_app_extended, step_until};
use egui_kittest::kittest::Queryable;
use klieg::backend::Extensions;
use klieg::backend::actions::{ActionError, ActionHandlers, ActionRequest};
use klieg::model::registry::{
    ActionSpec, ColumnSetSpec, ColumnValues, KindIcon, KindMatch, Need, ObjectLink, RelatedKind, Relation,
    RelationProvider, SectionBody, SectionBuilder, SectionChart, SectionSpec,
};
use klieg::model::{Cell, CellTone, ChartUnit, Column, ColumnType, KindKey, ObjectKey, Registry, Text};
use std::sync::Arc;

const REVIEW: &str = "example.com/mark-reviewed";

fn section(id: &str, title: &str, order: i32, build: SectionBuilder) -> SectionSpec {
    SectionSpec { id: Arc::from(id), title: Text::plain(title), kinds: KindMatch::one("", "configmaps"), order, build }
}

/// Sections of every other body a plugin can return: text, links, a table and a chart.
fn register_more_bodies(registry: &mut Registry) {
    let text: SectionBuilder = Arc::new(|_| Some(SectionBody::Text(Arc::from("owned by the payments team"))));
    let links: SectionBuilder = Arc::new(|input| {
        let key = ObjectKey {
            cluster: input.key.cluster.clone(),
            namespace: input.key.namespace.clone(),
            name: Arc::from("payments-limits"),
        };
        Some(SectionBody::Links(vec![ObjectLink {
            kind: KindKey::new("", "configmaps"),
            label: Arc::from("see payments-limits"),
            key,
        }]))
    });
    let table: SectionBuilder = Arc::new(|_| {
        Some(SectionBody::Table {
            columns: vec![Arc::from("Owner"), Arc::from("On call")],
            rows: vec![vec![Arc::from("payments"), Arc::from("alice")]],
        })
    });
    let chart: SectionBuilder = Arc::new(|_| {
        let points = (0..30).map(|i| [f64::from(i), f64::from(i % 7)]).collect();
        Some(SectionBody::Chart(SectionChart { unit: ChartUnit::Count, series: vec![(Arc::from("lookups"), points)] }))
    });
    for spec in [
        section("example.com/about", "About", 110, text),
        section("example.com/see-also", "See also", 120, links),
        section("example.com/rota", "Rota", 130, table),
        section("example.com/lookups", "Lookups", 140, chart),
    ] {
        registry.add_section(spec).expect("a new section id");
    }
}

/// A section and a column set whose builders panic (a plugin's bug): each costs only its own output.
fn register_broken_builders(registry: &mut Registry) {
    let broken: SectionBuilder = Arc::new(|_| panic!("the plugin tripped over its own feet"));
    registry.add_section(section("example.com/broken", "Broken", 150, broken)).expect("a new section id");
    let column = Column {
        name: Arc::from("Broken column"),
        description: Arc::from(""),
        column_type: ColumnType::Text,
        priority: 0,
        is_age: false,
    };
    registry
        .add_column_set(ColumnSetSpec {
            id: Arc::from("example.com/broken"),
            kinds: KindMatch::one("", "configmaps"),
            columns: vec![column],
            values: ColumnValues::Row(Arc::new(|_| panic!("the column set tripped too"))),
            needs_object: false,
        })
        .expect("a new column set id");
}

/// What a plugin for "ConfigMaps of teams" would register.
fn team_extensions() -> Extensions {
    let configmaps = || KindMatch::one("", "configmaps");
    let mut registry = Registry::with_builtins();
    registry
        .add_action(ActionSpec {
            needs: vec![Need::object("patch")],
            ..ActionSpec::new(REVIEW, Text::plain("Mark reviewed"), configmaps())
        })
        .expect("a new action id");
    registry
        .add_section(SectionSpec {
            id: Arc::from("example.com/key-count"),
            title: Text::plain("Key count"),
            kinds: configmaps(),
            order: 100,
            build: Arc::new(|input| {
                let keys = input.object.get("data").and_then(|d| d.as_object()).map_or(0, |d| d.len());
                Some(SectionBody::Entries(vec![(Arc::from("keys"), Arc::from(format!("{keys} keys")))]))
            }),
        })
        .expect("a new section id");
    registry
        .add_column_set(ColumnSetSpec {
            id: Arc::from("example.com/team"),
            kinds: configmaps(),
            columns: vec![Column {
                name: Arc::from("Team"),
                description: Arc::from("the team label"),
                column_type: ColumnType::Text,
                priority: 0,
                is_age: false,
            }],
            values: ColumnValues::Row(Arc::new(|row| {
                let team = row.labels.iter().find(|(key, _)| &**key == "team").map(|(_, value)| value.clone());
                vec![team.map_or(Cell::Empty, |team| Cell::Text(Arc::from(format!("team {team}")), CellTone::Normal))]
            })),
            needs_object: false,
        })
        .expect("a new column set id");
    register_more_bodies(&mut registry);
    register_broken_builders(&mut registry);
    registry
        .add_relation_provider(RelationProvider {
            id: Arc::from("example.com/settings-of"),
            kinds: configmaps(),
            relations: Arc::new(|input| {
                let Some(of) = input.object.pointer("/metadata/annotations/example.com~1settings-of") else {
                    return Vec::new();
                };
                let name = Arc::from(of.as_str().unwrap_or_default());
                let kind = RelatedKind::Key(KindKey::new("", "configmaps"));
                vec![Relation { kind, namespace: None, name, label: Text::plain("Settings of") }]
            }),
        })
        .expect("a new relation provider");
    registry.add_kind_icon(KindIcon { kinds: configmaps(), glyph: Arc::from("⚙") });
    // Everything the handler does goes through the user's own client, as a plugin's calls will.
    let mut handlers = ActionHandlers::with_builtins();
    handlers.add(
        REVIEW,
        Arc::new(|request: ActionRequest| {
            Box::pin(async move {
                let patch = serde_json::json!({"metadata": {"labels": {"reviewed": "yes"}}});
                let params = kube::api::PatchParams::default();
                request
                    .api()
                    .patch(&request.target.key.name, &params, &kube::api::Patch::Merge(patch))
                    .await
                    .map_err(ActionError::from)?;
                Ok("marked as reviewed".to_string())
            })
        }),
    );
    Extensions { registry: registry.into(), handlers }
}

#[test]
fn features_registered_from_outside_show_and_work_and_a_broken_one_fails_alone() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "ext-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: teams}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: payments-settings, namespace: teams, labels: {team: payments}}\ndata: {mode: fast, region: eu}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: payments-limits, namespace: teams, annotations: {example.com/settings-of: payments-settings}}\ndata: {max: \"10\"}\n",
    );
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_extended(sources, configmaps_in(&["teams"]), team_extensions());

    // The column set: its column, and its cell computed from the row's labels at ingest.
    step_until(&mut harness, "the Team column and its cell", |h| has_label(h, "Team") && has_label(h, "team payments"));
    harness.run_steps(5);
    harness.get_by_label("payments-settings").click();
    // The section, built on the backend from the object; the action, beside the built-in ones.
    step_until(&mut harness, "the registered section", |h| has_label(h, "Key count") && has_label(h, "2 keys"));
    step_until(&mut harness, "the registered action", |h| has_label(h, "Mark reviewed") && has_label(h, "Delete"));
    harness.get_by_label("Mark reviewed").click();
    step_until(&mut harness, "the action's outcome in the activity strip", |h| {
        has_label_containing(h, "Mark reviewed · ext-sim/teams/payments-settings · marked as reviewed")
    });
    let label = run_kubectl(
        &fleet.kubeconfig_path,
        &["get", "configmap", "payments-settings", "-n", "teams", "-o", "jsonpath={.metadata.labels.reviewed}"],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&label.stdout), "yes", "the handler's patch reached the server");
    // The details pane follows the object: the new label shows, the column set still computes.
    step_until(&mut harness, "the new label in details", |h| has_label(h, "reviewed") && has_label(h, "yes"));
    assert!(has_label(&harness, "team payments"));
    assert!(app(&harness).registry.action(REVIEW).is_some());

    // Every other body draws; the broken section says so in its place; the kind has its icon.
    for shown in ["About", "owned by the payments team", "See also", "Rota", "On call", "alice", "Lookups", "Broken"] {
        assert!(has_label(&harness, shown), "{shown} is shown");
    }
    assert!(has_label_containing(&harness, "the plugin tripped over its own feet"), "the panic is told in place");
    assert!(has_label(&harness, "Broken column"), "a column set that panics keeps its column, empty");
    assert!(has_label(&harness, "⚙"), "the registered icon is drawn before the kind's name");
    assert!(!has_label(&harness, "📄"), "it replaces the built-in one");
    // A link of a section navigates; so does a related object a provider found.
    harness.get_by_label("see payments-limits").click();
    step_until(&mut harness, "payments-limits opened from the link", |h| {
        app(h).details.key.as_ref().is_some_and(|k| &*k.name == "payments-limits") && has_label(h, "Settings of")
    });
    harness.get_by_label("ConfigMap payments-settings").click();
    step_until(&mut harness, "payments-settings opened from Related", |h| {
        app(h).details.key.as_ref().is_some_and(|k| &*k.name == "payments-settings") && has_label(h, "Key count")
    });
}
