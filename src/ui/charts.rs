//! Time-series charts drawn with egui_plot: one or more series over wall-clock time, values in
//! their unit (cores, bytes, bytes per second) on the axis and in the hover label, reference lines
//! (request, limit, allocatable), and errors drawn inside the chart's own area. UI thread.

use super::theme;
use crate::model::CellTone;
use rust_i18n::t;

pub use crate::model::prometheus::ChartUnit as Unit;

/// One line: a name for the legend and hover label, points as (unix seconds, value).
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<[f64; 2]>,
}

/// A horizontal reference line, such as a request or a limit.
pub struct Reference<'a> {
    pub name: &'a str,
    pub value: f64,
    pub tone: CellTone,
}

/// Wall-clock time of day for unix seconds, in the system's time zone.
fn clock_text(unix_secs: f64) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond((unix_secs * 1000.0) as i64) else { return String::new() };
    at.to_zoned(jiff::tz::TimeZone::system()).strftime("%H:%M:%S").to_string()
}

/// What one chart shows.
pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub unit: Unit,
    pub series: &'a [Series<'a>],
    pub references: &'a [Reference<'a>],
    /// Drawn inside the chart, over any data still shown.
    pub error: Option<&'a str>,
    pub height: f32,
}

/// A chart a registered detail section asked for.
pub fn section_chart_ui(ui: &mut egui::Ui, id: &str, chart: &crate::model::registry::SectionChart) {
    let series: Vec<Series<'_>> =
        chart.series.iter().map(|(name, points)| Series { name, points: points.clone() }).collect();
    let chart = Chart { id, title: "", unit: chart.unit, series: &series, references: &[], error: None, height: 140.0 };
    time_chart_ui(ui, &chart);
}

/// A chart `height` points tall, its error (if any) inside it.
pub fn time_chart_ui(ui: &mut egui::Ui, chart: &Chart<'_>) {
    let Chart { id, title, unit, series, references, error, height } = *chart;
    // Reference values go in the title line, so no legend covers the data; several series get a
    // legend to tell them apart.
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(title).strong());
        for reference in references {
            let color = match reference.tone {
                CellTone::Normal => ui.visuals().weak_text_color(),
                tone => theme::tone_color(ui.visuals(), tone),
            };
            ui.label(
                egui::RichText::new(format!("{} {}", reference.name, unit.format(reference.value)))
                    .small()
                    .color(color),
            );
        }
    });
    let has_points = series.iter().any(|s| !s.points.is_empty());
    if !has_points {
        // An empty chart frame with the reason (an error, or no samples yet) inside it.
        let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), height), egui::Sense::hover());
        ui.painter().rect_stroke(rect, 4.0, ui.visuals().widgets.noninteractive.bg_stroke, egui::StrokeKind::Inside);
        let (text, tone) = match error {
            Some(error) => (error.to_string(), CellTone::Bad),
            None => (t!("charts.waiting").to_string(), CellTone::Normal),
        };
        let color = match tone {
            CellTone::Normal => ui.visuals().weak_text_color(),
            tone => theme::tone_color(ui.visuals(), tone),
        };
        let inner = rect.shrink(8.0);
        ui.scope_builder(
            egui::UiBuilder::new()
                .max_rect(inner)
                .layout(egui::Layout::centered_and_justified(egui::Direction::TopDown)),
            |ui| {
                ui.add(egui::Label::new(egui::RichText::new(text).color(color)).wrap());
            },
        );
        return;
    }
    let names: Vec<String> = series.iter().map(|s| s.name.to_string()).collect();
    let mut plot = egui_plot::Plot::new(id)
        .height(height)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(0.0)
        .x_axis_formatter(|mark, _| clock_text(mark.value))
        .y_axis_formatter(move |mark, _| unit.format(mark.value))
        .label_formatter(move |position| {
            let (name, point) = match position {
                egui_plot::HoverPosition::NearDataPoint { plot_name, position, .. } => (Some(*plot_name), position),
                egui_plot::HoverPosition::Elsewhere { position } => (None, position),
            };
            let value = format!("{} · {}", clock_text(point.x), unit.format(point.y));
            Some(match name.filter(|n| names.iter().any(|s| s == n)) {
                Some(name) => format!("{name}\n{value}"),
                None => value,
            })
        });
    if series.len() > 1 {
        plot = plot.legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftTop));
    }
    let visuals = ui.visuals().clone();
    let shown = plot.show(ui, |plot_ui| {
        for (index, line) in series.iter().enumerate() {
            let color = theme::series_color(index, visuals.dark_mode);
            plot_ui.line(
                egui_plot::Line::new(line.name, line.points.clone()).color(color).width(1.5).fill(0.0).fill_alpha(0.12),
            );
        }
        for reference in references {
            let color = match reference.tone {
                CellTone::Normal => visuals.weak_text_color(),
                tone => theme::tone_color(&visuals, tone),
            };
            plot_ui.hline(
                egui_plot::HLine::new(format!("{} {}", reference.name, unit.format(reference.value)), reference.value)
                    .color(color)
                    .style(egui_plot::LineStyle::dashed_dense()),
            );
        }
    });
    if let Some(error) = error {
        // Over the stale data, inside the chart's own area.
        let band = egui::Rect::from_min_size(
            shown.response.rect.left_top() + egui::vec2(40.0, 4.0),
            egui::vec2((shown.response.rect.width() - 48.0).max(40.0), 20.0),
        );
        let text = egui::RichText::new(error)
            .color(theme::tone_color(&visuals, CellTone::Bad))
            .background_color(visuals.extreme_bg_color);
        ui.put(band, egui::Label::new(text).truncate());
    }
}

