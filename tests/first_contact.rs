//! What a new user meets first: the quick start masters to a loudness target, outputs
//! are what their names say, printing into a closed pipe ends quietly, and every example
//! in the help texts and the docs runs.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{assert_usage_error, lathe_ok, stderr, stdout};

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
        &["render", graph.to_str().unwrap(), "--demo", "-o", "out.mp3"],
        &["out.mp3", "WAV (.wav) and FLAC (.flac)"],
    );
    assert!(!dir.path().join("out.mp3").exists());
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
