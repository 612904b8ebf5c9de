//! Views registered as data (a plugin's): their title, introduction and a tab per table; the
//! chosen tab's kind is what the generic table below lists. UI thread, drawing only.

use crate::model::registry::ViewSpec;
use crate::state::Selection;

/// The view's header and tabs; keeps the selection on one of its tables' kinds.
pub fn registered_view_header_ui(ui: &mut egui::Ui, view: &ViewSpec, selection: &mut Selection) {
    ui.heading(super::text(&view.title));
    if let Some(intro) = &view.intro {
        ui.label(super::text(intro));
    }
    let on_a_tab = view.tables.iter().any(|table| selection.kind.as_ref() == Some(&table.kind));
    if !on_a_tab && let Some(first) = view.tables.first() {
        selection.kind = Some(first.kind.clone());
    }
    ui.horizontal(|ui| {
        for table in &view.tables {
            let chosen = selection.kind.as_ref() == Some(&table.kind);
            if ui.selectable_label(chosen, super::text(&table.title)).clicked() {
                selection.kind = Some(table.kind.clone());
            }
        }
    });
    ui.separator();
}