/// CPU and memory charts of the pod or node open in details, from its sampled usage, with its
/// requests and limits (or allocatable) as reference lines.
pub fn usage_charts_ui(ui: &mut egui::Ui, history: &crate::model::UsageHistory, is_node: bool) {
    let latest = &history.latest;
    let error = history.error.as_deref();
    let cpu: Vec<[f64; 2]> = history.samples.iter().map(|s| [s.at_unix_secs, s.cpu_cores]).collect();
    let memory: Vec<[f64; 2]> = history.samples.iter().map(|s| [s.at_unix_secs, s.memory_bytes]).collect();
    let (request, limit, allocatable) =
        (t!("charts.request").to_string(), t!("charts.limit").to_string(), t!("charts.allocatable").to_string());
    let references = |request_value: Option<f64>, limit_value: Option<f64>| -> Vec<Reference<'_>> {
        if is_node {
            return limit_value
                .map(|value| Reference { name: &allocatable, value, tone: CellTone::Warning })
                .into_iter()
                .collect();
        }
        let mut lines = Vec::new();
        if let Some(value) = request_value {
            lines.push(Reference { name: &request, value, tone: CellTone::Normal });
        }
        if let Some(value) = limit_value {
            lines.push(Reference { name: &limit, value, tone: CellTone::Bad });
        }
        lines
    };
    let (cpu_name, memory_name) = (t!("charts.cpu").to_string(), t!("charts.memory").to_string());
    ui.columns(2, |columns| {
        time_chart_ui(
            &mut columns[0],
            &Chart {
                id: "usage_cpu",
                title: &cpu_name,
                unit: Unit::Cores,
                series: &[Series { name: &cpu_name, points: cpu }],
                references: &references(latest.cpu_request_cores, latest.cpu_limit_cores),
                error,
                height: 140.0,
            },
        );
        time_chart_ui(
            &mut columns[1],
            &Chart {
                id: "usage_memory",
                title: &memory_name,
                unit: Unit::Bytes,
                series: &[Series { name: &memory_name, points: memory }],
                references: &references(latest.memory_request_bytes, latest.memory_limit_bytes),
                error,
                height: 140.0,
            },
        );
    });
}

/// The chosen kind of Prometheus source, for the picker.
fn source_label(source: &crate::model::PrometheusSource) -> String {
    use crate::model::PrometheusSource;
    match source {
        PrometheusSource::Auto => t!("prometheus.auto").to_string(),
        PrometheusSource::Service { .. } => t!("prometheus.service").to_string(),
        PrometheusSource::Url(_) => t!("prometheus.url").to_string(),
        PrometheusSource::Off => t!("prometheus.off").to_string(),
    }
}

