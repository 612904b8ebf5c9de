//! The kubeconfig's `auth-provider: oidc` users: each request carries the id-token, and once it
//! has expired (or will within `EXPIRY_MARGIN`) the refresh token is traded at the issuer's token
//! endpoint for a new one, trusting `idp-certificate-authority(-data)` beside the system's roots
//! (kube's own refresher trusts the system's roots only). Tokens stay in memory and out of logs
//! and error messages. Backend runtime.

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rust_i18n::t;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::time::Duration;

/// A token this close to its expiry is renewed before use, as client-go does.
const EXPIRY_MARGIN_SECS: i64 = 10;
/// How long the issuer may take to answer discovery or a refresh.
const ISSUER_TIMEOUT: Duration = Duration::from_secs(15);
/// Error bodies from the issuer are quoted up to this many bytes.
const QUOTED_BODY_BYTES: usize = 200;
/// Bytes of an issuer's answer (a discovery document or a token response is a few KiB).
pub const MAX_ISSUER_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{}", t!("backend.oidc_no_token"))]
    NoToken,
    #[error("{}", t!("backend.oidc_cannot_refresh"))]
    CannotRefresh,
    #[error("{}", t!("backend.oidc_authority", error = .0))]
    Authority(String),
    #[error("{}", t!("backend.oidc_unreachable", url = .url, detail = .detail))]
    Unreachable { url: String, detail: String },
    #[error("{}", t!("backend.oidc_refused", url = .url, status = .status, body = .body))]
    Refused { url: String, status: u16, body: String },
    #[error("{}", t!("backend.oidc_bad_answer", url = .url, detail = .detail))]
    BadAnswer { url: String, detail: String },
}

/// What the kubeconfig says about renewing the token.
struct Refresher {
    issuer: String,
    client_id: String,
    client_secret: Option<SecretString>,
    http: hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

struct Tokens {
    id_token: Option<SecretString>,
    refresh_token: Option<SecretString>,
    token_endpoint: Option<String>,
}

/// One oidc user's tokens, shared by every request of the cluster's clients.
pub struct OidcAuth {
    tokens: tokio::sync::Mutex<Tokens>,
    refresher: Option<Refresher>,
    /// Where renewed tokens are kept for the next session (clusters added in Klieg).
    saver: Option<crate::credentials::OidcSaver>,
}

impl std::fmt::Debug for OidcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcAuth").finish_non_exhaustive()
    }
}

impl OidcAuth {
    /// From the auth-provider's `config` map (as kubectl writes it).
    pub fn from_config(config: &HashMap<String, String>) -> Result<Self, OidcError> {
        let field = |name: &str| config.get(name).filter(|value| !value.is_empty()).cloned();
        let id_token = field("id-token").map(SecretString::from);
        let refresh_token = field("refresh-token").map(SecretString::from);
        if id_token.is_none() && refresh_token.is_none() {
            return Err(OidcError::NoToken);
        }
        let refresher = match (field("idp-issuer-url"), field("client-id")) {
            (Some(issuer), Some(client_id)) if refresh_token.is_some() => Some(Refresher {
                issuer: issuer.trim_end_matches('/').to_string(),
                client_id,
                client_secret: field("client-secret").map(SecretString::from),
                http: issuer_client(field("idp-certificate-authority"), field("idp-certificate-authority-data"))?,
            }),
            _ => None,
        };
        let tokens = tokio::sync::Mutex::new(Tokens { id_token, refresh_token, token_endpoint: None });
        Ok(Self { tokens, refresher, saver: None })
    }

    /// Renewed tokens are also written to the keyring entry `saver` names.
    pub fn with_saver(mut self, saver: Option<crate::credentials::OidcSaver>) -> Self {
        self.saver = saver;
        self
    }

