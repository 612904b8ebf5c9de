//! Merges the subscriptions of a table view (one per cluster), filters and sorts them into the
//! `TableSnapshot` the UI draws. Pure functions; called off the UI thread.

use super::ingest::SubscriptionRows;
use klieg_model::{
    ClusterId, Column, LabelSelector, ResourceKind, Row, SortColumn, TableSnapshot, ViewQuery, ViewStatus,
    row::natural_cmp,
};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One cluster's part of a view: its rows if subscribed, and its status either way.
pub struct ViewPart {
    pub cluster: ClusterId,
    pub rows: Option<Arc<SubscriptionRows>>,
    pub status: ViewStatus,
    /// Pod or node usage from metrics-server, where the cluster serves it.
    pub usage: Option<Arc<klieg_model::UsageTable>>,
}

pub fn build_view(query: &ViewQuery, kind: Option<ResourceKind>, parts: &[ViewPart], generation: u64) -> TableSnapshot {
    let mut columns: Vec<Column> = Vec::new();
    let mut column_maps = BTreeMap::new();
    let mut status = BTreeMap::new();
    for part in parts {
        // A cluster watched in several namespaces shows the part that is not live, if any.
        let shown = status.entry(part.cluster.clone()).or_insert_with(|| part.status.clone());
        if *shown == ViewStatus::Live {
            *shown = part.status.clone();
        }
        let Some(rows) = &part.rows else { continue };
        let mut map = vec![None; columns.len()];
        for (index, column) in rows.columns.iter().enumerate() {
            match columns.iter().position(|c| c.name == column.name) {
                Some(position) => map[position] = Some(index),
                None => {
                    columns.push(column.clone());
                    map.push(Some(index));
                }
            }
        }
        column_maps.insert(part.cluster.clone(), map);
    }
    // Maps made before later clusters added columns are padded to the final width.
    let column_maps: BTreeMap<ClusterId, Arc<[Option<usize>]>> = column_maps
        .into_iter()
        .map(|(cluster, mut map)| {
            map.resize(columns.len(), None);
            (cluster, Arc::from(map))
        })
        .collect();

    let selector = LabelSelector::parse(&query.label_selector).unwrap_or_default();
    let needle = query.text_filter.trim().to_ascii_lowercase();
    let namespaced = kind.as_ref().is_none_or(ResourceKind::is_namespaced);
    let in_namespaces = |row: &&Arc<Row>| {
        !namespaced
            || query.namespaces.is_empty()
            || row.key.namespace.as_ref().is_some_and(|ns| query.namespaces.contains(ns))
    };
    let mut unfiltered_rows = 0;
    let mut rows: Vec<Arc<Row>> = Vec::new();
    for part in parts {
        let Some(part_rows) = &part.rows else { continue };
        for row in part_rows.rows.iter().filter(in_namespaces) {
            unfiltered_rows += 1;
            if (selector.is_empty() || selector.matches(&row.labels))
                && (needle.is_empty() || row_contains(row, &needle))
            {
                rows.push(row.clone());
            }
        }
    }

    // Usage columns follow the server's when any cluster in the view has metrics.
    let usage: BTreeMap<ClusterId, Arc<klieg_model::UsageTable>> =
        parts.iter().filter_map(|p| Some((p.cluster.clone(), p.usage.clone()?))).collect();
    let usage_from = usage.values().next().map(|table| {
        let from = columns.len();
        columns.extend(table.columns.iter().cloned());
        from
    });
    let mut snapshot = TableSnapshot {
        generation,
        kind,
        columns: Arc::from(columns),
        column_maps,
        rows: Arc::from(Vec::new()),
        status,
        unfiltered_rows,
        usage_from,
        usage,
    };
    sort_rows(&mut rows, &snapshot, query.sort, query.sort_descending);
    snapshot.rows = Arc::from(rows);
    snapshot
}

/// Case-insensitive match against name, namespace and text cells; `needle` is lowercase.
fn row_contains(row: &Row, needle: &str) -> bool {
    let hit = |text: &str| contains_ignore_ascii_case(text, needle);
    hit(&row.key.name)
        || row.key.namespace.as_deref().is_some_and(hit)
        || row.cells.iter().any(|cell| matches!(cell, klieg_model::Cell::Text(text, _) if hit(text)))
}

fn contains_ignore_ascii_case(haystack: &str, lowercase_needle: &str) -> bool {
    let needle = lowercase_needle.as_bytes();
    if needle.len() > haystack.len() {
        return false;
    }
    haystack.as_bytes().windows(needle.len()).any(|window| window.eq_ignore_ascii_case(needle))
}

