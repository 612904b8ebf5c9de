//! The cluster overview: per selected cluster, its nodes and pods, and CPU and memory as bars of
//! allocatable with what pods request, limit and use. UI thread.

use super::theme;
use crate::model::{CellTone, ChartUnit, ClusterOverview, OverviewSnapshot, ResourceTotals};
use rust_i18n::t;

/// A bar of `totals.allocatable`: filled to the usage, with marks at requests and limits.
fn resource_bar_ui(ui: &mut egui::Ui, name: &str, unit: ChartUnit, totals: &ResourceTotals) {
    let percent = |value: f64| {
        if totals.allocatable > 0.0 { format!("{:.0}%", value / totals.allocatable * 100.0) } else { "—".into() }
    };
    ui.horizontal(|ui| {
        ui.strong(name);
        ui.label(
            egui::RichText::new(t!(
                "overview.allocatable",
                allocatable = unit.format(totals.allocatable),
                capacity = unit.format(totals.capacity)
            ))
            .weak(),
        );
    });
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(ui.available_width().min(640.0), 18.0), egui::Sense::hover());
    let visuals = ui.visuals().clone();
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    let x_of = |value: f64| {
        let fraction = if totals.allocatable > 0.0 { (value / totals.allocatable).clamp(0.0, 1.0) } else { 0.0 };
        rect.left() + rect.width() * fraction as f32
    };
    if let Some(usage) = totals.usage {
        let tone =
            if totals.allocatable > 0.0 && usage / totals.allocatable > 0.9 { CellTone::Bad } else { CellTone::Good };
        let used = egui::Rect::from_min_max(rect.left_top(), egui::pos2(x_of(usage), rect.bottom()));
        painter.rect_filled(used, 3.0, theme::tone_color(&visuals, tone).gamma_multiply(0.7));
    }
    for (value, tone) in [(totals.requests, CellTone::Warning), (totals.limits, CellTone::Bad)] {
        let x = x_of(value);
        painter.line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
            egui::Stroke::new(2.0, theme::tone_color(&visuals, tone)),
        );
    }
    let usage_text = totals
        .usage
        .map_or_else(|| t!("overview.no_usage").to_string(), |u| format!("{} ({})", unit.format(u), percent(u)));
    let summary = t!(
        "overview.summary",
        used = usage_text,
        requests = format!("{} ({})", unit.format(totals.requests), percent(totals.requests)),
        limits = format!("{} ({})", unit.format(totals.limits), percent(totals.limits))
    );
    response.on_hover_text(summary.to_string());
    ui.label(summary);
}

fn cluster_ui(ui: &mut egui::Ui, overview: &ClusterOverview) {
    let name = overview.cluster.as_ref().map_or("", |c| c.as_str());
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.heading(name);
        if let Some(error) = &overview.error {
            ui.colored_label(theme::tone_color(ui.visuals(), CellTone::Bad), error.as_ref());
            return;
        }
        let nodes_tone = if overview.ready_nodes == overview.nodes { CellTone::Good } else { CellTone::Warning };
        ui.horizontal(|ui| {
            ui.colored_label(
                theme::tone_color(ui.visuals(), nodes_tone),
                t!("overview.nodes", ready = overview.ready_nodes, total = overview.nodes),
            );
            ui.separator();
            ui.label(t!("overview.pods", pods = overview.pods, capacity = overview.pod_capacity as u64));
        });
        resource_bar_ui(ui, &t!("charts.cpu"), ChartUnit::Cores, &overview.cpu);
        resource_bar_ui(ui, &t!("charts.memory"), ChartUnit::Bytes, &overview.memory);
    });
}

pub fn overview_ui(ui: &mut egui::Ui, overview: &OverviewSnapshot) {
    ui.heading(t!("overview.title"));
    if overview.generation == 0 {
        theme::spinner_ui(ui);
        return;
    }
    ui.label(egui::RichText::new(t!("overview.legend")).weak());
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        for cluster in &overview.clusters {
            cluster_ui(ui, cluster);
            ui.add_space(8.0);
        }
    });
}
