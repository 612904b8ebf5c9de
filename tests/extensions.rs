//! Features registered from outside Klieg's built-ins, through the same calls a plugin will
//! make: an action with its backend handler, a detail section and a column set. The real window
//! (egui_kittest) on the simulator shows and runs them; no built-in file knows about them.

use crate::common::run_kubectl;
use crate::common::ui::{UI_LOCK, app, configmaps_in, has_label, has_label_containing, start_app_extended, step_until};
use egui_kittest::kittest::Queryable;
use klieg::backend::Extensions;
use klieg::backend::actions::{ActionError, ActionHandlers, ActionRequest};
use klieg::model::registry::{ActionSpec, ColumnSetSpec, KindMatch, Need, SectionBody, SectionSpec};
use klieg::model::{Cell, CellTone, Column, ColumnType, Registry, Text};
use std::sync::Arc;

const REVIEW: &str = "example.com/mark-reviewed";

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
            cells: Arc::new(|row| {
                let team = row.labels.iter().find(|(key, _)| &**key == "team").map(|(_, value)| value.clone());
                vec![team.map_or(Cell::Empty, |team| Cell::Text(Arc::from(format!("team {team}")), CellTone::Normal))]
            }),
        })
        .expect("a new column set id");
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
    Extensions { registry: Arc::new(registry), handlers }
}

#[test]
fn an_action_a_section_and_a_column_set_registered_from_outside_show_and_work() {
    let _turn = UI_LOCK.lock();
    let spec = klieg::sim::ClusterSpec { name: "ext-sim".into(), git_version: "v1.31.2".into(), nodes: 0, pods: 0 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let applied = run_kubectl(
        &fleet.kubeconfig_path,
        &["apply", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: teams}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: payments-settings, namespace: teams, labels: {team: payments}}\ndata: {mode: fast, region: eu}\n",
        ),
    );
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
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
}
