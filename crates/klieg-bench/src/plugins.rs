//! `klieg-bench --plugins`: what plugins cost. Load time and memory per plugin (the tree's, and
//! a hundred copies of one), watch-event ingest over 100k pods with and without a plugin column
//! (metadata-only and from the object), and the frame cost of a plugin's view of 10k rows with
//! its column. Figures printed, never a timed test. Runs on the calling thread (the plugin host
//! on its own).

use klieg_backend::ingest::{RowStore, with_column_sets};
use klieg_backend::rows::{Interner, row_from_table, table_columns};
use klieg_backend::table_watch::TableEvent;
use klieg_model::registry::ColumnSetSpec;
use klieg_model::{ClusterId, KindKey, LiveRegistry, Registry};
use klieg_plugins::{HostConfig, PluginHost, PluginState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

fn tree_plugins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")
}

fn start_host(folders: Vec<PathBuf>) -> (PluginHost, LiveRegistry) {
    let live = LiveRegistry::new(Registry::with_builtins());
    let config = HostConfig { development: folders, ..HostConfig::default() };
    let host = PluginHost::start(config, Registry::with_builtins(), live.clone());
    if !host.wait_for_first_load(std::time::Duration::from_secs(60)) {
        println!("plugins: the host did not load its plugins within 60 s");
    }
    (host, live)
}

fn write_plugin(root: &Path, id: &str, main: &str) -> PathBuf {
    klieg_plugins::write_single_file_plugin(root, id, main).unwrap_or_else(|_| root.join(id))
}

fn load_figures(scratch: &Path) {
    for name in ["cert-manager", "flux"] {
        let (host, _) = start_host(vec![tree_plugins().join(name)]);
        for plugin in &host.list().plugins {
            println!(
                "plugins load {:<24} {:>6.2} ms, {:>6.2} MiB of Luau memory ({})",
                plugin.id,
                plugin.load_ms,
                plugin.memory_bytes as f64 / (1024.0 * 1024.0),
                plugin.state.label()
            );
        }
    }
    let source = std::fs::read_to_string(tree_plugins().join("cert-manager/init.luau")).unwrap_or_default();
    let dates = std::fs::read_to_string(tree_plugins().join("cert-manager/dates.luau")).unwrap_or_default();
    let root = scratch.join("copies");
    for i in 0..100 {
        let folder = write_plugin(&root, &format!("io.example.copy-{i:03}"), &source);
        let _ = std::fs::write(folder.join("dates.luau"), &dates);
    }
    let started = Instant::now();
    let (host, _) = start_host(vec![root]);
    let elapsed = started.elapsed();
    let list = host.list();
    let running = list.plugins.iter().filter(|p| p.state == PluginState::Running).count();
    let memory: usize = list.plugins.iter().map(|p| p.memory_bytes).sum();
    println!(
        "plugins load 100 copies of cert-manager: {running} running in {:.0} ms ({:.2} ms each), {:.1} MiB of Luau memory in all ({:.0} KiB each)",
        elapsed.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64() * 1000.0 / 100.0,
        memory as f64 / (1024.0 * 1024.0),
        memory as f64 / 1024.0 / 100.0
    );
}

/// Events per second through parse, row conversion, the column sets and the store.
fn ingest_rate(lines: &[String], sets: &[ColumnSetSpec]) -> (f64, usize) {
    let cluster = ClusterId::new("bench");
    let columns = table_columns(Some(&super::pod_column_defs()), true);
    let mut store = RowStore::default();
    store.apply(with_column_sets(TableEvent::Init(columns.clone()), sets));
    store.apply(TableEvent::InitDone);
    let mut interner = Interner::default();
    let started = Instant::now();
    for line in lines {
        let Ok(parsed) = serde_json::from_str::<super::Line>(line) else { continue };
        for doc in parsed.object.rows {
            if let Some(row) = row_from_table(&cluster, doc, &columns, &mut interner) {
                store.apply(with_column_sets(TableEvent::Apply(row), sets));
            }
        }
    }
    let elapsed = started.elapsed();
    let snapshot = store.snapshot();
    let cells_filled = snapshot.rows.iter().filter(|r| r.cells.len() > columns.len()).count();
    (lines.len() as f64 / elapsed.as_secs_f64(), cells_filled)
}

