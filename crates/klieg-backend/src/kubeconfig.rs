//! Finds kubeconfig files (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`), merges them with
//! kubectl's rules and splits them into one entry per context, so a broken file or context never
//! affects the others. Also watches the files for changes. File reads happen on the backend runtime.

use klieg_model::{ClusterErrorKind, ClusterId};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rust_i18n::t;
use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("{path}: {source}")]
    Malformed {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("{0}")]
    Context(#[source] kube::config::KubeconfigError),
    #[error("{}", t!("backend.missing_user", context = format!("{:?}", .context), user = format!("{:?}", .user)))]
    MissingUser { context: String, user: String },
    #[error("{}", t!("backend.credentials", error = .0))]
    Keyring(String),
    #[error("{path}: {reason}")]
    ReferencedFile { path: String, reason: String },
    #[error("{}", t!("backend.foreign_keyring_entry", context = format!("{:?}", .context), entry = format!("{:?}", .entry)))]
    ForeignKeyringEntry { context: String, entry: String },
}

impl KubeconfigError {
    pub fn kind(&self) -> ClusterErrorKind {
        use kube::config::KubeconfigError as K;
        match self {
            KubeconfigError::Malformed { .. } => ClusterErrorKind::MalformedKubeconfig,
            KubeconfigError::Context(
                K::LoadCertificateAuthority(_)
                | K::LoadClientCertificate(_)
                | K::LoadClientKey(_)
                | K::ParseCertificates(_),
            ) => ClusterErrorKind::MissingFile,
            KubeconfigError::Context(_) | KubeconfigError::MissingUser { .. } => ClusterErrorKind::InvalidContext,
            KubeconfigError::Keyring(_) => ClusterErrorKind::Unauthorized,
            KubeconfigError::ForeignKeyringEntry { .. } => ClusterErrorKind::InvalidContext,
            KubeconfigError::ReferencedFile { .. } => ClusterErrorKind::MissingFile,
        }
    }
}

/// Where kubeconfig files come from.
#[derive(Clone, Debug, Default)]
pub struct KubeconfigSources {
    /// `--kubeconfig` arguments: files, or folders whose files are all read.
    pub explicit: Vec<PathBuf>,
    /// The value of `KUBECONFIG`, if set.
    pub env: Option<OsString>,
    /// The home folder, for `~/.kube/config`.
    pub home: Option<PathBuf>,
    /// The kubeconfig Klieg writes for clusters added in the app (read last; holds no secrets).
    pub added: Option<PathBuf>,
    /// Where the added clusters' secrets are.
    pub secrets: crate::credentials::Secrets,
    /// The offline cache's folder (`None`: nothing is cached).
    pub offline_cache: Option<PathBuf>,
    /// Clusters paused or off from the start (the user's saved choice); others are live.
    pub cluster_modes: std::collections::BTreeMap<klieg_model::ClusterId, klieg_model::ClusterMode>,
    /// Exec credential plugins the user approved (`exec_auth::approval_key`s); others wait.
    pub approved_exec: std::collections::BTreeSet<String>,
}

impl KubeconfigSources {
    pub fn from_environment(explicit: Vec<PathBuf>) -> Self {
        Self {
            explicit,
            env: std::env::var_os("KUBECONFIG"),
            home: dirs::home_dir(),
            added: default_added_file(),
            secrets: crate::credentials::Secrets::default(),
            offline_cache: super::cache::OfflineCache::default_dir(),
            cluster_modes: std::collections::BTreeMap::new(),
            approved_exec: std::collections::BTreeSet::new(),
        }
    }

    /// Files to read, in merge order: `--kubeconfig` paths first, then `KUBECONFIG` or the default.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for path in &self.explicit {
            if path.is_dir() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                    .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
                    .unwrap_or_default();
                entries.sort();
                files.extend(entries.into_iter().filter(|p| !is_hidden(p) && looks_like_kubeconfig(p)));
            } else {
                files.push(path.clone());
            }
        }
        match self.env.as_ref().filter(|v| !v.is_empty()) {
            Some(value) => files.extend(std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty())),
            None if self.explicit.is_empty() => {
                if let Some(home) = &self.home {
                    files.push(home.join(".kube").join("config"));
                }
            }
            None => {}
        }
        if let Some(added) = self.added.as_ref().filter(|p| p.is_file()) {
            files.push(added.clone());
        }
        let mut seen = std::collections::HashSet::new();
        files.retain(|p| seen.insert(p.clone()));
        files
    }

    /// Folders to watch for changes: each file's parent, and each `--kubeconfig` folder.
    pub fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.explicit.iter().filter(|p| p.is_dir()).cloned().collect();
        dirs.extend(self.files().iter().filter_map(|f| f.parent().map(Path::to_path_buf)));
        dirs.sort();
        dirs.dedup();
        dirs.retain(|d| d.is_dir());
        dirs
    }
}

