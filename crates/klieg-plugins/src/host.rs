//! The plugin host: finds plugin folders, loads each enabled plugin into its own sandboxed state,
//! turns what it registered into registry entries, and replaces the live registry whenever a
//! plugin loads, reloads (its files changed on disk) or is stopped for a fault. Runs its own
//! thread (`klieg-plugins`); plugin callbacks run on the backend threads that need their output.

use crate::manifest::{KindName, Manifest, parse_manifest};
use crate::vm::{ActionDoes, PluginFault, Registrations, Sources, Vm};
use crate::{PluginInfo, PluginList, PluginState, limits, output};
use klieg_model::registry::PlannedAction;
use klieg_model::registry::{
    ActionSpec, ColumnSetSpec, ColumnValues, KindIcon, KindMatch, Need, RelationProvider, SectionSpec, SidebarEntry,
    ViewId, ViewSpec, ViewTable,
};
use klieg_model::{Cell, Column, ColumnType, KindKey, LiveRegistry, Registry, Text};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Told whenever the plugin list changes.
type Listeners = Arc<Mutex<Vec<Arc<dyn Fn() + Send + Sync>>>>;

/// Where plugins come from and which run.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// Installed plugins: each subfolder is one (`$XDG_DATA_HOME/klieg/plugins`).
    pub installed: Option<PathBuf>,
    /// Plugins in development (`--plugin-dir`): each folder is a plugin, or holds plugins.
    pub development: Vec<PathBuf>,
    /// `--safe-mode`: every plugin off, whatever the settings say.
    pub safe_mode: bool,
    /// Installed plugins the user enabled, with the capability tokens granted
    /// ([`crate::Capabilities::tokens`]); one whose manifest asks for more waits for a new grant.
    /// Development plugins run with what they declare unless turned off.
    pub enabled: BTreeMap<String, BTreeSet<String>>,
    pub disabled: BTreeSet<String>,
    /// Where plugins' stores are kept (`$XDG_DATA_HOME/klieg/plugin-data`); none: in memory.
    pub data_dir: Option<PathBuf>,
    /// Each plugin's settings as the user set them (secret ones live in the keyring).
    pub settings: BTreeMap<String, BTreeMap<Arc<str>, klieg_model::registry::FieldValue>>,
    /// Plugins whose writes the user said not to confirm again.
    pub trusted_writes: BTreeSet<String>,
}

enum HostEvent {
    Changed(Vec<PathBuf>),
    Fault(Arc<str>, PluginFault),
    SetEnabled(Arc<str>, Option<BTreeSet<String>>),
    Reload(Arc<str>),
    Setting(Arc<str>, Arc<str>, klieg_model::registry::FieldValue),
}

/// A registered plugin action, for planning its write when the user runs it.
struct PluginAction {
    plugin: Arc<Loaded>,
    registrations: Arc<Registrations>,
    index: usize,
    kinds: KindMatch,
    /// What the manifest allows it to write and run (granted, or it would not run).
    writes: Vec<(KindName, BTreeSet<Arc<str>>)>,
    commands: Vec<crate::manifest::ExecCommand>,
}

type ActionTable = Arc<Mutex<BTreeMap<Arc<str>, Arc<PluginAction>>>>;

/// One loaded plugin: its state, and whether a fault stopped it (checked before every call).
pub(crate) struct Loaded {
    pub(crate) id: Arc<str>,
    /// Cells, sections, glances, relations and action plans: never waits on anything.
    vm: Mutex<Vm>,
    /// Commands, hooks and views, on the plugin's own thread, where host calls may wait.
    handler_vm: Option<Mutex<Vm>>,
    /// What the handler state registered (its functions live in that state).
    pub(crate) handlers: Arc<Registrations>,
    pub(crate) env: Arc<crate::api::PluginEnv>,
    pub(crate) stopped: AtomicBool,
    /// Calls cut short for their CPU budget so far.
    budget_strikes: std::sync::atomic::AtomicU32,
    events: SyncSender<HostEvent>,
    /// The handler thread's queue (none without handlers; dropped when the plugin stops).
    pub(crate) jobs: Mutex<Option<SyncSender<crate::worker::Job>>>,
    /// Each view's content as last built, by its index among the registrations.
    pub(crate) view_slots: Vec<Arc<Mutex<Arc<klieg_model::registry::ViewTree>>>>,
    pub(crate) repaint: Listeners,
}

impl Loaded {
    /// Calls one of the plugin's functions; a fault stops the plugin and tells the host.
    pub(crate) fn call<T>(
        &self,
        what: &str,
        budget: Duration,
        function: &mlua::RegistryKey,
        argument: &serde_json::Value,
        convert: impl FnOnce(&mlua::Lua, mlua::Value) -> Result<T, String>,
    ) -> Option<T> {
        self.call_with_strikes(what, (budget, 1), function, argument, convert)
    }

