//! cargo fuzz target: see `klieg_fuzz::targets::plugin_manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| klieg_fuzz::targets::plugin_manifest(data));
