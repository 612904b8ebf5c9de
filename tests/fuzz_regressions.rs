//! Every input kept with the fuzz targets (the seed corpus in `fuzz/corpus/`, and each crash a
//! fuzzer found, in `fuzz/regressions/`) runs through the same target bodies the fuzzers run,
//! as ordinary tests: a crash once found stays fixed.

#[path = "../fuzz/src/targets.rs"]
mod targets;

#[test]
fn every_kept_fuzz_input_runs_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for kept in ["corpus", "regressions"] {
        let Ok(folders) = std::fs::read_dir(root.join(kept)) else { continue };
        for folder in folders.flatten() {
            let target = folder.file_name().to_string_lossy().into_owned();
            for input in std::fs::read_dir(folder.path()).expect("a target's folder").flatten() {
                let data = std::fs::read(input.path()).expect("an input");
                assert!(targets::run(&target, &data), "{target}: no such fuzz target");
                ran += 1;
            }
        }
    }
    assert!(ran >= 5, "the seed corpus has an input per target ({ran} ran)");
}
