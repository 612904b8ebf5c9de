//! Drawing code: panels and widgets that read UI state and snapshots. UI thread only; nothing
//! here does I/O or talks to the backend directly.

pub mod actions;
pub mod charts;
pub mod clusters;
pub mod details;
pub mod editor;
pub mod fonts;
pub mod logs;
pub mod overview;
pub mod resource_table;
pub mod sidebar;
pub mod terminal;
pub mod theme;

use crate::state::{ThemeChoice, UiState};
use rust_i18n::t;

/// A registered name in the user's language: Klieg's translation of a key, or an extension's
/// own text.
pub fn text(text: &crate::model::Text) -> String {
    match text {
        crate::model::Text::Key(key) => t!(*key).to_string(),
        crate::model::Text::Plain(plain) => plain.to_string(),
    }
}

/// Title, the registered app-bar buttons, theme and language switches.
pub fn top_bar_ui(ui: &mut egui::Ui, state: &mut UiState, registry: &crate::model::Registry) {
    egui::Panel::top("top_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading(t!("app.title"));
            ui.label(egui::RichText::new(t!("app.tagline")).weak());
            for action in registry.app_bar_actions() {
                let shown = state.view.as_ref() == Some(&action.view);
                if ui.selectable_label(shown, text(&action.label)).clicked() {
                    state.view = if shown { None } else { Some(action.view.clone()) };
                }
            }
            if ui.button(t!("forward.open")).clicked() {
                state.show_forwards = !state.show_forwards;
            }
            if ui.button(t!("create.open")).on_hover_text(t!("create.title")).clicked() {
                state.create.open = true;
                if state.create.cluster.is_none() {
                    state.create.cluster = state.selected_clusters.iter().next().cloned();
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let current = crate::LOCALES
                    .iter()
                    .find(|(code, _)| *code == state.settings.locale)
                    .map_or("English", |(_, name)| name);
                egui::ComboBox::from_label(t!("settings.language")).selected_text(current).show_ui(ui, |ui| {
                    for (code, name) in crate::LOCALES {
                        if ui.selectable_label(state.settings.locale == code, name).clicked() {
                            state.settings.locale = code.to_string();
                            rust_i18n::set_locale(code);
                        }
                    }
                });
                ui.separator();
                for (choice, key) in [
                    (ThemeChoice::Light, "theme.light"),
                    (ThemeChoice::Dark, "theme.dark"),
                    (ThemeChoice::System, "theme.system"),
                ] {
                    ui.selectable_value(&mut state.settings.theme, choice, t!(key));
                }
                ui.label(t!("settings.theme"));
            });
        });
    });
}
