//! What a new user meets first: the quick start masters to a loudness target, outputs
//! are what their names say, printing into a closed pipe ends quietly, and every example
//! in the help texts and the docs runs.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{
    assert_fails, assert_usage_error, lathe_in, lathe_ok, stderr, stdout, test_signal,
    write_wav_int,
};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn report_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("report JSON")
}

fn figure(v: &serde_json::Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
}

#[test]
fn target_lufs_masters_the_demo_to_the_target_under_the_ceiling() {
    let dir = temp();
    let graph = repo().join("graphs/master.ron");
    let out = lathe_ok(
        dir.path(),
        &[
            "render",
            graph.to_str().unwrap(),
            "--demo",
            "-o",
            "m.wav",
            "--target-lufs",
            "-14",
            "--report",
            "r.json",
        ],
    );
    let text = stdout(&out);
    assert!(text.contains("loudness: target -14.0 LUFS"), "{text}");
    let report = report_json(&dir.path().join("r.json"));
    let lufs = figure(&report, "/outputs/0/integrated_lufs");
    let peak = figure(&report, "/outputs/0/true_peak_dbtp");
    assert!((lufs + 14.0).abs() <= 0.3, "landed at {lufs} LUFS");
    assert!(peak <= -1.0 + 0.05, "true peak {peak} dBTP");
    assert!(figure(&report, "/leveling/gain_db") > 3.0, "{report}");
}

#[test]
fn a_preset_sets_the_target_ceiling_and_bit_depth() {
    let dir = temp();
    let graph = repo().join("graphs/master.ron");
    lathe_ok(
        dir.path(),
        &[
            "render",
            graph.to_str().unwrap(),
            "--demo",
            "-o",
            "m.wav",
            "--preset",
            "podcast",
            "--report",
            "r.json",
            "-q",
        ],
    );
    let report = report_json(&dir.path().join("r.json"));
    let lufs = figure(&report, "/outputs/0/integrated_lufs");
    assert!((lufs + 16.0).abs() <= 0.3, "landed at {lufs} LUFS");
    assert_eq!(report["leveling"]["preset"], "podcast");
    assert!(figure(&report, "/outputs/0/true_peak_dbtp") <= -1.0 + 0.05);

    // The cd preset: no loudness target, 16-bit, the true peak under -0.3 dBTP.
    lathe_ok(
        dir.path(),
        &[
            "render",
            graph.to_str().unwrap(),
            "--demo",
            "-o",
            "cd.wav",
            "--preset",
            "cd",
            "--set",
            "limit.ceiling_dbtp=0",
            "--report",
            "cd.json",
            "-q",
        ],
    );
    let wav = hound::WavReader::open(dir.path().join("cd.wav")).expect("a WAV");
    assert_eq!(wav.spec().bits_per_sample, 16, "the cd preset is 16-bit");
    let report = report_json(&dir.path().join("cd.json"));
    assert!(
        figure(&report, "/outputs/0/true_peak_dbtp") <= -0.3 + 0.05,
        "{report}"
    );
}

#[test]
fn without_a_target_a_quieter_master_says_how_to_reach_a_loudness() {
    let dir = temp();
    let graph = repo().join("graphs/master.ron");
    let out = lathe_ok(
        dir.path(),
        &["render", graph.to_str().unwrap(), "--demo", "-o", "m.wav"],
    );
    assert!(stdout(&out).contains("--target-lufs"), "{}", stdout(&out));
}

