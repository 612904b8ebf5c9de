//! Action buttons for the open object (only those its kind offers), the confirmation asked
//! before destructive ones, and the activity strip reporting how each action and edit went.
//! UI thread; actions go out as commands through the state's outbox.

use super::theme;
use crate::model::registry::{ActionInput, ActionSpec, Runs};
use crate::model::{ActionCall, ActivityLog, CellTone, DetailsSnapshot, InputValue, Outcome, Registry, Target, Text};
use crate::state::{ActionsState, BulkSelection, ForwardsState, Intent, Outbox};
use rust_i18n::t;
use std::sync::Arc;

/// The app's handlers of window actions (`Runs::Window`): each draws its own controls for the
/// object and opens its panel. Registered here by action id; the registry decides where they
/// are offered and what they need.
type WindowActionUi = fn(&mut egui::Ui, &mut ActionsState, &mut Outbox, &DetailsSnapshot, &Target);

const WINDOW_ACTIONS: [(&str, WindowActionUi); 4] = [
    ("logs", logs_action_ui),
    ("edit", edit_action_ui),
    ("shell", shell_action_ui),
    ("port-forward", forward_action_ui),
];

fn logs_action_ui(ui: &mut egui::Ui, _: &mut ActionsState, outbox: &mut Outbox, _: &DetailsSnapshot, target: &Target) {
    if ui.button(t!("logs.open")).clicked() {
        outbox.intend(Intent::OpenLogs(target.clone()));
    }
}

fn edit_action_ui(
    ui: &mut egui::Ui,
    _: &mut ActionsState,
    outbox: &mut Outbox,
    details: &DetailsSnapshot,
    target: &Target,
) {
    if ui.button(t!("edit.edit")).clicked() {
        outbox.intend(Intent::Edit { target: target.clone(), yaml: details.masked_yaml.clone() });
    }
}

fn shell_action_ui(
    ui: &mut egui::Ui,
    actions: &mut ActionsState,
    outbox: &mut Outbox,
    _: &DetailsSnapshot,
    target: &Target,
) {
    egui::ComboBox::from_id_salt("exec_shell").selected_text(actions.shell()).width(60.0).show_ui(ui, |ui| {
        for candidate in super::terminal::SHELLS {
            ui.selectable_value(&mut actions.exec_shell, candidate.to_string(), candidate);
        }
    });
    if ui.button(t!("terminal.open")).clicked() {
        outbox.intend(Intent::OpenTerminal(target.clone()));
    }
}

fn forward_action_ui(
    ui: &mut egui::Ui,
    actions: &mut ActionsState,
    outbox: &mut Outbox,
    details: &DetailsSnapshot,
    target: &Target,
) {
    if actions.forward_remote_port == 0 {
        actions.forward_remote_port = details.first_port.unwrap_or(80);
    }
    let remote = egui::DragValue::new(&mut actions.forward_remote_port).range(1..=65_535);
    ui.add(remote.prefix(t!("forward.remote_prefix")));
    let local = egui::DragValue::new(&mut actions.forward_local_port).range(0..=65_535);
    ui.add(local.prefix(t!("forward.local_prefix"))).on_hover_text(t!("forward.local_help"));
    if ui.button(t!("forward.start")).clicked() {
        outbox.intend(Intent::StartForward(target.clone()));
    }
}

/// A backend action's input (beside the button; a choice of a destructive action is asked in
/// its confirmation instead) and its button; `targets` is asked only when the button is pressed.
fn backend_action_ui(
    ui: &mut egui::Ui,
    (actions, outbox): (&mut ActionsState, &mut Outbox),
    spec: &ActionSpec,
    targets: impl FnOnce() -> Vec<Target>,
) {
    let input = actions.inputs.entry(spec.id.clone()).or_insert_with(|| spec.default_input());
    match (&spec.input, input) {
        (ActionInput::Count { prefix, min, max, .. }, InputValue::Count(value)) => {
            ui.add(egui::DragValue::new(value).range(*min..=*max).prefix(super::text(prefix)));
        }
        (ActionInput::Choice { label, options }, InputValue::Choice(value)) if !spec.destructive => {
            choice_ui(ui, (&spec.id, label), options, value);
        }
        _ => {}
    }
    if ui.button(super::text(&spec.label)).clicked() {
        let input = actions.inputs.get(&spec.id).cloned().unwrap_or_default();
        ActionsState::request(spec, ActionCall { id: spec.id.clone(), input }, targets(), outbox);
    }
}

