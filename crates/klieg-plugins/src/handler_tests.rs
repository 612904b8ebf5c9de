//! Handlers against a recording stand-in for the app's services: commands, hooks, views with
//! buttons and forms, kube calls within the capabilities (writes confirmed, "don't ask again"
//! kept), storage, secrets and settings; and each call beyond the capabilities stopping its
//! plugin, named, while the others keep working.

use crate::services::{
    Answer, HostServices, HttpRequest, HttpResponse, KubeRequest, KubeVerb, OpenTarget, Prompt, SecretOp,
};
use crate::{HostConfig, PluginHost, PluginState};
use klieg_model::registry::{CommandContext, FieldValue, ViewId, ViewInput, ViewNode};
use klieg_model::{CellTone, ClusterId, KindKey, LiveRegistry, Registry};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the plugins asked of the app, and how the "user" answers prompts.
#[derive(Default)]
struct Recorded {
    kube: Vec<KubeRequest>,
    prompts: Vec<Prompt>,
    notices: Vec<(String, String, CellTone)>,
    clipboard: Vec<String>,
    opened: Vec<OpenTarget>,
    secrets: BTreeMap<String, String>,
    http: Vec<HttpRequest>,
    commands: Vec<Vec<String>>,
    answer: Option<Answer>,
}

#[derive(Clone, Default)]
struct Services(Arc<Mutex<Recorded>>);

impl HostServices for Services {
    fn run_command(&self, request: crate::services::CommandRequest) -> Result<crate::services::CommandOutput, String> {
        let output = request.argv.join(" ");
        self.0.lock().commands.push(request.argv);
        Ok(crate::services::CommandOutput { code: Some(0), output })
    }
    fn kube(&self, request: KubeRequest, _: &CommandContext) -> Result<serde_json::Value, String> {
        let answer = match request.verb {
            KubeVerb::Get => {
                Ok(serde_json::json!({ "metadata": { "name": request.name.clone() }, "data": { "k": "v" } }))
            }
            KubeVerb::List => Ok(serde_json::json!([{ "metadata": { "name": "a" } }, { "metadata": { "name": "b" } }])),
            KubeVerb::Logs => Ok(serde_json::json!("line 1\nline 2\n")),
            KubeVerb::Patch | KubeVerb::Delete | KubeVerb::Apply => Err("forbidden: RBAC says no".to_string()),
        };
        self.0.lock().kube.push(request);
        answer
    }
    fn http(&self, request: HttpRequest, _: usize) -> Result<HttpResponse, String> {
        self.0.lock().http.push(request);
        Ok(HttpResponse { status: 200, body: "ok".into(), headers: Vec::new() })
    }
    fn confirm(&self, prompt: Prompt) -> Answer {
        let mut recorded = self.0.lock();
        recorded.prompts.push(prompt);
        recorded.answer.unwrap_or(Answer::No)
    }
    fn notify(&self, plugin: &str, text: &str, tone: CellTone) {
        self.0.lock().notices.push((plugin.to_string(), text.to_string(), tone));
    }
    fn clipboard(&self, text: &str) {
        self.0.lock().clipboard.push(text.to_string());
    }
    fn open(&self, target: OpenTarget) {
        self.0.lock().opened.push(target);
    }
    fn secret(&self, entry: &str, op: SecretOp) -> Result<Option<String>, String> {
        let mut recorded = self.0.lock();
        Ok(match op {
            SecretOp::Get => recorded.secrets.get(entry).cloned(),
            SecretOp::Set(value) => recorded.secrets.insert(entry.to_string(), value),
            SecretOp::Delete => recorded.secrets.remove(entry),
        })
    }
}

fn write(root: &Path, id: &str, capabilities: &str, main: &str) {
    let folder = crate::write_single_file_plugin(root, id, main).expect("a plugin");
    let manifest = folder.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, format!("{text}\n{capabilities}\n")).expect("manifest");
}

