//! Exec terminals: what the UI asks to run in a container and the rendered screens the backend
//! publishes (the VT emulator runs in the backend, so the UI only draws). Pure data.

use super::Target;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct ExecRequest {
    pub target: Target,
    pub container: Option<Arc<str>>,
    pub command: Vec<String>,
    pub rows: u16,
    pub cols: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TermColor {
    #[default]
    Default,
    /// One of the 256 palette entries.
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// A run of cells with one style.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TermSpan {
    pub text: String,
    pub fg: TermColor,
    pub bg: TermColor,
    pub bold: bool,
    pub inverse: bool,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct TerminalView {
    pub id: u64,
    pub title: Arc<str>,
    pub lines: Vec<Vec<TermSpan>>,
    /// Row and column of the cursor.
    pub cursor: (u16, u16),
    pub size: (u16, u16),
    /// How many lines the view is scrolled back into the scrollback (0: the live screen), and how
    /// many lines the scrollback holds.
    pub scrolled_back: usize,
    pub scrollback_len: usize,
    /// The program asked for bracketed paste (`ESC [ ? 2004 h`): pasted text is sent between
    /// `ESC [ 200 ~` and `ESC [ 201 ~`, so a shell does not run the lines of a paste as it gets them.
    pub bracketed_paste: bool,
    /// Set when the process ended: its exit status in words.
    pub exited: Option<Arc<str>>,
    pub error: Option<Arc<str>>,
}

impl TerminalView {
    /// The screen's text, one line per row, trailing blanks trimmed.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|spans| spans.iter().map(|s| s.text.as_str()).collect::<String>().trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Clone, Debug, Default)]
pub struct TerminalList {
    pub generation: u64,
    pub terminals: Vec<TerminalView>,
}