    /// As [`Self::call`]; a call past its budget is cut short, and the plugin is stopped once
    /// `strikes` calls have been (a cell runs 100k times: one slow outlier costs its cell only).
    fn call_with_strikes<T>(
        &self,
        what: &str,
        (budget, strikes): (Duration, u32),
        function: &mlua::RegistryKey,
        argument: &serde_json::Value,
        convert: impl FnOnce(&mlua::Lua, mlua::Value) -> Result<T, String>,
    ) -> Option<T> {
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        let result = self.vm.lock().call(what, budget, function, argument, convert);
        self.outcome(result, strikes)
    }

    /// Calls a handler in the handler state, with where the user was; a fault stops the plugin.
    pub(crate) fn call_handler<T>(
        &self,
        what: &str,
        function: &mlua::RegistryKey,
        argument: &serde_json::Value,
        context: klieg_model::registry::CommandContext,
        convert: impl FnOnce(&mlua::Lua, mlua::Value) -> Result<T, String>,
    ) -> Option<T> {
        let vm = self.handler_vm.as_ref()?;
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        let vm = vm.lock();
        vm.set_context(context);
        let result = vm.call(what, limits::HANDLER_BUDGET, function, argument, convert);
        drop(vm);
        self.outcome(result, 1)
    }

    /// Memory both of its states use now (a busy handler's state is not waited for).
    fn memory_bytes(&self) -> usize {
        let handler = self.handler_vm.as_ref().and_then(|vm| vm.try_lock()).map_or(0, |vm| vm.used_memory_bytes());
        self.vm.lock().used_memory_bytes() + handler
    }

    /// Stops the plugin: no call runs from now on, and its handler thread ends.
    fn halt(&self) {
        self.stopped.store(true, Ordering::Release);
        self.jobs.lock().take();
    }

    /// The handler of watch `id`, while it runs.
    pub(crate) fn watch_handler(&self, id: u64) -> Option<Arc<mlua::RegistryKey>> {
        self.handler_vm.as_ref()?.lock().watch_handler(id)
    }

    /// Tells every listener (the window repaints).
    pub(crate) fn repaint(&self) {
        let listeners = self.repaint.lock().clone();
        for listener in listeners {
            listener();
        }
    }

    fn outcome<T>(&self, result: Result<T, PluginFault>, strikes: u32) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(fault @ PluginFault::OverBudget { .. })
                if self.budget_strikes.fetch_add(1, Ordering::AcqRel) + 1 < strikes =>
            {
                tracing::debug!(plugin = %self.id, %fault, "a call was cut short");
                None
            }
            Err(fault) => {
                if !self.stopped.swap(true, Ordering::AcqRel) {
                    self.jobs.lock().take();
                    for slot in &self.view_slots {
                        let mut tree = slot.lock();
                        let error = Some(Arc::from(fault.to_string()));
                        *tree = Arc::new(klieg_model::registry::ViewTree {
                            generation: tree.generation + 1,
                            error,
                            ..Default::default()
                        });
                    }
                    self.repaint();
                    tracing::warn!(plugin = %self.id, %fault, "plugin stopped");
                    // A full queue already holds news for the host; it rescans every plugin.
                    if let Err(TrySendError::Disconnected(_)) =
                        self.events.try_send(HostEvent::Fault(self.id.clone(), fault))
                    {
                        tracing::debug!("plugin host gone");
                    }
                }
                None
            }
        }
    }
}

struct Entry {
    folder: PathBuf,
    development: bool,
    manifest: Option<Manifest>,
    state: PluginState,
    loaded: Option<(Arc<Loaded>, Arc<Registrations>)>,
    load_ms: f64,
}

struct HostState {
    config: HostConfig,
    builtins: Registry,
    live: LiveRegistry,
    entries: BTreeMap<Arc<str>, Entry>,
    /// Folders with no readable manifest, with the reason.
    broken: Vec<(PathBuf, String)>,
    events: SyncSender<HostEvent>,
    list: Arc<Mutex<Arc<PluginList>>>,
    listeners: Listeners,
    actions: ActionTable,
    services: crate::services::ServicesSlot,
}

/// The handle the app keeps: the plugin list to draw, and the user's commands.
#[derive(Clone)]
pub struct PluginHost {
    events: SyncSender<HostEvent>,
    list: Arc<Mutex<Arc<PluginList>>>,
    listeners: Listeners,
    actions: ActionTable,
    services: crate::services::ServicesSlot,
}

