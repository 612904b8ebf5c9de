//! The YAML editor never throws the user's changes away without asking: Revert, closing the
//! window and editing another object each ask first. The real window (egui_kittest) on the
//! simulator.

use crate::common::run_kubectl;
use crate::common::ui::{UI_LOCK, app, configmaps_in, has_label, has_label_containing, start_app_with, step_until};
use egui_kittest::kittest::Queryable;

/// Puts `text` in the open editor, as typing would.
fn type_into_editor(harness: &mut egui_kittest::Harness<'static, Option<klieg::app::KliegApp>>, text: &str) {
    let editor = harness.state_mut().as_mut().and_then(|a| a.state.editor.as_mut()).expect("editor open");
    editor.text = text.to_string();
    editor.validate();
}

fn editor_text(harness: &egui_kittest::Harness<'_, Option<klieg::app::KliegApp>>) -> Option<String> {
    app(harness).state.editor.as_ref().map(|e| e.text.clone())
}

#[test]
fn unapplied_changes_are_discarded_only_when_the_user_agrees() {
    let _turn = UI_LOCK.lock();
    let spec = klieg::sim::ClusterSpec { name: "edit-sim".into(), git_version: "v1.31.2".into(), nodes: 0, pods: 0 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    let applied = run_kubectl(
        &fleet.kubeconfig_path,
        &["apply", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: drafts}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: first, namespace: drafts}\ndata: {mode: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: second, namespace: drafts}\ndata: {mode: b}\n",
        ),
    );
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let sources = crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with(sources, configmaps_in(&["drafts"]));
    step_until(&mut harness, "both rows", |h| has_label(h, "first") && has_label(h, "second"));
    harness.get_by_label("first").click();
    step_until(&mut harness, "the actions of first", |h| has_label(h, "Edit YAML"));
    harness.get_by_label("Edit YAML").click();
    step_until(&mut harness, "the editor", |h| has_label(h, "Edit first") && has_label(h, "Valid YAML"));
    let original = editor_text(&harness).expect("editor");
    let mine = original.replace("mode: a", "mode: mine");
    type_into_editor(&mut harness, &mine);

    // Revert asks; keeping the edit keeps the text.
    harness.get_by_label("Revert").click();
    step_until(&mut harness, "the question", |h| has_label(h, "Discard your changes to first?"));
    harness.get_by_label("Keep editing").click();
    step_until(&mut harness, "the question gone", |h| !has_label(h, "Discard your changes to first?"));
    assert_eq!(editor_text(&harness).as_deref(), Some(mine.as_str()));

    // Editing another object asks too, naming it; keeping the edit stays on the first.
    // (The editor window covers the table; the row is opened as its click would.)
    {
        let state = &mut harness.state_mut().as_mut().expect("app").state;
        let (kind, mut key) = state.details.open.clone().expect("first is open");
        key.name = std::sync::Arc::from("second");
        state.outbox.intend(klieg::state::Intent::Open { kind, key });
    }
    step_until(&mut harness, "second opened", |h| {
        app(h).details.key.as_ref().is_some_and(|k| &*k.name == "second") && has_label(h, "Edit YAML")
    });
    harness.get_by_label("Edit YAML").click();
    step_until(&mut harness, "the question about second", |h| {
        has_label_containing(h, "Editing second throws away the changes")
    });
    harness.get_by_label("Keep editing").click();
    step_until(&mut harness, "the question gone", |h| !has_label_containing(h, "Editing second throws away"));
    assert_eq!(editor_text(&harness).as_deref(), Some(mine.as_str()), "still the first object's edit");
    assert!(has_label(&harness, "Edit first"));

    // Agreeing to Revert discards the changes.
    harness.get_by_label("Revert").click();
    step_until(&mut harness, "the question", |h| has_label(h, "Discard your changes to first?"));
    harness.get_by_label("Discard changes").click();
    step_until(&mut harness, "the text reverted", |h| editor_text(h).as_deref() == Some(original.as_str()));
    // With nothing to lose, editing another object needs no question.
    harness.get_by_label("Edit YAML").click();
    step_until(&mut harness, "the editor on second", |h| has_label(h, "Edit second"));
    assert!(!has_label_containing(&harness, "throws away"));
}
