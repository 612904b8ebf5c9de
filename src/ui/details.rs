//! The details pane of the open object: metadata, labels, annotations, related objects that navigate,
//! conditions, events, Secret values masked until revealed, and highlighted read-only YAML. UI thread.

use super::theme;
use crate::backend::details::SECRET_MASK;
use crate::model::registry::SectionBody;
use crate::model::{CellTone, DetailsSnapshot, Registry, row::format_age};
use crate::state::{ActionsState, DetailsState, DetailsTab, Outbox, Settings};
use rust_i18n::t;
use std::sync::Arc;

/// What the details pane charts: metrics-server usage and Prometheus series.
#[derive(Clone, Copy)]
pub struct LiveData<'a> {
    pub usage: &'a crate::model::UsageHistory,
    pub charts: &'a crate::model::ChartSet,
}

/// What the details pane changes: its own state, the inputs of its action buttons, the chart
/// settings of its Metrics tab, and the outbox.
pub struct DetailsParts<'a> {
    pub details: &'a mut DetailsState,
    pub actions: &'a mut ActionsState,
    pub settings: &'a mut Settings,
    pub outbox: &'a mut Outbox,
}

pub fn details_panel_ui(
    ui: &mut egui::Ui,
    parts: DetailsParts<'_>,
    details: &DetailsSnapshot,
    live: LiveData<'_>,
    registry: &Registry,
    now_unix_secs: i64,
) {
    let DetailsParts { details: state, actions, settings, outbox } = parts;
    egui::Panel::right("details").resizable(true).default_size(520.0).min_size(320.0).show(ui, |ui| {
        let Some((_, key)) = state.open.clone() else {
            return;
        };
        ui.horizontal(|ui| {
            let kind = details.kind.as_ref().map(|k| k.kind.to_string()).unwrap_or_default();
            ui.heading(format!("{kind} {}", key.name));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(t!("details.close")).clicked() {
                    state.open = None;
                }
            });
        });
        ui.label(egui::RichText::new(format!("{} · {}", key.cluster, key.namespace.as_deref().unwrap_or("—"))).weak());
        if details.key.as_ref() == Some(&key) {
            super::actions::actions_bar_ui(ui, (actions, outbox), state.open.as_ref(), details, registry);
        }
        ui.horizontal(|ui| {
            ui.selectable_value(&mut state.tab, DetailsTab::Overview, t!("details.overview"));
            ui.selectable_value(&mut state.tab, DetailsTab::Yaml, t!("details.yaml"));
            let chartable = details.kind.as_ref().is_some_and(|k| registry.chart_panel_for(&k.key()).is_some());
            if chartable {
                ui.selectable_value(&mut state.tab, DetailsTab::Metrics, t!("details.metrics"));
            } else if state.tab == DetailsTab::Metrics {
                state.tab = DetailsTab::Overview;
            }
        });
        ui.separator();
        let is_current = details.key.as_ref() == Some(&key);
        if is_current && details.unavailable {
            ui.colored_label(theme::tone_color(ui.visuals(), CellTone::Warning), t!("details.unavailable"));
            return;
        }
        if !is_current || (details.loading && details.uid.is_empty()) {
            theme::spinner_ui(ui);
            return;
        }
        let visuals = ui.visuals().clone();
        if let Some(error) = &details.error {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), t!("details.error", error = error.as_ref()));
        }
        if details.deleted {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Warning), t!("details.deleted"));
        }
        match state.tab {
            DetailsTab::Overview => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| overview_ui(ui, state, details, live.usage, now_unix_secs));
            }
            DetailsTab::Metrics => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| super::charts::prometheus_charts_ui(ui, settings, &key, live.charts));
            }
            DetailsTab::Yaml => yaml_ui(ui, state, details),
        }
    });
}

fn key_values_ui(ui: &mut egui::Ui, id: &str, pairs: &[(std::sync::Arc<str>, std::sync::Arc<str>)]) {
    if pairs.is_empty() {
        ui.label(egui::RichText::new(t!("details.none")).weak());
        return;
    }
    egui::Grid::new(id).num_columns(2).striped(true).show(ui, |ui| {
        for (k, v) in pairs {
            ui.monospace(k.as_ref());
            ui.add(egui::Label::new(egui::RichText::new(v.as_ref()).monospace()).wrap());
            ui.end_row();
        }
    });
}

