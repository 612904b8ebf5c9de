//! Follows the one object open in the details pane: its full body (for metadata, conditions and
//! YAML) and its events, both watched with kube-runtime watchers, and what the user may do with
//! it (access reviews, asked again when the cluster's answers are invalidated). Backend runtime.

use super::{ClientMap, Waker};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use klieg_model::registry::builtin::value_text as text;
use klieg_model::registry::{Registry, RelatedKind, SectionInput};
use klieg_model::{
    ConditionRow, DetailsSnapshot, EventRow, KindKey, ObjectAccess, ObjectKey, RelatedLink, ResourceKind,
};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Shown in place of every Secret value until the user reveals it.
pub const SECRET_MASK: &str = "••••••••";

pub struct DetailsFollower {
    out: watch::Sender<Arc<DetailsSnapshot>>,
    waker: Waker,
    task: super::TaskSlot,
    generation: u64,
    /// The sections to build and the actions whose permissions to ask.
    registry: klieg_model::LiveRegistry,
    /// The object asked for is on a cluster not connected (yet), or of a kind not discovered.
    waiting: bool,
}

impl DetailsFollower {
    pub fn new(out: watch::Sender<Arc<DetailsSnapshot>>, waker: Waker, registry: klieg_model::LiveRegistry) -> Self {
        Self { out, waker, task: super::TaskSlot::default(), generation: 0, registry, waiting: false }
    }

    pub fn close(&mut self) {
        self.task.stop();
        self.generation += 1;
        self.out.send_replace(Arc::new(DetailsSnapshot { generation: self.generation, ..DetailsSnapshot::default() }));
        (self.waker)();
    }

    pub fn open(&mut self, clients: &ClientMap, kind_key: KindKey, key: ObjectKey) {
        self.close();
        let mut snapshot = DetailsSnapshot {
            generation: self.generation,
            key: Some(key.clone()),
            loading: true,
            ..DetailsSnapshot::default()
        };
        let connected = clients.get(&key.cluster);
        let kind = connected.and_then(|c| c.kinds.iter().find(|k| k.key() == kind_key).cloned());
        self.waiting = kind.is_none();
        let (Some(connected), Some(kind)) = (connected, kind) else {
            snapshot.loading = false;
            snapshot.unavailable = true;
            self.out.send_replace(Arc::new(snapshot));
            (self.waker)();
            return;
        };
        snapshot.kind = Some(kind.clone());
        self.out.send_replace(Arc::new(snapshot.clone()));
        (self.waker)();
        let followed = Followed { kind, key, registry: self.registry.current() };
        let task = follow(connected.clone(), followed, snapshot, self.out.clone(), self.waker.clone());
        self.task.set(tokio::spawn(task));
    }
}

impl super::feed::Follower for DetailsFollower {
    type Query = (KindKey, ObjectKey);
    type Snapshot = DetailsSnapshot;

    fn follow(&mut self, context: &super::feed::FeedContext, query: Option<Self::Query>) {
        match query {
            Some((kind, key)) => self.open(&context.clients(), kind, key),
            None => {
                self.waiting = false;
                self.close();
            }
        }
    }

    fn waits_for_a_cluster(&self) -> bool {
        self.waiting
    }

    fn follows_the_registry(&self) -> bool {
        true
    }
}

pub(crate) fn api_resource(kind: &ResourceKind) -> ApiResource {
    ApiResource {
        group: kind.group.to_string(),
        version: kind.version.to_string(),
        api_version: kind.api_version(),
        kind: kind.kind.to_string(),
        plural: kind.plural.to_string(),
    }
}

/// The object a details task follows, and the registries it builds the pane with.
struct Followed {
    kind: ResourceKind,
    key: ObjectKey,
    registry: Arc<Registry>,
}

