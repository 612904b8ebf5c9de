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