fn choice_ui(ui: &mut egui::Ui, (id, label): (&str, &Text), options: &[(Arc<str>, Text)], value: &mut Arc<str>) {
    let shown = options.iter().find(|(v, _)| v == value).map_or_else(|| value.to_string(), |(_, l)| super::text(l));
    egui::ComboBox::new(("action_choice", id), super::text(label)).selected_text(shown).show_ui(ui, |ui| {
        for (option, option_label) in options {
            if ui.selectable_label(option == value, super::text(option_label)).clicked() {
                *value = option.clone();
            }
        }
    });
}

/// Buttons for the object open in the details pane: every registered action its kind offers
/// that the server's access reviews allow (shown while unanswered: the server refuses then).
pub fn actions_bar_ui(
    ui: &mut egui::Ui,
    (actions, outbox): (&mut ActionsState, &mut Outbox),
    open: Option<&(crate::model::KindKey, crate::model::ObjectKey)>,
    details: &DetailsSnapshot,
    registry: &Registry,
) {
    let (Some(kind), Some((kind_key, key))) = (details.kind.as_ref(), open.cloned()) else { return };
    if details.deleted || details.unavailable {
        return;
    }
    let target = Target { kind: kind_key.clone(), key };
    let allowed = |spec: &ActionSpec| {
        details
            .access
            .as_ref()
            .is_none_or(|access| spec.permissions(&kind_key).all(|p| access.allows(&p.verb, &p.group, &p.resource)))
    };
    ui.horizontal_wrapped(|ui| {
        for spec in registry.actions_for(&kind_key, &kind.verbs).filter(|spec| allowed(spec)) {
            match spec.runs {
                Runs::Backend => backend_action_ui(ui, (actions, outbox), spec, || vec![target.clone()]),
                Runs::Window => {
                    if let Some((_, draw)) = WINDOW_ACTIONS.iter().find(|(id, _)| *id == &*spec.id) {
                        draw(ui, actions, outbox, details, &target);
                    }
                }
            }
        }
        if let Some(access) = &details.access {
            hidden_actions_ui(ui, access, target.key.namespace.as_deref());
        }
    });
}

/// A quiet note that some actions are hidden, naming on hover each permission the user lacks.
fn hidden_actions_ui(ui: &mut egui::Ui, access: &crate::model::ObjectAccess, namespace: Option<&str>) {
    let denied: Vec<String> = access.denied().map(crate::model::Permission::describe).collect();
    if denied.is_empty() {
        return;
    }
    let scope = match namespace {
        Some(namespace) => t!("access.in_namespace", namespace = namespace).to_string(),
        None => t!("access.cluster_wide").to_string(),
    };
    let mut help = t!("access.missing_heading", scope = scope).to_string();
    for permission in &denied {
        help.push_str("\n• ");
        help.push_str(permission);
    }
    ui.weak(t!("access.hidden_actions", count = denied.len())).on_hover_text(help);
}

