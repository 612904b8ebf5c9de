//! The Klieg window: owns the backend handle and UI state, pulls the latest snapshots each frame,
//! sends commands when the selection changes, and lays out the panels. UI thread only.

use crate::backend::{self, BackendHandle, kubeconfig::KubeconfigSources};
use crate::model::Registry;
use crate::model::registry::AppEvent;
use crate::model::registry::builtin::{self, OVERVIEW_VIEW};
use crate::model::{
    ActivityLog, ChartRequest, ClusterState, Command, DetailsSnapshot, FleetSnapshot, ForwardList, LogSnapshot,
    TableSnapshot, TerminalList,
};
use crate::state::{Settings, ThemeChoice, UiState};
use crate::ui;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const SETTINGS_KEY: &str = "klieg.settings";
pub mod persist;
pub mod plugin_services;

/// How soon commands that found the backend's queue full are tried again.
const COMMAND_RETRY: Duration = Duration::from_millis(50);

pub struct KliegApp {
    backend: BackendHandle,
    /// Every registered feature, built-in or a plugin's, as it is now; shared with the backend.
    live_registry: crate::model::LiveRegistry,
    /// `live_registry` as of this frame (taken again when a plugin loads, reloads or stops).
    pub registry: Arc<Registry>,
    registry_generation: u64,
    /// The plugin host, when plugins are loaded (not in most tests), and its list as last read.
    plugins: Option<crate::plugins::PluginHost>,
    pub plugin_list: Arc<crate::plugins::PluginList>,
    /// What plugin handlers left for the window: writes to confirm, notices, places to open.
    pub plugin_inbox: plugin_services::SharedInbox,
    /// What the event hooks were last told: the clusters connected, the actions finished.
    told: Told,
    pub state: UiState,
    pub fleet: Arc<FleetSnapshot>,
    pub table: Arc<TableSnapshot>,
    pub details: Arc<DetailsSnapshot>,
    pub activity: Arc<ActivityLog>,
    pub logs: Arc<LogSnapshot>,
    pub forwards: Arc<ForwardList>,
    pub terminals: Arc<TerminalList>,
    pub usage_history: Arc<crate::model::UsageHistory>,
    pub charts: Arc<crate::model::ChartSet>,
    pub overview: Arc<crate::model::OverviewSnapshot>,
    /// What the user may do over the bulk selection, as last answered.
    pub bulk_access: Arc<crate::model::BulkAccess>,
    pub glances: Arc<crate::model::registry::GlanceSnapshot>,
    sent_modes: Option<std::collections::BTreeMap<String, crate::model::ClusterMode>>,
    /// The approvals the backend has, to send the user's next one.
    sent_approved_exec: std::collections::BTreeSet<String>,
    /// `--all-clusters`: select every cluster once the fleet is known.
    pub select_all_clusters: bool,
    /// `KLIEG_BENCH_REPORT`: what the benchmark reads from stdout (first frame, rows shown).
    bench_report: Option<BenchReport>,
    /// Wall clock for ages; injected so UI tests are deterministic.
    pub clock: fn() -> i64,
    /// Where settings and drafts are kept (`None`: nothing is written, as in most tests).
    persistence: Option<persist::Persistence>,
}

/// Replaces `slot` with the channel's value if it changed since last taken; says whether it did.
fn take_newer<T>(channel: &mut tokio::sync::watch::Receiver<Arc<T>>, slot: &mut Arc<T>) -> bool {
    if !channel.has_changed().unwrap_or(false) {
        return false;
    }
    *slot = channel.borrow_and_update().clone();
    true
}

pub use crate::model::now_unix_secs;

impl KliegApp {
    /// Starts the backend for `sources` with Klieg's own features and wakes `ctx` when it has news.
    pub fn new(ctx: &egui::Context, sources: KubeconfigSources, settings: Settings) -> anyhow::Result<Self> {
        Self::with_extensions(ctx, sources, settings, backend::Extensions::builtin())
    }