impl PluginHost {
    /// Loads every plugin `config` allows into `live` (on top of `builtins`), before returning,
    /// then watches their folders on a thread of its own.
    pub fn start(config: HostConfig, builtins: Registry, live: LiveRegistry) -> Self {
        let (events, received) = std::sync::mpsc::sync_channel(limits::HOST_QUEUE_LEN);
        let list: Arc<Mutex<Arc<PluginList>>> = Arc::default();
        let listeners: Listeners = Arc::default();
        let actions: ActionTable = Arc::default();
        let services = crate::services::ServicesSlot::default();
        let mut state = HostState {
            services: services.clone(),
            config,
            builtins,
            live,
            entries: BTreeMap::new(),
            broken: Vec::new(),
            events: events.clone(),
            list: list.clone(),
            listeners: listeners.clone(),
            actions: actions.clone(),
        };
        let watched = events.clone();
        // Loading runs on the host's thread, not the caller's (the window's, at start): a
        // hundred plugins each spending its load budget must not hold the window back. Until
        // then the registry holds the built-ins.
        let spawned = std::thread::Builder::new().name("klieg-plugins".into()).spawn(move || {
            state.discover();
            let ids: Vec<Arc<str>> = state.entries.keys().cloned().collect();
            for id in ids {
                state.load(&id);
            }
            // Watched before the first publish: a file saved as soon as the plugins are in
            // (as a test or an author may) is not missed.
            let _watcher = watch_folders(&state, watched);
            state.publish();
            host_loop(state, &received);
        });
        if let Err(error) = spawned {
            tracing::error!(%error, "the plugin host thread did not start; no plugin runs");
        }
        Self { events, list, listeners, actions, services }
    }

    /// What plugin handlers reach beyond their state (the backend, the window, the keyring);
    /// until set, every such call is refused.
    pub fn set_services(&self, services: Box<dyn crate::services::HostServices>) {
        self.services.set(services);
    }

    /// The user set one of a plugin's settings (a secret one goes to the keyring, on the
    /// host's thread); its `settings_changed` hooks hear of it.
    pub fn set_setting(&self, id: &str, key: &str, value: klieg_model::registry::FieldValue) {
        self.send(HostEvent::Setting(Arc::from(id), Arc::from(key), value));
    }