/// Actions over the rows chosen with Ctrl/Cmd-click, across clusters: only those the kind
/// offers on every selected row's cluster.
pub fn bulk_bar_ui(
    ui: &mut egui::Ui,
    (bulk, actions, outbox): (&mut BulkSelection, &mut ActionsState, &mut Outbox),
    table: &crate::model::TableSnapshot,
    fleet: &crate::model::FleetSnapshot,
    access: &crate::model::BulkAccess,
    registry: &Registry,
) {
    let table_kind = table.kind.as_ref().map(|k| k.key());
    if bulk.keys.is_empty() {
        return;
    }
    if bulk.kind != table_kind {
        bulk.keys.clear();
        return;
    }
    let Some(kind_key) = table_kind else { return };
    // Verbs every involved cluster serves for the kind.
    let clusters: std::collections::BTreeSet<_> = bulk.keys.iter().map(|k| k.cluster.clone()).collect();
    let verbs: Vec<std::sync::Arc<str>> = table
        .kind
        .as_ref()
        .map(|k| k.verbs.iter().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|verb| {
            clusters.iter().all(|id| {
                fleet.cluster(id).is_some_and(|c| c.kinds.iter().any(|k| k.key() == kind_key && k.supports(verb)))
            })
        })
        .collect();
    // Offered where the kind serves it and the server's answers allow it in every scope selected.
    let offered = |spec: &&ActionSpec| {
        spec.bulk && spec.permissions(&kind_key).all(|p| access.allows(&kind_key, &p.verb, &p.group, &p.resource))
    };
    // Targets are built only when an action is chosen: a selection can hold every row.
    ui.horizontal_wrapped(|ui| {
        ui.strong(t!("bulk.selected", count = bulk.keys.len()));
        for spec in registry.actions_for(&kind_key, &verbs).filter(offered) {
            backend_action_ui(ui, (actions, outbox), spec, || bulk.targets());
        }
        if bulk.keys.len() < table.rows.len()
            && ui
                .button(t!("bulk.select_all", count = table.rows.len()))
                .on_hover_text(t!("bulk.select_all_hint"))
                .clicked()
        {
            bulk.select(kind_key.clone(), table.rows.iter().map(|r| r.key.clone()));
        }
        if ui.button(t!("bulk.clear")).on_hover_text(t!("bulk.clear_hint")).clicked() {
            bulk.keys.clear();
        }
    });
}

/// The confirmation for a destructive action, while one waits; a choice the action takes (how
/// a delete treats dependents) is made here.
pub fn confirmation_ui(ctx: &egui::Context, actions: &mut ActionsState, outbox: &mut Outbox, registry: &Registry) {
    let Some(pending) = actions.confirmation.clone() else { return };
    let Some(spec) = registry.action(&pending.action.id) else {
        actions.confirmation = None;
        return;
    };
    let mut decision: Option<bool> = None;
    let mut call = pending.action.clone();
    let label = super::text(&spec.label);
    egui::Modal::new(egui::Id::unique("confirm_action")).show(ctx, |ui| {
        ui.heading(t!("confirm.title", action = label));
        for target in pending.targets.iter().take(10) {
            ui.monospace(format!(
                "{} · {} · {}",
                target.key.cluster,
                target.key.namespace.as_deref().unwrap_or("—"),
                target.key.name
            ));
        }
        if pending.targets.len() > 10 {
            ui.label(t!("confirm.more", count = pending.targets.len() - 10));
        }
        if let Some(detail) = &spec.confirm_detail {
            ui.label(super::text(detail));
        }
        if let (ActionInput::Choice { label, options }, InputValue::Choice(value)) = (&spec.input, &mut call.input) {
            choice_ui(ui, (&spec.id, label), options, value);
        }
        ui.horizontal(|ui| {
            let visuals = ui.visuals().clone();
            let confirm = egui::Button::new(
                egui::RichText::new(t!("confirm.yes", action = label))
                    .color(theme::tone_color(&visuals, CellTone::Bad)),
            );
            if ui.add(confirm).clicked() {
                decision = Some(true);
            }
            if ui.button(t!("confirm.cancel")).clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                decision = Some(false);
            }
        });
    });
    match decision {
        Some(true) => {
            actions.confirmation = None;
            // The choice made is the next one's default.
            actions.inputs.insert(call.id.clone(), call.input.clone());
            outbox.intend(Intent::Act { action: call, targets: pending.targets });
        }
        Some(false) => actions.confirmation = None,
        None => {
            if let Some(waiting) = actions.confirmation.as_mut() {
                waiting.action = call;
            }
        }
    }
}

