//! The symphonia-backed decoders through lathe's own entry point: the first byte picks the
//! extension (the probe's hint), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

const EXTENSIONS: [&str; 5] = ["flac", "ogg", "mp3", "wav", "bin"];

/// libFuzzer's panic hook aborts on every panic, even one lathe catches. lathe contains
/// panics inside the third-party decoders (a corrupt-file error, see
/// `audio_io::panic_guard`); the binary's own hook keeps those quiet and lets every other
/// panic through, so the same hook here makes the fuzzer stop only on panics lathe does not
/// contain.
static QUIET_DECODER_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_DECODER_PANICS.call_once(lathe::audio_io::install_quiet_decoder_panics);
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let ext = EXTENSIONS[usize::from(pick) % EXTENSIONS.len()];
    let path = dir.path().join(format!("fuzz.{ext}"));
    std::fs::write(&path, bytes).expect("written");
    let _ = lathe::audio_io::read_audio(&path);
});
