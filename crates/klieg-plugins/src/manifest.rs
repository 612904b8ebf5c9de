//! `plugin.toml`: what a plugin says it is and what it may do, parsed and checked before any of
//! its code runs. Pure functions over text (fuzzed); called on the plugin host's threads.

use klieg_model::registry::FormField;
use rust_i18n::t;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The plugin API this Klieg serves; a plugin names the range it needs (`api = ">=1.0, <2"`).
pub const PLUGIN_API_VERSION: semver::Version = semver::Version::new(1, 1, 0);

/// A manifest longer than this is refused unread.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
const MAX_ID_CHARS: usize = 100;
const MAX_NAME_CHARS: usize = 60;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_LISTED: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("{}", t!("plugins.manifest_too_long", limit = MAX_MANIFEST_BYTES))]
    TooLong,
    #[error("{}", t!("plugins.manifest_unreadable", error = .0))]
    Syntax(String),
    #[error("{}", t!("plugins.manifest_bad_id", id = .0))]
    BadId(String),
    #[error("{}", t!("plugins.manifest_bad_version", version = .0))]
    BadVersion(String),
    #[error("{}", t!("plugins.manifest_bad_api", range = .0))]
    BadApiRange(String),
    #[error("{}", t!("plugins.manifest_api_mismatch", range = .range, api = PLUGIN_API_VERSION))]
    ApiMismatch { range: String },
    #[error("{}", t!("plugins.manifest_field", field = .field, limit = .limit))]
    Field { field: &'static str, limit: usize },
    #[error("{}", t!("plugins.manifest_bad_kind", kind = .0))]
    BadKind(String),
    #[error("{}", t!("plugins.manifest_bad_main", main = .0))]
    BadMain(String),
    #[error("{}", t!("plugins.manifest_bad_verb", verb = .0))]
    BadVerb(String),
    #[error("{}", t!("plugins.manifest_bad_host", host = .0))]
    BadHost(String),
    #[error("{}", t!("plugins.manifest_bad_exec", id = .0))]
    BadExec(String),
    #[error("{}", t!("plugins.manifest_bad_setting", key = .0))]
    BadSetting(String),
}

/// The file as written; checked into [`Manifest`].
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    id: String,
    name: String,
    version: String,
    api: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    license: String,
    #[serde(default)]
    homepage: String,
    #[serde(default)]
    icon: String,
    #[serde(default)]
    main: Option<String>,
    #[serde(default)]
    capabilities: CapabilitiesFile,
    #[serde(default)]
    settings: Vec<SettingFile>,
}

/// One setting of the plugin's settings page.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingFile {
    key: String,
    label: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    default: Option<toml::Value>,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    help: String,
}

/// Settings one plugin may have.
pub const MAX_SETTINGS: usize = 50;

