//! Builds each cluster's HTTP client: one that offers HTTP/2 by ALPN, so every list, watch, log
//! stream and request to a cluster shares one TCP connection (kube's own client speaks only
//! HTTP/1.1 and opens a connection per concurrent watch), and one HTTP/1.1 client for the
//! upgrades that exec, attach and port-forward need, both built the same way here. Runs on the
//! backend runtime.

use super::bearer::Bearer;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::rt::TokioExecutor;
use kube::client::ConfigExt;
use rust_i18n::t;
use std::time::Duration;

/// How often an idle HTTP/2 connection is pinged, so a dead one is noticed within
/// `KEEP_ALIVE_INTERVAL + KEEP_ALIVE_TIMEOUT` rather than when the kernel gives up on it.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// A new connection, TCP and TLS together, must be up within this: a server that accepts and
/// never completes the handshake fails the request instead of holding it for good.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Every request must have its answer's headers within this (the apiserver's own default
/// request timeout is a minute; watches, logs and upgrades answer at once and then stream).
pub const RESPONSE_HEADERS_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("{0}")]
    Kube(#[from] kube::Error),
    #[error("{}", t!("backend.tls_server_name", name = format!("{:?}", .name)))]
    ServerName { name: String },
    #[error("{}", t!("backend.proxy_scheme", scheme = format!("{:?}", .scheme)))]
    ProxyScheme { scheme: String },
    #[error(transparent)]
    Bearer(#[from] super::bearer::BearerError),
}

/// The two clients of one cluster.
#[derive(Clone)]
pub struct ClusterClients {
    /// Lists, watches, logs, requests: HTTP/2 where the server offers it, one connection.
    pub shared: kube::Client,
    /// Exec, attach and port-forward: HTTP/1.1 upgrades, a connection per session.
    pub upgrades: kube::Client,
}

/// Builds both clients for `config`, honouring its TLS settings, `tls-server-name` and
/// `proxy-url` (HTTP CONNECT or SOCKS5).
pub fn cluster_clients(config: &kube::Config) -> Result<ClusterClients, ConnectionError> {
    cluster_clients_saving(config, None, None)
}

/// As `cluster_clients`; an OIDC user's renewed tokens also go to `oidc_saver`'s keyring entry,
/// and `exec`, the user's approved exec plugin, supplies the token (kube sees no `exec`).
pub fn cluster_clients_saving(
    config: &kube::Config,
    oidc_saver: Option<crate::credentials::OidcSaver>,
    exec: Option<super::exec_auth::ExecAuth>,
) -> Result<ClusterClients, ConnectionError> {
    if let Some(scheme) = config.proxy_url.as_ref().map(|p| p.scheme_str().unwrap_or_default())
        && !matches!(scheme, "http" | "socks5" | "socks5h")
    {
        return Err(ConnectionError::ProxyScheme { scheme: scheme.to_string() });
    }
    // Bearer tokens kube would mishandle are Klieg's to send, and kube sees none of them:
    // `auth-provider: oidc` users (kube's refresher trusts only the system's roots, not the
    // kubeconfig's idp-certificate-authority) and `tokenFile` (kube keeps the trailing newline).
    let user = &config.auth_info;
    let oidc_provider = user.auth_provider.as_ref().filter(|provider| provider.name == "oidc");
    let token_file = user.token_file.as_ref().filter(|_| user.token.is_none());
    let (config, bearer) = match (exec, oidc_provider, token_file) {
        (Some(exec), _, _) => {
            let mut without = config.clone();
            without.auth_info.exec = None;
            (std::borrow::Cow::Owned(without), Some(std::sync::Arc::new(Bearer::Exec(Box::new(exec)))))
        }
        (None, Some(provider), _) => {
            let auth = super::oidc::OidcAuth::from_config(&provider.config)
                .map_err(super::bearer::BearerError::from)?
                .with_saver(oidc_saver);
            let mut without = config.clone();
            without.auth_info.auth_provider = None;
            without.auth_info.token_file = None;
            (std::borrow::Cow::Owned(without), Some(std::sync::Arc::new(Bearer::Oidc(Box::new(auth)))))
        }
        (None, None, Some(path)) => {
            let file = super::bearer::TokenFile::open(std::path::PathBuf::from(path))?;
            let mut without = config.clone();
            without.auth_info.token_file = None;
            (std::borrow::Cow::Owned(without), Some(std::sync::Arc::new(Bearer::File(file))))
        }
        (None, None, None) => (std::borrow::Cow::Borrowed(config), None),
    };
    let config = &*config;
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(config.connect_timeout);
    tcp.set_nodelay(true);
    let (shared, upgrades) = match &config.proxy_url {
        None => both_clients(config, tcp, &bearer)?,
        Some(proxy) => match proxy.scheme_str() {
            Some("http") => {
                let mut tunnel = Tunnel::new(proxy.clone(), tcp);
                if let Some(header) = proxy_basic_auth(proxy) {
                    tunnel = tunnel.with_auth(header);
                }
                both_clients(config, tunnel, &bearer)?
            }
            Some("socks5" | "socks5h") => {
                let mut socks = SocksV5::new(proxy.clone(), tcp).local_dns(proxy.scheme_str() == Some("socks5"));
                if let Some((user, password)) = proxy_user_password(proxy) {
                    socks = socks.with_auth(user, password);
                }
                both_clients(config, socks, &bearer)?
            }
            other => return Err(ConnectionError::ProxyScheme { scheme: other.unwrap_or_default().to_string() }),
        },
    };
    Ok(ClusterClients { shared, upgrades })
}

/// What hyper's client needs of a connector: plain TCP, an HTTP CONNECT tunnel or SOCKS5.
trait Connector:
    tower::Service<
        http::Uri,
        Response: hyper_util::client::legacy::connect::Connection
                      + hyper::rt::Read
                      + hyper::rt::Write
                      + Send
                      + Unpin
                      + 'static,
        Future: Send + 'static,
        Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<H> Connector for H
where
    H: tower::Service<http::Uri> + Clone + Send + Sync + 'static,
    H::Response:
        hyper_util::client::legacy::connect::Connection + hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
    H::Future: Send + 'static,
    H::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
}

