//! Exec terminals: a TTY exec session per terminal, its output fed to a `vt100` emulator here on
//! the runtime, and the rendered screen published (at most every 30 ms) for the UI to draw.
//! Keystrokes and resizes come in as commands. Backend runtime.

use super::{ClientMap, Waker};
use futures::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use klieg_model::{ExecRequest, TermColor, TermSpan, TerminalList, TerminalView};
use kube::api::{Api, AttachParams, TerminalSize};
use parking_lot::Mutex;
use rust_i18n::t;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

const PUBLISH_INTERVAL: Duration = Duration::from_millis(30);
const SCROLLBACK_LINES: usize = 1000;

enum Input {
    Bytes(Vec<u8>),
    Resize(u16, u16),
    /// Lines to move into the scrollback (negative: towards the live screen).
    Scroll(i32),
}

/// A running session: where its keystrokes go, and its task.
type Session = (mpsc::Sender<Input>, tokio::task::JoinHandle<()>);

#[derive(Clone)]
pub struct Terminals {
    list: Arc<Mutex<TerminalList>>,
    inputs: Arc<Mutex<HashMap<u64, Session>>>,
    out: watch::Sender<Arc<TerminalList>>,
    waker: Waker,
}

impl Terminals {
    pub fn new(out: watch::Sender<Arc<TerminalList>>, waker: Waker) -> Self {
        Self { list: Arc::default(), inputs: Arc::default(), out, waker }
    }

    fn publish(&self, id: u64, change: impl FnOnce(&mut TerminalView)) {
        let mut list = self.list.lock();
        if let Some(view) = list.terminals.iter_mut().find(|t| t.id == id) {
            change(view);
        }
        list.generation += 1;
        self.out.send_replace(Arc::new(list.clone()));
        (self.waker)();
    }

    pub fn open(&self, clients: &ClientMap, id: u64, request: ExecRequest) {
        let key = &request.target.key;
        let title = match &request.container {
            Some(container) => format!("{}/{} · {}", key.name, container, request.command.join(" ")),
            None => format!("{} · {}", key.name, request.command.join(" ")),
        };
        self.list.lock().terminals.push(TerminalView {
            id,
            title: Arc::from(title),
            size: (request.rows, request.cols),
            ..TerminalView::default()
        });
        self.publish(id, |_| {});
        let Some(connected) = clients.get(&key.cluster) else {
            self.publish(id, |t| t.error = Some(Arc::from(t!("backend.not_connected").as_ref())));
            return;
        };
        let (input_tx, input_rx) = mpsc::channel(256);
        let this = self.clone();
        let client = connected.upgrades.clone();
        let task = tokio::spawn(async move { this.run(client, id, request, input_rx).await });
        self.inputs.lock().insert(id, (input_tx, task));
    }

    pub fn input(&self, id: u64, bytes: Vec<u8>) {
        self.send(id, Input::Bytes(bytes));
    }

    pub fn resize(&self, id: u64, rows: u16, cols: u16) {
        self.send(id, Input::Resize(rows, cols));
    }

    pub fn scroll(&self, id: u64, lines: i32) {
        self.send(id, Input::Scroll(lines));
    }

    fn send(&self, id: u64, input: Input) {
        if let Some((sender, _)) = self.inputs.lock().get(&id)
            && sender.try_send(input).is_err()
        {
            tracing::warn!(id, "terminal input queue full; keystrokes dropped");
        }
    }

    pub fn close(&self, id: u64) {
        if let Some((_, task)) = self.inputs.lock().remove(&id) {
            task.abort();
        }
        let mut list = self.list.lock();
        list.terminals.retain(|t| t.id != id);
        list.generation += 1;
        self.out.send_replace(Arc::new(list.clone()));
        (self.waker)();
    }

