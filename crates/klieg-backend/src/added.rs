//! Clusters added in Klieg ("stateless" clusters): a pasted kubeconfig, or a server URL, CA and
//! token, written to Klieg's own kubeconfig file with every secret moved to the OS keyring; the
//! file keeps only an exec plugin reference (`klieg credential --entry NAME`) in its place, so it
//! holds nothing secret and kubectl can still use it. Removing a cluster deletes its keyring
//! entry. The user's own kubeconfig files are never written. Blocking: run on a blocking thread.

use crate::credentials::{CredentialError, SecretStore, StoredCredential};
use klieg_model::AddCluster;
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};
use rust_i18n::t;
use secrecy::ExposeSecret;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("{}", t!("backend.added_invalid", reason = .0))]
    Invalid(String),
    #[error("{}", t!("backend.added_no_contexts"))]
    NoContexts,
    #[error("{}", t!("backend.added_incomplete", context = format!("{:?}", .0)))]
    Incomplete(String),
    #[error("{}", t!("backend.added_taken", context = format!("{:?}", .0)))]
    Taken(String),
    #[error("{}", t!("backend.added_auth_provider", context = format!("{:?}", .0), provider = format!("{:?}", .1)))]
    AuthProvider(String, String),
    #[error("{}", t!("backend.added_missing", field = .0))]
    Missing(&'static str),
    #[error("{}", t!("backend.added_no_file"))]
    NoFile,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

/// The keyring entry of an added context.
pub fn entry_name(context: &str) -> String {
    format!("cluster/{context}")
}

fn read_added(file: &Path) -> Result<Kubeconfig, AddError> {
    if !file.exists() {
        return Ok(Kubeconfig { api_version: Some("v1".into()), kind: Some("Config".into()), ..Kubeconfig::default() });
    }
    Kubeconfig::read_from(file).map_err(|e| AddError::Invalid(e.to_string()))
}

fn write_added(file: &Path, config: &Kubeconfig) -> Result<(), AddError> {
    let text = serde_yaml::to_string(config).map_err(|e| AddError::Invalid(e.to_string()))?;
    file.parent().ok_or(AddError::NoFile)?;
    crate::files::write_atomic(file, text.as_bytes())?;
    Ok(())
}

/// What was asked for, as a kubeconfig.
fn incoming(request: &AddCluster) -> Result<Kubeconfig, AddError> {
    match request {
        AddCluster::Kubeconfig { yaml } => Kubeconfig::from_yaml(yaml).map_err(|e| AddError::Invalid(e.to_string())),
        AddCluster::Token { name, server, ca_pem, token, insecure } => {
            let (name, server) = (name.trim(), server.trim());
            if name.is_empty() {
                return Err(AddError::Missing("a name"));
            }
            if server.is_empty() {
                return Err(AddError::Missing("the server URL"));
            }
            if token.trim().is_empty() {
                return Err(AddError::Missing("the token"));
            }
            use base64::Engine;
            let ca = (!ca_pem.trim().is_empty())
                .then(|| base64::engine::general_purpose::STANDARD.encode(ca_pem.trim().as_bytes()));
            Ok(Kubeconfig {
                clusters: vec![NamedCluster {
                    other: Default::default(),
                    name: name.into(),
                    cluster: Some(Cluster {
                        server: Some(server.into()),
                        certificate_authority_data: ca,
                        insecure_skip_tls_verify: Some(*insecure).filter(|i| *i),
                        ..Cluster::default()
                    }),
                }],
                auth_infos: vec![NamedAuthInfo {
                    other: Default::default(),
                    name: name.into(),
                    auth_info: Some(AuthInfo { token: Some(token.trim().to_string().into()), ..AuthInfo::default() }),
                }],
                contexts: vec![NamedContext {
                    other: Default::default(),
                    name: name.into(),
                    context: Some(Context { cluster: name.into(), user: Some(name.into()), ..Context::default() }),
                }],
                ..Kubeconfig::default()
            })
        }
    }
}

/// The exec plugin that names a keyring entry.
fn keyring_reference(exe: &str, entry: &str) -> Result<kube::config::ExecConfig, AddError> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": exe,
        "args": ["credential", "--entry", entry],
        "env": [{"name": crate::credentials::ENTRY_VARIABLE, "value": entry}],
        "interactiveMode": "Never",
        // kubectl then tells the plugin which server it talks to, and `klieg credential` checks it.
        "provideClusterInfo": true,
    }))
    .map_err(|e| AddError::Invalid(e.to_string()))
}