#[test]
fn an_output_extension_lathe_cannot_write_is_refused() {
    let dir = temp();
    let graph = repo().join("graphs/master.ron");
    assert_usage_error(
        dir.path(),
        &[
            "render",
            graph.to_str().unwrap(),
            "--demo",
            "-o",
            "out.aiff",
        ],
        &[
            "out.aiff",
            "WAV (.wav), FLAC (.flac), Opus (.opus), MP3 (.mp3) and AAC (.m4a)",
        ],
    );
    assert!(!dir.path().join("out.aiff").exists());
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    for args in [
        &["nodes", "--json"][..],
        &["nodes"],
        &["check", "graphs/master.ron"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lathe"))
            .args(args)
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lathe runs");
        // The reader goes away before lathe prints: its first write meets EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("lathe ends");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

/// Three seconds of the test signal at 48 kHz, 24-bit, with `channels` channels that are
/// all the same signal.
fn write_signal(path: &Path, channels: usize) {
    let plane = test_signal(3 * 48_000, 24, 0.5, 0);
    write_wav_int(path, 48_000, 24, &vec![plane; channels]);
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG"))
}

fn is_svg(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains("<svg"))
}

#[test]
fn plot_graph_writes_png_and_svg_with_and_without_graphviz() {
    let dir = temp();
    let graph = repo().join("graphs/master.ron");
    let graph = graph.to_str().unwrap();
    let graphviz = Command::new("dot").arg("-V").output().is_ok();
    if !graphviz {
        assert!(
            std::env::var("LATHE_REQUIRE_GRAPHVIZ").as_deref() != Ok("1"),
            "Graphviz is required (LATHE_REQUIRE_GRAPHVIZ=1) but `dot` is not installed"
        );
        eprintln!("notice: Graphviz `dot` is not installed; only lathe's own drawing is tested");
    }
    // An empty PATH hides Graphviz: lathe draws the picture itself.
    for (hide_graphviz, tag) in [(false, "dot"), (true, "own")] {
        for ext in ["png", "svg"] {
            let name = format!("{tag}.{ext}");
            let mut command = Command::new(env!("CARGO_BIN_EXE_lathe"));
            command
                .args(["plot", "graph", graph, "-o", &name])
                .current_dir(dir.path());
            if hide_graphviz {
                command.env("PATH", "");
            }
            let out = command.output().expect("lathe runs");
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let path = dir.path().join(&name);
            let right = if ext == "png" {
                is_png(&path)
            } else {
                is_svg(&path)
            };
            assert!(right, "{name} is not a {ext}");
        }
    }
    assert!(!dir.path().join("dot.dot").exists() && !dir.path().join("own.dot").exists());
    assert_usage_error(
        dir.path(),
        &["plot", "graph", graph, "-o", "graph.jpg"],
        &["graph.jpg", ".png, .svg or .dot"],
    );
    assert_usage_error(
        dir.path(),
        &["plot", "response", graph, "-o", "eq.pdf"],
        &["eq.pdf", "must end in .png or .svg"],
    );
}

#[test]
fn compare_matches_a_mono_file_to_a_stereo_mix_as_dual_mono() {
    let dir = temp();
    write_signal(&dir.path().join("stereo.wav"), 2);
    write_signal(&dir.path().join("mono.wav"), 1);
    let out = lathe_ok(dir.path(), &["compare", "stereo.wav", "mono.wav", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(figure(&json, "/match_gain_db").abs() < 0.05, "{json}");
    let bands = json["bands"].as_array().expect("bands");
    for band in bands {
        if let Some(d) = band["difference_db"].as_f64() {
            assert!(d.abs() < 0.05, "band {}: {d:+.2} dB", band["freq_hz"]);
        }
    }
    assert!(stderr(&out).contains("dual mono"), "{}", stderr(&out));
    // Layouts that do not map onto each other are refused.
    write_signal(&dir.path().join("six.wav"), 6);
    assert_usage_error(
        dir.path(),
        &["compare", "stereo.wav", "six.wav"],
        &["stereo.wav` has 2 channels but `six.wav` has 6"],
    );
}

#[test]
fn the_match_eq_has_the_bells_the_docs_promise() {
    let dir = temp();
    write_signal(&dir.path().join("a.wav"), 2);
    let brighter: Vec<i32> = test_signal(3 * 48_000, 24, 0.5, 7);
    write_wav_int(
        &dir.path().join("b.wav"),
        48_000,
        24,
        &[brighter.clone(), brighter],
    );
    lathe_ok(
        dir.path(),
        &["compare", "a.wav", "b.wav", "--match-eq", "m.ron"],
    );
    let text = std::fs::read_to_string(dir.path().join("m.ron")).expect("match EQ");
    let freqs: Vec<f64> = text
        .split("freq_hz\": ")
        .skip(1)
        .map(|rest| rest.split(',').next().unwrap().trim().parse().unwrap())
        .collect();
    let docs = std::fs::read_to_string(repo().join("docs/matching.md")).expect("matching.md");
    assert!(
        docs.contains("29 bells from 25 Hz to 16 kHz"),
        "docs/matching.md changed"
    );
    // A low shelf, 29 bells, a high shelf.
    assert_eq!(freqs.len(), 31, "{text}");
    assert!((freqs[1] - 25.0).abs() < 0.1, "first bell {} Hz", freqs[1]);
    assert!(
        (freqs[29] - 16_000.0).abs() < 1.0,
        "last bell {} Hz",
        freqs[29]
    );
}

#[test]
fn no_doc_asks_for_jack_development_files() {
    for doc in [
        "README.md",
        "docs/live.md",
        "docs/album.md",
        "docs/graph-format.md",
    ] {
        let text = std::fs::read_to_string(repo().join(doc)).expect("doc");
        assert!(
            !text.contains("libjack-jackd2-dev"),
            "{doc} asks for JACK development files, which the build does not need"
        );
    }
}

#[test]
fn outputs_in_missing_folders_are_refused_alike_before_any_work() {
    let dir = temp();
    write_signal(&dir.path().join("a.wav"), 2);
    for args in [
        &["plot", "loudness", "a.wav", "-o", "nowhere/l.png"][..],
        &["compare", "a.wav", "a.wav", "--match-eq", "nowhere/m.ron"],
        &["compare", "a.wav", "a.wav", "--plot", "nowhere/c.png"],
    ] {
        let out = lathe_in(dir.path(), args);
        assert_fails(&out, 2, &["folder `nowhere` does not exist"]);
        assert!(stdout(&out).is_empty(), "{args:?} printed before failing");
    }
}

#[test]
fn unnamed_stems_are_told_the_graph_s_bus_names() {
    let dir = temp();
    write_signal(&dir.path().join("a.wav"), 2);
    write_signal(&dir.path().join("b.wav"), 2);
    let graph = repo().join("graphs/stems.ron");
    assert_usage_error(
        dir.path(),
        &[
            "render",
            graph.to_str().unwrap(),
            "a.wav",
            "b.wav",
            "-o",
            "x.wav",
        ],
        &["music=a.wav vocals=b.wav"],
    );
}

/// Every `lathe ...` example a user can copy: the help texts, the fenced examples of
/// the README and the user docs, and the `// Render:` lines atop the shipped graphs.
/// Synopses (`[--opt X]`, `FILE`), globs, pipes, continued lines and `lathe run` (it
/// needs a JACK server; tests/jack_live.rs covers it) are left out.
fn examples() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let lathe = |args: &[&str]| stdout(&lathe_ok(repo(), args));
    let mut helps = vec![("lathe --help".to_string(), lathe(&["--help"]))];
    for cmd in [
        "render", "check", "dot", "nodes", "analyze", "album", "compare", "plot",
    ] {
        helps.push((format!("lathe {cmd} --help"), lathe(&[cmd, "--help"])));
    }
    for (origin, text) in helps {
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("lathe "))
        {
            found.push((origin.clone(), line.to_string()));
        }
    }
    let mut docs: Vec<_> = [
        "README.md",
        "docs/album.md",
        "docs/graph-format.md",
        "docs/live.md",
    ]
    .iter()
    .map(|d| repo().join(d))
    .collect();
    docs.extend(
        std::fs::read_dir(repo().join("graphs"))
            .expect("graphs/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "ron")),
    );
    for doc in docs {
        let text = std::fs::read_to_string(&doc).expect("doc");
        let is_graph = doc.extension().is_some_and(|e| e == "ron");
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if !fenced && !is_graph {
                continue;
            }
            // `// Render:   lathe render ...` in a graph or a fenced RON example.
            let command = line
                .strip_prefix("//")
                .map(|rest| rest.trim_start())
                .map(|rest| match rest.split_once(':') {
                    Some((label, after)) if !label.contains(' ') => after.trim_start(),
                    _ => rest,
                })
                .unwrap_or(line);
            let command = command
                .strip_prefix("cargo run --release -- ")
                .map(|rest| format!("lathe {rest}"))
                .unwrap_or_else(|| command.to_string());
            if command.starts_with("lathe ") {
                found.push((format!("{}:{}", doc.display(), n + 1), command));
            }
        }
    }
    found.retain(|(_, c)| {
        let synopsis = c.contains('[')
            || c.split_whitespace()
                .any(|w| w.len() > 1 && w.chars().all(|ch| ch.is_ascii_uppercase() || ch == '.'));
        !(synopsis
            || c.contains('*')
            || c.contains('|')
            || c.ends_with('\\')
            || c.starts_with("lathe run "))
    });
    found
}

/// A folder with what the examples name: the shipped graphs, the RON example of
/// docs/graph-format.md as chain.ron, and short stereo files under every audio name used.
fn example_dir() -> tempfile::TempDir {
    let dir = temp();
    let graphs = dir.path().join("graphs");
    std::fs::create_dir(&graphs).expect("graphs/");
    for entry in std::fs::read_dir(repo().join("graphs")).expect("graphs/") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, graphs.join(path.file_name().unwrap())).expect("copy");
    }
    let format = std::fs::read_to_string(repo().join("docs/graph-format.md")).expect("doc");
    let ron = format
        .split("```ron")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/graph-format.md starts with a RON example");
    std::fs::write(dir.path().join("chain.ron"), ron).expect("chain.ron");
    let plane = test_signal(2 * 48_000, 24, 0.5, 0);
    for name in [
        "song.wav",
        "mix.wav",
        "reference.wav",
        "ref.wav",
        "music.wav",
        "vocals.wav",
        "vocal.wav",
        "01.wav",
        "02.wav",
        "03.wav",
        "before.wav",
        "after.wav",
        "song-master.wav",
    ] {
        write_wav_int(
            &dir.path().join(name),
            48_000,
            24,
            &[plane.clone(), plane.clone()],
        );
    }
    common::write_flac(
        &dir.path().join("song.flac"),
        48_000,
        24,
        &[plane.clone(), plane],
    );
    dir
}

