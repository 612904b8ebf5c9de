//! The Plugins page: every plugin found, where it stands (running, off, stopped and why), what
//! it may do, its memory and load time; turning one on (after reviewing its capabilities), off,
//! or reloading it. UI thread; the requests go to the plugin host, which never blocks a frame.

use crate::model::CellTone;
use crate::model::registry::{FieldKind, FieldValue, FormField};
use crate::plugins::{PluginInfo, PluginList, PluginState};
use crate::state::{PluginRequest, PluginsPageState, Settings};
use crate::ui::theme;
use rust_i18n::t;

pub fn plugins_ui(ui: &mut egui::Ui, list: &PluginList, page: &mut PluginsPageState, settings: &Settings) {
    ui.heading(t!("plugins.title"));
    if settings_safe_mode(list) {
        ui.colored_label(theme::tone_color(ui.visuals(), CellTone::Warning), t!("plugins.safe_mode_banner"));
    }
    if list.plugins.is_empty() {
        ui.label(egui::RichText::new(t!("plugins.none")).weak());
        return;
    }
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        for plugin in &list.plugins {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                plugin_ui(ui, plugin, page);
                if !plugin.settings.is_empty() && !plugin.id.is_empty() {
                    plugin_settings_ui(ui, plugin, page, settings);
                }
            });
            ui.add_space(6.0);
        }
    });
}

fn settings_safe_mode(list: &PluginList) -> bool {
    list.plugins.iter().any(|p| p.state == PluginState::SafeMode)
}

fn state_tone(state: &PluginState) -> CellTone {
    match state {
        PluginState::Running => CellTone::Good,
        PluginState::Off | PluginState::SafeMode => CellTone::Normal,
        PluginState::NeedsGrant(_) => CellTone::Warning,
        PluginState::Failed(_) | PluginState::Invalid(_) => CellTone::Bad,
    }
}

fn plugin_ui(ui: &mut egui::Ui, plugin: &PluginInfo, page: &mut PluginsPageState) {
    ui.horizontal(|ui| {
        ui.strong(plugin.name.as_ref());
        ui.label(egui::RichText::new(plugin.version.as_ref()).weak());
        let tone = theme::tone_color(ui.visuals(), state_tone(&plugin.state));
        ui.colored_label(tone, plugin.state.label());
        if plugin.development {
            ui.label(egui::RichText::new(t!("plugins.development")).weak())
                .on_hover_text(t!("plugins.development_hint"));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| buttons_ui(ui, plugin, page));
    });
    if !plugin.id.is_empty() {
        ui.label(egui::RichText::new(plugin.id.as_ref()).monospace().small().weak());
    }
    if !plugin.description.is_empty() {
        ui.label(plugin.description.as_ref());
    }
    match &plugin.state {
        PluginState::Failed(reason) | PluginState::Invalid(reason) => {
            ui.colored_label(theme::tone_color(ui.visuals(), CellTone::Bad), reason);
        }
        PluginState::NeedsGrant(asked) => {
            ui.colored_label(
                theme::tone_color(ui.visuals(), CellTone::Warning),
                t!("plugins.asks_for_more", tokens = asked.join(", ")),
            );
        }
        _ => {}
    }
    ui.label(egui::RichText::new(plugin.folder.as_ref()).small().weak());
    if plugin.state == PluginState::Running {
        let memory_mib = plugin.memory_bytes as f64 / (1024.0 * 1024.0);
        let figures =
            t!("plugins.figures", memory = format!("{memory_mib:.1}"), load = format!("{:.1}", plugin.load_ms));
        ui.label(egui::RichText::new(figures).small().weak());
    }
    let reviewing = page.reviewing.as_deref() == Some(&*plugin.id);
    if reviewing {
        review_ui(ui, plugin, page);
    } else if !plugin.capabilities.is_empty() {
        // One header per plugin, all with the same words: each needs its own id.
        egui::CollapsingHeader::new(t!("plugins.capabilities")).id_salt(("plugin_capabilities", &*plugin.id)).show(
            ui,
            |ui| {
                for line in &plugin.capabilities {
                    ui.label(format!("• {line}"));
                }
            },
        );
    }
}

