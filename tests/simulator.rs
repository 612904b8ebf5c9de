//! The client-facing suite (tests/common/suite.rs) against the in-process simulator,
//! plus what only the simulator can show: a server restart without an apiserver process.

use crate::common::{SimServer, suite};

#[test]
fn contexts_load_from_merged_files_and_connect() {
    suite::contexts_load_from_merged_files_and_connect(SimServer::shared());
}

#[test]
fn discovery_lists_built_in_kinds_and_a_crd() {
    let server = SimServer::shared();
    suite::discovery_lists_built_in_kinds_and_a_crd(server);
    // CRDs and namespaces are followed as metadata only: a CRD's schema can be megabytes.
    let asked = server.fleet.clusters[0].faults.metadata_kinds.lock().clone();
    for plural in ["customresourcedefinitions", "namespaces"] {
        assert!(asked.contains(plural), "{plural} asked as metadata: {asked:?}");
    }
}

#[test]
fn a_workload_log_follows_at_most_the_stream_limit() {
    suite::a_workload_log_follows_at_most_the_stream_limit(SimServer::shared());
}

#[test]
fn table_shows_adds_changes_and_deletes_live() {
    suite::table_shows_adds_changes_and_deletes_live(SimServer::shared());
}

#[test]
fn crd_printer_columns_become_table_columns() {
    suite::crd_printer_columns_become_table_columns(SimServer::shared());
}

#[test]
fn broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works() {
    suite::broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works(SimServer::shared());
}

#[test]
fn access_reviews_and_requests_follow_rbac() {
    suite::access_reviews_and_requests_follow_rbac(SimServer::shared());
}

#[test]
fn actions_change_objects_and_report_each_result() {
    suite::actions_change_objects_and_report_each_result(SimServer::shared());
}

#[test]
fn yaml_edits_apply_refuse_conflicts_and_create_many() {
    suite::yaml_edits_apply_refuse_conflicts_and_create_many(SimServer::shared());
}

#[test]
fn pod_streams_logs_exec_and_port_forward() {
    suite::pod_streams_logs_exec_and_port_forward(SimServer::shared(), None);
}

#[test]
fn kubeconfig_edits_are_picked_up_live() {
    suite::kubeconfig_edits_are_picked_up_live(SimServer::shared());
}

#[test]
fn table_recovers_after_the_server_goes_offline_and_back() {
    // Its own simulator: taking the shared one offline would disturb the other tests.
    suite::table_recovers_after_the_server_restarts(&SimServer::start());
}

/// A populated simulated cluster for the kubectl tests.
fn populated() -> klieg::sim::Fleet {
    let spec =
        klieg::sim::ClusterSpec { name: "kubectl-sim".into(), git_version: "v1.31.2".into(), nodes: 2, pods: 30 };
    klieg::sim::Fleet::start(vec![spec], 0.0, None).expect("simulator starts")
}

fn kubectl(fleet: &klieg::sim::Fleet, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    crate::common::run_kubectl(&fleet.kubeconfig_path, args, stdin)
}

