//! Runs what the user asks to do to objects: actions (delete, scale, restart, rollback, cordon,
//! drain, evict, suspend, trigger) and YAML edits (replace guarded by resourceVersion, create of
//! many documents), one task per target, each reported in the activity log. Backend runtime.

use super::details::{SECRET_MASK, api_resource, mask_secret};
use super::{ClientMap, ConnectedCluster, Waker};
use klieg_model::registry::{ActionCall, InputValue, Text};
use klieg_model::{Action, Activity, ActivityLog, ClusterId, EditRequest, Outcome, Propagation, ResourceKind, Target};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use rust_i18n::t;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;

/// Why an action or edit failed, in words for the activity log.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{}", t!("backend.not_connected"))]
    NotConnected,
    #[error("{}", t!("backend.kind_not_served", kind = .0))]
    UnknownKind(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
}

fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => super::errors::error_chain(other),
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

/// The activity log, shared by the tasks that write to it.
#[derive(Clone)]
pub struct Activities {
    log: Arc<Mutex<ActivityLog>>,
    out: watch::Sender<Arc<ActivityLog>>,
    waker: Waker,
}

impl Activities {
    pub fn new(out: watch::Sender<Arc<ActivityLog>>, waker: Waker) -> Self {
        Self { log: Arc::new(Mutex::new(ActivityLog::default())), out, waker }
    }

    /// Adds an activity, or updates the one with the same request and subject.
    pub(crate) fn record(&self, activity: Activity) {
        let mut log = self.log.lock();
        log.generation += 1;
        match log.entries.iter_mut().find(|a| a.request_id == activity.request_id && a.subject == activity.subject) {
            Some(existing) => *existing = activity,
            None => log.entries.push(activity),
        }
        let excess = log.entries.len().saturating_sub(ActivityLog::CAPACITY);
        log.entries.drain(..excess);
        self.out.send_replace(Arc::new(log.clone()));
        (self.waker)();
    }
}

fn subject_of(target: &Target) -> Arc<str> {
    let key = &target.key;
    match &key.namespace {
        Some(ns) => Arc::from(format!("{}/{ns}/{}", key.cluster, key.name)),
        None => Arc::from(format!("{}/{}", key.cluster, key.name)),
    }
}

fn resolve<'a>(clients: &'a ClientMap, target: &Target) -> Result<(&'a ConnectedCluster, ResourceKind), ActionError> {
    let connected = clients.get(&target.key.cluster).ok_or(ActionError::NotConnected)?;
    let kind = connected
        .kinds
        .iter()
        .find(|k| k.key() == target.kind)
        .cloned()
        .ok_or_else(|| ActionError::UnknownKind(target.kind.plural.to_string()))?;
    Ok((connected, kind))
}

fn dynamic_api(client: &kube::Client, kind: &ResourceKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = api_resource(kind);
    match (kind.is_namespaced(), namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    }
}

/// What an action handler is given: the target's connected cluster, its kind as that cluster
/// serves it, the target and the input the user chose. Every call uses the user's own client.
pub struct ActionRequest {
    pub cluster: ConnectedCluster,
    pub kind: ResourceKind,
    pub target: Target,
    pub input: InputValue,
}

impl ActionRequest {
    /// The target's collection, in its namespace.
    pub fn api(&self) -> Api<DynamicObject> {
        dynamic_api(&self.cluster.client, &self.kind, self.target.key.namespace.as_deref())
    }
}

pub type ActionFuture = Pin<Box<dyn Future<Output = Result<String, ActionError>> + Send>>;

/// Carries out one registered action on one target; says what happened in words.
pub type ActionHandler = Arc<dyn Fn(ActionRequest) -> ActionFuture + Send + Sync>;

/// Plans an action registered at run time (a plugin's) from its target object:
/// `(action id, kind, target, object) -> a patch or a command`. Blocking (it runs the plugin).
pub type PlanAction = Arc<
    dyn Fn(
            &str,
            &klieg_model::KindKey,
            &klieg_model::ObjectKey,
            &Value,
        ) -> Result<klieg_model::registry::PlannedAction, String>
        + Send
        + Sync,
>;

