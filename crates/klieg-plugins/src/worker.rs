//! A plugin's handler thread (`klieg-plugin`): runs its commands, event hooks and views one at a
//! time from a bounded queue, in the plugin's handler state, where host calls may wait on the
//! network or the user. Also the registry entries that hand work to it (never waiting).

use crate::host::Loaded;
use crate::{limits, output};
use klieg_model::Text;
use klieg_model::registry::{
    AppEvent, CommandContext, CommandSpec, GlanceSpec, LiveView, Registry, ViewInput, ViewTree,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TrySendError};

/// Work for the handler thread.
pub enum Job {
    Hook {
        index: usize,
        event: Value,
        context: CommandContext,
    },
    Command {
        index: usize,
        context: CommandContext,
    },
    View {
        index: usize,
        input: ViewInput,
    },
    /// A watch's objects after a change.
    Watch {
        id: u64,
        objects: Value,
    },
}

/// Starts the handler thread of `plugin` on `jobs`; it ends when the queue closes (the plugin
/// stopped, or its registry entries were replaced) or the plugin stops.
pub fn spawn(plugin: Arc<Loaded>, jobs: Receiver<Job>) {
    let name = format!("klieg-plugin-{}", plugin.id.chars().take(3).collect::<String>());
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        while let Ok(job) = jobs.recv() {
            if plugin.stopped.load(std::sync::atomic::Ordering::Acquire) {
                break;
            }
            run(&plugin, job);
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "a plugin's handler thread did not start; its commands do nothing");
    }
}