/// `$XDG_CONFIG_HOME/klieg/added-clusters.yaml` (or the platform's config folder).
pub fn default_added_file() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("klieg").join("added-clusters.yaml"))
}

/// How much of a file in a kubeconfig folder is read to tell whether it is one.
const SNIFF_BYTES: u64 = 64 * 1024;

/// Whether a file found in a `--kubeconfig` folder is meant as a kubeconfig: text with a
/// top-level `clusters:`, `contexts:`, `users:` or `kind: Config`. Scripts, notes and binaries
/// beside the kubeconfigs are left out instead of shown as broken clusters; a kubeconfig that is
/// broken but says what it is still shows, with its error. (A file named on its own is always
/// read.)
fn looks_like_kubeconfig(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|file| file.take(SNIFF_BYTES).read_to_end(&mut head));
    if read.is_err() || head.contains(&0) {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    // kubectl reads JSON kubeconfigs too.
    if text.trim_start().starts_with('{') {
        return ["\"clusters\"", "\"contexts\"", "\"users\""].iter().any(|key| text.contains(key));
    }
    text.lines().any(|line| {
        ["clusters:", "contexts:", "users:", "current-context:"].iter().any(|key| line.starts_with(key))
            || line.trim_end() == "kind: Config"
    })
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// One context, ready to connect or carrying the reason it cannot.
#[derive(Clone)]
pub struct ContextEntry {
    pub id: ClusterId,
    pub source: Arc<str>,
    pub server_url: Option<Arc<str>>,
    pub default_namespace: Option<Arc<str>>,
    pub insecure_tls: bool,
    pub is_current: bool,
    /// Changes when anything the connection depends on changes, so only those workers restart.
    pub fingerprint: u64,
    pub config: Result<Kubeconfig, Arc<KubeconfigError>>,
    /// Where keyring references in the context's user are looked up.
    pub secrets: crate::credentials::Secrets,
    /// Comes from Klieg's own file of added clusters.
    pub added: bool,
}

/// Reads and merges every file. Unreadable or malformed files become one error entry each.
/// A missing default `~/.kube/config` is not an error: there are simply no contexts.
pub fn load_contexts(sources: &KubeconfigSources) -> Vec<ContextEntry> {
    let mut entries = Vec::new();
    let mut merged: Option<Kubeconfig> = None;
    let mut context_sources: Vec<(String, Arc<str>)> = Vec::new();
    let default_file = sources.home.as_ref().map(|h| h.join(".kube").join("config"));
    // Klieg's own file, read alone as well: its contexts take their cluster and user from it,
    // never from a same-named entry another kubeconfig defines first in the merge (which could
    // send an added cluster's keyring secret to a server of that file's choosing).
    let mut added_alone: Option<Kubeconfig> = None;
    for file in sources.files() {
        let display: Arc<str> = Arc::from(file.display().to_string().as_str());
        if !file.exists() && Some(&file) == default_file.as_ref() {
            continue;
        }
        let parsed = Kubeconfig::read_from(&file).and_then(|config| {
            if sources.added.as_ref() == Some(&file) {
                added_alone = Some(config.clone());
            }
            let names: Vec<String> = config.contexts.iter().map(|c| c.name.clone()).collect();
            let combined = match merged.take() {
                Some(previous) => previous.clone().merge(config).inspect_err(|_| merged = Some(previous)),
                None => Ok(config),
            }?;
            Ok((combined, names))
        });
        match parsed {
            Ok((combined, names)) => {
                merged = Some(combined);
                for name in names {
                    if !context_sources.iter().any(|(n, _)| n == &name) {
                        context_sources.push((name, display.clone()));
                    }
                }
            }
            Err(source) => entries.push(ContextEntry {
                id: ClusterId::new(&display),
                source: display.clone(),
                server_url: None,
                default_namespace: None,
                insecure_tls: false,
                is_current: false,
                fingerprint: 0,
                config: Err(Arc::new(KubeconfigError::Malformed { path: display.to_string(), source })),
                secrets: sources.secrets.clone(),
                added: false,
            }),
        }
    }
    let Some(merged) = merged else { return entries };
    let mut contexts = Vec::new();
    let added_file = sources.added.as_ref().map(|p| p.display().to_string());
    for (name, source) in context_sources {
        let added = added_file.as_deref() == Some(&*source);
        let config = added_alone.as_ref().filter(|_| added).unwrap_or(&merged);
        contexts.push(ContextEntry { added, ..context_entry(config, &name, source, &sources.secrets) });
    }
    contexts.extend(entries);
    contexts
}

fn context_entry(
    merged: &Kubeconfig,
    name: &str,
    source: Arc<str>,
    secrets: &crate::credentials::Secrets,
) -> ContextEntry {
    let named_context = merged.contexts.iter().find(|c| c.name == name);
    let context = named_context.and_then(|c| c.context.as_ref());
    let cluster =
        context.and_then(|ctx| merged.clusters.iter().find(|c| c.name == ctx.cluster)).and_then(|c| c.cluster.as_ref());
    let user =
        context.and_then(|ctx| ctx.user.as_ref()).and_then(|user| merged.auth_infos.iter().find(|a| &a.name == user));
    let mut hasher = DefaultHasher::new();
    // Serialising secrets only into a hasher keeps them off disk and out of logs.
    // Canonical JSON (keys sorted): exec plugin `env` entries are hash maps, whose order varies
    // between reads, and would otherwise look like a change and reconnect the cluster.
    let value = serde_json::to_value((named_context, cluster, user)).unwrap_or_default();
    canonical_json(&value).hash(&mut hasher);
    let mut single = merged.clone();
    single.current_context = Some(name.to_string());
    ContextEntry {
        id: ClusterId::new(name),
        source,
        server_url: cluster.and_then(|c| c.server.as_deref()).map(Arc::from),
        default_namespace: context.and_then(|c| c.namespace.as_deref()).map(Arc::from),
        insecure_tls: cluster.and_then(|c| c.insecure_skip_tls_verify).unwrap_or(false),
        is_current: merged.current_context.as_deref() == Some(name),
        fingerprint: hasher.finish(),
        config: Ok(single),
        secrets: secrets.clone(),
        added: false,
    }
}

/// JSON text with every object's keys in sorted order.
fn canonical_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", serde_json::Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}

/// Builds the client configuration of one context; certificate files are read here.
/// An entry that failed to load returns its own error, so its kind (malformed file…) is kept.
pub async fn client_config(entry: &ContextEntry) -> Result<kube::Config, Arc<KubeconfigError>> {
    Ok(client_config_and_saver(entry).await?.0)
}

/// As `client_config`, with where an added OIDC user's renewed tokens are to be saved.
pub async fn client_config_and_saver(
    entry: &ContextEntry,
) -> Result<(kube::Config, Option<crate::credentials::OidcSaver>), Arc<KubeconfigError>> {
    let mut kubeconfig = entry.config.clone()?;
    // kube would connect without credentials; client-go refuses the context by the user's name.
    if let Some(user) = context_user_name(&kubeconfig, entry.id.as_str())
        && !kubeconfig.auth_infos.iter().any(|a| a.name == user)
    {
        return Err(Arc::new(KubeconfigError::MissingUser { context: entry.id.to_string(), user }));
    }
    check_referenced_files(&kubeconfig, entry.id.as_str())?;
    let saver = match resolve_keyring_references(&mut kubeconfig, entry).await? {
        Some(saver) => Some(saver),
        None => resume_renewed_oidc(&mut kubeconfig, entry).await,
    };
    let options = KubeConfigOptions { context: Some(entry.id.to_string()), cluster: None, user: None };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|error| Arc::new(KubeconfigError::Context(error)))?;
    // kube's built-in retry holds a failing request for up to 15 attempts with growing delays, so
    // an outage would show as minutes of silence. Watchers retry on their own and report each failure.
    config.default_retry = false;
    Ok((config, saver))
}

