//! The host API a plugin's handlers call: `klieg.kube`, `klieg.http`, `klieg.notify`,
//! `klieg.clipboard`, `klieg.open`, `klieg.storage`, `klieg.secrets`, `klieg.settings`. Each
//! call checks the plugin's granted capabilities first (a call beyond them stops the plugin,
//! named), then goes to the app's services. Calls that wait (the network, the keyring, the
//! user) run only in the handler state, on the plugin's own thread, never in a cell or section.

use crate::limits;
use crate::manifest::{Capabilities, KindName};
use crate::services::{Answer, HttpRequest, KubeRequest, KubeVerb, OpenTarget, Prompt, SecretOp, ServicesSlot};
use klieg_model::registry::{CommandContext, FieldKind, FieldValue, FormField};
use klieg_model::{CellTone, ClusterId, KindKey};
use mlua::{Lua, LuaSerdeExt, Table, Value};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a plugin's states share: who it is, what it was granted, its store and settings.
pub struct PluginEnv {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub capabilities: Capabilities,
    pub services: ServicesSlot,
    pub storage: Storage,
    pub settings: Mutex<BTreeMap<Arc<str>, FieldValue>>,
    pub setting_fields: Vec<FormField>,
    /// The user answered "don't ask again" to one of its writes.
    pub writes_trusted: AtomicBool,
    /// Hands a watch's new objects to the plugin's thread (`false`: the plugin stopped).
    pub watch_sink: Mutex<Option<WatchSink>>,
}

pub type WatchSink = Arc<dyn Fn(u64, serde_json::Value) -> bool + Send + Sync>;

impl PluginEnv {
    /// The keyring entry of one of the plugin's secrets: named by the host from the plugin's
    /// id, so no plugin reaches another's.
    pub fn secret_entry(&self, key: &str) -> String {
        format!("plugin:{}:{key}", self.id)
    }
}

impl VmData {
    /// A state of `manifest`'s plugin with no app behind it (checks, tests): host calls refused.
    pub fn detached(manifest: &crate::Manifest, handler: bool) -> Arc<Self> {
        let env = PluginEnv {
            id: manifest.id.clone(),
            name: manifest.name.clone(),
            capabilities: manifest.capabilities.clone(),
            services: ServicesSlot::default(),
            storage: Storage::open(None),
            settings: Mutex::default(),
            setting_fields: manifest.settings.clone(),
            writes_trusted: AtomicBool::new(false),
            watch_sink: Mutex::default(),
        };
        Arc::new(Self {
            env: Arc::new(env),
            handler,
            context: Mutex::default(),
            denied: Mutex::default(),
            watch_handlers: Mutex::default(),
        })
    }
}

/// One state's side: the shared environment, whether handlers run here, where the user was
/// when the running handler started, and the capability a call was refused for.
pub struct VmData {
    pub env: Arc<PluginEnv>,
    pub handler: bool,
    pub context: Mutex<CommandContext>,
    pub denied: Mutex<Option<String>>,
    /// Each running watch's handler, by watch id (in this state).
    pub watch_handlers: Mutex<BTreeMap<u64, Arc<mlua::RegistryKey>>>,
}

fn lua_error(text: String) -> mlua::Error {
    mlua::Error::RuntimeError(text)
}

/// `nil, reason`: how a call the plugin may handle (a refusal, a declined write) answers.
fn nil_and(lua: &Lua, reason: &str) -> mlua::Result<mlua::MultiValue> {
    Ok(mlua::MultiValue::from_iter([Value::Nil, Value::String(lua.create_string(reason)?)]))
}

fn data(lua: &Lua) -> mlua::Result<Arc<VmData>> {
    lua.app_data_ref::<Arc<VmData>>().map(|d| d.clone()).ok_or_else(|| lua_error("no plugin environment".into()))
}

/// The state's data, refused unless handlers run here.
fn handler_data(lua: &Lua, call: &str) -> mlua::Result<Arc<VmData>> {
    let data = data(lua)?;
    if !data.handler {
        return Err(lua_error(format!(
            "{call} runs only in handlers (commands, event hooks, views), not in cells, sections or glances"
        )));
    }
    Ok(data)
}

