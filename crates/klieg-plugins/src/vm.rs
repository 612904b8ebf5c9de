//! One plugin's Luau state: sandboxed (read-only globals, no `io`, `os`, `debug` or `loadstring`,
//! `require` only of the host API and of the plugin's own files), a memory limit, and a CPU
//! budget per call enforced by the interrupt callback. Runs on whichever backend thread calls
//! the plugin (the host's thread, a table's ingest, the details follower), one call at a time.

use crate::limits;
use mlua::{Function, Lua, LuaOptions, RegistryKey, StdLib, Table, Value, VmState};
use parking_lot::Mutex;
use rust_i18n::t;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why a plugin was stopped.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PluginFault {
    #[error("{}", t!("plugins.fault_cpu", what = .what, budget_ms = .budget_ms))]
    OverBudget { what: String, budget_ms: u128 },
    #[error("{}", t!("plugins.fault_memory", what = .what, limit_mib = limits::MEMORY_BYTES / (1024 * 1024)))]
    OutOfMemory { what: String },
    #[error("{}", t!("plugins.fault_error", what = .what, error = .error))]
    Error { what: String, error: String },
    #[error("{}", t!("plugins.fault_output", what = .what, error = .error))]
    BadOutput { what: String, error: String },
    #[error("{}", t!("plugins.fault_not_granted", what = .what, capability = .capability))]
    NotGranted { what: String, capability: String },
}

/// The budget of the call running now, read by the interrupt callback: CPU time of the calling
/// thread, not wall time, so a busy machine that deschedules the thread never stops a plugin
/// that did little. The wall clock (cheap to read) is checked first; only past the wall deadline
/// is the thread's CPU time read, and the deadline moves by what is left.
#[derive(Default)]
struct Budget {
    call: Mutex<Option<Call>>,
    exceeded: AtomicBool,
}

struct Call {
    wall_deadline: Instant,
    cpu_started: Option<Duration>,
    budget: Duration,
}

/// CPU time the calling thread has used (`None` where the system cannot say).
fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes the timespec it is given and reads nothing else.
        let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
        if status == 0 {
            return Some(Duration::new(u64::try_from(now.tv_sec).ok()?, u32::try_from(now.tv_nsec).ok()?));
        }
    }
    None
}

impl Budget {
    fn start(&self, budget: Duration) {
        let call = Call { wall_deadline: Instant::now() + budget, cpu_started: thread_cpu_time(), budget };
        *self.call.lock() = Some(call);
        self.exceeded.store(false, Ordering::Release);
    }

    fn end(&self) {
        *self.call.lock() = None;
    }

    /// Whether the running call has used up its budget.
    fn over(&self) -> bool {
        let mut call = self.call.lock();
        let Some(call) = call.as_mut() else { return false };
        let now = Instant::now();
        if now <= call.wall_deadline {
            return false;
        }
        let (Some(started), Some(used_now)) = (call.cpu_started, thread_cpu_time()) else { return true };
        let used = used_now.saturating_sub(started);
        match call.budget.checked_sub(used) {
            Some(left) if !left.is_zero() => {
                call.wall_deadline = now + left;
                false
            }
            _ => true,
        }
    }
}

/// A plugin's sources, read from its folder before any runs: path relative to the folder → text.
pub type Sources = BTreeMap<String, String>;

/// A Luau state with the host API installed; `registrations` fills as the plugin's main file runs.
pub struct Vm {
    lua: Lua,
    budget: Arc<Budget>,
    data: Arc<crate::api::VmData>,
}

/// What the plugin registered while its main file ran: each callback kept in the Lua registry.
#[derive(Default)]
pub struct Registrations {
    pub columns: Vec<ColumnRegistration>,
    pub sections: Vec<SectionRegistration>,
    pub icons: Vec<(String, String)>,
    pub actions: Vec<ActionRegistration>,
    pub views: Vec<ViewRegistration>,
    pub relations: Vec<RelationRegistration>,
    pub commands: Vec<CommandRegistration>,
    /// (event name, function).
    pub hooks: Vec<(String, RegistryKey)>,
    pub glances: Vec<SectionRegistration>,
}

