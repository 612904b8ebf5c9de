//! The Plugins page: every plugin found, where it stands (running, off, stopped and why), what
//! it may do, its memory and load time; turning one on (after reviewing its capabilities), off,
//! or reloading it. UI thread; the requests go to the plugin host, which never blocks a frame.

use crate::model::CellTone;
use crate::plugins::{PluginInfo, PluginList, PluginState};
use crate::state::{PluginRequest, PluginsPageState, Settings};
use crate::ui::theme;
use rust_i18n::t;

pub fn plugins_ui(ui: &mut egui::Ui, list: &PluginList, page: &mut PluginsPageState) {
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
        }
    }
}
