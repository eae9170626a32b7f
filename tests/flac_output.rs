//! `lathe render -o FILE.flac`: FLAC output chosen by extension, with the same dither as
//! the WAV output (so both decode to the same samples), checked by the reference
//! decoder where it is installed.

mod common;

use std::path::Path;

use common::{assert_fails, lathe_in, stderr, test_signal, write_wav_int};
use lathe::audio_io::read_audio;

fn song_and_graph(dir: &Path) {
    // Longer than one FLAC block, with a short last block.
    let left = test_signal(10_000, 16, 0.9, 0);
    let right = test_signal(10_000, 16, 0.9, 1);
    write_wav_int(&dir.join("song.wav"), 44_100, 16, &[left, right]);
    std::fs::write(
        dir.join("chain.ron"),
        r#"(nodes: [(id: "trim", kind: "gain", params: {"gain_db": -0.7})],
            links: ["in -> trim -> out"])"#,
    )
    .unwrap();
}

#[test]
fn flac_output_decodes_to_the_samples_of_the_wav_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    song_and_graph(d);
    for bits in ["16", "24"] {
        let (wav, flac) = (format!("o{bits}.wav"), format!("o{bits}.FLAC"));
        for out in [&wav, &flac] {
            let run = lathe_in(
                d,
                &[
                    "render",
                    "chain.ron",
                    "song.wav",
                    "-o",
                    out,
                    "--bits",
                    bits,
                    "-q",
                ],
            );
            assert!(run.status.success(), "{}", stderr(&run));
        }
        let bytes = std::fs::read(d.join(&flac)).unwrap();
        assert_eq!(
            &bytes[..4],
            b"fLaC",
            "the extension picks FLAC, in any case"
        );
        let (a, b) = (
            read_audio(&d.join(&wav)).unwrap(),
            read_audio(&d.join(&flac)).unwrap(),
        );
        assert_eq!(b.frames(), 10_000);
        assert!(a == b, "{bits}-bit: FLAC and WAV samples differ");
        match std::process::Command::new("flac")
            .args(["-t", "-s"])
            .arg(d.join(&flac))
            .output()
        {
            Ok(test) => assert!(test.status.success(), "flac -t: {}", stderr(&test)),
            Err(_) if std::env::var("LATHE_REQUIRE_FFMPEG").as_deref() == Ok("1") => {
                panic!("flac is required (LATHE_REQUIRE_FFMPEG=1) but not installed")
            }
            Err(_) => eprintln!("notice: flac not installed; skipping `flac -t`"),
        }
    }
}

#[test]
fn float_flac_is_refused_before_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    song_and_graph(d);
    let run = lathe_in(
        d,
        &[
            "render",
            "chain.ron",
            "song.wav",
            "-o",
            "x.flac",
            "--bits",
            "32f",
        ],
    );
    assert_fails(&run, 2, &["x.flac", "FLAC holds integer samples"]);
    assert!(!d.join("x.flac").exists());
}