/// Refuses a call beyond the plugin's capabilities: the plugin is stopped, the capability named.
fn deny(data: &VmData, call: &str, capability: String) -> mlua::Error {
    *data.denied.lock() = Some(capability.clone());
    lua_error(format!("{call} needs the capability {capability}, which this plugin does not declare"))
}

fn kind_of(text: &str) -> mlua::Result<KindKey> {
    match KindName::parse(text).map_err(|e| lua_error(e.to_string()))? {
        KindName::Kind { group, plural } => Ok(KindKey { group, plural }),
        KindName::Any => Err(lua_error("name one kind, not *".into())),
    }
}

fn may_read(capabilities: &Capabilities, kind: &KindKey) -> bool {
    capabilities.kube_read.iter().flatten().any(|name| name.matches(&kind.group, &kind.plural))
}

fn may_write(capabilities: &Capabilities, kind: &KindKey, verb: &str) -> bool {
    capabilities
        .kube_write
        .iter()
        .any(|(name, verbs)| name.matches(&kind.group, &kind.plural) && verbs.iter().any(|v| &**v == verb))
}

/// Options of a kube call: `{ namespace = …, cluster = …, selector = …, limit = …, container = … }`.
struct KubeOptions {
    namespace: Option<String>,
    cluster: Option<ClusterId>,
    selector: Option<String>,
    limit: Option<usize>,
    container: Option<String>,
}

fn kube_options(options: Option<Table>) -> mlua::Result<KubeOptions> {
    let Some(options) = options else {
        return Ok(KubeOptions { namespace: None, cluster: None, selector: None, limit: None, container: None });
    };
    let text = |field: &str| -> mlua::Result<Option<String>> {
        options.get::<Option<String>>(field).map_err(|_| lua_error(format!("`{field}` must be a text")))
    };
    let limit: Option<f64> = options.get("limit").map_err(|_| lua_error("`limit` must be a number".into()))?;
    Ok(KubeOptions {
        namespace: text("namespace")?,
        cluster: text("cluster")?.map(|c| ClusterId::new(&c)),
        selector: text("selector")?,
        limit: limit.map(|l| l.clamp(1.0, limits::KUBE_LIST_MAX_ITEMS as f64) as usize),
        container: text("container")?,
    })
}

