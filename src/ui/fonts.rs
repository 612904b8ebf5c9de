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

pub fn install_fonts(ctx: &egui::Context) {
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new().name("klieg-fonts".into()).spawn(move || {
        let Some(bytes) = CJK_FONT_PATHS.iter().find_map(|path| std::fs::read(path).ok()) else {
            tracing::info!("no CJK font found; Japanese text will not render");
            return;
        };
        let insert = egui::epaint::text::FontInsert::new(
            "cjk-fallback",
            egui::FontData::from_owned(bytes),
            vec![
                egui::epaint::text::InsertFontFamily {
                    family: egui::FontFamily::Proportional,
                    priority: egui::epaint::text::FontPriority::Lowest,
                },
                egui::epaint::text::InsertFontFamily {
                    family: egui::FontFamily::Monospace,
                    priority: egui::epaint::text::FontPriority::Lowest,
                },
            ],
        );
        ctx.add_font(insert);
        ctx.request_repaint();
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the font loader");
    }
}
