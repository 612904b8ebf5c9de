//! Helpers for driving the real app window with egui_kittest: a harness around `KliegApp`,
//! frames stepped until a condition holds, and queries by label.

use super::sources_for;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use klieg::app::KliegApp;
use klieg::state::Settings;
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// The interface language is process-wide, so tests that drive the window take turns.
pub static UI_LOCK: Mutex<()> = parking_lot::const_mutex(());

/// Runs frames until `ready` holds, with real time passing for the backend.
pub fn step_until(
    harness: &mut Harness<'_, Option<KliegApp>>,
    what: &str,
    ready: impl Fn(&Harness<'_, Option<KliegApp>>) -> bool,
) {
    step_until_within(harness, what, Duration::from_secs(30), ready);
}

/// As [`step_until`], waiting up to `patience`.
pub fn step_until_within(
    harness: &mut Harness<'_, Option<KliegApp>>,
    what: &str,
    patience: Duration,
    ready: impl Fn(&Harness<'_, Option<KliegApp>>) -> bool,
) {
    let deadline = Instant::now() + patience;
    loop {
        harness.step();
        if ready(harness) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; open object {:?}; details error {:?}, loading {}, uid {:?}",
            app(harness).state.details.open,
            app(harness).details.error,
            app(harness).details.loading,
            app(harness).details.uid,
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn app<'h>(harness: &'h Harness<'_, Option<KliegApp>>) -> &'h KliegApp {
    harness.state().as_ref().expect("the app is created right after the harness")
}

/// A harness whose context has the CJK font, running a Klieg app on `kubeconfig`.
pub fn start_app(kubeconfig: &std::path::Path, settings: Settings) -> Harness<'static, Option<KliegApp>> {
    start_app_with(sources_for(&[kubeconfig]), settings)
}

/// The same, on any kubeconfig sources.
pub fn start_app_with(
    sources: klieg::backend::kubeconfig::KubeconfigSources,
    settings: Settings,
) -> Harness<'static, Option<KliegApp>> {
    start_app_extended(sources, settings, klieg::backend::Extensions::builtin())
}

/// The same, with features registered beside the built-ins.
pub fn start_app_extended(
    sources: klieg::backend::kubeconfig::KubeconfigSources,
    settings: Settings,
    extensions: klieg::backend::Extensions,
) -> Harness<'static, Option<KliegApp>> {
    let mut harness = empty_harness();
    let mut app = KliegApp::with_extensions(&harness.ctx, sources, settings, extensions).expect("app starts");
    app.clock = || 1_900_000_000;
    *harness.state_mut() = Some(app);
    harness
}

/// The same, with the plugin host on `plugins` (the built-ins plus whatever the plugins add).
pub fn start_app_with_plugins(
    sources: klieg::backend::kubeconfig::KubeconfigSources,
    settings: Settings,
    plugins: klieg::plugins::HostConfig,
) -> Harness<'static, Option<KliegApp>> {
    let mut harness = empty_harness();
    let mut app = KliegApp::with_plugins(&harness.ctx, sources, settings, plugins).expect("app starts");
    app.clock = || 1_900_000_000;
    *harness.state_mut() = Some(app);
    harness
}

/// A window of the usual size, with the CJK font, and no app yet.
fn empty_harness() -> Harness<'static, Option<KliegApp>> {
    let harness = Harness::builder().with_size(egui::vec2(1500.0, 950.0)).build_ui_state(
        |ui, app: &mut Option<KliegApp>| {
            if let Some(app) = app {
                app.frame_ui(ui);
            }
        },
        None,
    );
    let font = klieg::ui::fonts::read_cjk_font().expect("a CJK font (Debian: fonts-noto-cjk) for Japanese");
    harness.ctx.add_font(font);
    harness
}

pub fn has_label(harness: &Harness<'_, Option<KliegApp>>, label: &str) -> bool {
    harness.query_all_by_label(label).next().is_some()
}

pub fn has_label_containing(harness: &Harness<'_, Option<KliegApp>>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Settings for English, the ConfigMaps table and the given namespaces.
pub fn configmaps_in(namespaces: &[&str]) -> Settings {
    Settings {
        locale: "en".into(),
        kind_plural: "configmaps".into(),
        selected_namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        ..Settings::default()
    }
}