/// The YAML of a patch, for the confirmation.
fn shown(value: &serde_json::Value) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// Runs one kube call: capability, confirmation of writes, the call, its answer as Lua.
fn kube_call(
    lua: &Lua,
    verb: KubeVerb,
    kind: &str,
    name: Option<String>,
    rest: KubeRest,
) -> mlua::Result<mlua::MultiValue> {
    let call = format!("klieg.kube.{}", verb.name());
    let data = handler_data(lua, &call)?;
    let kind = kind_of(kind)?;
    let env = &data.env;
    let allowed = match verb {
        KubeVerb::Get | KubeVerb::List | KubeVerb::Logs => may_read(&env.capabilities, &kind),
        KubeVerb::Patch | KubeVerb::Delete => may_write(&env.capabilities, &kind, verb.name()),
        // Applying creates the object or patches it: both verbs.
        KubeVerb::Apply => {
            may_write(&env.capabilities, &kind, "create") && may_write(&env.capabilities, &kind, "patch")
        }
    };
    if !allowed {
        let name = KindName::Kind { group: kind.group.clone(), plural: kind.plural.clone() };
        let capability = match verb {
            KubeVerb::Get | KubeVerb::List | KubeVerb::Logs => format!("kube_read = [\"{name}\"]"),
            KubeVerb::Patch | KubeVerb::Delete => format!("kube_write {name} {}", verb.name()),
            KubeVerb::Apply => format!("kube_write {name} create, patch"),
        };
        return Err(deny(&data, &call, capability));
    }
    let context = data.context.lock().clone();
    let request = KubeRequest {
        verb,
        cluster: rest.options.cluster.or_else(|| context.cluster.clone()),
        kind,
        namespace: rest.options.namespace.or_else(|| context.namespace.as_deref().map(str::to_string)),
        name,
        patch: rest.patch,
        label_selector: rest.options.selector,
        limit: rest.options.limit.unwrap_or(match verb {
            KubeVerb::Logs => limits::KUBE_LOG_DEFAULT_LINES,
            _ => limits::KUBE_LIST_MAX_ITEMS,
        }),
        container: rest.options.container,
    };
    if matches!(verb, KubeVerb::Patch | KubeVerb::Delete | KubeVerb::Apply)
        && !env.writes_trusted.load(Ordering::Acquire)
    {
        let target = format!(
            "{} {}{}",
            request.kind.plural,
            request.name.as_deref().unwrap_or(""),
            request.namespace.as_deref().map(|ns| format!(" ({ns})")).unwrap_or_default()
        );
        let cluster = request.cluster.as_ref().map(|c| c.as_str()).unwrap_or("—");
        let summary = crate::t!(
            "plugins.prompt_summary",
            plugin = env.name,
            verb = verb.name(),
            target = target,
            cluster = cluster
        );
        let detail = request.patch.as_ref().map(shown).unwrap_or_default();
        let prompt = Prompt {
            plugin: env.id.clone(),
            plugin_name: env.name.clone(),
            summary: summary.into(),
            detail,
            can_trust: true,
        };
        match env.services.get().confirm(prompt) {
            Answer::Yes => {}
            Answer::Always => env.writes_trusted.store(true, Ordering::Release),
            Answer::No => {
                return nil_and(lua, &crate::t!("plugins.write_declined"));
            }
        }
    }
    match env.services.get().kube(request, &context) {
        Ok(answer) => {
            let answer = lua.to_value_with(&answer, mlua::SerializeOptions::new().serialize_none_to_null(false))?;
            Ok(mlua::MultiValue::from_iter([answer]))
        }
        // A refusal by the server (RBAC, not found) is the plugin's to handle: nil and the reason.
        Err(reason) => nil_and(lua, &reason),
    }
}

/// Starts a watch: `handler(objects)` runs on the plugin's thread after each change, with the
/// objects as the table has them (name, namespace, labels, each column's text). The watch is
/// the table's own subscription when it shows the same kind and namespace.
fn watch_call(lua: &Lua, kind: &str, options: KubeOptions, handler: mlua::Function) -> mlua::Result<u64> {
    let call = "klieg.kube.watch";
    let data = handler_data(lua, call)?;
    let kind = kind_of(kind)?;
    if !may_read(&data.env.capabilities, &kind) {
        let name = KindName::Kind { group: kind.group.clone(), plural: kind.plural.clone() };
        return Err(deny(&data, call, format!("kube_read = [\"{name}\"]")));
    }
    if data.watch_handlers.lock().len() >= limits::MAX_WATCHES {
        return Err(lua_error(format!("a plugin holds at most {} watches", limits::MAX_WATCHES)));
    }
    let context = data.context.lock().clone();
    let request = KubeRequest {
        verb: KubeVerb::List,
        cluster: options.cluster.or(context.cluster),
        kind,
        namespace: options.namespace.or_else(|| context.namespace.as_deref().map(str::to_string)),
        name: None,
        patch: None,
        label_selector: None,
        limit: limits::KUBE_LIST_MAX_ITEMS,
        container: None,
    };
    let mut stream = data.env.services.get().watch(request).map_err(lua_error)?;
    let Some(sink) = data.env.watch_sink.lock().clone() else {
        return Err(lua_error("watches start only once the plugin has loaded".into()));
    };
    static NEXT_WATCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
    data.watch_handlers.lock().insert(id, Arc::new(lua.create_registry_value(handler)?));
    let watched = Arc::downgrade(&data);
    let spawned = std::thread::Builder::new().name("klieg-plugin-watch".into()).spawn(move || {
        // Ends when the plugin stops, unwatches, or its state is gone.
        while watched.upgrade().is_some_and(|data| data.watch_handlers.lock().contains_key(&id)) {
            if let Some(objects) = stream.next(limits::WATCH_POLL)
                && !sink(id, objects)
            {
                break;
            }
        }
    });
    spawned.map_err(|e| lua_error(e.to_string()))?;
    Ok(id)
}

