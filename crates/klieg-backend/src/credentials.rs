//! Credentials of clusters added in Klieg: kept in the OS keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) through the `keyring` crate, never on disk.
//! The kubeconfig Klieg writes for them names the keyring entry in an exec credential plugin that
//! runs `klieg credential --entry NAME`, so kubectl can use it too; Klieg itself reads the entry
//! directly. All calls block: make them from a blocking thread.

use parking_lot::Mutex;
use rust_i18n::t;
use std::collections::HashMap;
use std::sync::Arc;

/// The keyring service every Klieg entry is filed under.
pub const SERVICE: &str = "klieg";

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{}", t!("backend.keyring_unavailable", error = .0))]
    Unavailable(String),
    #[error("{}", t!("backend.keyring_missing", entry = format!("{:?}", .0)))]
    Missing(String),
    #[error("{}", t!("backend.keyring_refused", error = .0))]
    Store(String),
    #[error("{}", t!("backend.keyring_corrupt", entry = format!("{:?}", .0)))]
    Corrupt(String),
    #[error("{}", t!("backend.keyring_other_server", entry = format!("{:?}", .entry), server = .belongs_to, asked = .asked_for))]
    OtherServer { entry: String, belongs_to: String, asked_for: String },
}

/// Where secrets go. The OS keyring in the app; a map in tests.
pub trait SecretStore: Send + Sync {
    fn set(&self, entry: &str, secret: &str) -> Result<(), CredentialError>;
    fn get(&self, entry: &str) -> Result<String, CredentialError>;
    fn delete(&self, entry: &str) -> Result<(), CredentialError>;
}

/// The platform's keyring.
pub struct OsKeyring;

fn keyring_error(entry: &str, error: keyring::Error) -> CredentialError {
    match error {
        keyring::Error::NoEntry => CredentialError::Missing(entry.to_string()),
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
            CredentialError::Unavailable(error.to_string())
        }
        other => CredentialError::Store(other.to_string()),
    }
}

impl SecretStore for OsKeyring {
    fn set(&self, entry: &str, secret: &str) -> Result<(), CredentialError> {
        let handle = keyring::Entry::new(SERVICE, entry).map_err(|e| keyring_error(entry, e))?;
        handle.set_password(secret).map_err(|e| keyring_error(entry, e))
    }

    fn get(&self, entry: &str) -> Result<String, CredentialError> {
        let handle = keyring::Entry::new(SERVICE, entry).map_err(|e| keyring_error(entry, e))?;
        handle.get_password().map_err(|e| keyring_error(entry, e))
    }

    fn delete(&self, entry: &str) -> Result<(), CredentialError> {
        let handle = keyring::Entry::new(SERVICE, entry).map_err(|e| keyring_error(entry, e))?;
        match handle.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(keyring_error(entry, error)),
        }
    }
}

/// Secrets in memory, for tests.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, String>>,
}

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SecretStore for MemoryStore {
    fn set(&self, entry: &str, secret: &str) -> Result<(), CredentialError> {
        self.entries.lock().insert(entry.into(), secret.into());
        Ok(())
    }

    fn get(&self, entry: &str) -> Result<String, CredentialError> {
        let entries = self.entries.lock();
        entries.get(entry).cloned().ok_or_else(|| CredentialError::Missing(entry.to_string()))
    }

    fn delete(&self, entry: &str) -> Result<(), CredentialError> {
        self.entries.lock().remove(entry);
        Ok(())
    }
}

/// The store the backend uses; cheap to clone, printable without its contents.
#[derive(Clone)]
pub struct Secrets(pub Arc<dyn SecretStore>);

