//! The album preset and manifest parsers: any file given as `--preset x.ron` or
//! `--manifest` is a preset/manifest or a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let preset = dir.path().join("fuzz.ron");
    std::fs::write(&preset, data).expect("written");
    let _ = lathe::album::preset::Preset::find(preset.to_str().expect("utf-8 temp path"));
    let _ = lathe::album::metadata::Manifest::load(&preset);
    let json = dir.path().join("fuzz.json");
    std::fs::write(&json, data).expect("written");
    let _ = lathe::album::metadata::Manifest::load(&json);
});
