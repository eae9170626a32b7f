//! `lathe analyze --platforms`: each platform's gain, playback loudness and peak rule for a
//! real file, against figures computed by hand from the file's own measurements.

mod common;

use common::{assert_usage_error, lathe_ok, stdout, write_wav_f32};

/// A 997 Hz stereo sine of `peak` amplitude, 5 s at 48 kHz.
fn sine(peak: f32) -> Vec<Vec<f32>> {
    let wave: Vec<f32> = (0..240_000)
        .map(|i| peak * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / 48_000.0).sin())
        .collect();
    vec![wave.clone(), wave]
}

fn previews(dir: &std::path::Path, file: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let out = lathe_ok(dir, &["analyze", file, "--platforms", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let f = report["files"][0].clone();
    let p = f["platforms"].as_array().expect("previews").clone();
    (f, p)
}

fn row<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["platform"] == name)
        .expect("platform row")
}

fn close(a: &serde_json::Value, b: f64) {
    let a = a.as_f64().expect("a number");
    assert!((a - b).abs() <= 0.011, "{a} != {b}");
}

/// A full-scale 997 Hz sine in both channels reads 0 LUFS (EBU Tech 3341), so a sine of
/// amplitude `a` reads 20 log10(a) LUFS.
fn sine_lufs(peak: f64) -> f64 {
    20.0 * peak.log10()
}

#[test]
fn a_loud_master_is_turned_down_by_target_minus_loudness() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_wav_f32(&dir.path().join("loud.wav"), 48_000, &sine(0.9));
    let (file, rows) = previews(dir.path(), "loud.wav");
    let lufs = sine_lufs(0.9); // -0.92 LUFS, and a true peak of -0.92 dBTP
    close(&file["integrated_lufs"], lufs);
    // By hand: every platform turns it down to its target, so the gain is target - I.
    for (name, target) in [
        ("spotify", -14.0),
        ("apple-music", -16.0),
        ("youtube", -14.0),
        ("deezer", -15.0),
        ("spotify-loud", -11.0),
    ] {
        let r = row(&rows, name);
        close(&r["gain_db"], target - lufs);
        close(&r["playback_lufs"], target);
        close(&r["playback_true_peak_dbtp"], lufs + target - lufs);
        close(&r["limiter_db"], 0.0);
    }
}

#[test]
fn a_quiet_master_with_a_hot_peak_meets_the_peak_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A sine at -20.92 LUFS with one sample at 0.95 (-0.45 dBFS): too little energy to
    // move the loudness, enough to stop a turn-up.
    let mut audio = sine(0.09);
    audio[0][100_000] = 0.95;
    write_wav_f32(&dir.path().join("quiet.wav"), 48_000, &audio);
    let (file, rows) = previews(dir.path(), "quiet.wav");
    let lufs = sine_lufs(0.09);
    close(&file["integrated_lufs"], lufs);
    close(&file["sample_peak_dbfs"], sine_lufs(0.95));
    let tp = file["true_peak_dbtp"].as_f64().expect("true peak");
    // YouTube does not turn up.
    close(&row(&rows, "youtube")["gain_db"], 0.0);
    // Spotify normal wants +6.92 dB but may lift only to -1 dBTP: -1 - TP (about -0.55).
    let spotify = row(&rows, "spotify");
    close(&spotify["gain_db"], (-1.0 - tp).max(0.0));
    close(
        &spotify["peak_rule_withheld_db"],
        -14.0 - lufs - (-1.0 - tp).max(0.0),
    );
    // Spotify loud applies +9.92 dB and its limiter takes the sample peak back to -1 dBFS:
    // -0.45 + 9.92 + 1 = 10.47 dB.
    let loud = row(&rows, "spotify-loud");
    close(&loud["gain_db"], -11.0 - lufs);
    close(&loud["limiter_db"], sine_lufs(0.95) + (-11.0 - lufs) + 1.0);
}

#[test]
fn a_users_table_replaces_the_built_in_one_and_bad_tables_name_the_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_wav_f32(&dir.path().join("a.wav"), 48_000, &sine(0.9));
    std::fs::write(
        dir.path().join("mine.ron"),
        r#"(platforms: [(name: "radio", label: "Radio", target_lufs: -23.0, turns_up: true,
            peak_rule: CapGain(max_true_peak_dbtp: -2.0), source: "https://example.org",
            retrieved: "2026-12-06", note: "ours")])"#,
    )
    .expect("write table");
    let out = lathe_ok(dir.path(), &["analyze", "a.wav", "--platforms=mine.ron"]);
    let text = stdout(&out);
    assert!(
        text.contains("radio") && !text.contains("spotify"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("bad.ron"),
        "(platforms: [(name: \"x\", oops: 1)])",
    )
    .expect("write table");
    assert_usage_error(
        dir.path(),
        &["analyze", "a.wav", "--platforms=bad.ron"],
        &["bad.ron:1:"],
    );
}
