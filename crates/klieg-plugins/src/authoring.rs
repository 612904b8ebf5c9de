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
    /// Uses of the API the manifest does not grant.
    pub warnings: Vec<String>,
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
        for line in &self.warnings {
            writeln!(f, "warning: {line}")?;
        }
        Ok(())
    }
}

/// The names `require("@klieg")` is bound to in `text` (`local klieg = require("@klieg")`).
fn api_aliases(text: &str) -> Vec<String> {
    let mut aliases = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("local ") else { continue };
        let Some((name, value)) = rest.split_once('=') else { continue };
        let value = value.trim().replace('\'', "\"");
        if value.starts_with("require(\"@klieg\")") || value.starts_with("require \"@klieg\"") {
            aliases.push(name.trim().trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_').to_string());
        }
    }
    aliases
}

/// Each `alias.a.b` path of `text` with its line: what the plugin uses of the host API.
fn api_uses(text: &str, alias: &str) -> Vec<(usize, String)> {
    let mut uses = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (number, line) in text.lines().enumerate() {
        let code = line.split("--").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find(alias) {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + alias.len()..];
            if before.is_none_or(|c| !ident(c) && c != '.') && after.starts_with('.') {
                let path: String = after[1..].chars().take_while(|c| ident(*c) || *c == '.').collect();
                if !path.is_empty() {
                    uses.push((number + 1, path.trim_end_matches('.').to_string()));
                }
            }
            rest = after;
            if rest.is_empty() {
                break;
            }
        }
    }
    uses
}

/// The host API's names (`kube.get`, `ui.text`…) and, for each capability-guarded table, the
/// capability it needs; uses outside the API are errors, uses beyond the manifest warnings.
fn check_api_use(
    sources: &crate::vm::Sources,
    manifest: &crate::Manifest,
    surface: &[String],
) -> (Vec<String>, Vec<String>) {
    let names: Vec<&str> = surface.iter().filter_map(|line| line.strip_prefix("klieg.")?.split(':').next()).collect();
    let caps = &manifest.capabilities;
    let needs = |path: &str| -> Option<&'static str> {
        let first = path.split('.').next().unwrap_or_default();
        match (first, path) {
            ("kube", "kube.patch" | "kube.delete") if caps.kube_write.is_empty() => Some("kube_write"),
            ("kube", "kube.get" | "kube.list" | "kube.watch" | "kube.logs") if caps.kube_read.is_none() => {
                Some("kube_read")
            }
            ("http", _) if caps.http.is_empty() => Some("http"),
            ("notify", _) if !caps.notify => Some("notify = true"),
            ("clipboard", _) if !caps.clipboard => Some("clipboard = true"),
            ("storage" | "secrets", _) if !caps.storage => Some("storage = true"),
            _ => None,
        }
    };
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for (path, text) in sources {
        for alias in api_aliases(text) {
            for (line, used) in api_uses(text, &alias) {
                let known = names.iter().any(|name| *name == used || name.starts_with(&format!("{used}.")));
                if !known {
                    errors.push(format!(
                        "{path}:{line}: {alias}.{used} is not in the plugin API {}",
                        crate::PLUGIN_API_VERSION
                    ));
                } else if let Some(capability) = needs(&used) {
                    warnings.push(format!("{path}:{line}: {alias}.{used} needs {capability} in [capabilities]; without it the plugin is stopped when it calls it"));
                }
            }
        }
    }
    (errors, warnings)
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
    let surface = vm.api_surface().map_err(|e| AuthoringError::Check(e.to_string()))?;
    let (api_errors, warnings) = check_api_use(&sources, &manifest, &surface);
    for error in api_errors {
        let _ = writeln!(errors, "{error}");
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
    Ok(CheckReport { manifest, files: sources.len(), registered, load_ms, warnings })
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
        std::fs::write(
            folder.join("extra.luau"),
            "local k = require('@klieg')\nk.kube.gett('pods', 'x')\nk.notify('hi') -- k.nothing in a comment\n",
        )
        .expect("write");
        let error = super::check(&folder).expect_err("an unknown API name");
        assert_eq!(error.to_string(), "extra.luau:2: k.kube.gett is not in the plugin API 1.1.0");
        std::fs::write(folder.join("extra.luau"), "local k = require('@klieg')\nk.notify('hi')\n").expect("write");
        let report = super::check(&folder).expect("known names");
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].starts_with("extra.luau:2: k.notify needs notify = true"), "{:?}", report.warnings);
        std::fs::write(folder.join("broken.luau"), "local x = = 1").expect("write");
        let error = super::check(&folder).expect_err("a syntax error");
        assert!(error.to_string().contains("broken.luau"), "{error}");
    }
}
