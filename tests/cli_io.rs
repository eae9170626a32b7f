//! The command line and file side of `lathe`, through the real binary where the
//! behaviour is the binary's (arguments, exit codes, refusals) and through the library
//! where exact sample values are compared.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use lathe::audio_io::{Audio, SampleFormat, read_audio, write_wav};
use lathe::demo::{DEMO_FRAMES, DEMO_SAMPLE_RATE_HZ, demo_mix};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A tiny stereo 16-bit WAV and a graph file in `dir`.
fn song_and_graph(dir: &Path) {
    let left = test_signal(4800, 16, 0.5, 0);
    let right = test_signal(4800, 16, 0.5, 1);
    write_wav_int(&dir.join("song.wav"), 48_000, 16, &[left, right]);
    fs::write(
        dir.join("chain.ron"),
        "(nodes: [(id: \"trim\", kind: \"gain\")], links: [\"in -> trim -> out\"])\n",
    )
    .unwrap();
}

// ---- arguments -------------------------------------------------------------------

#[test]
fn bad_bits_value_is_a_usage_error_naming_the_allowed_values() {
    let dir = temp();
    assert_usage_error(
        dir.path(),
        &["render", "g.ron", "a.wav", "-o", "b.wav", "--bits", "20"],
        &[
            "invalid value '20' for '--bits <BITS>'",
            "allowed values are 16, 24 and 32f",
        ],
    );
}

#[test]
fn block_frames_outside_the_range_are_refused() {
    let dir = temp();
    for bad in ["0", "65537", "-4", "lots"] {
        let out = lathe_in(
            dir.path(),
            &[
                "render",
                "g.ron",
                "a.wav",
                "-o",
                "b.wav",
                &format!("--block-frames={bad}"),
            ],
        );
        let needle = format!("invalid value '{bad}' for '--block-frames <N>'");
        assert_fails(&out, 2, &[&needle, "must be a whole number in 1..=65536"]);
    }
}

#[test]
fn malformed_set_is_refused_with_the_reason() {
    let dir = temp();
    let cases = [
        (
            "gain_db=1",
            "`gain_db` names no param; expected NODE.PARAM=VALUE",
        ),
        (
            "limit.ceiling_dbtp",
            "expected NODE.PARAM=VALUE, e.g. limit.ceiling_dbtp=-1",
        ),
        (
            "limit.ceiling_dbtp=",
            "no value after `limit.ceiling_dbtp=`",
        ),
        (
            "limit.ceiling_dbtp=inf",
            "value `inf` is not a finite number",
        ),
        (
            "limit.ceiling_dbtp=-1x",
            "value `-1x` is not a number, true/false or a choice name",
        ),
        (
            "Limit.ceiling_dbtp=1",
            "`Limit` in `Limit.ceiling_dbtp` is not a valid node or param name",
        ),
    ];
    for (set, needle) in cases {
        let out = lathe_in(dir.path(), &["check", "g.ron", "--set", set]);
        let prefix = format!("invalid value '{set}' for '--set <NODE.PARAM=VALUE>'");
        assert_fails(&out, 2, &[&prefix, needle]);
    }
}

#[test]
fn render_needs_an_input_or_the_demo_but_not_both() {
    let dir = temp();
    assert_usage_error(
        dir.path(),
        &["render", "g.ron", "-o", "b.wav"],
        &[
            "the following required arguments were not provided",
            "<INPUT>",
        ],
    );
    assert_usage_error(
        dir.path(),
        &["render", "g.ron", "a.wav", "--demo", "-o", "b.wav"],
        &["cannot be used with"],
    );
    assert_usage_error(
        dir.path(),
        &["render", "g.ron", "a.wav"],
        &["--output <OUTPUT>"],
    );
}

#[test]
fn several_inputs_need_bus_names() {
    let dir = temp();
    song_and_graph(dir.path());
    assert_usage_error(
        dir.path(),
        &["render", "chain.ron", "song.wav", "song.wav", "-o", "x.wav"],
        &["2 input files given: name the bus of each as BUS=PATH (e.g. main=song.wav)"],
    );
    assert_usage_error(
        dir.path(),
        &[
            "render",
            "chain.ron",
            "a=song.wav",
            "a=song.wav",
            "-o",
            "x.wav",
        ],
        &["input bus `a` is given more than once"],
    );
}

