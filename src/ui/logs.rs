//! The log view docked at the bottom: container picker, follow, previous, timestamps, tail,
//! search with highlighted matches (optionally only matching lines), save, and a coloured prefix
//! per pod when a workload's pods are merged. Rows are virtualised. UI thread.

use super::theme;
use crate::model::{ActivityLog, CellTone, LogSnapshot, Outcome};
use crate::state::LogsState;
use rust_i18n::t;
use std::sync::Arc;

/// Matches kept across frames. Lines are only appended (and dropped from the front), so each
/// frame scans just the lines that arrived since the last one.
#[derive(Clone, Default)]
struct MatchCache {
    needle: String,
    query: Option<crate::model::LogQuery>,
    /// Absolute line numbers (counting dropped lines) below this have been scanned.
    scanned_to: u64,
    /// Absolute line numbers of the matching lines, ascending.
    matches: Arc<Vec<u64>>,
}

/// Lines that contain `needle` (case-insensitive), as absolute line numbers: subtract
/// `buffer.dropped` for an index into the buffer.
fn matching_lines(ui: &egui::Ui, logs: &LogSnapshot, needle: &str) -> Arc<Vec<u64>> {
    let key = egui::Id::unique("log_matches");
    let dropped = logs.buffer.dropped;
    let total = dropped + logs.buffer.len() as u64;
    ui.data_mut(|d| {
        let cache = d.get_temp_mut_or_default::<MatchCache>(key);
        if cache.needle != needle || cache.query != logs.query || total < cache.scanned_to {
            *cache = MatchCache { needle: needle.to_string(), query: logs.query.clone(), ..MatchCache::default() };
        }
        let from = cache.scanned_to.max(dropped);
        let matches = Arc::make_mut(&mut cache.matches);
        let gone = matches.partition_point(|line| *line < dropped);
        matches.drain(..gone);
        for (offset, line) in logs.buffer.iter_from((from - dropped) as usize).enumerate() {
            if crate::model::search::contains_ignore_case(&line.text, needle) {
                matches.push(from + offset as u64);
            }
        }
        cache.scanned_to = total;
        cache.matches.clone()
    })
}

/// Screen lines per buffered line when wrapped at `cols` columns, kept across frames: lines are
/// only appended (and dropped from the front), so each frame measures just the new ones.
#[derive(Clone, Default)]
struct WrapCache {
    cols: usize,
    prefixed: bool,
    query: Option<crate::model::LogQuery>,
    /// The absolute line number of `heights[0]`.
    first: u64,
    heights: Arc<std::collections::VecDeque<u16>>,
}

/// How many screen lines each buffered line takes at `cols` columns (its `[pod] ` prefix
/// included), indexed like the buffer. Monospace text broken at any character makes this exact.
fn wrapped_heights(ui: &egui::Ui, logs: &LogSnapshot, cols: usize) -> Arc<std::collections::VecDeque<u16>> {
    let key = egui::Id::unique("log_wrap_heights");
    let prefixed = logs.sources.len() > 1;
    let dropped = logs.buffer.dropped;
    let total = dropped + logs.buffer.len() as u64;
    ui.data_mut(|d| {
        let cache = d.get_temp_mut_or_default::<WrapCache>(key);
        let known_to = cache.first + cache.heights.len() as u64;
        if cache.cols != cols || cache.prefixed != prefixed || cache.query != logs.query || total < known_to {
            *cache =
                WrapCache { cols, prefixed, query: logs.query.clone(), first: dropped, heights: Default::default() };
        }
        let heights = Arc::make_mut(&mut cache.heights);
        while cache.first < dropped && heights.pop_front().is_some() {
            cache.first += 1;
        }
        cache.first = cache.first.max(dropped);
        let from = cache.first + heights.len() as u64;
        for line in logs.buffer.iter_from((from - dropped) as usize) {
            let prefix_chars = if prefixed {
                logs.sources.get(usize::from(line.source)).map_or(0, |s| s.chars().count() + 3)
            } else {
                0
            };
            let mark_chars = if line.continues { CONTINUED_MARK.chars().count() } else { 0 };
            let chars = prefix_chars + line.text.chars().count() + mark_chars;
            heights.push_back(u16::try_from(chars.div_ceil(cols).max(1)).unwrap_or(u16::MAX));
        }
        cache.heights.clone()
    })
}

/// Wrapping after exactly `cols` monospace cells, at any character, as `wrapped_heights` counts.
fn wrapping(cols: usize, glyph: f32) -> egui::text::TextWrapping {
    egui::text::TextWrapping { max_width: (cols as f32 + 0.5) * glyph, break_anywhere: true, ..Default::default() }
}

