//! Streams the logs the UI asks for: one pod, or every pod of a workload merged with a source
//! per pod and container, into a bounded chunked buffer published at most every 100 ms. Saving
//! writes the buffer to the downloads folder off the runtime's async threads. Backend runtime.

use super::actions::Activities;
use super::details::api_resource;
use super::{ClientMap, Waker};
use crate::model::{Activity, LogBuffer, LogLine, LogQuery, LogSnapshot, Outcome};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Lines kept per log view; older ones are dropped.
pub const MAX_LINES: usize = 100_000;
const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

pub struct LogFollower {
    out: watch::Sender<Arc<LogSnapshot>>,
    waker: Waker,
    task: Option<tokio::task::JoinHandle<()>>,
    generation: u64,
}

impl LogFollower {
    pub fn new(out: watch::Sender<Arc<LogSnapshot>>, waker: Waker) -> Self {
        Self { out, waker, task: None, generation: 0 }
    }

    pub fn close(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
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
        self.task = Some(tokio::spawn(follow(
            connected.client.clone(),
            connected.kinds.clone(),
            query,
            snapshot,
            self.out.clone(),
            self.waker.clone(),
        )));
    }

    /// Writes the lines shown now to a new file in the downloads folder.
    pub fn save(&self, activities: &Activities, request_id: u64) {
        let snapshot = self.out.borrow().clone();
        let activities = activities.clone();
        tokio::spawn(async move {
            let subject: Arc<str> = snapshot.query.as_ref().map_or(Arc::from("logs"), |q| q.target.key.name.clone());
            let written = tokio::task::spawn_blocking(move || write_logs(&snapshot)).await;
            let outcome = match written {
                Ok(Ok(path)) => Outcome::Done { message: Arc::from(format!("saved to {}", path.display())) },
                Ok(Err(error)) => Outcome::Failed { message: Arc::from(error.to_string()) },
                Err(error) => Outcome::Failed { message: Arc::from(error.to_string()) },
            };
            activities.record(Activity { request_id, subject, what: "logs.save", outcome });
        });
    }
}

impl Drop for LogFollower {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn write_logs(snapshot: &LogSnapshot) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    let folder = dirs::download_dir().or_else(dirs::home_dir).unwrap_or_else(std::env::temp_dir);
    let name = snapshot.query.as_ref().map_or("logs".to_string(), |q| q.target.key.name.to_string());
    let path = folder.join(format!("klieg-{name}-{}.log", jiff::Timestamp::now().as_second()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
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

/// The pods a query covers: the pod itself, or the workload's pods by its selector.
async fn pods_of(
    client: &kube::Client,
    kinds: &[crate::model::ResourceKind],
    query: &LogQuery,
) -> Result<Vec<Pod>, String> {
    let key = &query.target.key;
    let namespace = key.namespace.as_deref().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    if &*query.target.kind.plural == "pods" {
        return pods.get(&key.name).await.map(|pod| vec![pod]).map_err(|e| e.to_string());
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
    let mut found =
        pods.list(&ListParams::default().labels(&selector.join(","))).await.map_err(|e| e.to_string())?.items;
    found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(found)
}

enum Feed {
    Line(u16, String),
    Ended(u16, Option<String>),
}

async fn follow(
    client: kube::Client,
    kinds: Arc<[crate::model::ResourceKind]>,
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
    let pods = match pods_of(&client, &kinds, &query).await {
        Ok(pods) => pods,
        Err(error) => {
            snapshot.errors.push(Arc::from(error));
            publish(&mut snapshot);
            return;
        }
    };
    let mut streams = Vec::new();
    let mut containers: Vec<Arc<str>> = Vec::new();
    for pod in &pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            if !containers.iter().any(|c| **c == *container.name) {
                containers.push(Arc::from(container.name.as_str()));
            }
            if query.container.as_deref().is_some_and(|wanted| wanted != container.name) {
                continue;
            }
            streams.push((pod_name.clone(), container.name.clone()));
        }
    }
    snapshot.containers = containers;
    let single_pod = pods.len() == 1;
    snapshot.sources = streams
        .iter()
        .map(
            |(pod, container)| {
                if single_pod { Arc::from(container.as_str()) } else { Arc::from(format!("{pod}/{container}")) }
            },
        )
        .collect();
    snapshot.streaming = streams.len();
    publish(&mut snapshot);
    let (feed_tx, mut feed_rx) = mpsc::channel::<Feed>(1024);
    let namespace = query.target.key.namespace.as_deref().unwrap_or_default().to_string();
    let mut readers = Vec::new();
    for (index, (pod, container)) in streams.into_iter().enumerate() {
        let source = u16::try_from(index).unwrap_or(u16::MAX);
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let params = LogParams {
            container: Some(container),
            follow: query.follow,
            previous: query.previous,
            timestamps: query.timestamps,
            tail_lines: Some(query.tail_lines.max(0)),
            ..LogParams::default()
        };
        let feed = feed_tx.clone();
        readers.push(tokio::spawn(async move {
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
        }));
    }
    drop(feed_tx);
    struct AbortAll(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll {
        fn drop(&mut self) {
            self.0.iter().for_each(tokio::task::JoinHandle::abort);
        }
    }
    let _readers = AbortAll(readers);
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
            _ = ticker.tick() => {
                if dirty {
                    dirty = false;
                    publish(&mut snapshot);
                }
            }
        }
    }
}
