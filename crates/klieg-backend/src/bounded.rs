//! Caps on what a server can make Klieg hold: the size of a whole answer (every request that is
//! not a stream), of one line of a stream, and of a body read by Klieg's own HTTP clients
//! (Prometheus, OIDC), and the pages of one list. A server that goes past a cap gets a named
//! error instead of Klieg's memory or a request loop. Backend runtime.

use bytes::Bytes;
use futures::{AsyncBufRead, AsyncBufReadExt, Stream};
use hyper::body::{Body, Frame, SizeHint};
use rust_i18n::t;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Bytes of one answer that is not a stream: a LIST page, a GET, discovery, an access review,
/// metrics, a Prometheus answer through the API server's proxy, an error document.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Bytes of one line of a watch (one event; its object is metadata only).
pub const MAX_WATCH_LINE_BYTES: usize = 16 * 1024 * 1024;
/// How long the whole of an answer that is not a stream may take to arrive, once its headers
/// came (`connection::RESPONSE_HEADERS_TIMEOUT`): a server that drips its answer a few bytes at
/// a time cannot hold a list permit, or an action, for good.
pub const ANSWER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// A body that went past its cap.
#[derive(Debug, thiserror::Error)]
#[error("{}", t!("backend.answer_too_large", mib = .limit_bytes / (1024 * 1024)))]
pub struct TooLarge {
    pub limit_bytes: usize,
}

/// An answer that did not arrive whole within [`ANSWER_DEADLINE`].
#[derive(Debug, thiserror::Error)]
#[error("{}", t!("backend.answer_too_slow", secs = ANSWER_DEADLINE.as_secs()))]
pub struct TooSlow;

/// A line that went past its cap.
#[derive(Debug, thiserror::Error)]
#[error("{}", t!("backend.line_too_long", mib = .limit_bytes / (1024 * 1024)))]
pub struct LineTooLong {
    pub limit_bytes: usize,
}

/// Pages of one list (continue tokens followed), for every list of a cluster: Klieg's table
/// watcher and kube's own watchers (namespaces, CRDs, RBAC, an open object) alike. At 500 rows a
/// page that is 2.5 million objects; a server whose continue tokens never end is stopped here.
pub const MAX_LIST_PAGES: usize = 5_000;
/// How long a list that went past [`MAX_LIST_PAGES`] is then refused at once, before Klieg reads
/// it again: a watcher retrying it costs an error, not another few thousand requests.
pub const ENDLESS_LIST_PAUSE: std::time::Duration = std::time::Duration::from_secs(300);
/// Lists whose pages are counted at once, per cluster; past it the counts start over.
const TRACKED_LISTS: usize = 1024;

/// A list that did not end within [`MAX_LIST_PAGES`].
#[derive(Debug, thiserror::Error)]
#[error("{}", t!("backend.list_endless", pages = MAX_LIST_PAGES, minutes = ENDLESS_LIST_PAUSE.as_secs() / 60))]
pub struct EndlessList;

/// Whether `error`, or anything it was caused by, is a `T` (looking inside `std::io::Error`s too:
/// kube wraps body errors in them on some paths).
fn caused_by<T: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<T>() {
            return true;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<T>())
        {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Whether `error`, or anything it was caused by, is a [`TooLarge`].
pub fn is_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<TooLarge>(error)
}

/// Whether `error`, or anything it was caused by, is an [`EndlessList`].
pub fn is_endless_list(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<EndlessList>(error)
}

