//! Container streams for the simulator and the fake kubelet: the WebSocket upgrade in the
//! Kubernetes channel protocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`), exec into a small
//! fake shell, and port-forward into a fake in-container service. Runs on the serving tokio
//! runtime, one task per stream.

use super::server::{Body, status_response};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Channel protocols served, in the order of preference of a 1.30+ kubelet.
pub const CHANNEL_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
/// v5 only: `[255, channel]` closes that channel (stdin EOF).
const CLOSE: u8 = 255;

/// Query values that may repeat (`command=sh&command=-c`), percent-decoded, in order.
pub fn query_values(uri: &http::Uri, key: &str) -> Vec<String> {
    let Some(query) = uri.query() else { return Vec::new() };
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| super::server::percent_decode(v)).flatten()
        })
        .collect()
}

/// Whether the request asks for a WebSocket upgrade.
pub fn wants_websocket<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Answers a WebSocket upgrade in one of `protocols` and runs `session` on the upgraded
/// connection. Requests that are not WebSocket upgrades (SPDY) or offer no known protocol get a
/// Status error, as a kubelet that does not speak them would.
pub fn upgrade<B, F, Fut>(request: &mut Request<B>, protocols: &'static [&'static str], session: F) -> Response<Body>
where
    B: hyper::body::Body + Send + 'static,
    F: FnOnce(WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>, &'static str) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !wants_websocket(request) {
        return status_response(
            400,
            "BadRequest",
            "this server streams over WebSocket (v4/v5.channel.k8s.io) only; SPDY is not supported",
        );
    }
    let Some(key) = request.headers().get(http::header::SEC_WEBSOCKET_KEY).map(|k| derive_accept_key(k.as_bytes()))
    else {
        return status_response(400, "BadRequest", "missing Sec-WebSocket-Key");
    };
    let offered: Vec<String> = request
        .headers()
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()).collect::<Vec<_>>())
        .collect();
    let Some(protocol) = offered.iter().find_map(|p| protocols.iter().find(|known| *known == p)) else {
        return status_response(
            400,
            "BadRequest",
            &format!("none of the offered stream protocols {offered:?} is supported; use one of {protocols:?}"),
        );
    };
    let on_upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let io = hyper_util::rt::TokioIo::new(upgraded);
            let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
            session(ws, protocol).await;
        }
    });
    let mut response = Response::new(http_body_util::Full::new(Bytes::new()).boxed());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("Upgrade"));
    headers.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
    if let Ok(accept) = http::HeaderValue::from_str(&key) {
        headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, http::HeaderValue::from_static(protocol));
    response
}

/// What an exec request asks for.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub command: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// Output of the fake shell.
#[derive(Debug, PartialEq)]
pub enum ShellOutput {
    Stdout(String),
    Stderr(String),
    Exit(i32),
}

const FILES: [(&str, &str); 4] = [
    (
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
    ),
    ("/etc/resolv.conf", "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n"),
    ("/app/config.yaml", "listen: :8080\nlogLevel: info\ncache:\n  size: 1024\n"),
    ("/proc/1/cmdline", "/app/server --config /app/config.yaml\n"),
];
const DIRECTORIES: [(&str, &str); 4] = [
    ("/", "app  bin  dev  etc  home  proc  root  tmp  usr  var"),
    ("/app", "config.yaml  server"),
    ("/etc", "hostname  hosts  os-release  resolv.conf"),
    ("/tmp", ""),
];

/// A tiny POSIX-ish shell: enough built-ins to make an exec session believable and testable,
/// with a terminal line discipline (echo, backspace, Ctrl-C, Ctrl-D, CR-LF) when it has a TTY.
pub struct FakeShell {
    spec: ExecSpec,
    cwd: String,
    /// Rows and columns from the resize channel.
    size: (u16, u16),
    line: Vec<u8>,
    last_was_cr: bool,
    interactive: bool,
}

impl FakeShell {
    pub fn new(spec: ExecSpec) -> Self {
        let interactive = is_shell(&spec.command) && !spec.command.iter().any(|a| a == "-c");
        Self { spec, cwd: "/".into(), size: (24, 80), line: Vec::new(), last_was_cr: false, interactive }
    }

    fn prompt(&self) -> String {
        format!("root@{}:{}# ", self.spec.pod, self.cwd)
    }

    fn newline(&self, text: String) -> String {
        if self.spec.tty { text.replace('\n', "\r\n") } else { text }
    }

