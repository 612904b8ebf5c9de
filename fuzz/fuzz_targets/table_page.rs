//! cargo fuzz target: see `klieg_fuzz::targets::table_page`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| klieg_fuzz::targets::table_page(data));