    /// Waits up to `patience` for the plugins found at start to be loaded (or to fail); says
    /// whether they were. The window never waits; tests and the benchmark do.
    pub fn wait_for_first_load(&self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        while self.list.lock().generation == 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// What a plugin's action `id` does to `object` (of `kind`, at `key`): the merge patch it
    /// computes in the plugin's state, refused unless the manifest allows patching the kind, or
    /// the manifest's command it names, its variables filled. Refused unless the plugin runs
    /// and the action is for the kind. Blocking (runs the plugin): call off the runtime's workers.
    pub fn plan_action(
        &self,
        id: &str,
        kind: &KindKey,
        key: &klieg_model::ObjectKey,
        object: &serde_json::Value,
    ) -> Result<PlannedAction, String> {
        let action =
            self.actions.lock().get(id).cloned().ok_or_else(|| crate::t!("plugins.action_gone").into_owned())?;
        if !action.kinds.matches(kind) {
            return Err(crate::t!("plugins.action_wrong_kind").into_owned());
        }
        let registration = &action.registrations.actions[action.index];
        let (run, status) = match &registration.does {
            ActionDoes::Exec(command) => return exec_plan(&action.commands, command, kind, key, object),
            ActionDoes::Patch { run, status } => (run, *status),
        };
        let allowed = action
            .writes
            .iter()
            .any(|(name, verbs)| name.matches(&kind.group, &kind.plural) && verbs.iter().any(|v| &**v == "patch"));
        if !allowed {
            let kind = KindName::Kind { group: kind.group.clone(), plural: kind.plural.clone() };
            return Err(crate::t!("plugins.write_not_allowed", kind = kind).into_owned());
        }
        let what = format!("action {}", registration.id);
        action
            .plugin
            .call(&what, limits::ACTION_BUDGET, run, object, output::to_patch)
            .map(if status { PlannedAction::PatchStatus } else { PlannedAction::Patch })
            .ok_or_else(|| crate::t!("plugins.action_failed").into_owned())
    }

    /// The plugins as they are now.
    pub fn list(&self) -> Arc<PluginList> {
        self.list.lock().clone()
    }

    /// `listener` runs whenever the list changes (the window repaints).
    pub fn on_change(&self, listener: impl Fn() + Send + Sync + 'static) {
        self.listeners.lock().push(Arc::new(listener));
    }

    /// Turns a plugin on with the capabilities granted (`Some`), or off (`None`).
    pub fn set_enabled(&self, id: &str, granted: Option<BTreeSet<String>>) {
        self.send(HostEvent::SetEnabled(Arc::from(id), granted));
    }

    pub fn reload(&self, id: &str) {
        self.send(HostEvent::Reload(Arc::from(id)));
    }

    fn send(&self, event: HostEvent) {
        if let Err(error) = self.events.try_send(event) {
            tracing::warn!(%error, "the plugin host is busy; the request was dropped");
        }
    }
}

/// A plugin's states, loaded from its sources: the main one, and (when it registered commands,
/// hooks or built views) the handler one, whose thread is started here.
fn load_states(
    id: &Arc<str>,
    manifest: &Manifest,
    sources: Sources,
    env: Arc<crate::api::PluginEnv>,
    (events, repaint): (SyncSender<HostEvent>, Listeners),
) -> Result<(Arc<Loaded>, Arc<Registrations>), PluginState> {
    let main = sources
        .get(&*manifest.main)
        .cloned()
        .ok_or_else(|| PluginState::Failed(format!("{} is missing", manifest.main)))?;
    let sources = Arc::new(sources);
    let state = |handler: bool| {
        let data = Arc::new(crate::api::VmData {
            env: env.clone(),
            handler,
            context: Mutex::default(),
            denied: Mutex::default(),
            watch_handlers: Mutex::default(),
        });
        let vm = Vm::new(sources.clone(), data).map_err(|e| PluginState::Failed(e.to_string()))?;
        let registrations = vm.load(&manifest.main, &main).map_err(|f| PluginState::Failed(f.to_string()))?;
        Ok::<_, PluginState>((vm, registrations))
    };
    let (vm, registrations) = state(false)?;
    let (handler_vm, handlers) = if registrations.has_handlers() {
        let (handler_vm, handlers) = state(true)?;
        if handlers.shape() != registrations.shape() {
            return Err(PluginState::Failed(crate::t!("plugins.load_differs").into_owned()));
        }
        (Some(Mutex::new(handler_vm)), handlers)
    } else {
        (None, Registrations::default())
    };
    let (jobs, received) = std::sync::mpsc::sync_channel(limits::HANDLER_QUEUE_LEN);
    let has_handlers = handler_vm.is_some();
    let view_slots = registrations.views.iter().map(|_| Arc::default()).collect();
    let loaded = Arc::new(Loaded {
        id: id.clone(),
        vm: Mutex::new(vm),
        handler_vm,
        handlers: Arc::new(handlers),
        env,
        stopped: AtomicBool::new(false),
        budget_strikes: std::sync::atomic::AtomicU32::new(0),
        events,
        jobs: Mutex::new(has_handlers.then_some(jobs)),
        view_slots,
        repaint,
    });
    if has_handlers {
        let sink = Arc::downgrade(&loaded);
        *loaded.env.watch_sink.lock() = Some(Arc::new(move |id, objects| {
            let Some(plugin) = sink.upgrade() else { return false };
            if plugin.stopped.load(Ordering::Acquire) {
                return false;
            }
            crate::worker::enqueue(&plugin, crate::worker::Job::Watch { id, objects });
            true
        }));
        crate::worker::spawn(loaded.clone(), received);
    }
    Ok((loaded, Arc::new(registrations)))
}

/// The command `id` of the manifest, its variables filled from the target.
fn exec_plan(
    commands: &[crate::manifest::ExecCommand],
    id: &str,
    kind: &KindKey,
    key: &klieg_model::ObjectKey,
    object: &serde_json::Value,
) -> Result<PlannedAction, String> {
    let command = commands
        .iter()
        .find(|c| &*c.id == id)
        .ok_or_else(|| crate::t!("plugins.exec_not_listed", id = id).into_owned())?;
    let resource = KindName::Kind { group: kind.group.clone(), plural: kind.plural.clone() }.to_string();
    let values = [
        ("$CONTEXT", key.cluster.as_str()),
        ("$NAMESPACE", key.namespace.as_deref().unwrap_or("")),
        ("$NAME", &key.name),
        ("$RESOURCE", &resource),
        ("$KIND", object.get("kind").and_then(|k| k.as_str()).unwrap_or("")),
        ("$CONTAINER", object.pointer("/spec/containers/0/name").and_then(|c| c.as_str()).unwrap_or("")),
    ];
    fill_command(command, &values).map(PlannedAction::Exec)
}

/// The command's arguments with its variables filled. The values come from the server, the
/// kubeconfig or a plugin: one that would read as a flag (`--kubeconfig=…` as an object's name),
/// or that holds a control character or a `$` (a variable of its own), is refused rather than
/// handed to the command.
pub(crate) fn fill_command(
    command: &crate::manifest::ExecCommand,
    values: &[(&str, &str)],
) -> Result<Vec<String>, String> {
    for (variable, value) in values {
        if value.starts_with('-') || value.contains('$') || value.chars().any(char::is_control) {
            let value: String = value.chars().filter(|c| !c.is_control()).take(100).collect();
            return Err(crate::t!("plugins.exec_bad_value", variable = variable, value = value).into_owned());
        }
    }
    Ok(command.argv(values))
}

/// The registry entry of one plugin action: a patch (offered where RBAC allows patching, always
/// confirmed) or a manifest command (confirmed when marked dangerous; the command shown).
fn action_spec(
    plugin: &str,
    registration: &crate::vm::ActionRegistration,
    commands: &[crate::manifest::ExecCommand],
) -> Result<ActionSpec, String> {
    let base = ActionSpec {
        order: 600,
        ..ActionSpec::new(
            &format!("{plugin}/{}", registration.id),
            Text::plain(&registration.label),
            kind_match(&registration.kinds),
        )
    };
    let said = |detail: String| {
        if registration.confirm.is_empty() { detail } else { format!("{} — {detail}", registration.confirm) }
    };
    Ok(match &registration.does {
        ActionDoes::Patch { status, .. } => ActionSpec {
            served_verb: Some("patch"),
            needs: vec![if *status { Need::subresource("patch", "status") } else { Need::object("patch") }],
            destructive: true,
            confirm_detail: Some(Text::plain(&said(crate::t!("plugins.action_confirm", plugin = plugin).into_owned()))),
            ..base
        },
        ActionDoes::Exec(id) => {
            let command = commands
                .iter()
                .find(|c| &*c.id == id)
                .ok_or_else(|| crate::t!("plugins.exec_not_listed", id = id).into_owned())?;
            let detail = crate::t!("plugins.exec_confirm", plugin = plugin, command = command.shown()).into_owned();
            ActionSpec { destructive: command.dangerous, confirm_detail: Some(Text::plain(&said(detail))), ..base }
        }
    })
}

fn watch_folders(state: &HostState, events: SyncSender<HostEvent>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let handler = move |result: notify::Result<notify::Event>| {
        if let Ok(event) = result
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            let _ = events.try_send(HostEvent::Changed(event.paths));
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "plugin folders are not watched; reload from the Plugins page");
            return None;
        }
    };
    let folders: BTreeSet<&Path> = state.entries.values().map(|e| e.folder.as_path()).collect();
    for folder in folders {
        if let Err(error) = watcher.watch(folder, notify::RecursiveMode::Recursive) {
            tracing::warn!(%error, folder = %folder.display(), "plugin folder not watched");
        }
    }
    Some(watcher)
}

