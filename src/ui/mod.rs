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

/// Title, theme and language switches.
pub fn top_bar_ui(ui: &mut egui::Ui, state: &mut UiState) {
    egui::Panel::top("top_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading(t!("app.title"));
            ui.label(egui::RichText::new(t!("app.tagline")).weak());
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
