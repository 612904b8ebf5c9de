//! Klieg: a native, GPU-rendered Kubernetes desktop client.
//!
//! Two threads matter. The eframe main thread runs the UI ([`app`], [`ui`], [`state`]): it draws
//! the latest snapshots and sends [`model::Command`]s, and never awaits, blocks or sorts. A tokio
//! runtime on its own OS thread runs the [`backend`]: one worker per cluster, one generic table
//! watcher per (cluster, kind), and the merge, filter and sort of table views. Results travel
//! back as `Arc` snapshots through `tokio::sync::watch`, and the UI is woken only on change.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

rust_i18n::i18n!("i18n", fallback = "en");

pub mod app;
pub mod backend;
pub mod bench;
pub mod credentials;
pub mod model;
pub mod sim;
pub mod state;
pub mod ui;

/// The locales Klieg ships, with their names in their own language.
pub const LOCALES: [(&str, &str); 3] = [("en", "English"), ("de", "Deutsch"), ("ja", "日本語")];
