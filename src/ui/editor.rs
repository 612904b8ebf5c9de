//! The YAML editor window (validation as you type, a diff against the original, apply guarded
//! by resourceVersion, conflicts shown with the server's version) and the "create from YAML"
//! window. UI thread; applies go out as commands through the state's outbox.

use super::theme;
use crate::model::{ActivityLog, CellTone, FleetSnapshot, Outcome};
use crate::state::{Discard, Draft, EditorState};
use rust_i18n::t;
use std::hash::{Hash, Hasher};

pub use crate::model::diff::{DiffLine, diff_lines};

fn text_hash(a: &str, b: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    a.hash(&mut hasher);
    b.hash(&mut hasher);
    hasher.finish()
}

/// Draws a diff; computed again only when either side changes.
fn diff_ui(ui: &mut egui::Ui, id: &str, before: &str, after: &str) {
    let key = egui::Id::unique(("diff", id));
    let hash = text_hash(before, after);
    let cached: Option<(u64, std::sync::Arc<Vec<DiffLine>>)> = ui.data(|d| d.get_temp(key));
    let lines = match cached {
        Some((cached_hash, lines)) if cached_hash == hash => lines,
        _ => {
            let lines = std::sync::Arc::new(diff_lines(before, after));
            ui.data_mut(|d| d.insert_temp(key, (hash, lines.clone())));
            lines
        }
    };
    if lines.is_empty() {
        ui.label(egui::RichText::new(t!("edit.no_changes")).weak());
        return;
    }
    let visuals = ui.visuals().clone();
    egui::ScrollArea::vertical().id_salt(key).max_height(220.0).auto_shrink([false, true]).show(ui, |ui| {
        for (sign, text) in lines.iter() {
            let tone = match sign {
                '+' => CellTone::Good,
                '-' => CellTone::Bad,
                _ => CellTone::Normal,
            };
            let line = egui::RichText::new(format!("{sign} {text}")).monospace();
            ui.add(
                egui::Label::new(line.color(theme::tone_color(&visuals, tone))).wrap_mode(egui::TextWrapMode::Extend),
            );
        }
    });
}

fn code_editor_ui(ui: &mut egui::Ui, id: &str, text: &mut String) -> egui::Response {
    let theme = egui_extras::syntax_highlighting::CodeTheme::from_style(ui.style());
    let mut layouter = |ui: &egui::Ui, buffer: &dyn egui::TextBuffer, wrap_width: f32| {
        let mut job =
            egui_extras::syntax_highlighting::highlight(ui.ctx(), ui.style(), &theme, buffer.as_str(), "yaml");
        job.wrap.max_width = wrap_width;
        ui.fonts_mut(|f| f.layout_job(job))
    };
    egui::ScrollArea::both()
        .id_salt(id)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.add(
                egui::TextEdit::multiline(text)
                    .id_salt(id)
                    .code_editor()
                    .desired_width(f32::INFINITY)
                    .desired_rows(24)
                    .layouter(&mut layouter),
            )
        })
        .inner
}

/// Takes the answer to the editor's apply from the activity log: a conflict, or the end of it.
pub fn absorb_activity(editor: &mut Option<EditorState>, log: &ActivityLog) {
    let Some(editor) = editor.as_mut() else { return };
    let Some(request) = editor.pending_request else { return };
    if let Some(answer) = log.for_request(request).last() {
        match &answer.outcome {
            Outcome::Running => {}
            Outcome::Conflict { live_yaml, live_resource_version } => {
                editor.conflict = Some((live_yaml.clone(), live_resource_version.clone()));
                editor.pending_request = None;
            }
            Outcome::Done { .. } => {
                editor.pending_request = None;
                if !editor.pending_dry_run {
                    editor.saved();
                }
            }
            Outcome::Failed { .. } => editor.pending_request = None,
        }
    }
}

fn outcome_ui(ui: &mut egui::Ui, outcome: &Outcome, subject: &str) {
    let visuals = ui.visuals().clone();
    match outcome {
        Outcome::Running => {
            ui.horizontal(|ui| {
                theme::spinner_ui(ui);
                ui.label(subject);
            });
        }
        Outcome::Done { message } => {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Good), format!("✔ {subject}: {message}"));
        }
        Outcome::Failed { message } => {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), format!("✖ {subject}: {message}"));
        }
        Outcome::Conflict { .. } => {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Warning), t!("edit.conflict_title"));
        }
    }
}

