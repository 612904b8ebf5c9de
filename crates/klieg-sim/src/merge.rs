//! Strategic merge patch (lists merged by their Kubernetes merge keys, `$patch` directives) and
//! server-side apply's field ownership (`managedFields` in the FieldsV1 form, conflicts between
//! managers, removal of fields a manager stops applying). Pure functions, called by the store.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The merge key of a list field, as the Kubernetes API types declare it (`patchMergeKey`).
/// `None`: the list is atomic and replaced whole.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "readinessGates" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        // Container ports merge by containerPort, Service ports by port.
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    };
    Some(key)
}

/// Lists of scalars that merge as sets.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch to `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if patch_map.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        if let Some(map) = replacement.as_object_mut() {
            map.remove("$patch");
        }
        *target = replacement;
        return;
    }
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(target_map) = target else { return };
    if let Some(keep) = patch_map.get("$retainKeys").and_then(Value::as_array) {
        let keep: BTreeSet<&str> = keep.iter().filter_map(Value::as_str).collect();
        target_map.retain(|k, _| keep.contains(k.as_str()));
    }
    for (key, value) in patch_map {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" || key == "$patch" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (target_map.get_mut(field), value.as_array()) {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Object(inner) if inner.get("$patch").and_then(Value::as_str) == Some("delete") => {
                target_map.remove(key);
            }
            Value::Array(items) => {
                let current = target_map.remove(key);
                target_map.insert(key.clone(), merge_list(key, current, items));
            }
            Value::Object(_) => strategic_merge(target_map.entry(key.clone()).or_insert(Value::Null), value),
            scalar => {
                target_map.insert(key.clone(), scalar.clone());
            }
        }
    }
}

fn merge_list(field: &str, current: Option<Value>, items: &[Value]) -> Value {
    let mut list = match current {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    if is_set_list(field) {
        for item in items {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
        return Value::Array(list);
    }
    if items.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        return Value::Array(items.iter().filter(|i| i.get("$patch").is_none()).cloned().collect());
    }
    let Some(key) = merge_key(field, if list.is_empty() { items } else { &list }) else {
        return Value::Array(items.to_vec());
    };
    // As the apiserver orders a merge without `$setElementOrder`: the patch's items in patch
    // order, then the items only the server had, in server order.
    let mut merged = Vec::with_capacity(list.len() + items.len());
    for item in items {
        let id = item.get(key);
        let position = list.iter().position(|existing| existing.get(key) == id && id.is_some());
        let existing = position.map(|index| list.remove(index));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            continue;
        }
        let mut target = existing.unwrap_or(Value::Null);
        strategic_merge(&mut target, item);
        merged.push(target);
    }
    merged.extend(list);
    let list = merged;
    Value::Array(list)
}

/// One step of a field path: a map field, or a list element named by its merge key.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Field(String),
    Key(String, Value),
}

/// A path to a leaf field.
pub type FieldPath = Vec<Step>;

impl Eq for Step {}

impl Ord for Step {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (Step::Field(a), Step::Field(b)) => a.cmp(b),
            (Step::Field(_), Step::Key(..)) => std::cmp::Ordering::Less,
            (Step::Key(..), Step::Field(_)) => std::cmp::Ordering::Greater,
            (Step::Key(a, x), Step::Key(b, y)) => a.cmp(b).then_with(|| x.to_string().cmp(&y.to_string())),
        }
    }
}

impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The leaf fields `value` sets, skipping identity and bookkeeping metadata.
pub fn leaves(value: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    collect_leaves(value, &mut Vec::new(), &mut out);
    out.retain(|path| match path.as_slice() {
        [Step::Field(top), ..] if matches!(top.as_str(), "apiVersion" | "kind") => false,
        [Step::Field(meta), Step::Field(field), ..] if meta == "metadata" => !matches!(
            field.as_str(),
            "name" | "namespace" | "uid" | "resourceVersion" | "creationTimestamp" | "managedFields" | "generation"
        ),
        _ => true,
    });
    out
}