#[test]
fn every_example_in_the_help_and_the_docs_runs() {
    let examples = examples();
    assert!(
        examples.len() >= 20,
        "only {} examples found",
        examples.len()
    );
    let dir = example_dir();
    for (origin, command) in &examples {
        // `lathe dot g.ron > chain.dot`: the redirect is the shell's, not lathe's.
        let args_text = command.split(" > ").next().unwrap_or(command);
        let args: Vec<&str> = args_text.split_whitespace().skip(1).collect();
        let out = lathe_in(dir.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "the example `{command}` ({origin}) fails:\n{}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "{command}: {}",
            stderr(&out)
        );
    }
}

/// ffmpeg where installed; a missing one skips the test with a notice, unless
/// `LATHE_REQUIRE_FFMPEG=1` makes it a failure.
fn ffmpeg_available() -> bool {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("LATHE_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "ffmpeg is required (LATHE_REQUIRE_FFMPEG=1) but not installed"
        );
        eprintln!("notice: ffmpeg is not installed; skipping the lossy alignment test");
    }
    found
}

fn ffmpeg(dir: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", stderr(&out));
}

/// The first channel of interleaved stereo f32le bytes.
fn left_of_f32le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(8)
        .map(|frame| f32::from_le_bytes(frame[..4].try_into().unwrap()))
        .collect()
}

