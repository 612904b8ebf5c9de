//! The simulator's object store for one cluster: objects per kind with resource versions, a
//! bounded event history for resuming watches (older versions get 410 Gone), label and field
//! selectors, paging, and cascading deletion. Called from the simulator's runtime under a mutex.

use super::kinds::{SimKind, builtin_kinds, kind_from_crd};
use klieg_model::{LabelSelector, Propagation};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// How many past events a watch may resume from before it gets 410 Gone.
pub const HISTORY_LEN: usize = 20_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} \"{name}\" not found")]
    NotFound { kind: String, name: String },
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists { kind: String, name: String },
    #[error(
        "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict { kind: String, name: String },
    #[error("{0}")]
    Invalid(String),
    #[error("too old resource version: {0}")]
    Gone(u64),
    /// Server-side apply conflicts: (manager, field path).
    #[error("Apply failed with {} conflict{}: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|(m, p)| format!("conflict with \"{m}\": {p}")).collect::<Vec<_>>().join(", "))]
    ApplyConflict(Vec<(String, String)>),
}

impl StoreError {
    pub fn code(&self) -> u16 {
        match self {
            StoreError::NotFound { .. } => 404,
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } | StoreError::ApplyConflict(_) => 409,
            StoreError::Invalid(_) => 422,
            StoreError::Gone(_) => 410,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "NotFound",
            StoreError::AlreadyExists { .. } => "AlreadyExists",
            StoreError::Conflict { .. } | StoreError::ApplyConflict(_) => "Conflict",
            StoreError::Invalid(_) => "Invalid",
            StoreError::Gone(_) => "Expired",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct StoredEvent {
    pub kind_key: String,
    pub namespace: Option<String>,
    pub event_type: EventType,
    pub object: Arc<Value>,
    pub resource_version: u64,
    /// The object's key in its kind, and its state before this event (`None` for ADDED): what a
    /// paged list as of an earlier version shows for it.
    pub id: ObjectId,
    pub previous: Option<Arc<Value>>,
}

pub type ObjectId = (String, String);

/// One cluster's objects. `kind_key` is `group/plural` (`/pods` for the core group).
pub struct Store {
    pub kinds: Vec<SimKind>,
    objects: HashMap<String, BTreeMap<ObjectId, Arc<Value>>>,
    resource_version: u64,
    history: VecDeque<Arc<StoredEvent>>,
    /// Events at or below this version are no longer in the history.
    compacted_below: u64,
    uid_counter: u64,
    /// Uids named as an owner by some object, so deleting a non-owner needs no scan for dependents.
    /// Entries may outlive their references; that costs a scan, never a missed cascade.
    owner_uids: std::collections::HashSet<String>,
    /// Set while an API request writes (see `as_manager`).
    field_manager: Option<String>,
    /// Set while a `dryRun=All` write runs: it is checked and built, then not stored.
    dry_run: bool,
}

pub fn kind_key(group: &str, plural: &str) -> String {
    format!("{group}/{plural}")
}

pub fn now_rfc3339() -> String {
    rfc3339(jiff::Timestamp::now())
}

/// A timestamp as Kubernetes writes it: RFC 3339, whole seconds, UTC.
pub fn rfc3339(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A parsed `fieldSelector`: `path=value` and `path!=value` terms on dotted paths.
#[derive(Debug, Default, Clone)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, equal, value) = if let Some((p, v)) = term.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = term.split_once("==") {
                (p, true, v)
            } else if let Some((p, v)) = term.split_once('=') {
                (p, true, v)
            } else {
                return Err(StoreError::Invalid(format!("invalid field selector term: {term}")));
            };
            let pointer = format!("/{}", path.trim().replace('.', "/"));
            terms.push((pointer, equal, value.trim().to_string()));
        }
        Ok(Self(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(pointer, equal, wanted)| {
            let actual = match object.pointer(pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *wanted) == *equal
        })
    }
}

