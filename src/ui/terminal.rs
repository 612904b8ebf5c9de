//! The exec terminal panel: one tab per session, the emulated screen drawn from the backend's
//! rendering, keystrokes sent as terminal bytes while the screen has focus, and resizes sent
//! when the panel's size in cells changes. UI thread.

use crate::model::{Command, TermColor, TerminalList, TerminalView};
use crate::state::{Outbox, TerminalsState};
use rust_i18n::t;

/// The shells offered in the picker, most capable first.
pub const SHELLS: [&str; 3] = ["sh", "bash", "ash"];

fn resolve(color: TermColor, default: egui::Color32) -> egui::Color32 {
    match color {
        TermColor::Default => default,
        TermColor::Indexed(index) => super::theme::terminal_palette(index),
        TermColor::Rgb(r, g, b) => super::theme::terminal_rgb(r, g, b),
    }
}

/// The bytes a terminal sends for the key events of this frame. With `bracketed_paste` (the
/// program asked for it), a paste is marked as one, and the end marker inside pasted text is
/// taken out so a paste cannot end its own bracket and have the rest run as typed.
pub fn key_bytes(events: &[egui::Event], bracketed_paste: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for event in events {
        match event {
            egui::Event::Text(text) => bytes.extend_from_slice(text.as_bytes()),
            egui::Event::Paste(text) if bracketed_paste => {
                bytes.extend_from_slice(b"\x1b[200~");
                bytes.extend_from_slice(text.replace("\x1b[201~", "").as_bytes());
                bytes.extend_from_slice(b"\x1b[201~");
            }
            egui::Event::Paste(text) => bytes.extend_from_slice(text.as_bytes()),
            egui::Event::Key { key, pressed: true, modifiers, .. } => {
                if modifiers.shift && matches!(key, egui::Key::PageUp | egui::Key::PageDown) {
                    continue; // scrolls the view instead: see `scroll_lines`
                }
                if modifiers.ctrl
                    && let Some(letter) =
                        key.name().chars().next().filter(|c| c.is_ascii_alphabetic() && key.name().len() == 1)
                {
                    bytes.push((letter.to_ascii_uppercase() as u8) - b'@');
                    continue;
                }
                let sequence: &[u8] = match key {
                    egui::Key::Enter => b"\r",
                    egui::Key::Backspace => b"\x7f",
                    egui::Key::Tab => b"\t",
                    egui::Key::Escape => b"\x1b",
                    egui::Key::ArrowUp => b"\x1b[A",
                    egui::Key::ArrowDown => b"\x1b[B",
                    egui::Key::ArrowRight => b"\x1b[C",
                    egui::Key::ArrowLeft => b"\x1b[D",
                    egui::Key::Home => b"\x1b[H",
                    egui::Key::End => b"\x1b[F",
                    egui::Key::Delete => b"\x1b[3~",
                    egui::Key::PageUp => b"\x1b[5~",
                    egui::Key::PageDown => b"\x1b[6~",
                    _ => b"",
                };
                bytes.extend_from_slice(sequence);
            }
            _ => {}
        }
    }
    bytes
}

/// Lines to scroll the view into its scrollback this frame: Shift+PageUp/PageDown (focused) move by
/// half a screen, the mouse wheel (hovered) by the lines it covers (fractions carried over in `carry`).
fn scroll_lines(
    input: &egui::InputState,
    hovered: bool,
    focused: bool,
    rows: u16,
    row_height: f32,
    carry: &mut f32,
) -> i32 {
    let page = i32::from(rows / 2).max(1);
    let mut lines = 0;
    for event in input.events.iter().filter(|_| focused) {
        if let egui::Event::Key { key, pressed: true, modifiers, .. } = event
            && modifiers.shift
        {
            match key {
                egui::Key::PageUp => lines += page,
                egui::Key::PageDown => lines -= page,
                _ => {}
            }
        }
    }
    if hovered {
        *carry += input.smooth_scroll_delta.y / row_height.max(1.0);
        let whole = carry.trunc();
        *carry -= whole;
        lines += whole as i32;
    }
    lines
}

fn screen_ui(ui: &mut egui::Ui, view: &TerminalView, focused: bool) {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let foreground = ui.visuals().text_color();
    let background = ui.visuals().extreme_bg_color;
    for (row, spans) in view.lines.iter().enumerate() {
        let mut job = egui::text::LayoutJob::default();
        let mut column = 0usize;
        for span in spans {
            let (mut fg, mut bg) = (resolve(span.fg, foreground), resolve(span.bg, background));
            if span.inverse {
                std::mem::swap(&mut fg, &mut bg);
            }
            let format = egui::TextFormat { font_id: font.clone(), color: fg, background: bg, ..Default::default() };
            let cursor_here =
                focused && view.exited.is_none() && view.scrolled_back == 0 && usize::from(view.cursor.0) == row;
            let cursor_col = usize::from(view.cursor.1);
            let chars = span.text.chars().count();
            if cursor_here && (column..column + chars).contains(&cursor_col) {
                let split = cursor_col - column;
                let before: String = span.text.chars().take(split).collect();
                let at: String = span.text.chars().skip(split).take(1).collect();
                let after: String = span.text.chars().skip(split + 1).collect();
                job.append(&before, 0.0, format.clone());
                job.append(&at, 0.0, egui::TextFormat { color: bg, background: fg, ..format.clone() });
                job.append(&after, 0.0, format);
            } else {
                job.append(&span.text, 0.0, format);
            }
            column += chars;
        }
        ui.add(egui::Label::new(job).wrap_mode(egui::TextWrapMode::Extend).selectable(false));
    }
}