/// The lag (frames, `b` later than `a` when positive) within ±`max_lag` at which one
/// second of `a` from `start` best matches `b`.
fn best_lag(a: &[f32], b: &[f32], start: usize, max_lag: usize) -> i64 {
    let window = 48_000;
    let mut best = (f64::NEG_INFINITY, 0i64);
    for lag in -(max_lag as i64)..=max_lag as i64 {
        let sum: f64 = (start..start + window)
            .map(|i| f64::from(a[i]) * f64::from(b[(i as i64 + lag) as usize]))
            .sum();
        if sum > best.0 {
            best = (sum, lag);
        }
    }
    best.1
}

#[test]
fn mp3_and_m4a_inputs_come_out_aligned_and_as_long_as_ffmpeg_decodes_them() {
    if !ffmpeg_available() {
        return;
    }
    let dir = temp();
    let frames = 20 * 48_000;
    let left = test_signal(frames, 24, 0.5, 0);
    let right = test_signal(frames, 24, 0.5, 1);
    write_wav_int(&dir.path().join("clip.wav"), 48_000, 24, &[left, right]);
    std::fs::write(
        dir.path().join("unity.ron"),
        "(nodes: [(id: \"g\", kind: \"gain\")], links: [\"in -> g -> out\"])",
    )
    .unwrap();
    ffmpeg(
        dir.path(),
        &[
            "-i",
            "clip.wav",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
            "clip.mp3",
        ],
    );
    ffmpeg(
        dir.path(),
        &["-i", "clip.wav", "-c:a", "aac", "-b:a", "192k", "clip.m4a"],
    );
    let original = left_of_f32le(&{
        ffmpeg(dir.path(), &["-i", "clip.wav", "-f", "f32le", "clip.raw"]);
        std::fs::read(dir.path().join("clip.raw")).unwrap()
    });
    for lossy in ["clip.mp3", "clip.m4a"] {
        ffmpeg(
            dir.path(),
            &["-i", lossy, "-f", "f32le", "-ac", "2", "ref.raw"],
        );
        let reference = left_of_f32le(&std::fs::read(dir.path().join("ref.raw")).unwrap());
        lathe_ok(
            dir.path(),
            &[
                "render",
                "unity.ron",
                lossy,
                "-o",
                "out.wav",
                "--bits",
                "32f",
                "-q",
            ],
        );
        let mut wav = hound::WavReader::open(dir.path().join("out.wav")).expect("WAV");
        let ours: Vec<f32> = wav
            .samples::<f32>()
            .step_by(2)
            .map(|s| s.expect("sample"))
            .collect();
        // ffmpeg 5 drops an M4A's priming frames but keeps the padding at the end that
        // the edit list also excludes, so its M4A decode runs up to 1024 frames long.
        if lossy.ends_with(".mp3") {
            assert_eq!(
                ours.len(),
                reference.len(),
                "{lossy}: length against ffmpeg"
            );
        } else {
            assert!(reference.len() >= ours.len() && reference.len() - ours.len() < 1024);
        }
        assert_eq!(ours.len(), frames, "{lossy}: length against the original");
        assert_eq!(
            best_lag(&reference, &ours, 96_000, 3000),
            0,
            "{lossy} against ffmpeg"
        );
        assert_eq!(
            best_lag(&original, &ours, 96_000, 3000),
            0,
            "{lossy} against the original"
        );
    }
}

