//! One generic watcher for every kind: paged LIST then WATCH in the server's Table representation,
//! so columns (CRD printer columns included) come from the server. Runs on the backend runtime.
//!
//! It follows kube-runtime's watcher protocol: `Init`, `InitRow`… `InitDone` for every (re)list,
//! then `Apply`/`Delete`; bookmarks move the resume point; `410 Gone` starts a fresh list; other
//! failures back off and resume from the last resource version, so nothing is lost or duplicated.

use super::rows::{Interner, MetaLite, TableColumnDef, TableRowDoc, row_from_table, table_columns};
use futures::StreamExt;
use http::header::ACCEPT;
use klieg_model::{ClusterId, Column, ObjectKey, ResourceKind, Row};
use rust_i18n::t;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Asks for a Table (v1, then v1beta1), falling back to plain JSON for servers that have none.
pub const TABLE_ACCEPT: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const PAGE_SIZE: u32 = 500;
/// Rows of one list, whatever the page size: the most all tables together may hold.
pub const MAX_LIST_ROWS: usize = super::view_task::MAX_TOTAL_ROWS;
const WATCH_TIMEOUT_SECS: u32 = 290;
/// How long Klieg keeps a watch open, whatever the server does: the timeout it asks for, and
/// half a minute of grace.
pub const WATCH_DEADLINE: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Request(#[source] kube::Error),
    #[error("{}", t!("backend.watch_gone"))]
    Gone,
    #[error("{}", t!("backend.server_error", code = .code, message = .message))]
    Status { code: u16, message: String },
    #[error("{}", t!("backend.parse", error = .0))]
    Parse(#[source] serde_json::Error),
    #[error("{0}")]
    EndlessList(#[source] super::bounded::EndlessList),
    #[error("{}", t!("backend.too_many_rows", rows = .rows))]
    TooManyRows { rows: usize },
    #[error("{}", t!("backend.object_too_large", mib = super::bounded::MAX_RESPONSE_BYTES / (1024 * 1024)))]
    ObjectTooLarge,
}

/// What the watcher reports to its ingest, mirroring `kube::runtime::watcher::Event`.
#[derive(Debug)]
pub enum TableEvent {
    /// A (re)list starts; columns are those of the first page.
    Init(Arc<[Column]>),
    InitRow(Row),
    InitDone,
    Apply(Row),
    Delete(ObjectKey),
    /// Listing or watching failed; the watcher retries on its own.
    Failed(Arc<str>),
    /// The server refused (403): the user may not list this collection.
    Forbidden(Arc<str>),
    /// Events that arrived together (a list page, or watch lines already received), sent as one
    /// message so a busy watch wakes its ingest once per batch rather than once per event.
    Batch(Vec<TableEvent>),
}

impl TableEvent {
    /// Watch changes (applies and deletes) this event carries, batches counted through.
    pub fn changes(&self) -> usize {
        match self {
            TableEvent::Apply(_) | TableEvent::Delete(_) => 1,
            TableEvent::Batch(events) => events.iter().map(TableEvent::changes).sum(),
            _ => 0,
        }
    }
}

/// Watch lines taken in one go, at most: bounds a batch's size and the ingest's latency.
const BATCH_LINES: usize = 512;

#[derive(serde::Deserialize)]
struct ListMetaLite {
    #[serde(default, rename = "resourceVersion")]
    resource_version: Option<String>,
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

/// A Table, or a plain list (`items`) when the server could not make a Table.
#[derive(serde::Deserialize)]
struct ListDoc {
    #[serde(default)]
    kind: String,
    #[serde(default, rename = "columnDefinitions")]
    column_definitions: Option<Vec<TableColumnDef>>,
    #[serde(default)]
    rows: Vec<TableRowDoc>,
    #[serde(default)]
    items: Vec<PlainObject>,
    metadata: Option<ListMetaLite>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(serde::Deserialize)]
struct PlainObject {
    #[serde(default)]
    metadata: MetaLite,
}

#[derive(serde::Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    event_type: String,
    object: ListDoc,
}

/// The URL path of a kind's collection across all namespaces.
pub fn collection_path(kind: &ResourceKind) -> String {
    if kind.group.is_empty() {
        format!("/api/{}/{}", kind.version, kind.plural)
    } else {
        format!("/apis/{}/{}/{}", kind.group, kind.version, kind.plural)
    }
}

/// Percent-encodes a query value (continue tokens and resource versions are opaque).
pub(crate) fn encode_query_value(value: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 3986's unreserved characters stay; everything else is escaped.
    const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(value, ESCAPED).to_string()
}

fn table_request(path_and_query: String) -> Result<http::Request<Vec<u8>>, WatchError> {
    http::Request::get(path_and_query)
        .header(ACCEPT, TABLE_ACCEPT)
        .body(Vec::new())
        .map_err(|e| WatchError::Request(kube::Error::HttpError(e)))
}

/// The URL path of a kind's collection in one namespace.
pub fn namespaced_path(kind: &ResourceKind, namespace: &str) -> String {
    if kind.group.is_empty() {
        format!("/api/{}/namespaces/{namespace}/{}", kind.version, kind.plural)
    } else {
        format!("/apis/{}/{}/namespaces/{namespace}/{}", kind.group, kind.version, kind.plural)
    }
}

/// Watches `kind` on `cluster` (in one namespace, or across all) until the receiver is dropped.
pub async fn run_table_watch(
    client: kube::Client,
    cluster: ClusterId,
    kind: ResourceKind,
    namespace: Option<Arc<str>>,
    lists: Arc<tokio::sync::Semaphore>,
    out: mpsc::Sender<TableEvent>,
    with_objects: bool,
) {
    let collection = match &namespace {
        Some(namespace) => namespaced_path(&kind, namespace),
        None => collection_path(&kind),
    };
    // Rows carry only metadata, unless a registered column computes its cells from the object
    // (its spec, status and data then reach the ingest, which drops them once computed).
    let path = format!("{collection}?includeObject={}", if with_objects { "Object" } else { "Metadata" });
    let mut resource_version: Option<String> = None;
    let mut columns: Arc<[Column]> = Arc::from(Vec::new());
    let mut backoff = Backoff::default();
    let mut interner = Interner::default();
    loop {
        let started = std::time::Instant::now();
        let result = match &resource_version {
            None => {
                // Every page of one list under one permit; a closed semaphore never happens.
                let _permit = lists.acquire().await.ok();
                list_all(&client, &cluster, &path, &mut interner, &out).await.map(|(rv, list_columns)| {
                    columns = list_columns;
                    Some(rv)
                })
            }
            Some(rv) => watch_from(&client, &cluster, &path, rv, &columns, &mut interner, &out).await,
        };
        if out.is_closed() {
            return;
        }
        let ran = started.elapsed();
        let ended = match &result {
            Ok(_) if resource_version.is_none() => Ended::Listed,
            Ok(_) => Ended::Watched,
            Err(WatchError::Gone) => Ended::Gone,
            Err(_) => Ended::Failed,
        };
        let pause = pause_after(ended, ran, &mut backoff);
        match result {
            Ok(Some(next_rv)) => resource_version = Some(next_rv),
            // The watch ended normally (server timeout); resume from the same point.
            Ok(None) => {}
            Err(WatchError::Gone) => {
                tracing::debug!(%cluster, kind = %kind.plural, "watch expired, relisting");
                resource_version = None;
            }
            Err(error) => {
                let delay = pause.unwrap_or_default();
                tracing::debug!(%cluster, kind = %kind.plural, %error, ?delay, "watch failed");
                let event = match &error {
                    WatchError::Request(kube::Error::Api(status)) if status.code == 403 => {
                        TableEvent::Forbidden(Arc::from(status.message.as_str()))
                    }
                    _ => TableEvent::Failed(Arc::from(error.to_string())),
                };
                if out.send(event).await.is_err() {
                    return;
                }
                tokio::time::sleep(delay).await;
                continue;
            }
        }
        if let Some(delay) = pause {
            tracing::debug!(%cluster, kind = %kind.plural, ?delay, ?ended, "the watch ended early; waiting");
            tokio::time::sleep(delay).await;
        }
    }
}

/// A watch must have run this long for its end (or its 410) to count as normal; one that ends
/// sooner is a server in trouble, and the next attempt waits its backoff.
pub const HEALTHY_WATCH: Duration = Duration::from_secs(10);

/// How one attempt of the list-and-watch loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// A list completed: the watch starts at once, and the backoff stays where it was (a list
    /// proves nothing about the watch that follows).
    Listed,
    /// A watch ended without an error.
    Watched,
    /// A watch (or the list's resume point) expired: 410 Gone, relist.
    Gone,
    Failed,
}

/// How long to wait before the next attempt, if at all. Only a watch that ran for
/// [`HEALTHY_WATCH`] resets the backoff, so a watch that ends at once, or a server that answers
/// every watch with 410, is retried with growing pauses instead of in a tight loop.
fn pause_after(ended: Ended, ran: Duration, backoff: &mut Backoff) -> Option<Duration> {
    match ended {
        Ended::Listed => None,
        Ended::Watched | Ended::Gone if ran >= HEALTHY_WATCH => {
            backoff.reset();
            None
        }
        Ended::Watched | Ended::Gone | Ended::Failed => Some(backoff.next_delay()),
    }
}

/// Lists every page; rows go out between `Init` and `InitDone`.
/// Returns the list's resource version and its columns.
async fn list_all(
    client: &kube::Client,
    cluster: &ClusterId,
    path: &str,
    interner: &mut Interner,
    out: &mpsc::Sender<TableEvent>,
) -> Result<(String, Arc<[Column]>), WatchError> {
    let mut continue_token: Option<String> = None;
    let mut columns: Option<Arc<[Column]>> = None;
    let mut rows = 0usize;
    // A page past `MAX_RESPONSE_BYTES` (objects with huge labels or annotations) is asked again
    // in pages a tenth the size, down to one object; a single object past it is named.
    let mut page_size = PAGE_SIZE;
    loop {
        if rows >= MAX_LIST_ROWS {
            return Err(WatchError::TooManyRows { rows });
        }
        let mut url = format!("{path}&limit={page_size}");
        if let Some(token) = &continue_token {
            url.push_str("&continue=");
            url.push_str(&encode_query_value(token));
        }
        let text = match client.request_text(table_request(url)?).await {
            Ok(text) => text,
            Err(error) if super::bounded::is_endless_list(&error) => {
                return Err(WatchError::EndlessList(super::bounded::EndlessList));
            }
            Err(error) if super::bounded::is_too_large(&error) => {
                if page_size == 1 {
                    return Err(WatchError::ObjectTooLarge);
                }
                page_size = (page_size / 10).max(1);
                tracing::info!(%cluster, path, page_size, "a list page was too large; asking for smaller pages");
                continue;
            }
            Err(error) => return Err(classify_kube_error(error)),
        };
        let page = parse_list_page(cluster, &text, columns.as_ref(), interner)?;
        let page_columns = columns.get_or_insert(page.columns).clone();
        if continue_token.is_none() && out.send(TableEvent::Init(page_columns.clone())).await.is_err() {
            return Ok((String::new(), page_columns));
        }
        let page_rows: Vec<TableEvent> = page.rows.into_iter().map(TableEvent::InitRow).collect();
        rows += page_rows.len();
        if out.send(TableEvent::Batch(page_rows)).await.is_err() {
            return Ok((String::new(), page_columns));
        }
        let meta = ListMetaLite { resource_version: page.resource_version, continue_token: page.continue_token };
        match meta.continue_token.filter(|t| !t.is_empty()) {
            Some(token) => continue_token = Some(token),
            None => {
                // An out-of-date send error only means nobody listens any more.
                let _ = out.send(TableEvent::InitDone).await;
                return Ok((meta.resource_version.unwrap_or_default(), page_columns));
            }
        }
    }
}

/// One page of a list, parsed.
pub struct ListPage {
    /// The page's columns (a list keeps its first page's).
    pub columns: Arc<[Column]>,
    pub rows: Vec<Row>,
    pub resource_version: Option<String>,
    pub continue_token: Option<String>,
}

/// Parses one page of a list: a Table, or a plain list when the server made none. Rows take the
/// list's `columns` when known (pages after the first carry no definitions). Pure; fuzzed.
pub fn parse_list_page(
    cluster: &ClusterId,
    text: &str,
    columns: Option<&Arc<[Column]>>,
    interner: &mut Interner,
) -> Result<ListPage, WatchError> {
    let doc: ListDoc = serde_json::from_str(text).map_err(WatchError::Parse)?;
    let is_table = doc.kind == "Table";
    let columns = columns.cloned().unwrap_or_else(|| table_columns(doc.column_definitions.as_deref(), is_table));
    let rows = rows_of(cluster, is_table, doc.rows, doc.items, &columns, interner);
    let meta = doc.metadata.unwrap_or(ListMetaLite { resource_version: None, continue_token: None });
    Ok(ListPage { columns, rows, resource_version: meta.resource_version, continue_token: meta.continue_token })
}

fn rows_of(
    cluster: &ClusterId,
    is_table: bool,
    rows: Vec<TableRowDoc>,
    items: Vec<PlainObject>,
    columns: &[Column],
    interner: &mut Interner,
) -> Vec<Row> {
    if is_table {
        rows.into_iter().filter_map(|row| row_from_table(cluster, row, columns, interner)).collect()
    } else {
        items
            .into_iter()
            .filter_map(|item| row_from_table(cluster, TableRowDoc::from_meta(item.metadata), columns, interner))
            .collect()
    }
}

/// Streams watch events from `rv`. Returns the newest resource version seen, `None` if unchanged.
async fn watch_from(
    client: &kube::Client,
    cluster: &ClusterId,
    path: &str,
    rv: &str,
    columns: &[Column],
    interner: &mut Interner,
    out: &mpsc::Sender<TableEvent>,
) -> Result<Option<String>, WatchError> {
    let url = format!(
        "{path}&watch=1&allowWatchBookmarks=true&timeoutSeconds={WATCH_TIMEOUT_SECS}&resourceVersion={}",
        encode_query_value(rv)
    );
    let stream = client.request_stream(table_request(url)?).await.map_err(classify_kube_error)?;
    // Lines already received are taken together and sent as one batch.
    let lines = super::bounded::capped_lines(stream, super::bounded::MAX_WATCH_LINE_BYTES);
    let mut chunks = std::pin::pin!(lines.ready_chunks(BATCH_LINES));
    let mut newest: Option<String> = None;
    // A server that keeps a watch open past the timeout it was asked for (or sends nothing
    // at all) is left: the watch resumes from the newest resource version, as after a normal end.
    let deadline = tokio::time::Instant::now() + WATCH_DEADLINE;
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, chunks.next()).await {
        let mut batch = Vec::with_capacity(chunk.len());
        for line in chunk {
            let line = line.map_err(|e| WatchError::Request(kube::Error::ReadEvents(e)))?;
            if line.trim().is_empty() {
                continue;
            }
            match parse_watch_line(cluster, &line, columns, interner, &mut newest) {
                Ok(events) => batch.extend(events),
                Err(error) => {
                    // What came before the error still counts.
                    let _ = out.send(TableEvent::Batch(batch)).await;
                    return Err(error);
                }
            }
        }
        let event = match batch.len() {
            0 => continue,
            1 => batch.pop().unwrap_or(TableEvent::Batch(Vec::new())),
            _ => TableEvent::Batch(batch),
        };
        if out.send(event).await.is_err() {
            return Ok(newest);
        }
    }
    Ok(newest)
}