/// The offer of an unsaved edit found on disk at start: open it in the editor (its diff against
/// where it started is there, and applying it meets a conflict if the object changed since), or
/// discard it. Returns whether it was discarded.
pub fn recovered_draft_ui(
    ctx: &egui::Context,
    recovered: &mut Option<Draft>,
    editor: &mut Option<EditorState>,
) -> bool {
    let Some(draft) = recovered.as_ref() else { return false };
    let mut discarded = false;
    let mut opened = false;
    let busy = editor.as_ref().is_some_and(EditorState::is_dirty);
    egui::Window::new(t!("draft.title"))
        .id(egui::Id::unique("recovered-draft"))
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 48.0))
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            let object = match &draft.namespace {
                Some(namespace) => format!("{}/{namespace}/{}", draft.plural, draft.name),
                None => format!("{}/{}", draft.plural, draft.name),
            };
            let saved = jiff::Timestamp::from_second(draft.saved_unix_secs)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            ui.label(t!("draft.found", object = object, cluster = draft.cluster, saved = saved));
            ui.horizontal(|ui| {
                let open = ui.add_enabled(!busy, egui::Button::new(t!("draft.open")));
                opened = open.on_disabled_hover_text(t!("draft.open_busy")).clicked();
                discarded = ui.button(t!("draft.discard")).on_hover_text(t!("draft.discard_help")).clicked();
            });
        });
    if opened {
        *editor = Some(draft.editor());
        *recovered = None;
    } else if discarded {
        *recovered = None;
    }
    discarded
}

/// The editor window, while an edit is open.
pub fn editor_window_ui(
    ctx: &egui::Context,
    slot: &mut Option<EditorState>,
    outbox: &mut crate::state::Outbox,
    log: &ActivityLog,
) {
    let Some(editor) = slot.as_mut() else { return };
    let mut open = true;
    let mut apply = None;
    let title = t!("edit.title", name = editor.target.key.name.as_ref());
    egui::Window::new(title.to_string())
        .id(egui::Id::unique("yaml_editor"))
        .open(&mut open)
        .default_size([720.0, 640.0])
        .resizable(true)
        .show(ctx, |ui| {
            apply = editor_contents_ui(ui, editor, log);
        });
    if !open {
        if editor.is_dirty() {
            editor.discard = Some(Discard::Close);
        } else {
            *slot = None;
            return;
        }
    } else if let Some(dry_run) = apply {
        editor.apply(dry_run, outbox);
    }
    discard_ui(ctx, slot);
}

/// Asks before unapplied changes are thrown away (closing, reverting, editing another object).
fn discard_ui(ctx: &egui::Context, slot: &mut Option<EditorState>) {
    let Some(editor) = slot.as_mut() else { return };
    let Some(discard) = editor.discard.clone() else { return };
    let mut decision = None;
    egui::Modal::new(egui::Id::unique("discard_edit")).show(ctx, |ui| {
        ui.heading(t!("edit.discard_title", name = editor.target.key.name.as_ref()));
        let consequence = match &discard {
            Discard::Close => t!("edit.discard_close"),
            Discard::Revert => t!("edit.discard_revert"),
            Discard::EditOther { target, .. } => t!("edit.discard_other", name = target.key.name.as_ref()),
        };
        ui.label(consequence);
        ui.horizontal(|ui| {
            let visuals = ui.visuals().clone();
            let discard_button = egui::Button::new(
                egui::RichText::new(t!("edit.discard")).color(theme::tone_color(&visuals, CellTone::Bad)),
            );
            if ui.add(discard_button).clicked() {
                decision = Some(true);
            }
            if ui.button(t!("edit.keep_editing")).clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                decision = Some(false);
            }
        });
    });
    match decision {
        Some(true) => match discard {
            Discard::Close => *slot = None,
            Discard::Revert => {
                editor.text = editor.original.to_string();
                editor.discard = None;
                editor.validate();
            }
            Discard::EditOther { target, yaml } => *slot = Some(EditorState::new(target, yaml)),
        },
        Some(false) => editor.discard = None,
        None => {}
    }
}