fn host_loop(mut state: HostState, received: &Receiver<HostEvent>) {
    while let Ok(first) = received.recv() {
        // Editors write a file in several steps: gather what came within the settle time.
        let mut events = vec![first];
        let settle_until = Instant::now() + limits::RELOAD_SETTLE;
        while let Some(left) = settle_until.checked_duration_since(Instant::now()) {
            match received.recv_timeout(left) {
                Ok(event) => events.push(event),
                Err(_) => break,
            }
        }
        let mut reload: BTreeSet<Arc<str>> = BTreeSet::new();
        for event in events {
            match event {
                HostEvent::Changed(paths) => reload.extend(state.owners_of(&paths)),
                HostEvent::Reload(id) => {
                    reload.insert(id);
                }
                HostEvent::SetEnabled(id, granted) => {
                    state.config.enabled.remove(&*id);
                    state.config.disabled.remove(&*id);
                    match granted {
                        Some(tokens) => {
                            state.config.enabled.insert(id.to_string(), tokens);
                        }
                        None => {
                            state.config.disabled.insert(id.to_string());
                        }
                    }
                    reload.insert(id);
                }
                HostEvent::Fault(id, fault) => state.stop(&id, &fault),
                HostEvent::Setting(id, key, value) => state.set_setting(&id, &key, value),
            }
        }
        state.stop_faulted();
        for id in reload {
            state.load(&id);
        }
        state.publish();
    }
}

/// Reads a plugin folder's sources: `*.luau` files, in subfolders too, within the limits.
pub(crate) fn read_sources(folder: &Path) -> Result<Sources, String> {
    let mut sources = Sources::new();
    let mut total = 0usize;
    let mut pending = vec![(folder.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{prefix}{name}");
            // Links are not followed: a plugin's code is what lies in its folder.
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && depth < 4 && !name.starts_with('.') {
                pending.push((entry.path(), format!("{relative}/"), depth + 1));
            } else if kind.is_file() && crate::manifest::valid_source_path(&relative) {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
                total = total.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
                if size > limits::MAX_SOURCE_BYTES as u64 || total > limits::MAX_SOURCES_BYTES {
                    return Err(format!("{relative}: the sources are larger than the limit"));
                }
                if sources.len() >= limits::MAX_SOURCE_FILES {
                    return Err(format!("more than {} source files", limits::MAX_SOURCE_FILES));
                }
                let text = std::fs::read_to_string(entry.path()).map_err(|e| format!("{relative}: {e}"))?;
                sources.insert(relative, text);
            }
        }
    }
    Ok(sources)
}

