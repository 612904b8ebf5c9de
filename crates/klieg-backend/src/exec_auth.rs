//! Exec credential plugins (`users[].user.exec`), run by Klieg rather than kube: asynchronously
//! (kube runs them synchronously inside async code, so a slow or hung plugin stalls a runtime
//! thread and holds its token lock), each in a process group of its own that is killed whole at
//! the timeout, with stdout and stderr read while it runs and capped. A plugin runs only with
//! the user's approval, given once for the exact command, environment, context and server (see
//! `approval_key`). The token is renewed when the plugin's `expirationTimestamp` comes. Backend
//! runtime; nothing here blocks a thread.

use kube::config::{ExecConfig, ExecInteractiveMode};
use rust_i18n::t;
use secrecy::SecretString;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncReadExt;

/// How long one run of a plugin may take, output included.
pub const EXEC_PLUGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of stdout (and, separately, of stderr) kept from one run; an ExecCredential is a few KiB.
pub const EXEC_OUTPUT_MAX_BYTES: usize = 1024 * 1024;
/// After the plugin exits, how long a child it left behind may keep its stdout open.
const EXEC_OUTPUT_GRACE: Duration = Duration::from_secs(1);
/// A token this close to its expiry is renewed before it is used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{}", t!("backend.exec_no_command"))]
    NoCommand,
    #[error("{}", t!("backend.exec_not_found", command = .command, hint = .hint))]
    NotFound { command: String, hint: String },
    #[error("{}", t!("backend.exec_start", command = .command, error = .source))]
    Start { command: String, source: std::io::Error },
    #[error("{}", t!("backend.exec_needs_terminal", command = .command))]
    NeedsTerminal { command: String },
    #[error("{}", t!("backend.exec_timeout", command = .command, secs = .secs))]
    Timeout { command: String, secs: u64 },
    #[error("{}", t!("backend.exec_failed", command = .command, status = .status, reason = .reason))]
    Failed { command: String, status: String, reason: String },
    #[error("{}", t!("backend.exec_too_much_output", command = .command, bytes = .limit_bytes))]
    TooMuchOutput { command: String, limit_bytes: usize },
    #[error("{}", t!("backend.exec_not_a_credential", command = .command))]
    NotACredential { command: String },
    #[error("{}", t!("backend.exec_empty", command = .command))]
    Empty { command: String },
}

/// What a plugin printed, the secret parts kept secret.
#[derive(Clone)]
pub struct Credential {
    pub token: Option<SecretString>,
    pub client_certificate_data: Option<String>,
    pub client_key_data: Option<SecretString>,
    /// When the plugin said the credential expires; `None`: it does not.
    pub expires: Option<SystemTime>,
}