const LABEL_COLUMN: &str = r#"
local klieg = require("@klieg")
klieg.columns.add({ id = "app", kinds = { "pods" }, title = "App", metadata_only = true,
  cell = function(pod) return pod.metadata.labels.app or "-" end })
"#;

const STATUS_COLUMN: &str = r#"
local klieg = require("@klieg")
klieg.columns.add({ id = "phase", kinds = { "pods" }, title = "Phase",
  cell = function(pod)
    local phase = pod.status and pod.status.phase or "?"
    return { text = phase .. " on " .. (pod.spec.nodeName or "-"), tone = if phase == "Running" then "ok" else "warning" }
  end })
"#;

fn ingest_figures(scratch: &Path) {
    let pods = KindKey::new("", "pods");
    let events = 100_000;
    let metadata_lines: Vec<String> = (0..events).map(|i| super::pod_watch_line(i, 1000 + i, false)).collect();
    let object_lines: Vec<String> = (0..events).map(|i| super::pod_watch_line(i, 1000 + i, true)).collect();
    let (label_host, label_live) = start_host(vec![write_plugin(scratch, "io.example.label", LABEL_COLUMN)]);
    let (status_host, status_live) = start_host(vec![write_plugin(scratch, "io.example.status", STATUS_COLUMN)]);
    let label_sets = label_live.current().column_sets_for(&pods);
    let status_sets = status_live.current().column_sets_for(&pods);
    let (base, _) = ingest_rate(&metadata_lines, &[]);
    let (label, label_cells) = ingest_rate(&metadata_lines, &label_sets);
    let (objects, _) = ingest_rate(&object_lines, &[]);
    let (status, status_cells) = ingest_rate(&object_lines, &status_sets);
    println!("plugins ingest {events} pod events over 100k pods (parse + rows + column sets + store):");
    println!("  metadata watch, no plugin column      {base:>9.0} events/s");
    println!(
        "  metadata watch, label column (Luau)   {label:>9.0} events/s ({:.0}% of it; {label_cells} rows with the cell)",
        label / base * 100.0
    );
    println!(
        "  object watch, no plugin column        {objects:>9.0} events/s ({:.0}% of the metadata watch)",
        objects / base * 100.0
    );
    println!(
        "  object watch, status column (Luau)    {status:>9.0} events/s ({:.0}% of the metadata watch; {status_cells} rows with the cell)",
        status / base * 100.0
    );
    for host in [label_host, status_host] {
        for plugin in &host.list().plugins {
            assert_running(plugin);
        }
    }
}

fn assert_running(plugin: &klieg_plugins::PluginInfo) {
    if plugin.state != PluginState::Running {
        println!("  (!) {} is {:?}: the figures above are without it", plugin.id, plugin.state);
    }
}