/// Returns whether the user asked to apply: `Some(true)` for a server-side dry run.
fn editor_contents_ui(ui: &mut egui::Ui, editor: &mut EditorState, log: &ActivityLog) -> Option<bool> {
    let visuals = ui.visuals().clone();
    let mut apply = None;
    ui.label(
        egui::RichText::new(format!(
            "{} · {}",
            editor.target.key.cluster,
            editor.target.key.namespace.as_deref().unwrap_or("—")
        ))
        .weak(),
    );
    if let Some((live_yaml, _)) = editor.conflict.clone() {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Warning), t!("edit.conflict_title"));
            ui.label(t!("edit.conflict_help"));
            ui.label(egui::RichText::new(t!("edit.conflict_diff")).strong());
            diff_ui(ui, "conflict", &live_yaml, &editor.text);
            ui.horizontal(|ui| {
                if ui.button(t!("edit.apply_mine")).on_hover_text(t!("edit.apply_mine_help")).clicked() {
                    editor.rebase_on_conflict();
                    apply = Some(false);
                }
                if ui.button(t!("edit.take_theirs")).clicked() {
                    editor.take_theirs();
                }
                if ui.button(t!("edit.keep_editing")).clicked() {
                    editor.conflict = None;
                }
            });
        });
    }
    if let Some(request) = editor.last_request
        && editor.conflict.is_none()
        && let Some(answer) = log.for_request(request).last()
    {
        outcome_ui(ui, &answer.outcome, &t!("edit.apply"));
    }
    match &editor.syntax_error {
        Some(error) => {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), t!("edit.invalid", error = error.as_str()));
        }
        None => {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Good), t!("edit.valid"));
        }
    }
    ui.horizontal(|ui| {
        let can_apply = editor.syntax_error.is_none() && editor.pending_request.is_none() && editor.conflict.is_none();
        if ui.add_enabled(can_apply, egui::Button::new(t!("edit.apply"))).clicked() {
            apply = Some(false);
        }
        if ui
            .add_enabled(can_apply, egui::Button::new(t!("edit.dry_run")))
            .on_hover_text(t!("edit.dry_run_help"))
            .clicked()
        {
            apply = Some(true);
        }
        ui.toggle_value(&mut editor.show_diff, t!("edit.show_diff"));
        if ui.button(t!("edit.revert")).on_hover_text(t!("edit.revert_help")).clicked() && editor.is_dirty() {
            editor.discard = Some(Discard::Revert);
        }
    });
    if editor.show_diff {
        diff_ui(ui, "changes", &editor.original, &editor.text);
        ui.separator();
    }
    if code_editor_ui(ui, "yaml_editor_text", &mut editor.text).changed() {
        editor.validate();
    }
    apply
}

/// The "create from YAML" window.
pub fn create_window_ui(
    ctx: &egui::Context,
    create: &mut crate::state::CreateState,
    outbox: &mut crate::state::Outbox,
    (fleet, log): (&FleetSnapshot, &ActivityLog),
) {
    if !create.open {
        return;
    }
    let mut open = true;
    let mut submit = None;
    egui::Window::new(t!("create.title").to_string())
        .id(egui::Id::unique("create_window"))
        .open(&mut open)
        .default_size([640.0, 560.0])
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                let selected = create
                    .cluster
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| t!("create.pick_cluster").to_string());
                egui::ComboBox::from_label(t!("create.cluster")).selected_text(selected).show_ui(ui, |ui| {
                    for cluster in fleet.clusters.iter() {
                        ui.selectable_value(&mut create.cluster, Some(cluster.id.clone()), cluster.id.as_str());
                    }
                });
                ui.label(t!("create.namespace"));
                ui.add(egui::TextEdit::singleline(&mut create.namespace).desired_width(160.0).hint_text("default"));
            });
            ui.label(egui::RichText::new(t!("create.help")).weak());
            if let Some(request) = create.last_request {
                for activity in log.for_request(request) {
                    outcome_ui(ui, &activity.outcome, &activity.subject);
                }
            }
            let ready = create.cluster.is_some() && !create.text.trim().is_empty();
            ui.horizontal(|ui| {
                if ui.add_enabled(ready, egui::Button::new(t!("create.submit"))).clicked() {
                    submit = Some(false);
                }
                if ui
                    .add_enabled(ready, egui::Button::new(t!("edit.dry_run")))
                    .on_hover_text(t!("edit.dry_run_help"))
                    .clicked()
                {
                    submit = Some(true);
                }
            });
            code_editor_ui(ui, "create_text", &mut create.text);
        });
    if !open {
        create.open = false;
    }
    if let Some(dry_run) = submit {
        create.submit(dry_run, outbox);
    }
}

#[cfg(test)]
mod tests {
    use super::diff_lines;

    #[test]
    fn diffs_show_changed_lines_with_context() {
        let before = "a: 1\nb: 2\nc: 3\n";
        let after = "a: 1\nb: 20\nc: 3\nd: 4\n";
        let lines = diff_lines(before, after);
        assert!(lines.contains(&('-', "b: 2".into())) && lines.contains(&('+', "b: 20".into())));
        assert!(lines.contains(&('+', "d: 4".into())) && lines.contains(&(' ', "a: 1".into())));
        assert!(diff_lines(before, before).is_empty());
    }
}
