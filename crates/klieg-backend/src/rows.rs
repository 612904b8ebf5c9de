//! Turns the server's Table rows into `Row`s: typed cells, live ages and status tones.
//! Pure functions, called on the backend runtime.

use klieg_model::{Cell, CellTone, ClusterId, Column, ColumnType, ObjectKey, Row};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(serde::Deserialize, Debug, Clone)]
pub struct TableColumnDef {
    pub name: String,
    #[serde(default, rename = "type")]
    pub column_type: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: i32,
}

#[derive(serde::Deserialize, Debug, Default, Clone)]
pub struct MetaLite {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default, rename = "resourceVersion")]
    pub resource_version: Option<String>,
    #[serde(default, rename = "creationTimestamp")]
    pub creation_timestamp: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(serde::Deserialize, Debug, Default, Clone)]
pub struct ObjectLite {
    #[serde(default)]
    pub metadata: MetaLite,
    /// Present only when the watch asked for whole objects (`includeObject=Object`): kept as
    /// text until a column computes its cells from them, so a metadata watch pays nothing.
    #[serde(default)]
    pub spec: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub status: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub data: Option<Box<serde_json::value::RawValue>>,
}

impl ObjectLite {
    /// The object a column sees: its metadata (name, namespace, uid, labels, creation time),
    /// spec, status and data; `None` for a metadata-only row.
    fn for_columns(&self) -> Option<Arc<serde_json::Value>> {
        if self.spec.is_none() && self.status.is_none() && self.data.is_none() {
            return None;
        }
        let part = |raw: &Option<Box<serde_json::value::RawValue>>| {
            raw.as_ref().and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        };
        let meta = &self.metadata;
        Some(Arc::new(serde_json::json!({
            "metadata": {
                "name": meta.name, "namespace": meta.namespace, "uid": meta.uid,
                "labels": meta.labels, "creationTimestamp": meta.creation_timestamp,
            },
            "spec": part(&self.spec), "status": part(&self.status), "data": part(&self.data),
        })))
    }
}

#[derive(serde::Deserialize, Debug, Default, Clone)]
pub struct TableRowDoc {
    #[serde(default)]
    pub cells: Vec<serde_json::Value>,
    #[serde(default)]
    pub object: ObjectLite,
}

impl TableRowDoc {
    /// A row for a server that sent a plain object: the name is its only server cell.
    pub fn from_meta(metadata: MetaLite) -> Self {
        let name = metadata.name.clone().map(serde_json::Value::String).unwrap_or_default();
        Self { cells: vec![name, serde_json::Value::Null], object: ObjectLite { metadata, ..ObjectLite::default() } }
    }
}

/// Columns of a Table; for a plain list (no Table support) just Name and Age.
pub fn table_columns(definitions: Option<&[TableColumnDef]>, is_table: bool) -> Arc<[Column]> {
    let fallback = [
        TableColumnDef {
            name: "Name".into(),
            column_type: "string".into(),
            format: "name".into(),
            description: String::new(),
            priority: 0,
        },
        TableColumnDef {
            name: "Age".into(),
            column_type: "string".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
        },
    ];
    let definitions = match definitions {
        Some(defs) if is_table => defs,
        _ => &fallback[..],
    };
    definitions
        .iter()
        .map(|def| Column {
            name: Arc::from(def.name.as_str()),
            description: Arc::from(def.description.as_str()),
            column_type: ColumnType::from_openapi(&def.column_type, &def.format),
            priority: def.priority,
            is_age: def.name.eq_ignore_ascii_case("age"),
        })
        .collect()
}

/// Builds a row, or `None` for a row without a name (which the server never sends for real objects).
/// Shares the strings rows repeat (namespaces, statuses, node names, `<none>`, label keys and
/// values) so 100k rows do not hold 100k copies of `Running`. Entries no row uses any more are
/// dropped whenever the set has doubled since the last sweep. One per watch.
#[derive(Debug, Default)]
pub struct Interner {
    strings: std::collections::HashSet<Arc<str>>,
    sweep_at: usize,
}