    /// What the process writes before reading any input.
    pub fn start(&mut self) -> Vec<ShellOutput> {
        if self.interactive {
            return if self.spec.tty { vec![ShellOutput::Stdout(self.prompt())] } else { Vec::new() };
        }
        let command = self.spec.command.clone();
        match command.as_slice() {
            [shell, flag, script, ..] if is_shell(std::slice::from_ref(shell)) && flag == "-c" => {
                let mut out = Vec::new();
                for line in script.split([';', '\n']) {
                    let (output, exit) = self.run_line(line);
                    out.extend(output);
                    if let Some(code) = exit {
                        out.push(ShellOutput::Exit(code));
                        return out;
                    }
                }
                out.push(ShellOutput::Exit(0));
                out
            }
            // `cat` with stdin copies it until EOF; see `input`.
            [cat] if cat == "cat" && self.spec.stdin => Vec::new(),
            _ => {
                let (mut out, exit) = self.run_argv(&command);
                out.push(ShellOutput::Exit(exit.unwrap_or(0)));
                out
            }
        }
    }

    /// Feeds stdin bytes; returns what the process writes.
    pub fn input(&mut self, bytes: &[u8]) -> Vec<ShellOutput> {
        if !self.interactive {
            // `cat`: copy stdin to stdout.
            return vec![ShellOutput::Stdout(String::from_utf8_lossy(bytes).into_owned())];
        }
        let mut out = Vec::new();
        for &byte in bytes {
            let last_was_cr = std::mem::replace(&mut self.last_was_cr, byte == b'\r');
            match byte {
                b'\n' if last_was_cr => {
                    // The LF of a CR-LF pair: the CR already ended the line.
                }
                b'\r' | b'\n' => {
                    if self.spec.tty {
                        out.push(ShellOutput::Stdout("\r\n".into()));
                    }
                    let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                    let (output, exit) = self.run_line(&line);
                    out.extend(output);
                    if let Some(code) = exit {
                        out.push(ShellOutput::Exit(code));
                        return out;
                    }
                    if self.spec.tty {
                        out.push(ShellOutput::Stdout(self.prompt()));
                    }
                }
                0x7f | 0x08 if self.spec.tty => {
                    if self.line.pop().is_some() {
                        out.push(ShellOutput::Stdout("\x08 \x08".into()));
                    }
                }
                0x03 if self.spec.tty => {
                    self.line.clear();
                    out.push(ShellOutput::Stdout(format!("^C\r\n{}", self.prompt())));
                }
                0x04 if self.line.is_empty() => {
                    out.push(ShellOutput::Stdout(self.newline("exit\n".into())));
                    out.push(ShellOutput::Exit(0));
                    return out;
                }
                _ => {
                    self.line.push(byte);
                    if self.spec.tty {
                        out.push(ShellOutput::Stdout(String::from_utf8_lossy(&[byte]).into_owned()));
                    }
                }
            }
        }
        out
    }

    /// Stdin reached EOF.
    pub fn end_of_input(&mut self) -> Vec<ShellOutput> {
        vec![ShellOutput::Exit(0)]
    }

    pub fn resize(&mut self, rows: u16, columns: u16) {
        self.size = (rows, columns);
    }

    fn run_line(&mut self, line: &str) -> (Vec<ShellOutput>, Option<i32>) {
        let line = line.trim();
        if line.is_empty() {
            return (Vec::new(), None);
        }
        match shell_words::split(line) {
            Ok(argv) => self.run_argv(&argv),
            Err(error) => (vec![ShellOutput::Stderr(self.newline(format!("sh: syntax error: {error}\n")))], None),
        }
    }