impl Registrations {
    /// Whether anything here runs in the handler state (on the plugin's own thread).
    pub fn has_handlers(&self) -> bool {
        !self.commands.is_empty() || !self.hooks.is_empty() || self.views.iter().any(|v| v.build.is_some())
    }

    /// The shape of what was registered, to tell two loads of the same files apart.
    pub fn shape(&self) -> Vec<String> {
        let mut shape: Vec<String> = self.commands.iter().map(|c| format!("command {}", c.id)).collect();
        shape.extend(self.hooks.iter().map(|(event, _)| format!("hook {event}")));
        shape.extend(self.views.iter().map(|v| format!("view {} {}", v.id, v.build.is_some())));
        shape
    }
}

/// Events a plugin may follow with `klieg.on`.
pub const EVENTS: [&str; 5] =
    ["cluster_connected", "object_opened", "action_finished", "view_opened", "settings_changed"];

/// A command of the palette; `app_bar` puts a button in the app bar too.
pub struct CommandRegistration {
    pub id: String,
    pub title: String,
    pub app_bar: bool,
    pub run: RegistryKey,
}

/// Edges from an object to others (its source, what it deploys), for the Related list.
pub struct RelationRegistration {
    pub id: String,
    pub kinds: Vec<String>,
    pub find: RegistryKey,
}

/// A sidebar entry and the view it opens: a title, an introduction, and a tab per table.
pub struct ViewRegistration {
    pub id: String,
    pub title: String,
    pub intro: String,
    pub order: i32,
    /// (tab title, kind name) per table.
    pub tables: Vec<(String, crate::manifest::KindName)>,
    /// `build(context)` returns the view's nodes (built with `klieg.ui`), in the handler state.
    pub build: Option<RegistryKey>,
    /// `on_input(input)`: a button was pressed or a form sent; the view is built again after.
    pub on_input: Option<RegistryKey>,
}

/// A header action: `run(object)` returns the merge patch to apply, which the host applies
/// with the user's credentials once they confirm (and only if the manifest allows the write);
/// or `exec` names a command of the manifest to run for the object.
pub struct ActionRegistration {
    pub id: String,
    pub kinds: Vec<String>,
    pub label: String,
    pub confirm: String,
    pub does: ActionDoes,
}

pub enum ActionDoes {
    /// The patch `run` returns; of the status subresource when `status`.
    Patch {
        run: RegistryKey,
        status: bool,
    },
    Exec(String),
}

pub struct ColumnRegistration {
    pub id: String,
    pub kinds: Vec<String>,
    pub title: String,
    pub description: String,
    pub numeric: bool,
    /// The cell needs only the metadata (name, namespace, labels): the table then watches
    /// metadata alone, the cheapest way.
    pub metadata_only: bool,
    pub cell: RegistryKey,
}

pub struct SectionRegistration {
    pub id: String,
    pub kinds: Vec<String>,
    pub title: String,
    pub order: i32,
    pub build: RegistryKey,
}

fn lua_error(text: String) -> mlua::Error {
    mlua::Error::RuntimeError(text)
}

fn field_string(table: &Table, field: &str, limit: usize) -> mlua::Result<String> {
    let text: String = table.get(field).map_err(|_| lua_error(format!("`{field}` must be a string")))?;
    if text.is_empty() || text.chars().count() > limit {
        return Err(lua_error(format!("`{field}` must have 1 to {limit} characters")));
    }
    Ok(text)
}

fn optional_string(table: &Table, field: &str, limit: usize) -> mlua::Result<String> {
    let text: Option<String> = table.get(field).map_err(|_| lua_error(format!("`{field}` must be a string")))?;
    let text = text.unwrap_or_default();
    if text.chars().count() > limit {
        return Err(lua_error(format!("`{field}` must have at most {limit} characters")));
    }
    Ok(text)
}