/// A response body that fails with [`TooLarge`] once more than `limit_bytes` came, and with
/// [`TooSlow`] when it is not over by [`ANSWER_DEADLINE`]; `None`: a stream, neither.
pub struct CappedBody<B> {
    inner: B,
    limit_bytes: Option<usize>,
    seen_bytes: usize,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> CappedBody<B> {
    pub fn new(inner: B, limit_bytes: Option<usize>) -> Self {
        let deadline = limit_bytes.map(|_| Box::pin(tokio::time::sleep(ANSWER_DEADLINE)));
        Self { inner, limit_bytes, seen_bytes: 0, deadline }
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(Box::new(TooSlow))));
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let (Some(data), Some(limit_bytes)) = (frame.data_ref(), self.limit_bytes) {
            self.seen_bytes += data.len();
            if self.seen_bytes > limit_bytes {
                return Poll::Ready(Some(Err(Box::new(TooLarge { limit_bytes }))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The cap for the answer to a request: none for streams (watches, followed and whole logs,
/// exec, attach and port-forward), whose lines are capped where they are read.
pub fn response_cap(uri: &http::Uri) -> Option<usize> {
    let path = uri.path();
    let query = uri.query().unwrap_or_default();
    let streams = query.split('&').any(|pair| matches!(pair, "watch=1" | "watch=true" | "follow=true"))
        || ["/log", "/exec", "/attach", "/portforward"].iter().any(|end| path.ends_with(end));
    (!streams).then_some(MAX_RESPONSE_BYTES)
}

/// A tower layer that caps every answer of the service below it by [`response_cap`].
#[derive(Clone, Copy, Default)]
pub struct CapResponsesLayer;

impl<S> tower::Layer<S> for CapResponsesLayer {
    type Service = CapResponses<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CapResponses { inner }
    }
}

#[derive(Clone)]
pub struct CapResponses<S> {
    inner: S,
}

impl<S, Q, B> tower::Service<http::Request<Q>> for CapResponses<S>
where
    S: tower::Service<http::Request<Q>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<CappedBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Q>) -> Self::Future {
        let cap = response_cap(request.uri());
        let answer = self.inner.call(request);
        Box::pin(async move { Ok(answer.await?.map(|body| CappedBody::new(body, cap))) })
    }
}

/// Pages counted per list of one cluster, and lists refused for a while after they went past
/// [`MAX_LIST_PAGES`].
#[derive(Default)]
struct ListPages {
    pages: std::collections::HashMap<String, usize>,
    refused_until: std::collections::HashMap<String, std::time::Instant>,
}

impl ListPages {
    /// Counts one request; `Err` when it is a page past [`MAX_LIST_PAGES`] of its list, or a list
    /// refused for now.
    fn admit(&mut self, uri: &http::Uri, now: std::time::Instant) -> Result<(), EndlessList> {
        let Some((key, continued)) = list_key(uri) else { return Ok(()) };
        self.refused_until.retain(|_, until| *until > now);
        if self.refused_until.contains_key(&key) {
            return Err(EndlessList);
        }
        if !continued {
            // A list starts (over): its pages count from here.
            self.pages.remove(&key);
            return Ok(());
        }
        if self.pages.len() >= TRACKED_LISTS && !self.pages.contains_key(&key) {
            self.pages.clear();
        }
        let pages = self.pages.entry(key.clone()).or_insert(1);
        *pages += 1;
        if *pages > MAX_LIST_PAGES {
            self.pages.remove(&key);
            if self.refused_until.len() < TRACKED_LISTS {
                self.refused_until.insert(key, now + ENDLESS_LIST_PAUSE);
            }
            return Err(EndlessList);
        }
        Ok(())
    }
}

/// Which list a request reads a page of (its path and query without the continue token), and
/// whether it continues one; `None` for requests that are not list pages (watches, streams, a
/// GET of one object).
fn list_key(uri: &http::Uri) -> Option<(String, bool)> {
    let query = uri.query()?;
    let mut continued = false;
    let mut paged = false;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        match name {
            "watch" => return None,
            "continue" => continued = true,
            "limit" => {
                paged = true;
                rest.push(pair);
            }
            _ => rest.push(pair),
        }
    }
    (paged || continued).then(|| (format!("{}?{}", uri.path(), rest.join("&")), continued))
}

/// A tower layer that stops a list after [`MAX_LIST_PAGES`] pages and refuses it for
/// [`ENDLESS_LIST_PAUSE`] after that. One per cluster client: every list of the cluster counts.
#[derive(Clone, Default)]
pub struct EndlessListsLayer {
    lists: std::sync::Arc<parking_lot::Mutex<ListPages>>,
}

impl<S> tower::Layer<S> for EndlessListsLayer {
    type Service = EndlessLists<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EndlessLists { inner, lists: self.lists.clone() }
    }
}

#[derive(Clone)]
pub struct EndlessLists<S> {
    inner: S,
    lists: std::sync::Arc<parking_lot::Mutex<ListPages>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, Q> tower::Service<http::Request<Q>> for EndlessLists<S>
where
    S: tower::Service<http::Request<Q>, Error = BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Q>) -> Self::Future {
        let admitted = self.lists.lock().admit(request.uri(), std::time::Instant::now());
        match admitted {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(error) => Box::pin(async move { Err(Box::new(error) as BoxError) }),
        }
    }
}

/// Reads a whole body, failing with [`TooLarge`] past `limit_bytes` (Klieg's own clients).
pub async fn collect_capped<B>(body: B, limit_bytes: usize) -> Result<Bytes, Box<dyn std::error::Error + Send + Sync>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    Ok(CappedBody::new(body, Some(limit_bytes)).collect().await?.to_bytes())
}