fn setting(file: SettingFile) -> Result<FormField, ManifestError> {
    use klieg_model::registry::{FieldKind, FieldValue};
    if !valid_local_id(&file.key.replace('_', "-")) {
        return Err(ManifestError::BadSetting(cut(&file.key)));
    }
    let kind = match file.kind.as_str() {
        "" | "text" => FieldKind::Text,
        "number" => FieldKind::Number,
        "toggle" => FieldKind::Toggle,
        "secret" => FieldKind::Secret,
        "choice" if !file.choices.is_empty() && file.choices.len() <= MAX_LISTED => FieldKind::Choice(
            file.choices
                .iter()
                .map(|c| limited("settings.choices", c.clone(), MAX_NAME_CHARS))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(ManifestError::BadSetting(cut(&file.key))),
    };
    let default = match (&kind, file.default) {
        (_, None) => None,
        (FieldKind::Secret, Some(_)) => return Err(ManifestError::BadSetting(cut(&file.key))),
        (FieldKind::Number, Some(toml::Value::Integer(n))) => Some(FieldValue::Number(n as f64)),
        (FieldKind::Number, Some(toml::Value::Float(n))) if n.is_finite() => Some(FieldValue::Number(n)),
        (FieldKind::Toggle, Some(toml::Value::Boolean(on))) => Some(FieldValue::Toggle(on)),
        (FieldKind::Text, Some(toml::Value::String(text))) => {
            Some(FieldValue::Text(limited("settings.default", text, MAX_DESCRIPTION_CHARS)?))
        }
        (FieldKind::Choice(choices), Some(toml::Value::String(text))) if choices.iter().any(|c| **c == *text) => {
            Some(FieldValue::Text(Arc::from(text)))
        }
        _ => return Err(ManifestError::BadSetting(cut(&file.key))),
    };
    let help =
        (!file.help.is_empty()).then(|| limited("settings.help", file.help, MAX_DESCRIPTION_CHARS)).transpose()?;
    Ok(FormField {
        key: Arc::from(file.key),
        label: limited("settings.label", file.label, MAX_NAME_CHARS)?,
        kind,
        default,
        help,
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CapabilitiesFile {
    #[serde(default)]
    kube_read: Option<Vec<String>>,
    #[serde(default)]
    kube_write: Vec<WriteFile>,
    #[serde(default)]
    http: Vec<String>,
    #[serde(default)]
    exec: Vec<ExecFile>,
    #[serde(default)]
    storage: bool,
    #[serde(default)]
    clipboard: bool,
    #[serde(default)]
    notify: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecFile {
    id: String,
    command: Vec<String>,
    #[serde(default)]
    dangerous: bool,
}

/// The variables a command's arguments may hold, replaced by the target's values (each whole
/// value goes into one argument: no shell ever sees it).
/// `$CONTAINER` is a pod's first container (empty for other kinds).
pub const EXEC_VARIABLES: [&str; 6] = ["$CONTEXT", "$NAMESPACE", "$NAME", "$RESOURCE", "$KIND", "$CONTAINER"];

/// A command a plugin may run, k9s-style: the program and its arguments as listed; confirmed
/// first when `dangerous`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecCommand {
    pub id: Arc<str>,
    pub command: Vec<Arc<str>>,
    pub dangerous: bool,
}

impl ExecCommand {
    /// The command as the user reads it before granting or running it.
    pub fn shown(&self) -> String {
        self.command.iter().map(|a| &**a).collect::<Vec<_>>().join(" ")
    }

    /// The arguments for one target: each variable replaced by its value.
    pub fn argv(&self, values: &[(&str, &str)]) -> Vec<String> {
        self.command
            .iter()
            .map(|arg| values.iter().fold(arg.to_string(), |arg, (name, value)| arg.replace(name, value)))
            .collect()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteFile {
    kind: String,
    verbs: Vec<String>,
}

/// A kind as a manifest names it: `plural.group`, or `plural` for the core group; `*` is any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KindName {
    Any,
    Kind { group: Arc<str>, plural: Arc<str> },
}

impl KindName {
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let bad = || ManifestError::BadKind(text.chars().take(MAX_ID_CHARS).collect());
        let valid = |part: &str| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        let (plural, group) = text.split_once('.').unwrap_or((text, ""));
        if text.len() > 253 || !valid(plural) || !(group.is_empty() || group.split('.').all(valid)) {
            return Err(bad());
        }
        Ok(Self::Kind { group: Arc::from(group), plural: Arc::from(plural) })
    }

    pub fn matches(&self, group: &str, plural: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Kind { group: g, plural: p } => &**g == group && &**p == plural,
        }
    }
}

impl std::fmt::Display for KindName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Kind { group, plural } if group.is_empty() => f.write_str(plural),
            Self::Kind { group, plural } => write!(f, "{plural}.{group}"),
        }
    }
}

/// What a plugin may do beyond computing cells and sections from what it is shown. The user
/// grants these when enabling it; the host API refuses everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Kinds it may read (`None`: it reads nothing beyond the objects it is shown).
    pub kube_read: Option<BTreeSet<KindName>>,
    /// Kinds it may write, with the verbs (`patch`, `create`, `delete`…).
    pub kube_write: Vec<(KindName, BTreeSet<Arc<str>>)>,
    /// Hosts it may fetch from over HTTPS.
    pub http: BTreeSet<Arc<str>>,
    /// Commands it may run on this machine, as listed.
    pub exec: Vec<ExecCommand>,
    pub storage: bool,
    pub clipboard: bool,
    pub notify: bool,
}