fn kinds_of(table: &Table) -> mlua::Result<Vec<String>> {
    let kinds: Vec<String> =
        table.get("kinds").map_err(|_| lua_error("`kinds` must be a list of kind names".to_string()))?;
    if kinds.is_empty() || kinds.len() > 100 {
        return Err(lua_error("`kinds` must name 1 to 100 kinds".to_string()));
    }
    for kind in &kinds {
        crate::manifest::KindName::parse(kind).map_err(|e| lua_error(e.to_string()))?;
    }
    Ok(kinds)
}

fn registration_count(lua: &Lua) -> usize {
    lua.app_data_ref::<Registrations>().map_or(0, |r| {
        r.columns.len()
            + r.sections.len()
            + r.icons.len()
            + r.actions.len()
            + r.views.len()
            + r.relations.len()
            + r.commands.len()
            + r.hooks.len()
            + r.glances.len()
    })
}

fn with_registrations(lua: &Lua, add: impl FnOnce(&mut Registrations)) -> mlua::Result<()> {
    if registration_count(lua) >= limits::MAX_REGISTRATIONS {
        return Err(lua_error(format!("a plugin registers at most {} features", limits::MAX_REGISTRATIONS)));
    }
    let mut registrations = lua
        .app_data_mut::<Registrations>()
        .ok_or_else(|| lua_error("features are registered only while the plugin loads".to_string()))?;
    add(&mut registrations);
    Ok(())
}

/// `klieg.columns`, `klieg.sections`, `klieg.icons`, `klieg.time`, `klieg.ui`, `klieg.api_version`.
fn host_api(lua: &Lua) -> mlua::Result<Table> {
    let klieg = lua.create_table()?;
    klieg.set("api_version", crate::manifest::PLUGIN_API_VERSION.to_string())?;

    let columns = lua.create_table()?;
    columns.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let column = ColumnRegistration {
                id: field_string(&spec, "id", 60)?,
                kinds: kinds_of(&spec)?,
                title: field_string(&spec, "title", 60)?,
                description: optional_string(&spec, "description", 500)?,
                numeric: optional_string(&spec, "type", 10)? == "number",
                metadata_only: spec.get::<Option<bool>>("metadata_only")?.unwrap_or(false),
                cell: lua.create_registry_value(
                    spec.get::<Function>("cell").map_err(|_| lua_error("`cell` must be a function".to_string()))?,
                )?,
            };
            with_registrations(lua, |r| r.columns.push(column))
        })?,
    )?;
    klieg.set("columns", columns)?;

    let sections = lua.create_table()?;
    sections.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let order: Option<i32> = spec.get("order")?;
            let section = SectionRegistration {
                id: field_string(&spec, "id", 60)?,
                kinds: kinds_of(&spec)?,
                title: field_string(&spec, "title", 60)?,
                order: order.unwrap_or(100).clamp(-1000, 1000),
                build: lua.create_registry_value(
                    spec.get::<Function>("build").map_err(|_| lua_error("`build` must be a function".to_string()))?,
                )?,
            };
            with_registrations(lua, |r| r.sections.push(section))
        })?,
    )?;
    klieg.set("sections", sections)?;

    let icons = lua.create_table()?;
    icons.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let kind = field_string(&spec, "kind", 253)?;
            crate::manifest::KindName::parse(&kind).map_err(|e| lua_error(e.to_string()))?;
            let glyph = field_string(&spec, "glyph", 2)?;
            with_registrations(lua, |r| r.icons.push((kind, glyph)))
        })?,
    )?;
    klieg.set("icons", icons)?;

    add_action_and_view_api(lua, &klieg)?;

    let time = lua.create_table()?;
    time.set(
        "parse",
        lua.create_function(|_, text: String| Ok(text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second() as f64)))?,
    )?;
    time.set("now", lua.create_function(|_, ()| Ok(jiff::Timestamp::now().as_second() as f64))?)?;
    time.set("now_rfc3339", lua.create_function(|_, ()| Ok(jiff::Timestamp::now().to_string()))?)?;
    time.set(
        "days_until",
        lua.create_function(|_, text: String| {
            let then = text.parse::<jiff::Timestamp>().ok();
            Ok(then.map(|t| ((t.as_second() - jiff::Timestamp::now().as_second()) as f64 / 86_400.0).floor()))
        })?,
    )?;
    klieg.set("time", time)?;
    klieg.set("ui", crate::output::ui_builders(lua)?)?;
    crate::api::install(lua, &klieg)?;
    Ok(klieg)
}