impl Credential {
    fn is_fresh(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|expires| now + EXPIRY_MARGIN < expires)
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("expires", &self.expires).finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Printed {
    kind: Option<String>,
    status: Option<PrintedStatus>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrintedStatus {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
    expiration_timestamp: Option<String>,
}

/// The command line a plugin runs, quoted as a shell would need it, for the user to read before
/// approving it. Environment variables the kubeconfig sets are named, their values not shown.
pub fn command_line(exec: &ExecConfig) -> String {
    let mut words: Vec<&str> = exec.command.as_deref().into_iter().collect();
    words.extend(exec.args.iter().flatten().map(String::as_str));
    let mut line = shell_words::join(words);
    let names: Vec<&str> = exec.env.iter().flatten().filter_map(|pair| pair.get("name").map(String::as_str)).collect();
    if !names.is_empty() {
        line = format!("{} ({})", line, names.iter().map(|n| format!("${n}")).collect::<Vec<_>>().join(" "));
    }
    line
}

/// What the user approves: this command, with these arguments and environment, run for this
/// context to send its credential to this server. Any change to one of them asks again. A hex
/// SHA-256, so settings hold no environment values.
pub fn approval_key(context: &str, server: &str, exec: &ExecConfig) -> String {
    let mut env: Vec<(&str, &str)> = exec
        .env
        .iter()
        .flatten()
        .filter_map(|pair| Some((pair.get("name")?.as_str(), pair.get("value")?.as_str())))
        .collect();
    env.sort_unstable();
    let described = serde_json::json!({
        "context": context,
        "server": server,
        "apiVersion": exec.api_version,
        "command": exec.command,
        "args": exec.args,
        "env": env,
        "provideClusterInfo": exec.provide_cluster_info,
    });
    let digest = ring::digest::digest(&ring::digest::SHA256, described.to_string().as_bytes());
    digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether the plugin can run here: its command can be found (a path that exists, or a name on
/// `PATH`) and it does not insist on a terminal. A plugin that cannot is named at once instead of
/// asking the user to approve something that would fail.
pub fn check_runnable(exec: &ExecConfig) -> Result<(), ExecError> {
    let command = exec.command.as_deref().ok_or(ExecError::NoCommand)?;
    if exec.interactive_mode == Some(ExecInteractiveMode::Always) {
        return Err(ExecError::NeedsTerminal { command: command.to_string() });
    }
    let path = std::path::Path::new(command);
    let found = if command.contains('/') {
        path.is_file()
    } else {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| !dir.as_os_str().is_empty() && dir.join(command).is_file())
        })
    };
    if found { Ok(()) } else { Err(not_found(exec, command)) }
}

fn not_found(exec: &ExecConfig, command: &str) -> ExecError {
    let hint = exec.install_hint.as_deref().map(|h| format!(" ({})", h.trim())).unwrap_or_default();
    ExecError::NotFound { command: command.to_string(), hint }
}

/// Runs a plugin as kubectl would without a terminal (its env, args, `KUBERNETES_EXEC_INFO`, no
/// stdin) and reads the credential it printed. The plugin gets a process group of its own; at
/// the timeout the whole group is killed, children it left behind included.
pub async fn run_plugin(exec: &ExecConfig, timeout: Duration) -> Result<Credential, ExecError> {
    let command = exec.command.as_deref().ok_or(ExecError::NoCommand)?.to_string();
    // As client-go does without a terminal: a plugin that must always talk to the user cannot
    // run from a window (it would wait for input no one can give).
    if exec.interactive_mode == Some(ExecInteractiveMode::Always) {
        return Err(ExecError::NeedsTerminal { command });
    }
    let mut process = tokio::process::Command::new(&command);
    process.args(exec.args.iter().flatten());
    for pair in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (pair.get("name"), pair.get("value")) {
            process.env(name, value);
        }
    }
    process.env("KUBERNETES_EXEC_INFO", exec_info(exec).to_string());
    process
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    process.process_group(0);
    let mut child = process.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => not_found(exec, &command),
        _ => ExecError::Start { command: command.clone(), source },
    })?;
    let group = child.id();
    let (stdout_pipe, stderr_pipe) = (child.stdout.take(), child.stderr.take());
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let run = async {
        let mut reads = std::pin::pin!(async {
            let (out, err) = tokio::join!(
                read_capped(stdout_pipe, &mut stdout, &command),
                read_capped(stderr_pipe, &mut stderr, &command)
            );
            out.and(err)
        });
        tokio::select! {
            status = child.wait() => {
                // The output is read until the pipe closes: a child the plugin left behind
                // holding stdout gets `EXEC_OUTPUT_GRACE`, then the group goes.
                if let Ok(read) = tokio::time::timeout(EXEC_OUTPUT_GRACE, &mut reads).await {
                    read?;
                }
                Ok(status)
            }
            read = &mut reads => {
                read?;
                Ok(child.wait().await)
            }
        }
    };
    let outcome = tokio::time::timeout(timeout, run).await;
    kill_group(group);
    let status = match outcome {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => return Err(error),
        Err(_) => return Err(ExecError::Timeout { command, secs: timeout.as_secs() }),
    };
    let status = status.map_err(|source| ExecError::Start { command: command.clone(), source })?;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&stderr);
        let reason = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string();
        return Err(ExecError::Failed { command, status: status.to_string(), reason });
    }
    parse_credential(&stdout, &command)
}

/// Reads a pipe into `kept` to its end, or to `EXEC_OUTPUT_MAX_BYTES` (an error), whichever
/// comes first.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    kept: &mut Vec<u8>,
    command: &str,
) -> Result<(), ExecError> {
    let Some(pipe) = pipe else { return Ok(()) };
    let limit = EXEC_OUTPUT_MAX_BYTES as u64;
    let mut limited = pipe.take(limit + 1);
    // A read error is an end of output like any other; what was read is judged as printed.
    let _ = limited.read_to_end(kept).await;
    if kept.len() as u64 > limit {
        return Err(ExecError::TooMuchOutput { command: command.to_string(), limit_bytes: EXEC_OUTPUT_MAX_BYTES });
    }
    Ok(())
}