async fn follow(
    connected: super::ConnectedCluster,
    followed: Followed,
    mut snapshot: DetailsSnapshot,
    out: watch::Sender<Arc<DetailsSnapshot>>,
    waker: Waker,
) {
    let super::ConnectedCluster { client, access, kinds, .. } = connected;
    let Followed { kind, key, registry } = followed;
    let resource = api_resource(&kind);
    let objects_client = client.clone();
    let objects: kube::Api<DynamicObject> = match &key.namespace {
        Some(ns) => kube::Api::namespaced_with(client.clone(), ns, &resource),
        None => kube::Api::all_with(client.clone(), &resource),
    };
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", key.name));
    let object_stream = super::table_watch::backed_off(watcher::watcher(objects, by_name))
        .modify(|object| object.metadata.managed_fields = None)
        .map(|object| Update::Object(Box::new(object)));
    // Events of cluster-scoped objects (nodes) are recorded in `default`.
    let events: kube::Api<CoreEvent> = kube::Api::namespaced(client, key.namespace.as_deref().unwrap_or("default"));
    let event_fields = format!("involvedObject.name={},involvedObject.kind={}", key.name, kind.kind);
    let event_stream =
        super::table_watch::backed_off(watcher::watcher(events, watcher::Config::default().fields(&event_fields)))
            .map(|event| Update::Event(Box::new(event)));
    // What the user may do with the object: asked on opening and again whenever the cluster's
    // access answers were invalidated (RBAC changed, an action was refused, a minute passed).
    let permissions = registry.object_permissions(&kind.key(), &kind.verbs);
    let (access_kind, access_key) = (kind.key(), key.clone());
    let access_stream = futures::stream::unfold((access.subscribe(), true), move |(mut changes, first)| {
        let (client, access, kind_key, key, permissions) =
            (objects_client.clone(), access.clone(), access_kind.clone(), access_key.clone(), permissions.clone());
        async move {
            if !first && changes.changed().await.is_err() {
                return None;
            }
            changes.borrow_and_update();
            let answers = access.object_access(&client, &kind_key, &key, permissions).await;
            Some((Update::Access(answers), (changes, false)))
        }
    });
    let merged = futures::stream::select(futures::stream::select(object_stream, event_stream), access_stream);
    futures::pin_mut!(merged);
    let mut event_rows: BTreeMap<String, EventRow> = BTreeMap::new();
    let mut pending_events: Option<BTreeMap<String, EventRow>> = None;
    while let Some(update) = merged.next().await {
        match update {
            Update::Access(answers) => {
                if snapshot.access.as_deref() == Some(&answers) {
                    continue;
                }
                snapshot.access = Some(Arc::new(answers));
            }
            Update::Object(object) => match *object {
                Ok(Event::Apply(object) | Event::InitApply(object)) => {
                    fill_from_object(&mut snapshot, &object, &kind, &kinds, &key, &registry);
                    snapshot.loading = false;
                    snapshot.deleted = false;
                    snapshot.error = None;
                }
                Ok(Event::Delete(_)) => snapshot.deleted = true,
                Ok(Event::InitDone) => {
                    snapshot.loading = false;
                    if snapshot.uid.is_empty() {
                        snapshot.deleted = true;
                    }
                }
                Ok(Event::Init) => continue,
                Err(error) => snapshot.error = Some(Arc::from(super::errors::error_chain(&error))),
            },
            Update::Event(event) => match *event {
                Ok(Event::Init) => pending_events = Some(BTreeMap::new()),
                Ok(Event::InitApply(event)) => {
                    if let Some(pending) = &mut pending_events {
                        pending.insert(event.metadata.uid.clone().unwrap_or_default(), event_row(&event));
                    }
                    continue;
                }
                Ok(Event::InitDone) => event_rows = pending_events.take().unwrap_or_default(),
                Ok(Event::Apply(event)) => {
                    event_rows.insert(event.metadata.uid.clone().unwrap_or_default(), event_row(&event));
                }
                Ok(Event::Delete(event)) => {
                    event_rows.remove(&event.metadata.uid.clone().unwrap_or_default());
                }
                Err(error) => {
                    tracing::debug!(%error, "event watch failed; retrying");
                    continue;
                }
            },
        }
        let mut rows: Vec<EventRow> = event_rows.values().cloned().collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.last_seen_unix_secs));
        snapshot.events = rows;
        snapshot.generation += 1;
        out.send_replace(Arc::new(snapshot.clone()));
        waker();
    }
}

