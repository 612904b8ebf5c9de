//! Fleet behaviour against the simulator, each test on its own simulated cluster: the offline
//! cache with the cluster taken offline, live / paused / off per cluster, and initial lists
//! under the per-cluster concurrency limit.

use crate::common::relay::Relay;
use crate::common::{ApiServer, SimServer, files_under, row_names, start_backend, wait_connected, wait_for};
use klieg::backend::kubeconfig::KubeconfigSources;
use klieg::model::{ClusterId, ClusterMode, ClusterState, Command, KindKey, ViewQuery, ViewStatus};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn sources(kubeconfig: &Path, cache: &Path) -> KubeconfigSources {
    KubeconfigSources {
        explicit: vec![kubeconfig.to_path_buf()],
        offline_cache: Some(cache.to_path_buf()),
        ..KubeconfigSources::default()
    }
}

fn configmaps_in(cluster: &str, namespace: &str) -> ViewQuery {
    ViewQuery {
        clusters: vec![ClusterId::new(cluster)],
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("configmaps") }),
        namespaces: vec![Arc::from(namespace)],
        ..ViewQuery::default()
    }
}

fn sorted_names(table: &klieg::model::TableSnapshot) -> Vec<String> {
    let mut names = row_names(table);
    names.sort();
    names
}