struct KubeRest {
    options: KubeOptions,
    patch: Option<serde_json::Value>,
}

/// `klieg.kube`: get, list, patch, delete, logs. Each returns the answer, or `nil, reason`.
fn kube_api(lua: &Lua) -> mlua::Result<Table> {
    let kube = lua.create_table()?;
    kube.set(
        "get",
        lua.create_function(move |lua, (kind, name, options): (String, String, Option<Table>)| {
            let rest = KubeRest { options: kube_options(options)?, patch: None };
            kube_call(lua, KubeVerb::Get, &kind, Some(name), rest)
        })?,
    )?;
    kube.set(
        "list",
        lua.create_function(move |lua, (kind, options): (String, Option<Table>)| {
            let rest = KubeRest { options: kube_options(options)?, patch: None };
            kube_call(lua, KubeVerb::List, &kind, None, rest)
        })?,
    )?;
    kube.set(
        "patch",
        lua.create_function(move |lua, (kind, name, patch, options): (String, String, Value, Option<Table>)| {
            let patch: serde_json::Value = lua.from_value(patch)?;
            if !patch.is_object() {
                return Err(lua_error("a patch is a table of fields".into()));
            }
            let bytes = serde_json::to_vec(&patch).map_err(|e| lua_error(e.to_string()))?.len();
            if bytes > limits::MAX_PATCH_BYTES {
                return Err(lua_error(format!("a patch of {bytes} bytes (at most {})", limits::MAX_PATCH_BYTES)));
            }
            let rest = KubeRest { options: kube_options(options)?, patch: Some(patch) };
            kube_call(lua, KubeVerb::Patch, &kind, Some(name), rest)
        })?,
    )?;
    kube.set(
        "apply",
        lua.create_function(move |lua, (kind, object, options): (String, Value, Option<Table>)| {
            let object: serde_json::Value = lua.from_value(object)?;
            let name = object.pointer("/metadata/name").and_then(|n| n.as_str()).map(str::to_string);
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                return Err(lua_error("an applied object has metadata.name".into()));
            };
            let bytes = serde_json::to_vec(&object).map_err(|e| lua_error(e.to_string()))?.len();
            if bytes > limits::MAX_PATCH_BYTES {
                return Err(lua_error(format!("an object of {bytes} bytes (at most {})", limits::MAX_PATCH_BYTES)));
            }
            let mut options = kube_options(options)?;
            if let Some(namespace) = object.pointer("/metadata/namespace").and_then(|n| n.as_str()) {
                options.namespace = Some(namespace.to_string());
            }
            kube_call(lua, KubeVerb::Apply, &kind, Some(name), KubeRest { options, patch: Some(object) })
        })?,
    )?;
    kube.set(
        "delete",
        lua.create_function(move |lua, (kind, name, options): (String, String, Option<Table>)| {
            let rest = KubeRest { options: kube_options(options)?, patch: None };
            kube_call(lua, KubeVerb::Delete, &kind, Some(name), rest)
        })?,
    )?;
    kube.set(
        "watch",
        lua.create_function(move |lua, (kind, options, handler): (String, Option<Table>, mlua::Function)| {
            watch_call(lua, &kind, kube_options(options)?, handler)
        })?,
    )?;
    kube.set(
        "unwatch",
        lua.create_function(|lua, id: u64| {
            let data = handler_data(lua, "klieg.kube.unwatch")?;
            data.watch_handlers.lock().remove(&id);
            Ok(())
        })?,
    )?;
    kube.set(
        "logs",
        lua.create_function(move |lua, (name, options): (String, Option<Table>)| {
            let rest = KubeRest { options: kube_options(options)?, patch: None };
            kube_call(lua, KubeVerb::Logs, "pods", Some(name), rest)
        })?,
    )?;
    Ok(kube)
}