    /// Starts the backend for `sources` with `extensions` (the built-ins and whatever else was
    /// registered) and wakes `ctx` when it has news.
    pub fn with_extensions(
        ctx: &egui::Context,
        mut sources: KubeconfigSources,
        settings: Settings,
        extensions: backend::Extensions,
    ) -> anyhow::Result<Self> {
        let repaint_ctx = ctx.clone();
        let waker: backend::Waker = Arc::new(move || repaint_ctx.request_repaint());
        // The backend starts with the saved modes, so a cluster switched off is never contacted.
        let settings_modes = settings.cluster_modes.clone();
        let settings_approved_exec = settings.approved_exec.clone();
        sources.cluster_modes = modes_by_id(&settings_modes);
        sources.approved_exec = settings.approved_exec.clone();
        let live_registry = extensions.registry.clone();
        let repaint_ctx = ctx.clone();
        live_registry.on_change(move || repaint_ctx.request_repaint());
        let (registry_generation, registry) = (live_registry.generation(), live_registry.current());
        let backend = backend::start_with(sources, waker, extensions)?;
        let locale = if settings.locale.is_empty() { system_locale() } else { settings.locale.clone() };
        rust_i18n::set_locale(&locale);
        let mut state = UiState::from_settings(settings);
        state.settings.locale = locale;
        ui::fonts::install_fonts(ctx);
        Ok(Self {
            backend,
            live_registry,
            registry,
            registry_generation,
            plugins: None,
            plugin_list: Arc::default(),
            plugin_inbox: Arc::default(),
            told: Told::default(),
            state,
            fleet: Arc::default(),
            table: Arc::default(),
            details: Arc::default(),
            activity: Arc::default(),
            logs: Arc::default(),
            forwards: Arc::default(),
            terminals: Arc::default(),
            usage_history: Arc::default(),
            charts: Arc::default(),
            overview: Arc::default(),
            bulk_access: Arc::default(),
            glances: Arc::default(),
            sent_modes: Some(settings_modes),
            sent_approved_exec: settings_approved_exec,
            select_all_clusters: false,
            bench_report: std::env::var_os("KLIEG_BENCH_REPORT").map(|_| BenchReport::default()),
            clock: now_unix_secs,
            persistence: None,
        })
    }

    /// Starts the plugin host on `plugins` (the settings say which installed ones the user turned
    /// on, with what granted), then the backend with the built-ins and the plugins' features.
    pub fn with_plugins(
        ctx: &egui::Context,
        sources: KubeconfigSources,
        settings: Settings,
        mut plugins: crate::plugins::HostConfig,
    ) -> anyhow::Result<Self> {
        for (id, choice) in &settings.plugins {
            if choice.enabled {
                plugins.enabled.insert(id.clone(), choice.granted.clone());
            } else {
                plugins.disabled.insert(id.clone());
            }
            if choice.trust_writes {
                plugins.trusted_writes.insert(id.clone());
            }
            let values = choice
                .settings
                .iter()
                .filter_map(|(key, json)| Some((Arc::from(key.as_str()), ui::plugins::field_value_of(json)?)))
                .collect();
            plugins.settings.insert(id.clone(), values);
        }
        let secrets = sources.secrets.clone();
        let live = crate::model::LiveRegistry::default();
        // The plugins load on the host's thread: the window repaints when they are in.
        let repaint_ctx = ctx.clone();
        live.on_change(move || repaint_ctx.request_repaint());
        let host = crate::plugins::PluginHost::start(plugins, Registry::with_builtins(), live.clone());
        let repaint_ctx = ctx.clone();
        host.on_change(move || repaint_ctx.request_repaint());
        let planner = host.clone();
        let plan: backend::actions::PlanAction =
            Arc::new(move |id, kind, key, object| planner.plan_action(id, kind, key, object));
        let handlers = backend::actions::ActionHandlers::with_builtins().with_planned_actions(plan);
        let extensions = backend::Extensions { registry: live, handlers };
        let mut app = Self::with_extensions(ctx, sources, settings, extensions)?;
        host.set_services(Box::new(plugin_services::AppServices {
            inbox: app.plugin_inbox.clone(),
            ctx: ctx.clone(),
            gateway: app.backend.plugin_gateway.clone(),
            secrets,
        }));
        app.plugin_list = host.list();
        app.plugins = Some(host);
        Ok(app)
    }