fn start(root: &Path, data: &Path) -> (PluginHost, LiveRegistry, Services) {
    let live = LiveRegistry::new(Registry::with_builtins());
    let config = HostConfig {
        development: vec![root.to_path_buf()],
        data_dir: Some(data.to_path_buf()),
        ..HostConfig::default()
    };
    let host = PluginHost::start(config, Registry::with_builtins(), live.clone());
    let services = Services::default();
    host.set_services(Box::new(services.clone()));
    assert!(host.wait_for_first_load(Duration::from_secs(30)), "the plugins load");
    (host, live, services)
}

fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn state_of(host: &PluginHost, id: &str) -> PluginState {
    host.list().plugins.iter().find(|p| &*p.id == id).map(|p| p.state.clone()).expect("listed")
}

fn here() -> CommandContext {
    CommandContext {
        cluster: Some(ClusterId::new("prod")),
        clusters: vec![ClusterId::new("prod")],
        namespace: Some(Arc::from("shop")),
        object: None,
    }
}

const TOOLS: &str = r#"
local klieg = require("@klieg")
klieg.commands.add({ id = "count", title = "Count config maps", app_bar = true, run = function(ctx)
  local items, err = klieg.kube.list("configmaps")
  local one = klieg.kube.get("configmaps", "limits")
  klieg.notify(ctx.cluster .. ": " .. #items .. " config maps, " .. one.data.k, "ok")
  klieg.clipboard.set(one.metadata.name)
  klieg.storage.set("runs", (klieg.storage.get("runs") or 0) + 1)
  klieg.secrets.set("token", "s3cret")
  klieg.open.view("board")
end })
klieg.commands.add({ id = "touch", title = "Touch limits", run = function()
  local _, err = klieg.kube.patch("configmaps", "limits", { metadata = { labels = { touched = "yes" } } })
  klieg.notify("patch: " .. tostring(err))
end })
klieg.on("object_opened", function(event) klieg.notify("opened " .. event.name) end)
klieg.on("settings_changed", function(event) klieg.notify("threshold " .. tostring(klieg.settings.get("threshold"))) end)
local count = 0
klieg.views.add({ id = "board", title = "Board",
  build = function(ctx)
    return { klieg.ui.heading("Runs " .. count), klieg.ui.badges({ { "ready", "ok" }, "plain" }),
             klieg.ui.button("more", "More"),
             klieg.ui.form({ id = "f", submit = "Send", fields = { { key = "n", label = "N", type = "number", default = 2 } } }),
             klieg.ui.yaml("a: 1") }
  end,
  on_input = function(input)
    if input.button == "more" then count += 1 end
    if input.form == "f" then count += input.values.n end
  end })
"#;

const TOOLS_CAPABILITIES: &str = r#"
[capabilities]
kube_read = ["configmaps"]
kube_write = [{ kind = "configmaps", verbs = ["patch"] }]
storage = true
clipboard = true
notify = true

[[settings]]
key = "threshold"
label = "Threshold"
type = "number"
default = 30
"#;

#[test]
fn a_command_reads_notifies_copies_stores_and_opens_as_granted() {
    let (root, data) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    write(root.path(), "io.example.tools", TOOLS_CAPABILITIES, TOOLS);
    let (host, live, services) = start(root.path(), data.path());
    assert_eq!(state_of(&host, "io.example.tools"), PluginState::Running);
    let registry = live.current();
    let command = registry.command("io.example.tools/count").expect("in the palette");
    assert!(registry.app_bar_actions().iter().any(|a| &*a.id == "io.example.tools/count"), "and in the app bar");
    (command.run)(&here());
    until("the notice", || services.0.lock().notices.first().cloned());
    let recorded = services.0.lock();
    assert_eq!(recorded.notices[0].1, "prod: 2 config maps, v");
    assert_eq!(recorded.kube[0].cluster, Some(ClusterId::new("prod")), "the context's cluster");
    assert_eq!(recorded.kube[0].namespace.as_deref(), Some("shop"), "and namespace");
    assert_eq!(recorded.clipboard, ["limits"]);
    assert_eq!(recorded.secrets.get("plugin:io.example.tools:token").map(String::as_str), Some("s3cret"));
    let opened = ViewId(Arc::from("io.example.tools/board"));
    assert_eq!(recorded.opened, [OpenTarget::View(opened)]);
    drop(recorded);
    let stored = std::fs::read_to_string(data.path().join("io.example.tools.json")).expect("the store is on disk");
    assert_eq!(stored, r#"{"runs":1}"#);
    assert_eq!(state_of(&host, "io.example.tools"), PluginState::Running);
}

#[test]
fn writes_are_confirmed_until_the_user_says_not_to_ask_again() {
    let (root, data) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    write(root.path(), "io.example.tools", TOOLS_CAPABILITIES, TOOLS);
    let (_host, live, services) = start(root.path(), data.path());
    let registry = live.current();
    let touch = registry.command("io.example.tools/touch").expect("a command");
    (touch.run)(&here());
    until("declined", || services.0.lock().notices.first().cloned());
    {
        let recorded = services.0.lock();
        assert_eq!(recorded.prompts.len(), 1, "asked first");
        assert!(recorded.prompts[0].summary.contains("patch"), "{}", recorded.prompts[0].summary);
        assert!(
            recorded.prompts[0].detail.contains("touched: yes"),
            "the change is shown: {}",
            recorded.prompts[0].detail
        );
        assert!(recorded.kube.is_empty(), "declined: nothing sent");
        assert!(recorded.notices[0].1.contains("declined"), "{:?}", recorded.notices);
    }
    services.0.lock().answer = Some(Answer::Always);
    (touch.run)(&here());
    until("the first write", || (services.0.lock().notices.len() == 2).then_some(()));
    (touch.run)(&here());
    until("the second write", || (services.0.lock().notices.len() == 3).then_some(()));
    let recorded = services.0.lock();
    assert_eq!(recorded.prompts.len(), 2, "not asked again after 'don't ask again'");
    assert_eq!(recorded.kube.len(), 2, "both writes went to the server");
    assert!(recorded.notices[2].1.contains("RBAC"), "the server's refusal reaches the plugin: {:?}", recorded.notices);
}

#[test]
fn a_view_is_built_as_nodes_and_rebuilt_after_a_button_or_a_form() {
    let (root, data) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    write(root.path(), "io.example.tools", TOOLS_CAPABILITIES, TOOLS);
    let (_host, live, _services) = start(root.path(), data.path());
    let registry = live.current();
    let view = registry.view(&ViewId(Arc::from("io.example.tools/board"))).expect("a view").clone();
    let live_view = view.live.expect("built by the plugin");
    let heading = |at_least: u64| {
        until("the view", || {
            let tree = (live_view.current)();
            (tree.generation >= at_least).then(|| tree.nodes.first().cloned())
        })
    };
    (live_view.input)(ViewInput::Opened { context: here() });
    assert_eq!(heading(1), Some(ViewNode::Heading(Arc::from("Runs 0"))));
    let tree = (live_view.current)();
    assert!(matches!(&tree.nodes[1], ViewNode::Badges(b) if b.len() == 2 && b[0].1 == CellTone::Good));
    assert!(matches!(&tree.nodes[3], ViewNode::Form { fields, .. } if fields[0].initial() == FieldValue::Number(2.0)));
    (live_view.input)(ViewInput::Button { id: Arc::from("more"), context: here() });
    assert_eq!(heading(2), Some(ViewNode::Heading(Arc::from("Runs 1"))));
    let values = BTreeMap::from([(Arc::from("n"), FieldValue::Number(5.0))]);
    (live_view.input)(ViewInput::Submit { form: Arc::from("f"), values, context: here() });
    assert_eq!(heading(3), Some(ViewNode::Heading(Arc::from("Runs 6"))));
}

#[test]
fn hooks_hear_their_events_and_settings_reach_the_plugin() {
    let (root, data) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    write(root.path(), "io.example.tools", TOOLS_CAPABILITIES, TOOLS);
    let (host, live, services) = start(root.path(), data.path());
    let key = klieg_model::ObjectKey { cluster: ClusterId::new("prod"), namespace: None, name: Arc::from("web") };
    live.current().emit(&klieg_model::registry::AppEvent::ObjectOpened { kind: KindKey::new("", "pods"), key });
    until("the hook", || services.0.lock().notices.first().cloned());
    host.set_setting("io.example.tools", "threshold", FieldValue::Number(7.0));
    until("the setting", || (services.0.lock().notices.len() == 2).then_some(()));
    let notices: Vec<String> = services.0.lock().notices.iter().map(|n| n.1.clone()).collect();
    assert_eq!(notices, ["opened web", "threshold 7"]);
}

#[test]
fn calls_beyond_the_capabilities_stop_the_plugin_named_and_the_others_keep_working() {
    let (root, data) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let command = |body: &str| {
        format!(
            "local klieg = require('@klieg') klieg.commands.add({{ id = 'go', title = 'Go', run = function() {body} end }})"
        )
    };
    let hostile = [
        ("io.example.unlisted-http", "[capabilities]\nhttp = [\"api.example.com\"]", command("klieg.http.get('https://evil.example.net/x')"), "evil.example.net"),
        ("io.example.write-unasked", "[capabilities]\nkube_read = [\"configmaps\"]", command("klieg.kube.delete('configmaps', 'limits')"), "kube_write"),
        ("io.example.read-unasked", "", command("klieg.kube.get('secrets', 'db')"), "secrets"),
        ("io.example.notify-unasked", "", command("klieg.notify('hi')"), "notify"),
        ("io.example.huge-view", "", "local klieg = require('@klieg') klieg.views.add({ id = 'v', title = 'V', build = function() local t, s = {}, klieg.ui.separator() for i = 1, 1000000 do t[i] = s end return t end })".to_string(), "2000"),
    ];
    for (id, capabilities, main, _) in &hostile {
        write(root.path(), id, capabilities, main);
    }
    let in_a_cell = "local klieg = require('@klieg') klieg.columns.add({ id = 'c', kinds = { 'configmaps' }, title = 'C', cell = function() return klieg.kube.get('configmaps', 'x') end })";
    write(root.path(), "io.example.cell-calls", "[capabilities]\nkube_read = [\"configmaps\"]", in_a_cell);
    write(root.path(), "io.example.tools", TOOLS_CAPABILITIES, TOOLS);
    let (host, live, services) = start(root.path(), data.path());
    let registry = live.current();
    for (id, _, _, _) in &hostile[..4] {
        (registry.command(&format!("{id}/go")).expect("a command").run)(&here());
    }
    let view = registry.view(&ViewId(Arc::from("io.example.huge-view/v"))).and_then(|v| v.live.clone()).expect("view");
    (view.input)(ViewInput::Opened { context: here() });
    let labels = [];
    let input =
        klieg_model::registry::RowInput { name: "x", namespace: None, labels: &labels, cells: &[], object: None };
    for set in registry.column_sets_for(&KindKey::new("", "configmaps")) {
        if let klieg_model::registry::ColumnValues::Row(build) = &set.values {
            build(&input);
        }
    }
    for (id, _, _, named) in hostile.iter().map(|(id, c, m, n)| (*id, c, m, *n)).chain([(
        "io.example.cell-calls",
        &"",
        &String::new(),
        "handlers",
    )]) {
        let state = until(id, || match state_of(&host, id) {
            PluginState::Failed(reason) => Some(reason),
            _ => None,
        });
        assert!(state.contains(named), "{id}: {state}");
    }
    let tree = (view.current)();
    assert!(tree.error.as_deref().is_some_and(|e| e.contains("2000")), "the view shows why: {tree:?}");
    assert!(services.0.lock().http.is_empty() && services.0.lock().kube.is_empty(), "nothing refused reached the app");
    (registry.command("io.example.tools/count").expect("command").run)(&here());
    until("the good plugin", || services.0.lock().notices.first().cloned());
    assert_eq!(state_of(&host, "io.example.tools"), PluginState::Running);
}

const RUNNER: &str = r#"
local klieg = require("@klieg")
klieg.commands.add({ id = "echo", title = "Echo", run = function()
  local done, err = klieg.exec("echo", { name = "web-1", kind = "pods" })
  klieg.notify(if done then `{done.code}: {done.output}` else `refused: {err}`)
  local risky, risky_err = klieg.exec("wipe")
  klieg.notify(if risky then "ran wipe" else `wipe: {risky_err}`)
  local applied, apply_err = klieg.kube.apply("configmaps", { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "made" }, data = { a = "1" } })
  klieg.notify(if applied then "applied" else `apply: {apply_err}`)
end })
klieg.commands.add({ id = "unlisted", title = "Unlisted", run = function() klieg.exec("rm") end })
"#;

const RUNNER_CAPABILITIES: &str = r#"
[capabilities]
notify = true
kube_write = [{ kind = "configmaps", verbs = ["create", "patch"] }]

[[capabilities.exec]]
id = "echo"
command = ["echo", "$RESOURCE", "$NAME", "--namespace", "$NAMESPACE"]

[[capabilities.exec]]
id = "wipe"
command = ["true"]
dangerous = true
"#;

#[test]
fn a_handler_runs_listed_commands_a_dangerous_one_after_asking_and_applies_with_both_verbs() {
    let (root, data) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    write(root.path(), "io.example.runner", RUNNER_CAPABILITIES, RUNNER);
    let (host, live, services) = start(root.path(), data.path());
    let registry = live.current();
    (registry.command("io.example.runner/echo").expect("command").run)(&here());
    until("three notices", || (services.0.lock().notices.len() == 3).then_some(()));
    {
        let recorded = services.0.lock();
        assert_eq!(recorded.notices[0].1, "0: echo pods web-1 --namespace shop", "the values fill their arguments");
        assert!(recorded.notices[1].1.starts_with("wipe: "), "declined: {:?}", recorded.notices[1]);
        assert_eq!(recorded.commands.len(), 1, "the dangerous command did not run unanswered");
        let asked: Vec<(&str, bool)> = recorded.prompts.iter().map(|p| (p.summary.as_str(), p.can_trust)).collect();
        assert!(
            asked[0].0.contains("wants to run: true") && !asked[0].1,
            "asked each time, no 'don't ask again': {asked:?}"
        );
        assert!(asked[1].0.contains("apply configmaps made") && asked[1].1, "{asked:?}");
        assert!(recorded.notices[2].1.starts_with("apply: "), "declined too: {:?}", recorded.notices[2]);
    }
    services.0.lock().answer = Some(Answer::Yes);
    (registry.command("io.example.runner/echo").expect("command").run)(&here());
    until("three more", || (services.0.lock().notices.len() == 6).then_some(()));
    {
        let recorded = services.0.lock();
        assert_eq!(recorded.commands.len(), 3, "answered yes: wipe ran");
        assert_eq!(recorded.notices[4].1, "ran wipe");
        assert_eq!(recorded.kube.last().map(|k| k.verb), Some(KubeVerb::Apply));
    }
    (registry.command("io.example.runner/unlisted").expect("command").run)(&here());
    let state = until("stopped", || match state_of(&host, "io.example.runner") {
        PluginState::Failed(reason) => Some(reason),
        _ => None,
    });
    assert!(state.contains("rm"), "the unlisted command is named: {state}");
}