/// One log line laid out: its source prefix, the text with the search's matches highlighted
/// (case-insensitive, on the original text's character boundaries), and a mark when the line
/// was split at the line limit and goes on in the next.
fn line_job(
    ui: &egui::Ui,
    prefix: Option<(&str, egui::Color32)>,
    line: (&str, bool),
    needle: &str,
) -> egui::text::LayoutJob {
    let (text, continues) = line;
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let normal = egui::TextFormat { font_id: font.clone(), color: ui.visuals().text_color(), ..Default::default() };
    let mut job = egui::text::LayoutJob::default();
    if let Some((prefix, color)) = prefix {
        job.append(&format!("[{prefix}] "), 0.0, egui::TextFormat { color, ..normal.clone() });
    }
    let highlight = egui::TextFormat {
        background: theme::tone_color(ui.visuals(), CellTone::Warning).gamma_multiply(0.45),
        ..normal.clone()
    };
    let mut at = 0;
    for range in crate::model::search::match_ranges_ignore_case(text, needle) {
        job.append(&text[at..range.start], 0.0, normal.clone());
        job.append(&text[range.clone()], 0.0, highlight.clone());
        at = range.end;
    }
    job.append(&text[at..], 0.0, normal.clone());
    if continues {
        let weak = egui::TextFormat { color: ui.visuals().weak_text_color(), ..normal };
        job.append(CONTINUED_MARK, 0.0, weak);
    }
    job
}

/// Drawn after a line split at the line limit (it goes on in the next line).
pub const CONTINUED_MARK: &str = " ↩";

pub fn logs_panel_ui(
    ui: &mut egui::Ui,
    slot: &mut Option<LogsState>,
    outbox: &mut crate::state::Outbox,
    (logs, activity): (&LogSnapshot, &ActivityLog),
) {
    let Some(view) = slot.as_mut() else { return };
    let mut asked = ToolbarAsk::default();
    egui::Panel::bottom("logs").resizable(true).default_size(320.0).min_size(160.0).show(ui, |ui| {
        let current = logs.query.as_ref() == Some(&view.query);
        asked = logs_toolbar_ui(ui, view, logs);
        if !current {
            theme::spinner_ui(ui);
            return;
        }
        let visuals = ui.visuals().clone();
        for error in &logs.errors {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), error.as_ref());
        }
        if !logs.left_out.is_empty() {
            let names = logs.left_out.iter().map(|n| n.as_ref()).collect::<Vec<_>>().join("\n");
            let message =
                t!("logs.streams_left_out", count = logs.left_out.len(), limit = crate::backend::logs::MAX_LOG_STREAMS);
            ui.colored_label(theme::tone_color(&visuals, CellTone::Warning), message).on_hover_text(names);
        }
        save_outcome_ui(ui, view.last_save_request, activity);
        let matches = (!view.search.is_empty()).then(|| matching_lines(ui, logs, &view.search));
        let status = match &matches {
            Some(found) => t!("logs.matches", count = found.len(), total = logs.buffer.len()).to_string(),
            None => t!("logs.lines", count = logs.buffer.len()).to_string(),
        };
        ui.label(egui::RichText::new(status).weak());
        let shown = ShownLines { logs, view, matches: matches.as_ref().map(|m| m.as_slice()), dark: visuals.dark_mode };
        if view.wrap { wrapped_lines_ui(ui, &shown) } else { plain_lines_ui(ui, &shown) }
    });
    if asked.save {
        view.save(outbox);
    }
    if asked.close {
        *slot = None;
    }
}

/// What the toolbar's buttons asked for this frame.
#[derive(Default)]
struct ToolbarAsk {
    save: bool,
    close: bool,
}

/// The container picker, follow, previous, timestamps, tail, search, and the save and close
/// buttons.
fn logs_toolbar_ui(ui: &mut egui::Ui, view: &mut LogsState, logs: &LogSnapshot) -> ToolbarAsk {
    let mut asked = ToolbarAsk::default();
    ui.horizontal_wrapped(|ui| {
        ui.strong(t!("logs.title", name = view.query.target.key.name.as_ref()));
        let all = t!("logs.all_containers").to_string();
        let selected = view.query.container.as_deref().map_or(all.clone(), str::to_string);
        egui::ComboBox::from_label(t!("logs.container")).selected_text(selected).show_ui(ui, |ui| {
            ui.selectable_value(&mut view.query.container, None, all);
            for container in &logs.containers {
                ui.selectable_value(&mut view.query.container, Some(container.clone()), container.as_ref());
            }
        });
        ui.toggle_value(&mut view.query.follow, t!("logs.follow"));
        ui.toggle_value(&mut view.query.previous, t!("logs.previous"));
        ui.toggle_value(&mut view.query.timestamps, t!("logs.timestamps"));
        ui.add(egui::DragValue::new(&mut view.query.tail_lines).range(0..=100_000).prefix(t!("logs.tail_prefix")));
        ui.add(egui::TextEdit::singleline(&mut view.search).hint_text(t!("logs.search")).desired_width(180.0));
        ui.checkbox(&mut view.only_matching, t!("logs.only_matching"));
        ui.toggle_value(&mut view.wrap, t!("logs.wrap"));
        asked.save = ui.button(t!("logs.save")).clicked();
        asked.close = ui.button(t!("logs.close")).clicked();
    });
    asked
}

