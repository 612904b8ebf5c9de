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
pub mod palette;
pub mod plugins;
pub mod resource_table;
pub mod sidebar;
pub mod terminal;
pub mod theme;
pub mod views;

use crate::model::registry::{AppBarTarget, ViewId, builtin};
use crate::state::{Intent, Outbox, Settings, ThemeChoice};
use rust_i18n::t;

/// A registered name in the user's language: Klieg's translation of a key, or an extension's
/// own text.
pub fn text(text: &crate::model::Text) -> String {
    match text {
        crate::model::Text::Key(key) => t!(*key).to_string(),
        crate::model::Text::Plain(plain) => plain.to_string(),
    }
}

/// The app's handlers of app-bar buttons that open a window (`AppBarTarget::Window`), by id.
const APP_BAR_WINDOWS: [(&str, Intent); 2] =
    [(builtin::FORWARDS_WINDOW, Intent::ToggleForwards), (builtin::CREATE_WINDOW, Intent::OpenCreate)];

/// Title, the registered app-bar buttons, theme and language switches.
pub fn top_bar_ui(
    ui: &mut egui::Ui,
    (settings, outbox, commands): (&mut Settings, &mut Outbox, &mut Vec<std::sync::Arc<str>>),
    shown_view: Option<&ViewId>,
    registry: &crate::model::Registry,
) {
    egui::Panel::top("top_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading(t!("app.title"));
            ui.label(egui::RichText::new(t!("app.tagline")).weak());
            for action in registry.app_bar_actions() {
                let response = match &action.opens {
                    AppBarTarget::View(view) => {
                        let shown = shown_view == Some(view);
                        let response = ui.selectable_label(shown, text(&action.label));
                        if response.clicked() {
                            outbox.intend(Intent::ShowView((!shown).then(|| view.clone())));
                        }
                        response
                    }
                    AppBarTarget::Window => {
                        let Some((_, intent)) = APP_BAR_WINDOWS.iter().find(|(id, _)| *id == &*action.id) else {
                            continue;
                        };
                        let response = ui.button(text(&action.label));
                        if response.clicked() {
                            outbox.intend(intent.clone());
                        }
                        response
                    }
                    AppBarTarget::Command(id) => {
                        let response = ui.button(text(&action.label));
                        if response.clicked() {
                            commands.push(id.clone());
                        }
                        response
                    }
                };
                if let Some(hint) = &action.hint {
                    response.on_hover_text(text(hint));
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let current = crate::LOCALES
                    .iter()
                    .find(|(code, _)| *code == settings.locale)
                    .map_or("English", |(_, name)| name);
                egui::ComboBox::from_label(t!("settings.language")).selected_text(current).show_ui(ui, |ui| {
                    for (code, name) in crate::LOCALES {
                        if ui.selectable_label(settings.locale == code, name).clicked() {
                            settings.locale = code.to_string();
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
                    ui.selectable_value(&mut settings.theme, choice, t!(key));
                }
                ui.label(t!("settings.theme"));
            });
        });
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_icon_and_mark_has_a_glyph_in_the_fonts() {
        let ctx = egui::Context::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
        output.textures_delta.clear();
        let registry = crate::model::Registry::with_builtins();
        let mut glyphs = registry.kind_icons().iter().map(|icon| icon.glyph.clone()).collect::<Vec<_>>();
        assert!(glyphs.len() >= 20, "the common kinds have icons");
        glyphs.push(std::sync::Arc::from(super::logs::CONTINUED_MARK.trim()));
        ctx.fonts_mut(|fonts| {
            for glyph in &glyphs {
                assert!(fonts.has_glyphs(&egui::FontId::proportional(14.0), glyph), "{glyph} would draw as a box");
            }
        });
    }
}