pub fn labels_of(object: &Value) -> klieg_model::row::Labels {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels.iter().filter_map(|(k, v)| Some((Arc::from(k.as_str()), Arc::from(v.as_str()?)))).collect()
        })
        .unwrap_or_default()
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// JSON merge patch (RFC 7386); also used for strategic merge patches, whose list merging the
/// simulator approximates by replacement.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Moves a Secret's `stringData` into `data`, base64-encoded, as the apiserver does on write.
fn fold_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(map) = secret.as_object_mut() else { return };
    let Some(Value::Object(plain)) = map.remove("stringData") else { return };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if let Some(data) = data.as_object_mut() {
        for (key, value) in plain {
            let text = value.as_str().unwrap_or_default();
            data.insert(key, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

/// Selection and paging for a list.
#[derive(Debug, Default)]
pub struct ListOptions {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_after: Option<ObjectId>,
    /// The version a paged list is served as of (from its continue token): every page of one
    /// list shows the same moment, as the apiserver serves them from one etcd revision.
    pub as_of: Option<u64>,
}

pub struct ListResult {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_after: Option<ObjectId>,
    /// How many more items the next pages hold, when it is exact (no selectors).
    pub remaining_item_count: Option<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        Self {
            kinds: builtin_kinds(),
            objects: HashMap::new(),
            resource_version: 1000,
            history: VecDeque::new(),
            compacted_below: 1000,
            uid_counter: 0,
            owner_uids: std::collections::HashSet::new(),
            field_manager: None,
            dry_run: false,
        }
    }

    /// Runs `change` with writes recorded in `managedFields` under `manager` (API requests do;
    /// the generator's churn does not, to stay cheap).
    pub fn as_manager<T>(&mut self, manager: &str, change: impl FnOnce(&mut Self) -> T) -> T {
        self.field_manager = Some(manager.to_string());
        let result = change(self);
        self.field_manager = None;
        result
    }

    /// Runs a write as `dryRun=All` when `dry_run` is set: validated and answered with the object
    /// as it would be stored, while nothing is stored, versioned or announced.
    pub fn maybe_dry_run<T>(&mut self, dry_run: bool, change: impl FnOnce(&mut Self) -> T) -> T {
        self.dry_run = dry_run;
        let result = change(self);
        self.dry_run = false;
        result
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    pub fn compacted_below(&self) -> u64 {
        self.compacted_below
    }

    pub fn kind(&self, group: &str, version: &str, plural: &str) -> Option<&SimKind> {
        self.kinds.iter().find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    pub fn kind_by_name(&self, api_version: &str, kind: &str) -> Option<&SimKind> {
        self.kinds.iter().find(|k| k.api_version() == api_version && k.kind == kind)
    }

    /// The (namespace, name) keys of a kind, in key order.
    pub fn keys_of(&self, kind_key: &str) -> Vec<ObjectId> {
        self.objects.get(kind_key).map(|objects| objects.keys().cloned().collect()).unwrap_or_default()
    }

    /// One object by group, plural, namespace ("" for cluster-scoped) and name.
    pub fn get_by_plural(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects.get(&kind_key(group, plural))?.get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// Every object of a kind, in all namespaces.
    pub fn all_of(&self, group: &str, plural: &str) -> Vec<Arc<Value>> {
        self.objects
            .get(&kind_key(group, plural))
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn count(&self, kind_key: &str) -> usize {
        self.objects.get(kind_key).map_or(0, BTreeMap::len)
    }

    fn next_uid(&mut self) -> String {
        self.uid_counter += 1;
        let n = self.uid_counter;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            n.wrapping_mul(2_654_435_761) & 0xffff_ffff,
            n & 0xffff,
            n % 4096,
            (n / 7) % 4096,
            n
        )
    }

    fn note_owners(&mut self, object: &Value) {
        if let Some(references) = object.pointer("/metadata/ownerReferences").and_then(Value::as_array) {
            for uid in references.iter().filter_map(|r| r.get("uid").and_then(Value::as_str)) {
                self.owner_uids.insert(uid.to_string());
            }
        }
    }

    fn record(
        &mut self,
        kind_key: &str,
        id: ObjectId,
        namespace: Option<String>,
        event_type: EventType,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) -> Arc<StoredEvent> {
        let event = Arc::new(StoredEvent {
            kind_key: kind_key.to_string(),
            namespace,
            event_type,
            object,
            resource_version: self.resource_version,
            id,
            previous,
        });
        self.history.push_back(event.clone());
        while self.history.len() > HISTORY_LEN {
            if let Some(old) = self.history.pop_front() {
                self.compacted_below = old.resource_version;
            }
        }
        event
    }

    /// Forgets the whole watch history, so any watch resuming from before now gets 410 Gone.
    pub fn compact(&mut self) {
        // Like an etcd compaction, it takes a revision of its own: every version handed out
        // before it becomes too old to resume from.
        self.history.clear();
        self.resource_version += 1;
        self.compacted_below = self.resource_version;
    }

    /// Events after `since` for one kind (and namespace), or `Gone` if they were compacted away.
    pub fn events_since(
        &self,
        kind_key: &str,
        namespace: Option<&str>,
        since: u64,
    ) -> Result<Vec<Arc<StoredEvent>>, StoreError> {
        if since < self.compacted_below {
            return Err(StoreError::Gone(since));
        }
        Ok(self
            .history
            .iter()
            .filter(|e| e.resource_version > since && e.kind_key == kind_key)
            .filter(|e| namespace.is_none() || e.namespace.as_deref() == namespace)
            .cloned()
            .collect())
    }

    /// Every event after `since`, for publishing a mutation's events to watchers.
    pub fn events_since_any(&self, since: u64) -> Result<Vec<Arc<StoredEvent>>, StoreError> {
        if since < self.compacted_below {
            return Err(StoreError::Gone(since));
        }
        // Newest last: walk back only as far as needed.
        let mut events: Vec<Arc<StoredEvent>> =
            self.history.iter().rev().take_while(|e| e.resource_version > since).cloned().collect();
        events.reverse();
        Ok(events)
    }

    /// One page of a kind's objects, as of `options.as_of` (now, without one). `Gone` when that
    /// version was compacted away: the apiserver's "continue parameter is too old".
    pub fn list(&self, kind: &SimKind, options: &ListOptions) -> Result<ListResult, StoreError> {
        let as_of = options.as_of.unwrap_or(self.resource_version).min(self.resource_version);
        let then = self.changed_since(&kind_key(&kind.group, &kind.plural), as_of)?;
        Ok(self.page(kind, options, as_of, &then))
    }

    /// A list as it is now (`options.as_of` is not looked at).
    pub fn list_now(&self, kind: &SimKind, options: &ListOptions) -> ListResult {
        self.page(kind, options, self.resource_version, &BTreeMap::new())
    }

    /// One page as of `as_of`, given what changed since then.
    fn page(
        &self,
        kind: &SimKind,
        options: &ListOptions,
        as_of: u64,
        then: &BTreeMap<ObjectId, Option<Arc<Value>>>,
    ) -> ListResult {
        let empty = BTreeMap::new();
        let objects = self.objects.get(&kind_key(&kind.group, &kind.plural)).unwrap_or(&empty);
        let start = match &options.continue_after {
            Some(after) => std::ops::Bound::Excluded(after.clone()),
            None => std::ops::Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        let mut remaining: u64 = 0;
        let current = objects.range((start.clone(), std::ops::Bound::Unbounded));
        let changed = then.range((start, std::ops::Bound::Unbounded));
        for (id, object) in merge_as_of(current, changed) {
            if options.namespace.as_ref().is_some_and(|ns| &id.0 != ns) {
                continue;
            }
            if !options.labels.is_empty() && !options.labels.matches(&labels_of(object)) {
                continue;
            }
            if !options.fields.matches(object) {
                continue;
            }
            if options.limit.is_some_and(|limit| items.len() >= limit) {
                more = true;
                remaining += 1;
                // As the apiserver: the count is given only when it is exact (no selectors).
                if !options.labels.is_empty() || !options.fields.is_empty() {
                    break;
                }
                continue;
            }
            items.push(object.clone());
            last = Some(id.clone());
        }
        let exact = options.labels.is_empty() && options.fields.is_empty();
        ListResult {
            items,
            resource_version: as_of,
            continue_after: if more { last } else { None },
            remaining_item_count: (more && exact).then_some(remaining),
        }
    }

    /// The objects of one kind that changed after `since`, each with its state then (`None`:
    /// it did not exist yet).
    fn changed_since(&self, kind_key: &str, since: u64) -> Result<BTreeMap<ObjectId, Option<Arc<Value>>>, StoreError> {
        let mut then = BTreeMap::new();
        if since >= self.resource_version {
            return Ok(then);
        }
        if since < self.compacted_below {
            return Err(StoreError::Gone(since));
        }
        for event in self.history.iter().filter(|e| e.resource_version > since && e.kind_key == kind_key) {
            // The first change after `since` knows the state at `since`.
            then.entry(event.id.clone()).or_insert_with(|| event.previous.clone());
        }
        Ok(then)
    }

    pub fn get(&self, kind: &SimKind, namespace: &str, name: &str) -> Result<Arc<Value>, StoreError> {
        self.objects
            .get(&kind_key(&kind.group, &kind.plural))
            .and_then(|objects| objects.get(&(namespace.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| StoreError::NotFound { kind: kind.plural.clone(), name: name.to_string() })
    }

    fn validate(kind: &SimKind, namespace: &str, object: &Value) -> Result<String, StoreError> {
        let name = meta_str(object, "name").unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(StoreError::Invalid(format!(
                "{} is invalid: metadata.name: Required value: name or generateName is required",
                kind.kind
            )));
        }
        let valid_name = name.len() <= 253
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_name {
            return Err(StoreError::Invalid(format!(
                "{} \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
                kind.kind
            )));
        }
        if kind.namespaced && namespace.is_empty() {
            return Err(StoreError::Invalid(format!(
                "{} \"{name}\" is invalid: metadata.namespace: Required value",
                kind.kind
            )));
        }
        if !object.is_object() {
            return Err(StoreError::Invalid("the body is not a JSON object".into()));
        }
        Ok(name)
    }

    fn set_meta(object: &mut Value, field: &str, value: Value) {
        if let Some(meta) =
            object.as_object_mut().and_then(|o| o.entry("metadata").or_insert_with(|| json!({})).as_object_mut())
        {
            meta.insert(field.to_string(), value);
        }
    }

    /// Copies `fields` of `current`'s metadata into `object` (identity the client may not change).
    fn keep_meta(object: &mut Value, current: &Value, fields: &[&str]) {
        for field in fields {
            if let Some(value) = current.get("metadata").and_then(|m| m.get(*field)) {
                Self::set_meta(object, field, value.clone());
            }
        }
    }

    pub fn create(&mut self, kind: &SimKind, namespace: &str, mut object: Value) -> Result<Arc<Value>, StoreError> {
        if let Some(generate) = meta_str(&object, "generateName").map(str::to_string)
            && meta_str(&object, "name").is_none()
        {
            let suffix = self.next_uid();
            Self::set_meta(&mut object, "name", json!(format!("{generate}{}", &suffix[..5])));
        }
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        let name = Self::validate(kind, &namespace, &object)?;
        let key = kind_key(&kind.group, &kind.plural);
        if self.objects.get(&key).is_some_and(|o| o.contains_key(&(namespace.clone(), name.clone()))) {
            return Err(StoreError::AlreadyExists { kind: kind.plural.clone(), name });
        }
        if kind.namespaced && kind.kind != "Namespace" && self.get(&self.namespace_kind(), "", &namespace).is_err() {
            return Err(StoreError::NotFound { kind: "namespaces".into(), name: namespace });
        }
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), json!(kind.api_version()));
            map.insert("kind".into(), json!(kind.kind));
        }
        let uid = self.next_uid();
        Self::set_meta(&mut object, "uid", json!(uid));
        if !self.dry_run {
            self.resource_version += 1;
            Self::set_meta(&mut object, "resourceVersion", json!(self.resource_version.to_string()));
        }
        Self::set_meta(&mut object, "creationTimestamp", json!(now_rfc3339()));
        if kind.namespaced {
            Self::set_meta(&mut object, "namespace", json!(namespace));
        }
        if kind.kind == "Secret" && kind.group.is_empty() {
            fold_string_data(&mut object);
        }
        if let Some(manager) = &self.field_manager
            && object.pointer("/metadata/managedFields").is_none()
        {
            super::merge::record_update(None, &mut object, manager, &kind.api_version());
        }
        if self.dry_run {
            return Ok(Arc::new(object));
        }
        if kind.kind == "CustomResourceDefinition" {
            self.register_crd(&mut object);
        }
        self.note_owners(&object);
        let object = Arc::new(object);
        let id = (namespace.clone(), name);
        self.objects.entry(key.clone()).or_default().insert(id.clone(), object.clone());
        self.record(&key, id, kind.namespaced.then_some(namespace), EventType::Added, object.clone(), None);
        Ok(object)
    }

    fn namespace_kind(&self) -> SimKind {
        self.kinds
            .iter()
            .find(|k| k.group.is_empty() && k.plural == "namespaces")
            .cloned()
            .unwrap_or_else(|| builtin_kinds().remove(0))
    }

    fn register_crd(&mut self, crd: &mut Value) {
        let Some(kind) = kind_from_crd(crd) else { return };
        self.kinds.retain(|k| !(k.group == kind.group && k.plural == kind.plural));
        self.kinds.push(kind);
        let now = now_rfc3339();
        merge_patch(
            crd,
            &json!({"status": {"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "lastTransitionTime": now}
            ]}}),
        );
    }

    /// Replaces an object. A non-empty `resourceVersion` in the body must match (optimistic concurrency).
    pub fn update(&mut self, kind: &SimKind, namespace: &str, mut object: Value) -> Result<Arc<Value>, StoreError> {
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        let name = Self::validate(kind, &namespace, &object)?;
        let current = self.get(kind, &namespace, &name)?;
        let sent_version = meta_str(&object, "resourceVersion").unwrap_or_default();
        if !sent_version.is_empty() && Some(sent_version) != meta_str(&current, "resourceVersion") {
            return Err(StoreError::Conflict { kind: kind.plural.clone(), name });
        }
        // An update that leaves out managedFields keeps them, as the apiserver does.
        let keep_managed = object.pointer("/metadata/managedFields").is_none();
        Self::keep_meta(&mut object, &current, &["uid", "creationTimestamp", "namespace", "deletionTimestamp"]);
        if keep_managed {
            Self::keep_meta(&mut object, &current, &["managedFields"]);
        }
        self.store_modified(kind, namespace, name, object)
    }

    fn store_modified(
        &mut self,
        kind: &SimKind,
        namespace: String,
        name: String,
        mut object: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let key = kind_key(&kind.group, &kind.plural);
        if let Some(manager) = self.field_manager.clone() {
            let before = self.objects.get(&key).and_then(|o| o.get(&(namespace.clone(), name.clone()))).cloned();
            super::merge::record_update(before.as_deref(), &mut object, &manager, &kind.api_version());
        }
        if self.dry_run {
            if let Some(map) = object.as_object_mut() {
                map.insert("apiVersion".into(), json!(kind.api_version()));
                map.insert("kind".into(), json!(kind.kind));
            }
            if kind.kind == "Secret" && kind.group.is_empty() {
                fold_string_data(&mut object);
            }
            return Ok(Arc::new(object));
        }
        // An object being deleted goes once its last finalizer is removed.
        if object.pointer("/metadata/deletionTimestamp").is_some()
            && object.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty)
        {
            return self.remove(kind, &namespace, &name);
        }
        self.resource_version += 1;
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), json!(kind.api_version()));
            map.insert("kind".into(), json!(kind.kind));
        }
        Self::set_meta(&mut object, "resourceVersion", json!(self.resource_version.to_string()));
        if kind.kind == "CustomResourceDefinition" {
            self.register_crd(&mut object);
        }
        if kind.kind == "Secret" && kind.group.is_empty() {
            fold_string_data(&mut object);
        }
        self.note_owners(&object);
        let object = Arc::new(object);
        let id = (namespace.clone(), name);
        let previous = self.objects.entry(key.clone()).or_default().insert(id.clone(), object.clone());
        let event_type = if previous.is_some() { EventType::Modified } else { EventType::Added };
        self.record(&key, id, kind.namespaced.then_some(namespace), event_type, object.clone(), previous);
        Ok(object)
    }

    /// Applies an RFC 6902 JSON patch. Identity fields come back from the stored object.
    pub fn json_patch(
        &mut self,
        kind: &SimKind,
        namespace: &str,
        name: &str,
        operations: &Value,
    ) -> Result<Arc<Value>, StoreError> {
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        let current = self.get(kind, &namespace, name)?;
        let operations: json_patch::Patch = serde_json::from_value(operations.clone())
            .map_err(|e| StoreError::Invalid(format!("invalid JSON patch: {e}")))?;
        let mut object = (*current).clone();
        json_patch::patch(&mut object, &operations)
            .map_err(|e| StoreError::Invalid(format!("the JSON patch could not be applied: {e}")))?;
        Self::keep_meta(&mut object, &current, &["uid", "creationTimestamp", "namespace", "name"]);
        if object == *current {
            return Ok(current);
        }
        self.store_modified(kind, namespace, name.to_string(), object)
    }

    /// Applies a merge patch (RFC 7386); `status_only` limits it to the status subresource.
    pub fn patch(
        &mut self,
        kind: &SimKind,
        namespace: &str,
        name: &str,
        patch: &Value,
        status_only: bool,
    ) -> Result<Arc<Value>, StoreError> {
        self.patch_as(kind, namespace, name, patch, status_only, false)
    }

    /// Applies a merge patch, or with `strategic` a strategic merge patch (lists merged by key).
    /// A `metadata.resourceVersion` in the patch must match, as with an update.
    pub fn patch_as(
        &mut self,
        kind: &SimKind,
        namespace: &str,
        name: &str,
        patch: &Value,
        status_only: bool,
        strategic: bool,
    ) -> Result<Arc<Value>, StoreError> {
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        let current = self.get(kind, &namespace, name)?;
        if let Some(sent) = patch.pointer("/metadata/resourceVersion").and_then(Value::as_str)
            && Some(sent) != meta_str(&current, "resourceVersion")
        {
            return Err(StoreError::Conflict { kind: kind.plural.clone(), name: name.to_string() });
        }
        let merge = |target: &mut Value, patch: &Value| {
            if strategic { super::merge::strategic_merge(target, patch) } else { merge_patch(target, patch) }
        };
        let mut object = (*current).clone();
        if status_only {
            if let Some(status) = patch.get("status") {
                merge(
                    object.as_object_mut().map(|o| o.entry("status").or_insert(json!({}))).unwrap_or(&mut Value::Null),
                    status,
                );
            }
        } else {
            let mut patch = patch.clone();
            // Identity fields cannot be patched.
            if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
                for field in ["uid", "creationTimestamp", "namespace", "name", "resourceVersion"] {
                    meta.remove(field);
                }
            }
            merge(&mut object, &patch);
        }
        if object == *current {
            return Ok(current);
        }
        self.store_modified(kind, namespace, name.to_string(), object)
    }

    /// Deletes an object and, like the garbage collector in background mode, everything it owns.
    pub fn delete(&mut self, kind: &SimKind, namespace: &str, name: &str) -> Result<Arc<Value>, StoreError> {
        self.delete_with(kind, namespace, name, Propagation::Background)
    }

    /// Deletes an object with a propagation policy. An object with finalizers is only marked
    /// (deletionTimestamp) and goes when its last finalizer is removed.
    pub fn delete_with(
        &mut self,
        kind: &SimKind,
        namespace: &str,
        name: &str,
        propagation: Propagation,
    ) -> Result<Arc<Value>, StoreError> {
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        let current = self.get(kind, &namespace, name)?;
        let uid = meta_str(&current, "uid").unwrap_or_default().to_string();
        let finalizers =
            current.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        match propagation {
            Propagation::Orphan => {
                for (dependent_kind, dependent_namespace, dependent) in self.dependents_of(&uid, &namespace) {
                    let mut freed = (*dependent).clone();
                    if let Some(references) =
                        freed.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut)
                    {
                        references.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                    }
                    // No owner left: the field goes, as the garbage collector leaves it.
                    if freed.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(Vec::is_empty)
                        && let Some(meta) = freed.get_mut("metadata").and_then(Value::as_object_mut)
                    {
                        meta.remove("ownerReferences");
                    }
                    let dependent_name = meta_str(&freed, "name").unwrap_or_default().to_string();
                    self.store_modified(&dependent_kind, dependent_namespace, dependent_name, freed)?;
                }
                self.owner_uids.remove(&uid);
            }
            Propagation::Foreground if !finalizers => {
                // The owner stays, marked, until its dependents are gone.
                let mut marked = (*current).clone();
                Self::set_meta(&mut marked, "deletionTimestamp", json!(now_rfc3339()));
                Self::set_meta(&mut marked, "finalizers", json!(["foregroundDeletion"]));
                let marked = self.store_modified(kind, namespace.clone(), name.to_string(), marked)?;
                if self.owner_uids.remove(&uid) {
                    self.delete_owned_by(&uid, &namespace);
                }
                self.remove(kind, &namespace, name)?;
                return Ok(marked);
            }
            _ => {}
        }
        if finalizers {
            if current.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(current);
            }
            let mut marked = (*current).clone();
            Self::set_meta(&mut marked, "deletionTimestamp", json!(now_rfc3339()));
            return self.store_modified(kind, namespace, name.to_string(), marked);
        }
        self.remove(kind, &namespace, name)
    }

    /// Server-side apply of `config` by `manager`: creates the object or merges the fields the
    /// manager owns, refusing fields another manager set to other values unless `force`.
    pub fn apply(
        &mut self,
        kind: &SimKind,
        namespace: &str,
        name: &str,
        config: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Arc<Value>, StoreError> {
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        if meta_str(config, "name").is_some_and(|n| n != name) {
            return Err(StoreError::Invalid(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(config, "name").unwrap_or_default()
            )));
        }
        let current = self.get(kind, &namespace, name).ok();
        let applied = super::merge::apply(current.as_deref(), config, manager, force, &kind.api_version()).map_err(
            |conflicts| StoreError::ApplyConflict(conflicts.into_iter().map(|c| (c.manager, c.path)).collect()),
        )?;
        let previous_manager = self.field_manager.take();
        let result = match current {
            None => {
                let mut object = applied;
                Self::set_meta(&mut object, "name", json!(name));
                self.create(kind, &namespace, object)
            }
            Some(current) => {
                let mut object = applied;
                Self::keep_meta(
                    &mut object,
                    &current,
                    &["uid", "creationTimestamp", "namespace", "name", "resourceVersion"],
                );
                if object == *current {
                    Ok(current)
                } else {
                    self.store_modified(kind, namespace, name.to_string(), object)
                }
            }
        };
        self.field_manager = previous_manager;
        result
    }

    /// Objects of any kind that name `owner_uid` among their owners.
    fn dependents_of(&self, owner_uid: &str, namespace: &str) -> Vec<(SimKind, String, Arc<Value>)> {
        let mut found = Vec::new();
        for kind in &self.kinds {
            let Some(objects) = self.objects.get(&kind_key(&kind.group, &kind.plural)) else { continue };
            for ((ns, _), object) in objects {
                let owned = object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| refs.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid)));
                if owned && (!kind.namespaced || ns == namespace || namespace.is_empty()) {
                    found.push((kind.clone(), ns.clone(), object.clone()));
                }
            }
        }
        found
    }

    /// Removes an object now, and (background cascade) everything it owns.
    fn remove(&mut self, kind: &SimKind, namespace: &str, name: &str) -> Result<Arc<Value>, StoreError> {
        let namespace = if kind.namespaced { namespace.to_string() } else { String::new() };
        let key = kind_key(&kind.group, &kind.plural);
        let removed = self
            .objects
            .get_mut(&key)
            .and_then(|objects| objects.remove(&(namespace.clone(), name.to_string())))
            .ok_or_else(|| StoreError::NotFound { kind: kind.plural.clone(), name: name.to_string() })?;
        self.resource_version += 1;
        let mut gone = (*removed).clone();
        Self::set_meta(&mut gone, "resourceVersion", json!(self.resource_version.to_string()));
        let gone = Arc::new(gone);
        let id = (namespace.clone(), name.to_string());
        self.record(
            &key,
            id,
            kind.namespaced.then_some(namespace.clone()),
            EventType::Deleted,
            gone.clone(),
            Some(removed.clone()),
        );
        if kind.kind == "CustomResourceDefinition"
            && let Some(crd_kind) = kind_from_crd(&removed)
        {
            self.kinds.retain(|k| !(k.group == crd_kind.group && k.plural == crd_kind.plural));
            self.objects.remove(&kind_key(&crd_kind.group, &crd_kind.plural));
        }
        if kind.kind == "Namespace" {
            let namespaced: Vec<SimKind> = self.kinds.iter().filter(|k| k.namespaced).cloned().collect();
            for child_kind in namespaced {
                let names: Vec<String> = self
                    .objects
                    .get(&kind_key(&child_kind.group, &child_kind.plural))
                    .map(|objects| objects.keys().filter(|(ns, _)| ns == name).map(|(_, n)| n.clone()).collect())
                    .unwrap_or_default();
                for child in names {
                    let _ = self.remove(&child_kind, name, &child);
                }
            }
        }
        let uid = meta_str(&removed, "uid").unwrap_or_default().to_string();
        if self.owner_uids.remove(&uid) {
            self.delete_owned_by(&uid, &namespace);
        }
        Ok(gone)
    }

    fn delete_owned_by(&mut self, owner_uid: &str, namespace: &str) {
        let kinds = self.kinds.clone();
        for kind in kinds {
            let owned: Vec<String> = self
                .objects
                .get(&kind_key(&kind.group, &kind.plural))
                .map(|objects| {
                    objects
                        .iter()
                        .filter(|((ns, _), _)| !kind.namespaced || ns == namespace)
                        .filter(|(_, o)| {
                            o.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|refs| {
                                refs.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid))
                            })
                        })
                        .map(|((_, n), _)| n.clone())
                        .collect()
                })
                .unwrap_or_default();
            for name in owned {
                let _ = self.remove(&kind, namespace, &name);
            }
        }
    }

    /// Metadata without managed fields, as PartialObjectMetadata.
    pub fn partial_metadata(object: &Value) -> Value {
        let mut meta = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
        if let Some(map) = meta.as_object_mut() {
            map.remove("managedFields");
        }
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
    }
}