fn overview_ui(
    ui: &mut egui::Ui,
    state: &mut DetailsState,
    details: &DetailsSnapshot,
    usage: &crate::model::UsageHistory,
    now_unix_secs: i64,
) {
    let visuals = ui.visuals().clone();
    egui::Grid::new("metadata").num_columns(2).show(ui, |ui| {
        ui.label(t!("details.created"));
        ui.label(details.created.as_deref().unwrap_or(""));
        ui.end_row();
        ui.label(t!("details.uid"));
        ui.monospace(details.uid.as_ref());
        ui.end_row();
        ui.label(t!("details.resource_version"));
        ui.monospace(details.resource_version.as_ref());
        ui.end_row();
    });
    // Live CPU and memory, where the cluster has metrics-server (sampled while open).
    if usage.key.is_some() && usage.key == details.key {
        ui.add_space(6.0);
        let is_node = usage.kind == Some(crate::model::UsageKind::Nodes);
        super::charts::usage_charts_ui(ui, usage, is_node);
    }
    ui.add_space(6.0);
    ui.strong(t!("details.labels"));
    key_values_ui(ui, "labels", &details.labels);
    ui.add_space(6.0);
    egui::CollapsingHeader::new(t!("details.annotations", count = details.annotations.len()))
        .id_salt("annotations")
        .show(ui, |ui| {
            key_values_ui(ui, "annotations", &details.annotations);
        });
    if !details.related.is_empty() {
        ui.add_space(6.0);
        ui.strong(t!("details.related"));
        egui::Grid::new("related").num_columns(2).show(ui, |ui| {
            for link in &details.related {
                ui.label(egui::RichText::new(super::text(&link.label)).weak());
                let label = format!("{} {}", link.kind_name, link.key.name);
                if ui.link(label).on_hover_text(t!("details.open_related")).clicked() {
                    state.open(link.kind.clone(), link.key.clone());
                }
                ui.end_row();
            }
        });
    }
    for section in &details.sections {
        ui.add_space(6.0);
        ui.strong(super::text(&section.title));
        section_body_ui(ui, state, &section.id, &section.body);
    }
    if !details.conditions.is_empty() {
        ui.add_space(6.0);
        ui.strong(t!("details.conditions"));
        egui::Grid::new("conditions").num_columns(4).striped(true).show(ui, |ui| {
            for condition in &details.conditions {
                ui.label(condition.condition_type.as_ref());
                let tone = match &*condition.status {
                    "True" => CellTone::Good,
                    "False" => CellTone::Bad,
                    _ => CellTone::Warning,
                };
                ui.colored_label(theme::tone_color(&visuals, tone), condition.status.as_ref());
                ui.label(condition.reason.as_ref());
                ui.add(egui::Label::new(condition.message.as_ref()).wrap());
                ui.end_row();
            }
        });
    }
    ui.add_space(6.0);
    ui.strong(t!("details.events"));
    if details.events.is_empty() {
        ui.label(egui::RichText::new(t!("details.no_events")).weak());
    }
    for event in &details.events {
        let tone = if event.is_warning() { CellTone::Bad } else { CellTone::Normal };
        let age = event.last_seen_unix_secs.map(|t| format_age(now_unix_secs - t)).unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(theme::tone_color(&visuals, tone), format!("{} {}", event.event_type, event.reason));
            ui.label(egui::RichText::new(format!("×{} · {age} · {}", event.count, event.source)).weak());
            ui.add(egui::Label::new(event.message.as_ref()).wrap());
        });
    }
}

