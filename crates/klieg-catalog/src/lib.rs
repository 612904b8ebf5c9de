//! Plugin catalogs: the JSON index a catalog publishes, signed with an ed25519 key in the
//! minisign format. An index is trusted only once its signature verifies against the key
//! pinned for its catalog and its serial is not older than the last one seen (a replayed old
//! index is refused). Pure functions over bytes; called on the plugin host's thread.

rust_i18n::i18n!("../../i18n", fallback = "en");
use rust_i18n::t;

pub mod archive;

/// An index longer than this is refused unread.
pub const MAX_INDEX_BYTES: usize = 4 * 1024 * 1024;
/// A plugin archive larger than this is refused (the index says each one's size).
pub const MAX_ARCHIVE_BYTES: u64 = 16 * 1024 * 1024;
/// Plugins, and versions of one plugin, one index may list.
pub const MAX_PLUGINS: usize = 1000;
pub const MAX_VERSIONS: usize = 100;
/// Characters of a README kept from the index.
pub const MAX_README_CHARS: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("{}", t!("catalog.too_large", limit = MAX_INDEX_BYTES))]
    TooLarge,
    #[error("{}", t!("catalog.bad_key", error = .0))]
    BadKey(String),
    #[error("{}", t!("catalog.bad_signature", error = .0))]
    BadSignature(String),
    #[error("{}", t!("catalog.rollback", got = .got, seen = .seen))]
    Rollback { seen: u64, got: u64 },
    #[error("{}", t!("catalog.malformed", error = .0))]
    Malformed(String),
    #[error("{}", t!("catalog.bad_entry", id = .id, error = .error))]
    BadEntry { id: String, error: String },
}

/// A catalog's index, as signed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Grows with each published index; an older one than seen before is refused.
    pub serial: u64,
    /// When it was published (RFC 3339), shown as the catalog's age.
    pub timestamp: String,
    pub plugins: Vec<CatalogPlugin>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogPlugin {
    pub id: String,
    pub versions: Vec<CatalogVersion>,
}

/// One published version: where its archive is, what it must hash to, and what it asks for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogVersion {
    pub version: String,
    /// The plugin-API range it needs.
    pub api: String,
    pub url: String,
    pub size: u64,
    /// Of the archive, lowercase hex.
    pub sha256: String,
    /// The capability tokens its manifest declares (`read:pods`, `http:example.com`…).
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub homepage: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub readme: String,
}

fn bad(id: &str, error: &str) -> CatalogError {
    CatalogError::BadEntry { id: id.chars().take(100).collect(), error: error.to_string() }
}

/// Whether `url` may be fetched for an archive: HTTPS, or plain HTTP to this machine.
fn url_allowed(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
    match scheme {
        "https" => !host.is_empty() && !rest.contains('@'),
        "http" => matches!(host, "127.0.0.1" | "localhost"),
        _ => false,
    }
}

fn check_version(id: &str, version: &CatalogVersion) -> Result<(), CatalogError> {
    semver::Version::parse(&version.version).map_err(|e| bad(id, &format!("version {:?}: {e}", version.version)))?;
    semver::VersionReq::parse(&version.api).map_err(|e| bad(id, &format!("api {:?}: {e}", version.api)))?;
    if version.sha256.len() != 64 || !version.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        return Err(bad(id, "sha256 is not 64 lowercase hex digits"));
    }
    if version.size == 0 || version.size > MAX_ARCHIVE_BYTES {
        return Err(bad(id, &format!("size {} is not within 1 to {MAX_ARCHIVE_BYTES} bytes", version.size)));
    }
    if !url_allowed(&version.url) {
        return Err(bad(id, "the archive's URL is not HTTPS"));
    }
    if version.readme.chars().count() > MAX_README_CHARS {
        return Err(bad(id, "the README is too long"));
    }
    Ok(())
}

/// Checks every entry of an index whose signature verified.
fn check_index(index: &Index) -> Result<(), CatalogError> {
    if index.plugins.len() > MAX_PLUGINS {
        return Err(CatalogError::Malformed(format!("more than {MAX_PLUGINS} plugins")));
    }
    for plugin in &index.plugins {
        let id_ok = plugin.id.len() <= 100
            && plugin.id.split('.').count() >= 2
            && plugin.id.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
        if !id_ok {
            return Err(bad(&plugin.id, "not a reverse-DNS plugin id"));
        }
        if plugin.versions.is_empty() || plugin.versions.len() > MAX_VERSIONS {
            return Err(bad(&plugin.id, &format!("lists 1 to {MAX_VERSIONS} versions")));
        }
        for version in &plugin.versions {
            check_version(&plugin.id, version)?;
        }
    }
    Ok(())
}

/// The index in `bytes`, once `signature` (a minisign signature file's text) verifies it with
/// `public_key` (a minisign public key, its file's text or the base64 line) and its serial is
/// not older than `last_serial` (the newest this catalog served before).
pub fn verify_index(
    bytes: &[u8],
    signature: &str,
    public_key: &str,
    last_serial: Option<u64>,
) -> Result<Index, CatalogError> {
    if bytes.len() > MAX_INDEX_BYTES {
        return Err(CatalogError::TooLarge);
    }
    let key = if public_key.trim_start().starts_with("untrusted comment:") {
        minisign_verify::PublicKey::decode(public_key)
    } else {
        minisign_verify::PublicKey::from_base64(public_key.trim())
    }
    .map_err(|e| CatalogError::BadKey(e.to_string()))?;
    let signature =
        minisign_verify::Signature::decode(signature).map_err(|e| CatalogError::BadSignature(e.to_string()))?;
    key.verify(bytes, &signature, false).map_err(|e| CatalogError::BadSignature(e.to_string()))?;
    let index: Index = serde_json::from_slice(bytes).map_err(|e| CatalogError::Malformed(e.to_string()))?;
    if let Some(seen) = last_serial
        && index.serial < seen
    {
        return Err(CatalogError::Rollback { seen, got: index.serial });
    }
    check_index(&index)?;
    Ok(index)
}

#[cfg(test)]
mod tests;