/// Bytes of a file a kubeconfig names (a CA, a client certificate or key, a token file); real
/// ones are a few KiB.
pub const MAX_REFERENCED_FILE_BYTES: u64 = 1024 * 1024;

/// The files the context's cluster and user name must be regular files of at most
/// `MAX_REFERENCED_FILE_BYTES`: kube reads them whole, so a kubeconfig naming `/dev/zero`, a
/// FIFO or a huge file would otherwise hang or fill memory. (Blocking metadata calls only.)
fn check_referenced_files(kubeconfig: &Kubeconfig, context: &str) -> Result<(), Arc<KubeconfigError>> {
    let named = kubeconfig.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref());
    let cluster = named
        .and_then(|ctx| kubeconfig.clusters.iter().find(|c| c.name == ctx.cluster))
        .and_then(|c| c.cluster.as_ref());
    let user = named
        .and_then(|ctx| ctx.user.as_ref())
        .and_then(|name| kubeconfig.auth_infos.iter().find(|a| &a.name == name))
        .and_then(|a| a.auth_info.as_ref());
    let paths = [
        cluster.and_then(|c| c.certificate_authority.as_deref()),
        user.and_then(|u| u.client_certificate.as_deref()),
        user.and_then(|u| u.client_key.as_deref()),
        user.and_then(|u| u.token_file.as_deref()),
    ];
    for path in paths.into_iter().flatten() {
        let refused = |reason: String| Arc::new(KubeconfigError::ReferencedFile { path: path.to_string(), reason });
        // A missing file is kube's to report, as before.
        let Ok(metadata) = std::fs::metadata(path) else { continue };
        if !metadata.is_file() {
            return Err(refused("not a regular file".into()));
        }
        if metadata.len() > MAX_REFERENCED_FILE_BYTES {
            return Err(refused(format!("larger than {} KiB", MAX_REFERENCED_FILE_BYTES / 1024)));
        }
    }
    Ok(())
}