/// How the last save went, once answered.
fn save_outcome_ui(ui: &mut egui::Ui, request: Option<u64>, activity: &ActivityLog) {
    let Some(answer) = request.and_then(|request| activity.for_request(request).last()) else { return };
    let visuals = ui.visuals().clone();
    match &answer.outcome {
        Outcome::Done { message } => ui.colored_label(theme::tone_color(&visuals, CellTone::Good), message.as_ref()),
        Outcome::Failed { message } => ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), message.as_ref()),
        _ => theme::spinner_ui(ui),
    };
}

/// The lines the view shows: every line, or only the matching ones.
struct ShownLines<'a> {
    logs: &'a LogSnapshot,
    view: &'a LogsState,
    /// Sequence numbers of the matching lines, while searching.
    matches: Option<&'a [u64]>,
    dark: bool,
}

impl ShownLines<'_> {
    fn rows(&self) -> usize {
        match (self.matches, self.view.only_matching) {
            (Some(found), true) => found.len(),
            _ => self.logs.buffer.len(),
        }
    }

    /// The buffer index of a shown row.
    fn index_of(&self, row: usize) -> usize {
        match (self.matches, self.view.only_matching) {
            (Some(found), true) => (found[row] - self.logs.buffer.dropped) as usize,
            _ => row,
        }
    }

    /// The `[pod/container]` prefix and its colour, when several sources are merged.
    fn prefix_of(&self, line: &crate::model::LogLine) -> Option<(&str, egui::Color32)> {
        (self.logs.sources.len() > 1).then(|| {
            let name = self.logs.sources.get(usize::from(line.source)).map_or("", |s| &**s);
            (name, theme::source_color(line.source, self.dark))
        })
    }
}

/// One row per line, virtualised.
fn plain_lines_ui(ui: &mut egui::Ui, shown: &ShownLines<'_>) {
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    egui::ScrollArea::both().auto_shrink([false, false]).stick_to_bottom(shown.view.query.follow).show_rows(
        ui,
        row_height,
        shown.rows(),
        |ui, range| {
            for row in range {
                let Some(line) = shown.logs.buffer.get(shown.index_of(row)) else { continue };
                let job = line_job(ui, shown.prefix_of(line), (&line.text, line.continues), &shown.view.search);
                ui.add(egui::Label::new(job).wrap_mode(egui::TextWrapMode::Extend));
            }
        },
    );
}