/// A plugin's command: at most this long (then its process group is killed) …
pub const PLUGIN_EXEC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// … and this much of its output (stdout, then stderr) is kept.
pub const PLUGIN_EXEC_MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// The backend's half of the action registry: a handler per action id that runs on the backend.
/// The built-ins are registered here exactly as an extension's handler is; actions registered
/// at run time (plugins') without a handler of their own are planned by `planned`.
#[derive(Clone, Default)]
pub struct ActionHandlers {
    handlers: HashMap<Arc<str>, ActionHandler>,
    planned: Option<PlanAction>,
}

impl ActionHandlers {
    /// Handlers for every built-in backend action (`registry::builtin`).
    pub fn with_builtins() -> Self {
        let mut handlers = Self::default();
        for id in [
            "delete", "scale", "restart", "rollback", "cordon", "uncordon", "drain", "evict", "suspend", "resume",
            "trigger",
        ] {
            let call_id: Arc<str> = Arc::from(id);
            handlers.add(id, Arc::new(move |request: ActionRequest| Box::pin(run_builtin(call_id.clone(), request))));
        }
        handlers
    }

    /// Registers (or replaces) the handler of `id`.
    pub fn add(&mut self, id: &str, handler: ActionHandler) {
        self.handlers.insert(Arc::from(id), handler);
    }

    /// Every action id without a handler goes to `plan`: the patch it returns is applied to the
    /// target as a merge patch with the user's credentials, the command it returns is run.
    pub fn with_planned_actions(mut self, plan: PlanAction) -> Self {
        self.planned = Some(plan);
        self
    }

    fn get(&self, id: &str) -> Option<ActionHandler> {
        self.handlers.get(id).cloned().or_else(|| self.planned.clone().map(|plan| planned_handler(id, plan)))
    }
}

/// Reads the target, has `plan` plan the action (on a blocking thread), carries it out.
fn planned_handler(id: &str, plan: PlanAction) -> ActionHandler {
    let id: Arc<str> = Arc::from(id);
    Arc::new(move |request: ActionRequest| {
        let (id, plan) = (id.clone(), plan.clone());
        Box::pin(async move {
            let api = request.api();
            let name = request.target.key.name.to_string();
            let mut object = api.get(&name).await?;
            object.metadata.managed_fields = None;
            let object = serde_json::to_value(&object).map_err(|e| ActionError::Invalid(e.to_string()))?;
            let (kind, key) = (request.kind.key(), request.target.key.clone());
            let planned = tokio::task::spawn_blocking(move || plan(&id, &kind, &key, &object))
                .await
                .map_err(|e| ActionError::Invalid(e.to_string()))?
                .map_err(ActionError::Invalid)?;
            match planned {
                klieg_model::registry::PlannedAction::Patch(patch) => {
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                    Ok(t!("backend.plugin_patched").into_owned())
                }
                klieg_model::registry::PlannedAction::PatchStatus(patch) => {
                    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                    Ok(t!("backend.plugin_patched").into_owned())
                }
                klieg_model::registry::PlannedAction::Exec(argv) => {
                    run_plugin_command(&argv, &request.cluster.source).await
                }
            }
        })
    })
}

/// Runs a plugin's command and says its exit status and output (the first line a summary, the
/// rest the output); a failing command is an error.
async fn run_plugin_command(argv: &[String], kubeconfig: &str) -> Result<String, ActionError> {
    let (code, text) = run_command(argv, kubeconfig).await?;
    let code = code.map_or_else(|| "?".to_string(), |c| c.to_string());
    let summary = t!("backend.plugin_exec_finished", code = code);
    if code == "0" { Ok(format!("{summary}\n{text}")) } else { Err(ActionError::Invalid(format!("{summary}\n{text}"))) }
}

