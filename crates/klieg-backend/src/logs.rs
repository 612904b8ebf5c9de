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
use rust_i18n::t;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Lines kept per log view; older ones are dropped.
pub const MAX_LINES: usize = 100_000;
/// Log streams one view follows at once (a workload's pods × containers): more are named, not
/// followed, so a workload of hundreds of pods cannot open hundreds of streams.
pub const MAX_LOG_STREAMS: usize = 50;
const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

pub struct LogFollower {
    out: watch::Sender<Arc<LogSnapshot>>,
    waker: Waker,
    task: super::TaskSlot,
    generation: u64,
    /// The log asked for is on a cluster not connected (yet).
    waiting: bool,
}

impl LogFollower {
    pub fn new(out: watch::Sender<Arc<LogSnapshot>>, waker: Waker) -> Self {
        Self { out, waker, task: super::TaskSlot::default(), generation: 0, waiting: false }
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
        self.waiting = !clients.contains_key(&query.target.key.cluster);
        let Some(connected) = clients.get(&query.target.key.cluster) else {
            let mut failed = snapshot;
            failed.errors.push(Arc::from(t!("backend.not_connected").as_ref()));
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
            None => {
                self.waiting = false;
                self.close();
            }
        }
    }

    fn waits_for_a_cluster(&self) -> bool {
        self.waiting
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
        if snapshot.streaming >= MAX_LOG_STREAMS {
            snapshot.left_out.push(Arc::from(format!("{pod_name}/{}", container.name)));
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
            let mut stream = std::pin::pin!(stream);
            let sent = read_lines(&mut stream, |segment| {
                let feed = feed.clone();
                async move { feed.send(Feed::Line(source, segment)).await.is_ok() }
            });
            match sent.await {
                Ok(true) => None,
                // The view went away.
                Ok(false) => return,
                Err(error) => Some(error.to_string()),
            }
        }
        Err(kube::Error::Api(status)) => Some(status.message),
        Err(error) => Some(error.to_string()),
    };
    let _ = feed.send(Feed::Ended(source, ended)).await;
}

/// Bytes per log line: a longer line is split into segments of at most this many bytes, each
/// but the last marked as continued (as the container runtimes split at 16 KiB).
pub const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

/// One line of a log, or a segment of a longer one.
#[derive(Debug, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    /// The line goes on in the next segment.
    pub continues: bool,
}

/// Reads `reader` as lines of at most [`MAX_LOG_LINE_BYTES`], handing each to `send` (which says
/// whether to go on). Bytes that are not UTF-8 become U+FFFD and the stream goes on, as kubectl
/// prints them; `\r\n` ends a line like `\n`; a last line without a newline counts. Returns
/// `Ok(false)` when `send` stopped it, `Ok(true)` at the end of the stream. Memory is bounded
/// by the segment size, whatever the stream holds.
pub async fn read_lines<R, F, Fut>(reader: &mut R, mut send: F) -> std::io::Result<bool>
where
    R: futures::AsyncBufRead + Unpin,
    F: FnMut(Segment) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(pending.is_empty() || send(segment(&pending, false)).await);
        }
        let room = MAX_LOG_LINE_BYTES - pending.len();
        let newline = buffer.iter().take(room + 1).position(|b| *b == b'\n');
        match newline {
            Some(end) => {
                pending.extend_from_slice(&buffer[..end]);
                reader.consume_unpin(end + 1);
                if pending.last() == Some(&b'\r') {
                    pending.pop();
                }
                if !send(segment(&pending, false)).await {
                    return Ok(false);
                }
                pending.clear();
            }
            // Full, and the line goes on: cut at a character boundary; the rest starts the next segment.
            None if room == 0 => {
                let rest = pending.split_off(utf8_cut(&pending));
                if !send(segment(&pending, true)).await {
                    return Ok(false);
                }
                pending = rest;
            }
            None => {
                let taken = buffer.len().min(room);
                pending.extend_from_slice(&buffer[..taken]);
                reader.consume_unpin(taken);
            }
        }
    }
}