/// The shared (h2) client and the upgrades (HTTP/1.1) client over the same `connector`.
fn both_clients<H: Connector>(
    config: &kube::Config,
    connector: H,
    bearer: &Option<std::sync::Arc<Bearer>>,
) -> Result<(kube::Client, kube::Client), ConnectionError> {
    Ok((
        build_client(config, connector.clone(), bearer.clone(), Protocols::Http2)?,
        build_client(config, connector, bearer.clone(), Protocols::Http1Only)?,
    ))
}

/// Which HTTP versions a client offers by ALPN.
#[derive(Clone, Copy, PartialEq)]
enum Protocols {
    /// h2 and http/1.1: the pool keeps one h2 connection and multiplexes on it.
    Http2,
    /// http/1.1 only, for the upgrades exec, attach and port-forward need.
    Http1Only,
}

/// A client for `config` over `connector`: base URI, kube's auth (tokens, exec plugins, certs) or
/// the bearer token Klieg supplies itself, extra headers, and keep-alive pings on h2.
fn build_client<H: Connector>(
    config: &kube::Config,
    connector: H,
    bearer: Option<std::sync::Arc<Bearer>>,
    protocols: Protocols,
) -> Result<kube::Client, ConnectionError> {
    let tls = config.rustls_client_config()?;
    let mut https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    if let Some(name) = &config.tls_server_name {
        let server_name = rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|_| ConnectionError::ServerName { name: name.clone() })?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(server_name));
    }
    let connector = match protocols {
        Protocols::Http2 => https.enable_all_versions().wrap_connector(connector),
        Protocols::Http1Only => https.enable_http1().wrap_connector(connector),
    };
    // Boxed: hyper's pool wants a connect future that is `Unpin`, and a timer is not.
    let connector = tower::ServiceBuilder::new().map_future(Box::pin).timeout(HANDSHAKE_TIMEOUT).service(connector);
    let http: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .http2_keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .http2_keep_alive_while_idle(true)
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .map_future(Box::pin)
        .timeout(RESPONSE_HEADERS_TIMEOUT)
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(super::bounded::EndlessListsLayer::default())
        .map_err(Into::<Box<dyn std::error::Error + Send + Sync>>::into)
        .layer(super::bearer::auth_layer(bearer))
        .layer(super::bounded::CapResponsesLayer)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

/// The user and password of a proxy URL (`http://user:pass@host:port`), percent-decoded.
fn proxy_user_password(proxy: &http::Uri) -> Option<(String, String)> {
    let authority = proxy.authority()?.as_str();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((percent_decode(user), percent_decode(password)))
}

fn proxy_basic_auth(proxy: &http::Uri) -> Option<http::HeaderValue> {
    use base64::Engine;
    let (user, password) = proxy_user_password(proxy)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut value = http::HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_are_percent_decoded() {
        let uri: http::Uri = "http://us%40er:p%3Ass@proxy:3128".parse().expect("uri");
        assert_eq!(proxy_user_password(&uri), Some(("us@er".into(), "p:ss".into())));
        let plain: http::Uri = "http://proxy:3128".parse().expect("uri");
        assert_eq!(proxy_user_password(&plain), None);
        assert_eq!(percent_decode("a%+Ab%zz%41"), "a%+Ab%zzA");
    }

    #[test]
    fn unknown_proxy_schemes_are_refused_by_name() {
        let mut config = kube::Config::new("https://127.0.0.1:6443".parse().expect("uri"));
        config.proxy_url = Some("ftp://proxy:21".parse().expect("uri"));
        let error = cluster_clients(&config).err().expect("refused");
        assert!(error.to_string().contains("\"ftp\""), "{error}");
    }
}
