//! Rebuilds the crate when a translation changes: rust-i18n embeds `i18n/*.yml` at compile time.

fn main() {
    println!("cargo:rerun-if-changed=i18n");
}