    async fn run(self, client: kube::Client, id: u64, request: ExecRequest, mut input_rx: mpsc::Receiver<Input>) {
        let key = &request.target.key;
        let pods: Api<Pod> = Api::namespaced(client, key.namespace.as_deref().unwrap_or("default"));
        let mut params = AttachParams::interactive_tty();
        if let Some(container) = &request.container {
            params = params.container(container.to_string());
        }
        let mut process = match pods.exec(&key.name, request.command.clone(), &params).await {
            Ok(process) => process,
            Err(error) => {
                let message = match error {
                    kube::Error::Api(status) => status.message,
                    other => other.to_string(),
                };
                self.publish(id, |t| t.error = Some(Arc::from(message)));
                return;
            }
        };
        let (Some(mut stdin), Some(mut stdout), Some(mut resize)) =
            (process.stdin(), process.stdout(), process.terminal_size())
        else {
            self.publish(id, |t| t.error = Some(Arc::from(t!("backend.no_terminal").as_ref())));
            return;
        };
        let status = process.take_status();
        let (rows, cols) = cells(request.rows, request.cols);
        let mut parser = vt100::Parser::new(rows, cols, SCROLLBACK_LINES);
        let _ = resize.send(TerminalSize { width: request.cols, height: request.rows }).await;
        let mut buffer = vec![0u8; 8192];
        let mut ticker = tokio::time::interval(PUBLISH_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = false;
        let mut output_open = true;
        loop {
            tokio::select! {
                read = stdout.read(&mut buffer), if output_open => match read {
                    Ok(0) | Err(_) => output_open = false,
                    Ok(n) => {
                        parser.process(&buffer[..n]);
                        dirty = true;
                    }
                },
                input = input_rx.recv() => match input {
                    Some(Input::Bytes(bytes)) => {
                        // Typing returns the view to the live screen, as terminals do.
                        if parser.screen().scrollback() != 0 {
                            parser.screen_mut().set_scrollback(0);
                            dirty = true;
                        }
                        if stdin.write_all(&bytes).await.is_err() {
                            output_open = false;
                        }
                    }
                    Some(Input::Resize(rows, cols)) => {
                        let (rows, cols) = cells(rows, cols);
                        parser.set_size(rows, cols);
                        let _ = resize.send(TerminalSize { width: cols.get(), height: rows.get() }).await;
                        dirty = true;
                    }
                    Some(Input::Scroll(lines)) => {
                        scroll_by(&mut parser, lines);
                        dirty = true;
                    }
                    None => return,
                },
                _ = ticker.tick() => {
                    if dirty {
                        dirty = false;
                        self.publish_screen(id, &parser, None);
                    }
                    if !output_open {
                        break;
                    }
                }
            }
        }
        let ended = match status {
            Some(status) => status.await,
            None => None,
        };
        let words: Arc<str> = match ended {
            Some(status) if status.status.as_deref() == Some("Success") => {
                Arc::from(t!("backend.session_exited").as_ref())
            }
            Some(status) => Arc::from(status.message.unwrap_or_else(|| "exited".into())),
            None => Arc::from(t!("backend.session_disconnected").as_ref()),
        };
        self.publish_screen(id, &parser, Some(words));
        // The ended session stays readable: its scrollback can still be scrolled until closed.
        while let Some(input) = input_rx.recv().await {
            if let Input::Scroll(lines) = input {
                scroll_by(&mut parser, lines);
                self.publish_screen(id, &parser, None);
            }
        }
    }

    /// Publishes the screen as the emulator has it (and, once the process ended, how it ended).
    fn publish_screen(&self, id: u64, parser: &vt100::Parser, exited: Option<Arc<str>>) {
        let rendered = render(parser.screen());
        let bracketed_paste = parser.screen().bracketed_paste();
        self.publish(id, |t| {
            (t.lines, t.cursor, t.size, t.scrolled_back, t.scrollback_len) = rendered;
            t.bracketed_paste = bracketed_paste;
            if exited.is_some() {
                t.exited = exited;
            }
        });
    }
}

/// Moves the emulator's view `lines` into its scrollback (negative: back towards the live screen);
/// the emulator clamps to what it holds.
fn scroll_by(parser: &mut vt100::Parser, lines: i32) {
    let now = parser.screen().scrollback();
    let magnitude = usize::try_from(lines.unsigned_abs()).unwrap_or(usize::MAX);
    let wanted = if lines >= 0 { now.saturating_add(magnitude) } else { now.saturating_sub(magnitude) };
    parser.screen_mut().set_scrollback(wanted);
}

/// A terminal size the emulator accepts: at least 2 rows and 10 columns.
fn cells(rows: u16, cols: u16) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    let at_least =
        |value: u16, minimum: u16| std::num::NonZeroU16::new(value.max(minimum)).unwrap_or(std::num::NonZeroU16::MIN);
    (at_least(rows, 2), at_least(cols, 10))
}