/// Parses one watch line into the events it carries (none for a bookmark), moving `newest` to
/// the newest resource version seen; an `ERROR` event is returned as its error (410: `Gone`).
/// Pure; fuzzed.
pub fn parse_watch_line(
    cluster: &ClusterId,
    line: &str,
    columns: &[Column],
    interner: &mut Interner,
    newest: &mut Option<String>,
) -> Result<Vec<TableEvent>, WatchError> {
    let event: WatchLine = serde_json::from_str(line).map_err(WatchError::Parse)?;
    if event.event_type == "ERROR" {
        let code = event.object.code.unwrap_or(500);
        if code == 410 {
            return Err(WatchError::Gone);
        }
        return Err(WatchError::Status { code, message: event.object.message.unwrap_or_default() });
    }
    let is_table = event.object.kind == "Table";
    // The row's own metadata carries the resource version, for bookmarks too.
    let rows = if is_table {
        event.object.rows
    } else {
        event.object.items.into_iter().map(|item| TableRowDoc::from_meta(item.metadata)).collect()
    };
    let mut events = Vec::new();
    for row_doc in rows {
        if let Some(rv) = row_doc.object.metadata.resource_version.clone() {
            *newest = Some(rv);
        }
        if event.event_type == "BOOKMARK" {
            continue;
        }
        // Watch events carry no column definitions after the first; cells keep the list's order.
        let Some(row) = row_from_table(cluster, row_doc, columns, interner) else {
            continue;
        };
        events.push(match event.event_type.as_str() {
            "DELETED" => TableEvent::Delete(row.key),
            _ => TableEvent::Apply(row),
        });
    }
    Ok(events)
}