/// The keyring entry where an OIDC user of the user's own kubeconfig keeps renewed tokens.
fn renewed_oidc_entry(entry: &ContextEntry, user: &str) -> String {
    let origin = super::cache::stable_hash(&format!("{}\n{user}", entry.source));
    format!("oidc/{}-{origin:016x}", entry.id)
}

/// An `auth-provider: oidc` user of the user's own kubeconfig: tokens Klieg renewed in an earlier
/// session (the issuer may have rotated the file's refresh token away) are used again, from the
/// keyring, while the file still holds the refresh token they were renewed from; renewals are
/// saved there too. The file itself is never written. No keyring: the file's tokens, as before.
async fn resume_renewed_oidc(
    kubeconfig: &mut Kubeconfig,
    entry: &ContextEntry,
) -> Option<crate::credentials::OidcSaver> {
    let user_name = context_user_name(kubeconfig, entry.id.as_str())?;
    let named = kubeconfig.auth_infos.iter_mut().find(|a| a.name == user_name)?;
    let provider = named.auth_info.as_mut()?.auth_provider.as_mut().filter(|p| p.name == "oidc")?;
    let file_refresh_token = provider.config.get("refresh-token").cloned()?;
    let keyring_entry = renewed_oidc_entry(entry, &user_name);
    let (store, name) = (entry.secrets.0.clone(), keyring_entry.clone());
    let stored = tokio::task::spawn_blocking(move || crate::credentials::StoredCredential::load(store.as_ref(), &name))
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|stored| stored.oidc);
    if let Some(renewed) = stored
        && renewed.get(crate::credentials::RENEWED_FROM) == Some(&file_refresh_token)
    {
        for field in ["id-token", "refresh-token"] {
            if let Some(value) = renewed.get(field) {
                provider.config.insert(field.to_string(), value.clone());
            }
        }
    }
    Some(crate::credentials::OidcSaver {
        store: entry.secrets.0.clone(),
        entry: keyring_entry,
        renewed_from: Some(file_refresh_token),
    })
}

/// The name of the user a context refers to.
fn context_user_name(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    kubeconfig.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref()).and_then(|c| c.user.clone())
}

