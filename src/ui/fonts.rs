//! Fonts: egui's defaults plus a CJK system font as fallback, so Japanese renders. The font file
//! is read on a helper thread and added when ready, keeping start-up and the UI thread free of I/O.

/// Known locations of a CJK font on Linux distributions (Debian's fonts-noto-cjk first).
const CJK_FONT_PATHS: [&str; 5] = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
];

/// Reads the first CJK font found, as a lowest-priority fallback for text and code. Blocking.
pub fn read_cjk_font() -> Option<egui::epaint::text::FontInsert> {
    use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
    let bytes = CJK_FONT_PATHS.iter().find_map(|path| std::fs::read(path).ok())?;
    Some(FontInsert::new(
        "cjk-fallback",
        egui::FontData::from_owned(bytes),
        vec![
            InsertFontFamily { family: egui::FontFamily::Proportional, priority: FontPriority::Lowest },
            InsertFontFamily { family: egui::FontFamily::Monospace, priority: FontPriority::Lowest },
        ],
    ))
}

/// Loads the CJK fallback on a helper thread and repaints once it is in.
pub fn install_fonts(ctx: &egui::Context) {
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new().name("klieg-fonts".into()).spawn(move || match read_cjk_font() {
        Some(font) => {
            ctx.add_font(font);
            ctx.request_repaint();
        }
        None => tracing::info!("no CJK font found; Japanese text will not render"),
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the font loader");
    }
}
