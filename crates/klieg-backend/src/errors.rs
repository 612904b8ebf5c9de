//! Names the cause of a failed request in terms a user acts on: unreachable, rejected
//! credentials, exec plugin failure. Pure functions over kube's error chain.

use klieg_model::ClusterErrorKind;
use kube::client::AuthError;

/// The error and all its sources, joined, so the detail names the root cause.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

pub fn classify(error: &kube::Error) -> ClusterErrorKind {
    match error {
        kube::Error::Api(status) if status.code == 401 => return ClusterErrorKind::Unauthorized,
        kube::Error::Api(_) => return ClusterErrorKind::Other,
        kube::Error::Auth(auth) => return classify_auth(auth),
        _ => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(auth) = cause.downcast_ref::<AuthError>() {
            return classify_auth(auth);
        }
        if let Some(bearer) = cause.downcast_ref::<super::bearer::BearerError>() {
            return classify_bearer(bearer);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::TimedOut
                    | K::NotFound
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
                    | K::UnexpectedEof
                    | K::ConnectionAborted
            ) {
                return ClusterErrorKind::Unreachable;
            }
        }
        // The handshake or the answer's headers took longer than Klieg waits.
        if cause.is::<tower::timeout::error::Elapsed>() {
            return ClusterErrorKind::Unreachable;
        }
        if let Some(hyper_error) = cause.downcast_ref::<hyper_util::client::legacy::Error>()
            && hyper_error.is_connect()
        {
            return ClusterErrorKind::Unreachable;
        }
        source = cause.source();
    }
    let text = error_chain(error).to_ascii_lowercase();
    if text.contains("connect")
        || text.contains("dns")
        || text.contains("tls")
        || text.contains("certificate")
        || text.contains("timed out")
    {
        ClusterErrorKind::Unreachable
    } else {
        ClusterErrorKind::Other
    }
}

/// What went wrong with a bearer token Klieg supplies, when the client is built or a request
/// is sent: a file it names, a kubeconfig without a token, an unreachable issuer, or credentials
/// that do not (or no longer) work.
pub fn classify_bearer(error: &super::bearer::BearerError) -> ClusterErrorKind {
    use super::bearer::BearerError;
    use super::oidc::OidcError;
    match error {
        BearerError::TokenFile { .. } | BearerError::Oidc(OidcError::Authority(_)) => ClusterErrorKind::MissingFile,
        BearerError::Oidc(OidcError::NoToken) => ClusterErrorKind::InvalidContext,
        BearerError::Oidc(OidcError::Unreachable { .. }) => ClusterErrorKind::Unreachable,
        BearerError::Unsendable(_) | BearerError::Oidc(_) => ClusterErrorKind::Unauthorized,
        BearerError::Exec(_) => ClusterErrorKind::ExecPlugin,
    }
}

fn classify_auth(auth: &AuthError) -> ClusterErrorKind {
    match auth {
        AuthError::AuthExecStart(_)
        | AuthError::AuthExecRun { .. }
        | AuthError::AuthExecParse(_)
        | AuthError::AuthExec(_)
        | AuthError::ExecPluginFailed
        | AuthError::MissingCommand
        | AuthError::ExecMissingClusterInfo => ClusterErrorKind::ExecPlugin,
        AuthError::ReadTokenFile(..) => ClusterErrorKind::MissingFile,
        _ => ClusterErrorKind::Unauthorized,
    }
}