/// Hands `job` to the plugin's thread without waiting; says whether it was taken (a full queue
/// drops it, said in the log).
pub fn enqueue(plugin: &Loaded, job: Job) -> bool {
    let jobs = plugin.jobs.lock().clone();
    let Some(jobs) = jobs else { return false };
    match jobs.try_send(job) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            tracing::warn!(plugin = %plugin.id, limit = limits::HANDLER_QUEUE_LEN, "plugin busy; a request was dropped");
            false
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

fn context_json(context: &CommandContext) -> Value {
    let object = context.object.as_ref().map(
        |(kind, key)| json!({ "kind": kind.plural, "group": kind.group, "name": key.name, "namespace": key.namespace }),
    );
    let clusters: Vec<&str> = context.clusters.iter().map(|c| c.as_str()).collect();
    json!({
        "cluster": context.cluster.as_ref().map(|c| c.as_str()),
        "clusters": clusters,
        "namespace": context.namespace,
        "object": object,
    })
}

fn run(plugin: &Loaded, job: Job) {
    let handlers = plugin.handlers.clone();
    match job {
        Job::Hook { index, event, context } => {
            let Some((name, function)) = handlers.hooks.get(index) else { return };
            let what = format!("hook {name}");
            plugin.call_handler(&what, function, &event, context, |_, _| Ok(()));
        }
        Job::Command { index, context } => {
            let Some(command) = handlers.commands.get(index) else { return };
            let what = format!("command {}", command.id);
            plugin.call_handler(&what, &command.run, &context_json(&context), context, |_, _| Ok(()));
        }
        Job::View { index, input } => run_view(plugin, index, input),
        Job::Watch { id, objects } => {
            let Some(handler) = plugin.watch_handler(id) else { return };
            let what = format!("watch {id}");
            plugin.call_handler(&what, &handler, &objects, CommandContext::default(), |_, _| Ok(()));
        }
    }
}

/// A button or form goes to the view's `on_input`; then (and on opening) the view is built again.
fn run_view(plugin: &Loaded, index: usize, input: ViewInput) {
    let handlers = plugin.handlers.clone();
    let (Some(view), Some(slot)) = (handlers.views.get(index), plugin.view_slots.get(index)) else { return };
    let context = match &input {
        ViewInput::Opened { context } => context.clone(),
        ViewInput::Button { id, context } => {
            if let Some(on_input) = &view.on_input {
                let argument = json!({ "button": id, "context": context_json(context) });
                let what = format!("view {} on_input", view.id);
                plugin.call_handler(&what, on_input, &argument, context.clone(), |_, _| Ok(()));
            }
            context.clone()
        }
        ViewInput::Submit { form, values, context } => {
            if let Some(on_input) = &view.on_input {
                let values: serde_json::Map<String, Value> =
                    values.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect();
                let argument = json!({ "form": form, "values": values, "context": context_json(context) });
                let what = format!("view {} on_input", view.id);
                plugin.call_handler(&what, on_input, &argument, context.clone(), |_, _| Ok(()));
            }
            context.clone()
        }
    };
    let Some(build) = &view.build else { return };
    let what = format!("view {}", view.id);
    let built =
        plugin.call_handler(&what, build, &context_json(&context), context, |_, value| output::to_view_nodes(value));
    if let Some(nodes) = built {
        let mut tree = slot.lock();
        *tree = Arc::new(ViewTree { generation: tree.generation + 1, nodes, error: None, building: false });
    }
    plugin.repaint();
}

fn event_json(event: &AppEvent) -> (&'static str, Value, CommandContext) {
    match event {
        AppEvent::ObjectOpened { kind, key } => (
            "object_opened",
            json!({ "kind": kind.plural, "group": kind.group, "cluster": key.cluster.as_str(),
                    "namespace": key.namespace, "name": key.name }),
            CommandContext {
                cluster: Some(key.cluster.clone()),
                clusters: vec![key.cluster.clone()],
                namespace: key.namespace.clone(),
                object: Some((kind.clone(), key.clone())),
            },
        ),
        AppEvent::ActionFinished { action, subject, succeeded } => (
            "action_finished",
            json!({ "action": action, "subject": subject, "succeeded": succeeded }),
            CommandContext {
                cluster: subject.split('/').next().map(klieg_model::ClusterId::new),
                ..CommandContext::default()
            },
        ),
        AppEvent::ClusterConnected { cluster } => (
            "cluster_connected",
            json!({ "cluster": cluster.as_str() }),
            CommandContext { cluster: Some(cluster.clone()), ..CommandContext::default() },
        ),
        AppEvent::ViewOpened { view } => ("view_opened", json!({ "view": view.0 }), CommandContext::default()),
    }
}

/// Tells the plugin's `settings_changed` hooks (on its thread).
pub fn settings_changed(plugin: &Loaded, key: &str) {
    for (index, (name, _)) in plugin.handlers.hooks.iter().enumerate() {
        if name == "settings_changed" {
            let event = json!({ "key": key });
            enqueue(plugin, Job::Hook { index, event, context: CommandContext::default() });
        }
    }
}

/// The registry entries that run in the handler state: commands, event hooks, built views;
/// and glances (built like sections, in the plugin's main state).
pub fn contribute(
    registry: &mut Registry,
    plugin: &Arc<Loaded>,
    registrations: &Arc<crate::vm::Registrations>,
) -> Result<(), String> {
    let (id, name) = (plugin.id.clone(), plugin.env.name.clone());
    for (index, command) in plugin.handlers.commands.iter().enumerate() {
        let runner = plugin.clone();
        let spec = CommandSpec {
            id: Arc::from(format!("{id}/{}", command.id)),
            title: Text::plain(&command.title),
            source: Text::plain(&name),
            app_bar: command.app_bar,
            order: 700,
            run: Arc::new(move |context: &CommandContext| {
                enqueue(&runner, Job::Command { index, context: context.clone() });
            }),
        };
        registry.add_command(spec).map_err(|e| e.to_string())?;
    }
    if !plugin.handlers.hooks.is_empty() {
        let listener = plugin.clone();
        registry.add_event_hook(Arc::new(move |event: &AppEvent| {
            let (name, json, context) = event_json(event);
            for (index, (wanted, _)) in listener.handlers.hooks.iter().enumerate() {
                if wanted == name {
                    enqueue(&listener, Job::Hook { index, event: json.clone(), context: context.clone() });
                }
            }
        }));
    }
    for (index, glance) in registrations.glances.iter().enumerate() {
        let (caller, registrations) = (plugin.clone(), registrations.clone());
        let what = format!("glance {}", glance.id);
        let build = move |input: &klieg_model::registry::SectionInput<'_>| {
            let glance = &registrations.glances[index];
            let convert = |_: &mlua::Lua, value| output::to_section(value);
            caller.call(&what, limits::SECTION_BUDGET, &glance.build, input.object, convert).flatten()
        };
        let spec = GlanceSpec {
            id: Arc::from(format!("{id}/{}", glance.id)),
            title: Text::plain(&glance.title),
            kinds: crate::host::kind_match(&glance.kinds),
            build: Arc::new(build),
        };
        registry.add_glance(spec).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The live content of the plugin's view `index`, for its registry entry.
pub fn live_view(plugin: &Arc<Loaded>, index: usize) -> Option<LiveView> {
    let slot = plugin.view_slots.get(index)?.clone();
    let sender = plugin.clone();
    Some(LiveView {
        current: Arc::new(move || slot.lock().clone()),
        input: Arc::new(move |input: ViewInput| {
            let Some(slot) = sender.view_slots.get(index) else { return };
            let mark = |building: bool| {
                let mut tree = slot.lock();
                *tree = Arc::new(ViewTree { building, ..(**tree).clone() });
            };
            mark(true);
            if !enqueue(&sender, Job::View { index, input }) {
                mark(false);
            }
        }),
    })
}
