//! cargo fuzz target: see `klieg_fuzz::targets::yaml_edit`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| klieg_fuzz::targets::yaml_edit(data));
