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
    let fleet = crate::common::sim_cluster_with(
        "edit-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: drafts}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: first, namespace: drafts}\ndata: {mode: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: second, namespace: drafts}\ndata: {mode: b}\n",
    );
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

/// An edit survives the window going away without applying it (a crash, a kill, a closed
/// window): its draft is on disk within a second, the next window offers it, opening it brings
/// back the text with its diff, and applying it works. Settings are on disk too. A discarded
/// draft is gone from disk.
#[test]
fn an_unapplied_edit_is_kept_on_disk_and_offered_by_the_next_window() {
    let _turn = UI_LOCK.lock();
    let fleet = crate::common::sim_cluster_with(
        "draft-sim",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: kept}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: precious, namespace: kept}\ndata: {mode: a}\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let places = klieg::app::persist::Places {
        config_dir: Some(dir.path().join("config")),
        state_dir: Some(dir.path().join("state")),
    };
    let draft_file = places.draft_file().expect("a draft file");
    let sources = || crate::common::sources_for(&[&fleet.kubeconfig_path]);
    let mut harness = start_app_with(sources(), configmaps_in(&["kept"]));
    harness.state_mut().as_mut().expect("app").keep_files_in(places.clone()).expect("files");
    step_until(&mut harness, "the row", |h| has_label(h, "precious"));
    harness.get_by_label("precious").click();
    step_until(&mut harness, "the actions", |h| has_label(h, "Edit YAML"));
    harness.get_by_label("Edit YAML").click();
    step_until(&mut harness, "the editor", |h| has_label(h, "Edit precious") && has_label(h, "Valid YAML"));
    let mine = editor_text(&harness).expect("editor").replace("mode: a", "mode: mine");
    type_into_editor(&mut harness, &mine);
    step_until(&mut harness, "the draft on disk", |h| {
        app(h).flush_files();
        std::fs::read_to_string(&draft_file).is_ok_and(|text| text.contains("mode: mine"))
    });
    let settings: klieg::state::Settings = serde_json::from_slice(
        &std::fs::read(places.settings_file().expect("settings file")).expect("settings written"),
    )
    .expect("settings json");
    assert_eq!(settings.kind_plural, "configmaps");
    drop(harness);

    // The next window offers the edit; opening it brings the text back, unapplied.
    let mut next = start_app_with(sources(), configmaps_in(&["kept"]));
    next.state_mut().as_mut().expect("app").keep_files_in(places.clone()).expect("files");
    step_until(&mut next, "the offer", |h| has_label(h, "Unsaved edit recovered"));
    assert!(has_label_containing(&next, "configmaps/kept/precious on draft-sim"));
    next.get_by_label("Open in the editor").click();
    step_until(&mut next, "the recovered editor", |h| has_label(h, "Edit precious"));
    assert_eq!(editor_text(&next).as_deref(), Some(mine.as_str()));
    next.get_by_label("Apply").click();
    step_until(&mut next, "the edit applied", |h| {
        let output = run_kubectl(
            &fleet.kubeconfig_path,
            &["get", "configmap", "precious", "-n", "kept", "-o", "jsonpath={.data.mode}"],
            None,
        );
        String::from_utf8_lossy(&output.stdout) == "mine" && app(h).state.editor.as_ref().is_some_and(|e| !e.is_dirty())
    });
    step_until(&mut next, "the draft removed once applied", |h| {
        app(h).flush_files();
        !draft_file.exists()
    });
    drop(next);

    // A discarded offer is gone from disk.
    let draft = klieg::state::Draft { text: "data: {mode: other}\n".into(), ..draft_of(&mine) };
    std::fs::write(&draft_file, serde_json::to_vec(&draft).expect("json")).expect("write");
    let mut last = start_app_with(sources(), configmaps_in(&["kept"]));
    last.state_mut().as_mut().expect("app").keep_files_in(places).expect("files");
    step_until(&mut last, "the offer", |h| has_label(h, "Discard it"));
    last.get_by_label("Discard it").click();
    step_until(&mut last, "the draft gone", |h| {
        app(h).flush_files();
        !draft_file.exists() && !has_label(h, "Unsaved edit recovered")
    });
}

fn draft_of(text: &str) -> klieg::state::Draft {
    klieg::state::Draft {
        cluster: "draft-sim".into(),
        group: String::new(),
        plural: "configmaps".into(),
        namespace: Some("kept".into()),
        name: "precious".into(),
        original: text.into(),
        text: text.into(),
        saved_unix_secs: 1_900_000_000,
    }
}