impl Default for Secrets {
    fn default() -> Self {
        Secrets(Arc::new(OsKeyring))
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

/// What one keyring entry holds: the secret parts of a kubeconfig user.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCredential {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An `auth-provider: oidc` user's settings (id-token, refresh-token, client-secret among
    /// them), kept here whole; refreshed tokens are written back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<std::collections::BTreeMap<String, String>>,
    /// The server of the context the entry was added for: `klieg credential` hands the secret
    /// only to a caller that says it talks to this server (entries saved before have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

impl StoredCredential {
    pub fn load(store: &dyn SecretStore, entry: &str) -> Result<Self, CredentialError> {
        serde_json::from_str(&store.get(entry)?).map_err(|_| CredentialError::Corrupt(entry.to_string()))
    }

    pub fn save(&self, store: &dyn SecretStore, entry: &str) -> Result<(), CredentialError> {
        store.set(entry, &serde_json::to_string(self).map_err(|e| CredentialError::Store(e.to_string()))?)
    }

    /// Whether this credential may go to the caller of `klieg credential --entry ENTRY`, given the
    /// `KUBERNETES_EXEC_INFO` it set (kubectl sets it, with the server, when the kubeconfig asks
    /// for `provideClusterInfo`, as Klieg's own references do). A kubeconfig from someone else
    /// that names this entry for its own server is refused, and so is a caller that does not
    /// say which server it talks to.
    pub fn check_caller(&self, entry: &str, exec_info: Option<&str>) -> Result<(), CredentialError> {
        let Some(belongs_to) = &self.server else { return Ok(()) };
        let asked_for = exec_info
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .and_then(|info| info.pointer("/spec/cluster/server").and_then(|s| s.as_str()).map(str::to_string));
        let same = |asked: &str| asked.trim_end_matches('/') == belongs_to.trim_end_matches('/');
        match asked_for {
            Some(asked) if same(&asked) => Ok(()),
            asked => Err(CredentialError::OtherServer {
                entry: entry.to_string(),
                belongs_to: belongs_to.clone(),
                asked_for: asked.unwrap_or_else(|| "a caller that does not name its server".into()),
            }),
        }
    }

    /// The `ExecCredential` kubectl expects from a credential plugin.
    pub fn exec_credential(&self) -> serde_json::Value {
        let mut status = serde_json::Map::new();
        if let Some(token) = &self.token {
            status.insert("token".into(), token.clone().into());
        }
        if let (Some(certificate), Some(key)) = (&self.client_certificate_data, &self.client_key_data) {
            use base64::Engine;
            let decode = |data: &str| {
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .unwrap_or_default()
            };
            status.insert("clientCertificateData".into(), decode(certificate).into());
            status.insert("clientKeyData".into(), decode(key).into());
        }
        serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "kind": "ExecCredential",
            "status": status,
        })
    }
}

/// Writes an added OIDC user's renewed tokens back to its keyring entry, so a rotated refresh
/// token outlives the session. Blocking.
#[derive(Clone)]
pub struct OidcSaver {
    pub store: Arc<dyn SecretStore>,
    pub entry: String,
    /// For a user of the user's own kubeconfig: the refresh token the file holds, kept beside the
    /// renewed tokens so they are used only while the file still holds it (kubectl may renew the
    /// file's tokens meanwhile, and then the file's are newer).
    pub renewed_from: Option<String>,
}

/// What `renewed_from` is kept as, beside the renewed tokens.
pub const RENEWED_FROM: &str = "renewed-from";

impl std::fmt::Debug for OidcSaver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSaver").field("entry", &self.entry).finish_non_exhaustive()
    }
}

impl OidcSaver {
    pub fn save(&self, id_token: &str, refresh_token: Option<&str>) -> Result<(), CredentialError> {
        let mut stored = match StoredCredential::load(self.store.as_ref(), &self.entry) {
            Err(CredentialError::Missing(_)) if self.renewed_from.is_some() => StoredCredential::default(),
            loaded => loaded?,
        };
        let settings = stored.oidc.get_or_insert_with(Default::default);
        settings.insert("id-token".into(), id_token.to_string());
        if let Some(refresh_token) = refresh_token {
            settings.insert("refresh-token".into(), refresh_token.to_string());
        }
        if let Some(origin) = &self.renewed_from {
            settings.insert(RENEWED_FROM.into(), origin.clone());
        }
        stored.save(self.store.as_ref(), &self.entry)
    }
}

