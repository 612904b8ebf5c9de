//! Klieg: a native, GPU-rendered Kubernetes desktop client.
//!
//! Two threads matter. The eframe main thread runs the UI ([`app`], [`ui`], [`state`]): it draws
//! the latest snapshots and sends [`model::Command`]s, and never awaits, blocks or sorts. A tokio
//! runtime on its own OS thread runs the [`backend`]: one worker per cluster, one generic table
//! watcher per (cluster, kind), and the merge, filter and sort of table views. Results travel
//! back as `Arc` snapshots through `tokio::sync::watch`, and the UI is woken only on change.

rust_i18n::i18n!("i18n", fallback = "en");

pub mod app;
pub mod state;
pub mod ui;

// The layers below the window, each its own crate (`crates/`), re-exported under the names the
// app and the tests use.
pub use klieg_backend as backend;
pub use klieg_backend::credentials;
pub use klieg_model as model;
pub use klieg_plugins as plugins;
pub use klieg_sim as sim;

/// The locales Klieg ships, with their names in their own language.
pub const LOCALES: [(&str, &str); 3] = [("en", "English"), ("de", "Deutsch"), ("ja", "日本語")];
