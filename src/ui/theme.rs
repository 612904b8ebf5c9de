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