/// The lines of a stream, each at most `limit_bytes` (without its `\n`); a longer one ends the
/// stream with a [`LineTooLong`] error after at most `limit_bytes` were held.
pub fn capped_lines<R>(reader: R, limit_bytes: usize) -> impl Stream<Item = std::io::Result<String>>
where
    R: AsyncBufRead + Unpin,
{
    futures::stream::unfold(Some(reader), move |reader| async move {
        let mut reader = reader?;
        let mut line = Vec::new();
        loop {
            let buffer = match reader.fill_buf().await {
                Ok(buffer) => buffer,
                Err(error) => return Some((Err(error), None)),
            };
            if buffer.is_empty() {
                return (!line.is_empty()).then(|| (Ok(String::from_utf8_lossy(&line).into_owned()), None));
            }
            let room = limit_bytes - line.len();
            match buffer.iter().take(room + 1).position(|b| *b == b'\n') {
                Some(end) => {
                    line.extend_from_slice(&buffer[..end]);
                    reader.consume_unpin(end + 1);
                    return Some((Ok(String::from_utf8_lossy(&line).into_owned()), Some(reader)));
                }
                None if buffer.len() > room => {
                    return Some((Err(std::io::Error::other(LineTooLong { limit_bytes })), None));
                }
                None => {
                    line.extend_from_slice(buffer);
                    let taken = buffer.len();
                    reader.consume_unpin(taken);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn a_list_is_stopped_after_its_page_limit_and_refused_for_a_while() {
        let uri = |text: &str| -> http::Uri { text.parse().expect("uri") };
        let mut lists = ListPages::default();
        let start = std::time::Instant::now();
        let first = uri("/api/v1/namespaces?limit=500");
        let next = uri("/api/v1/namespaces?limit=500&continue=abc");
        assert!(lists.admit(&first, start).is_ok());
        for _ in 1..MAX_LIST_PAGES {
            assert!(lists.admit(&next, start).is_ok());
        }
        // Page MAX_LIST_PAGES + 1 is refused, and so is the list started over, for a while.
        assert!(lists.admit(&next, start).is_err());
        assert!(lists.admit(&first, start + std::time::Duration::from_secs(1)).is_err());
        // Other lists, watches and single objects are not affected.
        assert!(lists.admit(&uri("/api/v1/pods?limit=500&continue=x"), start).is_ok());
        assert!(lists.admit(&uri("/api/v1/namespaces?watch=1&resourceVersion=5"), start).is_ok());
        assert!(lists.admit(&uri("/api/v1/namespaces/default"), start).is_ok());
        // After the pause the list is read again, from its first page.
        let later = start + ENDLESS_LIST_PAUSE + std::time::Duration::from_secs(1);
        assert!(lists.admit(&first, later).is_ok());
        assert!(lists.admit(&next, later).is_ok());
        // A list that starts over counts from zero: ending lists are never refused.
        for _ in 0..3 {
            assert!(lists.admit(&first, later).is_ok());
            for _ in 1..MAX_LIST_PAGES {
                assert!(lists.admit(&next, later).is_ok());
            }
        }
        assert!(is_endless_list(&std::io::Error::other(EndlessList)));
        assert!(EndlessList.to_string().contains("did not end after 5000 pages"));
    }

    #[test]
    fn only_streams_go_uncapped() {
        let cap = |uri: &str| response_cap(&uri.parse().expect("uri"));
        assert_eq!(cap("/api/v1/pods?limit=500"), Some(MAX_RESPONSE_BYTES));
        assert_eq!(cap("/api/v1/namespaces/a/pods/p"), Some(MAX_RESPONSE_BYTES));
        assert_eq!(cap("/api/v1/pods?watch=1&resourceVersion=5"), None);
        assert_eq!(cap("/api/v1/namespaces/a/pods/p/log?follow=true&container=c"), None);
        assert_eq!(cap("/api/v1/namespaces/a/pods/p/log?container=c"), None);
        assert_eq!(cap("/api/v1/namespaces/a/pods/p/exec?command=sh"), None);
        // "watch" inside another value is no watch.
        assert_eq!(cap("/api/v1/pods?labelSelector=watch%3D1"), Some(MAX_RESPONSE_BYTES));
    }

    #[tokio::test]
    async fn a_body_past_its_cap_fails_by_name() {
        let body = http_body_util::Full::new(Bytes::from(vec![b'x'; 2048]));
        let error = collect_capped(body, 1024).await.expect_err("too large");
        assert!(is_too_large(error.as_ref()), "{error}");
        let body = http_body_util::Full::new(Bytes::from(vec![b'x'; 1024]));
        assert_eq!(collect_capped(body, 1024).await.expect("at the cap").len(), 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_drips_past_the_deadline_fails_by_name() {
        let drip = futures::stream::unfold((), |()| async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            Some((Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"x"))), ()))
        });
        let body = http_body_util::StreamBody::new(Box::pin(drip));
        let started = tokio::time::Instant::now();
        let error = collect_capped(body, 1024).await.expect_err("too slow");
        assert!(error.is::<TooSlow>(), "{error}");
        assert_eq!(started.elapsed().as_secs(), ANSWER_DEADLINE.as_secs());
    }

    #[tokio::test]
    async fn lines_are_capped_and_a_long_one_ends_the_stream() {
        let text = format!("one\ntwo\n{}\nlost\n", "x".repeat(100));
        let reader = futures::io::Cursor::new(text.into_bytes());
        let read: Vec<std::io::Result<String>> = capped_lines(reader, 64).collect().await;
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].as_ref().expect("line"), "one");
        assert_eq!(read[1].as_ref().expect("line"), "two");
        let error = read[2].as_ref().expect_err("too long");
        assert!(error.to_string().contains("longer than"), "{error}");
        // Exactly at the cap is a line; a last line without a newline counts.
        let reader = futures::io::Cursor::new(format!("{}\ntail", "y".repeat(64)).into_bytes());
        let read: Vec<String> = capped_lines(reader, 64).map(|l| l.expect("line")).collect().await;
        assert_eq!(read, ["y".repeat(64), "tail".to_string()]);
    }
}