/// Where the cluster's Prometheus is: edited as a draft, used once applied.
fn source_picker_ui(ui: &mut egui::Ui, settings: &mut crate::state::Settings, cluster: &str) {
    use crate::model::PrometheusSource;
    let saved = settings.prometheus.get(cluster).cloned().unwrap_or_default();
    let draft_id = egui::Id::unique(("prometheus_source_draft", cluster));
    let mut draft = ui.data(|d| d.get_temp::<PrometheusSource>(draft_id)).unwrap_or_else(|| saved.clone());
    ui.horizontal_wrapped(|ui| {
        ui.label(t!("prometheus.for_cluster", cluster = cluster));
        egui::ComboBox::from_id_salt(("prometheus_source", cluster)).selected_text(source_label(&draft)).show_ui(
            ui,
            |ui| {
                let choices = [
                    PrometheusSource::Auto,
                    PrometheusSource::Service {
                        namespace: "monitoring".into(),
                        name: "prometheus-server".into(),
                        port: "9090".into(),
                    },
                    PrometheusSource::Url("http://127.0.0.1:9090".into()),
                    PrometheusSource::Off,
                ];
                for choice in choices {
                    let same_kind = std::mem::discriminant(&choice) == std::mem::discriminant(&draft);
                    if ui.selectable_label(same_kind, source_label(&choice)).clicked() && !same_kind {
                        draft = choice;
                    }
                }
            },
        );
        match &mut draft {
            PrometheusSource::Service { namespace, name, port } => {
                ui.add(
                    egui::TextEdit::singleline(namespace).desired_width(100.0).hint_text(t!("prometheus.namespace")),
                );
                ui.add(egui::TextEdit::singleline(name).desired_width(140.0).hint_text(t!("prometheus.name")));
                ui.add(egui::TextEdit::singleline(port).desired_width(50.0).hint_text(t!("prometheus.port")));
            }
            PrometheusSource::Url(url) => {
                ui.add(egui::TextEdit::singleline(url).desired_width(220.0));
            }
            PrometheusSource::Auto | PrometheusSource::Off => {}
        }
        if ui.add_enabled(draft != saved, egui::Button::new(t!("prometheus.apply"))).clicked() {
            match &draft {
                PrometheusSource::Auto => settings.prometheus.remove(cluster),
                other => settings.prometheus.insert(cluster.to_string(), other.clone()),
            };
        }
    });
    ui.data_mut(|d| d.insert_temp(draft_id, draft));
}

/// The Metrics tab: the cluster's Prometheus source, a range picker, and a chart per series set
/// (CPU, memory, network, filesystem; or a claim's volume), live while shown.
pub fn prometheus_charts_ui(
    ui: &mut egui::Ui,
    settings: &mut crate::state::Settings,
    key: &crate::model::ObjectKey,
    charts: &crate::model::ChartSet,
) {
    source_picker_ui(ui, settings, key.cluster.as_str());
    ui.horizontal(|ui| {
        ui.label(t!("prometheus.range"));
        for range in crate::model::prometheus::CHART_RANGES_SECS {
            let label = match range {
                r if r < 3600 => format!("{}m", r / 60),
                r => format!("{}h", r / 3600),
            };
            ui.selectable_value(&mut settings.chart_range_secs, range, label);
        }
    });
    let current = charts.query.as_ref().is_some_and(|q| q.key == *key && q.range_secs == settings.chart_range_secs);
    if !current {
        theme::spinner_ui(ui);
        return;
    }
    if let Some(problem) = &charts.problem {
        ui.colored_label(theme::tone_color(ui.visuals(), CellTone::Warning), problem.as_ref());
        return;
    }
    if let Some(source) = &charts.source {
        ui.label(egui::RichText::new(t!("prometheus.via", source = source.as_ref())).weak());
    }
    if charts.loading {
        theme::spinner_ui(ui);
    }
    let names: Vec<Vec<String>> =
        charts.charts.iter().map(|c| c.lines.iter().map(|l| t!(l.name_key).to_string()).collect()).collect();
    let titles: Vec<String> = charts.charts.iter().map(|c| t!(c.spec.title_key).to_string()).collect();
    for (index, chart) in charts.charts.iter().enumerate() {
        let series: Vec<Series<'_>> = chart
            .lines
            .iter()
            .zip(&names[index])
            .map(|(line, name)| Series { name, points: line.points.iter().copied().collect() })
            .collect();
        time_chart_ui(
            ui,
            &Chart {
                id: &format!("prometheus_chart_{index}"),
                title: &titles[index],
                unit: chart.spec.unit,
                series: &series,
                references: &[],
                error: chart.error.as_deref(),
                height: 150.0,
            },
        );
        ui.add_space(6.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_format_their_values() {
        assert_eq!(Unit::Cores.format(0.25), "250m");
        assert_eq!(Unit::Bytes.format(3.0 * 1024.0 * 1024.0), "3.00Mi");
        assert_eq!(Unit::BytesPerSecond.format(2048.0), "2.00Ki/s");
    }
}