/// The list of port-forwards, while shown.
pub fn forwards_window_ui(
    ctx: &egui::Context,
    shown: &mut ForwardsState,
    outbox: &mut Outbox,
    forwards: &crate::model::ForwardList,
) {
    use crate::model::ForwardState;
    if !shown.shown {
        return;
    }
    let mut open = true;
    let mut stop = None;
    egui::Window::new(t!("forward.title").to_string()).id(egui::Id::unique("forwards")).open(&mut open).show(
        ctx,
        |ui| {
            if forwards.forwards.is_empty() {
                ui.label(egui::RichText::new(t!("forward.none")).weak());
            }
            let visuals = ui.visuals().clone();
            egui::Grid::new("forwards_grid").num_columns(4).striped(true).show(ui, |ui| {
                for forward in &forwards.forwards {
                    let key = &forward.request.target.key;
                    ui.label(format!(
                        "{} · {} · {}:{}",
                        key.cluster,
                        key.namespace.as_deref().unwrap_or("—"),
                        key.name,
                        forward.request.remote_port
                    ));
                    match forward.local_port {
                        Some(port) => ui.hyperlink_to(format!("127.0.0.1:{port}"), format!("http://127.0.0.1:{port}/")),
                        None => theme::spinner_ui(ui),
                    };
                    match &forward.state {
                        ForwardState::Starting => ui.label(t!("forward.starting")),
                        ForwardState::Listening => ui.colored_label(
                            theme::tone_color(&visuals, CellTone::Good),
                            t!("forward.listening", connections = forward.connections),
                        ),
                        ForwardState::Degraded { error } => {
                            ui.colored_label(theme::tone_color(&visuals, CellTone::Warning), error.as_ref())
                        }
                        ForwardState::Failed { error } => {
                            ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), error.as_ref())
                        }
                    };
                    if ui.button(t!("forward.stop")).clicked() {
                        stop = Some(forward.id);
                    }
                    ui.end_row();
                }
            });
        },
    );
    if let Some(id) = stop {
        outbox.push(crate::model::Command::StopForward { id });
    }
    if !open {
        shown.shown = false;
    }
}

/// The latest actions and edits, newest first, at the bottom of the window.
/// "Output…" beside an activity whose message has more than one line (a command's output).
fn output_button_ui(
    ui: &mut egui::Ui,
    (what, subject): (&str, &str),
    rest: &str,
    output: &mut Option<(String, Arc<str>)>,
) {
    if !rest.is_empty() && ui.small_button(t!("activity.output")).clicked() {
        *output = Some((format!("{what} · {subject}"), Arc::from(rest)));
    }
}

/// The window of a finished action's output, selectable, scrolled.
pub fn output_window_ui(ctx: &egui::Context, output: &mut Option<(String, Arc<str>)>) {
    let Some((title, text)) = output.clone() else { return };
    let mut open = true;
    egui::Window::new(title).id(egui::Id::unique("action_output")).open(&mut open).default_size([760.0, 480.0]).show(
        ctx,
        |ui| {
            egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
                let mut shown: &str = &text;
                ui.add(
                    egui::TextEdit::multiline(&mut shown).font(egui::TextStyle::Monospace).desired_width(f32::INFINITY),
                );
            });
        },
    );
    if !open {
        *output = None;
    }
}

pub fn activity_strip_ui(ui: &mut egui::Ui, log: &ActivityLog, output: &mut Option<(String, Arc<str>)>) {
    if log.entries.is_empty() {
        return;
    }
    egui::Panel::bottom("activity").resizable(false).show(ui, |ui| {
        let visuals = ui.visuals().clone();
        for activity in log.entries.iter().rev().take(3) {
            ui.horizontal(|ui| {
                let what = super::text(&activity.what);
                match &activity.outcome {
                    Outcome::Running => {
                        theme::spinner_ui(ui);
                        ui.label(format!("{what} · {}", activity.subject));
                    }
                    Outcome::Done { message } => {
                        let (first, rest) = message.split_once('\n').unwrap_or((message, ""));
                        ui.colored_label(
                            theme::tone_color(&visuals, CellTone::Good),
                            format!("✔ {what} · {} · {first}", activity.subject),
                        );
                        output_button_ui(ui, (&what, &activity.subject), rest, output);
                    }
                    Outcome::Failed { message } => {
                        let (first, rest) = message.split_once('\n').unwrap_or((message, ""));
                        ui.colored_label(
                            theme::tone_color(&visuals, CellTone::Bad),
                            format!("✖ {what} · {} · {first}", activity.subject),
                        );
                        output_button_ui(ui, (&what, &activity.subject), rest, output);
                    }
                    Outcome::Conflict { .. } => {
                        ui.colored_label(
                            theme::tone_color(&visuals, CellTone::Warning),
                            format!("⚠ {what} · {} · {}", activity.subject, t!("edit.conflict_title")),
                        );
                    }
                }
            });
        }
    });
}