/// A plugin's view (its header and tabs) over the generic table of 10k rows with its column.
fn frame_figures() {
    let rows = 10_000;
    let mut table = super::synthetic_table(rows);
    // The plugin's column, filled as ingest fills it.
    let mut columns = table.columns.to_vec();
    columns.push(klieg_model::Column {
        name: Arc::from("App"),
        description: Arc::from(""),
        column_type: klieg_model::ColumnType::Text,
        priority: 0,
        is_age: false,
    });
    table.columns = Arc::from(columns.clone());
    table.rows = table
        .rows
        .iter()
        .map(|row| {
            let mut row = (**row).clone();
            let mut cells = row.cells.into_vec();
            cells.push(klieg_model::Cell::Text(Arc::from("web"), klieg_model::CellTone::Good));
            row.cells = cells.into_boxed_slice();
            Arc::new(row)
        })
        .collect();
    let cluster = ClusterId::new("bench");
    table.column_maps = [(cluster.clone(), (0..columns.len()).map(Some).collect())].into_iter().collect();
    let fleet = super::bench_fleet(&cluster);
    let view = klieg_model::registry::ViewSpec {
        id: klieg_model::registry::ViewId(Arc::from("io.example/pods")),
        title: klieg_model::Text::plain("Pods by app"),
        intro: Some(klieg_model::Text::plain("Every pod, with the plugin's App column.")),
        tables: vec![klieg_model::registry::ViewTable {
            title: klieg_model::Text::plain("Pods"),
            kind: KindKey::new("", "pods"),
        }],
        live: None,
    };
    let mut state = klieg::state::UiState::default();
    state.selection.clusters.insert(cluster);
    let bulk_access = klieg_model::BulkAccess::default();
    let glances = klieg_model::registry::GlanceSnapshot::default();
    let registry = Registry::with_builtins();
    let (layout, tessellate, vertices) = super::time_frames(120, |ui| {
        egui::CentralPanel::default().show(ui, |ui| {
            klieg::ui::views::registered_view_header_ui(ui, &view, &mut state.selection);
            let parts = klieg::ui::resource_table::TableParts::of(&mut state);
            let data = klieg::ui::resource_table::TableData {
                table: &table,
                fleet: &fleet,
                bulk_access: &bulk_access,
                registry: &registry,
                glances: &glances,
            };
            klieg::ui::resource_table::table_view_ui(ui, parts, data, 1_800_000_000);
        });
    });
    println!(
        "plugins frame: a plugin view of {rows} rows with its column: {:.3} ms layout + {:.3} ms tessellate ({vertices} vertices)",
        super::ms(layout),
        super::ms(tessellate)
    );
    built_view_frames();
}

/// A view its plugin built at the node limit (headings, badges, buttons, key/values), drawn
/// from the snapshot as the window does each frame.
fn built_view_frames() {
    use klieg_model::registry::{LiveView, SectionBody, ViewNode, ViewTree};
    let nodes: Vec<ViewNode> = (0..klieg_model::registry::VIEW_MAX_NODES)
        .map(|i| match i % 4 {
            0 => ViewNode::Heading(Arc::from(format!("Delivery {i}"))),
            1 => ViewNode::Badges(vec![
                (Arc::from("Ready"), klieg_model::CellTone::Good),
                (Arc::from("main@1a2b3c4"), klieg_model::CellTone::Normal),
            ]),
            2 => ViewNode::Body(SectionBody::Entries(vec![(
                Arc::from("Source"),
                Arc::from(format!("GitRepository/app-{i}")),
            )])),
            _ => ViewNode::Buttons(vec![(Arc::from("reconcile"), Arc::from("Reconcile now"))]),
        })
        .collect();
    let count = nodes.len();
    let tree = Arc::new(ViewTree { generation: 1, nodes, error: None, building: false });
    let live = LiveView { current: Arc::new(move || tree.clone()), input: Arc::new(|_| {}) };
    let view = klieg_model::registry::ViewSpec {
        id: klieg_model::registry::ViewId(Arc::from("io.example/built")),
        title: klieg_model::Text::plain("Built"),
        intro: None,
        tables: Vec::new(),
        live: Some(live),
    };
    let mut state = klieg::state::UiState::default();
    let context = klieg_model::registry::CommandContext::default();
    let (layout, tessellate, vertices) = super::time_frames(60, |ui| {
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                klieg::ui::views::live_view_ui(ui, &view, (&mut state.views, &mut state.details), &context);
            });
        });
    });
    println!(
        "plugins frame: a built view of {count} nodes (the limit): {:.3} ms layout + {:.3} ms tessellate ({vertices} vertices)",
        super::ms(layout),
        super::ms(tessellate)
    );
}

