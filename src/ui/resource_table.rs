//! The one resource table for every kind: filters, sortable headers, virtualised rows drawn
//! from the latest `TableSnapshot`. UI thread; per frame it touches only the visible rows.

use super::theme;
use crate::model::{
    Cell, CellTone, ClusterState, FleetSnapshot, KindKey, ObjectKey, SortColumn, TableSnapshot, ViewStatus,
};
use crate::state::{ActionsState, BulkSelection, Intent, Outbox, TableState};
use egui_extras::{Column as TableColumn, TableBuilder};
use rust_i18n::t;

/// What a displayed column shows: a virtual column or one of the server's.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shown {
    Cluster,
    Namespace,
    Server(usize),
}

pub const ROW_HEIGHT: f32 = 22.0;

/// Draws the toolbar and the table. Returns the youngest age (in seconds) shown, among the drawn
/// rows and offline copies, so the caller can schedule the next repaint when an age label changes.
/// What the table changes: its own controls, the bulk selection and its actions' inputs, the
/// wide-columns setting, and the outbox; what it reads of the rest of the window.
pub struct TableParts<'a> {
    pub table: &'a mut TableState,
    pub bulk: &'a mut BulkSelection,
    pub actions: &'a mut ActionsState,
    pub wide_columns: &'a mut bool,
    pub outbox: &'a mut Outbox,
    pub selected_clusters: &'a std::collections::BTreeSet<crate::model::ClusterId>,
    /// The object open in the details pane, highlighted.
    pub open: Option<&'a ObjectKey>,
}

impl<'a> TableParts<'a> {
    /// The table's parts of the window's state.
    pub fn of(state: &'a mut crate::state::UiState) -> Self {
        TableParts {
            table: &mut state.table,
            bulk: &mut state.bulk,
            actions: &mut state.actions,
            wide_columns: &mut state.settings.wide_columns,
            outbox: &mut state.outbox,
            selected_clusters: &state.selection.clusters,
            open: state.details.open.as_ref().map(|(_, key)| key),
        }
    }
}

/// The snapshots the table draws.
#[derive(Clone, Copy)]
pub struct TableData<'a> {
    pub table: &'a TableSnapshot,
    pub fleet: &'a FleetSnapshot,
    pub bulk_access: &'a crate::model::BulkAccess,
    pub registry: &'a crate::model::Registry,
    /// The glances of the row the pointer rests on, as last built.
    pub glances: &'a crate::model::registry::GlanceSnapshot,
}

pub fn table_view_ui(ui: &mut egui::Ui, parts: TableParts<'_>, data: TableData<'_>, now_unix_secs: i64) -> Option<i64> {
    let TableData { table, fleet, bulk_access, registry, glances } = data;
    let TableParts { table: state, bulk, actions, wide_columns, outbox, selected_clusters, open } = parts;
    toolbar_ui(ui, state, wide_columns, table);
    super::actions::bulk_bar_ui(ui, (bulk, actions, outbox), table, fleet, bulk_access, registry);
    status_ui(ui, selected_clusters, table, fleet, now_unix_secs);
    // An offline copy's "from N ago" is an age shown too.
    let stale_age = table
        .status
        .values()
        .filter_map(|status| match status {
            ViewStatus::Stale { saved_unix_secs } => Some(now_unix_secs - saved_unix_secs),
            _ => None,
        })
        .min();
    if selected_clusters.is_empty() {
        ui.centered_and_justified(|ui| ui.label(t!("table.pick_cluster")));
        return None;
    }
    if table.kind.is_none() && table.status.values().all(|s| *s == ViewStatus::Loading) {
        ui.centered_and_justified(theme::spinner_ui);
        return stale_age;
    }
    // Narrow windows (or an open details pane) scroll the columns sideways instead of hiding them.
    let row_age = egui::ScrollArea::horizontal()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let has_glances = table.kind.as_ref().is_some_and(|k| registry.has_glances_for(&k.key()));
            let glances = has_glances.then_some(glances);
            let rows = Rows { state, bulk, outbox, wide_columns: *wide_columns, open, glances };
            rows_ui(ui, rows, table, now_unix_secs)
        })
        .inner;
    [row_age, stale_age].into_iter().flatten().min()
}