/// Kills the process group the plugin led (its children with it). Our own group, by its id.
fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(group) = group.and_then(|id| libc::pid_t::try_from(id).ok()).filter(|id| *id > 0) {
        // SAFETY: `killpg` has no memory effects; the group is the one the plugin was started in.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = group;
}

/// `KUBERNETES_EXEC_INFO`: not interactive, and the cluster when the plugin asks for it.
fn exec_info(exec: &ExecConfig) -> serde_json::Value {
    let api_version = exec.api_version.as_deref().unwrap_or("client.authentication.k8s.io/v1beta1");
    let mut spec = serde_json::json!({"interactive": false});
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    serde_json::json!({"kind": "ExecCredential", "apiVersion": api_version, "spec": spec})
}

fn parse_credential(stdout: &[u8], command: &str) -> Result<Credential, ExecError> {
    let not_one = || ExecError::NotACredential { command: command.to_string() };
    let printed: Printed = serde_json::from_slice(stdout).map_err(|_| not_one())?;
    if printed.kind.as_deref() != Some("ExecCredential") {
        return Err(not_one());
    }
    let status = printed.status.ok_or_else(not_one)?;
    let expires = match status.expiration_timestamp.as_deref() {
        Some(stamp) => Some(stamp.parse::<jiff::Timestamp>().map(SystemTime::from).map_err(|_| not_one())?),
        None => None,
    };
    let certificate = status.client_certificate_data.filter(|_| status.client_key_data.is_some());
    let credential = Credential {
        token: status.token.filter(|t| !t.is_empty()).map(SecretString::from),
        client_key_data: certificate.as_ref().and(status.client_key_data).map(SecretString::from),
        client_certificate_data: certificate,
        expires,
    };
    if credential.token.is_none() && credential.client_certificate_data.is_none() {
        return Err(ExecError::Empty { command: command.to_string() });
    }
    Ok(credential)
}

/// A cluster's exec plugin as its bearer token source: the credential of the approved first run,
/// renewed by running the plugin again once it expires. One renewal at a time; one that fails
/// leaves the next request to try again.
pub struct ExecAuth {
    exec: ExecConfig,
    current: tokio::sync::Mutex<Credential>,
}

impl ExecAuth {
    pub fn new(exec: ExecConfig, first: Credential) -> Self {
        Self { exec, current: tokio::sync::Mutex::new(first) }
    }