    /// Keeps settings and drafts in `places` from now on; a draft left there by an earlier
    /// session is offered. Returns the slot the panic hook saves the newest draft from.
    pub fn keep_files_in(&mut self, places: persist::Places) -> std::io::Result<persist::DraftSlot> {
        let (persistence, recovered) = persist::Persistence::start(places)?;
        let slot = persistence.draft_slot();
        self.state.recovered_draft = recovered;
        self.persistence = Some(persistence);
        Ok(slot)
    }

    /// Waits until the settings and draft handed over so far are on disk.
    pub fn flush_files(&self) {
        if let Some(persistence) = &self.persistence {
            persistence.flush();
        }
    }

    /// Takes the newest snapshots; cheap when nothing changed.
    fn pull_snapshots(&mut self) {
        if let Some(host) = &self.plugins {
            let list = host.list();
            if list.generation != self.plugin_list.generation {
                self.plugin_list = list;
            }
        }
        if self.live_registry.generation() != self.registry_generation {
            self.registry_generation = self.live_registry.generation();
            self.registry = self.live_registry.current();
        }
        let backend = &mut self.backend;
        backend.table.take_newer(&mut self.table);
        backend.details.take_newer(&mut self.details);
        backend.usage_history.take_newer(&mut self.usage_history);
        backend.overview.take_newer(&mut self.overview);
        backend.bulk_access.take_newer(&mut self.bulk_access);
        backend.glances.take_newer(&mut self.glances);
        backend.charts.take_newer(&mut self.charts);
        backend.logs.take_newer(&mut self.logs);
        take_newer(&mut backend.terminals, &mut self.terminals);
        take_newer(&mut backend.forwards, &mut self.forwards);
        if take_newer(&mut backend.activity, &mut self.activity) {
            ui::editor::absorb_activity(&mut self.state.editor, &self.activity);
            self.told.actions_finished(&self.registry, &self.activity);
        }
        if take_newer(&mut backend.fleet, &mut self.fleet) {
            self.told.clusters_connected(&self.registry, &self.fleet);
        }
        if !self.state.selection.clusters_initialised {
            self.state.selection.initialise_clusters(&self.fleet);
        }
        self.settle_kind();
        if self.select_all_clusters && !self.fleet.clusters.is_empty() {
            self.state.selection.clusters.extend(self.fleet.clusters.iter().map(|c| c.id.clone()));
            self.select_all_clusters = false;
        }
    }

    /// Once, when every selected live cluster is connected and its rules are known: a saved or
    /// default kind the user may list on none of them (Pods, for someone who may read only
    /// ConfigMaps) gives way to one they may, instead of a table of refusals.
    fn settle_kind(&mut self) {
        let selection = &mut self.state.selection;
        if selection.kind_settled || !selection.clusters_initialised {
            return;
        }
        let selected: Vec<&crate::model::ClusterInfo> = self
            .fleet
            .clusters
            .iter()
            .filter(|c| selection.clusters.contains(&c.id) && c.mode == crate::model::ClusterMode::Live)
            .collect();
        let known = |c: &&crate::model::ClusterInfo| {
            matches!(c.state, crate::model::ClusterState::Connected { .. }) && c.access.is_some()
        };
        if selected.is_empty() || !selected.iter().all(known) {
            return;
        }
        selection.kind_settled = true;
        let grouped = ui::sidebar::kinds_by_category(&selection.clusters, &self.fleet);
        let offered: Vec<&crate::model::ResourceKind> = grouped.values().flatten().collect();
        let is_offered = |key: &crate::model::KindKey| offered.iter().any(|k| k.key() == *key);
        if selection.kind.as_ref().is_none_or(is_offered) {
            return;
        }
        const PREFERRED: [(&str, &str); 4] =
            [("", "pods"), ("apps", "deployments"), ("", "services"), ("", "configmaps")];
        let preferred = PREFERRED
            .iter()
            .map(|(group, plural)| crate::model::KindKey { group: Arc::from(*group), plural: Arc::from(*plural) });
        // Nothing offered (rules unknown to the sidebar): the kind stays.
        if let Some(kind) = preferred.into_iter().find(is_offered).or_else(|| offered.first().map(|k| k.key())) {
            selection.kind = Some(kind);
        }
    }