fn buttons_ui(ui: &mut egui::Ui, plugin: &PluginInfo, page: &mut PluginsPageState) {
    if plugin.id.is_empty() {
        return;
    }
    let id = plugin.id.to_string();
    match &plugin.state {
        PluginState::Running => {
            if ui.button(t!("plugins.disable")).clicked() {
                page.requests.push(PluginRequest::Disable { id: id.clone() });
            }
            if ui.button(t!("plugins.reload")).clicked() {
                page.requests.push(PluginRequest::Reload { id });
            }
        }
        PluginState::Failed(_) => {
            if ui.button(t!("plugins.disable")).clicked() {
                page.requests.push(PluginRequest::Disable { id: id.clone() });
            }
            if ui.button(t!("plugins.retry")).clicked() {
                page.requests.push(PluginRequest::Reload { id });
            }
        }
        PluginState::Off | PluginState::NeedsGrant(_) => {
            // Development plugins run with what they declare; installed ones are reviewed first.
            if plugin.development || plugin.capability_tokens.is_empty() {
                if ui.button(t!("plugins.enable")).clicked() {
                    page.requests.push(PluginRequest::Enable { id, granted: plugin.capability_tokens.clone() });
                }
            } else if ui.button(t!("plugins.review")).clicked() {
                page.reviewing = Some(id);
            }
        }
        PluginState::SafeMode | PluginState::Invalid(_) => {}
    }
}

/// The capabilities a plugin asks for, granted all together or not at all.
fn review_ui(ui: &mut egui::Ui, plugin: &PluginInfo, page: &mut PluginsPageState) {
    ui.separator();
    ui.label(t!("plugins.review_intro"));
    for line in &plugin.capabilities {
        ui.label(format!("• {line}"));
    }
    ui.label(egui::RichText::new(t!("plugins.review_rbac")).small().weak());
    ui.horizontal(|ui| {
        if ui.button(t!("plugins.grant")).clicked() {
            let granted = plugin.capability_tokens.clone();
            page.requests.push(PluginRequest::Enable { id: plugin.id.to_string(), granted });
            page.reviewing = None;
        }
        if ui.button(t!("plugins.cancel")).clicked() {
            page.reviewing = None;
        }
    });
}

/// Applies what the page asked to the saved settings (so the choice outlives the session).
pub fn remember_requests(requests: &[PluginRequest], settings: &mut Settings) {
    for request in requests {
        match request {
            PluginRequest::Enable { id, granted } => {
                let choice = settings.plugins.entry(id.clone()).or_default();
                choice.enabled = true;
                choice.granted = granted.clone();
            }
            PluginRequest::Disable { id } => settings.plugins.entry(id.clone()).or_default().enabled = false,
            PluginRequest::Reload { .. } => {}
            PluginRequest::Setting { secret: true, .. } => {}
            PluginRequest::Setting { id, key, value, secret: false } => {
                settings.plugins.entry(id.clone()).or_default().settings.insert(key.clone(), value.to_json());
            }
        }
    }
}

/// A saved setting as the plugin host takes it.
pub fn field_value_of(json: &serde_json::Value) -> Option<FieldValue> {
    match json {
        serde_json::Value::Bool(on) => Some(FieldValue::Toggle(*on)),
        serde_json::Value::Number(n) => n.as_f64().map(FieldValue::Number),
        serde_json::Value::String(text) => Some(FieldValue::Text(std::sync::Arc::from(text.as_str()))),
        _ => None,
    }
}

/// One field of a form or settings page, editing `value` in place.
pub fn field_ui(ui: &mut egui::Ui, field: &FormField, value: &mut FieldValue) -> egui::Response {
    match (&field.kind, value) {
        (FieldKind::Toggle, FieldValue::Toggle(on)) => ui.checkbox(on, ""),
        (FieldKind::Number, FieldValue::Number(n)) => ui.add(egui::DragValue::new(n)),
        (FieldKind::Choice(choices), FieldValue::Text(chosen)) => {
            egui::ComboBox::from_id_salt(("field", &*field.key))
                .selected_text(chosen.as_ref())
                .show_ui(ui, |ui| {
                    for choice in choices {
                        if ui.selectable_label(*chosen == *choice, choice.as_ref()).clicked() {
                            *chosen = choice.clone();
                        }
                    }
                })
                .response
        }
        (kind, FieldValue::Text(text)) => {
            let mut typed = text.to_string();
            let edit = egui::TextEdit::singleline(&mut typed).password(*kind == FieldKind::Secret).desired_width(260.0);
            let response = ui.add(edit);
            if response.changed() {
                *text = std::sync::Arc::from(typed);
            }
            response
        }
        (_, value) => {
            *value = field.initial();
            ui.label("")
        }
    }
}