/// Turns an HTTP 410 into `Gone`, keeping every other failure as it is.
fn classify_kube_error(error: kube::Error) -> WatchError {
    match &error {
        kube::Error::Api(status) if status.code == 410 => WatchError::Gone,
        _ => WatchError::Request(error),
    }
}

/// Retries a kube watcher (namespaces, CRDs, RBAC, an open object) with [`Backoff`]: after an
/// error the stream pauses before it is polled again, and the backoff starts over only when the
/// error came [`HEALTHY_WATCH`] or more after the stream last resumed. kube's own
/// `default_backoff` starts over on any event, so a server answering every watch with 410 was
/// relisted about once a second for good (each relist's events reset it).
///
/// An expired watch (410 Gone: the watcher relists by itself) still counts for the pauses but is
/// not passed on: the server answered, so no follower should show it as trouble.
pub fn backed_off<S, T>(stream: S) -> impl futures::Stream<Item = Result<T, kube::runtime::watcher::Error>> + Send
where
    S: futures::Stream<Item = Result<T, kube::runtime::watcher::Error>> + Send + 'static,
    T: Send,
{
    use kube::runtime::watcher::Error;
    let state = (Box::pin(stream), Backoff::default(), std::time::Instant::now(), None::<Duration>);
    futures::stream::unfold(state, |(mut stream, mut backoff, mut resumed, mut pause)| async move {
        loop {
            if let Some(pause) = pause.take() {
                tokio::time::sleep(pause).await;
                resumed = std::time::Instant::now();
            }
            let item = stream.next().await?;
            let Err(error) = &item else { return Some((item, (stream, backoff, resumed, None))) };
            if resumed.elapsed() >= HEALTHY_WATCH {
                backoff.reset();
            }
            pause = Some(backoff.next_delay());
            if !matches!(error, Error::WatchError(status) if status.code == 410) {
                return Some((item, (stream, backoff, resumed, pause)));
            }
        }
    })
}