fn toolbar_ui(ui: &mut egui::Ui, state: &mut TableState, wide_columns: &mut bool, table: &TableSnapshot) {
    ui.horizontal(|ui| {
        let title = table.kind.as_ref().map_or_else(|| t!("table.no_kind").to_string(), |k| k.kind.to_string());
        ui.heading(title);
        let shown = table.rows.len();
        let count = if shown == table.unfiltered_rows {
            t!("table.count", count = shown).to_string()
        } else {
            t!("table.count_filtered", shown = shown, total = table.unfiltered_rows).to_string()
        };
        ui.label(egui::RichText::new(count).weak());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.checkbox(wide_columns, t!("table.wide"));
        });
    });
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut state.text_filter).hint_text(t!("table.filter_hint")).desired_width(220.0),
        )
        .on_hover_text(t!("table.filter_help"));
        let selector = ui.add(
            egui::TextEdit::singleline(&mut state.label_selector)
                .hint_text(t!("table.selector_hint"))
                .desired_width(240.0),
        );
        selector.on_hover_text(t!("table.selector_help"));
        if let Some(error) = state.label_selector_error() {
            let color = theme::tone_color(ui.visuals(), CellTone::Bad);
            ui.colored_label(color, t!("table.selector_error", error = error.to_string()));
        }
    });
}

fn status_ui(
    ui: &mut egui::Ui,
    selected_clusters: &std::collections::BTreeSet<crate::model::ClusterId>,
    table: &TableSnapshot,
    fleet: &FleetSnapshot,
    now_unix_secs: i64,
) {
    let visuals = ui.visuals().clone();
    for cluster in fleet.clusters.iter().filter(|c| selected_clusters.contains(&c.id) && c.insecure_tls) {
        egui::Frame::new().fill(theme::banner_fill(&visuals, CellTone::Warning)).inner_margin(4.0).show(ui, |ui| {
            ui.colored_label(
                theme::tone_color(&visuals, CellTone::Warning),
                t!("cluster.insecure_banner", cluster = cluster.id.as_str()),
            );
        });
    }
    for (cluster, status) in &table.status {
        let connecting = matches!(fleet.cluster(cluster).map(|c| &c.state), Some(ClusterState::Connecting));
        match status {
            ViewStatus::Loading => {
                ui.horizontal(|ui| {
                    theme::spinner_ui(ui);
                    let key = if connecting { "table.connecting" } else { "table.loading" };
                    ui.label(t!(key, cluster = cluster.as_str()));
                });
            }
            ViewStatus::Error(message) => {
                egui::Frame::new().fill(theme::banner_fill(&visuals, CellTone::Bad)).inner_margin(4.0).show(ui, |ui| {
                    ui.colored_label(
                        theme::tone_color(&visuals, CellTone::Bad),
                        t!("table.error", cluster = cluster.as_str(), error = message.as_ref()),
                    );
                });
            }
            ViewStatus::Unavailable => {
                ui.label(egui::RichText::new(t!("table.unavailable", cluster = cluster.as_str())).weak());
            }
            ViewStatus::Forbidden(message) => {
                ui.colored_label(
                    theme::tone_color(&visuals, CellTone::Warning),
                    t!("table.forbidden", cluster = cluster.as_str(), error = message.as_ref()),
                );
            }
            ViewStatus::Stale { saved_unix_secs } => {
                let age = crate::model::row::format_age(now_unix_secs - saved_unix_secs);
                ui.colored_label(
                    theme::tone_color(&visuals, CellTone::Warning),
                    t!("table.stale", cluster = cluster.as_str(), age = age),
                );
            }
            ViewStatus::Paused => {
                ui.label(egui::RichText::new(t!("table.paused", cluster = cluster.as_str())).weak());
            }
            ViewStatus::Live => {}
        }
    }
}

fn shown_columns(wide_columns: bool, table: &TableSnapshot) -> Vec<Shown> {
    let mut shown = Vec::new();
    if table.show_cluster_column() {
        shown.push(Shown::Cluster);
    }
    if table.kind.as_ref().is_none_or(|k| k.is_namespaced()) {
        shown.push(Shown::Namespace);
    }
    shown.extend(
        table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| wide_columns || c.priority == 0)
            .map(|(i, _)| Shown::Server(i)),
    );
    shown
}

