//! Streams the logs the UI asks for: one pod, or every pod of a workload merged with a source
//! per pod and container, into a bounded chunked buffer published at most every 100 ms. Saving
//! writes the buffer to the downloads folder off the runtime's async threads. Backend runtime.

use super::actions::Activities;
use super::details::api_resource;
use super::{ClientMap, Waker};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use klieg_model::{Activity, LogBuffer, LogLine, LogQuery, LogSnapshot, Outcome};
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Lines kept per log view; older ones are dropped.
pub const MAX_LINES: usize = 100_000;
const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

pub struct LogFollower {
    out: watch::Sender<Arc<LogSnapshot>>,
    waker: Waker,
    task: super::TaskSlot,
    generation: u64,
}

impl LogFollower {
    pub fn new(out: watch::Sender<Arc<LogSnapshot>>, waker: Waker) -> Self {
        Self { out, waker, task: super::TaskSlot::default(), generation: 0 }
    }

    pub fn close(&mut self) {
        self.task.stop();
        self.generation += 1;
        self.out.send_replace(Arc::new(LogSnapshot { generation: self.generation, ..LogSnapshot::default() }));
        (self.waker)();
    }

    pub fn open(&mut self, clients: &ClientMap, query: LogQuery) {
        self.close();
        let snapshot = LogSnapshot {
            generation: self.generation,
            query: Some(query.clone()),
            buffer: LogBuffer::with_capacity(MAX_LINES),
            ..LogSnapshot::default()
        };
        let Some(connected) = clients.get(&query.target.key.cluster) else {
            let mut failed = snapshot;
            failed.errors.push(Arc::from("the cluster is not connected"));
            self.out.send_replace(Arc::new(failed));
            (self.waker)();
            return;
        };
        self.task.set(tokio::spawn(follow(
            connected.client.clone(),
            connected.kinds.clone(),
            query,
            snapshot,
            self.out.clone(),
            self.waker.clone(),
        )));
    }
}

impl super::feed::Follower for LogFollower {
    type Query = LogQuery;
    type Snapshot = LogSnapshot;

    fn follow(&mut self, context: &super::feed::FeedContext, query: Option<Self::Query>) {
        match query {
            Some(query) => self.open(&context.clients(), query),
            None => self.close(),
        }
    }
}

/// Writes the lines shown now (the logs feed's latest snapshot) to a new file in the downloads
/// folder, reporting in the activity log.
pub fn save(shown: &watch::Receiver<Arc<LogSnapshot>>, activities: &Activities, request_id: u64) {
    let snapshot = shown.borrow().clone();
    let activities = activities.clone();
    tokio::spawn(async move {
        let subject: Arc<str> = snapshot.query.as_ref().map_or(Arc::from("logs"), |q| q.target.key.name.clone());
        let folder = dirs::download_dir().or_else(dirs::home_dir).unwrap_or_else(std::env::temp_dir);
        let written = tokio::task::spawn_blocking(move || write_logs(&snapshot, &folder)).await;
        let outcome = match written {
            Ok(Ok(path)) => Outcome::Done { message: Arc::from(format!("saved to {}", path.display())) },
            Ok(Err(error)) => Outcome::Failed { message: Arc::from(error.to_string()) },
            Err(error) => Outcome::Failed { message: Arc::from(error.to_string()) },
        };
        activities.record(Activity { request_id, subject, what: klieg_model::Text::Key("logs.save"), outcome });
    });
}

/// Writes every buffered line (with its `[pod/container]` prefix when several sources are merged)
/// to a new file in `folder`, named after the object and the time.
fn write_logs(snapshot: &LogSnapshot, folder: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    let name = snapshot.query.as_ref().map_or("logs".to_string(), |q| q.target.key.name.to_string());
    let path = folder.join(format!("klieg-{name}-{}.log", jiff::Timestamp::now().as_second()));
    let mut file = std::io::BufWriter::new(std::fs::File::create_new(&path)?);
    let prefixed = snapshot.sources.len() > 1;
    for line in snapshot.buffer.iter_from(0) {
        if prefixed {
            let source = snapshot.sources.get(usize::from(line.source)).map_or("", |s| &**s);
            writeln!(file, "[{source}] {}", line.text)?;
        } else {
            writeln!(file, "{}", line.text)?;
        }
    }
    file.flush()?;
    Ok(path)
}