fn color(color: vt100::Color) -> TermColor {
    match color {
        vt100::Color::Default => TermColor::Default,
        vt100::Color::Idx(index) => TermColor::Indexed(index),
        vt100::Color::Rgb(r, g, b) => TermColor::Rgb(r, g, b),
    }
}

/// The visible screen as runs of equally styled cells per row, the cursor, the size, and the
/// scrollback position and length.
type Rendered = (Vec<Vec<TermSpan>>, (u16, u16), (u16, u16), usize, usize);

fn render(screen: &vt100::Screen) -> Rendered {
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    let mut lines = Vec::with_capacity(usize::from(rows));
    for row in 0..rows {
        let mut spans: Vec<TermSpan> = Vec::new();
        for col in 0..cols {
            let Some(cell) = screen.cell(row, col) else { continue };
            if cell.is_wide_continuation() {
                continue;
            }
            let contents = cell.contents();
            let text = if contents.is_empty() { " " } else { contents };
            let style = (color(cell.fgcolor()), color(cell.bgcolor()), cell.bold(), cell.inverse());
            match spans.last_mut() {
                Some(last) if (last.fg, last.bg, last.bold, last.inverse) == style => last.text.push_str(text),
                _ => spans.push(TermSpan {
                    text: text.to_string(),
                    fg: style.0,
                    bg: style.1,
                    bold: style.2,
                    inverse: style.3,
                }),
            }
        }
        lines.push(spans);
    }
    (lines, screen.cursor_position(), (rows, cols), screen.scrollback(), screen.scrollback_len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_renders_colours_cursor_moves_and_clears() {
        let (rows, cols) = cells(4, 20);
        let mut parser = vt100::Parser::new(rows, cols, 0);
        parser.process(b"plain \x1b[31mred\x1b[0m\r\nsecond\x1b[1;1Hx");
        let (lines, cursor, size, scrolled_back, _) = render(parser.screen());
        assert_eq!(scrolled_back, 0);
        assert_eq!(size, (4, 20));
        assert_eq!(cursor, (0, 1));
        assert!(lines[0].iter().any(|s| s.text == "red" && s.fg == TermColor::Indexed(1)));
        let view = TerminalView { lines, ..TerminalView::default() };
        assert_eq!(view.text(), "xlain red\nsecond\n\n");
        parser.process(b"\x1b[H\x1b[2J");
        let cleared = TerminalView { lines: render(parser.screen()).0, ..TerminalView::default() };
        assert_eq!(cleared.text().trim(), "");
    }

    #[test]
    fn scrolling_shows_older_lines_and_clamps_to_the_scrollback() {
        let (rows, cols) = cells(3, 20);
        let mut parser = vt100::Parser::new(rows, cols, 100);
        for line in 1..=10 {
            parser.process(format!("line {line}\r\n").as_bytes());
        }
        let text = |parser: &vt100::Parser| {
            let (lines, ..) = render(parser.screen());
            TerminalView { lines, ..TerminalView::default() }.text()
        };
        assert_eq!(text(&parser), "line 9\nline 10\n");
        scroll_by(&mut parser, 2);
        let (_, _, _, scrolled_back, held) = render(parser.screen());
        assert_eq!((scrolled_back, held), (2, 8));
        assert_eq!(text(&parser), "line 7\nline 8\nline 9");
        scroll_by(&mut parser, 1000);
        assert_eq!(parser.screen().scrollback(), 8, "clamped to the lines held");
        assert_eq!(text(&parser), "line 1\nline 2\nline 3");
        scroll_by(&mut parser, -1000);
        assert_eq!(text(&parser), "line 9\nline 10\n");
    }
}