enum Update {
    Access(ObjectAccess),
    Object(Box<Result<Event<DynamicObject>, watcher::Error>>),
    Event(Box<Result<Event<CoreEvent>, watcher::Error>>),
}

fn strs(map: Option<&BTreeMap<String, String>>) -> Vec<(Arc<str>, Arc<str>)> {
    map.map(|m| m.iter().map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str()))).collect()).unwrap_or_default()
}

/// The objects the registered relation providers find from this one, resolved to kinds the
/// cluster serves (others are left out), in the object's cluster.
fn related(input: &SectionInput<'_>, kinds: &[ResourceKind], registry: &Registry) -> Vec<RelatedLink> {
    let key = input.key;
    registry
        .relations_of(input)
        .into_iter()
        .filter_map(|relation| {
            let target = match &relation.kind {
                RelatedKind::Key(wanted) => kinds.iter().find(|k| k.key() == *wanted)?,
                RelatedKind::Named { api_version, kind: name } => {
                    let (group, _) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                    kinds.iter().find(|k| &*k.group == group && k.kind == *name)?
                }
            };
            let namespace =
                if target.is_namespaced() { relation.namespace.or_else(|| key.namespace.clone()) } else { None };
            Some(RelatedLink {
                kind: target.key(),
                kind_name: target.kind.clone(),
                key: ObjectKey { cluster: key.cluster.clone(), namespace, name: relation.name },
                label: relation.label,
            })
        })
        .collect()
}

/// Fills everything derived from the object itself. `kind` is the object's kind: list and watch
/// items often carry no `apiVersion`/`kind` of their own.
pub fn fill_from_object(
    snapshot: &mut DetailsSnapshot,
    object: &DynamicObject,
    kind: &ResourceKind,
    kinds: &[ResourceKind],
    key: &ObjectKey,
    registry: &Registry,
) {
    let mut object = object.clone();
    object
        .types
        .get_or_insert_with(|| kube::core::TypeMeta { api_version: kind.api_version(), kind: kind.kind.to_string() });
    let object = &object;
    let is_secret = kind.group.is_empty() && &*kind.kind == "Secret";
    // Everything shown outside the registered masked section comes from the masked copy: an
    // applied Secret's last-applied annotation holds its values in the clear.
    let masked = is_secret.then(|| mask_secret(object));
    let meta = &object.metadata;
    snapshot.uid = Arc::from(meta.uid.as_deref().unwrap_or_default());
    snapshot.resource_version = Arc::from(meta.resource_version.as_deref().unwrap_or_default());
    snapshot.created = meta.creation_timestamp.as_ref().map(|t| Arc::from(t.0.to_string().as_str()));
    snapshot.labels = strs(meta.labels.as_ref());
    snapshot.annotations = strs(masked.as_ref().unwrap_or(object).metadata.annotations.as_ref());
    snapshot.conditions = object
        .data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .map(|conditions| {
            conditions
                .iter()
                .map(|c| ConditionRow {
                    condition_type: text(c.get("type")),
                    status: text(c.get("status")),
                    reason: text(c.get("reason")),
                    message: text(c.get("message")),
                    last_transition: text(c.get("lastTransitionTime").or_else(|| c.get("lastHeartbeatTime"))),
                })
                .collect()
        })
        .unwrap_or_default();
    snapshot.first_port = object
        .data
        .pointer("/spec/containers/0/ports/0/containerPort")
        .or_else(|| object.data.pointer("/spec/ports/0/port"))
        .and_then(|p| p.as_u64())
        .and_then(|p| u16::try_from(p).ok());
    let yaml = serde_yaml::to_string(object).unwrap_or_else(|error| format!("# {error}"));
    snapshot.yaml = Arc::from(yaml.as_str());
    snapshot.masked_yaml = match &masked {
        Some(masked) => Arc::from(serde_yaml::to_string(masked).unwrap_or_default().as_str()),
        None => snapshot.yaml.clone(),
    };
    let body = serde_json::to_value(object).unwrap_or_default();
    let input = SectionInput { object: &body, key, kind: &kind.key() };
    snapshot.related = related(&input, kinds, registry);
    snapshot.sections = registry.build_sections(&input);
}

