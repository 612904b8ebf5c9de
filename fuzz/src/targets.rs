//! The bodies of Klieg's fuzz targets, one function each: what Klieg reads from strangers
//! (kubeconfigs, YAML, selectors, list pages and watch lines, log bytes, plugin manifests) must never panic, hang
//! or read without bound. The cargo fuzz binaries call these; the test suite runs every file of
//! `fuzz/corpus/` and `fuzz/regressions/` through them too (tests/fuzz_regressions.rs), so a
//! crash once found stays a test.

use std::sync::Arc;

/// Runs the target named like its folder under `corpus/` on `data`; `false` for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "kubeconfig" => kubeconfig(data),
        "yaml_edit" => yaml_edit(data),
        "label_selector" => label_selector(data),
        "table_page" => table_page(data),
        "log_lines" => log_lines(data),
        "plugin_manifest" => plugin_manifest(data),
        _ => return false,
    }
    true
}

/// A kubeconfig from a stranger: the folder sniffing, the merge and split into contexts, and
/// each context's client configuration (certificate and token files it names included).
pub fn kubeconfig(data: &[u8]) {
    use klieg_backend::kubeconfig::{KubeconfigSources, client_config, load_contexts};
    let Ok(folder) = tempfile_folder() else { return };
    if std::fs::write(folder.join("config.yaml"), data).is_err() {
        return;
    }
    let sources = KubeconfigSources { explicit: vec![folder.clone()], ..KubeconfigSources::default() };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else { return };
    for entry in load_contexts(&sources) {
        let _ = runtime.block_on(client_config(&entry));
    }
}

/// A folder of this process's own for the kubeconfig target's file.
fn tempfile_folder() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "klieg-fuzz-kubeconfig-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The editor's YAML: split into documents as "create from YAML" does, and diffed against
/// another text as the editor's diff does, within its deadline.
pub fn yaml_edit(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = klieg_backend::actions::parse_documents(&text);
    let middle = text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i);
    let (before, after) = text.split_at(middle);
    let started = std::time::Instant::now();
    let lines = klieg_model::diff::diff_lines(before, after);
    assert!(started.elapsed() < klieg_model::diff::DIFF_DEADLINE * 20, "the diff kept its deadline");
    assert!(lines.iter().all(|(sign, _)| matches!(sign, '+' | '-' | ' ' | '@')));
}

/// A plugin's `plugin.toml`, from whoever wrote the plugin: parsed and checked, its
/// capabilities described and compared with a grant.
pub fn plugin_manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(manifest) = klieg_plugins::parse_manifest(&text) {
        let _ = manifest.capabilities.describe();
        let _ = manifest.capabilities.exceeds(&klieg_plugins::Capabilities::default());
        let _ = manifest.capabilities.tokens();
    }
}

/// A label selector as typed by a user: parsed, and matched against labels.
pub fn label_selector(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(selector) = klieg_model::LabelSelector::parse(&text) {
        let labels: klieg_model::row::Labels =
            [(Arc::from("app"), Arc::from("web")), (Arc::from("tier"), Arc::from(""))].into_iter().collect();
        let _ = selector.matches(&labels);
    }
}

/// What a server answers: a list page (Table or plain list), then each line as a watch event,
/// parsed with the page's columns.
pub fn table_page(data: &[u8]) {
    use klieg_backend::table_watch::{parse_list_page, parse_watch_line};
    let text = String::from_utf8_lossy(data);
    let cluster = klieg_model::ClusterId::new("fuzz");
    let mut interner = klieg_backend::rows::Interner::default();
    let columns = match parse_list_page(&cluster, &text, None, &mut interner) {
        Ok(page) => page.columns,
        Err(_) => Arc::from(Vec::new()),
    };
    let mut newest = None;
    for line in text.lines() {
        let _ = parse_watch_line(&cluster, line, &columns, &mut interner, &mut newest);
    }
}

/// Any bytes a pod writes to its log (the first six are the search): split into bounded lines,
/// invalid UTF-8 replaced, then searched as the log view's highlight does. Every match must be a
/// valid range of its line (the window once crashed slicing at ranges of the lowercased text).
pub fn log_lines(data: &[u8]) {
    let (needle_bytes, log) = data.split_at(data.len().min(6));
    let needle = String::from_utf8_lossy(needle_bytes);
    let mut reader = futures::io::Cursor::new(log.to_vec());
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else { return };
    let read = runtime.block_on(klieg_backend::logs::read_lines(&mut reader, |segment| {
        let limit = 3 * klieg_backend::logs::MAX_LOG_LINE_BYTES;
        assert!(segment.text.len() <= limit, "segments are bounded (U+FFFD at most triples a byte)");
        for range in klieg_model::search::match_ranges_ignore_case(&segment.text, &needle) {
            assert!(segment.text.get(range).is_some(), "a match is a valid range of its line");
        }
        let _ = klieg_model::search::contains_ignore_case(&segment.text, &needle);
        async { true }
    }));
    assert!(read.is_ok(), "a cursor does not fail");
}