/// Exponential backoff from 0.5 s to 30 s, each delay jittered by ±20 % so that many watches
/// failing together do not retry together.
#[derive(Debug)]
pub struct Backoff {
    next_ms: u64,
    jitter: fastrand::Rng,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next_ms: 500, jitter: fastrand::Rng::new() }
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next_ms;
        self.next_ms = (self.next_ms * 2).min(30_000);
        let spread = base / 5;
        Duration::from_millis(base - spread + self.jitter.u64(0..=2 * spread))
    }

    pub fn reset(&mut self) {
        self.next_ms = 500;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_are_percent_encoded() {
        assert_eq!(
            encode_query_value("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTJ9="),
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTJ9%3D"
        );
        assert_eq!(encode_query_value("a+b/c"), "a%2Bb%2Fc");
    }

    #[test]
    fn backoff_doubles_up_to_a_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay().as_millis() as u64).collect();
        let bases = [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];
        for (delay, base) in delays.iter().zip(bases) {
            assert!((base * 4 / 5..=base * 6 / 5).contains(delay), "{delay} ms is within 20 % of {base} ms");
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(600));
    }

    #[test]
    fn only_a_watch_that_ran_resets_the_backoff() {
        let mut backoff = Backoff::default();
        let at_once = Duration::from_millis(5);
        // A server answering every watch with 410: list, watch, 410, list, …: the pauses grow.
        let mut pauses = Vec::new();
        for _ in 0..4 {
            assert_eq!(pause_after(Ended::Listed, at_once, &mut backoff), None, "a list is followed by its watch");
            pauses.push(pause_after(Ended::Gone, at_once, &mut backoff).expect("an early 410 waits"));
        }
        assert!(pauses.windows(2).all(|w| w[1] > w[0]), "{pauses:?}");
        // A watch that ends at once without an error waits as well.
        assert!(pause_after(Ended::Watched, at_once, &mut backoff).is_some());
        // One that ran its course resumes at once, and the next trouble starts small again.
        assert_eq!(pause_after(Ended::Watched, HEALTHY_WATCH, &mut backoff), None);
        assert!(pause_after(Ended::Failed, at_once, &mut backoff) <= Some(Duration::from_millis(600)));
    }
}