    fn run_argv(&mut self, argv: &[String]) -> (Vec<ShellOutput>, Option<i32>) {
        let Some((program, args)) = argv.split_first() else { return (Vec::new(), None) };
        let program = program.rsplit('/').next().unwrap_or(program);
        let mut exit = None;
        let text: Result<String, String> = match program {
            "echo" => Ok(format!("{}\n", args.join(" "))),
            "hostname" => Ok(format!("{}\n", self.spec.pod)),
            "pwd" => Ok(format!("{}\n", self.cwd)),
            "whoami" => Ok("root\n".into()),
            "seq" => {
                // busybox's forms: `seq LAST` and `seq FIRST LAST`, at most 100,000 numbers.
                let numbers: Result<Vec<i64>, _> = args.iter().map(|a| a.parse::<i64>()).collect();
                match numbers.as_deref() {
                    Ok([last]) => Ok(seq_text(1, *last)),
                    Ok([first, last]) => Ok(seq_text(*first, *last)),
                    _ => {
                        exit = Some(1);
                        Err("seq: usage: seq [FIRST] LAST\n".into())
                    }
                }
            }
            "id" => Ok("uid=0(root) gid=0(root) groups=0(root)\n".into()),
            "true" => Ok(String::new()),
            "false" => {
                exit = Some(1);
                Ok(String::new())
            }
            "exit" => {
                exit = Some(args.first().and_then(|a| a.parse().ok()).unwrap_or(0));
                Ok(String::new())
            }
            "uname" => Ok(if args.iter().any(|a| a == "-a") {
                format!("Linux {} 6.1.0-28-amd64 #1 SMP Debian 6.1.119-1 x86_64 GNU/Linux\n", self.spec.pod)
            } else {
                "Linux\n".into()
            }),
            "date" => Ok(format!("{}\n", jiff::Timestamp::now().strftime("%a %b %e %H:%M:%S UTC %Y"))),
            "env" | "printenv" => Ok(format!(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOSTNAME={}\nHOME=/root\nTERM={}\nKUBERNETES_SERVICE_HOST=10.96.0.1\nKUBERNETES_SERVICE_PORT=443\nPOD_NAMESPACE={}\nCONTAINER_NAME={}\n",
                self.spec.pod,
                if self.spec.tty { "xterm" } else { "dumb" },
                self.spec.namespace,
                self.spec.container
            )),
            "stty" if args.first().is_some_and(|a| a == "size") => Ok(format!("{} {}\n", self.size.0, self.size.1)),
            "tput" if args.first().is_some_and(|a| a == "cols") => Ok(format!("{}\n", self.size.1)),
            "tput" if args.first().is_some_and(|a| a == "lines") => Ok(format!("{}\n", self.size.0)),
            "clear" => Ok("\x1b[H\x1b[2J".into()),
            "ps" => Ok("PID   USER     TIME  COMMAND\n    1 root      0:42 /app/server --config /app/config.yaml\n   17 root      0:00 sh\n".into()),
            "cd" => self.cd(args, &mut exit),
            "ls" => self.ls(args, &mut exit),
            "cat" => self.cat(args, &mut exit),
            "help" => Ok(
                "Built-in commands: cat cd clear date echo env exit false help hostname id ls ps pwd seq stty size tput true uname whoami\n"
                    .into(),
            ),
            other => {
                exit = if self.interactive { None } else { Some(127) };
                Err(format!("sh: {other}: not found\n"))
            }
        };
        if self.interactive && exit.is_some() && program != "exit" {
            // A failing command does not end an interactive shell.
            exit = None;
        }
        let output = match text {
            Ok(text) if text.is_empty() => Vec::new(),
            Ok(text) => vec![ShellOutput::Stdout(self.newline(text))],
            // A TTY has one screen: stderr goes to it too.
            Err(text) if self.spec.tty => vec![ShellOutput::Stdout(self.newline(text))],
            Err(text) => vec![ShellOutput::Stderr(self.newline(text))],
        };
        (output, exit)
    }

    fn cd(&mut self, args: &[String], exit: &mut Option<i32>) -> Result<String, String> {
        let target = self.path_of(args.first().map_or("/", String::as_str));
        if DIRECTORIES.iter().any(|(dir, _)| *dir == target) {
            self.cwd = target;
            Ok(String::new())
        } else {
            *exit = Some(2);
            Err(format!("sh: cd: can't cd to {}\n", args.first().map_or("", String::as_str)))
        }
    }

    fn ls(&self, args: &[String], exit: &mut Option<i32>) -> Result<String, String> {
        let target = self.path_of(args.iter().find(|a| !a.starts_with('-')).map_or(".", String::as_str));
        match DIRECTORIES.iter().find(|(dir, _)| *dir == target) {
            Some((_, "")) => Ok(String::new()),
            Some((_, entries)) => Ok(format!("{entries}\n")),
            None => {
                *exit = Some(2);
                Err(format!("ls: cannot access '{target}': No such file or directory\n"))
            }
        }
    }

    fn cat(&self, args: &[String], exit: &mut Option<i32>) -> Result<String, String> {
        let mut text = String::new();
        let mut error = None;
        for arg in args {
            let path = self.path_of(arg);
            match path.as_str() {
                "/etc/hostname" => text.push_str(&format!("{}\n", self.spec.pod)),
                _ => match FILES.iter().find(|(file, _)| *file == path) {
                    Some((_, content)) => text.push_str(content),
                    None => error = Some(format!("cat: {arg}: No such file or directory\n")),
                },
            }
        }
        match error {
            Some(error) => {
                *exit = Some(1);
                Err(format!("{text}{error}"))
            }
            None => Ok(text),
        }
    }