/// Lines wrapped at the panel's width: rows of varying height, still virtualised (only the rows
/// in the viewport are laid out).
fn wrapped_lines_ui(ui: &mut egui::Ui, shown: &ShownLines<'_>) {
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    let rows = shown.rows();
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let glyph = ui.fonts_mut(|f| f.glyph_width(&font, 'M')).max(1.0);
    let scrollbar = ui.spacing().scroll.bar_width + ui.spacing().scroll.bar_outer_margin;
    let cols = (((ui.available_width() - scrollbar) / glyph).floor() as usize).max(10);
    let heights = wrapped_heights(ui, shown.logs, cols);
    let height_of = |row: usize| u64::from(heights.get(shown.index_of(row)).copied().unwrap_or(1));
    let total_lines: u64 = (0..rows).map(height_of).sum();
    let content_height = total_lines as f32 * row_height;
    egui::ScrollArea::vertical().auto_shrink([false, false]).stick_to_bottom(shown.view.query.follow).show_viewport(
        ui,
        |ui, viewport| {
            ui.set_height(content_height);
            // Skip the rows that end above the viewport, then draw until past its bottom.
            let first_line = (viewport.min.y / row_height).floor().max(0.0) as u64;
            let (mut row, mut line_at) = (0usize, 0u64);
            while row < rows && line_at + height_of(row) <= first_line {
                line_at += height_of(row);
                row += 1;
            }
            let top = ui.max_rect().top() + line_at as f32 * row_height;
            let rect = egui::Rect::from_x_y_ranges(ui.max_rect().x_range(), top..=ui.max_rect().bottom());
            ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
                ui.spacing_mut().item_spacing.y = 0.0;
                ui.skip_ahead_auto_ids(row);
                while row < rows && (line_at as f32) * row_height < viewport.max.y {
                    let Some(line) = shown.logs.buffer.get(shown.index_of(row)) else { break };
                    let mut job = line_job(ui, shown.prefix_of(line), (&line.text, line.continues), &shown.view.search);
                    job.wrap = wrapping(cols, glyph);
                    let galley = ui.fonts_mut(|f| f.layout_job(job));
                    ui.add(egui::Label::new(galley));
                    line_at += height_of(row);
                    row += 1;
                }
            });
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogBuffer, LogLine};

    /// Runs one frame that searches `logs`.
    fn search(ctx: &egui::Context, logs: &LogSnapshot, needle: &str) -> Arc<Vec<u64>> {
        let mut found = Arc::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| found = matching_lines(ui, logs, needle));
        output.textures_delta.clear();
        found
    }

    fn push(logs: &mut LogSnapshot, text: &str) {
        logs.buffer.push(LogLine { source: 0, text: Arc::from(text), continues: false });
        logs.generation += 1;
    }

    #[test]
    fn a_search_highlights_lines_whose_case_folding_changes_lengths() {
        // Lowercase 'K' (Kelvin sign) is two bytes shorter, 'İİ' two longer: the lowercased line
        // has the original's length but not its offsets, which used to panic the window.
        let planted = "\u{212A} error İİ ERROR";
        let ctx = egui::Context::default();
        let mut highlighted = Vec::new();
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
            let job = line_job(ui, None, (planted, true), "error");
            highlighted = job
                .sections
                .iter()
                .filter(|s| s.format.background != egui::Color32::TRANSPARENT)
                .map(|s| job.text[s.byte_range.start.0..s.byte_range.end.0].to_string())
                .collect();
            assert!(job.text.ends_with(CONTINUED_MARK), "a split line is marked");
        });
        output.textures_delta.clear();
        assert_eq!(highlighted, ["error", "ERROR"]);
    }

    #[test]
    fn matches_grow_with_new_lines_and_follow_dropped_ones() {
        let ctx = egui::Context::default();
        let mut logs =
            LogSnapshot { buffer: LogBuffer::with_capacity(crate::model::CHUNK_LINES), ..LogSnapshot::default() };
        for i in 0..crate::model::CHUNK_LINES {
            push(&mut logs, if i % 2 == 0 { "GET /a" } else { "post /b" });
        }
        let found = search(&ctx, &logs, "get");
        assert_eq!(found.len(), crate::model::CHUNK_LINES / 2, "case-insensitive");
        // A new chunk pushes the first out: its matches go, the new line's match comes.
        push(&mut logs, "GET /new");
        let found = search(&ctx, &logs, "get");
        assert_eq!(logs.buffer.dropped, crate::model::CHUNK_LINES as u64);
        assert_eq!(found.len(), 1);
        let index = (found[0] - logs.buffer.dropped) as usize;
        assert_eq!(logs.buffer.get(index).map(|l| l.text.to_string()).as_deref(), Some("GET /new"));
        // Another search starts over.
        assert!(search(&ctx, &logs, "post").is_empty());
    }

    #[test]
    fn wrapped_heights_match_the_laid_out_rows() {
        let ctx = egui::Context::default();
        let mut logs =
            LogSnapshot { buffer: LogBuffer::with_capacity(crate::model::CHUNK_LINES), ..LogSnapshot::default() };
        let texts = ["", "short", &"x".repeat(40), &"word ".repeat(17), &"y".repeat(41)];
        for text in texts {
            push(&mut logs, text);
        }
        let cols = 20;
        let mut laid_out = Vec::new();
        let mut heights = Arc::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
            heights = wrapped_heights(ui, &logs, cols);
            let glyph = ui.fonts_mut(|f| f.glyph_width(&egui::TextStyle::Monospace.resolve(ui.style()), 'M'));
            for text in texts {
                let mut job = line_job(ui, None, (text, false), "");
                job.wrap = wrapping(cols, glyph);
                laid_out.push(ui.fonts_mut(|f| f.layout_job(job)).rows.len() as u16);
            }
        });
        output.textures_delta.clear();
        assert_eq!(heights.iter().copied().collect::<Vec<_>>(), vec![1, 1, 2, 5, 3]);
        assert_eq!(heights.iter().copied().collect::<Vec<_>>(), laid_out, "predicted heights are the real ones");
        // Lines arriving later are measured on top; a new width starts over.
        push(&mut logs, &"z".repeat(61));
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| heights = wrapped_heights(ui, &logs, cols));
        output.textures_delta.clear();
        assert_eq!(heights.back().copied(), Some(4));
        assert_eq!(heights.len(), 6);
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| heights = wrapped_heights(ui, &logs, 100));
        output.textures_delta.clear();
        assert!(heights.iter().all(|h| *h == 1));
    }
}
