//! The script sandbox: any text as a script's source compiles and ticks for a tenth of a
//! second of audio at 1000 ticks per second, or fails with a report; never a panic, and
//! never past the time budget.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let escaped = source.replace('\\', "\\\\").replace('"', "\\\"");
    let graph = format!(
        "(nodes: [(id: \"trim\", kind: \"gain\"), (id: \"s\", kind: \"script\", \
         config: (rate_hz: 1000, source: \"{escaped}\"))], links: [\"in -> trim -> out\"])"
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("fuzz.ron");
    std::fs::write(&path, graph).expect("written");
    let Ok(graph) = lathe_host::load(&lathe_host::registry(), &path, &[], 48_000.0, 256) else {
        return;
    };
    let input = lathe::audio_io::Audio::silence(48_000, 2, 4800);
    let _ = lathe::commands::render_audio(graph, vec![input], &lathe::progress::Progress::hidden());
});