    fn path_of(&self, arg: &str) -> String {
        let joined = if arg.starts_with('/') { arg.to_string() } else { format!("{}/{arg}", self.cwd) };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        format!("/{}", parts.join("/"))
    }
}

/// `seq`'s output: the numbers from `first` to `last`, one per line (capped at 100,000).
fn seq_text(first: i64, last: i64) -> String {
    let count = usize::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(0).min(100_000);
    (first..).take(count).map(|n| format!("{n}\n")).collect()
}

fn is_shell(command: &[String]) -> bool {
    command
        .first()
        .map(|c| c.rsplit('/').next().unwrap_or(c))
        .is_some_and(|c| matches!(c, "sh" | "bash" | "ash" | "zsh"))
}

fn frame(channel: u8, bytes: &[u8]) -> Message {
    let mut data = Vec::with_capacity(bytes.len() + 1);
    data.push(channel);
    data.extend_from_slice(bytes);
    Message::binary(data)
}

/// A close frame with status 1000; Go clients report a bare close (1005) as an error.
fn normal_close() -> Message {
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};
    Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))
}

/// How long a closing session waits for the client's close frame before it drops the socket.
const CLOSE_HANDSHAKE_TIMEOUT_SECS: u64 = 5;

/// Ends a session as the kubelet does: a normal close, then reading until the client answers it.
/// Dropping the socket at once would reset the connection whenever the client's last frames
/// (a resize, stdin's close) sat unread, and a reset makes the client discard the output it had
/// not read yet.
async fn close_session<S>(
    mut sink: futures::stream::SplitSink<WebSocketStream<S>, Message>,
    mut stream: futures::stream::SplitStream<WebSocketStream<S>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if sink.send(normal_close()).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(message)) = stream.next().await {
            if message.is_close() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(CLOSE_HANDSHAKE_TIMEOUT_SECS), drain).await;
}

/// The exit Status sent on the error channel, as the kubelet writes it.
pub fn exit_status(command: &[String], code: i32) -> serde_json::Value {
    if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    }
}

/// Runs an exec session over an upgraded WebSocket until the process exits or the client leaves.
pub async fn run_exec<S>(ws: WebSocketStream<S>, spec: ExecSpec)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let command = spec.command.clone();
    let mut shell = FakeShell::new(spec);
    let mut pending = shell.start();
    loop {
        for output in pending.drain(..) {
            let message = match output {
                ShellOutput::Stdout(text) => frame(STDOUT, text.as_bytes()),
                ShellOutput::Stderr(text) => frame(STDERR, text.as_bytes()),
                ShellOutput::Exit(code) => {
                    let status = exit_status(&command, code).to_string();
                    if sink.send(frame(ERROR, status.as_bytes())).await.is_ok() {
                        close_session(sink, stream).await;
                    }
                    return;
                }
            };
            if sink.send(message).await.is_err() {
                return;
            }
        }
        let Some(Ok(message)) = stream.next().await else { return };
        let data = match message {
            Message::Binary(data) => data.to_vec(),
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Close(_) => return,
            _ => continue,
        };
        let Some((&channel, payload)) = data.split_first() else { continue };
        match channel {
            STDIN => pending = shell.input(payload),
            RESIZE => {
                if let Ok(size) = serde_json::from_slice::<serde_json::Value>(payload) {
                    let rows = size["Height"].as_u64().unwrap_or(24).min(u64::from(u16::MAX)) as u16;
                    let columns = size["Width"].as_u64().unwrap_or(80).min(u64::from(u16::MAX)) as u16;
                    shell.resize(rows, columns);
                }
            }
            CLOSE if payload.first() == Some(&STDIN) => pending = shell.end_of_input(),
            _ => {}
        }
    }
}

/// The fake service behind every forwarded port: answers HTTP requests with a small page and
/// echoes anything else.
struct PortService {
    pod: String,
    port: u16,
    buffer: Vec<u8>,
}