#[test]
fn unknown_subcommand_and_help() {
    let dir = temp();
    assert_fails(
        &lathe_in(dir.path(), &["mastr"]),
        2,
        &["unrecognized subcommand 'mastr'"],
    );
    let help = lathe_in(dir.path(), &["render", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).contains(
            "lathe render graphs/master.ron --demo -o demo-master.wav --preset streaming"
        )
    );
}

// ---- inputs ----------------------------------------------------------------------

#[test]
fn missing_and_non_audio_inputs_are_named() {
    let dir = temp();
    song_and_graph(dir.path());
    assert_usage_error(
        dir.path(),
        &["render", "chain.ron", "nope.wav", "-o", "x.wav"],
        &["error: input file `nope.wav` does not exist"],
    );
    fs::write(dir.path().join("text.wav"), "this is not audio, just text").unwrap();
    let out = lathe_in(
        dir.path(),
        &["render", "chain.ron", "text.wav", "-o", "x.wav"],
    );
    assert_fails(
        &out,
        2,
        &["`text.wav` is not an audio file lathe can read (WAV, FLAC, OGG Vorbis, MP3)"],
    );
    // The decoder's own log lines stay out of the way.
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    fs::write(dir.path().join("empty.flac"), "").unwrap();
    assert_usage_error(
        dir.path(),
        &["analyze", "empty.flac"],
        &["`empty.flac` is not an audio file lathe can read"],
    );
}

#[test]
fn wav_16_24_and_float_decode_exactly() {
    let dir = temp();
    for bits in [16u16, 24] {
        let path = dir.path().join(format!("i{bits}.wav"));
        let chans = [
            test_signal(3000, bits, 0.99, 0),
            test_signal(3000, bits, 0.3, 1),
        ];
        write_wav_int(&path, 44_100, bits, &chans);
        let audio = read_audio(&path).unwrap();
        assert_eq!(
            (audio.sample_rate_hz, audio.channel_count(), audio.frames()),
            (44_100, 2, 3000)
        );
        let scale = (1i64 << (bits - 1)) as f32;
        for (decoded, original) in audio.channels.iter().zip(&chans) {
            for (d, &o) in decoded.iter().zip(original) {
                // s / 2^(bits-1) is exact in f32 for 16 and 24 bits.
                assert_eq!(*d, o as f32 / scale, "{bits}-bit sample");
            }
        }
    }
    let path = dir.path().join("f32.wav");
    let chans: Vec<Vec<f32>> = (0..3)
        .map(|c| {
            (0..1000)
                .map(|i| ((i * (c + 1)) as f32 * 0.01).sin() * 1.5)
                .collect()
        })
        .collect();
    write_wav_f32(&path, 96_000, &chans);
    let audio = read_audio(&path).unwrap();
    assert_eq!(audio.sample_rate_hz, 96_000);
    assert_eq!(
        audio.channels, chans,
        "float samples, overs included, are kept bit-exact"
    );
}

#[test]
fn written_wav_round_trips_within_quantisation() {
    let dir = temp();
    let audio = demo_mix();
    let short = Audio {
        sample_rate_hz: audio.sample_rate_hz,
        channels: audio
            .channels
            .iter()
            .map(|c| c[..96_000].to_vec())
            .collect(),
    };
    for (format, lsb) in [
        (SampleFormat::Int16, 1.0 / 32_768.0),
        (SampleFormat::Int24, 1.0 / 8_388_608.0),
        (SampleFormat::Float32, 0.0),
    ] {
        let path = dir.path().join(format!("rt{}.wav", format.name()));
        write_wav(&path, &short, format).unwrap();
        let back = read_audio(&path).unwrap();
        let worst = short
            .channels
            .iter()
            .zip(&back.channels)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0.0f32, f32::max);
        // TPDF dither (±1 LSB) plus rounding (0.5 LSB).
        assert!(worst <= 1.5 * lsb, "{format:?}: worst error {worst}");
        // Writing twice gives the same bytes: the dither is seeded.
        let again = dir.path().join(format!("rt{}-again.wav", format.name()));
        write_wav(&again, &short, format).unwrap();
        assert_eq!(fs::read(&path).unwrap(), fs::read(&again).unwrap());
    }
}

