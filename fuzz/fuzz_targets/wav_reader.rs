//! The WAV path through lathe's own entry point (header check, direct PCM reader, and
//! symphonia for the variants it hands on): any bytes named `.wav` decode or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// libFuzzer's panic hook aborts on every panic, even one lathe catches. lathe contains
/// panics inside the third-party decoders (a corrupt-file error, see
/// `audio_io::panic_guard`); the binary's own hook keeps those quiet and lets every other
/// panic through, so the same hook here makes the fuzzer stop only on panics lathe does not
/// contain.
static QUIET_DECODER_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_DECODER_PANICS.call_once(lathe::audio_io::install_quiet_decoder_panics);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("fuzz.wav");
    std::fs::write(&path, data).expect("written");
    let _ = lathe::audio_io::read_audio(&path);
});