fn stdout_of(output: &std::process::Output) -> String {
    assert!(output.status.success(), "kubectl failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts a long-running kubectl (a watch, `logs -f`) and hands its output lines over a channel.
fn spawn_lines(fleet: &klieg::sim::Fleet, args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", &fleet.kubeconfig_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::sync_channel(16);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, lines_rx)
}

#[test]
fn kubectl_gets_applies_and_deletes_against_the_simulator() {
    let fleet = populated();
    let pods = stdout_of(&kubectl(&fleet, &["get", "pods", "-A"], None));
    let header = pods.lines().next().expect("a header");
    for column in ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(pods.lines().count(), 31, "30 pods and a header:\n{pods}");
    let nodes = stdout_of(&kubectl(&fleet, &["get", "nodes"], None));
    assert!(nodes.contains("node-0") && nodes.contains("Ready"), "{nodes}");
    let certificates = stdout_of(&kubectl(&fleet, &["get", "certificates", "-A"], None));
    assert!(
        certificates.contains("ISSUER") && certificates.contains("letsencrypt-prod"),
        "CRD printer columns: {certificates}"
    );

    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied, namespace: shop}\ndata: {mode: one}\n";
    assert!(stdout_of(&kubectl(&fleet, &["apply", "-f", "-"], Some(manifest))).contains("created"));
    let changed = manifest.replace("mode: one", "mode: two");
    assert!(stdout_of(&kubectl(&fleet, &["apply", "-f", "-"], Some(&changed))).contains("configured"));
    assert_eq!(
        stdout_of(&kubectl(
            &fleet,
            &["get", "configmap", "applied", "-n", "shop", "-o", "jsonpath={.data.mode}"],
            None
        )),
        "two"
    );
    let json_patch = r#"[{"op": "replace", "path": "/data/mode", "value": "three"}]"#;
    stdout_of(&kubectl(
        &fleet,
        &["patch", "configmap", "applied", "-n", "shop", "--type=json", "-p", json_patch],
        None,
    ));
    let merge_patch = r#"{"metadata": {"labels": {"patched": "yes"}}}"#;
    stdout_of(&kubectl(
        &fleet,
        &["patch", "configmap", "applied", "-n", "shop", "--type=merge", "-p", merge_patch],
        None,
    ));
    assert_eq!(
        stdout_of(&kubectl(
            &fleet,
            &["get", "configmap", "-n", "shop", "-l", "patched=yes", "-o", "jsonpath={.items[0].data.mode}"],
            None
        )),
        "three"
    );
    let labelled = stdout_of(&kubectl(&fleet, &["get", "pods", "-A", "-l", "app=storefront", "-o", "name"], None));
    assert!(!labelled.is_empty() && labelled.lines().all(|l| l.starts_with("pod/storefront")), "{labelled}");
    // Deleting a deployment takes its replica sets and pods with it.
    let before =
        stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-l", "app=storefront", "-o", "name"], None));
    assert!(!before.is_empty());
    stdout_of(&kubectl(&fleet, &["delete", "deployment", "storefront", "-n", "shop"], None));
    let after = stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-l", "app=storefront", "-o", "name"], None));
    assert!(after.trim().is_empty(), "owned pods are gone: {after}");
}

#[test]
fn kubectl_watch_streams_changes_from_the_simulator() {
    let fleet = populated();
    let (mut watch, lines_rx) = spawn_lines(&fleet, &["get", "configmaps", "-n", "shop", "--watch-only", "-o", "name"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    stdout_of(&kubectl(&fleet, &["create", "configmap", "watched", "-n", "shop"], None));
    let line = lines_rx.recv_timeout(std::time::Duration::from_secs(15)).expect("a watch event");
    // This process is ours: stop it by its PID.
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(line.trim(), "configmap/watched", "only the new object is streamed");
}

#[test]
fn bad_requests_get_the_status_errors_a_real_apiserver_sends() {
    let fleet = populated();
    let unknown = kubectl(&fleet, &["get", "--raw", "/apis/example.com/v1/widgets"], None);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let invalid = kubectl(&fleet, &["create", "configmap", "Bad_Name", "-n", "shop"], None);
    assert!(!invalid.status.success());
    assert!(
        String::from_utf8_lossy(&invalid.stderr).contains("is invalid"),
        "{}",
        String::from_utf8_lossy(&invalid.stderr)
    );
    let missing = kubectl(&fleet, &["get", "configmap", "nope", "-n", "shop"], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    let bad_selector = kubectl(&fleet, &["get", "pods", "-A", "-l", "app in (web"], None);
    assert!(!bad_selector.status.success());
    // The simulator keeps serving after all of that.
    assert!(stdout_of(&kubectl(&fleet, &["get", "namespaces"], None)).contains("shop"));
}

#[test]
fn expired_watches_make_the_table_relist_without_flashing_or_losing_rows() {
    use crate::common::{ApiServer, row_names, sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ClusterId, KindKey, ViewQuery, ViewStatus};
    use std::sync::atomic::Ordering;
    let server = SimServer::start();
    server.kubectl(&["create", "namespace", "expiry"]);
    for i in 0..3 {
        server.kubectl(&["create", "configmap", &format!("kept-{i}"), "-n", "expiry"]);
    }
    let handle = start_backend(sources_for(&[server.kubeconfig()]));
    wait_connected(&handle, server.admin_context());
    handle.table.ask(Some(ViewQuery {
        clusters: vec![ClusterId::new(server.admin_context())],
        kind: Some(KindKey { group: std::sync::Arc::from(""), plural: std::sync::Arc::from("configmaps") }),
        namespaces: vec![std::sync::Arc::from("expiry")],
        ..ViewQuery::default()
    }));
    let wait = std::time::Duration::from_secs(30);
    wait_for(&handle.table.snapshots, wait, "three configmaps", |t| (t.rows.len() == 3).then_some(()));
    let cluster = &server.fleet.clusters[0];
    let lists_before = cluster.faults.lists_served.load(Ordering::Relaxed);
    cluster.expire_watches();
    // Open watches end within a second; the client's resume point is now compacted away.
    let deadline = std::time::Instant::now() + wait;
    while cluster.faults.lists_served.load(Ordering::Relaxed) == lists_before {
        assert!(std::time::Instant::now() < deadline, "the 410 made the client list again");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(handle.table.snapshots.borrow().rows.len(), 3, "the relist swaps in whole; rows never vanish meanwhile");
    server.kubectl(&["delete", "configmap", "kept-0", "-n", "expiry"]);
    server.kubectl(&["create", "configmap", "added", "-n", "expiry"]);
    wait_for(&handle.table.snapshots, wait, "the relisted table", |t| {
        let mut names = row_names(t);
        names.sort();
        (names == ["added", "kept-1", "kept-2"] && t.status.values().all(|s| *s == ViewStatus::Live)).then_some(())
    });
}

#[test]
fn kubectl_top_reads_the_simulated_metrics_api() {
    let fleet = populated();
    let nodes = stdout_of(&kubectl(&fleet, &["top", "nodes"], None));
    assert!(nodes.contains("CPU(cores)") && nodes.contains("node-0") && nodes.contains("node-1"), "{nodes}");
    let pods = stdout_of(&kubectl(&fleet, &["top", "pods", "-A"], None));
    let rows: Vec<&str> = pods.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{pods}");
    assert!(rows.iter().all(|row| row.contains('m') && row.contains("Mi")), "millicores and MiB: {pods}");
    // Values move: two readings a few seconds apart differ somewhere.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_ne!(
        stdout_of(&kubectl(&fleet, &["top", "pods", "-A", "--no-headers"], None)),
        pods.lines().skip(1).map(|l| format!("{l}\n")).collect::<String>()
    );
}

#[test]
fn kubectl_logs_reads_and_follows_simulated_pod_logs() {
    let fleet = populated();
    let pod =
        stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"], None));
    let tail = stdout_of(&kubectl(&fleet, &["logs", "-n", "shop", &pod, "--tail=5", "--timestamps"], None));
    assert_eq!(tail.lines().count(), 5, "{tail}");
    assert!(tail.lines().all(|l| l.contains("Z ") && l.contains(&pod)), "{tail}");
    let missing = kubectl(&fleet, &["logs", "-n", "shop", &pod, "-c", "nope"], None);
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("not valid"));

    let (mut follow, lines_rx) = spawn_lines(&fleet, &["logs", "-n", "shop", &pod, "--tail=1", "-f"]);
    let timeout = std::time::Duration::from_secs(10);
    let first = lines_rx.recv_timeout(timeout).expect("the tail line");
    let second = lines_rx.recv_timeout(timeout).expect("a followed line");
    let third = lines_rx.recv_timeout(timeout).expect("another followed line");
    assert!(first != second && second != third, "new lines keep arriving: {first} / {second} / {third}");
    // The pod goes: its followed log ends, as the kubelet ends it, and `kubectl logs -f` exits.
    let deleted = kubectl(&fleet, &["delete", "pod", "-n", "shop", &pod, "--wait=false"], None);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    let deadline = std::time::Instant::now() + timeout;
    let ended = loop {
        if let Some(status) = follow.try_wait().expect("poll kubectl") {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    if ended.is_none() {
        // This process is ours: stop it by its PID.
        let _ = follow.kill();
        let _ = follow.wait();
    }
    assert!(ended.is_some_and(|s| s.success()), "the followed log ended with its pod: {ended:?}");
}

/// A kube-rs client for the fleet's only context, and the name of a pod in `shop`.
async fn kube_client(fleet: &klieg::sim::Fleet) -> (kube::Client, String) {
    let kubeconfig = kube::config::Kubeconfig::read_from(&fleet.kubeconfig_path).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), "shop");
    let list = pods.list(&Default::default()).await.expect("pods");
    let name = list.items.first().and_then(|p| p.metadata.name.clone()).expect("a pod in shop");
    (client, name)
}

async fn read_until(reader: &mut (impl tokio::io::AsyncRead + Unpin), needle: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.contains(needle) {
        let read = tokio::time::timeout_at(deadline, reader.read(&mut buffer)).await;
        let Ok(read) = read else { panic!("no {needle:?} in time; got {seen:?}") };
        let n = read.expect("read");
        assert!(n > 0, "stream ended before {needle:?}; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_over_websocket_runs_commands_and_an_interactive_terminal() {
    use kube::api::AttachParams;
    use tokio::io::AsyncWriteExt;
    let fleet = populated();
    let (client, pod) = kube_client(&fleet).await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, "shop");

    let mut once = pods.exec(&pod, ["cat", "/etc/hostname"], &AttachParams::default()).await.expect("exec");
    let output = read_until(&mut once.stdout().expect("stdout"), "\n").await;
    assert_eq!(output, format!("{pod}\n"));
    let status = once.take_status().expect("status").await.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Success"));

    let mut failing = pods.exec(&pod, ["sh", "-c", "exit 7"], &AttachParams::default()).await.expect("exec");
    let status = failing.take_status().expect("status").await.expect("a status");
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    assert!(status.message.unwrap_or_default().contains("exit code 7"));

    let mut shell =
        pods.exec(&pod, ["/bin/sh"], &AttachParams::interactive_tty().stderr(false)).await.expect("exec a shell");
    let mut stdin = shell.stdin().expect("stdin");
    let mut stdout = shell.stdout().expect("stdout");
    read_until(&mut stdout, "# ").await;
    let mut resize = shell.terminal_size().expect("resize channel");
    futures::SinkExt::send(&mut resize, kube::api::TerminalSize { width: 132, height: 43 }).await.expect("resize");
    // The resize travels apart from stdin, so it may land after the next command: ask until it shows.
    let mut echoed = String::new();
    for _ in 0..50 {
        stdin.write_all(b"stty size\r").await.expect("typed");
        // Up to and including the next prompt.
        echoed = read_until(&mut stdout, ":/# ").await;
        if echoed.contains("43 132") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(echoed.contains("43 132"), "the resize reached the shell: {echoed:?}");
    assert!(echoed.contains("stty size\r\n"), "the TTY echoes typing: {echoed:?}");
    stdin.write_all(b"exit 0\r").await.expect("typed");
    let status = shell.take_status().expect("status").await.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Success"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_over_websocket_carries_bytes_and_reports_closed_ports() {
    use tokio::io::AsyncWriteExt;
    let fleet = populated();
    let (client, pod) = kube_client(&fleet).await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, "shop");

    let mut forward = pods.portforward(&pod, &[8080]).await.expect("port-forward");
    let mut stream = forward.take_stream(8080).expect("a stream for 8080");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.expect("request sent");
    let reply = read_until(&mut stream, "request: GET /healthz").await;
    assert!(reply.starts_with("HTTP/1.1 200 OK") && reply.contains(&format!("Hello from {pod} on port 8080")));
    stream.write_all(b"\x00raw bytes").await.expect("bytes sent");
    read_until(&mut stream, "\u{0}raw bytes").await;

    let mut closed = pods.portforward(&pod, &[9999]).await.expect("port-forward");
    let mut stream = closed.take_stream(9999).expect("a stream for 9999");
    let error = closed.take_error(9999).expect("an error channel");
    stream.write_all(b"hello").await.expect("bytes sent");
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), error).await.expect("in time");
    assert!(message.unwrap_or_default().contains("connection refused"));
}

#[test]
fn kubectl_exec_runs_commands_in_simulated_pods() {
    let fleet = populated();
    let pod =
        stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"], None));
    let release = stdout_of(&kubectl(&fleet, &["exec", "-n", "shop", &pod, "--", "cat", "/etc/os-release"], None));
    assert!(release.contains("Debian GNU/Linux 12"), "{release}");
    let session = stdout_of(&kubectl(
        &fleet,
        &["exec", "-i", "-n", "shop", &pod, "--", "sh"],
        Some("hostname\nwhoami\nexit 0\n"),
    ));
    assert_eq!(session, format!("{pod}\nroot\n"));
    let failed = kubectl(&fleet, &["exec", "-n", "shop", &pod, "--", "ls", "/nope"], None);
    assert_eq!(failed.status.code(), Some(2), "kubectl passes the exit code on");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("No such file or directory"));
}

#[test]
fn patches_apply_and_deletion_behave_like_the_apiserver() {
    suite::patches_apply_and_deletion_behave_like_the_apiserver(SimServer::shared());
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_answers_through_the_service_proxy() {
    let fleet = populated();
    let proxy = "/api/v1/namespaces/monitoring/services/prometheus-server:9090/proxy/api/v1";
    let labels = stdout_of(&kubectl(
        &fleet,
        &["get", "services", "-n", "monitoring", "-l", "app.kubernetes.io/name=prometheus", "-o", "name"],
        None,
    ));
    assert_eq!(labels.trim(), "service/prometheus-server", "found by the labels Headlamp looks for");
    let now = jiff::Timestamp::now().as_second();
    let query = "sum(rate(container_cpu_usage_seconds_total{namespace=\"shop\",container!=\"\"}[1m])) by (pod)";
    let url = format!("{proxy}/query_range?query={}&start={}&end={now}&step=30", url_encode(query), now - 600);
    let body: serde_json::Value =
        serde_json::from_str(&stdout_of(&kubectl(&fleet, &["get", "--raw", &url], None))).expect("JSON");
    assert_eq!(body["status"], "success", "{body}");
    let result = body["data"]["result"].as_array().cloned().unwrap_or_default();
    let running = stdout_of(&kubectl(
        &fleet,
        &["get", "pods", "-n", "shop", "--field-selector=status.phase=Running", "-o", "name"],
        None,
    ));
    assert_eq!(result.len(), running.lines().count(), "one series per running pod: {body}");
    assert!(result.iter().all(|r| r["values"].as_array().is_some_and(|v| v.len() == 21)), "21 points over 10 min");

    let bad =
        kubectl(&fleet, &["get", "--raw", &format!("{proxy}/query?query={}", url_encode("sum(rate(x[1m])"))], None);
    assert!(!bad.status.success(), "a parse error is a 400");
    let service = stdout_of(&kubectl(
        &fleet,
        &["get", "services", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"],
        None,
    ));
    let other =
        kubectl(&fleet, &["get", "--raw", &format!("/api/v1/namespaces/shop/services/{service}:80/proxy/")], None);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(!other.status.success() && stderr.contains("no endpoints available"), "{stderr}");
}

#[test]
fn dropped_connections_are_reconnected_and_the_watch_resumes() {
    use crate::common::{ApiServer, row_names, sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ClusterId, KindKey, ViewQuery, ViewStatus};
    use std::sync::atomic::Ordering;
    let server = SimServer::start();
    server.kubectl(&["create", "namespace", "drops"]);
    server.kubectl(&["create", "configmap", "before", "-n", "drops"]);
    let handle = start_backend(sources_for(&[server.kubeconfig()]));
    wait_connected(&handle, server.admin_context());
    handle.table.ask(Some(ViewQuery {
        clusters: vec![ClusterId::new(server.admin_context())],
        kind: Some(KindKey { group: std::sync::Arc::from(""), plural: std::sync::Arc::from("configmaps") }),
        namespaces: vec![std::sync::Arc::from("drops")],
        ..ViewQuery::default()
    }));
    let wait = std::time::Duration::from_secs(30);
    wait_for(&handle.table.snapshots, wait, "the first configmap", |t| (t.rows.len() == 1).then_some(()));
    let cluster = &server.fleet.clusters[0];
    let lists_before = cluster.faults.lists_served.load(Ordering::Relaxed);
    for round in 0..3 {
        let connections_before = cluster.faults.connections_accepted.load(Ordering::Relaxed);
        cluster.drop_connections();
        // Nothing else talks to the simulator now: a new connection is the backend reconnecting.
        let deadline = std::time::Instant::now() + wait;
        while cluster.faults.connections_accepted.load(Ordering::Relaxed) == connections_before {
            assert!(std::time::Instant::now() < deadline, "the backend never reconnected after the drop");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server.kubectl(&["create", "configmap", &format!("after-{round}"), "-n", "drops"]);
        wait_for(&handle.table.snapshots, wait, "the change made after the drop", |t| {
            (row_names(t).contains(&format!("after-{round}")) && t.status.values().all(|s| *s == ViewStatus::Live))
                .then_some(())
        });
    }
    assert_eq!(
        cluster.faults.lists_served.load(Ordering::Relaxed),
        lists_before,
        "the watch resumed from its resource version: no relist"
    );
}

#[test]
fn metrics_server_usage_fills_pod_and_node_columns_and_the_details_chart() {
    use crate::common::{sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{Cell, ClusterId, KindKey, ObjectKey, ViewQuery};
    use std::sync::Arc;
    let fleet = populated();
    let handle = start_backend(sources_for(&[&fleet.kubeconfig_path]));
    wait_connected(&handle, "kubectl-sim");
    let cluster = ClusterId::new("kubectl-sim");
    let kind = |plural: &str| KindKey { group: Arc::from(""), plural: Arc::from(plural) };
    let measure = |cell: &Cell| match cell {
        Cell::Measure(value, _, _) => Some(*value),
        _ => None,
    };
    let wait = std::time::Duration::from_secs(30);
    // Pods: usage, and usage against the containers' requests (250m, 512Mi) and limits (1, 1Gi).
    handle.table.ask(Some(ViewQuery {
        clusters: vec![cluster.clone()],
        kind: Some(kind("pods")),
        ..ViewQuery::default()
    }));
    let (columns, cpu, cpu_of_request, cpu_of_limit, memory, memory_of_limit) =
        wait_for(&handle.table.snapshots, wait, "pod usage", |table| {
            let from = table.usage_from?;
            let row = table.rows.first()?;
            let value = |offset: usize| measure(table.cell(row, from + offset));
            let names: Vec<String> = table.columns[from..].iter().map(|c| c.name.to_string()).collect();
            Some((names, value(0)?, value(1)?, value(2)?, value(3)?, value(5)?))
        });
    assert_eq!(columns, ["CPU", "%CPU/R", "%CPU/L", "MEM", "%MEM/R", "%MEM/L"]);
    assert!(
        cpu > 0.0 && (cpu_of_request - cpu / 0.25 * 100.0).abs() < 1e-6,
        "{cpu} cores is {cpu_of_request}% of 250m"
    );
    assert!((cpu_of_limit - cpu * 100.0).abs() < 1e-6, "{cpu} cores is {cpu_of_limit}% of 1 core");
    assert!((memory_of_limit - memory / (1024.0 * 1024.0 * 1024.0) * 100.0).abs() < 1e-6);
    // Nodes: usage against allocatable (15800m, 62Gi in the simulator).
    handle.table.ask(Some(ViewQuery {
        clusters: vec![cluster.clone()],
        kind: Some(kind("nodes")),
        ..ViewQuery::default()
    }));
    let (node_cpu, node_cpu_percent) = wait_for(&handle.table.snapshots, wait, "node usage", |table| {
        let from = table.usage_from?;
        (table.columns.get(from + 1)?.name.as_ref() == "%CPU").then_some(())?;
        let row = table.rows.first()?;
        Some((measure(table.cell(row, from))?, measure(table.cell(row, from + 1))?))
    });
    assert!(
        (node_cpu_percent - node_cpu / 15.8 * 100.0).abs() < 1e-6,
        "{node_cpu} of 15.8 cores is {node_cpu_percent}%"
    );
    // The open pod's usage is sampled for its charts, with its requests and limits.
    let pod =
        stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"], None));
    let key = ObjectKey { cluster: cluster.clone(), namespace: Some(Arc::from("shop")), name: Arc::from(pod.as_str()) };
    handle.open_object(Some((kind("pods"), key.clone())));
    let history = wait_for(&handle.usage_history.snapshots, wait, "a usage sample", |history| {
        (history.key.as_ref() == Some(&key) && !history.samples.is_empty()).then(|| history.clone())
    });
    assert!(history.error.is_none(), "{:?}", history.error);
    assert!(history.samples[0].cpu_cores > 0.0 && history.samples[0].memory_bytes > 0.0);
    assert_eq!(history.latest.cpu_request_cores.map(|c| (c * 1000.0).round()), Some(250.0));
    assert_eq!(history.latest.memory_limit_bytes, Some(1024.0 * 1024.0 * 1024.0));
    handle.open_object(None);
    wait_for(&handle.usage_history.snapshots, wait, "sampling to stop", |history| history.key.is_none().then_some(()));
}

#[test]
fn prometheus_charts_are_detected_ranged_and_kept_live() {
    use crate::common::{sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ChartQuery, ChartSubject, ClusterId, ObjectKey, PrometheusSource};
    use std::sync::Arc;
    let fleet = populated();
    let handle = start_backend(sources_for(&[&fleet.kubeconfig_path]));
    wait_connected(&handle, "kubectl-sim");
    let cluster = ClusterId::new("kubectl-sim");
    let wait = std::time::Duration::from_secs(30);
    let pod =
        stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"], None));
    let query = ChartQuery {
        key: ObjectKey { cluster: cluster.clone(), namespace: Some(Arc::from("shop")), name: Arc::from(pod.as_str()) },
        subject: ChartSubject::Pod,
        range_secs: 15 * 60,
    };
    // A tenant's Service with the most specific labels, in a namespace sorting first, is not
    // trusted: only the monitoring namespaces' are.
    let decoy = "apiVersion: v1\nkind: Namespace\nmetadata: {name: aaa-tenant}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: fake-prometheus, namespace: aaa-tenant, labels: {app.kubernetes.io/name: prometheus, app.kubernetes.io/component: server}}\nspec: {ports: [{port: 9090}]}\n";
    stdout_of(&kubectl(&fleet, &["apply", "-f", "-"], Some(decoy)));
    // Detected by its labels and reached through the apiserver's service proxy.
    let chart = |query: &ChartQuery, source: Option<PrometheusSource>| {
        handle.charts.ask(Some(klieg::model::ChartRequest { query: query.clone(), source }));
    };
    chart(&query, None);
    let charts = wait_for(&handle.charts.snapshots, wait, "the pod's charts", |set| {
        (set.query.as_ref() == Some(&query) && !set.loading).then(|| set.clone())
    });
    assert_eq!(charts.problem, None);
    assert_eq!(charts.source.as_deref(), Some("service monitoring/prometheus-server:9090"));
    let titles: Vec<&str> = charts.charts.iter().map(|c| c.spec.title_key).collect();
    assert_eq!(titles, ["charts.cpu", "charts.memory", "charts.network", "charts.filesystem"]);
    for chart in &charts.charts {
        assert_eq!(chart.error, None, "{}", chart.spec.title_key);
        for line in &chart.lines {
            // 15 minutes at a 7-second step: about 129 points, all within the range and positive.
            assert!(
                line.points.len() > 100,
                "{} {}: {} points",
                chart.spec.title_key,
                line.name_key,
                line.points.len()
            );
            assert!(line.points.iter().all(|p| p[1] >= 0.0));
            let span =
                line.points.back().map(|p| p[0]).unwrap_or(0.0) - line.points.front().map(|p| p[0]).unwrap_or(0.0);
            assert!(span <= 15.0 * 60.0 + 1.0 && span > 14.0 * 60.0, "{span}");
        }
    }
    // Live: new points are appended without refetching the range.
    let last = charts.charts[0].lines[0].points.back().map(|p| p[0]).unwrap_or(0.0);
    wait_for(&handle.charts.snapshots, wait, "a newer point", |set| {
        set.charts.first()?.lines.first()?.points.back().filter(|p| p[0] > last).map(|_| ())
    });
    // Workloads (their pods by name), nodes and namespaces are charted the same way.
    let workload = stdout_of(&kubectl(
        &fleet,
        &["get", "deployments", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"],
        None,
    ));
    let node = stdout_of(&kubectl(&fleet, &["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"], None));
    for (subject, namespace, name) in [
        (ChartSubject::Workload, Some("shop"), workload.as_str()),
        (ChartSubject::Node, None, node.as_str()),
        (ChartSubject::Namespace, None, "shop"),
    ] {
        let query = ChartQuery {
            key: ObjectKey { cluster: cluster.clone(), namespace: namespace.map(Arc::from), name: Arc::from(name) },
            subject,
            range_secs: 15 * 60,
        };
        chart(&query, None);
        let cpu = wait_for(&handle.charts.snapshots, wait, "the charts", |set| {
            (set.query.as_ref() == Some(&query) && !set.loading).then(|| set.charts[0].lines[0].points.clone())
        });
        assert!(cpu.len() > 100 && cpu.iter().all(|p| p[1] > 0.0), "{subject:?} {name}: {} points", cpu.len());
    }
    // A wrong source is an error shown in place of the charts; a query error shows in its chart.
    // The charts open (the last query) follow their cluster's source.
    let wrong =
        PrometheusSource::Service { namespace: "monitoring".into(), name: "nothing-here".into(), port: "9090".into() };
    let open = handle.charts.asked().expect("charts open").query;
    chart(&open, Some(wrong));
    let failed = wait_for(&handle.charts.snapshots, wait, "the failing source's error", |set| {
        let chart = set.charts.first()?;
        (set.source.as_deref() == Some("service monitoring/nothing-here:9090") && !set.loading)
            .then(|| chart.error.clone())
            .flatten()
    });
    assert!(failed.contains("not found") || failed.contains("nothing-here"), "{failed}");
    chart(&open, Some(PrometheusSource::Off));
    let off = wait_for(&handle.charts.snapshots, wait, "switched off", |set| set.problem.clone());
    assert!(off.contains("switched off"), "{off}");
}

#[test]
fn a_real_prometheus_scraping_cadvisor_series_feeds_the_charts() {
    use crate::common::prometheus::RealPrometheus;
    use crate::common::{sources_for, start_backend, wait_connected, wait_for};
    use klieg::model::{ChartQuery, ChartSubject, ClusterId, ObjectKey, PrometheusSource};
    use std::sync::Arc;
    let fleet = populated();
    let target = fleet.server_urls[0].trim_start_matches("https://").to_string();
    let prometheus = RealPrometheus::scraping(&target, &fleet.clusters[0].token);
    let pod =
        stdout_of(&kubectl(&fleet, &["get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].metadata.name}"], None));
    // Two scrapes at least, so `rate` has something to work with.
    prometheus.wait_for_series(&format!("rate(container_cpu_usage_seconds_total{{pod=\"{pod}\"}}[1m])"));
    let handle = start_backend(sources_for(&[&fleet.kubeconfig_path]));
    wait_connected(&handle, "kubectl-sim");
    let cluster = ClusterId::new("kubectl-sim");
    let query = ChartQuery {
        key: ObjectKey { cluster, namespace: Some(Arc::from("shop")), name: Arc::from(pod.as_str()) },
        subject: ChartSubject::Pod,
        range_secs: 15 * 60,
    };
    let source = Some(PrometheusSource::Url(prometheus.url.clone()));
    handle.charts.ask(Some(klieg::model::ChartRequest { query: query.clone(), source }));
    let charts = wait_for(
        &handle.charts.snapshots,
        std::time::Duration::from_secs(60),
        "scraped points in every chart",
        |set| {
            let ready = set.query.as_ref() == Some(&query)
                && !set.loading
                && set.charts.iter().all(|c| c.lines.iter().all(|l| !l.points.is_empty()));
            ready.then(|| set.clone())
        },
    );
    assert_eq!(charts.source.as_deref(), Some(prometheus.url.as_str()));
    for chart in &charts.charts {
        assert_eq!(chart.error, None, "{}", chart.spec.title_key);
    }
    // The simulator's container uses 20m to 600m of CPU and at least 1 MiB of memory.
    let cpu = charts.charts[0].lines[0].points.back().map_or(0.0, |p| p[1]);
    let memory = charts.charts[1].lines[0].points.back().map_or(0.0, |p| p[1]);
    assert!(cpu > 0.005 && cpu < 1.0, "cpu {cpu} cores");
    assert!(memory >= 1024.0 * 1024.0, "memory {memory} bytes");
}

#[test]
fn watches_share_one_connection_per_cluster() {
    suite::watches_share_one_connection_per_cluster(SimServer::shared());
}

#[test]
fn proxy_url_carries_every_request() {
    suite::proxy_url_carries_every_request(SimServer::shared());
}

#[test]
fn every_page_of_a_list_is_one_moment_and_its_watch_brings_the_changes() {
    suite::every_page_of_a_list_is_one_moment_and_its_watch_brings_the_changes(SimServer::shared());
}

#[test]
fn paged_lists_count_what_remains_and_the_overview_follows_new_pods() {
    suite::paged_lists_count_what_remains_and_the_overview_follows_new_pods(SimServer::shared());
}

#[test]
fn bulk_selections_are_checked_per_namespace() {
    suite::bulk_selections_are_checked_per_namespace(SimServer::shared());
}
