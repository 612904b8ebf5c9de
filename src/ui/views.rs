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

/// Nodes of one text block at most this tall before it scrolls.
const YAML_MAX_HEIGHT: f32 = 320.0;

/// The content an extension built for its view (from the snapshot it keeps; never waits):
/// headings, sections, badges, YAML, buttons and forms. Buttons and forms add to `inputs`.
pub fn live_view_ui(
    ui: &mut egui::Ui,
    view: &ViewSpec,
    (views, details): (&mut crate::state::ViewsState, &mut crate::state::DetailsState),
    context: &crate::model::registry::CommandContext,
) {
    use crate::model::registry::ViewInput;
    let Some(live) = &view.live else { return };
    let tree = (live.current)();
    if let Some(error) = &tree.error {
        ui.colored_label(super::theme::tone_color(ui.visuals(), crate::model::CellTone::Bad), error.as_ref());
        return;
    }
    if tree.generation == 0 {
        // Never built (a plugin's reload gives the view a new, empty snapshot): ask once.
        if !tree.building {
            views.inputs.push((view.id.clone(), ViewInput::Opened { context: context.clone() }));
        }
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak(rust_i18n::t!("view.building"));
        });
        return;
    }
    // Only the nodes in sight are laid out: each node's height is remembered once drawn (until
    // the tree changes), the others take their remembered (or a typical) height as space.
    let heights_id = egui::Id::unique(("view_node_heights", &*view.id.0));
    let mut heights: Vec<f32> = ui
        .data_mut(|d| d.get_temp::<(u64, Vec<f32>)>(heights_id))
        .filter(|(generation, h)| *generation == tree.generation && h.len() == tree.nodes.len())
        .map(|(_, h)| h)
        .unwrap_or_else(|| vec![TYPICAL_NODE_HEIGHT; tree.nodes.len()]);
    let max_height = if view.tables.is_empty() { f32::INFINITY } else { ui.available_height() * 0.45 };
    egui::ScrollArea::vertical()
        .id_salt(("live_view", &*view.id.0))
        .max_height(max_height)
        .auto_shrink([false, true])
        .show_viewport(ui, |ui, viewport| {
            let spacing = ui.spacing().item_spacing.y;
            let mut top = 0.0;
            for (index, node) in tree.nodes.iter().enumerate() {
                let height = heights[index];
                let visible =
                    top + height >= viewport.min.y - VIEWPORT_MARGIN && top <= viewport.max.y + VIEWPORT_MARGIN;
                if visible {
                    let before = ui.cursor().min.y;
                    view_node_ui(ui, (view, &tree, index, node), (views, details), context);
                    heights[index] = (ui.cursor().min.y - before - spacing).max(1.0);
                } else {
                    ui.add_space(height);
                }
                top += heights[index] + spacing;
            }
        });
    ui.data_mut(|d| d.insert_temp(heights_id, (tree.generation, heights)));
    if tree.building {
        ui.spinner();
    }
    ui.separator();
}

/// A node of a built view never drawn yet is taken to be this tall.
const TYPICAL_NODE_HEIGHT: f32 = 22.0;
/// Nodes this far outside the visible part are drawn too (no blank edge while scrolling).
const VIEWPORT_MARGIN: f32 = 200.0;

/// One node of a built view; buttons and forms add to `views.inputs`.
fn view_node_ui(
    ui: &mut egui::Ui,
    (view, tree, index, node): (&ViewSpec, &crate::model::registry::ViewTree, usize, &crate::model::registry::ViewNode),
    (views, details): (&mut crate::state::ViewsState, &mut crate::state::DetailsState),
    context: &crate::model::registry::CommandContext,
) {
    use crate::model::registry::{ViewInput, ViewNode};
    let id = format!("{}/{index}", view.id.0);
    match node {
        ViewNode::Heading(text) => {
            ui.strong(text.as_ref());
        }
        ViewNode::Body(body) => super::details::section_body_ui(ui, details, &id, body),
        ViewNode::Badges(badges) => {
            ui.horizontal_wrapped(|ui| {
                for (text, tone) in badges {
                    let color = super::theme::tone_color(ui.visuals(), *tone);
                    egui::Frame::new()
                        .stroke(egui::Stroke::new(1.0, color))
                        .corner_radius(8.0)
                        .inner_margin(egui::Margin::symmetric(6, 1))
                        .show(ui, |ui| ui.colored_label(color, text.as_ref()));
                }
            });
        }
        ViewNode::Yaml(text) => {
            egui::ScrollArea::vertical().id_salt(("view_yaml", &id)).max_height(YAML_MAX_HEIGHT).show(ui, |ui| {
                ui.add(egui::Label::new(egui::RichText::new(text.as_ref()).monospace()).selectable(true));
            });
        }
        ViewNode::Buttons(buttons) => {
            ui.horizontal_wrapped(|ui| {
                for (button, label) in buttons {
                    if ui.add_enabled(!tree.building, egui::Button::new(label.as_ref())).clicked() {
                        let input = ViewInput::Button { id: button.clone(), context: context.clone() };
                        views.inputs.push((view.id.clone(), input));
                    }
                }
            });
        }
        ViewNode::Form { id: form, fields, submit } => {
            let key = (view.id.0.clone(), form.clone());
            let values = views.forms.entry(key).or_default();
            egui::Grid::new(("view_form", &id)).num_columns(2).show(ui, |ui| {
                for field in fields {
                    ui.label(field.label.as_ref());
                    let value = values.entry(field.key.clone()).or_insert_with(|| field.initial());
                    let response = super::plugins::field_ui(ui, field, value);
                    if let Some(help) = &field.help {
                        response.on_hover_text(help.as_ref());
                    }
                    ui.end_row();
                }
            });
            if ui.add_enabled(!tree.building, egui::Button::new(submit.as_ref())).clicked() {
                let input = ViewInput::Submit { form: form.clone(), values: values.clone(), context: context.clone() };
                views.inputs.push((view.id.clone(), input));
            }
        }
        ViewNode::Separator => {
            ui.separator();
        }
    }
}
