//! Live table subscriptions shared by reference count: a subscription nobody holds lingers a
//! while (switching back is instant), and global caps on live subscriptions and total rows evict
//! the least recently used idle ones first. Owned by the view task on the backend runtime.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;
use tokio::time::Instant;

/// Limits of one pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolLimits {
    /// How long an unheld subscription keeps running.
    pub linger: Duration,
    /// At most this many subscriptions run at once, held ones included.
    pub max_live: usize,
    /// At most this many rows are kept over all subscriptions, held ones included.
    pub max_rows: usize,
}

struct Entry<V> {
    value: V,
    holders: usize,
    last_used: Instant,
}

/// Subscriptions by key with their holders.
pub struct SubscriptionPool<K, V> {
    entries: HashMap<K, Entry<V>>,
    limits: PoolLimits,
}

impl<K: Clone + Eq + Hash, V> SubscriptionPool<K, V> {
    pub fn new(limits: PoolLimits) -> Self {
        Self { entries: HashMap::new(), limits }
    }

    /// Takes a hold on `key`, starting its subscription with `start` if none runs.
    pub fn acquire(&mut self, key: &K, now: Instant, start: impl FnOnce() -> V) -> &mut V {
        let entry =
            self.entries.entry(key.clone()).or_insert_with(|| Entry { value: start(), holders: 0, last_used: now });
        entry.holders += 1;
        entry.last_used = now;
        &mut entry.value
    }

    /// Gives back a hold taken with `acquire`.
    pub fn release(&mut self, key: &K, now: Instant) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.holders = entry.holders.saturating_sub(1);
            entry.last_used = now;
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|e| &e.value)
    }

    /// Drops every subscription `doomed` picks, held or not (its cluster was paused or went).
    pub fn remove_where(&mut self, doomed: impl Fn(&K, &V) -> bool) -> Vec<(K, V)> {
        let keys: Vec<K> = self.entries.iter().filter(|(k, e)| doomed(k, &e.value)).map(|(k, _)| k.clone()).collect();
        keys.into_iter().filter_map(|k| self.entries.remove(&k).map(|e| (k, e.value))).collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn holders(&self, key: &K) -> usize {
        self.entries.get(key).map_or(0, |e| e.holders)
    }

    /// Stops unheld subscriptions past their linger, then, while over a cap, the least recently
    /// used unheld ones. Held subscriptions are never evicted: what is on screen stays live.
    /// Returns what was evicted, so its rows can be kept (the offline cache).
    pub fn evict(&mut self, now: Instant, rows_of: impl Fn(&V) -> usize) -> Vec<(K, V)> {
        let linger = self.limits.linger;
        let expired: Vec<K> = self
            .entries
            .iter()
            .filter(|(_, e)| e.holders == 0 && now.duration_since(e.last_used) >= linger)
            .map(|(k, _)| k.clone())
            .collect();
        let mut evicted: Vec<(K, V)> =
            expired.into_iter().filter_map(|k| self.entries.remove(&k).map(|e| (k, e.value))).collect();
        let mut idle: Vec<(Instant, K)> =
            self.entries.iter().filter(|(_, e)| e.holders == 0).map(|(k, e)| (e.last_used, k.clone())).collect();
        idle.sort_by_key(|(last_used, _)| *last_used);
        let mut total_rows: usize = self.entries.values().map(|e| rows_of(&e.value)).sum();
        for (_, key) in idle {
            if self.entries.len() <= self.limits.max_live && total_rows <= self.limits.max_rows {
                break;
            }
            if let Some(entry) = self.entries.remove(&key) {
                total_rows -= rows_of(&entry.value);
                evicted.push((key, entry.value));
            }
        }
        evicted
    }

    /// When the next unheld subscription's linger ends, if any.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries.values().filter(|e| e.holders == 0).map(|e| e.last_used + self.limits.linger).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_live: usize, max_rows: usize) -> PoolLimits {
        PoolLimits { linger: Duration::from_secs(60), max_live, max_rows }
    }

    #[test]
    fn held_subscriptions_are_shared_and_counted() {
        let mut pool = SubscriptionPool::new(limits(10, 1000));
        let now = Instant::now();
        let mut started = 0;
        for _ in 0..2 {
            pool.acquire(&"pods", now, || {
                started += 1;
                5_usize
            });
        }
        assert_eq!(started, 1, "the second holder shares the first's subscription");
        assert_eq!(pool.holders(&"pods"), 2);
        pool.release(&"pods", now);
        assert!(pool.evict(now + Duration::from_secs(3600), |rows| *rows).is_empty(), "still held once");
        pool.release(&"pods", now);
        assert!(pool.evict(now + Duration::from_secs(59), |rows| *rows).is_empty(), "lingers");
        let evicted = pool.evict(now + Duration::from_secs(60), |rows| *rows);
        assert_eq!(evicted, vec![("pods", 5)]);
        assert!(pool.is_empty());
    }

    #[test]
    fn caps_evict_the_least_recently_used_idle_first() {
        let mut pool = SubscriptionPool::new(limits(3, 1000));
        let start = Instant::now();
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            let at = start + Duration::from_secs(i as u64);
            pool.acquire(key, at, || 1_usize);
            if *key != "a" {
                pool.release(key, at);
            }
        }
        // "a" is held and oldest; "b" is the least recently used idle one.
        let evicted = pool.evict(start + Duration::from_secs(5), |rows| *rows);
        assert_eq!(evicted, vec![("b", 1)]);
        assert_eq!(pool.len(), 3);
        assert!(pool.get(&"a").is_some());
    }

    #[test]
    fn the_row_cap_evicts_until_under_it_but_never_a_held_one() {
        let mut pool = SubscriptionPool::new(limits(100, 250));
        let start = Instant::now();
        pool.acquire(&"held", start, || 200_usize);
        for (i, key) in ["old", "new"].iter().enumerate() {
            let at = start + Duration::from_secs(1 + i as u64);
            pool.acquire(key, at, || 100_usize);
            pool.release(key, at);
        }
        let evicted: Vec<&str> =
            pool.evict(start + Duration::from_secs(3), |rows| *rows).into_iter().map(|(k, _)| k).collect();
        assert_eq!(evicted, ["old", "new"], "400 rows, then 300: both idle ones go, oldest first");
        // Held rows alone may exceed the cap: they stay.
        let mut pool = SubscriptionPool::new(limits(100, 10));
        pool.acquire(&"held", start, || 200_usize);
        assert!(pool.evict(start, |rows| *rows).is_empty());
        assert_eq!(pool.next_expiry(), None);
    }
}