impl Interner {
    /// Strings longer than this are rarely shared (messages, hashes) and are not interned.
    const MAX_LEN: usize = 64;

    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if text.len() > Self::MAX_LEN {
            return Arc::from(text);
        }
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        if self.strings.len() >= self.sweep_at.max(4096) {
            self.strings.retain(|s| Arc::strong_count(s) > 1);
            self.sweep_at = self.strings.len() * 2;
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(shared.clone());
        shared
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

pub fn row_from_table(
    cluster: &ClusterId,
    doc: TableRowDoc,
    columns: &[Column],
    interner: &mut Interner,
) -> Option<Row> {
    let object = doc.object.for_columns();
    let meta = doc.object.metadata;
    let name: Arc<str> = Arc::from(meta.name?.as_str());
    let created_unix_secs = meta.creation_timestamp.as_deref().and_then(parse_rfc3339_secs);
    let cells = doc
        .cells
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            // The name column repeats the key's name: one string for both.
            if let serde_json::Value::String(text) = &value
                && **text == *name
            {
                let tone = columns.get(index).map_or(CellTone::Normal, |c| tone_for(&c.name, text));
                return Cell::Text(name.clone(), tone);
            }
            match columns.get(index) {
                Some(column) => cell_from_json(column, value, created_unix_secs, interner),
                None => cell_from_json(&plain_column(), value, created_unix_secs, interner),
            }
        })
        .collect();
    Some(Row {
        key: ObjectKey {
            cluster: cluster.clone(),
            namespace: meta.namespace.as_deref().map(|ns| interner.intern(ns)),
            name,
        },
        uid: Arc::from(meta.uid.unwrap_or_default().as_str()),
        resource_version: Arc::from(meta.resource_version.unwrap_or_default().as_str()),
        cells,
        labels: meta
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (interner.intern(&k), interner.intern(&v)))
            .collect(),
        created_unix_secs,
        object,
    })
}

fn plain_column() -> Column {
    Column {
        name: Arc::from(""),
        description: Arc::from(""),
        column_type: ColumnType::Text,
        priority: 0,
        is_age: false,
    }
}

pub fn parse_rfc3339_secs(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>().ok().map(|ts| ts.as_second())
}

fn cell_from_json(
    column: &Column,
    value: serde_json::Value,
    created_unix_secs: Option<i64>,
    interner: &mut Interner,
) -> Cell {
    use serde_json::Value;
    if column.is_age {
        return created_unix_secs.map_or(Cell::Empty, Cell::Age);
    }
    match value {
        Value::Null => Cell::Empty,
        Value::Bool(b) => Cell::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Integer(i),
            None => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) if column.column_type == ColumnType::Date => {
            // CRD date columns arrive as timestamps; show them as an age like kubectl does.
            parse_rfc3339_secs(&s).map_or_else(|| Cell::Text(interner.intern(&s), CellTone::Normal), Cell::Age)
        }
        Value::String(s) => {
            let tone = tone_for(&column.name, &s);
            Cell::Text(interner.intern(&s), tone)
        }
        other => Cell::Text(Arc::from(other.to_string().as_str()), CellTone::Normal),
    }
}

/// Colours for the cells people scan for: pod, node and volume states, and `ready/total` counts.
pub fn tone_for(column_name: &str, value: &str) -> CellTone {
    // Compared in place: this runs for every cell of every watch event.
    let is = |name: &str| column_name.eq_ignore_ascii_case(name);
    match () {
        () if is("status") || is("phase") || is("state") => status_tone(value),
        // Event types: warnings stand out in the cluster-wide events table.
        () if is("type") && value == "Warning" => CellTone::Bad,
        () if is("ready") => match value.split_once('/') {
            Some((ready, total)) => match (ready.trim().parse::<u32>(), total.trim().parse::<u32>()) {
                (Ok(r), Ok(t)) if r == t && t > 0 => CellTone::Good,
                (Ok(_), Ok(0)) => CellTone::Normal,
                (Ok(_), Ok(_)) => CellTone::Warning,
                _ => CellTone::Normal,
            },
            None => status_tone(value),
        },
        _ => CellTone::Normal,
    }
}