    /// The id-token to send now, renewed first when it has expired.
    pub async fn token(&self) -> Result<SecretString, OidcError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = &tokens.id_token
            && expires_unix_secs(token.expose_secret())
                .is_none_or(|expiry| expiry > klieg_model::now_unix_secs() + EXPIRY_MARGIN_SECS)
        {
            return Ok(token.clone());
        }
        let Some(refresher) = &self.refresher else {
            // Expired and not renewable: sent anyway, so the server's 401 says what happened.
            return tokens.id_token.clone().ok_or(OidcError::CannotRefresh);
        };
        let token_endpoint = match &tokens.token_endpoint {
            Some(endpoint) => endpoint.clone(),
            None => {
                let endpoint = refresher.token_endpoint().await?;
                tokens.token_endpoint = Some(endpoint.clone());
                endpoint
            }
        };
        let refresh_token = tokens.refresh_token.clone().ok_or(OidcError::CannotRefresh)?;
        let answer = refresher.refresh(&token_endpoint, &refresh_token).await?;
        tracing::info!(issuer = %refresher.issuer, "OIDC id-token renewed");
        if let Some(saver) = self.saver.clone() {
            let (id_token, refresh_token) = (answer.id_token.clone(), answer.refresh_token.clone());
            let saved = tokio::task::spawn_blocking(move || saver.save(&id_token, refresh_token.as_deref())).await;
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "renewed OIDC tokens not saved to the keyring"),
                Err(error) => tracing::warn!(%error, "renewed OIDC tokens not saved to the keyring"),
            }
        }
        let id_token = SecretString::from(answer.id_token);
        tokens.id_token = Some(id_token.clone());
        if let Some(rotated) = answer.refresh_token {
            tokens.refresh_token = Some(SecretString::from(rotated));
        }
        Ok(id_token)
    }
}

/// The `exp` claim of a JWT, if it has one that can be read.
pub fn expires_unix_secs(jwt: &str) -> Option<i64> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("exp")?.as_i64()
}

/// An HTTPS client trusting the system's roots and the kubeconfig's issuer CA.
fn issuer_client(
    authority_file: Option<String>,
    authority_data: Option<String>,
) -> Result<hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>, OidcError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let pem: Option<Vec<u8>> = match (authority_data, authority_file) {
        (Some(data), _) => {
            Some(base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|error| {
                OidcError::Authority(format!("idp-certificate-authority-data is not base64: {error}"))
            })?)
        }
        (None, Some(path)) => {
            Some(std::fs::read(&path).map_err(|error| OidcError::Authority(format!("{path}: {error}")))?)
        }
        (None, None) => None,
    };
    if let Some(pem) = pem {
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate.map_err(|error| OidcError::Authority(error.to_string()))?;
            roots.add(certificate).map_err(|error| OidcError::Authority(error.to_string()))?;
        }
    }
    let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_only().enable_http1().build();
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https))
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    id_token: String,
    refresh_token: Option<String>,
}

impl Refresher {
    /// Sends `request` and reads the whole answer, within `ISSUER_TIMEOUT`.
    async fn exchange(&self, url: &str, request: http::Request<Full<Bytes>>) -> Result<Bytes, OidcError> {
        let unreachable = |detail: String| OidcError::Unreachable { url: url.to_string(), detail };
        let response = tokio::time::timeout(ISSUER_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|error| unreachable(super::errors::error_chain(&error)))?;
        let status = response.status();
        let body = tokio::time::timeout(
            ISSUER_TIMEOUT,
            super::bounded::collect_capped(response.into_body(), MAX_ISSUER_ANSWER_BYTES),
        )
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|error| unreachable(error.to_string()))?;
        if !status.is_success() {
            let quoted = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BODY_BYTES)]).into_owned();
            return Err(OidcError::Refused { url: url.to_string(), status: status.as_u16(), body: quoted });
        }
        Ok(body)
    }

    /// The token endpoint from the issuer's discovery document.
    async fn token_endpoint(&self) -> Result<String, OidcError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let bad = |detail: String| OidcError::BadAnswer { url: url.clone(), detail };
        let request = http::Request::get(&url).body(Full::default()).map_err(|error| bad(error.to_string()))?;
        let body = self.exchange(&url, request).await?;
        let document: serde_json::Value = serde_json::from_slice(&body).map_err(|error| bad(error.to_string()))?;
        discovered_token_endpoint(&document, &self.issuer).map_err(bad)
    }

    /// Trades the refresh token for new tokens (client_secret_basic, as OAuth 2 prefers, with the
    /// client in the form for public clients).
    async fn refresh(&self, endpoint: &str, refresh_token: &SecretString) -> Result<TokenAnswer, OidcError> {
        let mut fields = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())];
        let mut request =
            http::Request::post(endpoint).header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        match &self.client_secret {
            Some(secret) => {
                let pair = format!(
                    "{}:{}",
                    form_urlencoded::byte_serialize(self.client_id.as_bytes()).collect::<String>(),
                    form_urlencoded::byte_serialize(secret.expose_secret().as_bytes()).collect::<String>()
                );
                let mut value = http::HeaderValue::try_from(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
                .map_err(|error| OidcError::BadAnswer { url: endpoint.to_string(), detail: error.to_string() })?;
                value.set_sensitive(true);
                request = request.header(http::header::AUTHORIZATION, value);
            }
            None => fields.push(("client_id", &self.client_id)),
        }
        let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let bad = |detail: String| OidcError::BadAnswer { url: endpoint.to_string(), detail };
        let request = request.body(Full::new(Bytes::from(form))).map_err(|error| bad(error.to_string()))?;
        let body = self.exchange(endpoint, request).await?;
        serde_json::from_slice(&body).map_err(|error| bad(format!("no id_token in the answer ({error})")))
    }
}

