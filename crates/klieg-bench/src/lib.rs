//! `klieg-bench`: prints watch-event ingest throughput and the UI cost per frame of the resource
//! table. Figures only; nothing here fails on timing. Runs on the calling thread, headless.

pub mod fleet;
pub mod hostile;
pub mod plugins;
pub mod soak;

use klieg::state::UiState;
use klieg_backend::ingest::RowStore;
use klieg_backend::rows::{TableColumnDef, TableRowDoc, row_from_table, table_columns};
use klieg_backend::table_watch::TableEvent;
use klieg_model::{
    ClusterId, ClusterInfo, ClusterState, FleetSnapshot, ResourceKind, Row, Scope, TableSnapshot, ViewStatus,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pod_column_defs() -> Vec<TableColumnDef> {
    ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
        .iter()
        .enumerate()
        .map(|(i, name)| TableColumnDef {
            name: (*name).into(),
            column_type: if *name == "Restarts" { "integer".into() } else { "string".into() },
            format: if i == 0 { "name".into() } else { String::new() },
            description: String::new(),
            priority: if i > 4 { 1 } else { 0 },
        })
        .collect()
}

/// One watch line as a v1.20 apiserver sends it for a pod in Table form (metadata only).
fn watch_line(index: usize, resource_version: usize) -> String {
    pod_watch_line(index, resource_version, false)
}

/// The same, with the whole pod (`includeObject=Object`: its spec and status too) when `whole`.
pub(crate) fn pod_watch_line(index: usize, resource_version: usize, whole: bool) -> String {
    let (a, b, node) = (index / 250 % 250, index % 250, index % 50);
    let (kind, api_version, spec_status) = if whole {
        let phase = if index.is_multiple_of(13) { "Pending" } else { "Running" };
        let rest = format!(
            r#","spec":{{"nodeName":"node-{node}","containers":[{{"name":"web","image":"nginx:1.27"}}]}},"status":{{"phase":"{phase}","podIP":"10.1.{a}.{b}"}}"#
        );
        ("Pod", "v1", rest)
    } else {
        ("PartialObjectMetadata", "meta.k8s.io/v1", String::new())
    };
    format!(
        r#"{{"type":"MODIFIED","object":{{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{{"resourceVersion":"{resource_version}"}},"rows":[{{"cells":["web-{index}","1/1","Running",{restarts},"5m","10.1.{a}.{b}","node-{node}","<none>","<none>"],"object":{{"kind":"{kind}","apiVersion":"{api_version}","metadata":{{"name":"web-{index}","namespace":"ns-{ns}","uid":"uid-{index}","resourceVersion":"{resource_version}","creationTimestamp":"2026-11-01T10:00:00Z","labels":{{"app":"web","pod-template-hash":"5d9c8b7f6"}}}}{spec_status}}}}}]}}}}"#,
        restarts = resource_version % 7,
        ns = index % 20,
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct Line {
    pub(crate) object: LineObject,
}

#[derive(serde::Deserialize)]
pub(crate) struct LineObject {
    pub(crate) rows: Vec<TableRowDoc>,
}

fn measure_ingest(rows: usize, events: usize) {
    let cluster = ClusterId::new("bench");
    let columns = table_columns(Some(&pod_column_defs()), true);
    let lines: Vec<String> = (0..events).map(|i| watch_line(i % rows, 1000 + i)).collect();
    let bytes: usize = lines.iter().map(String::len).sum();

    let mut store = RowStore::default();
    store.apply(TableEvent::Init(columns.clone()));
    store.apply(TableEvent::InitDone);
    let started = Instant::now();
    let mut publishes = 0;
    let mut interner = klieg_backend::rows::Interner::default();
    for (i, line) in lines.iter().enumerate() {
        let Ok(parsed) = serde_json::from_str::<Line>(line) else {
            continue;
        };
        for doc in parsed.object.rows {
            if let Some(row) = row_from_table(&cluster, doc, &columns, &mut interner) {
                store.apply(TableEvent::Apply(row));
            }
        }
        // Publishing happens at most 5×/s in the app; here once per 20k events stands in for it.
        if i % 20_000 == 19_999 {
            std::hint::black_box(store.snapshot());
            publishes += 1;
        }
    }
    let full = started.elapsed();

    let prepared: Vec<Row> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .flat_map(|l| l.object.rows)
        .filter_map(|doc| row_from_table(&cluster, doc, &columns, &mut interner))
        .collect();
    let mut store = RowStore::default();
    store.apply(TableEvent::Init(columns));
    store.apply(TableEvent::InitDone);
    let started = Instant::now();
    for row in prepared {
        store.apply(TableEvent::Apply(row));
    }
    let apply_only = started.elapsed();
    println!(
        "ingest  {events} events over {rows} objects ({:.1} MB JSON): parse+convert+apply {:>10.0} events/s ({:.2} s, {publishes} snapshots) | apply only {:>10.0} events/s",
        bytes as f64 / 1e6,
        events as f64 / full.as_secs_f64(),
        full.as_secs_f64(),
        events as f64 / apply_only.as_secs_f64(),
    );
}

fn synthetic_table(rows: usize) -> TableSnapshot {
    let cluster = ClusterId::new("bench");
    let columns = table_columns(Some(&pod_column_defs()), true);
    let mut interner = klieg_backend::rows::Interner::default();
    let data: Vec<Arc<Row>> = (0..rows)
        .filter_map(|i| {
            let line: Line = serde_json::from_str(&watch_line(i, 1000 + i)).ok()?;
            let doc = line.object.rows.into_iter().next()?;
            row_from_table(&cluster, doc, &columns, &mut interner).map(Arc::new)
        })
        .collect();
    // Subscriptions hand over rows in hash-map order, not sorted: shuffle deterministically.
    let mut data = data;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..data.len()).rev() {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        data.swap(i, (state >> 33) as usize % (i + 1));
    }
    let map: Arc<[Option<usize>]> = (0..columns.len()).map(Some).collect();
    TableSnapshot {
        generation: 1,
        kind: Some(pods_kind()),
        column_maps: BTreeMap::from([(cluster.clone(), map)]),
        columns,
        unfiltered_rows: data.len(),
        rows: Arc::from(data),
        status: BTreeMap::from([(cluster, ViewStatus::Live)]),
        usage_from: None,
        usage: BTreeMap::new(),
    }
}

fn pods_kind() -> ResourceKind {
    ResourceKind {
        group: Arc::from(""),
        version: Arc::from("v1"),
        kind: Arc::from("Pod"),
        plural: Arc::from("pods"),
        scope: Scope::Namespaced,
        verbs: Arc::from(vec![Arc::from("list"), Arc::from("watch")]),
    }
}

fn frame_input(frame: usize) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1400.0, 860.0))),
        time: Some(frame as f64 / 60.0),
        // Scroll a little each frame, so every frame lays out a fresh window of rows.
        events: vec![egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -37.0),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
            source: egui::MouseWheelSource::Wheel,
        }],
        ..Default::default()
    }
}

