//! A small OpenID Connect issuer for tests: discovery, an ES256 key set and a token endpoint that
//! trades refresh tokens (rotating them: each one works once) for short-lived id-tokens. Serves
//! HTTPS on loopback from its own runtime thread, with a CA the test hands to the apiserver and
//! to the kubeconfig.

use base64::Engine;
use http_body_util::{BodyExt, Full};
use parking_lot::Mutex;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use std::path::PathBuf;
use std::sync::Arc;

pub const CLIENT_ID: &str = "klieg";
pub const CLIENT_SECRET: &str = "oidc-client-secret-7f3a";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct State {
    key: EcdsaKeyPair,
    issuer: String,
    /// The one refresh token that works now.
    refresh_token: String,
    /// Lifetime of the id-tokens the token endpoint hands out.
    lifetime_secs: i64,
    subject: String,
    refreshes: usize,
}

pub struct Issuer {
    state: Arc<Mutex<State>>,
    pub url: String,
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Issuer {
    /// Starts the issuer; its token endpoint accepts `first_refresh_token` once.
    pub fn start(subject: &str, first_refresh_token: &str, lifetime_secs: i64) -> Issuer {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let certificates = klieg::sim::Certificates::generate().expect("certificates");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("oidc-ca.crt");
        std::fs::write(&ca_file, &certificates.ca_pem).expect("write CA");
        let acceptor = certificates.acceptor().expect("acceptor");
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).expect("bind");
        let url = format!("https://127.0.0.1:{}", listener.local_addr().expect("address").port());
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("key");
        let state = Arc::new(Mutex::new(State {
            key,
            issuer: url.clone(),
            refresh_token: first_refresh_token.to_string(),
            lifetime_secs,
            subject: subject.to_string(),
            refreshes: 0,
        }));
        let served = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, state) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |request| handle(state.clone(), request));
                    let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                    let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), service).await;
                });
            }
        });
        Issuer { state, url, ca_file, _dir: dir, _runtime: runtime }
    }

    /// An id-token for the issuer's subject, expiring `lifetime_secs` from now (negative: expired).
    pub fn mint(&self, lifetime_secs: i64) -> String {
        let state = self.state.lock();
        mint(&state, lifetime_secs)
    }

    /// Refresh requests answered with new tokens.
    pub fn refreshes(&self) -> usize {
        self.state.lock().refreshes
    }

    /// The apiserver flags that make it trust this issuer; users are `oidc:<sub>`.
    pub fn apiserver_flags(&self) -> Vec<String> {
        vec![
            format!("--oidc-issuer-url={}", self.url),
            format!("--oidc-client-id={CLIENT_ID}"),
            format!("--oidc-ca-file={}", self.ca_file.display()),
            "--oidc-username-prefix=oidc:".into(),
            "--oidc-signing-algs=ES256".into(),
        ]
    }
}

fn mint(state: &State, lifetime_secs: i64) -> String {
    let now = klieg::model::now_unix_secs();
    let header = serde_json::json!({"alg": "ES256", "kid": "test-key", "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": state.issuer, "sub": state.subject, "aud": CLIENT_ID,
        "iat": now, "exp": now + lifetime_secs,
    });
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = state.key.sign(&ring::rand::SystemRandom::new(), signed.as_bytes()).expect("sign");
    format!("{signed}.{}", b64(signature.as_ref()))
}

type Body = Full<bytes::Bytes>;

fn json(status: u16, value: &serde_json::Value) -> Result<http::Response<Body>, std::convert::Infallible> {
    Ok(http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::from(value.to_string()))
        .expect("response"))
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Body>, std::convert::Infallible> {
    let path = request.uri().path().to_string();
    let authorization = request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut state = state.lock();
    match path.as_str() {
        "/.well-known/openid-configuration" => json(
            200,
            &serde_json::json!({
                "issuer": state.issuer,
                "authorization_endpoint": format!("{}/auth", state.issuer),
                "token_endpoint": format!("{}/token", state.issuer),
                "jwks_uri": format!("{}/keys", state.issuer),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }),
        ),
        "/keys" => {
            // An uncompressed P-256 point: 0x04, then x and y of 32 bytes each.
            let point = state.key.public_key().as_ref();
            json(
                200,
                &serde_json::json!({"keys": [{
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "test-key",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                }]}),
            )
        }
        "/token" => {
            let form: std::collections::HashMap<String, String> =
                form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            );
            if authorization.as_deref() != Some(expected.as_str()) {
                return json(401, &serde_json::json!({"error": "invalid_client"}));
            }
            if form.get("grant_type").map(String::as_str) != Some("refresh_token")
                || form.get("refresh_token") != Some(&state.refresh_token)
            {
                return json(400, &serde_json::json!({"error": "invalid_grant"}));
            }
            state.refreshes += 1;
            // The new refresh token is the only one that works from now on.
            state.refresh_token = format!("refresh-{}-of-{}", state.refreshes, state.subject);
            let id_token = mint(&state, state.lifetime_secs);
            json(
                200,
                &serde_json::json!({
                    "access_token": "unused", "token_type": "Bearer", "expires_in": 60,
                    "id_token": id_token, "refresh_token": state.refresh_token,
                }),
            )
        }
        _ => json(404, &serde_json::json!({"error": "not found"})),
    }
}