/// `klieg.actions` and `klieg.views`.
fn add_action_and_view_api(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    let actions = lua.create_table()?;
    actions.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let verb = optional_string(&spec, "verb", 10)?;
            if !verb.is_empty() && verb != "patch" {
                return Err(lua_error("actions write with `verb = \"patch\"` (a merge patch)".to_string()));
            }
            let status = match optional_string(&spec, "subresource", 10)?.as_str() {
                "" => false,
                "status" => true,
                _ => return Err(lua_error("an action patches the object, or `subresource = \"status\"`".to_string())),
            };
            let action = ActionRegistration {
                id: field_string(&spec, "id", 60)?,
                kinds: kinds_of(&spec)?,
                label: field_string(&spec, "label", 40)?,
                confirm: optional_string(&spec, "confirm", 200)?,
                does: match (spec.get::<Option<Function>>("run")?, optional_string(&spec, "exec", 60)?) {
                    (Some(run), exec) if exec.is_empty() => {
                        ActionDoes::Patch { run: lua.create_registry_value(run)?, status }
                    }
                    (None, exec) if !exec.is_empty() => ActionDoes::Exec(exec),
                    _ => {
                        return Err(lua_error(
                            "an action has either `run` (a patch) or `exec` (a command)".to_string(),
                        ));
                    }
                },
            };
            with_registrations(lua, |r| r.actions.push(action))
        })?,
    )?;
    klieg.set("actions", actions)?;

    let views = lua.create_table()?;
    views.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let tables: Option<Vec<Table>> = spec
                .get("tables")
                .map_err(|_| lua_error("`tables` must be a list of { title = …, kind = … }".to_string()))?;
            let tables = tables.unwrap_or_default();
            let build: Option<Function> =
                spec.get("build").map_err(|_| lua_error("`build` must be a function".to_string()))?;
            let on_input: Option<Function> =
                spec.get("on_input").map_err(|_| lua_error("`on_input` must be a function".to_string()))?;
            if tables.len() > 20 || (tables.is_empty() && build.is_none()) {
                return Err(lua_error("a view has a `build` function, or 1 to 20 tables, or both".to_string()));
            }
            let mut kinds = Vec::new();
            for table in &tables {
                let kind = field_string(table, "kind", 253)?;
                let name = crate::manifest::KindName::parse(&kind).map_err(|e| lua_error(e.to_string()))?;
                if name == crate::manifest::KindName::Any {
                    return Err(lua_error("a view's table lists one kind, not *".to_string()));
                }
                kinds.push((field_string(table, "title", 40)?, name));
            }
            let order: Option<i32> = spec.get("order")?;
            let view = ViewRegistration {
                id: field_string(&spec, "id", 60)?,
                title: field_string(&spec, "title", 40)?,
                intro: optional_string(&spec, "intro", 500)?,
                order: order.unwrap_or(100).clamp(1, 1000),
                tables: kinds,
                build: build.map(|f| lua.create_registry_value(f)).transpose()?,
                on_input: on_input.map(|f| lua.create_registry_value(f)).transpose()?,
            };
            with_registrations(lua, |r| r.views.push(view))
        })?,
    )?;
    klieg.set("views", views)?;

    let relations = lua.create_table()?;
    relations.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let relation = RelationRegistration {
                id: field_string(&spec, "id", 60)?,
                kinds: kinds_of(&spec)?,
                find: lua.create_registry_value(
                    spec.get::<Function>("find").map_err(|_| lua_error("`find` must be a function".to_string()))?,
                )?,
            };
            with_registrations(lua, |r| r.relations.push(relation))
        })?,
    )?;
    klieg.set("relations", relations)?;
    add_handler_registrations(lua, klieg)
}