/// Runs a plugin's command (no shell), with `KUBECONFIG` naming the target's kubeconfig file,
/// in a process group of its own killed at [`PLUGIN_EXEC_TIMEOUT`]: its exit code (none when a
/// signal ended it) and its output, stdout then stderr, at most [`PLUGIN_EXEC_MAX_OUTPUT_BYTES`]
/// of each.
pub async fn run_command(argv: &[String], kubeconfig: &str) -> Result<(Option<i32>, String), ActionError> {
    use tokio::io::AsyncReadExt;
    let Some((program, args)) = argv.split_first() else {
        return Err(ActionError::Invalid(t!("backend.plugin_exec_failed", error = "no command").into_owned()));
    };
    let mut command = tokio::process::Command::new(program);
    command.args(args).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped());
    command.stderr(std::process::Stdio::piped()).kill_on_drop(true);
    if !kubeconfig.is_empty() {
        command.env("KUBECONFIG", kubeconfig);
    }
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|error| ActionError::Invalid(t!("backend.plugin_exec_failed", error = error).into_owned()))?;
    let group = child.id();
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let limit = PLUGIN_EXEC_MAX_OUTPUT_BYTES as u64;
    let run = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(pipe) = stdout.as_mut() {
                let _ = pipe.take(limit).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(pipe) = stderr.as_mut() {
                let _ = pipe.take(limit).read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    let Ok((status, out, err)) = tokio::time::timeout(PLUGIN_EXEC_TIMEOUT, run).await else {
        #[cfg(unix)]
        if let Some(group) = group.and_then(|g| i32::try_from(g).ok()) {
            // SAFETY: kill only sends a signal to the process group this command started.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let secs = PLUGIN_EXEC_TIMEOUT.as_secs();
        return Err(ActionError::Invalid(t!("backend.plugin_exec_timeout", secs = secs).into_owned()));
    };
    let code = status.ok().and_then(|s| s.code());
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if !err.is_empty() {
        text.push_str(&String::from_utf8_lossy(&err));
    }
    Ok((code, text))
}

/// Starts `call` on every target at once; each reports on its own.
pub fn start_action(
    clients: Arc<ClientMap>,
    extensions: &crate::Extensions,
    activities: Activities,
    request_id: u64,
    targets: Vec<Target>,
    call: ActionCall,
) {
    let what = extensions
        .registry
        .current()
        .action(&call.id)
        .map_or_else(|| Text::Plain(call.id.clone()), |spec| spec.label.clone());
    let handler = extensions.handlers.get(&call.id);
    for target in &targets {
        activities.record(Activity {
            request_id,
            subject: subject_of(target),
            what: what.clone(),
            outcome: Outcome::Running,
        });
    }
    // One task for the whole request, at most `CONCURRENT_ACTIONS` targets at a time: a bulk
    // delete of thousands of objects is neither thousands of tasks nor thousands of requests at once.
    tokio::spawn(async move {
        let run_one = |target: Target| {
            let (clients, activities, handler, input, what) =
                (clients.clone(), activities.clone(), handler.clone(), call.input.clone(), what.clone());
            let id = call.id.clone();
            async move {
                let subject = subject_of(&target);
                let result = match (handler, resolve(&clients, &target)) {
                    (None, _) => Err(ActionError::Invalid(format!("no handler is registered for the action {id:?}"))),
                    (_, Err(error)) => Err(error),
                    (Some(handler), Ok((connected, kind))) => {
                        handler(ActionRequest { cluster: connected.clone(), kind, target: target.clone(), input }).await
                    }
                };
                let outcome = match result {
                    Ok(message) => Outcome::Done { message: Arc::from(message) },
                    Err(error) => {
                        if let (ActionError::Api(error), Some(connected)) = (&error, clients.get(&target.key.cluster)) {
                            forget_access_if_refused(connected, error);
                        }
                        Outcome::Failed { message: Arc::from(error.to_string()) }
                    }
                };
                activities.record(Activity { request_id, subject, what, outcome });
            }
        };
        futures::StreamExt::for_each_concurrent(futures::stream::iter(targets), CONCURRENT_ACTIONS, run_one).await;
    });
}

/// Targets of one action request acted on at once; the others wait their turn (shown running).
pub const CONCURRENT_ACTIONS: usize = 8;

/// The built-in handler: the invocation read back into its typed [`Action`], then run.
async fn run_builtin(id: Arc<str>, request: ActionRequest) -> Result<String, ActionError> {
    let action = Action::from_call(&ActionCall { id, input: request.input.clone() })
        .ok_or_else(|| ActionError::Invalid("the action's input is out of range".into()))?;
    run_action(&request.cluster, &request.kind, &request.target, &action).await
}

async fn run_action(
    connected: &ConnectedCluster,
    kind: &ResourceKind,
    target: &Target,
    action: &Action,
) -> Result<String, ActionError> {
    let name = &*target.key.name;
    let namespace = target.key.namespace.as_deref();
    let api = dynamic_api(&connected.client, kind, namespace);
    let merge = |patch: Value| {
        let api = api.clone();
        async move { api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await }
    };
    match action {
        Action::Delete { propagation } => {
            let params = DeleteParams { propagation_policy: Some(policy(*propagation)), ..DeleteParams::default() };
            api.delete(name, &params).await?;
            Ok(format!("deleted ({})", propagation.api_name()))
        }
        Action::Scale { replicas } => {
            if *replicas < 0 {
                return Err(ActionError::Invalid("replicas must be 0 or more".into()));
            }
            api.patch_scale(name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": replicas}})))
                .await?;
            Ok(format!("scaled to {replicas}"))
        }
        Action::RolloutRestart => {
            let now = jiff::Timestamp::now().to_string();
            merge(json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}}))
                .await?;
            Ok("restarted".into())
        }
        Action::Rollback { revision } => rollback(connected, &api, target, *revision).await,
        Action::Cordon => {
            merge(json!({"spec": {"unschedulable": true}})).await?;
            Ok("cordoned".into())
        }
        Action::Uncordon => {
            merge(json!({"spec": {"unschedulable": null}})).await?;
            Ok("uncordoned".into())
        }
        Action::Suspend | Action::Resume => {
            merge(json!({"spec": {"suspend": *action == Action::Suspend}})).await?;
            Ok(if *action == Action::Suspend { "suspended".into() } else { "resumed".into() })
        }
        Action::Evict => {
            evict(connected, namespace.unwrap_or_default(), name).await?;
            Ok("evicted".into())
        }
        Action::Drain => drain(connected, &api, name).await,
        Action::Trigger => trigger(connected, &api, target).await,
    }
}