/// A registered section's body, drawn from plain data.
pub(crate) fn section_body_ui(ui: &mut egui::Ui, state: &mut DetailsState, id: &str, body: &SectionBody) {
    match body {
        SectionBody::Entries(entries) => entries_ui(ui, id, entries),
        SectionBody::Masked(values) => masked_ui(ui, state, id, values),
        SectionBody::Text(text) => {
            ui.add(egui::Label::new(egui::RichText::new(text.as_ref()).monospace()).selectable(true));
        }
        SectionBody::Links(links) => {
            for link in links {
                if ui.link(link.label.as_ref()).on_hover_text(t!("details.open_related")).clicked() {
                    state.open(link.kind.clone(), link.key.clone());
                }
            }
        }
        SectionBody::Table { columns, rows } => {
            egui::Grid::new(("section_table", id)).num_columns(columns.len()).striped(true).show(ui, |ui| {
                for column in columns {
                    ui.strong(column.as_ref());
                }
                ui.end_row();
                for row in rows {
                    for cell in row {
                        // Short cells (names, states) stay on one line; long ones wrap.
                        let label = egui::Label::new(cell.as_ref());
                        ui.add(if cell.chars().count() <= SHORT_CELL_CHARS { label.extend() } else { label.wrap() });
                    }
                    ui.end_row();
                }
            });
        }
        SectionBody::Chart(chart) => super::charts::section_chart_ui(ui, id, chart),
        SectionBody::Failed(error) => {
            ui.colored_label(
                theme::tone_color(ui.visuals(), CellTone::Bad),
                t!("details.section_failed", error = error.as_ref()),
            );
        }
    }
}

/// Values shown masked until the user reveals each (a Secret's data).
fn masked_ui(ui: &mut egui::Ui, state: &mut DetailsState, id: &str, values: &[(Arc<str>, Arc<str>)]) {
    egui::Grid::new(("masked", id)).num_columns(3).striped(true).show(ui, |ui| {
        for (name, value) in values {
            let revealed = state.revealed_secret_keys.contains(name.as_ref());
            ui.monospace(name.as_ref());
            ui.monospace(if revealed { value.as_ref() } else { SECRET_MASK });
            let label = if revealed { t!("details.hide") } else { t!("details.reveal") };
            if ui.small_button(label).clicked() {
                if revealed {
                    state.revealed_secret_keys.remove(name.as_ref());
                } else {
                    state.revealed_secret_keys.insert(name.to_string());
                }
            }
            ui.end_row();
        }
    });
}

/// Table cells of a section up to this long are never wrapped.
const SHORT_CELL_CHARS: usize = 40;

/// Values longer than this, or of more than one line, open on request.
const INLINE_VALUE_CHARS: usize = 80;

/// Entries (a ConfigMap's data): short values beside their key, longer ones (files, scripts)
/// folded under it, selectable for copying.
fn entries_ui(ui: &mut egui::Ui, id: &str, entries: &[(Arc<str>, Arc<str>)]) {
    for (key, value) in entries {
        if value.len() <= INLINE_VALUE_CHARS && !value.contains('\n') {
            ui.horizontal_wrapped(|ui| {
                ui.monospace(format!("{key}:"));
                ui.add(egui::Label::new(egui::RichText::new(value.as_ref()).monospace()).selectable(true));
            });
        } else {
            let lines = value.lines().count();
            egui::CollapsingHeader::new(
                egui::RichText::new(format!("{key}  ·  {}", t!("details.lines", count = lines))).monospace(),
            )
            .id_salt((id, key.as_ref()))
            .show(ui, |ui| {
                ui.add(egui::Label::new(egui::RichText::new(value.as_ref()).monospace()).selectable(true));
            });
        }
    }
}

fn yaml_ui(ui: &mut egui::Ui, state: &mut DetailsState, details: &DetailsSnapshot) {
    if details.yaml != details.masked_yaml {
        ui.checkbox(&mut state.reveal_secrets_in_yaml, t!("details.reveal_in_yaml"));
    }
    let text = if state.reveal_secrets_in_yaml { &details.yaml } else { &details.masked_yaml };
    let theme = egui_extras::syntax_highlighting::CodeTheme::from_style(ui.style());
    egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
        let job = egui_extras::syntax_highlighting::highlight(ui.ctx(), ui.style(), &theme, text, "yaml");
        ui.add(egui::Label::new(job).selectable(true).wrap_mode(egui::TextWrapMode::Extend));
    });
}