/// The host of a URL, and whether the scheme is allowed: HTTPS, or plain HTTP to this machine.
fn url_host(url: &str) -> Option<(String, bool)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?.to_string()
    } else {
        authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_ascii_lowercase()
    };
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1");
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Some((host, true)),
        "http" => Some((host, loopback)),
        _ => None,
    }
}

/// `klieg.http.get(url, { headers = … })` and `klieg.http.request { method, url, headers, body }`.
fn http_api(lua: &Lua) -> mlua::Result<Table> {
    let http = lua.create_table()?;
    let fetch = |lua: &Lua, request: HttpRequest| -> mlua::Result<mlua::MultiValue> {
        let data = handler_data(lua, "klieg.http")?;
        let Some((host, scheme_ok)) = url_host(&request.url) else {
            return Err(lua_error(format!(
                "{:?} is not an http(s) URL",
                request.url.chars().take(200).collect::<String>()
            )));
        };
        if !data.env.capabilities.http.iter().any(|allowed| **allowed == *host) {
            return Err(deny(&data, "klieg.http", format!("http = [\"{host}\"]")));
        }
        if !scheme_ok {
            return Err(lua_error("plain http is allowed only to this machine; use https".into()));
        }
        match data.env.services.get().http(request, limits::HTTP_MAX_RESPONSE_BYTES) {
            Ok(response) => {
                let table = lua.create_table()?;
                table.set("status", response.status)?;
                table.set("body", lua.create_string(&response.body)?)?;
                let headers = lua.create_table()?;
                for (name, value) in response.headers {
                    headers.set(name, value)?;
                }
                table.set("headers", headers)?;
                Ok(mlua::MultiValue::from_iter([Value::Table(table)]))
            }
            Err(reason) => nil_and(lua, &reason),
        }
    };
    let headers_of = |table: Option<Table>| -> mlua::Result<Vec<(String, String)>> {
        let Some(table) = table else { return Ok(Vec::new()) };
        let mut headers = Vec::new();
        for pair in table.pairs::<String, String>() {
            headers.push(pair.map_err(|_| lua_error("headers are texts".into()))?);
        }
        Ok(headers)
    };
    http.set(
        "get",
        lua.create_function(move |lua, (url, options): (String, Option<Table>)| {
            let headers = headers_of(options.map(|o| o.get::<Option<Table>>("headers")).transpose()?.flatten())?;
            fetch(lua, HttpRequest { method: "GET".into(), url, headers, body: None })
        })?,
    )?;
    http.set(
        "request",
        lua.create_function(move |lua, spec: Table| {
            let method: Option<String> = spec.get("method")?;
            let method = method.unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
            if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") {
                return Err(lua_error(format!("unknown method {method}")));
            }
            let body: Option<String> = spec.get("body")?;
            if body.as_ref().is_some_and(|b| b.len() > limits::HTTP_MAX_REQUEST_BYTES) {
                return Err(lua_error(format!("a request body is at most {} bytes", limits::HTTP_MAX_REQUEST_BYTES)));
            }
            let url: String = spec.get("url").map_err(|_| lua_error("`url` must be a text".into()))?;
            fetch(lua, HttpRequest { method, url, headers: headers_of(spec.get("headers")?)?, body })
        })?,
    )?;
    Ok(http)
}

fn tone_of(text: Option<String>) -> mlua::Result<CellTone> {
    Ok(match text.as_deref() {
        None | Some("normal") => CellTone::Normal,
        Some("ok") => CellTone::Good,
        Some("warning") => CellTone::Warning,
        Some("error") => CellTone::Bad,
        Some(other) => return Err(lua_error(format!("unknown tone {other:?}"))),
    })
}