fn header_label(table: &TableSnapshot, shown: Shown) -> String {
    match shown {
        Shown::Cluster => t!("table.column_cluster").to_string(),
        Shown::Namespace => t!("table.column_namespace").to_string(),
        Shown::Server(i) => table.columns.get(i).map(|c| c.name.to_string()).unwrap_or_default(),
    }
}

fn sort_for(table: &TableSnapshot, shown: Shown) -> SortColumn {
    match shown {
        Shown::Cluster => SortColumn::Cluster,
        Shown::Namespace => SortColumn::Namespace,
        // The server's Name column sorts by object name (natural order, then namespace).
        Shown::Server(i) if table.columns.get(i).is_some_and(|c| &*c.name == "Name") => SortColumn::Name,
        Shown::Server(i) => SortColumn::Column(i),
    }
}

/// A column's header: its name, the sort arrow, its description on hover; a click sorts by it.
fn header_cell_ui(ui: &mut egui::Ui, state: &mut TableState, table: &TableSnapshot, column: Shown) {
    let sort = sort_for(table, column);
    let arrow = match (state.sort == sort, state.sort_descending) {
        (true, false) => " ⏶",
        (true, true) => " ⏷",
        _ => "",
    };
    let label = format!("{}{arrow}", header_label(table, column));
    let response = ui.add(egui::Button::new(egui::RichText::new(label).strong()).frame(false));
    let response = match column {
        Shown::Server(i) => match table.columns.get(i) {
            // Klieg's own columns carry a translation key; the server's, its text.
            Some(c) if c.description.starts_with("usage.") => response.on_hover_text(t!(c.description.as_ref())),
            Some(c) if !c.description.is_empty() => response.on_hover_text(c.description.as_ref()),
            _ => response,
        },
        _ => response,
    };
    if response.clicked() {
        state.toggle_sort(sort);
    }
}

/// Ctrl/Cmd-click adds a row to (or takes it from) the bulk selection, Shift-click adds the
/// rows from the last clicked one to this one, and a plain click opens it.
fn row_clicked(
    ui: &egui::Ui,
    (bulk, outbox): (&mut BulkSelection, &mut Outbox),
    table: &TableSnapshot,
    (index, kind): (usize, KindKey),
    open_key: Option<&ObjectKey>,
) {
    let released = ui.input(|i| {
        i.events.iter().find_map(|e| match e {
            egui::Event::PointerButton { pressed: false, modifiers, .. } => Some(*modifiers),
            _ => None,
        })
    });
    let modifiers = released.unwrap_or_default();
    let Some(row) = table.rows.get(index) else { return };
    if modifiers.shift {
        let anchor = bulk.anchor.as_ref().and_then(|anchor| table.rows.iter().position(|r| &r.key == anchor));
        let anchor = anchor.or_else(|| open_key.and_then(|open| table.rows.iter().position(|r| &r.key == open)));
        let (from, to) = match anchor {
            Some(anchor) => (anchor.min(index), anchor.max(index)),
            None => (index, index),
        };
        bulk.select(kind, table.rows[from..=to].iter().map(|r| r.key.clone()));
    } else if modifiers.command {
        bulk.toggle(kind, row.key.clone());
    } else {
        outbox.intend(Intent::Open { kind, key: row.key.clone() });
    }
    bulk.anchor = Some(row.key.clone());
}

/// Ctrl/Cmd-A selects every row shown, Escape clears the selection, unless a text field has
/// the keyboard.
fn selection_keys(ui: &mut egui::Ui, bulk: &mut BulkSelection, table: &TableSnapshot, kind: KindKey) {
    if ui.memory(|m| m.focused().is_some()) {
        return;
    }
    if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::A)) && !table.rows.is_empty() {
        bulk.select(kind, table.rows.iter().map(|r| r.key.clone()));
    }
    if !bulk.keys.is_empty() && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape)) {
        bulk.keys.clear();
    }
}

/// What the rows change and read.
struct Rows<'a> {
    state: &'a mut TableState,
    bulk: &'a mut BulkSelection,
    outbox: &'a mut Outbox,
    wide_columns: bool,
    open: Option<&'a ObjectKey>,
    /// Registered glances of this kind, when it has any.
    glances: Option<&'a crate::model::registry::GlanceSnapshot>,
}