impl PortService {
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.buffer.extend_from_slice(bytes);
        let looks_http = ["GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS "]
            .iter()
            .any(|m| self.buffer.starts_with(m.as_bytes()) || m.as_bytes().starts_with(&self.buffer));
        if !looks_http {
            return std::mem::take(&mut self.buffer);
        }
        let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else { return Vec::new() };
        let request: Vec<u8> = self.buffer.drain(..end + 4).collect();
        let request_line = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string();
        let body = format!("Hello from {} on port {}\nrequest: {request_line}\n", self.pod, self.port);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nServer: klieg-sim\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// Runs a port-forward over an upgraded WebSocket: per port, data on channel 2i and errors on
/// 2i+1, each opened with the port number (little-endian) as the kubelet does. `open_ports` are
/// the ports the pod listens on; others get the kubelet's "connection refused" error.
pub async fn run_port_forward<S>(
    ws: WebSocketStream<S>,
    namespace: String,
    pod: String,
    ports: Vec<u16>,
    open_ports: Vec<u16>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let mut services = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        let channel = (index * 2) as u8;
        for ch in [channel, channel + 1] {
            if sink.send(frame(ch, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
        services.push(PortService { pod: pod.clone(), port: *port, buffer: Vec::new() });
    }
    while let Some(Ok(message)) = stream.next().await {
        let data = match message {
            Message::Binary(data) => data,
            // tungstenite answers the client's close itself.
            Message::Close(_) => return,
            _ => continue,
        };
        let Some((&channel, payload)) = data.split_first() else { continue };
        let index = usize::from(channel / 2);
        let Some(service) = services.get_mut(index) else { continue };
        if channel % 2 == 1 || payload.is_empty() {
            continue;
        }
        let reply = if open_ports.is_empty() || open_ports.contains(&service.port) {
            frame(channel, &service.feed(payload))
        } else {
            let text = format!(
                "error forwarding port {0} to pod {pod}: failed to connect to localhost:{0} inside namespace \"{namespace}\", IPv4: dial tcp4 127.0.0.1:{0}: connect: connection refused",
                service.port
            );
            frame(channel + 1, text.as_bytes())
        };
        if reply.len() > 1 && sink.send(reply).await.is_err() {
            return;
        }
    }
    close_session(sink, stream).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &[&str], tty: bool) -> ExecSpec {
        ExecSpec {
            command: command.iter().map(|s| s.to_string()).collect(),
            stdin: true,
            tty,
            namespace: "shop".into(),
            pod: "web-1".into(),
            container: "web".into(),
        }
    }

    fn stdout(outputs: &[ShellOutput]) -> String {
        outputs.iter().filter_map(|o| if let ShellOutput::Stdout(s) = o { Some(s.as_str()) } else { None }).collect()
    }

    #[test]
    fn a_tty_shell_echoes_typing_runs_commands_and_exits_with_their_code() {
        let mut shell = FakeShell::new(spec(&["/bin/sh"], true));
        assert_eq!(stdout(&shell.start()), "root@web-1:/# ");
        let out = shell.input(b"echo hi\r");
        assert_eq!(stdout(&out), "echo hi\r\nhi\r\nroot@web-1:/# ");
        let out = shell.input(b"ecko\x7f\x7fho x\r");
        assert!(stdout(&out).contains("x\r\n"), "{out:?}");
        shell.resize(40, 132);
        assert!(stdout(&shell.input(b"stty size\r")).contains("40 132\r\n"));
        let out = shell.input(b"nope\r");
        assert!(stdout(&out).contains("sh: nope: not found"), "a TTY merges stderr into the screen: {out:?}");
        assert_eq!(shell.input(b"exit 3\r").last(), Some(&ShellOutput::Exit(3)));
    }

    #[test]
    fn one_shot_commands_and_scripts_report_their_exit() {
        let mut shell = FakeShell::new(spec(&["sh", "-c", "cd /app; ls; cat config.yaml; false"], false));
        let out = shell.start();
        assert!(stdout(&out).contains("config.yaml  server\nlisten: :8080"));
        assert_eq!(out.last(), Some(&ShellOutput::Exit(1)));
        let mut shell = FakeShell::new(spec(&["cat"], false));
        assert!(shell.start().is_empty());
        assert_eq!(stdout(&shell.input(b"abc")), "abc");
        assert_eq!(shell.end_of_input(), vec![ShellOutput::Exit(0)]);
        let mut shell = FakeShell::new(spec(&["missing-binary"], false));
        assert_eq!(shell.start().last(), Some(&ShellOutput::Exit(127)));
        assert_eq!(exit_status(&["x".into()], 127)["details"]["causes"][0]["message"], "127");
    }

    #[test]
    fn the_port_service_answers_http_and_echoes_other_bytes() {
        let mut service = PortService { pod: "web-1".into(), port: 8080, buffer: Vec::new() };
        assert!(service.feed(b"GET / HT").is_empty(), "waits for the whole request");
        let reply = String::from_utf8(service.feed(b"TP/1.1\r\nHost: x\r\n\r\n")).unwrap_or_default();
        assert!(reply.starts_with("HTTP/1.1 200 OK") && reply.contains("Hello from web-1 on port 8080"), "{reply}");
        assert_eq!(service.feed(b"\x00ping"), b"\x00ping");
    }
}