/// Adds every context of `request` to `file`, moving secrets into `secrets`. Contexts already
/// added under the same name are replaced; names in `taken` (the user's own kubeconfig) are
/// refused. `exe` is Klieg's path, for kubectl to find the credential plugin.
pub fn add(
    file: &Path,
    secrets: &dyn SecretStore,
    request: &AddCluster,
    taken: &[String],
    exe: &str,
) -> Result<Vec<String>, AddError> {
    let incoming = incoming(request)?;
    if incoming.contexts.is_empty() {
        return Err(AddError::NoContexts);
    }
    let mut added = read_added(file)?;
    let mut names = Vec::new();
    for named in &incoming.contexts {
        let name = named.name.clone();
        if taken.contains(&name) {
            return Err(AddError::Taken(name));
        }
        let context = named.context.clone().ok_or_else(|| AddError::Incomplete(name.clone()))?;
        let cluster = incoming
            .clusters
            .iter()
            .find(|c| c.name == context.cluster)
            .and_then(|c| c.cluster.clone())
            .ok_or_else(|| AddError::Incomplete(name.clone()))?;
        let user_name = context.user.clone().unwrap_or_default();
        let mut user = incoming
            .auth_infos
            .iter()
            .find(|u| u.name == user_name)
            .and_then(|u| u.auth_info.clone())
            .unwrap_or_default();
        // An OIDC user's settings go to the keyring whole; other providers run local commands
        // (gcp's cmd-path) that belong with their own kubeconfig file.
        let oidc = match user.auth_provider.take() {
            Some(provider) if provider.name == "oidc" => Some(provider.config.into_iter().collect()),
            Some(provider) => return Err(AddError::AuthProvider(name, provider.name)),
            None => None,
        };
        // Secrets go to the keyring; the file keeps a reference.
        let stored = StoredCredential {
            token: user.token.take().map(|t| t.expose_secret().to_string()),
            client_certificate_data: user.client_key_data.as_ref().and(user.client_certificate_data.take()),
            client_key_data: user.client_key_data.take().map(|k| k.expose_secret().to_string()),
            username: user.password.as_ref().and(user.username.take()),
            password: user.password.take().map(|p| p.expose_secret().to_string()),
            oidc,
            server: None,
        };
        let entry = entry_name(&name);
        if stored != StoredCredential::default() {
            let stored = StoredCredential { server: cluster.server.clone(), ..stored };
            stored.save(secrets, &entry)?;
            user.exec = Some(keyring_reference(exe, &entry)?);
        }
        // Cluster and user entries are named after the context, so merging never mixes them up.
        let internal = format!("klieg-{name}");
        added.contexts.retain(|c| c.name != name);
        added.clusters.retain(|c| c.name != internal);
        added.auth_infos.retain(|u| u.name != internal);
        added.clusters.push(NamedCluster { name: internal.clone(), cluster: Some(cluster), other: Default::default() });
        added.auth_infos.push(NamedAuthInfo {
            name: internal.clone(),
            auth_info: Some(user),
            other: Default::default(),
        });
        added.contexts.push(NamedContext {
            other: Default::default(),
            name: name.clone(),
            context: Some(Context { cluster: internal.clone(), user: Some(internal), ..context }),
        });
        names.push(name);
    }
    write_added(file, &added)?;
    Ok(names)
}