#[test]
fn a_failing_script_is_summarised_and_strict_refuses_the_output() {
    let dir = temp();
    write_signal(&dir.path().join("a.wav"), 2);
    std::fs::write(
        dir.path().join("bad.rhai"),
        "fn tick(ctx) {\n    ctx.meter(\"nowhere.level\");\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("g.ron"),
        "(nodes: [(id: \"g\", kind: \"gain\"), \
         (id: \"s\", kind: \"script\", config: (file: \"bad.rhai\", rate_hz: 10))], \
         links: [\"in -> g -> out\"])",
    )
    .unwrap();
    let out = lathe_ok(
        dir.path(),
        &["render", "g.ron", "a.wav", "-o", "x.wav", "-q"],
    );
    let err = stderr(&out);
    assert!(
        err.contains("script node `s`") && err.contains("stopped at 0.000 s"),
        "{err}"
    );
    assert!(err.contains("--strict"), "{err}");
    let out = lathe_in(
        dir.path(),
        &["render", "g.ron", "a.wav", "-o", "y.wav", "-q", "--strict"],
    );
    assert_fails(&out, 2, &["script node `s`", "no output was written"]);
    assert!(!dir.path().join("y.wav").exists());
    assert!(
        common::dir_entries(dir.path())
            .iter()
            .all(|n| !n.contains("y.wav")),
        "a temporary file was left"
    );
}

#[test]
fn a_band_out_of_range_says_how_many_bands_there_are() {
    let graph = repo().join("graphs/master.ron");
    assert_usage_error(
        repo(),
        &[
            "check",
            graph.to_str().unwrap(),
            "--set",
            "eq.band9.gain_db=1",
        ],
        &[
            "unknown param `eq.band9.gain_db`",
            "`eq` has 5 bands: band1..band5",
        ],
    );
}

#[test]
fn one_link_typo_is_one_problem() {
    let dir = temp();
    std::fs::write(
        dir.path().join("typo.ron"),
        "(nodes: [(id: \"g\", kind: \"gain\")], links: [\"in -> gg -> out\"])",
    )
    .unwrap();
    let out = lathe_in(dir.path(), &["check", "typo.ron"]);
    assert_fails(
        &out,
        2,
        &["link names unknown node `gg`", "1 problem found"],
    );
    assert_eq!(
        stderr(&out).matches("unknown node").count(),
        1,
        "{}",
        stderr(&out)
    );
}