/// The terminals' tabs and the shown terminal; its keystrokes, resizes and scrolls go out
/// through `outbox`.
pub fn terminal_panel_ui(ui: &mut egui::Ui, state: &mut TerminalsState, outbox: &mut Outbox, terminals: &TerminalList) {
    if state.tabs.is_empty() {
        return;
    }
    egui::Panel::bottom("terminals").resizable(true).default_size(340.0).min_size(160.0).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong(t!("terminal.title"));
            for id in state.tabs.clone() {
                let title = terminals
                    .terminals
                    .iter()
                    .find(|t| t.id == id)
                    .map_or_else(|| "…".to_string(), |t| t.title.to_string());
                ui.selectable_value(&mut state.active, Some(id), title);
                if ui.small_button("×").on_hover_text(t!("terminal.close")).clicked() {
                    state.close(id, outbox);
                }
            }
        });
        let Some(id) = state.active else { return };
        let Some(view) = terminals.terminals.iter().find(|t| t.id == id) else {
            super::theme::spinner_ui(ui);
            return;
        };
        if let Some(error) = &view.error {
            ui.colored_label(super::theme::tone_color(ui.visuals(), crate::model::CellTone::Bad), error.as_ref());
            return;
        }
        if let Some(exited) = &view.exited {
            ui.label(egui::RichText::new(t!("terminal.exited", status = exited.as_ref())).weak());
        }
        // Cells that fit decide the terminal's size; a change goes to the container.
        let glyph = ui.fonts_mut(|f| f.glyph_width(&egui::TextStyle::Monospace.resolve(ui.style()), 'M'));
        let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
        let available = ui.available_size();
        let cols = ((available.x / glyph.max(1.0)).floor() as u16).clamp(20, 500);
        let rows = ((available.y / row_height.max(1.0)).floor() as u16).clamp(4, 200);
        if view.exited.is_none() && view.size != (rows, cols) && state.sent_size.get(&id) != Some(&(rows, cols)) {
            state.sent_size.insert(id, (rows, cols));
            outbox.push(Command::ResizeTerminal { id, rows, cols });
        }
        // Exactly the space left: the panel's size decides the terminal's, never the reverse.
        let (_, rect) = ui.allocate_space(available);
        let screen_id = egui::Id::unique(("terminal_screen", id));
        let area = ui.interact(rect, screen_id, egui::Sense::click());
        if area.clicked() {
            area.request_focus();
        }
        ui.painter().rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
        let mut screen = ui.new_child(egui::UiBuilder::new().max_rect(rect));
        screen.set_clip_rect(rect);
        screen.spacing_mut().item_spacing.y = 0.0;
        screen_ui(&mut screen, view, area.has_focus());
        if view.scrolled_back > 0 {
            // Drawn over the screen's top-right corner, leaving the terminal's size alone.
            let note = t!("terminal.scrolled_back", lines = view.scrolled_back, held = view.scrollback_len);
            let text = egui::RichText::new(note.to_string())
                .small()
                .color(ui.visuals().strong_text_color())
                .background_color(ui.visuals().widgets.active.weak_bg_fill);
            let width = (rect.width() * 0.6).max(80.0);
            let corner =
                egui::Rect::from_min_size(rect.right_top() + egui::vec2(-width - 6.0, 4.0), egui::vec2(width, 20.0));
            let layout = egui::Layout::right_to_left(egui::Align::Min);
            ui.scope_builder(egui::UiBuilder::new().max_rect(corner).layout(layout), |ui| {
                ui.add(egui::Label::new(text).selectable(false));
            });
        }
        let carry_id = screen_id.with("scroll_carry");
        let mut carry = ui.data(|d| d.get_temp::<f32>(carry_id).unwrap_or_default());
        // (Asked before `input`: the context is locked while its closure runs.)
        let (hovered, focused) = (area.hovered(), area.has_focus());
        let lines = ui.input(|i| scroll_lines(i, hovered, focused, rows, row_height, &mut carry));
        ui.data_mut(|d| d.insert_temp(carry_id, carry));
        if lines != 0 {
            outbox.push(Command::ScrollTerminal { id, lines });
        }
        if area.has_focus() && view.exited.is_none() {
            ui.memory_mut(|m| {
                m.set_focus_lock_filter(
                    screen_id,
                    egui::EventFilter { tab: true, horizontal_arrows: true, vertical_arrows: true, escape: true },
                )
            });
            let bytes = ui.input(|i| key_bytes(&i.events, view.bracketed_paste));
            if !bytes.is_empty() {
                outbox.push(Command::TerminalInput { id, bytes });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_terminal_bytes() {
        let key = |key, ctrl| egui::Event::Key {
            key,
            physical_key: None,
            pressed: true,
            repeat: false,
            modifiers: egui::Modifiers { ctrl, ..Default::default() },
        };
        let events = vec![
            egui::Event::Text("ls".into()),
            key(egui::Key::Enter, false),
            key(egui::Key::C, true),
            key(egui::Key::ArrowUp, false),
            key(egui::Key::Backspace, false),
        ];
        assert_eq!(key_bytes(&events, false), b"ls\r\x03\x1b[A\x7f");
        // A paste into a program that asked for bracketed paste is marked, and cannot close
        // its own bracket early.
        let paste = [egui::Event::Paste("rm -rf /tmp/x\x1b[201~\nreboot\n".into())];
        assert_eq!(key_bytes(&paste, true), b"\x1b[200~rm -rf /tmp/x\nreboot\n\x1b[201~");
        assert_eq!(key_bytes(&paste, false), "rm -rf /tmp/x\x1b[201~\nreboot\n".as_bytes());
    }
}