/// The card shown below the row the pointer rests on: its glances, once built for that row.
fn glance_card_ui(
    ctx: &egui::Context,
    key: &ObjectKey,
    glances: &crate::model::registry::GlanceSnapshot,
    row: egui::Rect,
) {
    let built = glances.object.as_ref().is_some_and(|(_, k)| k == key);
    if !built || glances.glances.is_empty() {
        return;
    }
    let at =
        ctx.pointer_hover_pos().map_or(row.left_bottom(), |pointer| egui::pos2(pointer.x + 16.0, row.bottom() + 4.0));
    egui::Area::new(egui::Id::unique("glance_card"))
        .order(egui::Order::Tooltip)
        .fixed_pos(at)
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_max_width(420.0);
                let mut details = crate::state::DetailsState::default();
                for glance in &glances.glances {
                    ui.strong(super::text(&glance.title));
                    super::details::section_body_ui(ui, &mut details, &glance.id, &glance.body);
                }
            });
        });
}

fn rows_ui(ui: &mut egui::Ui, rows: Rows<'_>, table: &TableSnapshot, now_unix_secs: i64) -> Option<i64> {
    let Rows { state, bulk, outbox, wide_columns, open, glances } = rows;
    state.hovered = None;
    let shown = shown_columns(wide_columns, table);
    if shown.is_empty() {
        return None;
    }
    let mut youngest: Option<i64> = None;
    let mut clicked: Option<usize> = None;
    let mut hovered_rect: Option<egui::Rect> = None;
    let open_key = open.cloned();
    let visuals = ui.visuals().clone();
    let kind_key = table.kind.as_ref().map(|k| k.key());
    // Cell text is not selectable, so a click anywhere on a row opens it.
    ui.style_mut().interaction.selectable_labels = false;
    let mut builder = TableBuilder::new(ui)
        .id_salt(("resource_table", kind_key.as_ref().map(|k| k.plural.to_string())))
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .auto_shrink([false, false]);
    for (index, column) in shown.iter().enumerate() {
        let table_column = match column {
            _ if index + 1 == shown.len() => TableColumn::remainder().at_least(60.0),
            Shown::Server(0) => TableColumn::auto().at_least(120.0),
            Shown::Cluster | Shown::Namespace => TableColumn::initial(130.0).at_least(60.0),
            Shown::Server(_) => TableColumn::auto().at_least(56.0),
        };
        builder = builder.column(table_column.clip(true));
    }
    builder
        .header(ROW_HEIGHT + 2.0, |mut header| {
            for column in &shown {
                header.col(|ui| header_cell_ui(ui, state, table, *column));
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, table.rows.len(), |mut row| {
                let index = row.index();
                let Some(data) = table.rows.get(index) else {
                    return;
                };
                row.set_selected(open_key.as_ref() == Some(&data.key) || bulk.keys.contains(&data.key));
                for column in &shown {
                    row.col(|ui| match column {
                        Shown::Cluster => {
                            ui.label(data.key.cluster.as_str());
                        }
                        Shown::Namespace => {
                            ui.label(data.key.namespace.as_deref().unwrap_or(""));
                        }
                        Shown::Server(i) => {
                            let cell = table.cell(data, *i);
                            if let Cell::Age(created) = cell {
                                let age = now_unix_secs - created;
                                youngest = Some(youngest.map_or(age, |y: i64| y.min(age)));
                            }
                            let text = cell.display(now_unix_secs);
                            match cell.tone() {
                                CellTone::Normal => ui.label(text.as_ref()),
                                tone => ui.colored_label(theme::tone_color(&visuals, tone), text.as_ref()),
                            };
                        }
                    });
                }
                let response = row.response();
                if response.clicked() {
                    clicked = Some(index);
                }
                if glances.is_some() && response.hovered() {
                    state.hovered = Some(data.key.clone());
                    hovered_rect = Some(response.rect);
                }
            });
        });
    if let (Some(glances), Some(key), Some(rect)) = (glances, state.hovered.as_ref(), hovered_rect) {
        glance_card_ui(ui.ctx(), key, glances, rect);
    }
    if let (Some(index), Some(kind)) = (clicked, kind_key.clone()) {
        row_clicked(ui, (bulk, outbox), table, (index, kind), open_key.as_ref());
    }
    if let Some(kind) = kind_key {
        selection_keys(ui, bulk, table, kind);
    }
    youngest
}
