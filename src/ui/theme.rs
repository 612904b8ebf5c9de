//! Design tokens: the only place colours are chosen. UI thread.
#![allow(clippy::disallowed_methods)]

use crate::model::CellTone;

/// Colour for a cell tone, readable on both dark and light backgrounds.
pub fn tone_color(visuals: &egui::Visuals, tone: CellTone) -> egui::Color32 {
    let dark = visuals.dark_mode;
    match tone {
        CellTone::Normal => visuals.text_color(),
        CellTone::Good => {
            if dark {
                egui::Color32::from_rgb(110, 200, 120)
            } else {
                egui::Color32::from_rgb(20, 125, 45)
            }
        }
        CellTone::Warning => {
            if dark {
                egui::Color32::from_rgb(235, 190, 80)
            } else {
                egui::Color32::from_rgb(165, 105, 0)
            }
        }
        CellTone::Bad => {
            if dark {
                egui::Color32::from_rgb(240, 110, 100)
            } else {
                egui::Color32::from_rgb(190, 30, 30)
            }
        }
    }
}

/// Background of a warning banner (insecure TLS, errors).
pub fn banner_fill(visuals: &egui::Visuals, tone: CellTone) -> egui::Color32 {
    tone_color(visuals, tone).gamma_multiply(0.18)
}

/// xterm's 16 base colours; the rest of the 256 palette is computed.
pub fn terminal_palette(index: u8) -> egui::Color32 {
    const BASE: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 49, 49),
        (13, 188, 121),
        (229, 229, 16),
        (36, 114, 200),
        (188, 63, 188),
        (17, 168, 205),
        (229, 229, 229),
        (102, 102, 102),
        (241, 76, 76),
        (35, 209, 139),
        (245, 245, 67),
        (59, 142, 234),
        (214, 112, 214),
        (41, 184, 219),
        (255, 255, 255),
    ];
    match index {
        0..=15 => {
            let (r, g, b) = BASE[usize::from(index)];
            egui::Color32::from_rgb(r, g, b)
        }
        16..=231 => {
            let i = index - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            egui::Color32::from_rgb(level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let grey = 8 + (index - 232) * 10;
            egui::Color32::from_rgb(grey, grey, grey)
        }
    }
}

/// A 24-bit colour a program in a terminal asked for.
pub fn terminal_rgb(r: u8, g: u8, b: u8) -> egui::Color32 {
    egui::Color32::from_rgb(r, g, b)
}

/// A colour per source, spread around the hue circle.
pub fn source_color(index: u16, dark: bool) -> egui::Color32 {
    let hue = (f32::from(index) * 0.618_034).fract();
    let (s, v) = if dark { (0.55, 0.95) } else { (0.75, 0.55) };
    egui::ecolor::Hsva::new(hue, s, v, 1.0).into()
}

/// Distinct series colours, spread around the hue circle.
pub fn series_color(index: usize, dark: bool) -> egui::Color32 {
    let hue = (0.58 + index as f32 * 0.618_034).fract();
    let (saturation, value) = if dark { (0.6, 0.95) } else { (0.8, 0.7) };
    egui::ecolor::Hsva::new(hue, saturation, value, 1.0).into()
}

/// How long spinners turn before they stand still: a wait that lasts (a server that stalls, an
/// answer that never comes) must not cost a repaint every frame for as long as it lasts.
pub const SPINNER_ANIMATED_SECS: f64 = 3.0;

/// When the current stretch of frames with a spinner on screen began.
#[derive(Clone, Copy, Default)]
struct SpinnerClock {
    since_secs: f64,
    last_pass: u64,
}

/// A waiting indicator: egui's spinner for the first [`SPINNER_ANIMATED_SECS`] of a wait, then a
/// still hourglass that asks for no repaints (the answer, when it comes, repaints the window).
pub fn spinner_ui(ui: &mut egui::Ui) -> egui::Response {
    let now = ui.input(|i| i.time);
    let pass = ui.ctx().cumulative_pass_nr();
    let id = egui::Id::unique("klieg_spinner_clock");
    let clock = ui.data_mut(|d| {
        let clock = d.get_temp_mut_or_insert_with(id, || SpinnerClock { since_secs: now, last_pass: pass });
        // No spinner on the previous pass: a new wait begins.
        if clock.last_pass + 1 < pass {
            clock.since_secs = now;
        }
        clock.last_pass = pass;
        *clock
    });
    if now - clock.since_secs < SPINNER_ANIMATED_SECS {
        ui.spinner()
    } else {
        ui.label(egui::RichText::new("⌛").weak())
    }
}

#[cfg(test)]
mod tests {
    /// Whether a frame at `time_secs` showing a spinner asks to be drawn again at once.
    fn repaints_at(ctx: &egui::Context, time_secs: f64, spinner: bool) -> bool {
        let input = egui::RawInput { time: Some(time_secs), ..Default::default() };
        let mut output = ctx.run_ui(input, |ui| {
            if spinner {
                super::spinner_ui(ui);
            }
        });
        output.textures_delta.clear();
        output.viewport_output.values().any(|v| v.repaint_delay.is_zero())
    }

    #[test]
    fn a_long_wait_stops_costing_frames_and_a_new_wait_animates_again() {
        let ctx = egui::Context::default();
        repaints_at(&ctx, 0.0, false);
        assert!(repaints_at(&ctx, 0.1, true), "a wait just begun turns");
        assert!(repaints_at(&ctx, 2.0, true));
        // The frame that stops the spinner settles; after it, none is asked for.
        repaints_at(&ctx, 3.5, true);
        assert!(!repaints_at(&ctx, 4.0, true), "a wait that lasts stands still: no repaint every frame");
        assert!(!repaints_at(&ctx, 5.0, true));
        assert!(!repaints_at(&ctx, 60.0, true));
        repaints_at(&ctx, 61.0, false);
        assert!(repaints_at(&ctx, 62.0, true), "the next wait turns again");
    }
}
