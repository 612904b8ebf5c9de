//! Plugins' watches, shared with the table's through the subscription pool: a plugin asks for
//! a (cluster, kind, namespace); the view task holds that subscription in the pool (the same
//! one a table of that kind uses, started if none runs) for as long as some plugin holds the
//! watch, and hands out its rows. The view task runs on the backend runtime; a plugin's
//! handle is read on the thread that forwards changes to the plugin.

use super::ingest::SubscriptionRows;
use super::view_task::SubKey;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Plugins' watches at most, over every plugin (each is one held subscription).
pub const MAX_PLUGIN_WATCHES: usize = 32;
/// Rows a plugin is given per change at most.
pub const PLUGIN_WATCH_MAX_ROWS: usize = 5000;

#[derive(Default)]
struct Entry {
    holders: usize,
    rows: Option<watch::Receiver<Arc<SubscriptionRows>>>,
}

/// What plugins watch, and the rows the view task found for each.
#[derive(Default)]
pub struct PluginWatches {
    entries: Mutex<HashMap<SubKey, Entry>>,
    /// Tells the view task the wanted set changed.
    pub(crate) changed: Notify,
    /// How many watched keys the table on screen holds too (one subscription serving both).
    shared: std::sync::atomic::AtomicUsize,
}

impl PluginWatches {
    /// The keys some plugin holds.
    pub(crate) fn wanted(&self) -> Vec<SubKey> {
        self.entries.lock().iter().filter(|(_, e)| e.holders > 0).map(|(k, _)| k.clone()).collect()
    }

    /// Watches served by the very subscription the table on screen uses, as of the last round.
    pub fn shared_with_table(&self) -> usize {
        self.shared.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn set_shared(&self, count: usize) {
        self.shared.store(count, std::sync::atomic::Ordering::Release);
    }

    /// The view task found (or lost) the subscription of `key`.
    pub(crate) fn provide(&self, key: &SubKey, rows: Option<watch::Receiver<Arc<SubscriptionRows>>>) {
        if let Some(entry) = self.entries.lock().get_mut(key) {
            entry.rows = rows;
        }
    }

    fn hold(self: &Arc<Self>, key: SubKey) -> Result<(), String> {
        let mut entries = self.entries.lock();
        if !entries.contains_key(&key) && entries.len() >= MAX_PLUGIN_WATCHES {
            return Err(format!("plugins hold {MAX_PLUGIN_WATCHES} watches already"));
        }
        entries.entry(key).or_default().holders += 1;
        drop(entries);
        self.changed.notify_one();
        Ok(())
    }

    fn release(&self, key: &SubKey) {
        let mut entries = self.entries.lock();
        if let Some(entry) = entries.get_mut(key) {
            entry.holders = entry.holders.saturating_sub(1);
            if entry.holders == 0 {
                entries.remove(key);
            }
        }
        drop(entries);
        self.changed.notify_one();
    }

    fn rows(&self, key: &SubKey) -> Option<watch::Receiver<Arc<SubscriptionRows>>> {
        self.entries.lock().get(key).and_then(|e| e.rows.clone())
    }
}

/// One plugin watch; dropping it gives the hold back.
pub struct PluginWatch {
    key: SubKey,
    watches: Arc<PluginWatches>,
    runtime: tokio::runtime::Handle,
    seen_generation: Option<u64>,
    /// What the plugin was given last (a cluster-wide subscription changes with other
    /// namespaces too; the plugin hears only of its own).
    last_sent: Option<serde_json::Value>,
}

impl PluginWatch {
    pub(crate) fn start(
        key: SubKey,
        watches: Arc<PluginWatches>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        watches.hold(key.clone())?;
        Ok(Self { key, watches, runtime, seen_generation: None, last_sent: None })
    }

    /// Waits up to `patience` for rows newer than those last returned: the objects (name,
    /// namespace, labels, and each column's text), at most [`PLUGIN_WATCH_MAX_ROWS`].
    pub fn next(&mut self, patience: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let receiver = self.watches.rows(&self.key);
            if let Some(mut receiver) = receiver {
                let current = receiver.borrow_and_update().clone();
                if current.status == klieg_model::ViewStatus::Live && self.seen_generation != Some(current.generation) {
                    self.seen_generation = Some(current.generation);
                    let objects = rows_json(&current, self.key.2.as_deref());
                    if self.last_sent.as_ref() != Some(&objects) {
                        self.last_sent = Some(objects.clone());
                        return Some(objects);
                    }
                    continue;
                }
                // The timer is made inside the runtime: outside one it has no clock to run on.
                let changed =
                    self.runtime.block_on(async { tokio::time::timeout_at(deadline, receiver.changed()).await });
                match changed {
                    Ok(Ok(())) => continue,
                    // The subscription stopped (its cluster paused or reconnected): wait for the next.
                    Ok(Err(_)) => {}
                    Err(_) => return None,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PluginWatch {
    fn drop(&mut self) {
        self.watches.release(&self.key);
    }
}

/// The rows of `namespace` (all, for `None`: a cluster-wide subscription may serve one).
fn rows_json(rows: &SubscriptionRows, namespace: Option<&str>) -> serde_json::Value {
    let now = klieg_model::now_unix_secs();
    let objects: Vec<serde_json::Value> = rows
        .rows
        .iter()
        .filter(|row| namespace.is_none_or(|ns| row.key.namespace.as_deref() == Some(ns)))
        .take(PLUGIN_WATCH_MAX_ROWS)
        .map(|row| {
            let labels: serde_json::Map<String, serde_json::Value> =
                row.labels.as_slice().iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(&**v))).collect();
            let cells: serde_json::Map<String, serde_json::Value> = rows
                .columns
                .iter()
                .zip(row.cells.iter())
                .map(|(column, cell)| (column.name.to_string(), serde_json::Value::from(&*cell.display(now))))
                .collect();
            serde_json::json!({
                "metadata": { "name": row.key.name, "namespace": row.key.namespace, "labels": labels },
                "cells": cells,
            })
        })
        .collect();
    serde_json::Value::Array(objects)
}