    /// Asks each feed for what the window shows now (a feed passes a query on only when it
    /// changed), then sends the frame's commands.
    /// Hands the Plugins page's requests to the plugin host (never waits) and keeps the choices.
    fn send_plugin_requests(&mut self) {
        let requests = std::mem::take(&mut self.state.plugins.requests);
        if requests.is_empty() {
            return;
        }
        ui::plugins::remember_requests(&requests, &mut self.state.settings);
        let Some(host) = &self.plugins else { return };
        for request in requests {
            match request {
                crate::state::PluginRequest::Enable { id, granted } => host.set_enabled(&id, Some(granted)),
                crate::state::PluginRequest::Disable { id } => host.set_enabled(&id, None),
                crate::state::PluginRequest::Reload { id } => host.reload(&id),
                crate::state::PluginRequest::Setting { id, key, value, .. } => host.set_setting(&id, &key, value),
            }
        }
    }

    fn send_changes(&mut self) {
        let backend = &self.backend;
        backend.table.ask(Some(self.state.view_query(&self.fleet)));
        // The scopes (cluster, namespace) the bulk selection touches. A selection can hold every
        // row: its few scopes are gathered by reference, and owned copies are made only when they
        // differ from those asked last; an empty selection asks nothing, so a later one is asked
        // about afresh (rights may have changed meanwhile).
        match (&self.state.bulk.kind, self.state.bulk.keys.is_empty()) {
            (Some(kind), false) => {
                let scopes: std::collections::BTreeSet<(&crate::model::ClusterId, Option<&Arc<str>>)> =
                    self.state.bulk.keys.iter().map(|key| (&key.cluster, key.namespace.as_ref())).collect();
                backend.bulk_access.ask_if(
                    |asked| {
                        asked.as_ref().is_some_and(|(asked_kind, asked_scopes)| {
                            asked_kind == kind
                                && asked_scopes.iter().map(|(c, ns)| (c, ns.as_ref())).eq(scopes.iter().copied())
                        })
                    },
                    || Some((kind.clone(), scopes.iter().map(|(c, ns)| ((*c).clone(), ns.cloned())).collect())),
                );
            }
            _ => backend.bulk_access.ask(None),
        }
        let hovered = self.state.table.hovered.as_ref().zip(self.table.kind.as_ref());
        backend.glances.ask(hovered.map(|(key, kind)| (kind.key(), key.clone())));
        let opened = &self.state.details.open;
        if self.told.opened != *opened {
            if let Some((kind, key)) = opened {
                self.registry.emit(&AppEvent::ObjectOpened { kind: kind.clone(), key: key.clone() });
            }
            self.told.opened.clone_from(opened);
        }
        backend.open_object(opened.clone());
        if self.sent_modes.as_ref() != Some(&self.state.settings.cluster_modes) {
            backend.send(Command::SetClusterModes(modes_by_id(&self.state.settings.cluster_modes)));
            self.sent_modes = Some(self.state.settings.cluster_modes.clone());
        }
        if self.sent_approved_exec != self.state.settings.approved_exec {
            backend.send(Command::SetApprovedExec(self.state.settings.approved_exec.clone()));
            self.sent_approved_exec.clone_from(&self.state.settings.approved_exec);
        }
        // The overview is polled for the selected clusters; a cluster connecting later joins.
        let overview = self.showing_overview().then(|| {
            let connected =
                |id| self.fleet.cluster(id).is_some_and(|c| matches!(c.state, ClusterState::Connected { .. }));
            self.state.selection.clusters.iter().map(|id| (id.clone(), connected(id))).collect()
        });
        backend.overview.ask(overview);
        // Charts follow their cluster's Prometheus source as well as the object.
        let charts = self.state.chart_query(&self.registry).map(|query| {
            let source = self.state.settings.prometheus.get(query.key.cluster.as_str()).cloned();
            ChartRequest { query, source }
        });
        backend.charts.ask(charts);
        backend.logs.ask(self.state.logs.as_ref().map(|l| l.query.clone()));
        for command in self.state.outbox.take() {
            backend.send(command);
        }
    }