/// A plugin's settings page, drawn from the schema in its manifest; each field applies when
/// the user presses Apply (a secret one goes to the keyring and is never shown again).
fn plugin_settings_ui(ui: &mut egui::Ui, plugin: &PluginInfo, page: &mut PluginsPageState, settings: &Settings) {
    let id = plugin.id.to_string();
    let saved = settings.plugins.get(&id).map(|c| &c.settings);
    egui::CollapsingHeader::new(t!("plugins.settings")).id_salt(("plugin_settings", &*plugin.id)).show(ui, |ui| {
        egui::Grid::new(("plugin_settings_grid", &*plugin.id)).num_columns(2).show(ui, |ui| {
            for field in &plugin.settings {
                ui.label(field.label.as_ref());
                let key = (id.clone(), field.key.to_string());
                let current = saved
                    .and_then(|s| s.get(&*field.key))
                    .and_then(field_value_of)
                    .filter(|_| field.kind != FieldKind::Secret)
                    .unwrap_or_else(|| match field.kind {
                        FieldKind::Secret => FieldValue::Text(std::sync::Arc::from("")),
                        _ => field.initial(),
                    });
                let value = page.editing.entry(key).or_insert(current);
                let response = field_ui(ui, field, value);
                if let Some(help) = &field.help {
                    response.on_hover_text(help.as_ref());
                }
                ui.end_row();
            }
        });
        if ui.button(t!("plugins.apply_settings")).clicked() {
            for field in &plugin.settings {
                let key = (id.clone(), field.key.to_string());
                let Some(value) = page.editing.get(&key).cloned() else { continue };
                let secret = field.kind == FieldKind::Secret;
                if secret {
                    // Typed once, kept in the keyring; the field empties again.
                    page.editing.remove(&key);
                    if value == FieldValue::Text(std::sync::Arc::from("")) {
                        continue;
                    }
                }
                page.requests.push(PluginRequest::Setting {
                    id: id.clone(),
                    key: field.key.to_string(),
                    value,
                    secret,
                });
            }
        }
    });
}

/// The first write a plugin waits to make, shown whole, with its answers.
pub fn prompt_ui(ctx: &egui::Context, inbox: &crate::app::plugin_services::SharedInbox, settings: &mut Settings) {
    use crate::plugins::services::Answer;
    let mut inbox = inbox.lock();
    let Some(pending) = inbox.prompts.front() else { return };
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("plugin_prompt")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        ui.heading(t!("plugins.prompt_title"));
        ui.label(&pending.prompt.summary);
        if !pending.prompt.detail.is_empty() {
            egui::ScrollArea::vertical().max_height(240.0).show(ui, |ui| {
                ui.add(egui::Label::new(egui::RichText::new(&pending.prompt.detail).monospace()).selectable(true));
            });
        }
        ui.label(egui::RichText::new(t!("plugins.prompt_rbac")).small().weak());
        ui.horizontal(|ui| {
            if ui.button(t!("plugins.prompt_yes")).clicked() {
                answer = Some(Answer::Yes);
            }
            if pending.prompt.can_trust && ui.button(t!("plugins.prompt_always")).clicked() {
                answer = Some(Answer::Always);
            }
            if ui.button(t!("plugins.cancel")).clicked() {
                answer = Some(Answer::No);
            }
        });
    });
    if let Some(answer) = answer
        && let Some(pending) = inbox.prompts.pop_front()
    {
        if answer == Answer::Always {
            settings.plugins.entry(pending.prompt.plugin.to_string()).or_default().trust_writes = true;
        }
        // The plugin may have given up waiting; then nobody hears the answer.
        let _ = pending.reply.try_send(answer);
        ctx.request_repaint();
    }
}

/// How long a plugin's notice stays.
pub const NOTICE_SHOWN: std::time::Duration = std::time::Duration::from_secs(8);

/// Plugins' notices, newest last, in the window's lower right corner, each for [`NOTICE_SHOWN`].
pub fn notices_ui(ctx: &egui::Context, inbox: &crate::app::plugin_services::SharedInbox) {
    let mut inbox = inbox.lock();
    inbox.notices.retain(|n| n.at.elapsed() < NOTICE_SHOWN);
    let Some(oldest) = inbox.notices.front() else { return };
    ctx.request_repaint_after(NOTICE_SHOWN.saturating_sub(oldest.at.elapsed()));
    egui::Area::new(egui::Id::unique("plugin_notices"))
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -36.0])
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            for notice in &inbox.notices {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(360.0);
                    ui.label(egui::RichText::new(&notice.plugin).small().weak());
                    ui.colored_label(theme::tone_color(ui.visuals(), notice.tone), &notice.text);
                });
            }
        });
}

/// What plugins put over the window: the command palette, a write to confirm, notices.
pub fn overlays_ui(
    ctx: &egui::Context,
    state: &mut crate::state::UiState,
    inbox: &crate::app::plugin_services::SharedInbox,
    registry: &crate::model::Registry,
) {
    if let Some(command) = super::palette::palette_ui(ctx, &mut state.palette, registry) {
        state.views.commands.push(command);
    }
    prompt_ui(ctx, inbox, &mut state.settings);
    notices_ui(ctx, inbox);
}