impl Capabilities {
    /// Whether `self` asks for anything `granted` did not include (an update asking for more
    /// must be granted again).
    pub fn exceeds(&self, granted: &Capabilities) -> bool {
        let reads = match (&self.kube_read, &granted.kube_read) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(asked), Some(given)) => !asked.is_subset(given),
        };
        let writes = self.kube_write.iter().any(|(kind, verbs)| {
            !granted.kube_write.iter().any(|(given, given_verbs)| given == kind && verbs.is_subset(given_verbs))
        });
        reads
            || writes
            || !self.http.is_subset(&granted.http)
            || self.exec.iter().any(|exec| !granted.exec.contains(exec))
            || (self.storage && !granted.storage)
            || (self.clipboard && !granted.clipboard)
            || (self.notify && !granted.notify)
    }

    /// Each capability as a stable token (`read:secrets`, `write:certificates.cert-manager.io:patch`,
    /// `http:example.com`, `storage`…): what the settings keep as granted.
    pub fn tokens(&self) -> BTreeSet<String> {
        let mut tokens = BTreeSet::new();
        for kind in self.kube_read.iter().flatten() {
            tokens.insert(format!("read:{kind}"));
        }
        for (kind, verbs) in &self.kube_write {
            tokens.extend(verbs.iter().map(|verb| format!("write:{kind}:{verb}")));
        }
        tokens.extend(self.http.iter().map(|host| format!("http:{host}")));
        tokens.extend(self.exec.iter().map(|exec| format!("exec:{}:{}", exec.id, exec.shown())));
        for (on, name) in [(self.storage, "storage"), (self.clipboard, "clipboard"), (self.notify, "notify")] {
            if on {
                tokens.insert(name.to_string());
            }
        }
        tokens
    }

    /// One line per capability, for the Plugins page and the grant dialog.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(kinds) = &self.kube_read {
            let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
            lines.push(t!("plugins.cap_read", kinds = kinds.join(", ")).into_owned());
        }
        for (kind, verbs) in &self.kube_write {
            let verbs: Vec<&str> = verbs.iter().map(|v| &**v).collect();
            lines.push(t!("plugins.cap_write", kind = kind, verbs = verbs.join(", ")).into_owned());
        }
        if !self.http.is_empty() {
            let hosts: Vec<&str> = self.http.iter().map(|h| &**h).collect();
            lines.push(t!("plugins.cap_http", hosts = hosts.join(", ")).into_owned());
        }
        for exec in &self.exec {
            lines.push(t!("plugins.cap_exec", command = exec.shown()).into_owned());
        }
        for (on, key) in [(self.storage, "plugins.cap_storage"), (self.clipboard, "plugins.cap_clipboard")] {
            if on {
                lines.push(t!(key).into_owned());
            }
        }
        if self.notify {
            lines.push(t!("plugins.cap_notify").into_owned());
        }
        lines
    }
}

/// A checked manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub version: semver::Version,
    pub api: semver::VersionReq,
    pub description: Arc<str>,
    pub author: Arc<str>,
    pub license: Arc<str>,
    pub homepage: Arc<str>,
    /// A short glyph shown beside the plugin's name.
    pub icon: Arc<str>,
    /// The source file run first, relative to the plugin's folder.
    pub main: Arc<str>,
    pub capabilities: Capabilities,
    /// The plugin's settings page, as a schema.
    pub settings: Vec<FormField>,
}

fn limited(field: &'static str, text: String, limit: usize) -> Result<Arc<str>, ManifestError> {
    if text.chars().count() > limit || text.chars().any(char::is_control) {
        return Err(ManifestError::Field { field, limit });
    }
    Ok(Arc::from(text))
}

