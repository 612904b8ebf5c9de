//! Bearer tokens Klieg puts on requests itself, where kube's own handling falls short: `tokenFile`
//! (kube sends the file's trailing newline, which no header may hold; client-go trims it, and so
//! does Klieg, rereading the file each minute for rotated tokens) and `auth-provider: oidc`
//! users (see `oidc`), and exec credential plugins (see `exec_auth`). Headers are marked
//! sensitive. Backend runtime.

use super::oidc::{OidcAuth, OidcError};
use rust_i18n::t;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a token file is read again (projected service-account tokens rotate).
const TOKEN_FILE_REREAD: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("{}", t!("backend.token_file", path = .path.display(), error = .source))]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("{}", t!("backend.token_unsendable", path = .0.display()))]
    Unsendable(PathBuf),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error("{}", t!("backend.exec_plugin", error = .0))]
    Exec(#[from] super::exec_auth::ExecError),
}

/// A token file, its trimmed token cached between reads.
pub struct TokenFile {
    path: PathBuf,
    cached: tokio::sync::Mutex<(SecretString, Instant)>,
}

impl TokenFile {
    pub fn open(path: PathBuf) -> Result<Self, BearerError> {
        let token = read_token(&path)?;
        Ok(Self { path, cached: tokio::sync::Mutex::new((token, Instant::now())) })
    }

    /// The token, read again when the cached one is a minute old. A file that has gone keeps
    /// the last token (as client-go does: some tools remove token files after start).
    async fn token(&self) -> SecretString {
        let mut cached = self.cached.lock().await;
        if cached.1.elapsed() >= TOKEN_FILE_REREAD {
            let path = self.path.clone();
            if let Ok(Ok(token)) = tokio::task::spawn_blocking(move || read_token(&path)).await {
                cached.0 = token;
            }
            cached.1 = Instant::now();
        }
        cached.0.clone()
    }
}

fn read_token(path: &std::path::Path) -> Result<SecretString, BearerError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| BearerError::TokenFile { path: path.to_path_buf(), source })?;
    Ok(SecretString::from(text.trim().to_string()))
}

/// Where a cluster's bearer token comes from, when Klieg supplies it.
pub enum Bearer {
    File(TokenFile),
    Oidc(Box<OidcAuth>),
    Exec(Box<super::exec_auth::ExecAuth>),
}

impl Bearer {
    /// The `Authorization` header; `None` for an exec plugin that gives a client certificate.
    async fn header(&self) -> Result<Option<http::HeaderValue>, BearerError> {
        let (token, source) = match self {
            Bearer::File(file) => (file.token().await, file.path.clone()),
            Bearer::Oidc(auth) => (auth.token().await?, PathBuf::from("the OIDC id-token")),
            Bearer::Exec(auth) => match auth.token().await? {
                Some(token) => (token, PathBuf::from("the exec plugin's token")),
                None => return Ok(None),
            },
        };
        let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map_err(|_| BearerError::Unsendable(source))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

type Request = http::Request<kube::client::Body>;
type Stamped = std::pin::Pin<Box<dyn Future<Output = Result<Request, BearerError>> + Send>>;

/// Puts the bearer token on each request; without one, requests pass as they are.
pub fn auth_layer(bearer: Option<Arc<Bearer>>) -> tower::filter::AsyncFilterLayer<impl Fn(Request) -> Stamped + Clone> {
    tower::filter::AsyncFilterLayer::new(move |mut request: Request| -> Stamped {
        let bearer = bearer.clone();
        Box::pin(async move {
            if let Some(bearer) = bearer
                && let Some(header) = bearer.header().await?
            {
                request.headers_mut().insert(http::header::AUTHORIZATION, header);
            }
            Ok(request)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_file_is_trimmed_and_kept_when_it_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "  abc.def\n").expect("write");
        let bearer = Bearer::File(TokenFile::open(path.clone()).expect("opened"));
        let header = bearer.header().await.expect("header").expect("a token");
        assert_eq!(header.to_str().ok(), Some("Bearer abc.def"));
        assert!(header.is_sensitive());
        std::fs::remove_file(&path).expect("removed");
        let kept = bearer.header().await.expect("the last token").expect("a token");
        assert_eq!(kept.to_str().ok(), Some("Bearer abc.def"));
        assert!(matches!(TokenFile::open(path), Err(BearerError::TokenFile { .. })));
    }
}