/// Builds a metadata map helper for generated objects.
pub fn metadata(name: &str, namespace: Option<&str>, labels: &[(&str, &str)]) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    if !labels.is_empty() {
        let labels: Map<String, Value> = labels.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect();
        meta.insert("labels".into(), Value::Object(labels));
    }
    Value::Object(meta)
}

/// Objects in key order as of an earlier version: the current ones, with those changed since
/// replaced by their state then (and left out where they did not exist yet).
fn merge_as_of<'a>(
    current: impl Iterator<Item = (&'a ObjectId, &'a Arc<Value>)>,
    changed: impl Iterator<Item = (&'a ObjectId, &'a Option<Arc<Value>>)>,
) -> impl Iterator<Item = (&'a ObjectId, &'a Arc<Value>)> {
    let mut current = current.peekable();
    let mut changed = changed.peekable();
    std::iter::from_fn(move || {
        loop {
            let take_current = match (current.peek(), changed.peek()) {
                (None, None) => return None,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((a, _)), Some((b, _))) => a < b,
            };
            if take_current {
                return current.next();
            }
            let (id, then) = changed.next()?;
            if current.peek().is_some_and(|(a, _)| *a == id) {
                current.next();
            }
            if let Some(object) = then {
                return Some((id, object));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configmaps(store: &Store) -> SimKind {
        store.kind("", "v1", "configmaps").cloned().expect("configmaps")
    }

    fn namespace(store: &mut Store, name: &str) {
        let kind = store.kind("", "v1", "namespaces").cloned().expect("namespaces");
        store.create(&kind, "", json!({"metadata": {"name": name}})).expect("namespace");
    }

    #[test]
    fn secrets_store_string_data_as_base64_data() {
        let mut store = Store::new();
        let namespaces = store.kind("", "v1", "namespaces").cloned().expect("kind");
        store.create(&namespaces, "", json!({"metadata": {"name": "a"}})).expect("ns");
        let secrets = store.kind("", "v1", "secrets").cloned().expect("kind");
        let created = store
            .create(
                &secrets,
                "a",
                json!({"metadata": {"name": "s"}, "data": {"x": "eA=="}, "stringData": {"password": "hunter2"}}),
            )
            .expect("secret");
        assert_eq!(created["data"], json!({"x": "eA==", "password": "aHVudGVyMg=="}));
        assert!(created.get("stringData").is_none());
    }

    #[test]
    fn create_update_conflict_delete() {
        let mut store = Store::new();
        namespace(&mut store, "a");
        let kind = configmaps(&store);
        let created = store.create(&kind, "a", json!({"metadata": {"name": "x"}, "data": {"k": "1"}})).expect("create");
        let rv = created["metadata"]["resourceVersion"].as_str().expect("rv").to_string();
        assert_eq!(store.create(&kind, "a", json!({"metadata": {"name": "x"}})).expect_err("dup").code(), 409);
        let mut stale = (*created).clone();
        stale["data"]["k"] = json!("2");
        store.update(&kind, "a", stale.clone()).expect("update with current rv");
        let error = store.update(&kind, "a", stale).expect_err("stale rv");
        assert_eq!(error.code(), 409, "{error}");
        assert_ne!(store.get(&kind, "a", "x").expect("get")["metadata"]["resourceVersion"], json!(rv));
        let patched = store
            .json_patch(&kind, "a", "x", &json!([{"op": "replace", "path": "/data/k", "value": "3"}, {"op": "add", "path": "/data/j", "value": "4"}]))
            .expect("json patch");
        assert_eq!(patched["data"], json!({"k": "3", "j": "4"}));
        let bad = json!([{"op": "remove", "path": "/data/missing"}]);
        assert_eq!(store.json_patch(&kind, "a", "x", &bad).expect_err("bad path").code(), 422);
        store.delete(&kind, "a", "x").expect("delete");
        assert_eq!(store.get(&kind, "a", "x").expect_err("gone").code(), 404);
        assert_eq!(
            store.create(&kind, "missing", json!({"metadata": {"name": "y"}})).expect_err("no namespace").code(),
            404
        );
        assert_eq!(
            store.create(&kind, "a", json!({"metadata": {"name": "Bad_Name"}})).expect_err("invalid").code(),
            422
        );
    }

    /// Names and `data.v` of a list's items.
    fn names_and_values(result: &ListResult) -> Vec<(String, String)> {
        result
            .items
            .iter()
            .map(|o| {
                let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
                (name, o["data"]["v"].as_str().unwrap_or_default().to_string())
            })
            .collect()
    }

    #[test]
    fn every_page_of_a_list_shows_the_moment_of_its_first_page() {
        let mut store = Store::new();
        namespace(&mut store, "a");
        let kind = configmaps(&store);
        for name in ["b", "d", "f", "h"] {
            store.create(&kind, "a", json!({"metadata": {"name": name}, "data": {"v": "1"}})).expect("create");
        }
        let first = store.list(&kind, &ListOptions { limit: Some(2), ..ListOptions::default() }).expect("first page");
        assert_eq!(names_and_values(&first), [("b".into(), "1".into()), ("d".into(), "1".into())]);
        // Between the pages: one created after the cursor, one deleted and one changed there.
        store.create(&kind, "a", json!({"metadata": {"name": "e"}, "data": {"v": "1"}})).expect("create e");
        store.delete(&kind, "a", "f").expect("delete f");
        store.patch(&kind, "a", "h", &json!({"data": {"v": "2"}}), false).expect("patch h");
        let next = ListOptions {
            continue_after: first.continue_after.clone(),
            as_of: Some(first.resource_version),
            ..ListOptions::default()
        };
        let rest = store.list(&kind, &next).expect("second page");
        assert_eq!(rest.resource_version, first.resource_version, "one list, one version");
        assert_eq!(names_and_values(&rest), [("f".into(), "1".into()), ("h".into(), "1".into())]);
        // A watch from that version then brings exactly the three changes.
        let events = store.events_since("/configmaps", Some("a"), rest.resource_version).expect("history");
        assert_eq!(events.len(), 3);
        // Now, the list shows them; once the history is compacted, the old version is refused.
        assert_eq!(names_and_values(&store.list_now(&kind, &ListOptions::default())).len(), 4);
        store.compact();
        assert_eq!(store.list(&kind, &next).err().map(|e| e.code()), Some(410));
    }

    #[test]
    fn paging_selectors_and_history() {
        let mut store = Store::new();
        namespace(&mut store, "a");
        let kind = configmaps(&store);
        let start = store.resource_version();
        for i in 0..5 {
            let tier = if i % 2 == 0 { "web" } else { "db" };
            store
                .create(&kind, "a", json!({"metadata": {"name": format!("c{i}"), "labels": {"tier": tier}}}))
                .expect("create");
        }
        let first = store.list_now(&kind, &ListOptions { limit: Some(2), ..ListOptions::default() });
        assert_eq!(first.items.len(), 2);
        let rest = store
            .list_now(&kind, &ListOptions { continue_after: first.continue_after.clone(), ..ListOptions::default() });
        assert_eq!(rest.items.len(), 3);
        assert!(rest.continue_after.is_none());
        let web = ListOptions { labels: LabelSelector::parse("tier=web").expect("selector"), ..ListOptions::default() };
        assert_eq!(store.list_now(&kind, &web).items.len(), 3);
        let by_name =
            ListOptions { fields: FieldSelector::parse("metadata.name=c1").expect("fields"), ..ListOptions::default() };
        assert_eq!(store.list_now(&kind, &by_name).items.len(), 1);
        assert_eq!(store.events_since("/configmaps", Some("a"), start).expect("history").len(), 5);
        store.compact();
        assert_eq!(store.events_since("/configmaps", Some("a"), start).expect_err("compacted").code(), 410);
    }

    #[test]
    fn deleting_an_owner_deletes_what_it_owns() {
        let mut store = Store::new();
        namespace(&mut store, "a");
        let kind = configmaps(&store);
        let owner = store.create(&kind, "a", json!({"metadata": {"name": "owner"}})).expect("owner");
        let uid = owner["metadata"]["uid"].clone();
        store
            .create(&kind, "a", json!({"metadata": {"name": "child", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}}))
            .expect("child");
        store.delete(&kind, "a", "owner").expect("delete");
        assert!(store.get(&kind, "a", "child").is_err());
    }
}