#[test]
fn flac_decodes_exactly() {
    let dir = temp();
    // More than 128 FLAC frames, so multi-byte frame numbers are exercised too.
    let frames = 140 * FLAC_BLOCK + 123;
    for bits in [16u32, 24] {
        let chans = [
            test_signal(frames, bits as u16, 0.9, 0),
            test_signal(frames, bits as u16, 0.2, 1),
        ];
        let path = dir.path().join(format!("x{bits}.flac"));
        write_flac(&path, 48_000, bits, &chans);
        let audio = read_audio(&path).unwrap();
        assert_eq!(
            (audio.sample_rate_hz, audio.channel_count(), audio.frames()),
            (48_000, 2, frames)
        );
        let scale = (1i64 << (bits - 1)) as f32;
        for (decoded, original) in audio.channels.iter().zip(&chans) {
            assert!(
                decoded
                    .iter()
                    .zip(original)
                    .all(|(d, &o)| *d == o as f32 / scale)
            );
        }
    }
}

#[test]
fn flac_from_the_reference_encoder_decodes_exactly() {
    let Ok(status) = std::process::Command::new("flac").arg("--version").output() else {
        println!("notice: `flac` is not installed; skipping the reference-encoder FLAC test");
        return;
    };
    assert!(status.status.success());
    let dir = temp();
    let chans = [
        test_signal(50_000, 16, 0.8, 0),
        test_signal(50_000, 16, 0.4, 1),
    ];
    write_wav_int(&dir.path().join("src.wav"), 44_100, 16, &chans);
    let enc = std::process::Command::new("flac")
        .args(["--silent", "-8", "-o", "enc.flac", "src.wav"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(enc.success());
    let audio = read_audio(&dir.path().join("enc.flac")).unwrap();
    assert_eq!(audio.frames(), 50_000);
    for (decoded, original) in audio.channels.iter().zip(&chans) {
        assert!(
            decoded
                .iter()
                .zip(original)
                .all(|(d, &o)| *d == o as f32 / 32_768.0)
        );
    }
}

#[test]
fn corrupt_flac_names_the_file_and_the_time() {
    let dir = temp();
    let frames = 40 * FLAC_BLOCK;
    let chans = [
        test_signal(frames, 16, 0.9, 0),
        test_signal(frames, 16, 0.9, 1),
    ];
    let path = dir.path().join("broken.flac");
    write_flac(&path, 48_000, 16, &chans);
    let mut bytes = fs::read(&path).unwrap();
    // Damage audio bytes in the middle of frame 20 (header 42 bytes, ~16 KiB per frame).
    let frame_bytes = 4096 * 2 * 2 + 12;
    let at = 42 + 20 * frame_bytes + 5000;
    for b in &mut bytes[at..at + 64] {
        *b ^= 0x5a;
    }
    fs::write(&path, bytes).unwrap();
    assert_usage_error(
        dir.path(),
        &["analyze", "broken.flac"],
        &[
            "`broken.flac` is corrupt at 1.707 s: 4096 frames are missing (damaged data was skipped)",
        ],
    );
}

#[test]
fn cut_off_wav_is_reported_not_silently_shortened() {
    let dir = temp();
    let path = dir.path().join("cut.wav");
    write_wav_int(&path, 48_000, 16, &[test_signal(48_000, 16, 0.5, 0)]);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_usage_error(
        dir.path(),
        &["analyze", "cut.wav"],
        &["`cut.wav` is corrupt at 0.500 s: \
             the file ends after 23989 of the 48000 frames its header declares"],
    );
}

#[test]
fn mismatched_sample_rates_are_refused() {
    let dir = temp();
    write_wav_int(
        &dir.path().join("a.wav"),
        44_100,
        16,
        &[vec![0; 10], vec![0; 10]],
    );
    write_wav_int(
        &dir.path().join("b.wav"),
        48_000,
        16,
        &[vec![0; 10], vec![0; 10]],
    );
    fs::write(dir.path().join("g.ron"), "()").unwrap();
    assert_usage_error(
        dir.path(),
        &["render", "g.ron", "x=a.wav", "y=b.wav", "-o", "o.wav"],
        &["inputs differ in sample rate: `a.wav` is 44100 Hz, `b.wav` is 48000 Hz"],
    );
}

// ---- outputs ---------------------------------------------------------------------

#[test]
fn refuses_to_overwrite_an_input_however_it_is_spelt() {
    let dir = temp();
    song_and_graph(dir.path());
    fs::create_dir(dir.path().join("sub")).unwrap();
    let before = fs::read(dir.path().join("song.wav")).unwrap();
    for output in ["song.wav", "./song.wav", "sub/../song.wav"] {
        let out = lathe_in(
            dir.path(),
            &["render", "chain.ron", "song.wav", "-o", output],
        );
        let needle = format!("refusing to write `{output}`: it is the input file `song.wav`");
        assert_fails(&out, 2, &[&needle]);
    }
    #[cfg(unix)]
    {
        fs::hard_link(dir.path().join("song.wav"), dir.path().join("link.wav")).unwrap();
        assert_usage_error(
            dir.path(),
            &["render", "chain.ron", "song.wav", "-o", "link.wav"],
            &["refusing to write `link.wav`: it is the input file `song.wav`"],
        );
    }
    assert_usage_error(
        dir.path(),
        &["render", "chain.ron", "song.wav", "-o", "chain.ron"],
        &["refusing to write `chain.ron`: it is the graph file `chain.ron`"],
    );
    assert_usage_error(
        dir.path(),
        &[
            "render",
            "chain.ron",
            "song.wav",
            "-o",
            "x.wav",
            "--report",
            "song.wav",
        ],
        &["refusing to write `song.wav`: it is the input file `song.wav`"],
    );
    assert_eq!(fs::read(dir.path().join("song.wav")).unwrap(), before);
}

#[test]
fn output_in_a_missing_folder_is_refused_before_decoding() {
    let dir = temp();
    song_and_graph(dir.path());
    assert_usage_error(
        dir.path(),
        &["render", "chain.ron", "song.wav", "-o", "no/such/x.wav"],
        &["cannot write `no/such/x.wav`: folder `no/such` does not exist"],
    );
}

#[test]
fn a_failed_render_leaves_no_output_and_no_temp_file() {
    let dir = temp();
    song_and_graph(dir.path());
    let before = dir_entries(dir.path());
    // A graph that cannot be loaded fails the render after the inputs were decoded.
    fs::write(
        dir.path().join("chain.ron"),
        "(nodes: [(id: \"x\", kind: \"nope\")])",
    )
    .unwrap();
    let out = lathe_in(
        dir.path(),
        &["render", "chain.ron", "song.wav", "-o", "x.wav"],
    );
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(dir_entries(dir.path()), before);
}

#[test]
fn atomic_write_failure_keeps_the_old_file_and_leaves_no_temp() {
    let dir = temp();
    let path = dir.path().join("out.wav");
    fs::write(&path, b"previous render").unwrap();
    let err = lathe::atomic_file::write_atomically(&path, |w| {
        std::io::Write::write_all(w, &[0u8; 100_000])?;
        Err(std::io::Error::other("simulated disk full"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "simulated disk full");
    assert_eq!(fs::read(&path).unwrap(), b"previous render");
    assert_eq!(dir_entries(dir.path()), ["out.wav"]);
    // A write whose target is a folder fails before creating anything.
    fs::create_dir(dir.path().join("folder.wav")).unwrap();
    let audio = Audio::silence(48_000, 2, 10);
    assert!(write_wav(&dir.path().join("folder.wav"), &audio, SampleFormat::Int16).is_err());
    assert_eq!(dir_entries(dir.path()), ["folder.wav", "out.wav"]);
}

// ---- demo ------------------------------------------------------------------------

#[test]
fn demo_is_deterministic_with_the_promised_shape_and_level() {
    let start = std::time::Instant::now();
    let a = demo_mix();
    let elapsed = start.elapsed();
    let b = demo_mix();
    assert_eq!(a, b, "same samples every time");
    assert_eq!(a.sample_rate_hz, DEMO_SAMPLE_RATE_HZ);
    assert_eq!(a.sample_rate_hz, 48_000);
    assert_eq!(a.channel_count(), 2);
    assert_eq!(a.frames(), DEMO_FRAMES);
    assert!((a.duration_seconds() - 30.0).abs() < 1e-9);
    let peak_db = 20.0 * (a.sample_peak() as f64).log10();
    assert!((peak_db + 6.0).abs() < 0.01, "peak {peak_db:.3} dBFS");
    let mut meter =
        ebur128::EbuR128::new(2, 48_000, ebur128::Mode::I | ebur128::Mode::LRA).unwrap();
    meter
        .add_frames_planar_f32(&[&a.channels[0], &a.channels[1]])
        .unwrap();
    let lufs = meter.loudness_global().unwrap();
    // Measured -20.8 LUFS; an unmastered mix sits around -20.
    assert!((-22.0..=-19.0).contains(&lufs), "integrated {lufs:.2} LUFS");
    println!("demo: peak {peak_db:.2} dBFS, {lufs:.2} LUFS, generated in {elapsed:?}");
}

#[test]
fn demo_renders_through_a_unity_graph_bit_exactly() {
    let dir = temp();
    fs::write(
        dir.path().join("unity.ron"),
        "(nodes: [(id: \"g\", kind: \"gain\")], links: [\"in -> g -> out\"])",
    )
    .unwrap();
    let out = lathe_ok(
        dir.path(),
        &[
            "render",
            "unity.ron",
            "--demo",
            "-o",
            "demo.wav",
            "--bits",
            "32f",
        ],
    );
    let rendered = read_audio(&dir.path().join("demo.wav")).unwrap();
    assert_eq!(
        rendered,
        demo_mix(),
        "0 dB gain in float keeps every sample"
    );
    // The before/after table goes to stdout.
    let table = stdout(&out);
    assert!(
        table.contains("in: demo") && table.contains("out: demo.wav"),
        "{table}"
    );
    assert_eq!(dir_entries(dir.path()), ["demo.wav", "unity.ron"]);
}

#[test]
fn set_changes_the_render_and_the_report_records_it() {
    let dir = temp();
    song_and_graph(dir.path());
    let out = lathe_ok(
        dir.path(),
        &[
            "render",
            "chain.ron",
            "--demo",
            "-o",
            "quiet.wav",
            "--bits",
            "32f",
            "--set",
            "trim.gain_db=-6",
            "--quiet",
            "--report",
            "report.json",
        ],
    );
    assert_eq!(stdout(&out), "", "--quiet prints nothing");
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let before = &report["inputs"][0];
    let after = &report["outputs"][0];
    let lufs_in = before["integrated_lufs"].as_f64().unwrap();
    let lufs_out = after["integrated_lufs"].as_f64().unwrap();
    // The demo measures -20.8 LUFS; the gain takes 6 dB off every figure.
    assert!((lufs_in + 20.8).abs() < 0.1, "{lufs_in}");
    assert!(
        (lufs_in - lufs_out - 6.0).abs() < 0.01,
        "{lufs_in} -> {lufs_out}"
    );
    let peak_out = after["sample_peak_dbfs"].as_f64().unwrap();
    assert!((peak_out + 12.0).abs() < 0.01, "{peak_out}");
    assert_eq!(report["latency_frames"], 0);
    assert_eq!(report["block_frames"], 512);
    let out = lathe_in(
        dir.path(),
        &[
            "render",
            "chain.ron",
            "--demo",
            "-o",
            "x.wav",
            "--set",
            "trim.gian_db=-6",
        ],
    );
    assert_fails(
        &out,
        2,
        &[
            "--set: error: unknown param `trim.gian_db`",
            "did you mean `trim.gain_db`?",
        ],
    );
    assert!(!stderr(&out).starts_with("error: --set: error:"));
}

#[test]
fn render_is_identical_for_every_block_size_and_run() {
    let dir = temp();
    song_and_graph(dir.path());
    let mut files = Vec::new();
    for (i, block) in ["1", "7", "512", "65536"].iter().enumerate() {
        let name = format!("o{i}.wav");
        lathe_ok(
            dir.path(),
            &[
                "render",
                "chain.ron",
                "song.wav",
                "-o",
                &name,
                "--block-frames",
                block,
                "-q",
            ],
        );
        files.push(fs::read(dir.path().join(&name)).unwrap());
    }
    assert!(
        files.windows(2).all(|w| w[0] == w[1]),
        "24-bit dithered bytes differ"
    );
    let reader = hound::WavReader::open(dir.path().join("o0.wav")).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.bits_per_sample, spec.sample_rate, spec.channels),
        (24, 48_000, 2)
    );
    assert_eq!(reader.duration(), 4800, "as long as the input");
}

#[test]
fn sixteen_bit_output_is_dithered_and_clamped() {
    let dir = temp();
    song_and_graph(dir.path());
    // +24 dB drives the input far over full scale: the integer output must clamp.
    lathe_ok(
        dir.path(),
        &[
            "render",
            "chain.ron",
            "song.wav",
            "-o",
            "loud.wav",
            "--bits",
            "16",
            "--set",
            "trim.gain_db=24",
            "-q",
        ],
    );
    let mut reader = hound::WavReader::open(dir.path().join("loud.wav")).unwrap();
    assert_eq!(reader.spec().bits_per_sample, 16);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    assert!(samples.contains(&i16::MAX) && samples.contains(&i16::MIN));
}

#[test]
fn stems_map_to_input_buses_by_name() {
    let dir = temp();
    fs::write(
        dir.path().join("stems.ron"),
        r#"(
            inputs: {"drums": 2, "music": 2},
            nodes: [(id: "d", kind: "gain"), (id: "m", kind: "gain")],
            links: ["in.drums -> d -> out.main", "in.music -> m -> out.main"],
        )"#,
    )
    .unwrap();
    let a = test_signal(2000, 16, 0.25, 0);
    let b = test_signal(3000, 16, 0.25, 1);
    write_wav_int(
        &dir.path().join("d.wav"),
        48_000,
        16,
        &[a.clone(), a.clone()],
    );
    write_wav_int(
        &dir.path().join("m.wav"),
        48_000,
        16,
        &[b.clone(), b.clone()],
    );
    write_wav_int(
        &dir.path().join("mono.wav"),
        48_000,
        16,
        std::slice::from_ref(&b),
    );
    lathe_ok(
        dir.path(),
        &[
            "render",
            "stems.ron",
            "music=m.wav",
            "drums=d.wav",
            "-o",
            "mix.wav",
            "--bits",
            "32f",
            "-q",
        ],
    );
    let mix = read_audio(&dir.path().join("mix.wav")).unwrap();
    assert_eq!(
        mix.frames(),
        3000,
        "shorter stems are padded to the longest"
    );
    for i in [0, 1999, 2000, 2999] {
        let want = a.get(i).copied().unwrap_or(0) + b[i];
        assert_eq!(mix.channels[0][i], want as f32 / 32_768.0, "frame {i}");
    }
    assert_usage_error(
        dir.path(),
        &["render", "stems.ron", "d.wav", "-o", "x.wav"],
        &[
            "the graph has 2 input buses (`drums` (2 ch), `music` (2 ch)); give one input per bus as BUS=PATH",
        ],
    );
    assert_usage_error(
        dir.path(),
        &["render", "stems.ron", "drums=d.wav", "-o", "x.wav"],
        &["no input for the graph's input bus `music` (2 ch); give it as music=PATH"],
    );
    assert_usage_error(
        dir.path(),
        &[
            "render",
            "stems.ron",
            "drums=d.wav",
            "vocals=m.wav",
            "-o",
            "x.wav",
        ],
        &[
            "the graph has no input bus `vocals`; its input buses are `drums` (2 ch), `music` (2 ch)",
        ],
    );
    assert_usage_error(
        dir.path(),
        &[
            "render",
            "stems.ron",
            "drums=d.wav",
            "music=mono.wav",
            "-o",
            "x.wav",
        ],
        &["`mono.wav` has 1 channel(s) but input bus `music` takes 2"],
    );
    assert_usage_error(
        dir.path(),
        &[
            "render",
            "stems.ron",
            "drums=d.wav",
            "music=m.wav",
            "-o",
            "side=x.wav",
        ],
        &["the graph has no output bus `side`; its output buses are `main` (2 ch)"],
    );
}

#[test]
fn check_and_dot_describe_a_valid_graph() {
    let dir = temp();
    song_and_graph(dir.path());
    let out = lathe_ok(
        dir.path(),
        &["check", "chain.ron", "--set", "trim.gain_db=-1.5"],
    );
    let text = stdout(&out);
    for needle in [
        "chain.ron: ok",
        "inputs:  main (2 ch)",
        "trim (gain)",
        "trim.gain_db = -1.5 dB",
        "latency: 0 frames",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
    let out = lathe_ok(dir.path(), &["dot", "chain.ron"]);
    assert!(
        stdout(&out).starts_with("digraph lathe {"),
        "{}",
        stdout(&out)
    );
    assert_usage_error(
        dir.path(),
        &["check", "missing.ron"],
        &["missing.ron: error: cannot read graph file"],
    );
}

// ---- nodes and analyze -----------------------------------------------------------

#[test]
fn nodes_lists_and_describes_kinds() {
    let dir = temp();
    let out = lathe_in(dir.path(), &["nodes"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let gain = text.lines().find(|l| l.trim_start().starts_with("gain "));
    assert!(
        gain.is_some_and(|l| l.ends_with("Smoothed gain in dB on a bus of any width.")),
        "{text}"
    );
    let out = lathe_in(dir.path(), &["nodes", "gain"]);
    assert!(stdout(&out).contains("gain_db  -96 ..= 24 dB, default 0, smoothed 20 ms"));
    let out = lathe_in(dir.path(), &["nodes", "gain", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["params"][0]["name"], "gain_db");
    assert_usage_error(
        dir.path(),
        &["nodes", "gian"],
        &["unknown node kind `gian` (did you mean `gain`?); known kinds: "],
    );
}

#[test]
fn analyze_reports_peak_and_format_as_json() {
    let dir = temp();
    // A half-scale square wave: peak and RMS are both -6.02 dBFS.
    let square: Vec<i32> = (0..48_000)
        .map(|i| if (i / 24) % 2 == 0 { 16_384 } else { -16_384 })
        .collect();
    write_wav_int(
        &dir.path().join("sq.wav"),
        48_000,
        16,
        &[square.clone(), square],
    );
    let out = lathe_ok(dir.path(), &["analyze", "sq.wav", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &json["files"][0];
    assert_eq!(m["path"], "sq.wav");
    assert_eq!(m["sample_rate"], 48_000);
    assert_eq!(m["channels"], 2);
    assert_eq!(m["duration_s"], 1.0);
    let peak = m["sample_peak_dbfs"].as_f64().unwrap();
    assert!((peak + 6.02).abs() < 0.006, "{peak}");
    assert_eq!(
        json["album"]["integrated_lufs"], m["integrated_lufs"],
        "one file is the album"
    );
    assert!(m["integrated_lufs"].as_f64().is_some() && m["true_peak_dbtp"].as_f64().is_some());
    let out = lathe_in(dir.path(), &["analyze", "sq.wav"]);
    let text = stdout(&out);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("sample peak"))
        .unwrap();
    assert!(row.ends_with(" -6.02 dBFS"), "{text}");
}

#[test]
fn verbatim_flac_passes_the_reference_decoder() {
    let Ok(out) = std::process::Command::new("flac").arg("--version").output() else {
        println!("notice: `flac` is not installed; skipping the reference-decoder check");
        return;
    };
    assert!(out.status.success());
    let dir = temp();
    let frames = 130 * FLAC_BLOCK + 7;
    let chans = [
        test_signal(frames, 24, 0.9, 0),
        test_signal(frames, 24, 0.9, 1),
    ];
    write_flac(&dir.path().join("v.flac"), 96_000, 24, &chans);
    let test = std::process::Command::new("flac")
        .args(["--test", "--silent", "v.flac"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stderr)
    );
}

/// Encodes `src.wav` in `dir` with an external encoder; false (with a notice) when the
/// encoder is not installed.
fn encode_with(dir: &Path, program: &str, args: &[&str]) -> bool {
    match std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(_) => {
            println!("notice: `{program}` is not installed; skipping its lossy decoding check");
            false
        }
    }
}

#[test]
fn ogg_vorbis_and_mp3_decode_to_the_same_signal_level() {
    let dir = temp();
    // Two seconds of a 1 kHz sine at half scale (-9.03 dBFS RMS) on both channels.
    let sine: Vec<i32> = (0..88_200)
        .map(|i| ((i as f64 * 1000.0 * std::f64::consts::TAU / 44_100.0).sin() * 16_384.0) as i32)
        .collect();
    write_wav_int(
        &dir.path().join("src.wav"),
        44_100,
        16,
        &[sine.clone(), sine],
    );
    let cases = [
        (
            "oggenc",
            vec!["-Q", "-q", "6", "-o", "x.ogg", "src.wav"],
            "x.ogg",
        ),
        (
            "lame",
            vec!["--quiet", "-b", "192", "src.wav", "x.mp3"],
            "x.mp3",
        ),
    ];
    for (program, args, file) in cases {
        if !encode_with(dir.path(), program, &args) {
            continue;
        }
        let out = lathe_in(dir.path(), &["analyze", "src.wav", file, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (src, m) = (&json["files"][0], &json["files"][1]);
        assert_eq!(m["sample_rate"], 44_100, "{file}");
        assert_eq!(m["channels"], 2, "{file}");
        // Lossy codecs add encoder delay and padding: the length is close, not exact.
        let duration = m["duration_s"].as_f64().unwrap();
        assert!((duration - 2.0).abs() < 0.1, "{file}: {duration} s");
        // Same loudness as the source within the codecs' loss (measured: about 0.3 LU).
        let (a, b) = (
            src["integrated_lufs"].as_f64().unwrap(),
            m["integrated_lufs"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 0.5, "{file}: {b} LUFS vs source {a}");
    }
}

#[test]
fn scripts_tick_at_exact_frames_whatever_the_block_size() {
    let dir = temp();
    // Half a second in, the script turns the gain down by 6 dB (smoothed over 20 ms).
    fs::write(
        dir.path().join("ride.ron"),
        r#"(
            nodes: [
                (id: "trim", kind: "gain"),
                (id: "ctl", kind: "script", config: (
                    source: "fn tick(ctx) { if ctx.time_s >= 0.5 { ctx.set(\"trim.gain_db\", -6.0); } }",
                    rate_hz: 20,
                )),
            ],
            links: ["in -> trim -> out"],
        )"#,
    )
    .unwrap();
    let dc = vec![16_384; 48_000];
    write_wav_int(&dir.path().join("dc.wav"), 48_000, 16, &[dc.clone(), dc]);
    let mut renders = Vec::new();
    for block in ["7", "512", "4096"] {
        let name = format!("ride{block}.wav");
        lathe_ok(
            dir.path(),
            &[
                "render",
                "ride.ron",
                "dc.wav",
                "-o",
                &name,
                "--bits",
                "32f",
                "--block-frames",
                block,
                "-q",
            ],
        );
        renders.push(read_audio(&dir.path().join(&name)).unwrap());
    }
    assert!(
        renders.windows(2).all(|w| w[0] == w[1]),
        "block size changed the render"
    );
    let left = &renders[0].channels[0];
    // Untouched up to the tick at 0.5 s (frame 24000), then a ramp to -6 dB.
    assert!(left[..24_000].iter().all(|&s| s == 0.5), "before the tick");
    assert!(left[24_001] < 0.5, "the change starts on the tick's frame");
    let settled = 0.5 * 10f32.powf(-6.0 / 20.0);
    assert!(
        (left[26_000] - settled).abs() < 1e-6,
        "{} vs {settled}",
        left[26_000]
    );
}
