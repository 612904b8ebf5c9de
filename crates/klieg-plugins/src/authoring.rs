//! Writing plugins: `klieg plugin new` (a folder to start from) and `klieg plugin check` (the
//! manifest, every source file compiled, and a sandboxed load). Runs on the command line's thread.

use crate::vm::Vm;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The API's definitions file, for editors (luau-lsp) and the type checker.
pub const DEFINITIONS: &str = include_str!("../klieg.d.luau");

/// Where installed plugins live: `$XDG_DATA_HOME/klieg/plugins`.
pub fn installed_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("klieg").join("plugins"))
}

/// Where plugins' stores are kept: `$XDG_DATA_HOME/klieg/plugin-data`, one file per plugin.
pub fn data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("klieg").join("plugin-data"))
}

#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error("{0} is not a plugin name: use lowercase letters, digits and -")]
    BadName(String),
    #[error("{0} exists already")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Check(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthoringError + '_ {
    move |source| AuthoringError::Io { path: path.to_path_buf(), source }
}

/// Creates `parent/NAME` with a manifest, an `init.luau` adding a column, and `klieg.d.luau`.
pub fn scaffold(parent: &Path, name: &str) -> Result<PathBuf, AuthoringError> {
    let valid = !name.is_empty()
        && name.len() <= 50
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if !valid {
        return Err(AuthoringError::BadName(name.to_string()));
    }
    let folder = parent.join(name);
    if folder.exists() {
        return Err(AuthoringError::Exists(folder));
    }
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let manifest = format!(
        "id = \"io.example.{name}\"\nname = \"{name}\"\nversion = \"0.1.0\"\napi = \">=1.0, <2\"\n\
         description = \"What {name} adds\"\nlicense = \"Apache-2.0\"\n\n\
         # What it may do beyond what it is shown; the user grants these when turning it on.\n\
         [capabilities]\n"
    );
    let main = r#"--!strict
local klieg = require("@klieg")

-- A column on every pod: its app label, computed once per change as the row arrives.
klieg.columns.add({
  id = "app",
  kinds = { "pods" },
  title = "App",
  metadata_only = true, -- labels are enough: the table watches metadata alone
  cell = function(pod)
    local labels = pod.metadata.labels or {}
    return labels["app.kubernetes.io/name"] or labels.app or "—"
  end,
})
"#;
    for (file, text) in [("plugin.toml", manifest.as_str()), ("init.luau", main), ("klieg.d.luau", DEFINITIONS)] {
        let path = folder.join(file);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(folder)
}

/// Writes `root/ID`: a plugin of one file, its manifest naming it `id` for API 1 and `main` as
/// its `init.luau` (for tests, benchmarks and quick experiments).
pub fn write_single_file_plugin(root: &Path, id: &str, main: &str) -> Result<PathBuf, AuthoringError> {
    let folder = root.join(id);
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let manifest = format!("id = \"{id}\"\nname = \"{id}\"\nversion = \"0.1.0\"\napi = \">=1.0, <2\"\n");
    for (file, text) in [("plugin.toml", manifest.as_str()), ("init.luau", main)] {
        let path = folder.join(file);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(folder)
}

/// What `klieg plugin check` found.
#[derive(Debug)]
pub struct CheckReport {
    pub manifest: crate::Manifest,
    pub files: usize,
    pub registered: Vec<String>,
    pub load_ms: f64,
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.manifest;
        writeln!(
            f,
            "{} {} ({}): plugin API {} — fits this Klieg's {}",
            m.name,
            m.version,
            m.id,
            m.api,
            crate::PLUGIN_API_VERSION
        )?;
        writeln!(f, "{} source files compile; loaded in {:.1} ms", self.files, self.load_ms)?;
        for line in m.capabilities.describe() {
            writeln!(f, "may {line}")?;
        }
        for line in &self.registered {
            writeln!(f, "registers {line}")?;
        }
        Ok(())
    }
}

/// Checks a plugin folder as the host would load it, without Klieg running.
pub fn check(folder: &Path) -> Result<CheckReport, AuthoringError> {
    let manifest = crate::host::read_manifest(folder).map_err(AuthoringError::Check)?;
    let sources = crate::host::read_sources(folder).map_err(AuthoringError::Check)?;
    let main = sources
        .get(&*manifest.main)
        .cloned()
        .ok_or_else(|| AuthoringError::Check(format!("{} is missing", manifest.main)))?;
    let sources = Arc::new(sources);
    let vm = Vm::new(sources.clone(), crate::api::VmData::detached(&manifest, false))
        .map_err(|e| AuthoringError::Check(e.to_string()))?;
    let mut errors = String::new();
    for (path, text) in sources.iter() {
        if let Err(error) = vm.compile(path, text) {
            let _ = writeln!(errors, "{error}");
        }
    }
    if !errors.is_empty() {
        return Err(AuthoringError::Check(errors.trim_end().to_string()));
    }
    let started = std::time::Instant::now();
    let registrations = vm.load(&manifest.main, &main).map_err(|f| AuthoringError::Check(f.to_string()))?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut registered: Vec<String> = Vec::new();
    registered.extend(
        registrations.columns.iter().map(|c| format!("column {} ({}) on {}", c.id, c.title, c.kinds.join(", "))),
    );
    registered.extend(
        registrations.sections.iter().map(|s| format!("section {} ({}) on {}", s.id, s.title, s.kinds.join(", "))),
    );
    registered.extend(
        registrations.actions.iter().map(|a| format!("action {} ({}) on {}", a.id, a.label, a.kinds.join(", "))),
    );
    registered.extend(registrations.views.iter().map(|v| format!("view {} ({}) in the sidebar", v.id, v.title)));
    registered.extend(registrations.relations.iter().map(|r| format!("relations {} on {}", r.id, r.kinds.join(", "))));
    registered.extend(registrations.icons.iter().map(|(kind, glyph)| format!("icon {glyph} for {kind}")));
    registered.extend(registrations.commands.iter().map(|c| {
        let place = if c.app_bar { "the palette and the app bar" } else { "the palette" };
        format!("command {} ({}) in {place}", c.id, c.title)
    }));
    registered.extend(registrations.hooks.iter().map(|(event, _)| format!("hook on {event}")));
    registered.extend(
        registrations.glances.iter().map(|g| format!("glance {} ({}) on {}", g.id, g.title, g.kinds.join(", "))),
    );
    registered.extend(manifest.settings.iter().map(|f| format!("setting {} ({})", f.key, f.label)));
    Ok(CheckReport { manifest, files: sources.len(), registered, load_ms })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_plugin_checks_clean_and_a_broken_one_names_its_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = super::scaffold(dir.path(), "team-column").expect("scaffold");
        let report = super::check(&folder).expect("a new plugin checks");
        assert_eq!(report.registered, ["column app (App) on pods"]);
        assert!(super::scaffold(dir.path(), "team-column").is_err(), "an existing folder is kept");
        assert!(super::scaffold(dir.path(), "../up").is_err());
        std::fs::write(folder.join("broken.luau"), "local x = = 1").expect("write");
        let error = super::check(&folder).expect_err("a syntax error");
        assert!(error.to_string().contains("broken.luau"), "{error}");
    }
}