/// `klieg.commands`, `klieg.glances` and `klieg.on`.
fn add_handler_registrations(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    let commands = lua.create_table()?;
    commands.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let command = CommandRegistration {
                id: field_string(&spec, "id", 60)?,
                title: field_string(&spec, "title", 60)?,
                app_bar: spec.get::<Option<bool>>("app_bar")?.unwrap_or(false),
                run: lua.create_registry_value(
                    spec.get::<Function>("run").map_err(|_| lua_error("`run` must be a function".to_string()))?,
                )?,
            };
            with_registrations(lua, |r| r.commands.push(command))
        })?,
    )?;
    klieg.set("commands", commands)?;

    let glances = lua.create_table()?;
    glances.set(
        "add",
        lua.create_function(|lua, spec: Table| {
            let glance = SectionRegistration {
                id: field_string(&spec, "id", 60)?,
                kinds: kinds_of(&spec)?,
                title: field_string(&spec, "title", 60)?,
                order: 0,
                build: lua.create_registry_value(
                    spec.get::<Function>("build").map_err(|_| lua_error("`build` must be a function".to_string()))?,
                )?,
            };
            with_registrations(lua, |r| r.glances.push(glance))
        })?,
    )?;
    klieg.set("glances", glances)?;

    klieg.set(
        "on",
        lua.create_function(|lua, (event, handler): (String, Function)| {
            if !EVENTS.contains(&event.as_str()) {
                return Err(lua_error(format!("unknown event {event:?} (one of {})", EVENTS.join(", "))));
            }
            let handler = lua.create_registry_value(handler)?;
            with_registrations(lua, |r| r.hooks.push((event, handler)))
        })?,
    )?;
    Ok(())
}

/// `require("@klieg")` is the host API; `require("./name")` a file of the plugin's own folder.
fn install_require(lua: &Lua, klieg: Table, sources: Arc<Sources>) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    let require = lua.create_function(move |lua, name: String| -> mlua::Result<Value> {
        if name == "@klieg" {
            return Ok(Value::Table(klieg.clone()));
        }
        let Some(relative) = name.strip_prefix("./") else {
            return Err(lua_error(format!("require({name:?}): only \"@klieg\" and \"./file\" are available")));
        };
        let path = format!("{relative}.luau");
        if !crate::manifest::valid_source_path(&path) {
            return Err(lua_error(format!("require({name:?}): not a file of this plugin")));
        }
        if let Some(module) = loaded.get::<Option<Value>>(path.as_str())? {
            return Ok(module);
        }
        let Some(text) = sources.get(&path) else {
            return Err(lua_error(format!("require({name:?}): no file {path} in this plugin")));
        };
        let module: Value = lua.load(text.as_str()).set_name(format!("={path}")).eval()?;
        loaded.set(path.as_str(), module.clone())?;
        Ok(module)
    })?;
    lua.globals().set("require", require)
}