/// `klieg.exec(id, { name, namespace, kind, container, cluster })`: runs the manifest's command
/// `id` (handlers only), its variables filled from the options or the context; a dangerous one
/// is confirmed each time. Returns `{ code, output }`, or `nil, reason`.
fn exec_api(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    klieg.set(
        "exec",
        lua.create_function(|lua, (id, options): (String, Option<Table>)| {
            let data = handler_data(lua, "klieg.exec")?;
            let env = &data.env;
            let Some(command) = env.capabilities.exec.iter().find(|c| *c.id == *id).cloned() else {
                return Err(deny(&data, "klieg.exec", format!("[[capabilities.exec]] id = \"{id}\"")));
            };
            let context = data.context.lock().clone();
            let text = |field: &str| -> mlua::Result<Option<String>> {
                match &options {
                    Some(options) => {
                        options.get::<Option<String>>(field).map_err(|_| lua_error(format!("`{field}` must be a text")))
                    }
                    None => Ok(None),
                }
            };
            let object = context.object.clone();
            let cluster =
                text("cluster")?.or_else(|| context.cluster.as_ref().map(|c| c.to_string())).unwrap_or_default();
            let namespace = text("namespace")?
                .or_else(|| object.as_ref().and_then(|(_, k)| k.namespace.as_deref().map(str::to_string)))
                .or_else(|| context.namespace.as_deref().map(str::to_string))
                .unwrap_or_default();
            let name = text("name")?.or_else(|| object.as_ref().map(|(_, k)| k.name.to_string())).unwrap_or_default();
            let kind = match text("kind")? {
                Some(kind) => Some(kind_of(&kind)?),
                None => object.as_ref().map(|(kind, _)| kind.clone()),
            };
            let resource = kind.map(|k| KindName::Kind { group: k.group, plural: k.plural }.to_string());
            let resource = resource.unwrap_or_default();
            let container = text("container")?.unwrap_or_default();
            let values = [
                ("$CONTEXT", cluster.as_str()),
                ("$NAMESPACE", namespace.as_str()),
                ("$NAME", name.as_str()),
                ("$RESOURCE", resource.as_str()),
                ("$KIND", ""),
                ("$CONTAINER", container.as_str()),
            ];
            let argv = match crate::host::fill_command(&command, &values) {
                Ok(argv) => argv,
                Err(reason) => return nil_and(lua, &reason),
            };
            if command.dangerous {
                let summary = crate::t!("plugins.prompt_command", plugin = env.name, command = argv.join(" "));
                let prompt = Prompt {
                    plugin: env.id.clone(),
                    plugin_name: env.name.clone(),
                    summary: summary.into(),
                    detail: String::new(),
                    can_trust: false,
                };
                if env.services.get().confirm(prompt) == Answer::No {
                    return nil_and(lua, &crate::t!("plugins.write_declined"));
                }
            }
            let cluster = (!cluster.is_empty()).then(|| ClusterId::new(&cluster));
            match env.services.get().run_command(crate::services::CommandRequest { argv, cluster }) {
                Ok(done) => {
                    let table = lua.create_table()?;
                    table.set("code", done.code)?;
                    table.set("output", lua.create_string(&done.output)?)?;
                    Ok(mlua::MultiValue::from_iter([Value::Table(table)]))
                }
                Err(reason) => nil_and(lua, &reason),
            }
        })?,
    )
}

/// `klieg.notify`, `klieg.clipboard.set`, `klieg.open.view` / `klieg.open.object`.
fn window_api(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    klieg.set(
        "notify",
        lua.create_function(|lua, (text, tone): (String, Option<String>)| {
            let data = handler_data(lua, "klieg.notify")?;
            if !data.env.capabilities.notify {
                return Err(deny(&data, "klieg.notify", "notify = true".into()));
            }
            let text: String = text.chars().take(limits::NOTICE_MAX_CHARS).collect();
            data.env.services.get().notify(&data.env.name, &text, tone_of(tone)?);
            Ok(())
        })?,
    )?;
    let clipboard = lua.create_table()?;
    clipboard.set(
        "set",
        lua.create_function(|lua, text: String| {
            let data = handler_data(lua, "klieg.clipboard.set")?;
            if !data.env.capabilities.clipboard {
                return Err(deny(&data, "klieg.clipboard.set", "clipboard = true".into()));
            }
            if text.len() > limits::MAX_OUTPUT_TEXT_BYTES {
                return Err(lua_error("too much text for the clipboard".into()));
            }
            data.env.services.get().clipboard(&text);
            Ok(())
        })?,
    )?;
    klieg.set("clipboard", clipboard)?;
    let open = lua.create_table()?;
    open.set(
        "view",
        lua.create_function(|lua, id: String| {
            let data = handler_data(lua, "klieg.open.view")?;
            // A plugin's own views by their id; any other by its whole id ("plugin/view").
            let id = if id.contains('/') { id } else { format!("{}/{id}", data.env.id) };
            let view = klieg_model::registry::ViewId(Arc::from(id));
            data.env.services.get().open(OpenTarget::View(view));
            Ok(())
        })?,
    )?;
    open.set(
        "object",
        lua.create_function(|lua, (kind, name, options): (String, String, Option<Table>)| {
            let data = handler_data(lua, "klieg.open.object")?;
            let kind = kind_of(&kind)?;
            let options = kube_options(options)?;
            let context = data.context.lock().clone();
            let Some(cluster) = options.cluster.or(context.cluster) else {
                return Err(lua_error("no cluster to open the object in".into()));
            };
            let key = klieg_model::ObjectKey {
                cluster,
                namespace: options.namespace.map(Arc::from).or(context.namespace),
                name: Arc::from(name),
            };
            data.env.services.get().open(OpenTarget::Object { kind, key });
            Ok(())
        })?,
    )?;
    klieg.set("open", open)
}