/// Sorts with each row's key looked up once (decorate, sort, undecorate): a comparison then costs
/// one key compare, not two column-map lookups.
fn sort_rows(rows: &mut Vec<Arc<Row>>, snapshot: &TableSnapshot, sort: SortColumn, descending: bool) {
    let by_name = |a: &Row, b: &Row| {
        natural_cmp(&a.key.name, &b.key.name)
            .then_with(|| a.key.namespace.cmp(&b.key.namespace))
            .then_with(|| a.key.cluster.cmp(&b.key.cluster))
    };
    let direction = |order: Ordering| if descending { order.reverse() } else { order };
    match sort {
        SortColumn::Name => rows.sort_unstable_by(|a, b| direction(by_name(a, b))),
        SortColumn::Cluster => {
            rows.sort_unstable_by(|a, b| direction(a.key.cluster.cmp(&b.key.cluster).then_with(|| by_name(a, b))))
        }
        SortColumn::Namespace => {
            rows.sort_unstable_by(|a, b| direction(a.key.namespace.cmp(&b.key.namespace).then_with(|| by_name(a, b))))
        }
        SortColumn::Column(column) => {
            let mut keyed: Vec<(klieg_model::SortKey<'_>, &Arc<Row>)> =
                rows.iter().map(|row| (snapshot.cell(row, column).sort_key(), row)).collect();
            keyed.sort_unstable_by(|(ka, a), (kb, b)| direction(ka.compare(kb).then_with(|| by_name(a, b))));
            let sorted: Vec<Arc<Row>> = keyed.into_iter().map(|(_, row)| row.clone()).collect();
            *rows = sorted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klieg_model::{Cell, CellTone, ColumnType, ObjectKey};

    fn column(name: &str) -> Column {
        Column {
            name: Arc::from(name),
            description: Arc::from(""),
            column_type: ColumnType::Text,
            priority: 0,
            is_age: false,
        }
    }

    fn row(cluster: &str, ns: &str, name: &str, cells: &[Cell], labels: &[(&str, &str)]) -> Arc<Row> {
        Arc::new(Row {
            key: ObjectKey { cluster: ClusterId::new(cluster), namespace: Some(Arc::from(ns)), name: Arc::from(name) },
            uid: Arc::from(name),
            resource_version: Arc::from("1"),
            cells: cells.to_vec().into_boxed_slice(),
            labels: labels.iter().map(|(k, v)| (Arc::from(*k), Arc::from(*v))).collect(),
            created_unix_secs: None,
            object: None,
        })
    }

    fn text(value: &str) -> Cell {
        Cell::Text(Arc::from(value), CellTone::Normal)
    }

    fn part(cluster: &str, columns: &[&str], rows: Vec<Arc<Row>>) -> ViewPart {
        ViewPart {
            cluster: ClusterId::new(cluster),
            rows: Some(Arc::new(SubscriptionRows {
                generation: 1,
                columns: columns.iter().map(|c| column(c)).collect(),
                rows: Arc::from(rows),
                status: ViewStatus::Live,
            })),
            status: ViewStatus::Live,
            usage: None,
        }
    }

    #[test]
    fn merges_clusters_with_different_columns() {
        let parts = [
            part("a", &["Name", "Status"], vec![row("a", "ns", "p1", &[text("p1"), text("Running")], &[])]),
            part(
                "b",
                &["Name", "Extra", "Status"],
                vec![row("b", "ns", "p2", &[text("p2"), text("x"), text("Pending")], &[])],
            ),
        ];
        let view = build_view(&ViewQuery::default(), None, &parts, 1);
        let names: Vec<&str> = view.columns.iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Status", "Extra"]);
        assert!(view.show_cluster_column());
        let p2 = view.rows.iter().find(|r| &*r.key.name == "p2").expect("p2");
        assert_eq!(view.cell(p2, 1), &text("Pending"));
        assert_eq!(view.cell(p2, 2), &text("x"));
        let p1 = view.rows.iter().find(|r| &*r.key.name == "p1").expect("p1");
        assert_eq!(view.cell(p1, 2), &Cell::Empty);
    }

    #[test]
    fn filters_by_namespace_text_and_labels_then_sorts() {
        let parts = [part(
            "a",
            &["Name", "Restarts"],
            vec![
                row("a", "shop", "web-10", &[text("web-10"), Cell::Integer(3)], &[("app", "web"), ("tier", "front")]),
                row("a", "shop", "web-9", &[text("web-9"), Cell::Integer(12)], &[("app", "web")]),
                row("a", "shop", "db-0", &[text("db-0"), Cell::Integer(0)], &[("app", "db"), ("tier", "db")]),
                row("a", "kube-system", "web-1", &[text("web-1"), Cell::Integer(1)], &[("app", "web")]),
            ],
        )];
        let mut query = ViewQuery { namespaces: vec![Arc::from("shop")], ..ViewQuery::default() };
        let view = build_view(&query, None, &parts, 1);
        let names: Vec<&str> = view.rows.iter().map(|r| &*r.key.name).collect();
        assert_eq!(names, ["db-0", "web-9", "web-10"], "natural order by name");
        assert_eq!(view.unfiltered_rows, 3, "rows in the selected namespaces");

        query.label_selector = "app=web,tier!=db".into();
        query.sort = SortColumn::Column(1);
        query.sort_descending = true;
        let view = build_view(&query, None, &parts, 2);
        let names: Vec<&str> = view.rows.iter().map(|r| &*r.key.name).collect();
        assert_eq!(names, ["web-9", "web-10"]);

        query.text_filter = "WEB-1".into();
        let view = build_view(&query, None, &parts, 3);
        let names: Vec<&str> = view.rows.iter().map(|r| &*r.key.name).collect();
        assert_eq!(names, ["web-10"]);
    }
}