/// The pods a query covers: the pod itself, or the workload's pods by its label selector
/// (returned too, to follow pods the workload creates later).
async fn pods_of(
    client: &kube::Client,
    kinds: &[klieg_model::ResourceKind],
    query: &LogQuery,
) -> Result<(Vec<Pod>, Option<String>), String> {
    let key = &query.target.key;
    let namespace = key.namespace.as_deref().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    if &*query.target.kind.plural == "pods" {
        return pods.get(&key.name).await.map(|pod| (vec![pod], None)).map_err(|e| e.to_string());
    }
    let kind = kinds
        .iter()
        .find(|k| k.key() == query.target.kind)
        .ok_or_else(|| format!("the cluster does not serve {}", query.target.kind.plural))?;
    let workloads: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &api_resource(kind));
    let workload = workloads.get(&key.name).await.map_err(|e| e.to_string())?;
    let labels = workload
        .data
        .pointer("/spec/selector/matchLabels")
        .and_then(|l| l.as_object())
        .ok_or_else(|| format!("{} {} has no label selector", kind.kind, key.name))?;
    let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    let selector = selector.join(",");
    let mut found = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| e.to_string())?.items;
    found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok((found, Some(selector)))
}

/// Starts a log stream per container of `pod` (the one asked for, or all), adding sources.
fn start_pod(
    client: &kube::Client,
    namespace: &str,
    pod: &Pod,
    query: &LogQuery,
    by_container: bool,
    snapshot: &mut LogSnapshot,
    feed: &mpsc::Sender<Feed>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let mut readers = Vec::new();
    for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        if !snapshot.containers.iter().any(|c| **c == *container.name) {
            snapshot.containers.push(Arc::from(container.name.as_str()));
        }
        if query.container.as_deref().is_some_and(|wanted| wanted != container.name) {
            continue;
        }
        let source = u16::try_from(snapshot.sources.len()).unwrap_or(u16::MAX);
        snapshot.sources.push(if by_container {
            Arc::from(container.name.as_str())
        } else {
            Arc::from(format!("{pod_name}/{}", container.name))
        });
        snapshot.streaming += 1;
        let params = LogParams {
            container: Some(container.name.clone()),
            follow: query.follow,
            previous: query.previous,
            timestamps: query.timestamps,
            tail_lines: Some(query.tail_lines.max(0)),
            ..LogParams::default()
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        readers.push(tokio::spawn(read_log(api, pod_name.clone(), params, source, feed.clone())));
    }
    readers
}