/// A plugin's small key-value store: JSON in one file of Klieg's data folder, written whole
/// (to a new file, then renamed) on each change, from the handler's thread.
pub struct Storage {
    path: Option<PathBuf>,
    values: Mutex<BTreeMap<String, serde_json::Value>>,
}

impl Storage {
    /// The store kept at `path` (read now), or in memory only.
    pub fn open(path: Option<PathBuf>) -> Self {
        let values = path
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .filter(|bytes| bytes.len() <= limits::STORAGE_MAX_BYTES)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self { path, values: Mutex::new(values) }
    }

    fn get(&self, key: &str) -> Option<serde_json::Value> {
        self.values.lock().get(key).cloned()
    }

    fn keys(&self) -> Vec<String> {
        self.values.lock().keys().cloned().collect()
    }

    fn change(&self, key: &str, value: Option<serde_json::Value>) -> Result<(), String> {
        let mut values = self.values.lock();
        let mut next = values.clone();
        match value {
            Some(value) => next.insert(key.to_string(), value),
            None => next.remove(key),
        };
        if next.len() > limits::STORAGE_MAX_KEYS {
            return Err(format!("the store holds at most {} keys", limits::STORAGE_MAX_KEYS));
        }
        let bytes = serde_json::to_vec(&next).map_err(|e| e.to_string())?;
        if bytes.len() > limits::STORAGE_MAX_BYTES {
            return Err(format!("the store holds at most {} bytes", limits::STORAGE_MAX_BYTES));
        }
        if let Some(path) = &self.path {
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder).map_err(|e| e.to_string())?;
            }
            let staged = path.with_extension("json.new");
            std::fs::write(&staged, &bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&staged, path).map_err(|e| e.to_string())?;
        }
        *values = next;
        Ok(())
    }
}

fn storage_key(key: &str) -> mlua::Result<()> {
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        return Err(lua_error("a key has 1 to 200 characters, none of them control characters".into()));
    }
    Ok(())
}

