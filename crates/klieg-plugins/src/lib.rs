//! Klieg's plugin host (backend threads only).
rust_i18n::i18n!("../../i18n", fallback = "en");
