//! The language switch, in a test binary of its own: the locale is one global of the process
//! (messages built in the backend follow it too), so switching it while other tests run would
//! change their messages under their assertions. Cargo runs test binaries one after another.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use common::ui::{has_label, start_app, step_until};
use common::{ApiServer, TestCluster};
use egui_kittest::kittest::Queryable;
use klieg::state::Settings;

#[test]
fn the_language_switches_live_and_backend_messages_follow_it() {
    let cluster = TestCluster::shared_for("locales");
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings, namespace: shop}\ndata: {mode: fast}\n");
    let settings = Settings { locale: "en".into(), kind_plural: "configmaps".into(), ..Settings::default() };
    let mut harness = start_app(&cluster.kubeconfig, settings);
    step_until(&mut harness, "the configmap row", |h| has_label(h, "web-settings"));
    let slow = || klieg::backend::bounded::TooSlow.to_string();
    assert_eq!(slow(), "the server's answer did not arrive within 60 s");

    harness.get_by_label("Language").click();
    harness.run_steps(2);
    harness.get_by_label("Deutsch").click();
    harness.key_press(egui::Key::Escape);
    step_until(&mut harness, "German labels", |h| {
        has_label(h, "Namespaces: alle") && has_label(h, "Verbunden · v1.20.2")
    });
    assert_eq!(slow(), "die Antwort des Servers kam nicht innerhalb von 60 s", "a backend message in German");
    harness.get_by_label("Sprache").click();
    harness.run_steps(2);
    harness.get_by_label("日本語").click();
    step_until(&mut harness, "Japanese labels", |h| {
        has_label(h, "ワークロード") && has_label(h, "名前空間: すべて") && has_label(h, "接続済み · v1.20.2")
    });
    assert_eq!(slow(), "サーバーの応答が 60 秒以内に届きませんでした", "a backend message in Japanese");
    rust_i18n::set_locale("en");
}