    /// Commands that found the backend's queue full go out now; while some wait, the window
    /// draws again shortly to try again.
    fn flush_commands(&self, ctx: &egui::Context) {
        if self.backend.flush() {
            ctx.request_repaint_after(COMMAND_RETRY);
        }
    }

    fn apply_theme(&self, ctx: &egui::Context) {
        let preference = match self.state.settings.theme {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
            ThemeChoice::Light => egui::ThemePreference::Light,
        };
        if ctx.options(|o| o.theme_preference) != preference {
            ctx.set_theme(preference);
        }
    }

    /// One frame: pull, draw, send. Also the entry point for UI tests.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        self.pull_snapshots();
        self.apply_theme(ui.ctx());
        let now = (self.clock)();
        let state = &mut self.state;
        let shown_view = state.selection.view.as_ref();
        ui::top_bar_ui(
            ui,
            (&mut state.settings, &mut state.outbox, &mut state.views.commands),
            shown_view,
            &self.registry,
        );
        ui::actions::activity_strip_ui(ui, &self.activity, &mut state.actions.output);
        ui::logs::logs_panel_ui(ui, &mut state.logs, &mut state.outbox, (&self.logs, &self.activity));
        ui::terminal::terminal_panel_ui(ui, &mut state.terminals, &mut state.outbox, &self.terminals);
        let sidebar = ui::sidebar::SidebarParts {
            selection: &mut state.selection,
            settings: &mut state.settings,
            outbox: &mut state.outbox,
        };
        ui::sidebar::sidebar_ui(ui, sidebar, &self.fleet, &self.registry);
        if state.details.open.is_some() {
            let live = ui::details::LiveData { usage: &self.usage_history, charts: &self.charts };
            let parts = ui::details::DetailsParts {
                details: &mut state.details,
                actions: &mut state.actions,
                settings: &mut state.settings,
                outbox: &mut state.outbox,
            };
            ui::details::details_panel_ui(ui, parts, &self.details, live, &self.registry, now);
        }
        let showing_overview = state.selection.view.as_ref().is_some_and(|view| *view.0 == *OVERVIEW_VIEW);
        let showing_plugins = state.selection.view.as_ref().is_some_and(|view| *view.0 == *builtin::PLUGINS_VIEW);
        let table_data = ui::resource_table::TableData {
            table: &self.table,
            fleet: &self.fleet,
            bulk_access: &self.bulk_access,
            registry: &self.registry,
            glances: &self.glances,
        };
        let youngest_age_secs = egui::CentralPanel::default()
            .show(ui, |ui| {
                if showing_overview {
                    ui::overview::overview_ui(ui, &self.overview);
                    None
                } else if showing_plugins {
                    ui::plugins::plugins_ui(ui, &self.plugin_list, &mut state.plugins, &state.settings);
                    None
                } else if let Some(spec) = state.selection.view.as_ref().and_then(|v| self.registry.view(v)) {
                    // A view registered as data: its header, the content its extension built,
                    // and tabs over the generic table.
                    ui::views::registered_view_header_ui(ui, spec, &mut state.selection);
                    let context = state.command_context();
                    ui::views::live_view_ui(ui, spec, (&mut state.views, &mut state.details), &context);
                    if spec.tables.is_empty() {
                        None
                    } else {
                        ui::resource_table::table_view_ui(
                            ui,
                            ui::resource_table::TableParts::of(state),
                            table_data,
                            now,
                        )
                    }
                } else if let Some(view) = &state.selection.view {
                    // A view registered by an extension that this build cannot draw.
                    ui.weak(rust_i18n::t!("view.unavailable", view = view.0.as_ref()));
                    None
                } else {
                    ui::resource_table::table_view_ui(ui, ui::resource_table::TableParts::of(state), table_data, now)
                }
            })
            .inner;
        let ctx = ui.ctx();
        if ui::editor::recovered_draft_ui(ctx, &mut state.recovered_draft, &mut state.editor)
            && let Some(persistence) = &mut self.persistence
        {
            persistence.discard_draft();
        }
        ui::editor::editor_window_ui(ctx, &mut state.editor, &mut state.outbox, &self.activity);
        ui::editor::create_window_ui(ctx, &mut state.create, &mut state.outbox, (&self.fleet, &self.activity));
        ui::clusters::add_cluster_window_ui(ctx, &mut state.add_cluster, &mut state.outbox, &self.activity);
        ui::actions::confirmation_ui(ctx, &mut state.actions, &mut state.outbox, &self.registry);
        ui::actions::output_window_ui(ctx, &mut state.actions.output);
        ui::actions::forwards_window_ui(ctx, &mut state.forwards, &mut state.outbox, &self.forwards);
        ui::plugins::overlays_ui(ctx, state, &self.plugin_inbox, &self.registry);
        // Moves between panels take effect now, once every panel has drawn, and show next frame.
        if state.apply_intents() {
            ctx.request_repaint();
        }
        self.run_plugin_requests(ui.ctx());
        self.send_plugin_requests();
        self.state.sync_settings();
        self.send_changes();
        self.flush_commands(ui.ctx());
        if let Some(delay) = self.persistence.as_mut().and_then(|p| p.frame(&self.state, now)) {
            ui.ctx().request_repaint_after(delay);
        }
        if let Some(report) = &mut self.bench_report {
            report.frame_done(&self.table);
        }
        // Ages tick: every second while some visible age is shown in seconds, else every half minute.
        if let Some(age) = youngest_age_secs {
            let after = if age < 120 { Duration::from_secs(1) } else { Duration::from_secs(30) };
            ui.ctx().request_repaint_after(after);
        }
    }
}