/// The environment variable that marks Klieg's own credential plugin and names its entry (the
/// program's path varies: an installed binary, a development build).
pub const ENTRY_VARIABLE: &str = "KLIEG_KEYRING_ENTRY";

/// The keyring entry an exec plugin refers to, when it is Klieg's own `credential` command.
pub fn entry_of(exec: &kube::config::ExecConfig) -> Option<String> {
    let marked = exec.env.iter().flatten().find(|pair| pair.get("name").map(String::as_str) == Some(ENTRY_VARIABLE))?;
    let entry = marked.get("value")?;
    let args = exec.args.as_deref()?;
    matches!(args, [sub, flag, named] if sub == "credential" && flag == "--entry" && named == entry)
        .then(|| entry.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_goes_only_to_the_server_it_was_added_for() {
        let credential = StoredCredential {
            token: Some("s3cret".into()),
            server: Some("https://prod.example:6443".into()),
            ..StoredCredential::default()
        };
        let info = |server: &str| {
            format!(r#"{{"kind":"ExecCredential","spec":{{"cluster":{{"server":"{server}"}},"interactive":false}}}}"#)
        };
        assert!(credential.check_caller("e", Some(&info("https://prod.example:6443"))).is_ok());
        assert!(credential.check_caller("e", Some(&info("https://prod.example:6443/"))).is_ok());
        let refused =
            credential.check_caller("e", Some(&info("https://attacker.example"))).expect_err("another server");
        assert!(refused.to_string().contains("https://attacker.example"), "{refused}");
        assert!(credential.check_caller("e", None).is_err(), "a caller that names no server");
        assert!(credential.check_caller("e", Some("not json")).is_err());
        // Entries saved before servers were recorded keep working.
        let old = StoredCredential { token: Some("s3cret".into()), ..StoredCredential::default() };
        assert!(old.check_caller("e", None).is_ok());
    }

    #[test]
    fn credentials_round_trip_through_a_store() {
        let store = MemoryStore::default();
        let credential = StoredCredential { token: Some("s3cret".into()), ..StoredCredential::default() };
        credential.save(&store, "klieg/prod").expect("saved");
        assert_eq!(StoredCredential::load(&store, "klieg/prod").expect("loaded"), credential);
        assert_eq!(credential.exec_credential()["status"]["token"], "s3cret");
        store.delete("klieg/prod").expect("deleted");
        assert!(matches!(StoredCredential::load(&store, "klieg/prod"), Err(CredentialError::Missing(_))));
        store.set("klieg/odd", "not json").expect("set");
        assert!(matches!(StoredCredential::load(&store, "klieg/odd"), Err(CredentialError::Corrupt(_))));
    }

    #[test]
    fn only_kliegs_own_plugin_is_a_keyring_reference() {
        let exec = |command: &str, args: &[&str], entry: Option<&str>| -> kube::config::ExecConfig {
            let env: Vec<serde_json::Value> =
                entry.map(|e| serde_json::json!({"name": ENTRY_VARIABLE, "value": e})).into_iter().collect();
            serde_json::from_value(serde_json::json!({
                "apiVersion": "client.authentication.k8s.io/v1", "command": command, "args": args, "env": env,
            }))
            .expect("an exec config")
        };
        let args = ["credential", "--entry", "cluster/a"];
        assert_eq!(entry_of(&exec("/usr/bin/klieg", &args, Some("cluster/a"))).as_deref(), Some("cluster/a"));
        assert_eq!(entry_of(&exec("/usr/bin/klieg", &args, None)), None, "unmarked plugins run as configured");
        assert_eq!(entry_of(&exec("/usr/bin/klieg", &args, Some("cluster/b"))), None, "marker and args agree");
        assert_eq!(entry_of(&exec("aws", &["eks", "get-token"], None)), None);
    }
}
