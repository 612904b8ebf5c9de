//! Feeds: the one pattern of every backend → UI stream. The UI writes a query into a feed
//! (`None`: nothing wanted) and reads the latest snapshot from it; on the backend one
//! [`Follower`] per feed serves the query, in a task of its own, and publishes snapshots.
//! Only the latest query and the latest snapshot are kept, so neither side can flood the other.
//!
//! The UI end ([`Feed`]) is used on the UI thread and never blocks; the followers run on the
//! backend runtime.

use super::ClientMap;

use std::sync::Arc;
use tokio::sync::watch;

/// What a follower is given besides its query: the connected clusters, as they change, and a
/// count of the registry's replacements. (What a follower needs beyond that, such as the
/// registries, it is built with.)
#[derive(Clone)]
pub struct FeedContext {
    pub clients: watch::Receiver<Arc<ClientMap>>,
    pub registry_changes: watch::Receiver<u64>,
}

impl FeedContext {
    /// The clusters connected now.
    pub fn clients(&self) -> Arc<ClientMap> {
        self.clients.borrow().clone()
    }
}

/// Serves one feed on the backend: follows the query it is given, publishing what it finds
/// through the feed's snapshot sender (made by [`feed`]); `None` stops following.
pub trait Follower: Send + 'static {
    type Query: Clone + PartialEq + Send + Sync + std::fmt::Debug + 'static;
    type Snapshot: Send + Sync + 'static;

    fn follow(&mut self, context: &FeedContext, query: Option<Self::Query>);

    /// Whether the query followed now waits for its cluster (not connected yet, or its kind not
    /// discovered yet): [`serve`] then follows it again whenever the connected clusters change.
    fn waits_for_a_cluster(&self) -> bool {
        false
    }

    /// Whether what it publishes comes from the registries (sections, offered actions): [`serve`]
    /// then follows its query again when a plugin loads, reloads or stops.
    fn follows_the_registry(&self) -> bool {
        false
    }
}

/// The UI's end of a feed: the query it asks, and the snapshots that answer it.
pub struct Feed<Q, S> {
    query: watch::Sender<Option<Q>>,
    /// The snapshots, as published (tests wait on them directly).
    pub snapshots: watch::Receiver<Arc<S>>,
}

impl<Q: PartialEq, S> Feed<Q, S> {
    /// Asks for `query` (`None`: nothing); the follower hears of it only when it differs from
    /// the query asked last.
    pub fn ask(&self, query: Option<Q>) {
        self.query.send_if_modified(|current| {
            let changed = *current != query;
            if changed {
                *current = query;
            }
            changed
        });
    }

    /// Asks again only when `unchanged` says the query asked last is no longer right; `make`
    /// builds the new one (so a caller can compare by reference and copy only on change).
    pub fn ask_if(&self, unchanged: impl FnOnce(&Option<Q>) -> bool, make: impl FnOnce() -> Option<Q>) {
        self.query.send_if_modified(|current| {
            if unchanged(current) {
                return false;
            }
            *current = make();
            true
        });
    }

    /// The query asked last.
    pub fn asked(&self) -> Option<Q>
    where
        Q: Clone,
    {
        self.query.borrow().clone()
    }

    /// Replaces `slot` with the newest snapshot if one came since last taken; says whether it did.
    pub fn take_newer(&mut self, slot: &mut Arc<S>) -> bool {
        if !self.snapshots.has_changed().unwrap_or(false) {
            return false;
        }
        *slot = self.snapshots.borrow_and_update().clone();
        true
    }
}

/// The backend's end of a feed: where its follower publishes, and the queries it follows.
pub struct FeedServer<Q, S> {
    pub out: watch::Sender<Arc<S>>,
    pub queries: watch::Receiver<Option<Q>>,
}

/// Makes a feed: the UI's end, and the end its follower is served with.
pub fn feed<Q, S: Default>() -> (Feed<Q, S>, FeedServer<Q, S>) {
    let (query_tx, queries) = watch::channel(None);
    let (out, snapshots) = watch::channel(Arc::new(S::default()));
    (Feed { query: query_tx, snapshots }, FeedServer { out, queries })
}

/// Runs `follower` on its feed's queries until the UI's end is dropped. A query that waits for
/// its cluster is followed again when the connected clusters change, so a log or an object
/// opened before its cluster connected appears once it does.
pub async fn serve<F: Follower>(mut follower: F, context: FeedContext, mut queries: watch::Receiver<Option<F::Query>>) {
    let mut clients = context.clients.clone();
    let mut registry = context.registry_changes.clone();
    loop {
        let query = queries.borrow_and_update().clone();
        clients.borrow_and_update();
        registry.borrow_and_update();
        follower.follow(&context, query);
        loop {
            tokio::select! {
                changed = queries.changed() => {
                    if changed.is_err() {
                        follower.follow(&context, None);
                        return;
                    }
                    break;
                }
                Ok(()) = clients.changed(), if follower.waits_for_a_cluster() => {
                    clients.borrow_and_update();
                    follower.follow(&context, queries.borrow().clone());
                }
                Ok(()) = registry.changed(), if follower.follows_the_registry() => {
                    registry.borrow_and_update();
                    follower.follow(&context, queries.borrow().clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    /// Records each query it is asked to follow, and publishes its length.
    struct Recorder(Arc<Mutex<Vec<Option<String>>>>, watch::Sender<Arc<usize>>);

    impl Follower for Recorder {
        type Query = String;
        type Snapshot = usize;

        fn follow(&mut self, _: &FeedContext, query: Option<String>) {
            self.1.send_replace(Arc::new(query.as_ref().map_or(0, String::len)));
            self.0.lock().push(query);
        }
    }

    #[tokio::test]
    async fn a_follower_hears_each_changed_query_once_and_none_at_the_end() {
        let (mut ui_end, FeedServer { out, queries }) = feed::<String, usize>();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let context = FeedContext {
            clients: watch::channel(Arc::new(ClientMap::new())).1,
            registry_changes: watch::channel(0).1,
        };
        let task = tokio::spawn(serve(Recorder(heard.clone(), out), context, queries));
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(20));
        settle().await;
        ui_end.ask(Some("pods".into()));
        settle().await;
        ui_end.ask(Some("pods".into()));
        ui_end.ask_if(|asked| asked.as_deref() == Some("pods"), || unreachable!("unchanged"));
        settle().await;
        let mut latest = Arc::new(0);
        assert!(ui_end.take_newer(&mut latest));
        assert_eq!(*latest, 4);
        assert!(!ui_end.take_newer(&mut latest), "nothing new");
        ui_end.ask(None);
        settle().await;
        drop(ui_end);
        task.await.expect("served to the end");
        assert_eq!(*heard.lock(), [None, Some("pods".to_string()), None, None]);
    }
}