/// Replaces a Klieg keyring reference (the exec plugin `klieg credential --entry NAME`) in the
/// context's user with the secrets from the keyring, read on a blocking thread. Only an added
/// context may name an entry, and only its own.
async fn resolve_keyring_references(
    kubeconfig: &mut Kubeconfig,
    entry: &ContextEntry,
) -> Result<Option<crate::credentials::OidcSaver>, Arc<KubeconfigError>> {
    let user_name = context_user_name(kubeconfig, entry.id.as_str());
    let Some(user) = kubeconfig.auth_infos.iter_mut().find(|a| Some(&a.name) == user_name.as_ref()) else {
        return Ok(None);
    };
    let Some(auth) = user.auth_info.as_mut() else { return Ok(None) };
    let Some(keyring_entry) = auth.exec.as_ref().and_then(crate::credentials::entry_of) else { return Ok(None) };
    // A keyring entry belongs to the context Klieg added it for, in Klieg's own file: another
    // kubeconfig naming it would have the added cluster's secret sent to a server of its choosing.
    if !entry.added || keyring_entry != crate::added::entry_name(entry.id.as_str()) {
        return Err(Arc::new(KubeconfigError::ForeignKeyringEntry {
            context: entry.id.to_string(),
            entry: keyring_entry,
        }));
    }
    let store = entry.secrets.0.clone();
    let entry_name = keyring_entry.clone();
    let loaded =
        tokio::task::spawn_blocking(move || crate::credentials::StoredCredential::load(store.as_ref(), &entry_name))
            .await
            .map_err(|e| Arc::new(KubeconfigError::Keyring(e.to_string())))?
            .map_err(|e| Arc::new(KubeconfigError::Keyring(e.to_string())))?;
    use secrecy::SecretString;
    auth.exec = None;
    auth.token = loaded.token.map(SecretString::from);
    auth.client_certificate_data = loaded.client_certificate_data;
    auth.client_key_data = loaded.client_key_data.map(SecretString::from);
    auth.username = loaded.username;
    auth.password = loaded.password.map(SecretString::from);
    let Some(settings) = loaded.oidc else { return Ok(None) };
    auth.auth_provider = Some(kube::config::AuthProviderConfig {
        name: "oidc".into(),
        config: settings.into_iter().collect(),
        other: Default::default(),
    });
    Ok(Some(crate::credentials::OidcSaver { store: entry.secrets.0.clone(), entry: keyring_entry, renewed_from: None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubeconfig_folder_yields_its_kubeconfigs_not_its_scripts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write");
        write("a-prod.yaml", b"apiVersion: v1\nkind: Config\nclusters: []\n");
        write("b-broken.yaml", b"apiVersion: v1\nclusters: [ {name: \n");
        write("c.json", br#"{"apiVersion": "v1", "kind": "Config", "clusters": []}"#);
        write("d-config", b"contexts:\n- name: x\n");
        write("login.sh", b"#!/bin/sh\naws eks get-token --cluster-name prod\n");
        write("README.md", b"# Our clusters\nAsk the platform team.\n");
        write("kubectl.bin", b"\x7fELF\x00\x00clusters:");
        write(".hidden.yaml", b"clusters: []\n");
        let sources = KubeconfigSources { explicit: vec![dir.path().to_path_buf()], ..KubeconfigSources::default() };
        let names: Vec<String> =
            sources.files().iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
        assert_eq!(names, ["a-prod.yaml", "b-broken.yaml", "c.json", "d-config"]);
        // Named on its own, a file is read whatever it holds (and shows its error).
        let alone = KubeconfigSources { explicit: vec![dir.path().join("login.sh")], ..KubeconfigSources::default() };
        assert_eq!(alone.files().len(), 1);
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    const A: &str = "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: one}\ncontexts:\n- name: a\n  context: {cluster: c, user: u, namespace: team-a}\n- name: shared\n  context: {cluster: c, user: u}\n";
    const B: &str = "apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.2:2'}\n- name: d\n  cluster: {server: 'https://127.0.0.3:3', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: two}\ncontexts:\n- name: b\n  context: {cluster: d, user: u}\n- name: shared\n  context: {cluster: d, user: u}\n";

    #[test]
    fn merges_with_kubectl_rules_first_file_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(dir.path(), "a.yaml", A);
        let b = write(dir.path(), "b.yaml", B);
        let env = std::env::join_paths([&a, &b]).expect("join");
        let sources =
            KubeconfigSources { explicit: vec![], env: Some(env), home: None, ..KubeconfigSources::default() };
        let contexts = load_contexts(&sources);
        let names: Vec<&str> = contexts.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(names, ["a", "shared", "b"]);
        let shared = &contexts[1];
        // `shared` and cluster `c` come from the first file that names them.
        assert_eq!(shared.server_url.as_deref(), Some("https://127.0.0.1:1"));
        assert!(contexts[0].is_current, "current-context comes from the first file");
        assert_eq!(contexts[0].default_namespace.as_deref(), Some("team-a"));
        assert!(contexts[2].insecure_tls);
        assert_eq!(&*contexts[2].source, b.display().to_string());
    }

    #[test]
    fn a_malformed_file_is_one_error_and_the_rest_still_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.yaml", A);
        write(dir.path(), "broken.yaml", "apiVersion: v1\nclusters: [ {name: \n");
        let sources = KubeconfigSources {
            explicit: vec![dir.path().to_path_buf()],
            env: None,
            home: None,
            ..KubeconfigSources::default()
        };
        let contexts = load_contexts(&sources);
        let ok: Vec<&str> = contexts.iter().filter(|c| c.config.is_ok()).map(|c| c.id.as_str()).collect();
        assert_eq!(ok, ["a", "shared"]);
        let broken: Vec<&ContextEntry> = contexts.iter().filter(|c| c.config.is_err()).collect();
        assert_eq!(broken.len(), 1);
        let error = broken[0].config.as_ref().expect_err("error");
        assert_eq!(error.kind(), ClusterErrorKind::MalformedKubeconfig);
        assert!(error.to_string().contains("broken.yaml"), "{error}");
    }

    #[tokio::test]
    async fn a_context_naming_a_user_no_file_defines_is_refused_by_that_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = A.replace("context: {cluster: c, user: u, namespace: team-a}", "context: {cluster: c, user: ghost}");
        let sources = KubeconfigSources {
            explicit: vec![write(dir.path(), "a.yaml", &text)],
            env: None,
            home: None,
            ..KubeconfigSources::default()
        };
        let contexts = load_contexts(&sources);
        let Err(error) = client_config_and_saver(&contexts[0]).await else { panic!("refused, not anonymous") };
        assert_eq!(error.kind(), ClusterErrorKind::InvalidContext);
        assert!(error.to_string().contains("\"ghost\""), "{error}");
        // The other context, whose user exists, still gets its config.
        assert!(client_config_and_saver(&contexts[1]).await.is_ok());
    }

    #[tokio::test]
    async fn files_a_kubeconfig_names_must_be_small_regular_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.crt");
        std::fs::write(&big, vec![b'x'; (MAX_REFERENCED_FILE_BYTES + 1) as usize]).expect("write");
        for (path, reason) in [("/dev/zero", "not a regular file"), (big.to_str().expect("utf-8"), "larger than")] {
            let text = A.replace(
                "cluster: {server: 'https://127.0.0.1:1'}",
                &format!("cluster: {{server: 'https://127.0.0.1:1', certificate-authority: '{path}'}}"),
            );
            let sources = KubeconfigSources {
                explicit: vec![write(dir.path(), "a.yaml", &text)],
                ..KubeconfigSources::default()
            };
            let contexts = load_contexts(&sources);
            let Err(error) = client_config(&contexts[0]).await else { panic!("{path} was read") };
            assert_eq!(error.kind(), ClusterErrorKind::MissingFile);
            assert!(error.to_string().contains(reason), "{error}");
        }
        let token = A.replace("user: {token: one}", "user: {tokenFile: /dev/zero}");
        let sources =
            KubeconfigSources { explicit: vec![write(dir.path(), "a.yaml", &token)], ..KubeconfigSources::default() };
        let Err(error) = client_config(&load_contexts(&sources)[0]).await else { panic!("the token file was read") };
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }

    #[test]
    fn fingerprints_change_only_with_the_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(dir.path(), "a.yaml", A);
        let sources =
            KubeconfigSources { explicit: vec![a.clone()], env: None, home: None, ..KubeconfigSources::default() };
        let before = load_contexts(&sources);
        write(dir.path(), "a.yaml", &A.replace("token: one", "token: three"));
        let after = load_contexts(&sources);
        assert_ne!(before[0].fingerprint, after[0].fingerprint);
        write(dir.path(), "a.yaml", &A.replace("current-context: a", "current-context: shared"));
        let again = load_contexts(&sources);
        assert_eq!(before[0].fingerprint, again[0].fingerprint);
        // Exec plugin env entries are maps: reading the same file twice gives one fingerprint.
        let exec = A.replace(
            "user: {token: one}",
            "user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: plugin, env: [{name: A, value: '1'}, {name: B, value: '2'}]}}",
        );
        write(dir.path(), "a.yaml", &exec);
        let first = load_contexts(&sources)[0].fingerprint;
        for _ in 0..20 {
            assert_eq!(load_contexts(&sources)[0].fingerprint, first);
        }
    }
}