/// Hostile plugins, each a column on pods (run at ingest as rows arrive and churn).
const HOSTILE_COLUMNS: [(&str, &str); 6] = [
    ("io.example.endless-loop", "while true do end"),
    ("io.example.memory-bomb", "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1048576) .. i end"),
    ("io.example.deep-recursion", "local function f(n) return f(n + 1) + 1 end return f(1)"),
    ("io.example.throws", "error('broken on purpose')"),
    ("io.example.forbidden-io", "return io.open('/etc/passwd')"),
    ("io.example.huge-cell", "return string.rep('x', 8 * 1024 * 1024)"),
];

/// Hostile handlers, each run when a cluster connects, on the plugin's own thread: (id, the
/// manifest's capabilities, what the hook does).
const HOSTILE_HANDLERS: [(&str, &str, &str); 5] = [
    ("io.example.hook-loop", "", "while true do end"),
    ("io.example.hook-error", "", "error('thrown from a hook')"),
    ("io.example.unlisted-http", "http = [\"api.example.com\"]", "k.http.get('https://evil.example.net/')"),
    ("io.example.unasked-write", "", "k.kube.delete('pods', 'web-0')"),
    ("io.example.million-node-view", "", "k.open.view('v')"),
];

/// The whole window against a healthy fleet with churn, with no plugin, then beside each
/// hostile plugin (which is stopped at its first call).
fn hostile_frames(scratch: &Path, seconds: u64) {
    let Some(healthy) = super::hostile::start_healthy() else {
        println!("plugins hostile: the simulator did not start");
        return;
    };
    let names: Vec<String> = healthy.clusters.iter().map(|c| c.name.clone()).collect();
    let paths = vec![healthy.kubeconfig_path.clone()];
    println!(
        "plugins hostile: the window for {seconds} s on pods of {} clusters with churn, beside each hostile plugin",
        names.len()
    );
    super::hostile::report("no plugin", &super::hostile::frames_with(paths.clone(), names.clone(), seconds, None));
    for (id, body) in HOSTILE_COLUMNS {
        let main = format!(
            "local k = require('@klieg') k.columns.add({{ id = 'x', kinds = {{ 'pods' }}, title = 'X', metadata_only = true, cell = function() {body} end }})"
        );
        let folder = write_plugin(&scratch.join("hostile"), id, &main);
        let config = HostConfig { development: vec![folder], ..HostConfig::default() };
        let times = super::hostile::frames_with(paths.clone(), names.clone(), seconds, Some(config));
        super::hostile::report(id, &times);
    }
    for (id, capabilities, body) in HOSTILE_HANDLERS {
        // The view's build returns a million nodes; the hook opens it, so the window shows it.
        let main = format!(
            "local k = require('@klieg') k.views.add({{ id = 'v', title = 'V', build = function() local t, s = {{}}, k.ui.separator() for i = 1, 1000000 do t[i] = s end return t end }}) k.on('cluster_connected', function() {body} end)"
        );
        let folder = write_plugin(&scratch.join("hostile"), id, &main);
        let manifest = folder.join("plugin.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        let _ = std::fs::write(&manifest, format!("{text}\n[capabilities]\n{capabilities}\n"));
        let config = HostConfig { development: vec![folder], ..HostConfig::default() };
        let times = super::hostile::frames_with(paths.clone(), names.clone(), seconds, Some(config));
        super::hostile::report(id, &times);
    }
}

pub fn run() {
    println!("klieg-bench --plugins (release build recommended; figures vary with machine load)");
    let Ok(scratch) = tempfile::tempdir() else {
        println!("no temporary folder");
        return;
    };
    load_figures(scratch.path());
    ingest_figures(scratch.path());
    frame_figures();
    hostile_frames(scratch.path(), 10);
}
