//! The WAV path through lathe's own entry point (header check, direct PCM reader, and
//! symphonia for the variants it hands on): any bytes named `.wav` decode or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("fuzz.wav");
    std::fs::write(&path, data).expect("written");
    let _ = lathe::audio_io::read_audio(&path);
});
