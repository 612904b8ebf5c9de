//! The command palette (Ctrl+K): every registered command (plugins' among them), filtered by
//! fuzzy matching as the user types, run with Enter or a click. UI thread, drawing only; the
//! chosen command goes to the app, which runs it with where the user is.

use crate::model::Registry;
use crate::state::PaletteState;
use rust_i18n::t;
use std::sync::Arc;

/// Commands listed at most (the best matches).
pub const PALETTE_MAX_SHOWN: usize = 50;

/// The registered commands matching `query`, best first (all, in order, for an empty query).
pub fn matching_commands<'a>(registry: &'a Registry, query: &str) -> Vec<&'a crate::model::registry::CommandSpec> {
    use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
    let commands = registry.commands();
    if query.trim().is_empty() {
        return commands.iter().take(PALETTE_MAX_SHOWN).collect();
    }
    let mut matcher = nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT);
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let titled: Vec<(String, &crate::model::registry::CommandSpec)> =
        commands.iter().map(|c| (format!("{} {}", super::text(&c.title), super::text(&c.source)), c)).collect();
    let mut scored: Vec<(u32, usize)> = titled
        .iter()
        .enumerate()
        .filter_map(|(index, (title, _))| {
            let mut buffer = Vec::new();
            let haystack = nucleo_matcher::Utf32Str::new(title, &mut buffer);
            pattern.score(haystack, &mut matcher).map(|score| (score, index))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(PALETTE_MAX_SHOWN).map(|(_, index)| titled[index].1).collect()
}

/// Opens on Ctrl+K, closes on Escape; returns the command chosen this frame.
pub fn palette_ui(ctx: &egui::Context, palette: &mut PaletteState, registry: &Registry) -> Option<Arc<str>> {
    if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::K)) {
        palette.open = !palette.open;
        palette.query.clear();
        palette.selected = 0;
    }
    if !palette.open {
        return None;
    }
    let mut chosen = None;
    let mut open = true;
    egui::Window::new(t!("palette.title"))
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 60.0])
        .open(&mut open)
        .show(ctx, |ui| {
            let typed = ui.add(
                egui::TextEdit::singleline(&mut palette.query)
                    .hint_text(t!("palette.hint"))
                    .desired_width(420.0)
                    .id_salt("palette_query"),
            );
            typed.request_focus();
            if typed.changed() {
                palette.selected = 0;
            }
            let found = matching_commands(registry, &palette.query);
            if found.is_empty() {
                ui.weak(t!("palette.none"));
                return;
            }
            let (down, up, enter) = ui.input_mut(|i| {
                (
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowDown),
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowUp),
                    i.consume_key(egui::Modifiers::NONE, egui::Key::Enter),
                )
            });
            if down {
                palette.selected = (palette.selected + 1).min(found.len() - 1);
            }
            if up {
                palette.selected = palette.selected.saturating_sub(1);
            }
            palette.selected = palette.selected.min(found.len() - 1);
            egui::ScrollArea::vertical().max_height(360.0).show(ui, |ui| {
                for (index, command) in found.iter().enumerate() {
                    let label = format!("{}  ·  {}", super::text(&command.title), super::text(&command.source));
                    if ui.selectable_label(index == palette.selected, label).clicked() {
                        chosen = Some(command.id.clone());
                    }
                }
            });
            if enter {
                chosen = Some(found[palette.selected].id.clone());
            }
        });
    if chosen.is_some() || !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        palette.open = false;
    }
    chosen
}
