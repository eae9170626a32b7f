//! The symphonia-backed decoders through lathe's own entry point: the first byte picks the
//! extension (the probe's hint), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

const EXTENSIONS: [&str; 5] = ["flac", "ogg", "mp3", "wav", "bin"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let ext = EXTENSIONS[usize::from(pick) % EXTENSIONS.len()];
    let path = dir.path().join(format!("fuzz.{ext}"));
    std::fs::write(&path, bytes).expect("written");
    let _ = lathe::audio_io::read_audio(&path);
});