fn collect_leaves(value: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(Step::Field(key.clone()));
                collect_leaves(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let field = match prefix.last() {
                Some(Step::Field(field)) => field.clone(),
                _ => String::new(),
            };
            match merge_key(&field, items) {
                Some(key) if items.iter().all(|i| i.get(key).is_some()) => {
                    for item in items {
                        prefix.push(Step::Key(key.to_string(), item[key].clone()));
                        collect_leaves(item, prefix, out);
                        prefix.pop();
                    }
                }
                _ => {
                    out.insert(prefix.clone());
                }
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The value at `path`, if present.
pub fn value_at<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut current = value;
    for step in path {
        current = match step {
            Step::Field(field) => current.get(field)?,
            Step::Key(key, id) => current.as_array()?.iter().find(|item| item.get(key) == Some(id))?,
        };
    }
    Some(current)
}

/// Removes the field at `path`, and list elements or maps it leaves empty.
pub fn remove_at(value: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut current = &mut *value;
    for step in parents {
        let next = match step {
            Step::Field(field) => current.get_mut(field),
            Step::Key(key, id) => current.as_array_mut().and_then(|a| a.iter_mut().find(|i| i.get(key) == Some(id))),
        };
        let Some(next) = next else { return };
        current = next;
    }
    match last {
        Step::Field(field) => {
            if let Some(map) = current.as_object_mut() {
                map.remove(field);
            }
        }
        Step::Key(key, id) => {
            if let Some(list) = current.as_array_mut() {
                list.retain(|i| i.get(key) != Some(id));
            }
        }
    }
}

/// FieldsV1 JSON (`{"f:spec": {"f:replicas": {}}}`) for a set of leaf paths.
pub fn to_fields_v1(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in paths {
        let mut node = &mut root;
        for step in path {
            let name = match step {
                Step::Field(field) => format!("f:{field}"),
                Step::Key(key, id) => format!("k:{}", json!({key: id})),
            };
            let is_key = matches!(step, Step::Key(..));
            let child = node.entry(name).or_insert_with(|| json!({}));
            if is_key && let Some(map) = child.as_object_mut() {
                map.entry(".").or_insert_with(|| json!({}));
            }
            let Some(map) = child.as_object_mut() else { break };
            node = map;
        }
    }
    Value::Object(root)
}

/// The leaf paths of FieldsV1 JSON.
pub fn from_fields_v1(fields: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    walk_fields(fields, &mut Vec::new(), &mut out);
    out
}

fn walk_fields(node: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    let Some(map) = node.as_object() else { return };
    let children: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if children.is_empty() {
        if !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        return;
    }
    for (name, child) in children {
        let step = if let Some(field) = name.strip_prefix("f:") {
            Step::Field(field.to_string())
        } else if let Some(key) = name.strip_prefix("k:") {
            match serde_json::from_str::<Map<String, Value>>(key).ok().and_then(|m| m.into_iter().next()) {
                Some((key, id)) => Step::Key(key, id),
                None => continue,
            }
        } else {
            continue;
        };
        prefix.push(step);
        walk_fields(child, prefix, out);
        prefix.pop();
    }
}

/// `.spec.containers[name="web"].image`, as conflict messages print paths.
pub fn display_path(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Step::Field(field) => format!(".{field}"),
            Step::Key(key, id) => format!("[{key}={id}]"),
        })
        .collect()
}

/// Each manager's owned leaves, read from `metadata.managedFields`.
pub fn managers_of(object: &Value) -> BTreeMap<(String, String), BTreeSet<FieldPath>> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let manager = entry["manager"].as_str()?.to_string();
            let operation = entry["operation"].as_str().unwrap_or("Update").to_string();
            Some(((manager, operation), from_fields_v1(&entry["fieldsV1"])))
        })
        .collect()
}