impl KliegApp {
    /// Runs the commands chosen this frame, hands views their input, follows the places
    /// plugins asked to open, and tells a view (and the hooks) when it opens.
    fn run_plugin_requests(&mut self, ctx: &egui::Context) {
        let state = &mut self.state;
        let context = state.command_context();
        for id in std::mem::take(&mut state.views.commands) {
            if let Some(command) = self.registry.command(&id) {
                (command.run)(&context);
            }
        }
        let mut inputs = std::mem::take(&mut state.views.inputs);
        if self.told.view != state.selection.view {
            self.told.view.clone_from(&state.selection.view);
            if let Some(view) = &state.selection.view {
                self.registry.emit(&AppEvent::ViewOpened { view: view.clone() });
                // Built afresh each time it opens (once, if the frame asked already).
                let asked = inputs
                    .iter()
                    .any(|(v, i)| v == view && matches!(i, crate::model::registry::ViewInput::Opened { .. }));
                if !asked {
                    inputs.push((view.clone(), crate::model::registry::ViewInput::Opened { context }));
                }
            }
        }
        for (view, input) in inputs {
            if let Some(live) = self.registry.view(&view).and_then(|v| v.live.as_ref()) {
                (live.input)(input);
            }
        }
        let opens = std::mem::take(&mut self.plugin_inbox.lock().opens);
        for target in opens {
            match target {
                crate::plugins::services::OpenTarget::View(view) => {
                    state.outbox.intend(crate::state::Intent::ShowView(Some(view)));
                }
                crate::plugins::services::OpenTarget::Object { kind, key } => {
                    state.outbox.intend(crate::state::Intent::Open { kind, key });
                }
            }
        }
        if state.apply_intents() {
            ctx.request_repaint();
        }
    }

    fn showing_overview(&self) -> bool {
        self.state.selection.view.as_ref().is_some_and(|view| *view.0 == *OVERVIEW_VIEW)
    }
}