fn status_tone(value: &str) -> CellTone {
    const BAD: [&str; 14] = [
        "CrashLoopBackOff",
        "Error",
        "Failed",
        "NotReady",
        "Evicted",
        "ImagePullBackOff",
        "ErrImagePull",
        "OOMKilled",
        "Unknown",
        "Lost",
        "False",
        "CreateContainerConfigError",
        "InvalidImageName",
        "BackoffLimitExceeded",
    ];
    const GOOD: [&str; 8] = ["Running", "Ready", "Active", "Bound", "Succeeded", "Completed", "True", "Available"];
    let first = value.split(',').next().unwrap_or(value).trim();
    if BAD.iter().any(|b| first.eq_ignore_ascii_case(b))
        || first.starts_with("Init:Error")
        || first.starts_with("Init:Crash")
    {
        CellTone::Bad
    } else if GOOD.iter().any(|g| first.eq_ignore_ascii_case(g)) && !value.contains("SchedulingDisabled") {
        CellTone::Good
    } else if first.is_empty() {
        CellTone::Normal
    } else {
        CellTone::Warning
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_table_json() -> serde_json::Value {
        serde_json::json!({
            "kind": "Table",
            "columnDefinitions": [
                {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
                {"name": "Ready", "type": "string", "format": "", "description": "", "priority": 0},
                {"name": "Status", "type": "string", "format": "", "description": "", "priority": 0},
                {"name": "Restarts", "type": "integer", "format": "", "description": "", "priority": 0},
                {"name": "Age", "type": "string", "format": "", "description": "", "priority": 0},
                {"name": "Node", "type": "string", "format": "", "description": "", "priority": 1}
            ],
            "rows": [{
                "cells": ["web-1", "1/2", "CrashLoopBackOff", 7, "3m", "node-a"],
                "object": {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                    "resourceVersion": "42", "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": "web"}}}
            }]
        })
    }

    #[test]
    fn table_rows_become_typed_cells() {
        let doc = pod_table_json();
        let defs: Vec<TableColumnDef> = serde_json::from_value(doc["columnDefinitions"].clone()).expect("defs");
        let columns = table_columns(Some(&defs), true);
        assert_eq!(columns.len(), 6);
        assert!(columns[4].is_age);
        let row_doc: TableRowDoc = serde_json::from_value(doc["rows"][0].clone()).expect("row");
        let mut interner = Interner::default();
        let row = row_from_table(&ClusterId::new("c1"), row_doc.clone(), &columns, &mut interner).expect("named row");
        assert_eq!(&*row.key.name, "web-1");
        assert_eq!(row.key.namespace.as_deref(), Some("shop"));
        assert_eq!(row.cells[1], Cell::Text(Arc::from("1/2"), CellTone::Warning));
        assert_eq!(row.cells[2], Cell::Text(Arc::from("CrashLoopBackOff"), CellTone::Bad));
        assert_eq!(row.cells[3], Cell::Integer(7));
        let created = parse_rfc3339_secs("2026-01-01T00:00:00Z").expect("timestamp");
        assert_eq!(row.cells[4], Cell::Age(created));
        assert_eq!(row.labels.get("app").map(|v| &**v), Some("web"));
        assert!(matches!(&row.cells[0], Cell::Text(name, _) if Arc::ptr_eq(name, &row.key.name)), "one name string");
        // A second row shares the repeated strings with the first.
        let again = row_from_table(&ClusterId::new("c1"), row_doc, &columns, &mut interner).expect("row");
        let shared = |a: &Cell, b: &Cell| matches!((a, b), (Cell::Text(x, _), Cell::Text(y, _)) if Arc::ptr_eq(x, y));
        assert!(shared(&row.cells[2], &again.cells[2]), "statuses are interned");
        let (Some(first_ns), Some(second_ns)) = (&row.key.namespace, &again.key.namespace) else {
            panic!("namespaced")
        };
        assert!(Arc::ptr_eq(first_ns, second_ns), "namespaces are interned");
    }

    #[test]
    fn whole_objects_reach_columns_and_metadata_rows_carry_none() {
        let doc = pod_table_json();
        let defs: Vec<TableColumnDef> = serde_json::from_value(doc["columnDefinitions"].clone()).expect("defs");
        let columns = table_columns(Some(&defs), true);
        let mut interner = Interner::default();
        let metadata_only: TableRowDoc = serde_json::from_value(doc["rows"][0].clone()).expect("row");
        let row = row_from_table(&ClusterId::new("c1"), metadata_only, &columns, &mut interner).expect("row");
        assert!(row.object.is_none(), "a metadata watch carries no object");
        let mut whole = doc["rows"][0].clone();
        whole["object"]["spec"] = serde_json::json!({ "nodeName": "n1" });
        whole["object"]["status"] = serde_json::json!({ "phase": "Running" });
        let whole: TableRowDoc = serde_json::from_value(whole).expect("row");
        let row = row_from_table(&ClusterId::new("c1"), whole, &columns, &mut interner).expect("row");
        let object = row.object.expect("the object for columns");
        assert_eq!(object["spec"]["nodeName"], "n1");
        assert_eq!(object["status"]["phase"], "Running");
        assert_eq!(object["metadata"]["name"], "web-1");
        assert_eq!(object["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn the_interner_forgets_strings_no_row_holds() {
        let mut interner = Interner::default();
        let kept = interner.intern("Running");
        for i in 0..10_000 {
            drop(interner.intern(&format!("10.0.{}.{}", i / 250, i % 250)));
        }
        assert!(interner.len() < 4200, "swept: {}", interner.len());
        assert!(Arc::ptr_eq(&kept, &interner.intern("Running")), "a held string stays shared");
        let long = "x".repeat(100);
        assert!(!Arc::ptr_eq(&interner.intern(&long), &interner.intern(&long)), "long strings are not interned");
    }

    #[test]
    fn tones_for_common_states() {
        assert_eq!(tone_for("Status", "Running"), CellTone::Good);
        assert_eq!(tone_for("Status", "Pending"), CellTone::Warning);
        assert_eq!(tone_for("Status", "Ready,SchedulingDisabled"), CellTone::Warning);
        assert_eq!(tone_for("Status", "NotReady"), CellTone::Bad);
        assert_eq!(tone_for("READY", "3/3"), CellTone::Good);
        assert_eq!(tone_for("Ready", "0/0"), CellTone::Normal);
        assert_eq!(tone_for("Type", "ClusterIP"), CellTone::Normal);
        assert_eq!(tone_for("Type", "Warning"), CellTone::Bad);
        assert_eq!(tone_for("Type", "Normal"), CellTone::Normal);
    }
}