/// `klieg.storage` (get anywhere; set and delete in handlers) and `klieg.secrets` (handlers).
fn storage_api(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    let storage = lua.create_table()?;
    let granted = |lua: &Lua, call: &str, handler: bool| -> mlua::Result<Arc<VmData>> {
        let data = if handler { handler_data(lua, call)? } else { data(lua)? };
        if !data.env.capabilities.storage {
            return Err(deny(&data, call, "storage = true".into()));
        }
        Ok(data)
    };
    storage.set(
        "get",
        lua.create_function(move |lua, key: String| {
            let data = granted(lua, "klieg.storage.get", false)?;
            match data.env.storage.get(&key) {
                Some(value) => lua.to_value(&value),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    storage.set(
        "keys",
        lua.create_function(move |lua, ()| Ok(granted(lua, "klieg.storage.keys", false)?.env.storage.keys()))?,
    )?;
    storage.set(
        "set",
        lua.create_function(move |lua, (key, value): (String, Value)| {
            let data = granted(lua, "klieg.storage.set", true)?;
            storage_key(&key)?;
            let value: serde_json::Value = lua.from_value(value)?;
            data.env.storage.change(&key, Some(value)).map_err(lua_error)
        })?,
    )?;
    storage.set(
        "delete",
        lua.create_function(move |lua, key: String| {
            let data = granted(lua, "klieg.storage.delete", true)?;
            data.env.storage.change(&key, None).map_err(lua_error)
        })?,
    )?;
    klieg.set("storage", storage)?;

    let secrets = lua.create_table()?;
    secrets.set(
        "get",
        lua.create_function(move |lua, key: String| {
            let data = granted(lua, "klieg.secrets.get", true)?;
            storage_key(&key)?;
            let entry = data.env.secret_entry(&key);
            data.env.services.get().secret(&entry, SecretOp::Get).map_err(lua_error)
        })?,
    )?;
    secrets.set(
        "set",
        lua.create_function(move |lua, (key, value): (String, String)| {
            let data = granted(lua, "klieg.secrets.set", true)?;
            storage_key(&key)?;
            if value.len() > limits::STORAGE_MAX_VALUE_BYTES {
                return Err(lua_error("a secret is at most 64 KiB".into()));
            }
            let entry = data.env.secret_entry(&key);
            data.env.services.get().secret(&entry, SecretOp::Set(value)).map(|_| ()).map_err(lua_error)
        })?,
    )?;
    secrets.set(
        "delete",
        lua.create_function(move |lua, key: String| {
            let data = granted(lua, "klieg.secrets.delete", true)?;
            storage_key(&key)?;
            let entry = data.env.secret_entry(&key);
            data.env.services.get().secret(&entry, SecretOp::Delete).map(|_| ()).map_err(lua_error)
        })?,
    )?;
    klieg.set("secrets", secrets)
}

/// `klieg.settings.get(key)`: the user's value, or the schema's default. A secret setting is
/// read from the keyring, in handlers only.
fn settings_api(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    let settings = lua.create_table()?;
    settings.set(
        "get",
        lua.create_function(|lua, key: String| {
            let data = data(lua)?;
            let Some(field) = data.env.setting_fields.iter().find(|f| *f.key == *key) else {
                return Err(lua_error(format!("no setting {key:?} in plugin.toml")));
            };
            if field.kind == FieldKind::Secret {
                let data = handler_data(lua, "klieg.settings.get of a secret")?;
                let entry = data.env.secret_entry(&format!("setting:{key}"));
                return match data.env.services.get().secret(&entry, SecretOp::Get) {
                    Ok(Some(secret)) => Ok(Value::String(lua.create_string(&secret)?)),
                    Ok(None) | Err(_) => Ok(Value::Nil),
                };
            }
            let value = data.env.settings.lock().get(&*key).cloned().unwrap_or_else(|| field.initial());
            lua.to_value(&value.to_json())
        })?,
    )?;
    klieg.set("settings", settings)
}

/// Installs the whole handler API into `klieg`.
pub fn install(lua: &Lua, klieg: &Table) -> mlua::Result<()> {
    klieg.set("kube", kube_api(lua)?)?;
    klieg.set("http", http_api(lua)?)?;
    exec_api(lua, klieg)?;
    window_api(lua, klieg)?;
    storage_api(lua, klieg)?;
    settings_api(lua, klieg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_name_their_host_and_plain_http_reaches_only_this_machine() {
        assert_eq!(super::url_host("https://API.example.com:8443/x?y"), Some(("api.example.com".into(), true)));
        assert_eq!(super::url_host("http://127.0.0.1:9000/x"), Some(("127.0.0.1".into(), true)));
        assert_eq!(super::url_host("http://example.com/x"), Some(("example.com".into(), false)));
        assert_eq!(super::url_host("https://user@evil.com@example.com/"), None);
        assert_eq!(super::url_host("file:///etc/passwd"), None);
        assert_eq!(super::url_host("https://[::1]:443/"), Some(("::1".into(), true)));
    }
}