/// What the event hooks were told, so each moment is told once.
#[derive(Default)]
struct Told {
    opened: Option<(crate::model::KindKey, crate::model::ObjectKey)>,
    view: Option<crate::model::registry::ViewId>,
    connected: std::collections::BTreeSet<crate::model::ClusterId>,
    /// Finished activities (request, subject), the newest [`ActivityLog::CAPACITY`] kept.
    finished: std::collections::VecDeque<(u64, Arc<str>)>,
}

impl Told {
    fn clusters_connected(&mut self, registry: &Registry, fleet: &FleetSnapshot) {
        let now: std::collections::BTreeSet<_> = fleet
            .clusters
            .iter()
            .filter(|c| matches!(c.state, crate::model::ClusterState::Connected { .. }))
            .map(|c| c.id.clone())
            .collect();
        for cluster in now.difference(&self.connected) {
            registry.emit(&AppEvent::ClusterConnected { cluster: cluster.clone() });
        }
        self.connected = now;
    }

    fn actions_finished(&mut self, registry: &Registry, log: &ActivityLog) {
        use crate::model::Outcome;
        for activity in &log.entries {
            let succeeded = match activity.outcome {
                Outcome::Done { .. } => true,
                Outcome::Failed { .. } => false,
                Outcome::Running | Outcome::Conflict { .. } => continue,
            };
            let id = (activity.request_id, activity.subject.clone());
            if self.finished.contains(&id) {
                continue;
            }
            if self.finished.len() == ActivityLog::CAPACITY {
                self.finished.pop_front();
            }
            self.finished.push_back(id);
            let action = Arc::from(ui::text(&activity.what).as_str());
            registry.emit(&AppEvent::ActionFinished { action, subject: activity.subject.clone(), succeeded });
        }
    }
}

/// Lines for `klieg-bench --fleet`, printed when they change: `frame` after the first frame,
/// `rows COUNT live|stale` as the table fills.
#[derive(Default)]
struct BenchReport {
    first_frame_done: bool,
    last_rows: Option<(usize, bool)>,
}

impl BenchReport {
    fn frame_done(&mut self, table: &crate::model::TableSnapshot) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if !self.first_frame_done {
            self.first_frame_done = true;
            let _ = writeln!(out, "frame");
        }
        let live = table.is_live();
        let now = (table.rows.len(), live);
        if self.last_rows != Some(now) {
            self.last_rows = Some(now);
            let _ = writeln!(out, "rows {} {}", now.0, if live { "live" } else { "stale" });
        }
        let _ = out.flush();
    }
}

impl eframe::App for KliegApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // Kept for a Klieg older than settings.json; Klieg itself reads settings.json first.
        eframe::set_value(storage, SETTINGS_KEY, &self.state.settings);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.flush_files();
    }
}

/// The first supported language of the environment (`LC_ALL`, `LC_MESSAGES`, `LANG`), else English.
pub fn system_locale() -> String {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(value) = std::env::var(var) {
            let code = value.split(['_', '.', '@']).next().unwrap_or_default().to_ascii_lowercase();
            if crate::LOCALES.iter().any(|(c, _)| *c == code) {
                return code;
            }
        }
    }
    "en".into()
}

fn modes_by_id(
    modes: &std::collections::BTreeMap<String, crate::model::ClusterMode>,
) -> std::collections::BTreeMap<crate::model::ClusterId, crate::model::ClusterMode> {
    modes.iter().map(|(name, mode)| (crate::model::ClusterId::new(name), *mode)).collect()
}

/// How the window starts.
#[derive(Clone, Debug, Default)]
pub struct LaunchOptions {
    /// Interface language; `None` keeps the saved choice or the system's.
    pub lang: Option<String>,
    /// Ignore `KUBECONFIG` and `~/.kube/config` (demo mode).
    pub only_explicit: bool,
    /// Select every cluster at start.
    pub all_clusters: bool,
    /// Open on this kind: `pods`, `deployments.apps`, `widgets.example.com` (plural, then group).
    pub kind: Option<String>,
    /// Where plugins come from, and safe mode.
    pub plugins: crate::plugins::HostConfig,
}