/// Average layout and tessellation time per frame over `frames` frames after a warm-up, and the
/// vertex count of the last frame (proof that rows were drawn).
fn time_frames(frames: usize, mut draw: impl FnMut(&mut egui::Ui)) -> (Duration, Duration, usize) {
    let ctx = egui::Context::default();
    let mut layout = Duration::ZERO;
    let mut tessellate = Duration::ZERO;
    let mut vertices = 0;
    for frame in 0..(frames + 10) {
        let mut input = frame_input(frame);
        if frame < 10 {
            input.events.clear();
        }
        input.events.push(egui::Event::PointerMoved(egui::pos2(700.0, 400.0)));
        let started = Instant::now();
        let mut output = ctx.run_ui(input, |ui| draw(ui));
        let laid_out = Instant::now();
        // No GPU here: the texture uploads a renderer would do are left out.
        output.textures_delta.clear();
        let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
        vertices = primitives
            .iter()
            .map(|p| match &p.primitive {
                egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        if frame >= 10 {
            layout += laid_out - started;
            tessellate += laid_out.elapsed();
        }
    }
    (layout / frames as u32, tessellate / frames as u32, vertices)
}

/// One connected cluster serving pods.
fn bench_fleet(cluster: &ClusterId) -> FleetSnapshot {
    FleetSnapshot {
        generation: 1,
        clusters: Arc::from(vec![ClusterInfo {
            id: cluster.clone(),
            source: Arc::from("bench"),
            server_url: None,
            default_namespace: None,
            insecure_tls: false,
            is_current_context: true,
            added_in_klieg: false,
            state: ClusterState::Connected { server_version: Arc::from("v1.20.2") },
            mode: klieg_model::ClusterMode::Live,
            kinds: Arc::from(vec![pods_kind()]),
            namespaces: Arc::from(Vec::new()),
            access: None,
        }]),
    }
}

fn measure_frames(rows: usize) {
    let table = synthetic_table(rows);
    let cluster = ClusterId::new("bench");
    let fleet = bench_fleet(&cluster);
    let mut state = UiState::default();
    state.selection.clusters.insert(cluster);
    state.selection.kind = Some(pods_kind().key());
    let bulk_access = klieg_model::BulkAccess::default();
    let glances = klieg_model::registry::GlanceSnapshot::default();
    let registry = klieg_model::Registry::with_builtins();
    let frames = 120;
    let (klieg_layout, klieg_tess, klieg_vertices) = time_frames(frames, |ui| {
        egui::CentralPanel::default().show(ui, |ui| {
            let now = 1_800_000_000;
            let parts = klieg::ui::resource_table::TableParts::of(&mut state);
            let data = klieg::ui::resource_table::TableData {
                table: &table,
                fleet: &fleet,
                bulk_access: &bulk_access,
                registry: &registry,
                glances: &glances,
            };
            klieg::ui::resource_table::table_view_ui(ui, parts, data, now);
        });
    });
    let (bare_layout, bare_tess, bare_vertices) = time_frames(frames, |ui| {
        egui::CentralPanel::default().show(ui, |ui| {
            let mut builder = egui_extras::TableBuilder::new(ui).striped(true).auto_shrink([false, false]);
            for _ in 0..6 {
                builder = builder.column(egui_extras::Column::initial(120.0).clip(true));
            }
            builder.body(|body| {
                body.rows(klieg::ui::resource_table::ROW_HEIGHT, table.rows.len(), |mut row| {
                    let Some(data) = table.rows.get(row.index()) else {
                        return;
                    };
                    for i in 0..6 {
                        row.col(|ui| {
                            ui.label(table.cell(data, i).display(1_800_000_000).as_ref());
                        });
                    }
                });
            });
        });
    });
    println!(
        "frame   {rows:>7} rows: klieg table {:>6.3} ms layout + {:>6.3} ms tessellate ({klieg_vertices} vertices) | bare egui_extras table {:>6.3} ms + {:>6.3} ms ({bare_vertices} vertices) | ratio {:.2}x",
        ms(klieg_layout),
        ms(klieg_tess),
        ms(bare_layout),
        ms(bare_tess),
        ms(klieg_layout + klieg_tess) / ms(bare_layout + bare_tess).max(1e-9),
    );
}

/// Frame cost with 12 live charts on screen (the Metrics tab's four charts for three objects, an
/// hour at 30 s steps, five lines in all per object), and the memory an hour of chart data takes.
fn measure_charts() {
    use klieg::ui::charts::{Chart, Series, time_chart_ui};
    use klieg_model::prometheus::{ChartLine, ChartSubject, chart_specs};
    let now = 1_800_000_000.0;
    let hour_points = |seed: f64, scale: f64| -> std::collections::VecDeque<[f64; 2]> {
        (0..120)
            .map(|i| [now - 3600.0 + f64::from(i) * 30.0, scale * (1.2 + (f64::from(i) / 9.0 + seed).sin())])
            .collect()
    };
    let key = klieg_model::ObjectKey {
        cluster: ClusterId::new("bench"),
        namespace: Some(Arc::from("shop")),
        name: Arc::from("web-1"),
    };
    let specs = chart_specs(&ChartSubject::Pod, &key);
    // Three objects' charts: 12 charts, 15 lines.
    let charts: Vec<(String, klieg_model::ChartUnit, Vec<ChartLine>)> = (0..3)
        .flat_map(|object| {
            specs.iter().map(move |spec| {
                let lines = spec
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(n, (name_key, _))| ChartLine {
                        name_key,
                        points: hour_points(f64::from(object * 7 + n as i32), 1e6),
                    })
                    .collect();
                (format!("{} #{object}", spec.title_key), spec.unit, lines)
            })
        })
        .collect();
    let frames = 120;
    let (layout, tessellate, vertices) = time_frames(frames, |ui| {
        egui::CentralPanel::default().show(ui, |ui| {
            egui::Grid::new("bench_charts").num_columns(4).show(ui, |ui| {
                for (index, (title, unit, lines)) in charts.iter().enumerate() {
                    let series: Vec<Series<'_>> = lines
                        .iter()
                        .map(|l| Series { name: l.name_key, points: l.points.iter().copied().collect() })
                        .collect();
                    ui.vertical(|ui| {
                        ui.set_width(330.0);
                        time_chart_ui(
                            ui,
                            &Chart {
                                id: &format!("bench_chart_{index}"),
                                title,
                                unit: *unit,
                                series: &series,
                                references: &[],
                                error: None,
                                height: 150.0,
                            },
                        );
                    });
                    if index % 4 == 3 {
                        ui.end_row();
                    }
                }
            });
        });
    });
    println!(
        "charts  12 live charts (15 lines × 120 points): {:>6.3} ms layout + {:>6.3} ms tessellate per frame ({vertices} vertices)",
        ms(layout),
        ms(tessellate),
    );
    // Memory per chart-hour: the bytes the kept points occupy (heap buffers at their capacity plus
    // the line itself). Resident memory is no help here: earlier benchmarks leave freed pages the
    // allocator reuses.
    let line = ChartLine { name_key: "charts.cpu", points: hour_points(0.0, 1.0) };
    let line_bytes = std::mem::size_of::<ChartLine>() + line.points.capacity() * std::mem::size_of::<[f64; 2]>();
    let history = std::mem::size_of::<klieg_model::UsageHistory>()
        + std::mem::size_of::<klieg_model::UsageSample>() * klieg_model::usage::USAGE_HISTORY_SAMPLES;
    println!(
        "charts  memory per chart-hour: Prometheus line (120 points at 30 s) {:.1} KiB; metrics-server history (360 samples at 10 s, CPU and memory) {:.1} KiB",
        line_bytes as f64 / 1024.0,
        history as f64 / 1024.0,
    );
}

/// Off-thread cost of turning subscription rows into a sorted, filtered view.
fn measure_view_build(rows: usize) {
    use klieg_backend::ingest::SubscriptionRows;
    use klieg_backend::view::{ViewPart, build_view};
    use klieg_model::{SortColumn, ViewQuery};
    let table = synthetic_table(rows);
    let cluster = ClusterId::new("bench");
    let parts = [ViewPart {
        cluster: cluster.clone(),
        rows: Some(Arc::new(SubscriptionRows {
            generation: 1,
            columns: table.columns.clone(),
            rows: table.rows.clone(),
            status: ViewStatus::Live,
        })),
        status: ViewStatus::Live,
        usage: None,
    }];
    let queries = [
        ("sort by name", ViewQuery { clusters: vec![cluster.clone()], ..ViewQuery::default() }),
        (
            "sort by restarts desc",
            ViewQuery {
                clusters: vec![cluster.clone()],
                sort: SortColumn::Column(3),
                sort_descending: true,
                ..ViewQuery::default()
            },
        ),
        (
            "text filter + selector",
            ViewQuery {
                clusters: vec![cluster],
                text_filter: "web-9".into(),
                label_selector: "app=web".into(),
                ..ViewQuery::default()
            },
        ),
    ];
    for (label, query) in queries {
        let started = Instant::now();
        let runs = 5;
        let mut shown = 0;
        for generation in 0..runs {
            shown = build_view(&query, Some(pods_kind()), &parts, generation).rows.len();
        }
        println!(
            "view    {rows:>7} rows: {label:<24} {:>8.2} ms per rebuild ({shown} rows shown)",
            ms(started.elapsed()) / runs as f64
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// The simulator at fleet scale: memory and build time for `clusters × pods`, then the rate of
/// churn changes one cluster's store applies and publishes to a watcher.
fn measure_simulator(clusters: usize, pods_per_cluster: usize) {
    use klieg_sim::{ClusterSpec, Fleet};
    let before = rss_bytes();
    let started = Instant::now();
    let specs = (0..clusters)
        .map(|i| ClusterSpec {
            name: format!("bench-{i:03}"),
            git_version: "v1.31.2".into(),
            nodes: 10,
            pods: pods_per_cluster,
        })
        .collect();
    let fleet = match Fleet::start(specs, 0.0, None) {
        Ok(fleet) => fleet,
        Err(error) => {
            println!("sim     could not start: {error}");
            return;
        }
    };
    let built = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    let pods = clusters * pods_per_cluster;
    println!(
        "sim     {clusters:>3} clusters x {pods_per_cluster:>6} pods: serving after {:.1} s, +{:.0} MiB RSS ({:.2} KiB per pod, all objects included)",
        built.as_secs_f64(),
        grown as f64 / 1_048_576.0,
        grown as f64 / 1024.0 / pods as f64,
    );
    let Some(cluster) = fleet.clusters.first() else { return };
    let mut watcher = cluster.changes.subscribe();
    let mut churn = klieg_sim::generator::Churn::new(42);
    let changes = 20_000.min(pods_per_cluster * 20).max(1000);
    let started = Instant::now();
    let mut received = 0usize;
    for _ in 0..changes {
        cluster.mutate(|store| churn.step(store));
        while watcher.try_recv().is_ok() {
            received += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "sim     churn on one {pods_per_cluster}-pod cluster: {:.0} changes/s, {:.0} watch events/s published ({received} events)",
        changes as f64 / elapsed.as_secs_f64(),
        received as f64 / elapsed.as_secs_f64(),
    );
}

/// Simulator scale figures: 100 clusters × 1k pods and 1 cluster × 100k pods.
pub fn run_simulator() {
    println!("klieg-bench --sim (release build recommended)");
    measure_simulator(100, 1_000);
    measure_simulator(1, 100_000);
}

pub fn run(row_counts: &[usize]) {
    println!("klieg-bench (release build recommended; figures vary with machine load)");
    measure_ingest(10_000, 200_000);
    for &rows in row_counts {
        measure_frames(rows);
    }
    if let Some(&largest) = row_counts.iter().max() {
        measure_view_build(largest);
    }
    measure_charts();
}