/// Removes an added context from `file` and deletes its keyring entry.
pub fn remove(file: &Path, secrets: &dyn SecretStore, context: &str) -> Result<(), AddError> {
    let mut added = read_added(file)?;
    let internal = format!("klieg-{context}");
    if !added.contexts.iter().any(|c| c.name == context) {
        return Err(AddError::Incomplete(context.to_string()));
    }
    secrets.delete(&entry_name(context))?;
    added.contexts.retain(|c| c.name != context);
    added.clusters.retain(|c| c.name != internal);
    added.auth_infos.retain(|u| u.name != internal);
    write_added(file, &added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::MemoryStore;

    const PASTED: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://10.1.2.3:6443', certificate-authority-data: Q0E=}\nusers:\n- name: u\n  user: {token: tok-SECRET-1}\n- name: cert\n  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZLVNFQ1JFVC0y}\ncontexts:\n- name: prod\n  context: {cluster: c, user: u, namespace: shop}\n- name: prod-cert\n  context: {cluster: c, user: cert}\n";

    #[test]
    fn secrets_move_to_the_store_and_the_file_keeps_references() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("klieg").join("added-clusters.yaml");
        let store = MemoryStore::default();
        let names =
            add(&file, &store, &AddCluster::Kubeconfig { yaml: PASTED.into() }, &[], "/opt/klieg").expect("added");
        assert_eq!(names, ["prod", "prod-cert"]);
        let text = std::fs::read_to_string(&file).expect("written");
        assert!(!text.contains("tok-SECRET-1") && !text.contains("S0VZLVNFQ1JFVC0y"), "{text}");
        assert!(text.contains("credential") && text.contains("cluster/prod"), "{text}");
        assert!(text.contains("namespace: shop"));
        assert_eq!(
            StoredCredential::load(&store, "cluster/prod").expect("stored").token.as_deref(),
            Some("tok-SECRET-1")
        );
        let cert = StoredCredential::load(&store, "cluster/prod-cert").expect("stored");
        assert_eq!(cert.client_key_data.as_deref(), Some("S0VZLVNFQ1JFVC0y"));
        assert_eq!(cert.client_certificate_data.as_deref(), Some("Q0VSVA=="));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777, 0o600);
        }
        // The context reads back through the loader with its reference resolved from the store.
        let sources = crate::kubeconfig::KubeconfigSources {
            added: Some(file.clone()),
            secrets: crate::credentials::Secrets(std::sync::Arc::new(store)),
            ..Default::default()
        };
        let contexts = crate::kubeconfig::load_contexts(&sources);
        let prod = contexts.iter().find(|c| c.id.as_str() == "prod").expect("prod");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let config = runtime.block_on(crate::kubeconfig::client_config(prod)).expect("config");
        assert_eq!(
            config.auth_info.token.as_ref().map(|t| t.expose_secret().to_string()).as_deref(),
            Some("tok-SECRET-1")
        );
        assert_eq!(config.default_namespace, "shop");
        // Removing deletes the keyring entry and the context.
        remove(&file, sources.secrets.0.as_ref(), "prod").expect("removed");
        assert!(StoredCredential::load(sources.secrets.0.as_ref(), "cluster/prod").is_err());
        let after = std::fs::read_to_string(&file).expect("read");
        assert!(!after.contains("name: prod\n") && after.contains("prod-cert"), "{after}");
    }

    #[test]
    fn an_added_clusters_keyring_entry_serves_only_that_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("added-clusters.yaml");
        let store = MemoryStore::default();
        add(&file, &store, &AddCluster::Kubeconfig { yaml: PASTED.into() }, &[], "/opt/klieg").expect("added");
        // A kubeconfig from elsewhere, merged first: it redefines the added cluster's internal
        // cluster entry with its own server, and has a context of its own that names the added
        // user (and so its keyring entry).
        let added_text = std::fs::read_to_string(&file).expect("read");
        let foreign = added_text
            .replace("https://10.1.2.3:6443", "https://attacker.example:6443")
            .replace("name: prod\n", "name: stolen\n")
            .replace("name: prod-cert\n", "name: stolen-cert\n");
        assert!(foreign.contains("stolen") && foreign.contains("attacker"), "{foreign}");
        let foreign_file = dir.path().join("foreign.yaml");
        std::fs::write(&foreign_file, foreign).expect("write");
        let sources = crate::kubeconfig::KubeconfigSources {
            explicit: vec![foreign_file],
            added: Some(file.clone()),
            secrets: crate::credentials::Secrets(std::sync::Arc::new(store)),
            ..Default::default()
        };
        let contexts = crate::kubeconfig::load_contexts(&sources);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let prod = contexts.iter().find(|c| c.id.as_str() == "prod").expect("prod");
        assert!(prod.added);
        assert_eq!(prod.server_url.as_deref(), Some("https://10.1.2.3:6443"), "its own cluster, not the merge's");
        let config = runtime.block_on(crate::kubeconfig::client_config(prod)).expect("config");
        assert_eq!(config.cluster_url.to_string(), "https://10.1.2.3:6443/");
        assert!(config.auth_info.token.is_some());
        let stolen = contexts.iter().find(|c| c.id.as_str() == "stolen").expect("stolen");
        let Err(error) = runtime.block_on(crate::kubeconfig::client_config(stolen)) else {
            panic!("the foreign context got the keyring secret")
        };
        assert!(error.to_string().contains("\"cluster/prod\""), "{error}");
        assert_eq!(error.kind(), klieg_model::ClusterErrorKind::InvalidContext);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("added.yaml");
        let store = MemoryStore::default();
        let token = |name: &str, token: &str| AddCluster::Token {
            name: name.into(),
            server: "https://127.0.0.1:6443".into(),
            ca_pem: String::new(),
            token: token.into(),
            insecure: false,
        };
        assert!(matches!(add(&file, &store, &token("", "t"), &[], "klieg"), Err(AddError::Missing(_))));
        assert!(matches!(add(&file, &store, &token("x", " "), &[], "klieg"), Err(AddError::Missing(_))));
        assert!(matches!(add(&file, &store, &token("mine", "t"), &["mine".into()], "klieg"), Err(AddError::Taken(_))));
        let garbage = AddCluster::Kubeconfig { yaml: "clusters: [ {name: ".into() };
        assert!(matches!(add(&file, &store, &garbage, &[], "klieg"), Err(AddError::Invalid(_))));
        assert!(!file.exists(), "nothing written for refused requests");
        assert!(store.is_empty());
    }
}