/// Runs the window.
pub fn run_native(kubeconfigs: Vec<PathBuf>, launch: LaunchOptions) -> anyhow::Result<()> {
    let LaunchOptions { lang, only_explicit, all_clusters, kind, plugins } = launch;
    let mut sources = KubeconfigSources::from_environment(kubeconfigs);
    if only_explicit {
        sources.env = None;
        sources.home = None;
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Klieg")
            .with_app_id("io.klieg.Klieg")
            .with_inner_size([1400.0, 860.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Klieg",
        options,
        Box::new(move |cc| {
            let places = persist::Places::standard();
            // settings.json, written atomically; the eframe store only for a first start after
            // an older Klieg.
            let saved = match places.settings_file().map(|path| persist::load_settings(&path)) {
                Some(Ok(Some(settings))) => Some(settings),
                Some(Err(error)) => {
                    tracing::warn!(%error, "the settings file is unreadable; starting from defaults");
                    None
                }
                _ => cc.storage.and_then(|s| eframe::get_value(s, SETTINGS_KEY)),
            };
            let mut settings: Settings = saved.unwrap_or_default();
            if let Some(lang) = lang {
                settings.locale = lang;
            }
            if let Some(kind) = kind {
                let (plural, group) = kind.split_once('.').unwrap_or((kind.as_str(), ""));
                settings.kind_plural = plural.to_string();
                settings.kind_group = group.to_string();
            }
            let mut app = KliegApp::with_plugins(&cc.egui_ctx, sources, settings, plugins)?;
            app.select_all_clusters = all_clusters;
            let draft_slot = app.keep_files_in(places.clone())?;
            persist::install_panic_hook(&places, draft_slot);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not start: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activity, ClusterId, ClusterInfo, ClusterMode, Outcome, Text};
    use parking_lot::Mutex;

    fn cluster(name: &str, state: ClusterState) -> ClusterInfo {
        ClusterInfo {
            id: ClusterId::new(name),
            source: Arc::from("config"),
            server_url: None,
            default_namespace: None,
            insecure_tls: false,
            is_current_context: false,
            added_in_klieg: false,
            state,
            mode: ClusterMode::Live,
            kinds: Arc::from(Vec::new()),
            namespaces: Arc::from(Vec::new()),
            access: None,
        }
    }

    #[test]
    fn event_hooks_hear_each_moment_once() {
        let heard: Arc<Mutex<Vec<AppEvent>>> = Arc::default();
        let mut registry = Registry::default();
        let sink = heard.clone();
        registry.add_event_hook(Arc::new(move |event| sink.lock().push(event.clone())));
        let mut told = Told::default();
        let connected = || ClusterState::Connected { server_version: Arc::from("v1.31.2") };
        let fleet = |clusters: Vec<ClusterInfo>| FleetSnapshot { generation: 1, clusters: Arc::from(clusters) };
        told.clusters_connected(&registry, &fleet(vec![cluster("a", ClusterState::Connecting)]));
        told.clusters_connected(&registry, &fleet(vec![cluster("a", connected())]));
        told.clusters_connected(&registry, &fleet(vec![cluster("a", connected())]));
        let activity = |outcome| Activity {
            request_id: 1,
            subject: Arc::from("a/ns/web"),
            what: Text::Key("action.scale"),
            outcome,
        };
        let mut log = ActivityLog { generation: 1, entries: vec![activity(Outcome::Running)] };
        told.actions_finished(&registry, &log);
        log.entries[0] = activity(Outcome::Done { message: Arc::from("scaled to 3") });
        told.actions_finished(&registry, &log);
        told.actions_finished(&registry, &log);
        let heard = heard.lock().clone();
        assert_eq!(heard.len(), 2, "{heard:?}");
        assert_eq!(heard[0], AppEvent::ClusterConnected { cluster: ClusterId::new("a") });
        assert!(
            matches!(&heard[1], AppEvent::ActionFinished { subject, succeeded: true, .. } if &**subject == "a/ns/web"),
            "{heard:?}"
        );
    }
}