pub(crate) fn read_manifest(folder: &Path) -> Result<Manifest, String> {
    let path = folder.join("plugin.toml");
    // A regular file only: opening a FIFO (or a device) would wait on it for good.
    let kind = std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !kind.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    use std::io::Read;
    file.take(crate::manifest::MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse_manifest(&text).map_err(|e| e.to_string())
}

pub(crate) fn kind_match(kinds: &[String]) -> KindMatch {
    let names: Vec<KindName> = kinds.iter().filter_map(|k| KindName::parse(k).ok()).collect();
    if names.contains(&KindName::Any) {
        return KindMatch::Any;
    }
    KindMatch::Kinds(
        names
            .into_iter()
            .filter_map(|name| match name {
                KindName::Kind { group, plural } => Some(KindKey { group, plural }),
                KindName::Any => None,
            })
            .collect(),
    )
}

/// The registry entries of one loaded plugin, each calling into its state.
fn contribute(
    registry: &mut Registry,
    plugin: &Arc<Loaded>,
    registrations: &Arc<Registrations>,
    commands: &[crate::manifest::ExecCommand],
) -> Result<(), String> {
    let id = plugin.id.clone();
    for (index, column) in registrations.columns.iter().enumerate() {
        let (plugin, registrations) = (plugin.clone(), registrations.clone());
        let what = format!("column {}", column.id);
        let build = move |input: &klieg_model::registry::RowInput<'_>| {
            let column = &registrations.columns[index];
            let cell = match input.object {
                Some(object) => plugin.call_with_strikes(
                    &what,
                    (limits::CELL_BUDGET, limits::CELL_BUDGET_STRIKES),
                    &column.cell,
                    object,
                    |_, value| output::to_cell(value),
                ),
                None => {
                    let labels: serde_json::Map<String, serde_json::Value> =
                        input.labels.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(&**v))).collect();
                    let metadata = serde_json::json!({
                        "metadata": { "name": input.name, "namespace": input.namespace, "labels": labels }
                    });
                    plugin.call_with_strikes(
                        &what,
                        (limits::CELL_BUDGET, limits::CELL_BUDGET_STRIKES),
                        &column.cell,
                        &metadata,
                        |_, value| output::to_cell(value),
                    )
                }
            };
            vec![cell.unwrap_or(Cell::Empty)]
        };
        let spec = ColumnSetSpec {
            id: Arc::from(format!("{id}/{}", column.id)),
            kinds: kind_match(&column.kinds),
            columns: vec![Column {
                name: Arc::from(column.title.as_str()),
                description: Arc::from(column.description.as_str()),
                column_type: if column.numeric { ColumnType::Number } else { ColumnType::Text },
                priority: 0,
                is_age: false,
            }],
            values: ColumnValues::Row(Arc::new(build)),
            needs_object: !column.metadata_only,
        };
        registry.add_column_set(spec).map_err(|e| e.to_string())?;
    }
    for (index, section) in registrations.sections.iter().enumerate() {
        let (plugin, registrations) = (plugin.clone(), registrations.clone());
        let what = format!("section {}", section.id);
        let build = move |input: &klieg_model::registry::SectionInput<'_>| {
            let section = &registrations.sections[index];
            plugin
                .call(&what, limits::SECTION_BUDGET, &section.build, input.object, |_, value| output::to_section(value))
                .flatten()
        };
        let spec = SectionSpec {
            id: Arc::from(format!("{id}/{}", section.id)),
            title: Text::plain(&section.title),
            kinds: kind_match(&section.kinds),
            order: section.order,
            build: Arc::new(build),
        };
        registry.add_section(spec).map_err(|e| e.to_string())?;
    }
    contribute_actions_views_relations(registry, plugin, registrations, commands)?;
    crate::worker::contribute(registry, plugin, registrations)?;
    for (kind, glyph) in &registrations.icons {
        registry.add_kind_icon(KindIcon {
            kinds: kind_match(std::slice::from_ref(kind)),
            glyph: Arc::from(glyph.as_str()),
        });
    }
    Ok(())
}