/// Where to cut `bytes` so that no UTF-8 character is split: before a trailing incomplete one.
fn utf8_cut(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if byte & 0xC0 != 0x80 {
            let needed = match byte {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if needed > back { len - back } else { len };
        }
    }
    len
}

fn segment(bytes: &[u8], continues: bool) -> Segment {
    Segment { text: String::from_utf8_lossy(bytes).into_owned(), continues }
}

enum Feed {
    Line(u16, Segment),
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
            super::table_watch::backed_off(watcher::watcher(api, watcher::Config::default().labels(selector)))
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
                Some(Feed::Line(source, Segment { text, continues })) => {
                    snapshot.buffer.push(LogLine { source, text: Arc::from(text), continues });
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

    /// Reads `bytes` through a small buffer (so lines span many reads) into segments.
    fn segments_of(bytes: Vec<u8>) -> Vec<Segment> {
        let mut reader = futures::io::BufReader::with_capacity(7, futures::io::Cursor::new(bytes));
        let mut found = Vec::new();
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a test runtime");
        let done = runtime.block_on(read_lines(&mut reader, |segment| {
            found.push(segment);
            async { true }
        }));
        assert!(done.expect("a cursor does not fail"), "read to the end");
        found
    }

    #[test]
    fn long_lines_are_split_at_the_limit_and_bad_bytes_do_not_end_the_stream() {
        let line = |text: &str| Segment { text: text.to_string(), continues: false };
        assert_eq!(segments_of(b"one\r\ntwo\n\nlast".to_vec()), [line("one"), line("two"), line(""), line("last")]);
        // Bytes that are not UTF-8 show as U+FFFD, and the lines after them still come.
        assert_eq!(segments_of(b"a\xffb\nafter\n".to_vec()), [line("a\u{fffd}b"), line("after")]);
        // A line of 2.5 limits without a newline: three segments, the first two marked.
        let long = vec![b'x'; MAX_LOG_LINE_BYTES * 5 / 2];
        let split = segments_of([long.as_slice(), b"\nnext\n"].concat());
        let shape: Vec<(usize, bool)> = split.iter().map(|s| (s.text.len(), s.continues)).collect();
        let limit = MAX_LOG_LINE_BYTES;
        assert_eq!(shape, [(limit, true), (limit, true), (limit / 2, false), (4, false)]);
        // A multi-byte character across the limit moves whole into the next segment.
        let mut accented = vec![b'y'; MAX_LOG_LINE_BYTES - 1];
        accented.extend("é and more".as_bytes());
        let split = segments_of(accented);
        assert_eq!(split[0].text.len(), MAX_LOG_LINE_BYTES - 1);
        assert!(split[0].continues);
        assert_eq!(split[1], line("é and more"));
    }

    #[test]
    fn a_line_exactly_at_the_limit_is_one_line() {
        let exact = [vec![b'z'; MAX_LOG_LINE_BYTES], b"\n".to_vec()].concat();
        let split = segments_of(exact);
        assert_eq!(split.len(), 1);
        assert!(!split[0].continues && split[0].text.len() == MAX_LOG_LINE_BYTES);
    }

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
        snapshot.buffer.push(LogLine { source: 0, text: Arc::from("first"), continues: false });
        snapshot.buffer.push(LogLine { source: 1, text: Arc::from("second"), continues: false });
        let path = write_logs(&snapshot, folder.path()).expect("written");
        assert!(path.starts_with(folder.path()));
        assert!(path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("klieg-web-")));
        let text = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(text, "[web-1/app] first\n[web-2/app] second\n");
        // A single source is written bare.
        snapshot.sources.truncate(1);
        snapshot.buffer = LogBuffer::with_capacity(klieg_model::CHUNK_LINES);
        snapshot.buffer.push(LogLine { source: 0, text: Arc::from("only"), continues: false });
        let again = write_logs(&snapshot, folder.path());
        // Same second, same name: never overwrite an earlier save.
        match again {
            Ok(path) => assert_eq!(std::fs::read_to_string(path).expect("read"), "only\n"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists),
        }
    }
}