/// A copy of a Secret with every value masked (its values are shown only through the
/// registered masked section, until revealed).
pub fn mask_secret(object: &DynamicObject) -> DynamicObject {
    let mut masked = object.clone();
    for field in ["data", "stringData"] {
        if let Some(map) = masked.data.get_mut(field).and_then(|d| d.as_object_mut()) {
            for value in map.values_mut() {
                *value = serde_json::Value::String(SECRET_MASK.to_string());
            }
        }
    }
    // kubectl apply keeps the whole object, values included, in this annotation.
    if let Some(annotations) = masked.metadata.annotations.as_mut()
        && let Some(applied) = annotations.get_mut("kubectl.kubernetes.io/last-applied-configuration")
    {
        *applied = SECRET_MASK.to_string();
    }
    masked
}

fn event_row(event: &CoreEvent) -> EventRow {
    let last_seen = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .or_else(|| event.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()));
    let source = event
        .source
        .as_ref()
        .and_then(|s| s.component.clone())
        .or_else(|| event.reporting_component.clone())
        .unwrap_or_default();
    EventRow {
        event_type: Arc::from(event.type_.as_deref().unwrap_or("Normal")),
        reason: Arc::from(event.reason.as_deref().unwrap_or_default()),
        message: Arc::from(event.message.as_deref().unwrap_or_default()),
        count: i64::from(event.count.unwrap_or(1)),
        last_seen_unix_secs: last_seen,
        source: Arc::from(source.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klieg_model::registry::SectionBody;

    #[test]
    fn secrets_are_masked_everywhere_and_decoded_for_reveal() {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db", "namespace": "shop", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"user": "admin"}
        }))
        .expect("secret");
        let key = ObjectKey {
            cluster: klieg_model::ClusterId::new("c"),
            namespace: Some(Arc::from("shop")),
            name: Arc::from("db"),
        };
        let mut snapshot = DetailsSnapshot::default();
        let secret_kind = ResourceKind {
            group: Arc::from(""),
            version: Arc::from("v1"),
            kind: Arc::from("Secret"),
            plural: Arc::from("secrets"),
            scope: klieg_model::Scope::Namespaced,
            verbs: Arc::from(Vec::new()),
        };
        fill_from_object(&mut snapshot, &object, &secret_kind, &[], &key, &Registry::with_builtins());
        assert!(snapshot.yaml.starts_with("apiVersion: v1\nkind: Secret\n"), "{}", snapshot.yaml);
        assert!(!snapshot.masked_yaml.contains("aHVudGVyMg=="), "{}", snapshot.masked_yaml);
        assert!(!snapshot.masked_yaml.contains("hunter2"));
        assert!(!snapshot.masked_yaml.contains("admin"));
        assert!(snapshot.masked_yaml.contains(SECRET_MASK));
        assert!(snapshot.yaml.contains("aHVudGVyMg=="));
        // The Overview's annotations are drawn without Reveal: the last-applied copy is masked.
        let applied = snapshot.annotations.iter().find(|(k, _)| k.contains("last-applied")).map(|(_, v)| &**v);
        assert_eq!(applied, Some(SECRET_MASK));
        assert!(snapshot.annotations.iter().all(|(_, v)| !v.contains("aHVudGVyMg==")));
        let values: Vec<(&str, &str)> = snapshot
            .sections
            .iter()
            .filter_map(|section| match &section.body {
                SectionBody::Masked(values) if &*section.id == "secret-data" => Some(values),
                _ => None,
            })
            .flatten()
            .map(|(k, v)| (&**k, &**v))
            .collect();
        assert_eq!(values, [("password", "hunter2"), ("user", "admin")]);
    }
}