    /// The token to send: the current one while fresh, else a new one from the plugin. `None`:
    /// the plugin gives a client certificate, not a token.
    pub async fn token(&self) -> Result<Option<SecretString>, ExecError> {
        let mut current = self.current.lock().await;
        if !current.is_fresh(SystemTime::now()) {
            *current = run_plugin(&self.exec, EXEC_PLUGIN_TIMEOUT).await?;
        }
        Ok(current.token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expose(token: &SecretString) -> &str {
        use secrecy::ExposeSecret;
        token.expose_secret()
    }

    fn plugin(dir: &std::path::Path, body: &str) -> ExecConfig {
        let path = dir.join("plugin");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": path.display().to_string(),
            "env": [{"name": "TOKEN", "value": "t0ken"}],
        }))
        .expect("exec config")
    }

    const PRINT: &str = r#"printf '{"kind":"ExecCredential","status":{"token":"%s"}}' "$TOKEN""#;

    #[tokio::test]
    async fn a_plugin_prints_a_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let credential = run_plugin(&plugin(dir.path(), PRINT), EXEC_PLUGIN_TIMEOUT).await.expect("ran");
        assert_eq!(credential.token.as_ref().map(expose), Some("t0ken"));
        assert_eq!(credential.expires, None);
    }

    #[tokio::test]
    async fn output_beyond_a_pipe_buffer_is_read_while_the_plugin_runs() {
        // 200 KiB of stderr before the credential: a reader that waits for the exit deadlocks.
        let dir = tempfile::tempdir().expect("tempdir");
        let body = format!("head -c 204800 /dev/zero | tr '\\0' x >&2\n{PRINT}");
        let credential = run_plugin(&plugin(dir.path(), &body), Duration::from_secs(5)).await.expect("ran");
        assert!(credential.token.is_some());
    }

    #[tokio::test]
    async fn a_child_left_holding_stdout_is_given_a_grace_then_killed_with_its_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("still-alive");
        // The plugin prints its credential and leaves a child behind that keeps stdout open and
        // would, if it survived, write a file after 3 s.
        let body = format!("{PRINT}\n(sleep 3; touch '{}') &\nexit 0", marker.display());
        let started = std::time::Instant::now();
        let outcome = run_plugin(&plugin(dir.path(), &body), Duration::from_secs(2)).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert!(outcome.is_ok() || matches!(outcome, Err(ExecError::Timeout { .. })), "{outcome:?}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!marker.exists(), "the child was killed with the plugin's group");
    }

    #[tokio::test]
    async fn a_hung_plugin_is_killed_at_the_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = std::time::Instant::now();
        let outcome = run_plugin(&plugin(dir.path(), "sleep 600"), Duration::from_millis(500)).await;
        assert!(matches!(outcome, Err(ExecError::Timeout { secs: 0, .. })), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn endless_output_is_cut_off_at_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outcome = run_plugin(&plugin(dir.path(), "exec cat /dev/zero"), Duration::from_secs(5)).await;
        assert!(matches!(outcome, Err(ExecError::TooMuchOutput { .. })), "{outcome:?}");
    }

    #[tokio::test]
    async fn failures_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failed = run_plugin(&plugin(dir.path(), "echo 'login first' >&2; exit 3"), EXEC_PLUGIN_TIMEOUT).await;
        let message = failed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("login first") && message.contains("exit status: 3"), "{message}");
        let garbage = run_plugin(&plugin(dir.path(), "echo hello"), EXEC_PLUGIN_TIMEOUT).await;
        assert!(matches!(garbage, Err(ExecError::NotACredential { .. })));
        let empty =
            run_plugin(&plugin(dir.path(), r#"echo '{"kind":"ExecCredential","status":{}}'"#), EXEC_PLUGIN_TIMEOUT)
                .await;
        assert!(matches!(empty, Err(ExecError::Empty { .. })));
    }

    #[tokio::test]
    async fn an_expired_token_is_renewed_and_a_fresh_one_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let count = dir.path().join("runs");
        let body = format!(
            "echo run >> '{}'\nprintf '{{\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"renewed\",\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}}}'",
            count.display()
        );
        let exec = plugin(dir.path(), &body);
        let expired = Credential {
            token: Some(SecretString::from("old")),
            client_certificate_data: None,
            client_key_data: None,
            expires: Some(SystemTime::now() + Duration::from_secs(5)),
        };
        let auth = ExecAuth::new(exec, expired);
        assert_eq!(auth.token().await.expect("renewed").as_ref().map(expose), Some("renewed"));
        assert_eq!(auth.token().await.expect("kept").as_ref().map(expose), Some("renewed"));
        let runs = std::fs::read_to_string(&count).expect("runs");
        assert_eq!(runs.lines().count(), 1, "a fresh token is not renewed");
    }

    #[test]
    fn an_approval_is_bound_to_command_environment_context_and_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exec = plugin(dir.path(), PRINT);
        let key = approval_key("prod", "https://prod:6443", &exec);
        assert_eq!(key.len(), 64);
        assert_eq!(key, approval_key("prod", "https://prod:6443", &exec.clone()));
        assert_ne!(key, approval_key("prod", "https://elsewhere:6443", &exec), "another server");
        assert_ne!(key, approval_key("dev", "https://prod:6443", &exec), "another context");
        let mut other_env = exec.clone();
        other_env.env = Some(vec![[("name".to_string(), "TOKEN".to_string()), ("value".into(), "x".into())].into()]);
        assert_ne!(key, approval_key("prod", "https://prod:6443", &other_env), "another environment");
        let mut other_args = exec.clone();
        other_args.args = Some(vec!["--profile".into(), "admin".into()]);
        assert_ne!(key, approval_key("prod", "https://prod:6443", &other_args), "other arguments");
        let line = command_line(&other_args);
        assert!(line.ends_with("plugin --profile admin ($TOKEN)"), "{line}");
        assert!(!line.contains("t0ken"), "values are not shown");
    }

    #[test]
    fn a_missing_command_is_named_before_anyone_is_asked() {
        let mut exec: ExecConfig = serde_json::from_value(serde_json::json!({
            "command": "klieg-test-no-such-plugin", "installHint": "see the wiki"
        }))
        .expect("exec");
        let message = check_runnable(&exec).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("not found (see the wiki)"), "{message}");
        exec.command = Some("sh".into());
        assert!(check_runnable(&exec).is_ok());
    }
}