async fn read_log(api: Api<Pod>, pod: String, params: LogParams, source: u16, feed: mpsc::Sender<Feed>) {
    let ended = match api.log_stream(&pod, &params).await {
        Ok(stream) => {
            let mut lines = stream.lines();
            loop {
                match lines.next().await {
                    Some(Ok(line)) => {
                        if feed.send(Feed::Line(source, line)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(error)) => break Some(error.to_string()),
                    None => break None,
                }
            }
        }
        Err(kube::Error::Api(status)) => Some(status.message),
        Err(error) => Some(error.to_string()),
    };
    let _ = feed.send(Feed::Ended(source, ended)).await;
}

enum Feed {
    Line(u16, String),
    Ended(u16, Option<String>),
}

async fn follow(
    client: kube::Client,
    kinds: Arc<[klieg_model::ResourceKind]>,
    query: LogQuery,
    mut snapshot: LogSnapshot,
    out: watch::Sender<Arc<LogSnapshot>>,
    waker: Waker,
) {
    let publish = |snapshot: &mut LogSnapshot| {
        snapshot.generation += 1;
        out.send_replace(Arc::new(snapshot.clone()));
        waker();
    };
    let (pods, selector) = match pods_of(&client, &kinds, &query).await {
        Ok(found) => found,
        Err(error) => {
            snapshot.errors.push(Arc::from(error));
            publish(&mut snapshot);
            return;
        }
    };
    let namespace = query.target.key.namespace.as_deref().unwrap_or_default().to_string();
    let (feed_tx, mut feed_rx) = mpsc::channel::<Feed>(1024);
    let by_container = selector.is_none();
    let mut known_pods: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut readers = Vec::new();
    for pod in &pods {
        readers.extend(start_pod(&client, &namespace, pod, &query, by_container, &mut snapshot, &feed_tx));
        known_pods.insert(pod.metadata.name.clone().unwrap_or_default());
    }
    publish(&mut snapshot);
    // A followed workload's new pods (a rollout, a scale-up) join the view as they appear.
    let new_pods = match (&selector, query.follow) {
        (Some(selector), true) => {
            let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            watcher::watcher(api, watcher::Config::default().labels(selector))
                .default_backoff()
                .applied_objects()
                .boxed()
        }
        _ => futures::stream::pending().boxed(),
    };
    futures::pin_mut!(new_pods);
    struct AbortAll(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll {
        fn drop(&mut self) {
            self.0.iter().for_each(tokio::task::JoinHandle::abort);
        }
    }
    let mut readers = AbortAll(readers);
    let mut ticker = tokio::time::interval(PUBLISH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    loop {
        tokio::select! {
            feed = feed_rx.recv() => match feed {
                Some(Feed::Line(source, text)) => {
                    snapshot.buffer.push(LogLine { source, text: Arc::from(text) });
                    dirty = true;
                }
                Some(Feed::Ended(source, error)) => {
                    snapshot.streaming = snapshot.streaming.saturating_sub(1);
                    if let Some(error) = error {
                        let name = snapshot.sources.get(usize::from(source)).cloned().unwrap_or_else(|| Arc::from("?"));
                        snapshot.errors.push(Arc::from(format!("{name}: {error}")));
                    }
                    dirty = true;
                }
                None => {
                    publish(&mut snapshot);
                    return;
                }
            },
            Some(Ok(pod)) = new_pods.next() => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if known_pods.insert(name) {
                    readers.0.extend(start_pod(&client, &namespace, &pod, &query, by_container, &mut snapshot, &feed_tx));
                    dirty = true;
                }
            }
            _ = ticker.tick() => {
                if dirty {
                    dirty = false;
                    publish(&mut snapshot);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klieg_model::{KindKey, LogBuffer, LogLine, ObjectKey, Target};

    #[test]
    fn saved_logs_hold_every_line_with_its_source() {
        let folder = tempfile::tempdir().expect("temp dir");
        let mut snapshot = LogSnapshot {
            buffer: LogBuffer::with_capacity(klieg_model::CHUNK_LINES),
            sources: vec![Arc::from("web-1/app"), Arc::from("web-2/app")],
            query: Some(LogQuery {
                target: Target {
                    kind: KindKey { group: Arc::from("apps"), plural: Arc::from("deployments") },
                    key: ObjectKey {
                        cluster: klieg_model::ClusterId::new("c"),
                        namespace: Some(Arc::from("shop")),
                        name: Arc::from("web"),
                    },
                },
                container: None,
                previous: false,
                timestamps: false,
                follow: false,
                tail_lines: 100,
            }),
            ..LogSnapshot::default()
        };
        snapshot.buffer.push(LogLine { source: 0, text: Arc::from("first") });
        snapshot.buffer.push(LogLine { source: 1, text: Arc::from("second") });
        let path = write_logs(&snapshot, folder.path()).expect("written");
        assert!(path.starts_with(folder.path()));
        assert!(path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("klieg-web-")));
        let text = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(text, "[web-1/app] first\n[web-2/app] second\n");
        // A single source is written bare.
        snapshot.sources.truncate(1);
        snapshot.buffer = LogBuffer::with_capacity(klieg_model::CHUNK_LINES);
        snapshot.buffer.push(LogLine { source: 0, text: Arc::from("only") });
        let again = write_logs(&snapshot, folder.path());
        // Same second, same name: never overwrite an earlier save.
        match again {
            Ok(path) => assert_eq!(std::fs::read_to_string(path).expect("read"), "only\n"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists),
        }
    }
}