/// The token endpoint of a discovery document, once the document is shown to be the issuer's
/// own: OpenID Connect Discovery requires its `issuer` to be exactly the issuer asked (a
/// document served under another name, by a proxy or a squatter, is refused, so the refresh
/// token is never sent where the issuer did not say).
fn discovered_token_endpoint(document: &serde_json::Value, issuer: &str) -> Result<String, String> {
    let named = document.get("issuer").and_then(serde_json::Value::as_str).map(|i| i.trim_end_matches('/'));
    if named != Some(issuer) {
        return Err(format!("the discovery document names the issuer {named:?}, not {issuer:?}"));
    }
    document
        .get("token_endpoint")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "no token_endpoint".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discovery_document_must_name_the_issuer_it_was_fetched_from() {
        let issuer = "https://login.example.com/realms/team";
        let document = |named: &str| serde_json::json!({"issuer": named, "token_endpoint": format!("{named}/token")});
        assert_eq!(
            discovered_token_endpoint(&document(issuer), issuer).as_deref(),
            Ok("https://login.example.com/realms/team/token")
        );
        assert!(discovered_token_endpoint(&document(&format!("{issuer}/")), issuer).is_ok(), "a trailing slash");
        let elsewhere = discovered_token_endpoint(&document("https://evil.example.net"), issuer);
        assert!(elsewhere.is_err_and(|e| e.contains("evil.example.net")));
        assert!(discovered_token_endpoint(&serde_json::json!({"token_endpoint": "https://x/token"}), issuer).is_err());
    }

    fn jwt(claims: &serde_json::Value) -> String {
        let part = |value: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
        };
        format!("{}.{}.c2ln", part(&serde_json::json!({"alg": "ES256"})), part(claims))
    }

    #[tokio::test]
    async fn a_valid_token_is_sent_as_it_is_and_an_expired_one_needs_a_refresher() {
        let fresh = jwt(&serde_json::json!({"exp": klieg_model::now_unix_secs() + 600}));
        let config = HashMap::from([("id-token".to_string(), fresh.clone())]);
        let auth = OidcAuth::from_config(&config).expect("config");
        assert_eq!(auth.token().await.expect("token").expose_secret(), fresh);
        assert_eq!(expires_unix_secs(&fresh).map(|e| e > klieg_model::now_unix_secs()), Some(true));

        let stale = jwt(&serde_json::json!({"exp": klieg_model::now_unix_secs() - 5}));
        let config = HashMap::from([("id-token".to_string(), stale.clone())]);
        let auth = OidcAuth::from_config(&config).expect("config");
        assert_eq!(auth.token().await.expect("sent for the server to refuse").expose_secret(), stale);

        let config = HashMap::from([("client-id".to_string(), "klieg".to_string())]);
        assert!(matches!(OidcAuth::from_config(&config), Err(OidcError::NoToken)));
        assert!(format!("{auth:?}").find("ey").is_none(), "Debug shows no token");
    }
}