impl Vm {
    /// A fresh sandboxed state with the host API; nothing of the plugin has run yet.
    pub fn new(sources: Arc<Sources>, data: Arc<crate::api::VmData>) -> mlua::Result<Self> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::UTF8 | StdLib::BIT | StdLib::MATH;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        let globals = lua.globals();
        for name in ["loadstring", "getfenv", "setfenv", "collectgarbage", "gcinfo", "newproxy"] {
            globals.raw_set(name, Value::Nil)?;
        }
        lua.set_app_data(data.clone());
        install_require(&lua, host_api(&lua)?, sources)?;
        lua.sandbox(true)?;
        lua.set_memory_limit(limits::MEMORY_BYTES)?;
        let budget = Arc::new(Budget::default());
        let watched = budget.clone();
        lua.set_interrupt(move |_| {
            if watched.over() {
                watched.exceeded.store(true, Ordering::Release);
                return Err(lua_error("the CPU budget of this call ran out".to_string()));
            }
            Ok(VmState::Continue)
        });
        Ok(Self { lua, budget, data })
    }

    pub fn watch_handler(&self, id: u64) -> Option<Arc<RegistryKey>> {
        self.data.watch_handlers.lock().get(&id).cloned()
    }

    /// Where the user was when the handler about to run started (its kube calls' defaults).
    pub fn set_context(&self, context: klieg_model::registry::CommandContext) {
        *self.data.context.lock() = context;
    }

    /// Runs `call` with `budget` of CPU time; whatever it does wrong becomes a fault naming `what`.
    fn guarded<T>(
        &self,
        what: &str,
        budget: Duration,
        call: impl FnOnce(&Lua) -> mlua::Result<T>,
    ) -> Result<T, PluginFault> {
        self.budget.start(budget);
        *self.data.denied.lock() = None;
        let result = call(&self.lua);
        self.budget.end();
        if self.budget.exceeded.load(Ordering::Acquire) {
            return Err(PluginFault::OverBudget { what: what.to_string(), budget_ms: budget.as_millis() });
        }
        if let Some(capability) = self.data.denied.lock().take() {
            return Err(PluginFault::NotGranted { what: what.to_string(), capability });
        }
        result.map_err(|error| fault_of(what, &error))
    }

    /// Runs the plugin's main file and returns what it registered.
    pub fn load(&self, main: &str, text: &str) -> Result<Registrations, PluginFault> {
        self.lua.set_app_data(Registrations::default());
        let ran = self.guarded(main, limits::LOAD_BUDGET, |lua| lua.load(text).set_name(format!("={main}")).exec());
        let registrations = self.lua.remove_app_data::<Registrations>().unwrap_or_default();
        ran.map(|()| registrations)
    }

    /// Calls a registered function with `argument` and converts what it returns.
    pub fn call<T>(
        &self,
        what: &str,
        budget: Duration,
        function: &RegistryKey,
        argument: &serde_json::Value,
        convert: impl FnOnce(&Lua, Value) -> Result<T, String>,
    ) -> Result<T, PluginFault> {
        let value = self.guarded(what, budget, |lua| {
            use mlua::LuaSerdeExt;
            let function: Function = lua.registry_value(function)?;
            let argument = lua.to_value_with(argument, mlua::SerializeOptions::new().serialize_none_to_null(false))?;
            function.call::<Value>(argument)
        })?;
        convert(&self.lua, value).map_err(|error| PluginFault::BadOutput { what: what.to_string(), error })
    }

    /// Compiles one source file without running it: syntax errors, named by file and line.
    pub fn compile(&self, path: &str, text: &str) -> mlua::Result<()> {
        self.lua.load(text).set_name(format!("={path}")).into_function().map(|_| ())
    }

    /// Every name the host API offers (`klieg.columns.add: function`…), sorted: the surface a
    /// snapshot test keeps, so a change to it is deliberate.
    pub fn api_surface(&self) -> mlua::Result<Vec<String>> {
        let require: Function = self.lua.globals().get("require")?;
        let klieg: Table = require.call("@klieg")?;
        let mut names = Vec::new();
        let mut pending = vec![("klieg".to_string(), klieg)];
        while let Some((prefix, table)) = pending.pop() {
            for pair in table.pairs::<String, Value>() {
                let (key, value) = pair?;
                let name = format!("{prefix}.{key}");
                match value {
                    Value::Table(inner) => pending.push((name, inner)),
                    other => names.push(format!("{name}: {}", other.type_name())),
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Memory the state uses now.
    pub fn used_memory_bytes(&self) -> usize {
        self.lua.used_memory()
    }
}

fn fault_of(what: &str, error: &mlua::Error) -> PluginFault {
    let what = what.to_string();
    match error {
        mlua::Error::MemoryError(_) => PluginFault::OutOfMemory { what },
        mlua::Error::CallbackError { cause, .. } => fault_of(&what, cause),
        other => {
            let text = other.to_string();
            if text.contains("not enough memory") {
                return PluginFault::OutOfMemory { what };
            }
            PluginFault::Error { what, error: text.chars().take(limits::MAX_ERROR_CHARS).collect() }
        }
    }
}
