//! The apiserver is stopped and restarted while a table is watched: the table must recover with
//! every change made around the outage, and no duplicate or lost rows. Uses its own control plane.

mod common;

use common::{TestCluster, row_names, sources_for, start_backend, wait_connected, wait_for};
use klieg::model::{ClusterId, Command, KindKey, ViewQuery, ViewStatus};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn table_recovers_after_apiserver_restart_without_duplicates_or_losses() {
    let cluster = TestCluster::start(false);
    cluster.kubectl(&["create", "namespace", "restart"]);
    for i in 0..5 {
        cluster.kubectl(&["create", "configmap", &format!("before-{i}"), "-n", "restart"]);
    }
    let handle = start_backend(sources_for(&[&cluster.kubeconfig]));
    wait_connected(&handle, "real-admin");
    handle.send(Command::SetView(ViewQuery {
        clusters: vec![ClusterId::new("real-admin")],
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
        namespaces: vec![Arc::from("restart")],
        ..ViewQuery::default()
    }));
    let wait = Duration::from_secs(60);
    wait_for(&handle.table, wait, "five configmaps", |t| (t.rows.len() == 5).then_some(()));

    cluster.run_script("stop-apiserver");
    wait_for(&handle.table, wait, "the table to report the outage", |t| {
        t.status.values().any(|s| matches!(s, ViewStatus::Error(_))).then_some(())
    });
    // Rows stay visible during the outage.
    assert_eq!(handle.table.borrow().rows.len(), 5);
    cluster.run_script("start-apiserver");
    cluster.kubectl(&["delete", "configmap", "before-0", "-n", "restart"]);
    for i in 0..3 {
        cluster.kubectl(&["create", "configmap", &format!("after-{i}"), "-n", "restart"]);
    }
    let expected: BTreeSet<String> = ["before-1", "before-2", "before-3", "before-4", "after-0", "after-1", "after-2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let table = wait_for(&handle.table, wait, "the table to converge after the restart", |t| {
        let names: BTreeSet<String> = row_names(t).into_iter().collect();
        (names == expected && t.status.values().all(|s| *s == ViewStatus::Live)).then(|| t.clone())
    });
    assert_eq!(table.rows.len(), expected.len(), "no duplicate rows: {:?}", row_names(&table));
}