/// A reverse-DNS id: lowercase letters, digits, `-` and `.`, at least two labels.
fn valid_id(id: &str) -> bool {
    id.len() <= MAX_ID_CHARS
        && id.split('.').count() >= 2
        && id.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// An id inside a plugin: lowercase letters, digits and `-`.
fn valid_local_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 60 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A source file name inside the plugin's folder: no folders above it, no hidden files, no
/// definitions files (`*.d.luau`, types for editors, not code).
pub fn valid_source_path(path: &str) -> bool {
    path.len() <= 200
        && path.ends_with(".luau")
        && !path.ends_with(".d.luau")
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// Parses and checks `text` as a `plugin.toml`.
pub fn parse_manifest(text: &str) -> Result<Manifest, ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLong);
    }
    let file: ManifestFile = toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_string()))?;
    if !valid_id(&file.id) {
        return Err(ManifestError::BadId(file.id.chars().take(MAX_ID_CHARS).collect()));
    }
    let version = semver::Version::parse(&file.version).map_err(|_| ManifestError::BadVersion(cut(&file.version)))?;
    let api = semver::VersionReq::parse(&file.api).map_err(|_| ManifestError::BadApiRange(cut(&file.api)))?;
    if !api.matches(&PLUGIN_API_VERSION) {
        return Err(ManifestError::ApiMismatch { range: cut(&file.api) });
    }
    let main = file.main.unwrap_or_else(|| "init.luau".to_string());
    if !valid_source_path(&main) {
        return Err(ManifestError::BadMain(cut(&main)));
    }
    Ok(Manifest {
        id: Arc::from(file.id),
        name: limited("name", file.name, MAX_NAME_CHARS)?,
        version,
        api,
        description: limited("description", file.description, MAX_DESCRIPTION_CHARS)?,
        author: limited("author", file.author, MAX_NAME_CHARS)?,
        license: limited("license", file.license, MAX_NAME_CHARS)?,
        homepage: limited("homepage", file.homepage, MAX_DESCRIPTION_CHARS)?,
        icon: limited("icon", file.icon, 4)?,
        main: Arc::from(main),
        capabilities: capabilities(file.capabilities)?,
        settings: settings(file.settings)?,
    })
}

fn settings(files: Vec<SettingFile>) -> Result<Vec<FormField>, ManifestError> {
    if files.len() > MAX_SETTINGS {
        return Err(ManifestError::Field { field: "settings", limit: MAX_SETTINGS });
    }
    let fields: Vec<FormField> = files.into_iter().map(setting).collect::<Result<_, _>>()?;
    for (index, field) in fields.iter().enumerate() {
        if fields[..index].iter().any(|other| other.key == field.key) {
            return Err(ManifestError::BadSetting(field.key.to_string()));
        }
    }
    Ok(fields)
}

fn capabilities(file: CapabilitiesFile) -> Result<Capabilities, ManifestError> {
    let listed = |field: &'static str, count: usize| {
        if count > MAX_LISTED { Err(ManifestError::Field { field, limit: MAX_LISTED }) } else { Ok(()) }
    };
    let kube_read = match file.kube_read {
        None => None,
        Some(kinds) => {
            listed("kube_read", kinds.len())?;
            Some(kinds.iter().map(|k| KindName::parse(k)).collect::<Result<BTreeSet<_>, _>>()?)
        }
    };
    listed("kube_write", file.kube_write.len())?;
    let mut kube_write = Vec::new();
    for write in file.kube_write {
        listed("verbs", write.verbs.len())?;
        const VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];
        if let Some(bad) = write.verbs.iter().find(|v| !VERBS.contains(&v.as_str())) {
            return Err(ManifestError::BadVerb(cut(bad)));
        }
        kube_write.push((KindName::parse(&write.kind)?, write.verbs.iter().map(|v| Arc::from(v.as_str())).collect()));
    }
    listed("http", file.http.len())?;
    let host_ok = |h: &String| {
        !h.is_empty()
            && h.len() <= 253
            && h.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':'))
    };
    if let Some(bad) = file.http.iter().find(|h| !host_ok(h)) {
        return Err(ManifestError::BadHost(cut(bad)));
    }
    listed("exec", file.exec.len())?;
    let mut exec = Vec::new();
    for command in file.exec {
        let arg_ok = |a: &String| a.len() <= 1024 && !a.chars().any(char::is_control);
        let program_ok = command.command.first().is_some_and(|p| !p.is_empty() && !p.contains('$') && arg_ok(p));
        if !valid_local_id(&command.id)
            || !program_ok
            || command.command.len() > 64
            || !command.command.iter().all(arg_ok)
        {
            return Err(ManifestError::BadExec(cut(&command.id)));
        }
        exec.push(ExecCommand {
            id: Arc::from(command.id),
            command: command.command.iter().map(|a| Arc::from(a.as_str())).collect(),
            dangerous: command.dangerous,
        });
    }
    Ok(Capabilities {
        kube_read,
        kube_write,
        exec,
        http: file.http.iter().map(|h| Arc::from(h.as_str())).collect(),
        storage: file.storage,
        clipboard: file.clipboard,
        notify: file.notify,
    })
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_ID_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "io.klieg.cert-manager"
name = "cert-manager"
version = "0.1.0"
api = ">=1.0, <2"
description = "Certificate expiry at a glance"
license = "Apache-2.0"