fn policy(propagation: Propagation) -> kube::api::PropagationPolicy {
    match propagation {
        Propagation::Background => kube::api::PropagationPolicy::Background,
        Propagation::Foreground => kube::api::PropagationPolicy::Foreground,
        Propagation::Orphan => kube::api::PropagationPolicy::Orphan,
    }
}

/// Posts an Eviction in the newest `policy` version the server has (v1 since 1.22, v1beta1 before).
async fn evict(connected: &ConnectedCluster, namespace: &str, name: &str) -> Result<(), ActionError> {
    let version =
        if connected.kinds.iter().any(|k| &*k.group == "policy" && &*k.version == "v1") { "v1" } else { "v1beta1" };
    let body = json!({"apiVersion": format!("policy/{version}"), "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}});
    let request = http::Request::post(format!("/api/v1/namespaces/{namespace}/pods/{name}/eviction"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).map_err(|e| ActionError::Invalid(e.to_string()))?)
        .map_err(|e| ActionError::Invalid(e.to_string()))?;
    connected.client.request_text(request).await?;
    Ok(())
}

/// Cordons the node, then evicts its pods, leaving DaemonSet and mirror pods as kubectl does.
async fn drain(connected: &ConnectedCluster, nodes: &Api<DynamicObject>, node: &str) -> Result<String, ActionError> {
    nodes.patch(node, &PatchParams::default(), &Patch::Merge(json!({"spec": {"unschedulable": true}}))).await?;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::all(connected.client.clone());
    let on_node = pods.list(&ListParams::default().fields(&format!("spec.nodeName={node}"))).await?;
    let (mut evicted, mut skipped, mut failures) = (0, 0, Vec::new());
    for pod in on_node.items {
        let meta = &pod.metadata;
        let daemon = meta.owner_references.iter().flatten().any(|o| o.kind == "DaemonSet");
        let mirror = meta.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        let finished =
            pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| p == "Succeeded" || p == "Failed");
        if daemon || mirror {
            skipped += 1;
            continue;
        }
        let (Some(namespace), Some(name)) = (meta.namespace.as_deref(), meta.name.as_deref()) else { continue };
        match evict(connected, namespace, name).await {
            Ok(()) => evicted += 1,
            Err(error) if finished => tracing::debug!(%error, "finished pod not evicted"),
            Err(error) => failures.push(format!("{namespace}/{name}: {error}")),
        }
    }
    if failures.is_empty() {
        Ok(format!("cordoned; evicted {evicted} pods, left {skipped} DaemonSet or mirror pods"))
    } else {
        Err(ActionError::Invalid(format!("cordoned; evicted {evicted} pods; could not evict: {}", failures.join("; "))))
    }
}

/// Creates a Job from a CronJob's template, owned by the CronJob, as `kubectl create job --from` does.
async fn trigger(
    connected: &ConnectedCluster,
    cronjobs: &Api<DynamicObject>,
    target: &Target,
) -> Result<String, ActionError> {
    let cronjob = cronjobs.get(&target.key.name).await?;
    let jobs_kind = connected
        .kinds
        .iter()
        .find(|k| &*k.group == "batch" && &*k.plural == "jobs")
        .cloned()
        .ok_or_else(|| ActionError::UnknownKind("jobs".into()))?;
    let stamp = jiff::Timestamp::now().as_second();
    let base: String = target.key.name.chars().take(40).collect();
    let job_name = format!("{base}-manual-{stamp}");
    let template = cronjob.data.pointer("/spec/jobTemplate").cloned().unwrap_or_else(|| json!({}));
    let job = json!({
        "apiVersion": jobs_kind.api_version(), "kind": "Job",
        "metadata": {"name": job_name, "namespace": target.key.namespace.as_deref(),
            "labels": template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [{"apiVersion": cronjob.types.as_ref().map(|t| t.api_version.clone()).unwrap_or_else(|| "batch/v1".into()),
                "kind": "CronJob", "name": target.key.name.as_ref(), "uid": cronjob.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    let job: DynamicObject = serde_json::from_value(job).map_err(|e| ActionError::Invalid(e.to_string()))?;
    let jobs = dynamic_api(&connected.client, &jobs_kind, target.key.namespace.as_deref());
    jobs.create(&PostParams::default(), &job).await?;
    Ok(format!("created job {job_name}"))
}

/// Puts a Deployment's pod template back to the one of its ReplicaSet with `revision`.
async fn rollback(
    connected: &ConnectedCluster,
    deployments: &Api<DynamicObject>,
    target: &Target,
    revision: i64,
) -> Result<String, ActionError> {
    let deployment = deployments.get(&target.key.name).await?;
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let replica_sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(connected.client.clone(), target.key.namespace.as_deref().unwrap_or_default());
    let owned = replica_sets.list(&ListParams::default()).await?;
    let found = owned.items.into_iter().find(|rs| {
        let meta = &rs.metadata;
        meta.owner_references.iter().flatten().any(|o| o.uid == uid)
            && meta
                .annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                .and_then(|r| r.parse().ok())
                == Some(revision)
    });
    let Some(replica_set) = found else {
        return Err(ActionError::Invalid(format!("revision {revision} not found")));
    };
    let mut template = serde_json::to_value(replica_set.spec.and_then(|s| s.template).unwrap_or_default())
        .map_err(|e| ActionError::Invalid(e.to_string()))?;
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove("pod-template-hash");
    }
    let operations: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/template", "value": template}]))
            .map_err(|e| ActionError::Invalid(e.to_string()))?;
    deployments.patch(&target.key.name, &PatchParams::default(), &Patch::<()>::Json(operations)).await?;
    Ok(format!("rolled back to revision {revision}"))
}

/// Starts an edit; each object it touches reports on its own.
pub fn start_edit(clients: Arc<ClientMap>, activities: Activities, request_id: u64, request: EditRequest) {
    tokio::spawn(async move {
        match request {
            EditRequest::Replace { target, yaml, dry_run } => {
                let subject = subject_of(&target);
                let what = Text::Key("edit.apply");
                activities.record(Activity {
                    request_id,
                    subject: subject.clone(),
                    what: what.clone(),
                    outcome: Outcome::Running,
                });
                let outcome = replace(&clients, &target, &yaml, dry_run).await;
                activities.record(Activity { request_id, subject, what, outcome });
            }
            EditRequest::Create { cluster, namespace, yaml, dry_run } => {
                let into = (&cluster, namespace.as_deref());
                create_all(&clients, &activities, request_id, into, &yaml, dry_run).await;
            }
        }
    });
}

/// Documents one "create from YAML" takes; the rest are left out with an error naming the limit.
pub const MAX_DOCUMENTS: usize = 1000;

/// The documents of a multi-document YAML text, each as JSON or its parse error, up to and
/// including the first error (serde_yaml's document iterator can yield the same error for good
/// after one: the fuzzer found a 114-byte text that grew memory without end), and at most
/// `MAX_DOCUMENTS`. Pure; fuzzed.
pub fn parse_documents(yaml: &str) -> Vec<Result<Value, String>> {
    use serde::Deserialize;
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(yaml) {
        if documents.len() == MAX_DOCUMENTS {
            documents.push(Err(format!("more than {MAX_DOCUMENTS} documents; the rest were left out")));
            break;
        }
        let parsed = Value::deserialize(document).map_err(|e| e.to_string());
        let failed = parsed.is_err();
        documents.push(parsed);
        if failed {
            break;
        }
    }
    documents
}

/// Replaces an object with the edited text. A resourceVersion must be present: a change made by
/// someone else since the edit began comes back as a conflict carrying the server's version.
async fn replace(clients: &ClientMap, target: &Target, yaml: &str, dry_run: bool) -> Outcome {
    let failed = |message: String| Outcome::Failed { message: Arc::from(message) };
    let (connected, kind) = match resolve(clients, target) {
        Ok(found) => found,
        Err(error) => return failed(error.to_string()),
    };
    let mut edited: Value = match serde_yaml::from_str(yaml) {
        Ok(value) => value,
        Err(error) => return failed(format!("invalid YAML: {error}")),
    };
    let name = edited.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if name != &*target.key.name {
        return failed(format!("metadata.name must stay {:?}; to make a copy, create a new object", &*target.key.name));
    }
    if edited.pointer("/metadata/resourceVersion").and_then(Value::as_str).is_none_or(str::is_empty) {
        return failed(
            "metadata.resourceVersion is missing; it guards against overwriting changes made by others".into(),
        );
    }
    let api = dynamic_api(&connected.client, &kind, target.key.namespace.as_deref());
    let is_secret = kind.group.is_empty() && &*kind.kind == "Secret";
    if is_secret {
        // Masked values the user left alone keep their stored value.
        match api.get(&target.key.name).await {
            Ok(live) => restore_masked(&mut edited, &live),
            Err(error) => return failed(ActionError::from(error).to_string()),
        }
    }
    let object: DynamicObject = match serde_json::from_value(edited) {
        Ok(object) => object,
        Err(error) => return failed(format!("not a Kubernetes object: {error}")),
    };
    let params = PostParams { dry_run, ..PostParams::default() };
    match api.replace(&target.key.name, &params, &object).await {
        Ok(_) if dry_run => Outcome::Done { message: Arc::from(t!("backend.dry_run_ok").as_ref()) },
        Ok(stored) => Outcome::Done {
            message: Arc::from(format!(
                "applied; resourceVersion {}",
                stored.metadata.resource_version.unwrap_or_default()
            )),
        },
        Err(error) if is_conflict(&error) => match api.get(&target.key.name).await {
            Ok(live) => {
                let shown = if is_secret { mask_secret(&live) } else { live.clone() };
                Outcome::Conflict {
                    live_yaml: Arc::from(serde_yaml::to_string(&strip_managed(shown)).unwrap_or_default()),
                    live_resource_version: Arc::from(live.metadata.resource_version.unwrap_or_default()),
                }
            }
            Err(get_error) => failed(format!("{}; then: {}", api_message(&error), api_message(&get_error))),
        },
        Err(error) => {
            forget_access_if_refused(connected, &error);
            failed(api_message(&error))
        }
    }
}

/// A refusal (403) means what the user may do changed since it was asked: the cluster's access
/// answers are asked again.
fn forget_access_if_refused(connected: &ConnectedCluster, error: &kube::Error) {
    if matches!(error, kube::Error::Api(status) if status.code == 403) {
        connected.access.invalidate();
    }
}

fn strip_managed(mut object: DynamicObject) -> DynamicObject {
    object.metadata.managed_fields = None;
    object
}

/// Puts back every Secret value (and the last-applied annotation) still showing the mask.
fn restore_masked(edited: &mut Value, live: &DynamicObject) {
    for field in ["data", "stringData"] {
        if let Some(map) = edited.get_mut(field).and_then(Value::as_object_mut) {
            for (key, value) in map.iter_mut() {
                if value.as_str() == Some(SECRET_MASK)
                    && let Some(stored) = live.data.get(field).and_then(|d| d.get(key))
                {
                    *value = stored.clone();
                }
            }
        }
    }
    let annotation = "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration";
    if edited.pointer(annotation).and_then(Value::as_str) == Some(SECRET_MASK)
        && let (Some(slot), Some(stored)) = (
            edited.pointer_mut(annotation),
            live.metadata.annotations.as_ref().and_then(|a| a.get("kubectl.kubernetes.io/last-applied-configuration")),
        )
    {
        *slot = Value::String(stored.clone());
    }
}

/// Creates every document of a multi-document YAML text, each reported on its own.
async fn create_all(
    clients: &ClientMap,
    activities: &Activities,
    request_id: u64,
    (cluster, namespace): (&ClusterId, Option<&str>),
    yaml: &str,
    dry_run: bool,
) {
    let what = Text::Key("edit.create");
    let report = |subject: String, outcome: Outcome| {
        activities.record(Activity { request_id, subject: Arc::from(subject), what: what.clone(), outcome })
    };
    let Some(connected) = clients.get(cluster) else {
        report(cluster.to_string(), Outcome::Failed { message: Arc::from(ActionError::NotConnected.to_string()) });
        return;
    };
    // Parsed up front: the YAML parser cannot be held across awaits.
    let documents = parse_documents(yaml);
    for (index, document) in documents.into_iter().enumerate() {
        let subject = format!("{cluster} #{}", index + 1);
        let value = match document {
            Ok(Value::Null) => continue,
            Ok(value) => value,
            Err(error) => {
                report(subject, Outcome::Failed { message: Arc::from(format!("invalid YAML: {error}")) });
                // A broken document ends the stream: the rest cannot be split reliably.
                return;
            }
        };
        let api_version = value["apiVersion"].as_str().unwrap_or_default();
        let kind_name = value["kind"].as_str().unwrap_or_default();
        let Some(kind) = connected.kinds.iter().find(|k| k.api_version() == api_version && &*k.kind == kind_name)
        else {
            report(
                subject,
                Outcome::Failed {
                    message: Arc::from(format!("the cluster does not serve {kind_name} in {api_version}")),
                },
            );
            continue;
        };
        let object_namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| namespace.map(str::to_string))
            .filter(|_| kind.is_namespaced());
        if kind.is_namespaced() && object_namespace.is_none() {
            report(subject, Outcome::Failed { message: Arc::from(t!("backend.choose_namespace").as_ref()) });
            continue;
        }
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<generated>").to_string();
        let subject = match &object_namespace {
            Some(ns) => format!("{cluster}/{ns}/{name}"),
            None => format!("{cluster}/{name}"),
        };
        report(subject.clone(), Outcome::Running);
        let object: DynamicObject = match serde_json::from_value(value) {
            Ok(object) => object,
            Err(error) => {
                report(subject, Outcome::Failed { message: Arc::from(format!("not a Kubernetes object: {error}")) });
                continue;
            }
        };
        let api = dynamic_api(&connected.client, kind, object_namespace.as_deref());
        let params = PostParams { dry_run, ..PostParams::default() };
        let outcome = match api.create(&params, &object).await {
            Ok(created) if dry_run => Outcome::Done {
                message: Arc::from(format!(
                    "dry run: would create {} {}",
                    kind.kind,
                    created.metadata.name.unwrap_or_default()
                )),
            },
            Ok(created) => Outcome::Done {
                message: Arc::from(format!("created {} {}", kind.kind, created.metadata.name.unwrap_or_default())),
            },
            Err(error) => Outcome::Failed { message: Arc::from(api_message(&error)) },
        };
        report(subject, outcome);
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn documents_end_at_the_first_error_and_at_the_limit() {
        // Found by the yaml_edit fuzz target: the document iterator repeated its error for good.
        let hostile = "apiVersion: v1\nkind: ConfigMap\nmetadata: rname: a, namespace: b, resourceVersion: \"5\"}\ndata: {k: v}\n---\napiVersio\n";
        let documents = parse_documents(hostile);
        assert_eq!(documents.len(), 1, "{documents:?}");
        assert!(documents[0].is_err());
        let many: String = (0..MAX_DOCUMENTS + 5).map(|i| format!("---\n{{n: {i}}}\n")).collect();
        let documents = parse_documents(&many);
        assert_eq!(documents.len(), MAX_DOCUMENTS + 1);
        assert!(documents.last().is_some_and(|d| d.as_ref().is_err_and(|e| e.contains("more than 1000"))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_secret_values_are_restored_and_new_ones_kept() {
        let live: DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{secret}"}},
            "data": {"a": "c2VjcmV0", "b": "b2xk"}}))
        .expect("object");
        let mut edited = json!({"metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": SECRET_MASK}},
            "data": {"a": SECRET_MASK, "b": "bmV3"}});
        restore_masked(&mut edited, &live);
        assert_eq!(edited["data"], json!({"a": "c2VjcmV0", "b": "bmV3"}));
        assert_eq!(edited["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"], "{secret}");
    }
}
