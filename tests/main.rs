//! Klieg's integration tests, one binary: the client-facing suite on the real kube-apiserver
//! v1.20.2 and on the simulator, the fleet tests, the egui_kittest UI tests, the secret scan, the
//! locale files and the OS keyring. One binary links the crates once and shares one control
//! plane between the tests that can share it (those that restart it start their own).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod apiserver_restart;
mod editor;
mod extensions;
mod fleet;
mod fuzz_regressions;
mod i18n;
mod keyring;
mod plugins;
mod real_cluster;
mod real_controllers;
mod secrets;
mod simulator;
mod ui;