[capabilities]
kube_read = ["certificates.cert-manager.io", "secrets"]
kube_write = [{ kind = "certificates.cert-manager.io", verbs = ["patch"] }]
"#;

    #[test]
    fn a_good_manifest_parses_with_its_capabilities() {
        let manifest = parse_manifest(GOOD).expect("parses");
        assert_eq!(&*manifest.id, "io.klieg.cert-manager");
        assert_eq!(&*manifest.main, "init.luau");
        let reads = manifest.capabilities.kube_read.as_ref().expect("reads");
        assert!(reads.contains(&KindName::parse("secrets").expect("kind")));
        assert_eq!(manifest.capabilities.kube_write.len(), 1);
        assert_eq!(manifest.capabilities.describe().len(), 2);
    }

    #[test]
    fn bad_manifests_are_refused_with_the_reason() {
        let with = |from: &str, to: &str| parse_manifest(&GOOD.replace(from, to));
        assert!(matches!(with("io.klieg.cert-manager", "CertManager"), Err(ManifestError::BadId(_))));
        assert!(matches!(with("\"0.1.0\"", "\"one\""), Err(ManifestError::BadVersion(_))));
        assert!(matches!(with(">=1.0, <2", ">=2"), Err(ManifestError::ApiMismatch { .. })));
        assert!(matches!(with("license", "licence"), Err(ManifestError::Syntax(_))), "unknown fields are typos");
        assert!(matches!(with("\"secrets\"", "\"Secrets/..\""), Err(ManifestError::BadKind(_))));
        assert!(matches!(with("[\"patch\"]", "[\"escalate\"]"), Err(ManifestError::BadVerb(_))));
        assert!(matches!(
            parse_manifest(&format!("{GOOD}\nmain = \"../../etc/passwd.luau\"")),
            Err(ManifestError::Syntax(_) | ManifestError::BadMain(_))
        ));
        let long = format!("{GOOD}#{}", "x".repeat(MAX_MANIFEST_BYTES));
        assert_eq!(parse_manifest(&long), Err(ManifestError::TooLong));
    }

    #[test]
    fn an_update_asking_for_more_must_be_granted_again() {
        let granted = parse_manifest(GOOD).expect("parses").capabilities;
        let mut more = granted.clone();
        assert!(!more.exceeds(&granted));
        more.http.insert(Arc::from("example.com"));
        assert!(more.exceeds(&granted));
        let mut fewer = granted.clone();
        fewer.kube_write.clear();
        assert!(!fewer.exceeds(&granted));
    }

    #[test]
    fn source_paths_stay_inside_the_folder() {
        assert!(valid_source_path("init.luau"));
        assert!(valid_source_path("lib/cells.luau"));
        for bad in ["../x.luau", "/etc/x.luau", "a//b.luau", ".hidden.luau", "x.lua", "a/../b.luau"] {
            assert!(!valid_source_path(bad), "{bad}");
        }
    }
}