#[test]
fn an_offline_cluster_shows_its_cached_rows_marked_stale_until_the_watch_resyncs() {
    let server = SimServer::start();
    let context = server.admin_context().to_string();
    server.kubectl(&["create", "namespace", "cached"]);
    for name in ["one", "two", "three"] {
        server.kubectl(&["create", "configmap", name, "-n", "cached"]);
    }
    server.kubectl(&[
        "create",
        "secret",
        "generic",
        "vault",
        "-n",
        "cached",
        "--from-literal=key=cache-must-not-hold-this",
    ]);
    let cache = tempfile::tempdir().expect("tempdir");

    // First run: the rows and the cluster's kinds reach the cache.
    let handle = start_backend(sources(server.kubeconfig(), cache.path()));
    wait_connected(&handle, &context);
    handle.table.ask(Some(configmaps_in(&context, "cached")));
    wait_for(&handle.table.snapshots, WAIT, "three live configmaps", |t| {
        (sorted_names(t) == ["one", "three", "two"] && t.status.values().all(|s| *s == ViewStatus::Live)).then_some(())
    });
    let secrets = ViewQuery {
        kind: Some(KindKey { group: Arc::from(""), plural: Arc::from("secrets") }),
        ..configmaps_in(&context, "cached")
    };
    handle.table.ask(Some(secrets));
    wait_for(&handle.table.snapshots, WAIT, "the secret's row", |t| {
        row_names(t).contains(&"vault".to_string()).then_some(())
    });
    // Written off the runtime (whole files, flushed to disk): under a loaded CI machine that can
    // take a while.
    let deadline = std::time::Instant::now() + 2 * WAIT;
    let saved = |files: &[std::path::PathBuf]| {
        files.len() >= 3
            && files.iter().any(|f| {
                f.ends_with("cluster.json") && std::fs::read_to_string(f).is_ok_and(|t| t.contains("\"cached\""))
            })
    };
    while !saved(&files_under(cache.path())) {
        assert!(std::time::Instant::now() < deadline, "cache files: {:?}", files_under(cache.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(handle);
    for file in files_under(cache.path()) {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(!text.contains("cache-must-not-hold-this"), "{} holds a Secret value", file.display());
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode("cache-must-not-hold-this");
        assert!(!text.contains(&encoded), "{} holds a Secret value", file.display());
    }

    // A change the cache has not seen, then the cluster goes away.
    server.kubectl(&["create", "configmap", "late", "-n", "cached"]);
    server.stop_apiserver();

    let started = std::time::Instant::now();
    let handle = start_backend(sources(server.kubeconfig(), cache.path()));
    handle.table.ask(Some(configmaps_in(&context, "cached")));
    let status = wait_for(&handle.table.snapshots, WAIT, "the cached rows", |t| {
        (sorted_names(t) == ["one", "three", "two"]).then(|| t.status.get(&ClusterId::new(&context)).cloned())
    });
    let shown_after = started.elapsed();
    assert!(matches!(status, Some(ViewStatus::Stale { .. })), "{status:?}");
    let fleet = handle.fleet.borrow().clone();
    let cluster = fleet.cluster(&ClusterId::new(&context)).expect("cluster");
    assert!(!matches!(cluster.state, ClusterState::Connected { .. }), "{:?}", cluster.state);
    assert!(cluster.kinds.iter().any(|k| &*k.plural == "configmaps"), "kinds come from the cache");
    assert!(cluster.namespaces.iter().any(|n| &**n == "cached"), "namespaces come from the cache");
    eprintln!("cached rows shown {shown_after:?} after the backend started, cluster unreachable");

    // Back online: the watch lists and its rows replace the copy.
    server.start_apiserver();
    wait_for(&handle.table.snapshots, WAIT, "live rows after the resync", |t| {
        (sorted_names(t) == ["late", "one", "three", "two"] && t.status.values().all(|s| *s == ViewStatus::Live))
            .then_some(())
    });
}

#[test]
fn paused_clusters_freeze_their_tables_and_off_clusters_hold_no_connection() {
    let server = SimServer::start();
    let context = server.admin_context().to_string();
    let id = ClusterId::new(&context);
    server.kubectl(&["create", "namespace", "modes"]);
    server.kubectl(&["create", "configmap", "before", "-n", "modes"]);
    let relay = Relay::forward_to(server.server_url().trim_start_matches("https://"));
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("relayed.yaml");
    let text = std::fs::read_to_string(server.kubeconfig())
        .expect("kubeconfig")
        .replace(&server.server_url(), &format!("https://127.0.0.1:{}", relay.port));
    std::fs::write(&kubeconfig, text).expect("write");
    let handle = start_backend(sources(&kubeconfig, &dir.path().join("cache")));
    wait_connected(&handle, &context);
    handle.table.ask(Some(configmaps_in(&context, "modes")));
    wait_for(&handle.table.snapshots, WAIT, "the live table", |t| (sorted_names(t) == ["before"]).then_some(()));

    let set_mode = |mode| handle.send(Command::SetClusterModes(BTreeMap::from([(id.clone(), mode)])));
    set_mode(ClusterMode::Paused);
    wait_for(&handle.table.snapshots, WAIT, "the paused table", |t| {
        (t.status.get(&id) == Some(&ViewStatus::Paused) && sorted_names(t) == ["before"]).then_some(())
    });
    server.kubectl(&["create", "configmap", "while-paused", "-n", "modes"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sorted_names(&handle.table.snapshots.borrow()), ["before"], "a paused table does not change");
    assert_eq!(handle.fleet.borrow().cluster(&id).map(|c| c.mode), Some(ClusterMode::Paused));

    set_mode(ClusterMode::Live);
    wait_for(&handle.table.snapshots, WAIT, "the table live again", |t| {
        (sorted_names(t) == ["before", "while-paused"] && t.status.get(&id) == Some(&ViewStatus::Live)).then_some(())
    });

    set_mode(ClusterMode::Off);
    wait_for(&handle.fleet, WAIT, "the cluster off", |f| {
        matches!(f.cluster(&id)?.state, ClusterState::Off).then_some(())
    });
    let deadline = std::time::Instant::now() + WAIT;
    while relay.open() > 0 {
        assert!(std::time::Instant::now() < deadline, "{} connections stay open to an off cluster", relay.open());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its rows stay readable from the offline copy; nothing reconnects.
    let status = wait_for(&handle.table.snapshots, WAIT, "the offline copy", |t| {
        (sorted_names(t) == ["before", "while-paused"]).then(|| t.status.get(&id).cloned())
    });
    assert!(matches!(status, Some(ViewStatus::Stale { .. })), "{status:?}");
    let accepted = relay.accepted();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(relay.accepted(), accepted, "an off cluster is not contacted");

    set_mode(ClusterMode::Live);
    wait_connected(&handle, &context);
    wait_for(&handle.table.snapshots, WAIT, "live after off", |t| {
        (t.status.get(&id) == Some(&ViewStatus::Live) && sorted_names(t) == ["before", "while-paused"]).then_some(())
    });
}

#[test]
fn initial_lists_run_a_few_at_a_time_per_cluster() {
    let server = SimServer::start();
    let cluster = &server.fleet.clusters[0];
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let kinds: Vec<klieg::model::ResourceKind> = runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(server.kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
        let clients = klieg::backend::connection::cluster_clients(&config).expect("clients");
        let found = klieg::backend::discovery::discover(&clients.shared).await.expect("discovery");
        let kinds: Vec<_> =
            found.kinds.into_iter().filter(|k| k.verbs.iter().any(|v| &**v == "watch")).take(12).collect();
        assert_eq!(kinds.len(), 12, "twelve watchable kinds");
        cluster.faults.latency_ms.store(300, Ordering::SeqCst);
        cluster.faults.max_lists_in_flight.store(0, Ordering::SeqCst);
        let permits = Arc::new(tokio::sync::Semaphore::new(klieg::backend::CONCURRENT_LISTS_PER_CLUSTER));
        let changed = Arc::new(tokio::sync::Notify::new());
        let subscriptions: Vec<_> = kinds
            .iter()
            .map(|kind| {
                klieg::backend::ingest::subscribe(
                    clients.shared.clone(),
                    ClusterId::new("sim"),
                    kind.clone(),
                    None,
                    permits.clone(),
                    changed.clone(),
                    Arc::from(Vec::new()),
                )
            })
            .collect();
        let deadline = tokio::time::Instant::now() + WAIT;
        while subscriptions.iter().any(|s| s.rows.borrow().status != ViewStatus::Live) {
            assert!(tokio::time::Instant::now() < deadline, "every subscription lists");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        kinds
    });
    let most = cluster.faults.max_lists_in_flight.load(Ordering::SeqCst) as usize;
    assert!(
        (2..=klieg::backend::CONCURRENT_LISTS_PER_CLUSTER).contains(&most),
        "{most} lists at once for {} watches",
        kinds.len()
    );
}

/// A simulated cluster of its own, with `faults`, and its kubeconfig's path.
fn faulty_cluster(name: &str, faults: &str) -> klieg::sim::Fleet {
    let spec = klieg::sim::ClusterSpec { name: name.into(), git_version: "v1.31.2".into(), nodes: 1, pods: 3 };
    let fleet = klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator");
    fleet.inject_faults(&faults.parse().expect("a fault plan"));
    fleet
}

#[test]
fn servers_that_stall_fail_within_the_timeouts_and_the_healthy_one_still_shows_its_rows() {
    let healthy = faulty_cluster("healthy", "");
    let no_tls = faulty_cluster("no-tls", "stall-handshake=1");
    let silent = faulty_cluster("silent", "stall-answers=1");
    let paths = [&healthy, &no_tls, &silent].map(|fleet| fleet.kubeconfig_path.clone());
    let handle = start_backend(crate::common::sources_for(&paths.iter().map(|p| p.as_path()).collect::<Vec<_>>()));
    wait_connected(&handle, "healthy");
    handle.table.ask(Some(ViewQuery {
        clusters: vec![ClusterId::new("healthy")],
        kind: Some(KindKey::new("", "pods")),
        ..ViewQuery::default()
    }));
    wait_for(&handle.table.snapshots, WAIT, "the healthy cluster's pods", |t| (t.rows.len() == 3).then_some(()));
    // Without the timeouts both stayed "Connecting" for good.
    let patience = klieg::backend::connection::RESPONSE_HEADERS_TIMEOUT + Duration::from_secs(15);
    for stalled in ["no-tls", "silent"] {
        let detail = wait_for(&handle.fleet, patience, &format!("{stalled} to fail"), |fleet| {
            match &fleet.cluster(&ClusterId::new(stalled))?.state {
                ClusterState::Failed { kind: klieg::model::ClusterErrorKind::Unreachable, detail } => {
                    Some(detail.clone())
                }
                _ => None,
            }
        });
        assert!(detail.to_lowercase().contains("timed out"), "{stalled}: {detail}");
    }
    assert!(matches!(
        handle.fleet.borrow().cluster(&ClusterId::new("healthy")).map(|c| &c.state),
        Some(ClusterState::Connected { .. })
    ));
}

#[test]
fn a_server_that_answers_every_watch_with_410_is_relisted_with_growing_pauses() {
    let cluster = faulty_cluster("always-gone", "always-gone=1");
    let faults = &cluster.clusters[0].faults;
    let handle = start_backend(crate::common::sources_for(&[cluster.kubeconfig_path.as_path()]));
    wait_connected(&handle, "always-gone");
    handle.table.ask(Some(ViewQuery {
        clusters: vec![ClusterId::new("always-gone")],
        kind: Some(KindKey::new("", "pods")),
        ..ViewQuery::default()
    }));
    // The rows still come: every watch fails, but every list succeeds.
    wait_for(&handle.table.snapshots, WAIT, "the pods, listed", |t| (t.rows.len() == 3).then_some(()));
    // The pauses double (0.5, 1, 2, 4, 8 s …) for the table's watch and for the namespace, CRD
    // and RBAC watches alike (seven in all), so after a while each relists at most about once in
    // eight seconds. Relisting at once after each 410 (the table's watch did) made hundreds, and
    // kube's own backoff, which starts over on every event, about five per watch.
    std::thread::sleep(Duration::from_secs(12));
    let before = faults.lists_served.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(8));
    let relists = faults.lists_served.load(Ordering::Relaxed) - before;
    assert!(relists <= 14, "{relists} lists in 8 s, 12 s in");
    assert_eq!(handle.table.snapshots.borrow().rows.len(), 3, "the rows stay");
}

/// Hostile answers, one server each, in one table beside a healthy cluster: a list whose pages
/// never end, objects so large that a page of them passes the answer cap (asked again in smaller
/// pages: every row arrives), a watch line of 17 MiB, and bytes that are neither UTF-8 nor JSON.
/// Each names its problem in place; the rows that could be read stay; the healthy cluster's rows
/// are all there, live.
#[test]
fn hostile_answers_are_named_in_place_and_the_rest_of_the_table_stays_whole() {
    let healthy = faulty_cluster("healthy", "");
    let giant = faulty_cluster("giant", "giant-objects=80");
    let endless = faulty_cluster("endless", "endless-continue=1");
    let long_line = faulty_cluster("long-line", "giant-line=1");
    let garbage = faulty_cluster("garbage", "garbage-lines=1");
    let fleets = [&healthy, &giant, &endless, &long_line, &garbage];
    let paths: Vec<&Path> = fleets.iter().map(|fleet| fleet.kubeconfig_path.as_path()).collect();
    let handle = start_backend(crate::common::sources_for(&paths));
    let names = ["healthy", "giant", "endless", "long-line", "garbage"];
    // The hostile watches fail the cluster's own namespace watch too, so those clusters may
    // show that failure rather than "connected"; their tables are asked all the same.
    for name in ["healthy", "giant"] {
        wait_connected(&handle, name);
    }
    let truth = |fleet: &klieg::sim::Fleet| fleet.clusters[0].lock().count("/configmaps");
    assert!(truth(&giant) >= 80);
    handle.table.ask(Some(ViewQuery {
        clusters: names.iter().map(|n| ClusterId::new(n)).collect(),
        kind: Some(KindKey::new("", "configmaps")),
        ..ViewQuery::default()
    }));
    let rows_of = |t: &klieg::model::TableSnapshot, cluster: &str| {
        t.rows.iter().filter(|r| r.key.cluster.as_str() == cluster).count()
    };
    let error_of = |t: &klieg::model::TableSnapshot, cluster: &str| match t.status.get(&ClusterId::new(cluster)) {
        Some(ViewStatus::Error(message)) => Some(message.to_string()),
        _ => None,
    };
    let patience = Duration::from_secs(90);
    let (endless_error, line_error, garbage_error) = wait_for(&handle.table.snapshots, patience, "every answer", |t| {
        let whole = |cluster: &str, fleet: &klieg::sim::Fleet| rows_of(t, cluster) == truth(fleet);
        let live = |cluster: &str| t.status.get(&ClusterId::new(cluster)) == Some(&ViewStatus::Live);
        (whole("healthy", &healthy) && live("healthy") && whole("giant", &giant) && live("giant")).then_some(())?;
        Some((error_of(t, "endless")?, error_of(t, "long-line")?, error_of(t, "garbage")?))
    });
    assert!(endless_error.contains("did not end after 5000 pages"), "{endless_error}");
    assert!(line_error.contains("longer than 16 MiB"), "{line_error}");
    assert!(garbage_error.contains("could not parse"), "{garbage_error}");
    // The rows of the lists that did complete stay beside their errors.
    let table = handle.table.snapshots.borrow().clone();
    assert_eq!(rows_of(&table, "long-line"), truth(&long_line));
    assert_eq!(rows_of(&table, "garbage"), truth(&garbage));
    assert_eq!(rows_of(&table, "endless"), 0, "an endless list is not shown half");
}

/// kube's own watchers keep the same page cap as the tables: a cluster whose namespace list
/// never ends is named as such, and its lists are then refused for a while instead of read again
/// and again (before the cap, the namespace watcher followed the tokens for good).
#[test]
fn lists_that_never_end_are_named_and_not_read_again_and_again() {
    let endless = faulty_cluster("endless-ns", "endless-continue=1");
    let handle = start_backend(crate::common::sources_for(&[endless.kubeconfig_path.as_path()]));
    let detail = wait_for(&handle.fleet, Duration::from_secs(240), "the cluster named failing", |f| {
        f.clusters.iter().find_map(|c| match &c.state {
            ClusterState::Failed { detail, .. } if detail.contains("did not end after 5000 pages") => {
                Some(detail.to_string())
            }
            _ => None,
        })
    });
    assert!(detail.contains("asks again in 5 min"), "{detail}");
    // Every list of the cluster (namespaces, RBAC) reaches its cap within a few chains; then
    // the lists stop, though the watchers retry.
    let served = || endless.clusters[0].faults.lists_served.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let settled = loop {
        let before = served();
        std::thread::sleep(Duration::from_secs(10));
        let in_window = served() - before;
        if in_window < 50 {
            break in_window;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "still {in_window} lists in 10 s after two minutes");
    };
    assert!(settled < 50);
}

/// An object and a log opened while their cluster is still connecting (as from the offline
/// cache at start) appear once it connects, without being asked again.
#[test]
fn details_and_logs_asked_before_their_cluster_connects_appear_once_it_does() {
    use klieg::model::{LogQuery, ObjectKey, Target};
    let fleet = faulty_cluster("late", "");
    let sim = &fleet.clusters[0];
    sim.set_offline(true);
    let (namespace, name) = sim.lock().keys_of("/pods").into_iter().next().expect("a pod");
    let handle = start_backend(crate::common::sources_for(&[fleet.kubeconfig_path.as_path()]));
    let key = ObjectKey {
        cluster: ClusterId::new("late"),
        namespace: Some(Arc::from(namespace.as_str())),
        name: Arc::from(name.as_str()),
    };
    let pods = KindKey::new("", "pods");
    handle.details.ask(Some((pods.clone(), key.clone())));
    handle.logs.ask(Some(LogQuery {
        target: Target { kind: pods, key },
        container: None,
        previous: false,
        timestamps: false,
        follow: true,
        tail_lines: 5,
    }));
    wait_for(&handle.details.snapshots, WAIT, "the object unavailable", |d| d.unavailable.then_some(()));
    wait_for(&handle.logs.snapshots, WAIT, "the log waiting", |l| {
        l.errors.iter().any(|e| e.contains("not connected")).then_some(())
    });
    sim.set_offline(false);
    let late = Duration::from_secs(60);
    let uid = wait_for(&handle.details.snapshots, late, "the object once connected", |d| {
        (!d.unavailable && !d.uid.is_empty()).then(|| d.uid.clone())
    });
    assert!(!uid.is_empty());
    wait_for(&handle.logs.snapshots, late, "log lines once connected", |l| {
        (l.errors.is_empty() && !l.buffer.is_empty()).then_some(())
    });
}

/// A keyring that waits for the user (a Secret Service asking to unlock it) holds only the
/// cluster being added: every other command goes on meanwhile, and the add finishes once the
/// keyring answers.
#[test]
fn a_keyring_waiting_for_the_user_blocks_only_the_cluster_being_added() {
    use klieg::credentials::{CredentialError, MemoryStore, SecretStore, Secrets};
    use klieg::model::{AddCluster, Outcome};
    /// Holds every `set` until released.
    struct PromptingStore {
        inner: MemoryStore,
        released: parking_lot::Mutex<bool>,
        answer: parking_lot::Condvar,
    }
    impl SecretStore for PromptingStore {
        fn set(&self, entry: &str, secret: &str) -> Result<(), CredentialError> {
            let mut released = self.released.lock();
            while !*released {
                self.answer.wait(&mut released);
            }
            self.inner.set(entry, secret)
        }
        fn get(&self, entry: &str) -> Result<String, CredentialError> {
            self.inner.get(entry)
        }
        fn delete(&self, entry: &str) -> Result<(), CredentialError> {
            self.inner.delete(entry)
        }
    }
    let fleet = faulty_cluster("other", "");
    let store = Arc::new(PromptingStore {
        inner: MemoryStore::default(),
        released: parking_lot::Mutex::new(false),
        answer: parking_lot::Condvar::new(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = start_backend(KubeconfigSources {
        explicit: vec![fleet.kubeconfig_path.clone()],
        added: Some(dir.path().join("added-clusters.yaml")),
        secrets: Secrets(store.clone()),
        ..KubeconfigSources::default()
    });
    wait_connected(&handle, "other");
    let token = AddCluster::Token {
        name: "waits-for-keyring".into(),
        server: "https://127.0.0.1:1".into(),
        ca_pem: String::new(),
        token: "secret-token".into(),
        insecure: false,
    };
    handle.send(Command::AddClusters { request_id: 7, request: token });
    wait_for(&handle.activity, WAIT, "the add running", |log| {
        log.for_request(7).last().filter(|a| a.outcome == Outcome::Running).map(|_| ())
    });
    // While the keyring waits, another cluster is switched off, and that takes effect.
    let other = ClusterId::new("other");
    handle.send(Command::SetClusterModes(BTreeMap::from([(other.clone(), ClusterMode::Off)])));
    wait_for(&handle.fleet, Duration::from_secs(10), "the other cluster off meanwhile", |f| {
        matches!(f.cluster(&other)?.state, ClusterState::Off).then_some(())
    });
    assert_eq!(handle.activity.borrow().for_request(7).last().map(|a| a.outcome.clone()), Some(Outcome::Running));
    *store.released.lock() = true;
    store.answer.notify_all();
    let outcome = wait_for(&handle.activity, WAIT, "the add done", |log| {
        log.for_request(7).last().filter(|a| a.outcome != Outcome::Running).map(|a| a.outcome.clone())
    });
    assert!(matches!(&outcome, Outcome::Done { message } if message.contains("waits-for-keyring")), "{outcome:?}");
    wait_for(&handle.fleet, WAIT, "the added cluster listed", |f| {
        f.cluster(&ClusterId::new("waits-for-keyring")).map(|_| ())
    });
}

/// A bulk delete of many objects on a slow server: at most `CONCURRENT_ACTIONS` requests are in
/// flight at once, every target is reported, and every object is gone.
#[test]
fn a_bulk_action_acts_on_a_few_targets_at_a_time_and_reports_each() {
    use klieg::model::{Action, Outcome, Propagation, Target};
    let cluster = faulty_cluster("bulk", "");
    let sim = &cluster.clusters[0];
    let count = 40;
    let objects: Vec<String> = (0..count)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: doomed-{i:02}, namespace: default}}\n"))
        .collect();
    let applied =
        crate::common::run_kubectl(&cluster.kubeconfig_path, &["apply", "-f", "-"], Some(&objects.join("---\n")));
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let handle = start_backend(crate::common::sources_for(&[cluster.kubeconfig_path.as_path()]));
    wait_connected(&handle, "bulk");
    sim.faults.latency_ms.store(200, Ordering::SeqCst);
    let kind = KindKey::new("", "configmaps");
    let targets: Vec<Target> = (0..count)
        .map(|i| Target {
            kind: kind.clone(),
            key: klieg::model::ObjectKey {
                cluster: ClusterId::new("bulk"),
                namespace: Some(Arc::from("default")),
                name: Arc::from(format!("doomed-{i:02}").as_str()),
            },
        })
        .collect();
    let action = Action::Delete { propagation: Propagation::Background }.call();
    handle.send(Command::Act { request_id: 7, targets, action });
    let outcomes = wait_for(&handle.activity, Duration::from_secs(60), "every delete", |log| {
        let entries: Vec<_> = log.for_request(7).cloned().collect();
        (entries.len() >= count && entries.iter().all(|a| a.outcome != Outcome::Running)).then_some(entries)
    });
    assert!(outcomes.iter().all(|a| matches!(a.outcome, Outcome::Done { .. })), "{outcomes:?}");
    let most = sim.faults.max_deletes_in_flight.load(Ordering::SeqCst) as usize;
    assert!((2..=klieg::backend::actions::CONCURRENT_ACTIONS).contains(&most), "{most} deletes at once");
    let left: Vec<Arc<serde_json::Value>> = sim.lock().all_of("", "configmaps");
    let doomed_left = left.iter().filter(|o| o["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("doomed-")));
    assert_eq!(doomed_left.count(), 0, "every object is gone");
}

/// The window against every hostile server at once, beside a healthy cluster: servers that
/// never complete TLS or never answer, that answer every watch with 410, whose lists never end,
/// whose objects are huge, whose watches send a 17 MiB line or garbage, and one that drips its
/// answers. The window keeps drawing (each frame returns), names each cluster's problem in the
/// sidebar or the table, and shows the healthy cluster's rows in full.
#[test]
fn the_window_draws_on_against_every_hostile_server_at_once() {
    use crate::common::ui::{UI_LOCK, app, has_label_containing, start_app_with, step_until_within};
    let _turn = UI_LOCK.lock();
    let plans: Vec<(&str, &str)> =
        std::iter::once(("healthy", "")).chain(klieg::sim::HOSTILE_PLANS.iter().copied()).collect();
    assert_eq!(plans[5].0, "giant");
    let fleets: Vec<klieg::sim::Fleet> = plans.iter().map(|(name, faults)| faulty_cluster(name, faults)).collect();
    let paths: Vec<&Path> = fleets.iter().map(|f| f.kubeconfig_path.as_path()).collect();
    let settings = klieg::state::Settings {
        locale: "en".into(),
        kind_plural: "configmaps".into(),
        selected_clusters: plans.iter().map(|(name, _)| name.to_string()).collect(),
        ..klieg::state::Settings::default()
    };
    let mut harness = start_app_with(crate::common::sources_for(&paths), settings);
    let healthy_rows = fleets[0].clusters[0].lock().count("/configmaps");
    let giant_rows = fleets[5].clusters[0].lock().count("/configmaps");
    fn rows_of(h: &egui_kittest::Harness<'_, Option<klieg::app::KliegApp>>, cluster: &str) -> usize {
        app(h).table.rows.iter().filter(|r| r.key.cluster.as_str() == cluster).count()
    }
    // Each problem named where the user looks: the stalled servers in the sidebar, the hostile
    // answers above the table; meanwhile every frame returns.
    let patience = klieg::backend::bounded::ANSWER_DEADLINE + Duration::from_secs(40);
    step_until_within(&mut harness, "every cluster's problem named and the healthy rows shown", patience, |h| {
        let named = [
            "endless: the list did not end after 5000 pages",
            "long-line: Error reading events stream: the server sent a line longer than 16 MiB",
            "garbage: could not parse the server's answer",
            "the server's answer did not arrive within 60 s (retrying)",
        ]
        .iter()
        .all(|text| has_label_containing(h, text));
        let stalled = app(h).fleet.clusters.iter().filter(|c| c.id.as_str() == "no-tls" || c.id.as_str() == "silent");
        let stalled_named = stalled.filter(|c| matches!(c.state, ClusterState::Failed { .. })).count() == 2;
        named && stalled_named && rows_of(h, "healthy") == healthy_rows && rows_of(h, "giant") == giant_rows
    });
    assert!(has_label_containing(&harness, "Server unreachable"), "the sidebar names the stalled servers");
}
