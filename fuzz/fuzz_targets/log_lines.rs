//! cargo fuzz target: see `klieg_fuzz::targets::log_lines`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| klieg_fuzz::targets::log_lines(data));
