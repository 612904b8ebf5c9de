//! The registry as it is now, shared by the UI thread and the backend runtime: the built-ins and
//! the loaded plugins' features, replaced whole when a plugin loads, reloads or stops. Readers
//! take `current()` (an `Arc` clone, no lock held while they use it); listeners hear each
//! replacement (the backend wakes its followers, the window repaints).

use super::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

type Listener = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
pub struct LiveRegistry {
    current: Arc<arc_swap::ArcSwap<Registry>>,
    generation: Arc<AtomicU64>,
    listeners: Arc<parking_lot::Mutex<Vec<Listener>>>,
}

impl LiveRegistry {
    pub fn new(registry: Registry) -> Self {
        Self {
            current: Arc::new(arc_swap::ArcSwap::from_pointee(registry)),
            generation: Arc::default(),
            listeners: Arc::default(),
        }
    }

    /// The registry to use now; a later replacement does not change it.
    pub fn current(&self) -> Arc<Registry> {
        self.current.load_full()
    }

    /// How many times the registry was replaced: a reader that built something from an older
    /// generation builds it again.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts `registry` in place and tells every listener.
    pub fn replace(&self, registry: Registry) {
        self.current.store(Arc::new(registry));
        self.generation.fetch_add(1, Ordering::AcqRel);
        let listeners = self.listeners.lock().clone();
        for listener in listeners {
            listener();
        }
    }

    /// `listener` runs after each replacement, on the thread that replaced it; it must be quick.
    pub fn on_change(&self, listener: impl Fn() + Send + Sync + 'static) {
        self.listeners.lock().push(Arc::new(listener));
    }
}

impl Default for LiveRegistry {
    fn default() -> Self {
        Self::new(Registry::with_builtins())
    }
}

impl From<Registry> for LiveRegistry {
    fn from(registry: Registry) -> Self {
        Self::new(registry)
    }
}

impl std::fmt::Debug for LiveRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRegistry").field("generation", &self.generation()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_reaches_new_readers_and_listeners_but_not_held_copies() {
        let live = LiveRegistry::default();
        let held = live.current();
        let heard = Arc::new(AtomicU64::new(0));
        let counter = heard.clone();
        live.on_change(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        live.replace(Registry::default());
        assert_eq!(live.generation(), 1);
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        assert!(!held.sidebar_entries().is_empty(), "a held registry keeps the built-ins");
        assert!(live.current().sidebar_entries().is_empty(), "new readers see the replacement");
    }
}
