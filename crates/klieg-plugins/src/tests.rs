//! The host against good and hostile plugins written to temporary folders: each fault is
//! contained and named, the others keep working, and a saved file reloads only its plugin.

use crate::{HostConfig, PluginHost, PluginState};
use klieg_model::registry::{RowInput, SectionBody, SectionInput};
use klieg_model::{Cell, ClusterId, KindKey, LiveRegistry, ObjectKey, Registry};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn write_plugin(root: &Path, id: &str, main: &str) {
    crate::write_single_file_plugin(root, id, main).expect("a plugin folder");
}

fn start(root: &Path) -> (PluginHost, LiveRegistry) {
    let live = LiveRegistry::new(Registry::with_builtins());
    let config = HostConfig { development: vec![root.to_path_buf()], ..HostConfig::default() };
    let host = PluginHost::start(config, Registry::with_builtins(), live.clone());
    assert!(host.wait_for_first_load(Duration::from_secs(30)), "the plugins load");
    (host, live)
}

fn state_of(host: &PluginHost, id: &str) -> PluginState {
    host.list().plugins.iter().find(|p| &*p.id == id).map(|p| p.state.clone()).expect("listed")
}

fn wait_state(host: &PluginHost, id: &str, done: impl Fn(&PluginState) -> bool) -> PluginState {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = state_of(host, id);
        if done(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "{id} stayed {state:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn configmaps() -> KindKey {
    KindKey::new("", "configmaps")
}

fn cells(registry: &Registry, name: &str) -> Vec<Cell> {
    let labels = [(Arc::from("team"), Arc::from("payments"))];
    let input = RowInput { name, namespace: Some("shop"), labels: &labels, cells: &[], object: None };
    registry
        .column_sets_for(&configmaps())
        .iter()
        .filter_map(|set| match &set.values {
            klieg_model::registry::ColumnValues::Row(build) => Some(build(&input)),
            klieg_model::registry::ColumnValues::Usage(_) => None,
        })
        .flatten()
        .collect()
}

fn sections(registry: &Registry) -> Vec<(String, SectionBody)> {
    let object = serde_json::json!({ "metadata": { "name": "limits" }, "data": { "a": "1", "b": "2" } });
    let key = ObjectKey { cluster: ClusterId::new("c"), namespace: Some(Arc::from("shop")), name: Arc::from("limits") };
    let kind = configmaps();
    let input = SectionInput { object: &object, key: &key, kind: &kind };
    registry.build_sections(&input).into_iter().map(|s| (s.id.to_string(), s.body)).collect()
}

const GOOD: &str = r#"
local klieg = require("@klieg")
klieg.columns.add({ id = "team", kinds = { "configmaps" }, title = "Team",
  cell = function(obj) return { text = obj.metadata.labels.team or "-", tone = "ok" } end })
klieg.sections.add({ id = "keys", kinds = { "configmaps" }, title = "Keys",
  build = function(obj)
    local n = 0
    for _ in obj.data do n += 1 end
    return klieg.ui.keyvalues({ { "keys", tostring(n) } })
  end })
"#;

#[test]
fn a_good_plugin_adds_a_column_and_a_section() {
    let root = tempfile::tempdir().expect("tempdir");
    write_plugin(root.path(), "io.example.good", GOOD);
    let (host, live) = start(root.path());
    assert_eq!(state_of(&host, "io.example.good"), PluginState::Running);
    let registry = live.current();
    assert_eq!(cells(&registry, "limits"), vec![Cell::Text(Arc::from("payments"), klieg_model::CellTone::Good)]);
    let built = sections(&registry);
    let keys = built.iter().find(|(id, _)| id == "io.example.good/keys").expect("the plugin's section");
    assert_eq!(keys.1, SectionBody::Entries(vec![(Arc::from("keys"), Arc::from("2"))]));
}

/// Each hostile plugin, and where its fault shows.
const HOSTILE: [(&str, &str, &str); 10] = [
    ("io.example.loop-at-load", "while true do end", "CPU"),
    ("io.example.io", "io.open('/etc/passwd')", "attempt to index nil with 'open'"),
    ("io.example.os", "os.execute('true')", "attempt to index nil with 'execute'"),
    ("io.example.require", "require('os')", "require"),
    ("io.example.escape", "require('./../../secret')", "not a file of this plugin"),
    ("io.example.globals", "string.rep = nil", "readonly"),
    (
        "io.example.loop-in-cell",
        "local k = require('@klieg') k.columns.add({ id = 'x', kinds = { 'configmaps' }, title = 'X', cell = function() while true do end end })",
        "CPU",
    ),
    (
        "io.example.memory",
        "local k = require('@klieg') k.sections.add({ id = 'x', kinds = { 'configmaps' }, title = 'X', build = function() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1048576) .. i end end })",
        "memory",
    ),
    (
        "io.example.recursion",
        "local k = require('@klieg') local function f(n) return f(n + 1) + 1 end k.sections.add({ id = 'x', kinds = { 'configmaps' }, title = 'X', build = function() return f(1) end })",
        "stack",
    ),
    (
        "io.example.huge-tree",
        "local k = require('@klieg') k.sections.add({ id = 'x', kinds = { 'configmaps' }, title = 'X', build = function() local items, pair = {}, { 'k', 'v' } for i = 1, 1000000 do items[i] = pair end return k.ui.keyvalues(items) end })",
        "100000",
    ),
];

#[test]
fn hostile_plugins_are_stopped_and_named_and_the_good_one_keeps_working() {
    let root = tempfile::tempdir().expect("tempdir");
    write_plugin(root.path(), "io.example.good", GOOD);
    for (id, main, _) in HOSTILE {
        write_plugin(root.path(), id, main);
    }
    write_plugin(
        root.path(),
        "io.example.throws",
        "local k = require('@klieg') k.sections.add({ id = 'x', kinds = { 'configmaps' }, title = 'X', build = function() error('the plugin is broken') end })",
    );
    let started = Instant::now();
    let (host, live) = start(root.path());
    eprintln!("{} plugins loaded in {:?}", HOSTILE.len() + 2, started.elapsed());
    // Call every registered builder, as the backend would (a cell past its budget thrice).
    let registry = live.current();
    for _ in 0..crate::limits::CELL_BUDGET_STRIKES {
        let _ = cells(&registry, "limits");
    }
    let built = sections(&registry);
    assert!(built.iter().any(|(id, _)| id == "io.example.good/keys"));
    for (id, _, reason) in HOSTILE {
        let state = wait_state(&host, id, |s| matches!(s, PluginState::Failed(_)));
        let PluginState::Failed(text) = state else { unreachable!() };
        assert!(text.contains(reason), "{id}: {text}");
    }
    let thrown = wait_state(&host, "io.example.throws", |s| matches!(s, PluginState::Failed(_)));
    assert!(matches!(&thrown, PluginState::Failed(text) if text.contains("the plugin is broken")), "{thrown:?}");
    // The stopped plugins' entries are gone; the good one's stay and still answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sections(&live.current()).len() != sections(&Registry::with_builtins()).len() + 1 {
        assert!(Instant::now() < deadline, "stopped plugins' sections stayed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(state_of(&host, "io.example.good"), PluginState::Running);
    assert_eq!(cells(&live.current(), "limits").len(), 1);
}

#[test]
fn saving_a_file_reloads_only_that_plugin() {
    let root = tempfile::tempdir().expect("tempdir");
    write_plugin(root.path(), "io.example.good", GOOD);
    let counter = "local k = require('@klieg') local calls = 0 k.sections.add({ id = 'calls', kinds = { 'configmaps' }, title = 'Calls', build = function() calls += 1 return k.ui.text(tostring(calls)) end })";
    write_plugin(root.path(), "io.example.counter", counter);
    let (host, live) = start(root.path());
    let text_of =
        |registry: &Registry, id: &str| sections(registry).into_iter().find(|(s, _)| s == id).map(|(_, body)| body);
    // The counter's state: two calls so far.
    let _ = text_of(&live.current(), "io.example.counter/calls");
    assert_eq!(text_of(&live.current(), "io.example.counter/calls"), Some(SectionBody::Text(Arc::from("2"))));
    let before = live.generation();
    let edited = GOOD.replace("{ \"keys\", tostring(n) }", "{ \"keys now\", tostring(n) }");
    let saved = Instant::now();
    std::fs::write(root.path().join("io.example.good").join("init.luau"), edited).expect("edit");
    let deadline = saved + Duration::from_secs(5);
    while live.generation() == before {
        assert!(Instant::now() < deadline, "no reload after the file was saved");
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("reloaded {:?} after the save", saved.elapsed());
    assert!(saved.elapsed() < Duration::from_secs(1), "reloads within a second");
    let registry = live.current();
    assert_eq!(
        text_of(&registry, "io.example.good/keys"),
        Some(SectionBody::Entries(vec![(Arc::from("keys now"), Arc::from("2"))]))
    );
    // The other plugin kept its state: its fourth call says 4 (a fresh one would say 1 or 2).
    assert_eq!(text_of(&registry, "io.example.counter/calls"), Some(SectionBody::Text(Arc::from("4"))));
    assert_eq!(state_of(&host, "io.example.counter"), PluginState::Running);
}

#[test]
fn safe_mode_runs_no_plugin() {
    let root = tempfile::tempdir().expect("tempdir");
    write_plugin(root.path(), "io.example.good", GOOD);
    let live = LiveRegistry::new(Registry::with_builtins());
    let config = HostConfig { development: vec![root.path().to_path_buf()], safe_mode: true, ..HostConfig::default() };
    let host = PluginHost::start(config, Registry::with_builtins(), live.clone());
    assert!(host.wait_for_first_load(Duration::from_secs(30)), "the plugins are looked at");
    assert_eq!(state_of(&host, "io.example.good"), PluginState::SafeMode);
    assert!(cells(&live.current(), "limits").is_empty());
}

#[test]
fn installed_plugins_run_only_as_granted_and_an_update_asking_for_more_waits() {
    let root = tempfile::tempdir().expect("tempdir");
    write_plugin(root.path(), "io.example.good", GOOD);
    let manifest = root.path().join("io.example.good").join("plugin.toml");
    let with_read = format!(
        "{}\n[capabilities]\nkube_read = [\"secrets\"]\n",
        std::fs::read_to_string(&manifest).expect("manifest")
    );
    std::fs::write(&manifest, &with_read).expect("manifest");
    let start_installed = |enabled: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>| {
        let live = LiveRegistry::new(Registry::with_builtins());
        let config = HostConfig { installed: Some(root.path().to_path_buf()), enabled, ..HostConfig::default() };
        let host = PluginHost::start(config, Registry::with_builtins(), live.clone());
        assert!(host.wait_for_first_load(Duration::from_secs(30)), "the plugins load");
        (host, live)
    };
    let (host, _) = start_installed(Default::default());
    assert_eq!(state_of(&host, "io.example.good"), PluginState::Off, "installed plugins start off");
    let granted: std::collections::BTreeSet<String> = ["read:secrets".to_string()].into();
    let (host, live) = start_installed([("io.example.good".to_string(), granted.clone())].into());
    assert_eq!(state_of(&host, "io.example.good"), PluginState::Running);
    assert_eq!(cells(&live.current(), "x").len(), 1);
    // An update asks for a host to fetch from: it stops until that is granted too.
    std::fs::write(
        &manifest,
        with_read.replace("kube_read = [\"secrets\"]", "kube_read = [\"secrets\"]\nhttp = [\"example.com\"]"),
    )
    .expect("update");
    host.reload("io.example.good");
    let state = wait_state(&host, "io.example.good", |s| matches!(s, PluginState::NeedsGrant(_)));
    assert_eq!(state, PluginState::NeedsGrant(vec!["http:example.com".to_string()]));
    assert!(cells(&live.current(), "x").is_empty(), "its column is gone until granted");
    let mut more = granted;
    more.insert("http:example.com".to_string());
    host.set_enabled("io.example.good", Some(more));
    wait_state(&host, "io.example.good", |s| *s == PluginState::Running);
}

#[test]
fn an_action_writes_only_what_the_manifest_allows() {
    let root = tempfile::tempdir().expect("tempdir");
    let action = "local k = require('@klieg') k.actions.add({ id = 'touch', kinds = { 'configmaps' }, label = 'Touch', verb = 'patch', run = function(obj) return { patch = { metadata = { labels = { touched = obj.metadata.name } } } } end })";
    write_plugin(root.path(), "io.example.allowed", action);
    write_plugin(root.path(), "io.example.refused", action);
    let manifest = root.path().join("io.example.allowed").join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        format!("{text}\n[capabilities]\nkube_write = [{{ kind = \"configmaps\", verbs = [\"patch\"] }}]\n"),
    )
    .expect("manifest");
    let (host, live) = start(root.path());
    let registry = live.current();
    let spec = registry.action("io.example.allowed/touch").expect("the action is offered");
    assert!(spec.destructive, "writes are confirmed");
    assert_eq!(spec.permissions(&configmaps()).count(), 1, "RBAC is asked before the button shows");
    let object = serde_json::json!({ "metadata": { "name": "limits" } });
    let key = ObjectKey { cluster: ClusterId::new("c"), namespace: Some(Arc::from("shop")), name: Arc::from("limits") };
    let patch = host.plan_action("io.example.allowed/touch", &configmaps(), &key, &object).expect("a patch");
    let expected = serde_json::json!({ "metadata": { "labels": { "touched": "limits" } } });
    assert_eq!(patch, klieg_model::registry::PlannedAction::Patch(expected));
    let refused = host.plan_action("io.example.refused/touch", &configmaps(), &key, &object).expect_err("not allowed");
    assert!(refused.contains("configmaps"), "{refused}");
    let wrong = host.plan_action("io.example.allowed/touch", &KindKey::new("", "secrets"), &key, &object);
    assert!(wrong.is_err(), "not for this kind");
}

/// The plugin API's surface: every name the host offers, and every type and declaration of the
/// definitions file. A change shows here first; update `api-surface.txt` (set
/// `KLIEG_UPDATE_API_SURFACE=1`) together with the API version and docs/plugins.md.
#[test]
fn the_plugin_api_surface_changes_only_deliberately() {
    let manifest =
        crate::parse_manifest("id = \"a.b\"\nname = \"A\"\nversion = \"1.0.0\"\napi = \"1\"").expect("manifest");
    let vm = crate::vm::Vm::new(Arc::default(), crate::api::VmData::detached(&manifest, true)).expect("a state");
    let mut surface = vec![format!("api {}", crate::PLUGIN_API_VERSION)];
    surface.extend(vm.api_surface().expect("the surface"));
    for line in crate::DEFINITIONS.lines() {
        let line = line.trim();
        if line.starts_with("export type") || line.starts_with("declare") || line.ends_with(':') {
            surface.push(format!("d.luau {line}"));
        } else if let Some((field, _)) = line.split_once(':')
            && !line.starts_with("--")
            && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            surface.push(format!("d.luau   {line}"));
        }
    }
    let text = surface.join("\n") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("api-surface.txt");
    if std::env::var_os("KLIEG_UPDATE_API_SURFACE").is_some() {
        std::fs::write(&path, &text).expect("write the snapshot");
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(kept, text, "the plugin API changed: review it, then run with KLIEG_UPDATE_API_SURFACE=1");
    // Every function the host offers is declared for editors.
    for name in vm.api_surface().expect("the surface") {
        let Some((path, kind)) = name.split_once(": ") else { continue };
        let last = path.rsplit('.').next().unwrap_or(path);
        if kind == "function" {
            assert!(crate::DEFINITIONS.contains(&format!("{last}:")), "{path} is not in klieg.d.luau");
        }
    }
}

#[test]
fn an_exec_action_runs_only_a_listed_command_with_the_targets_values() {
    let root = tempfile::tempdir().expect("tempdir");
    let main = "local k = require('@klieg') k.actions.add({ id = 'describe', kinds = { '*' }, label = 'Describe', exec = 'describe' }) k.actions.add({ id = 'other', kinds = { '*' }, label = 'Other', exec = 'rm-rf' })";
    write_plugin(root.path(), "io.example.exec", main);
    let manifest = root.path().join("io.example.exec").join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let exec = "[[capabilities.exec]]\nid = \"describe\"\ncommand = [\"kubectl\", \"describe\", \"$RESOURCE\", \"$NAME\", \"--namespace\", \"$NAMESPACE\", \"--context\", \"$CONTEXT\", \"-c\", \"$CONTAINER\"]\n";
    std::fs::write(&manifest, format!("{text}\n{exec}")).expect("manifest");
    let (host, live) = start(root.path());
    // The action naming a command the manifest does not list is refused: the plugin stops.
    let state = wait_state(&host, "io.example.exec", |s| matches!(s, PluginState::Failed(_)));
    assert!(matches!(&state, PluginState::Failed(reason) if reason.contains("rm-rf")), "{state:?}");
    assert!(live.current().action("io.example.exec/describe").is_none());
    // Without it, the listed command runs with the target's values, one argument each.
    std::fs::write(
        root.path().join("io.example.exec").join("init.luau"),
        main.split(" k.actions.add({ id = 'other'").next().unwrap_or(main),
    )
    .expect("edit");
    wait_state(&host, "io.example.exec", |s| *s == PluginState::Running);
    let spec = live.current().action("io.example.exec/describe").cloned().expect("offered");
    assert!(!spec.destructive, "not marked dangerous: no confirmation");
    let detail = spec.confirm_detail.map(|t| match t {
        klieg_model::Text::Plain(p) => p.to_string(),
        klieg_model::Text::Key(k) => k.to_string(),
    });
    assert!(detail.is_some_and(|d| d.contains("kubectl describe $RESOURCE $NAME")), "the command is said");
    let key = ObjectKey {
        cluster: ClusterId::new("prod; rm -rf /"),
        namespace: Some(Arc::from("shop")),
        name: Arc::from("web-1"),
    };
    let object = serde_json::json!({ "kind": "Pod", "metadata": { "name": "web-1" },
        "spec": { "containers": [{ "name": "app" }, { "name": "sidecar" }] } });
    let planned =
        host.plan_action("io.example.exec/describe", &KindKey::new("", "pods"), &key, &object).expect("planned");
    let argv: Vec<String> =
        ["kubectl", "describe", "pods", "web-1", "--namespace", "shop", "--context", "prod; rm -rf /", "-c", "app"]
            .iter()
            .map(|a| a.to_string())
            .collect();
    assert_eq!(planned, klieg_model::registry::PlannedAction::Exec(argv), "a hostile context name stays one argument");
    // A value that would read as a flag, or name another variable, is refused, not run.
    for name in ["--kubeconfig=/tmp/evil", "web-$NAMESPACE", "web\n1"] {
        let key = ObjectKey { name: Arc::from(name), ..key.clone() };
        let refused = host.plan_action("io.example.exec/describe", &KindKey::new("", "pods"), &key, &object);
        assert!(refused.as_ref().is_err_and(|e| e.contains("$NAME")), "{name:?}: {refused:?}");
    }
}

/// A plugin folder whose manifest is a FIFO: never opened (opening would wait for a writer for
/// good); the folder is named invalid and the host goes on.
#[cfg(unix)]
#[test]
fn a_manifest_that_is_not_a_regular_file_is_refused_unread() {
    let root = tempfile::tempdir().expect("tempdir");
    write_plugin(root.path(), "io.example.good", GOOD);
    let fifo = root.path().join("io.example.fifo");
    std::fs::create_dir_all(&fifo).expect("folder");
    let path = std::ffi::CString::new(fifo.join("plugin.toml").to_string_lossy().as_bytes()).expect("path");
    // SAFETY: mkfifo reads the path it is given.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "a FIFO");
    // `discover` looks for regular manifests: call the reader directly too.
    let refused = crate::host::read_manifest(&fifo).expect_err("refused");
    assert!(refused.contains("not a regular file"), "{refused}");
    let (host, _) = start(root.path());
    assert_eq!(state_of(&host, "io.example.good"), PluginState::Running);
}