/// The plugin's actions, views (with their sidebar entries) and relation providers.
fn contribute_actions_views_relations(
    registry: &mut Registry,
    plugin: &Arc<Loaded>,
    registrations: &Arc<Registrations>,
    commands: &[crate::manifest::ExecCommand],
) -> Result<(), String> {
    let id = plugin.id.clone();
    for registration in &registrations.actions {
        registry.add_action(action_spec(&id, registration, commands)?).map_err(|e| e.to_string())?;
    }
    for (index, view) in registrations.views.iter().enumerate() {
        let view_id = ViewId(Arc::from(format!("{id}/{}", view.id)));
        let tables = view
            .tables
            .iter()
            .filter_map(|(title, kind)| match kind {
                KindName::Kind { group, plural } => Some(ViewTable {
                    title: Text::plain(title),
                    kind: KindKey { group: group.clone(), plural: plural.clone() },
                }),
                KindName::Any => None,
            })
            .collect();
        let intro = (!view.intro.is_empty()).then(|| Text::plain(&view.intro));
        registry
            .add_view(ViewSpec {
                id: view_id.clone(),
                title: Text::plain(&view.title),
                intro,
                tables,
                live: view.build.as_ref().and_then(|_| crate::worker::live_view(plugin, index)),
            })
            .map_err(|e| e.to_string())?;
        let entry =
            SidebarEntry { id: view_id.0.clone(), label: Text::plain(&view.title), view: view_id, order: view.order };
        registry.add_sidebar_entry(entry).map_err(|e| e.to_string())?;
    }
    for (index, relation) in registrations.relations.iter().enumerate() {
        let (plugin, registrations) = (plugin.clone(), registrations.clone());
        let what = format!("relations {}", relation.id);
        let find = move |input: &klieg_model::registry::SectionInput<'_>| {
            let relation = &registrations.relations[index];
            let found = plugin.call(&what, limits::SECTION_BUDGET, &relation.find, input.object, |_, value| {
                output::to_relations(value)
            });
            found.unwrap_or_default()
        };
        let provider = RelationProvider {
            id: Arc::from(format!("{id}/{}", relation.id)),
            kinds: kind_match(&relation.kinds),
            relations: Arc::new(find),
        };
        registry.add_relation_provider(provider).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl HostState {
    /// Finds the plugin folders: each subfolder of the installed folder, and each development
    /// folder (a plugin itself, or a folder of plugins).
    fn discover(&mut self) {
        let mut folders: Vec<(PathBuf, bool)> = Vec::new();
        let children = |dir: &Path| -> Vec<PathBuf> {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries.flatten().map(|e| e.path()).filter(|p| p.join("plugin.toml").is_file()).collect()
                })
                .unwrap_or_default();
            found.sort();
            found
        };
        if let Some(installed) = &self.config.installed {
            folders.extend(children(installed).into_iter().map(|f| (f, false)));
        }
        for dir in &self.config.development {
            if dir.join("plugin.toml").is_file() {
                folders.push((dir.clone(), true));
            } else {
                folders.extend(children(dir).into_iter().map(|f| (f, true)));
            }
        }
        for (folder, development) in folders.into_iter().take(limits::MAX_PLUGINS) {
            match read_manifest(&folder) {
                Ok(manifest) if self.entries.contains_key(&manifest.id) => {
                    self.broken.push((folder, format!("the id {} is taken by another plugin", manifest.id)));
                }
                Ok(manifest) => {
                    let entry = Entry {
                        folder,
                        development,
                        manifest: Some(manifest.clone()),
                        state: PluginState::Off,
                        loaded: None,
                        load_ms: 0.0,
                    };
                    self.entries.insert(manifest.id.clone(), entry);
                }
                Err(reason) => self.broken.push((folder, reason)),
            }
        }
    }

    /// Whether the plugin runs; otherwise the state it shows.
    fn wanted(&self, id: &str, entry: &Entry, manifest: &Manifest) -> Result<(), PluginState> {
        if self.config.safe_mode {
            return Err(PluginState::SafeMode);
        }
        if self.config.disabled.contains(id) {
            return Err(PluginState::Off);
        }
        if entry.development {
            return Ok(());
        }
        let Some(granted) = self.config.enabled.get(id) else { return Err(PluginState::Off) };
        let asked = manifest.capabilities.tokens();
        if asked.is_subset(granted) {
            Ok(())
        } else {
            Err(PluginState::NeedsGrant(asked.difference(granted).cloned().collect()))
        }
    }

    /// (Re)loads one plugin from its folder, or unloads it when it is not wanted.
    fn load(&mut self, id: &Arc<str>) {
        let events = self.events.clone();
        let Some(entry) = self.entries.get_mut(id) else { return };
        if let Some((old, _)) = entry.loaded.take() {
            old.halt();
        }
        // The manifest is read again: a reload may change it (and ask for more).
        let manifest = match read_manifest(&entry.folder) {
            Ok(manifest) if manifest.id == *id => manifest,
            Ok(manifest) => {
                entry.state = PluginState::Failed(format!("the manifest's id changed to {}", manifest.id));
                return;
            }
            Err(reason) => {
                entry.state = PluginState::Failed(reason);
                return;
            }
        };
        entry.manifest = Some(manifest.clone());
        let Some(entry) = self.entries.get(id) else { return };
        if let Err(state) = self.wanted(id, entry, &manifest) {
            if let Some(entry) = self.entries.get_mut(id) {
                entry.state = state;
            }
            return;
        }
        let env = self.environment(id, &manifest);
        let Some(entry) = self.entries.get_mut(id) else { return };
        let started = Instant::now();
        let repaint = self.listeners.clone();
        let loaded = read_sources(&entry.folder)
            .map_err(PluginState::Failed)
            .and_then(|sources| load_states(id, &manifest, sources, env, (events, repaint)));
        entry.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        entry.manifest = Some(manifest);
        match loaded {
            Ok(loaded) => {
                entry.loaded = Some(loaded);
                entry.state = PluginState::Running;
            }
            Err(state) => entry.state = state,
        }
    }

    /// What the plugin's states share: its capabilities, store, settings and trust.
    fn environment(&self, id: &Arc<str>, manifest: &Manifest) -> Arc<crate::api::PluginEnv> {
        let storage_path = self.config.data_dir.as_ref().map(|dir| dir.join(format!("{id}.json")));
        Arc::new(crate::api::PluginEnv {
            id: id.clone(),
            name: manifest.name.clone(),
            capabilities: manifest.capabilities.clone(),
            services: self.services.clone(),
            storage: crate::api::Storage::open(storage_path),
            settings: Mutex::new(self.config.settings.get(&**id).cloned().unwrap_or_default()),
            setting_fields: manifest.settings.clone(),
            writes_trusted: AtomicBool::new(self.config.trusted_writes.contains(&**id)),
            watch_sink: Mutex::default(),
        })
    }

    fn set_setting(&mut self, id: &str, key: &Arc<str>, value: klieg_model::registry::FieldValue) {
        let Some(entry) = self.entries.get(id) else { return };
        let Some(field) = entry.manifest.as_ref().and_then(|m| m.settings.iter().find(|f| f.key == *key)) else {
            return;
        };
        if field.kind == klieg_model::registry::FieldKind::Secret {
            let klieg_model::registry::FieldValue::Text(secret) = &value else { return };
            let entry_name = format!("plugin:{id}:setting:{key}");
            let op = if secret.is_empty() {
                crate::services::SecretOp::Delete
            } else {
                crate::services::SecretOp::Set(secret.to_string())
            };
            if let Err(error) = self.services.get().secret(&entry_name, op) {
                tracing::warn!(plugin = id, %error, "a secret setting was not kept");
            }
        } else {
            self.config.settings.entry(id.to_string()).or_default().insert(key.clone(), value.clone());
        }
        if let Some((loaded, _)) = &entry.loaded {
            if field.kind != klieg_model::registry::FieldKind::Secret {
                loaded.env.settings.lock().insert(key.clone(), value);
            }
            crate::worker::settings_changed(loaded, key);
        }
    }

    fn stop(&mut self, id: &str, fault: &PluginFault) {
        if let Some(entry) = self.entries.get_mut(id) {
            if let Some((loaded, _)) = entry.loaded.take() {
                loaded.halt();
            }
            entry.state = PluginState::Failed(fault.to_string());
        }
    }

    /// Plugins stopped by a fault whose news did not fit the queue.
    fn stop_faulted(&mut self) {
        for entry in self.entries.values_mut() {
            if entry.loaded.as_ref().is_some_and(|(loaded, _)| loaded.stopped.load(Ordering::Acquire)) {
                entry.loaded = None;
                if entry.state == PluginState::Running {
                    entry.state = PluginState::Failed(crate::t!("plugins.fault_unknown").into_owned());
                }
            }
        }
    }

    /// The plugins whose folders hold one of `paths`.
    fn owners_of(&self, paths: &[PathBuf]) -> Vec<Arc<str>> {
        self.entries
            .iter()
            .filter(|(_, entry)| paths.iter().any(|path| path.starts_with(&entry.folder)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Builds the registry from the built-ins and every running plugin, puts it in place, and
    /// publishes the plugin list.
    fn publish(&mut self) {
        let mut registry = self.builtins.clone();
        let mut actions: BTreeMap<Arc<str>, Arc<PluginAction>> = BTreeMap::new();
        for (id, entry) in &mut self.entries {
            let Some((loaded, registrations)) = &entry.loaded else { continue };
            // Each plugin is added to a copy first, so one whose entries clash leaves no half.
            let mut with_plugin = registry.clone();
            let commands = entry.manifest.as_ref().map(|m| m.capabilities.exec.clone()).unwrap_or_default();
            match contribute(&mut with_plugin, loaded, registrations, &commands) {
                Ok(()) => {
                    registry = with_plugin;
                    let writes = entry.manifest.as_ref().map(|m| m.capabilities.kube_write.clone()).unwrap_or_default();
                    for (index, action) in registrations.actions.iter().enumerate() {
                        let plan = PluginAction {
                            plugin: loaded.clone(),
                            registrations: registrations.clone(),
                            index,
                            kinds: kind_match(&action.kinds),
                            writes: writes.clone(),
                            commands: commands.clone(),
                        };
                        actions.insert(Arc::from(format!("{id}/{}", action.id)), Arc::new(plan));
                    }
                }
                Err(reason) => {
                    loaded.halt();
                    entry.loaded = None;
                    entry.state = PluginState::Failed(reason);
                }
            }
        }
        *self.actions.lock() = actions;
        self.live.replace(registry);
        let mut plugins: Vec<PluginInfo> = self
            .entries
            .iter()
            .map(|(id, entry)| {
                let manifest = entry.manifest.as_ref();
                PluginInfo {
                    id: id.clone(),
                    name: manifest.map_or_else(|| id.clone(), |m| m.name.clone()),
                    version: manifest.map(|m| m.version.to_string()).unwrap_or_default().into(),
                    description: manifest.map(|m| m.description.clone()).unwrap_or_default(),
                    folder: Arc::from(entry.folder.display().to_string()),
                    development: entry.development,
                    capabilities: manifest.map(|m| m.capabilities.describe()).unwrap_or_default(),
                    capability_tokens: manifest.map(|m| m.capabilities.tokens()).unwrap_or_default(),
                    state: entry.state.clone(),
                    memory_bytes: entry.loaded.as_ref().map_or(0, |(l, _)| l.memory_bytes()),
                    load_ms: entry.load_ms,
                    settings: manifest.map(|m| m.settings.clone()).unwrap_or_default(),
                }
            })
            .collect();
        plugins.extend(self.broken.iter().map(|(folder, reason)| PluginInfo {
            id: Arc::from(""),
            name: Arc::from(folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
            version: Arc::from(""),
            description: Arc::from(""),
            folder: Arc::from(folder.display().to_string()),
            development: false,
            capabilities: Vec::new(),
            capability_tokens: BTreeSet::new(),
            state: PluginState::Invalid(reason.clone()),
            memory_bytes: 0,
            load_ms: 0.0,
            settings: Vec::new(),
        }));
        let generation = self.list.lock().generation + 1;
        *self.list.lock() = Arc::new(PluginList { generation, plugins });
        let listeners = self.listeners.lock().clone();
        for listener in listeners {
            listener();
        }
    }
}
