//! cargo fuzz target: see `klieg_fuzz::targets::label_selector`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| klieg_fuzz::targets::label_selector(data));