/// Writes managers back into `metadata.managedFields`, dropping those that own nothing.
pub fn set_managers(object: &mut Value, managers: &BTreeMap<(String, String), BTreeSet<FieldPath>>, api_version: &str) {
    let now = super::store::now_rfc3339();
    let entries: Vec<Value> = managers
        .iter()
        .filter(|(_, fields)| !fields.is_empty())
        .map(|((manager, operation), fields)| {
            json!({"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
                "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(fields)})
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Records an update by `manager`: it now owns every leaf whose value it changed, and the
/// others lose those leaves.
pub fn record_update(before: Option<&Value>, after: &mut Value, manager: &str, api_version: &str) {
    let mut managers = before.map(managers_of).unwrap_or_default();
    let changed: BTreeSet<FieldPath> = leaves(after)
        .into_iter()
        .filter(|path| !matches!(path.first(), Some(Step::Field(f)) if f == "status"))
        .filter(|path| before.and_then(|b| value_at(b, path)) != value_at(after, path))
        .collect();
    if changed.is_empty() && before.is_some() {
        set_managers(after, &managers, api_version);
        return;
    }
    for fields in managers.values_mut() {
        fields.retain(|p| !changed.contains(p));
    }
    managers.entry((manager.to_string(), "Update".into())).or_default().extend(changed);
    set_managers(after, &managers, api_version);
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub path: String,
}

/// Server-side apply of `config` by `manager` onto `current` (None: create). Returns the new
/// object, or the conflicts when `force` is off.
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
) -> Result<Value, Vec<Conflict>> {
    let mut managers = current.map(managers_of).unwrap_or_default();
    let applied = leaves(config);
    let me = (manager.to_string(), "Apply".to_string());
    let mut conflicts = Vec::new();
    if let Some(current) = current {
        for (owner, fields) in managers.iter_mut().filter(|(owner, _)| **owner != me) {
            let contested: Vec<FieldPath> = applied
                .iter()
                .filter(|p| fields.contains(*p) && value_at(current, p) != value_at(config, p))
                .cloned()
                .collect();
            if force {
                fields.retain(|p| !contested.contains(p));
            } else {
                conflicts
                    .extend(contested.iter().map(|p| Conflict { manager: owner.0.clone(), path: display_path(p) }));
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let mut object = current.cloned().unwrap_or_else(|| json!({}));
    // Fields this manager applied before and no longer applies go, unless someone else owns them.
    let previously = managers.remove(&me).unwrap_or_default();
    let others: BTreeSet<&FieldPath> = managers.values().flatten().collect();
    let mut dropped: Vec<&FieldPath> =
        previously.iter().filter(|p| !applied.contains(*p) && !others.contains(p)).collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in dropped {
        remove_at(&mut object, path);
        // Maps left empty go too.
        for end in (1..path.len()).rev() {
            if value_at(&object, &path[..end]).is_some_and(|v| v.as_object().is_some_and(Map::is_empty)) {
                remove_at(&mut object, &path[..end]);
            }
        }
    }
    strategic_merge(&mut object, config);
    managers.insert(me, applied);
    set_managers(&mut object, &managers, api_version);
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merge_merges_lists_by_key_and_obeys_directives() {
        let mut pod = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [
            {"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "envoy:1"}], "tolerations": [{"key": "x"}]}});
        strategic_merge(
            &mut pod,
            &json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [
                {"name": "web", "image": "web:2", "env": [{"name": "B", "value": "2"}]},
                {"name": "sidecar", "$patch": "delete"},
                {"name": "debug", "image": "busybox"}], "tolerations": [{"key": "y"}]}}),
        );
        assert_eq!(pod["metadata"]["finalizers"], json!(["a", "b"]));
        let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["web", "debug"]);
        assert_eq!(containers[0]["image"], "web:2");
        assert_eq!(containers[0]["env"], json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]));
        assert_eq!(pod["spec"]["tolerations"], json!([{"key": "y"}]), "lists without a merge key are replaced");
        strategic_merge(&mut pod, &json!({"spec": {"$patch": "replace", "containers": []}}));
        assert_eq!(pod["spec"], json!({"containers": []}));
    }

    #[test]
    fn fields_v1_round_trips() {
        let object =
            json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}});
        let paths = leaves(&object);
        let fields = to_fields_v1(&paths);
        assert!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:image"].is_object()
        );
        assert_eq!(from_fields_v1(&fields), paths);
    }

    #[test]
    fn apply_owns_fields_conflicts_with_other_managers_and_drops_what_it_stops_applying() {
        let config =
            json!({"metadata": {"name": "d", "labels": {"team": "a"}}, "spec": {"replicas": 2, "paused": false}});
        let created = apply(None, &config, "ci", false, "apps/v1").expect("created");
        assert_eq!(created["spec"]["replicas"], 2);
        // Someone scales by hand: they now own replicas.
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&created), &mut scaled, "kubectl-scale", "apps/v1");
        // Re-applying the old value conflicts; the same value would not.
        let conflicts = apply(Some(&scaled), &config, "ci", false, "apps/v1").expect_err("conflict");
        assert_eq!(conflicts, vec![Conflict { manager: "kubectl-scale".into(), path: ".spec.replicas".into() }]);
        let forced = apply(Some(&scaled), &config, "ci", true, "apps/v1").expect("forced");
        assert_eq!(forced["spec"]["replicas"], 2);
        // Dropping `paused` and the label from the config removes them.
        let smaller = json!({"metadata": {"name": "d"}, "spec": {"replicas": 2}});
        let applied = apply(Some(&forced), &smaller, "ci", false, "apps/v1").expect("applied");
        assert!(applied["spec"].get("paused").is_none() && applied["metadata"].get("labels").is_none(), "{applied}");
        assert_eq!(managers_of(&applied).len(), 1, "kubectl-scale lost its only field: {applied}");
    }
}
