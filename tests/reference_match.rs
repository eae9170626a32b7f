//! `lathe compare --match` end to end: synthetic pairs whose difference is known (a mix
//! and the same mix through a known EQ curve, a tilt, a width change) are matched, the
//! match graph is rendered by `lathe render`, and the result is compared with the
//! reference again; and one pair of real tracks (Debian's `hyperrogue-music`).

mod common;

use std::path::Path;

use common::{assert_usage_error, lathe_in, lathe_ok, stderr, write_wav_f32, xorshift32};
use serde_json::Value;

const RATE: u32 = 48_000;

/// 6 s of stereo pink noise with structure: a mid and a quieter, differently coloured
/// side (so the mix has width), both slowly modulated in level.
fn structured_pink() -> Vec<Vec<f32>> {
    let frames = 6 * RATE as usize;
    let mut state = 0x9e37_79b9u32;
    let mut white = move || (xorshift32(&mut state) as f64 / u32::MAX as f64) * 2.0 - 1.0;
    // Paul Kellet's economical pink filter.
    let pink = |white: &mut dyn FnMut() -> f64| {
        let mut b = [0.0f64; 3];
        (0..frames)
            .map(|_| {
                let w = white();
                b[0] = 0.99765 * b[0] + w * 0.0990460;
                b[1] = 0.96300 * b[1] + w * 0.2965164;
                b[2] = 0.57000 * b[2] + w * 1.0526913;
                b[0] + b[1] + b[2] + w * 0.1848
            })
            .collect::<Vec<f64>>()
    };
    let mid = pink(&mut white);
    let side = pink(&mut white);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for i in 0..frames {
        let t = i as f64 / f64::from(RATE);
        let env = 0.6 + 0.4 * (std::f64::consts::TAU * 0.7 * t).sin();
        let (m, s) = (0.05 * env * mid[i], 0.02 * side[i]);
        left.push((m + s) as f32);
        right.push((m - s) as f32);
    }
    vec![left, right]
}

/// Writes `mix.wav`, and `ref.wav` = the mix through the graph `known` (its nodes list).
fn pair(dir: &Path, known: &str) {
    write_wav_f32(&dir.join("mix.wav"), RATE, &structured_pink());
    std::fs::write(
        dir.join("known.ron"),
        format!("(nodes: [{known}], links: [\"in -> known -> out\"])"),
    )
    .unwrap();
    lathe_ok(
        dir,
        &["render", "known.ron", "mix.wav", "-o", "ref.wav", "-q"],
    );
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = lathe_ok(dir, args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
}

/// Loudness-matched 1/3-octave differences, 25 Hz-20 kHz, of a `compare --json`.
fn differences(c: &Value) -> Vec<(f64, f64)> {
    c["bands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| (24.0..20_500.0).contains(&b["freq_hz"].as_f64().unwrap()))
        .filter_map(|b| Some((b["freq_hz"].as_f64()?, b["difference_db"].as_f64()?)))
        .collect()
}

fn rms(v: &[(f64, f64)]) -> f64 {
    (v.iter().map(|p| p.1 * p.1).sum::<f64>() / v.len() as f64).sqrt()
}

/// Matches mix.wav to the references, renders the match graph and compares the result
/// with `check_against`; returns (the match report, the comparison of the result).
fn match_and_check(dir: &Path, extra: &[&str], check_against: &str) -> (Value, Value) {
    let mut args = vec!["compare", "mix.wav", "--json", "--match", "m.ron"];
    args.extend_from_slice(extra);
    let report = json(dir, &args);
    lathe_ok(dir, &["render", "m.ron", "mix.wav", "-o", "out.wav", "-q"]);
    let after = json(dir, &["compare", "out.wav", check_against, "--json"]);
    (report, after)
}

/// Recovery tolerance of a known curve: every 1/3-octave band within 0.35 dB, RMS 0.15
/// dB (the fit's bells are a third of an octave apart; the known curves are smooth at
/// that scale), and the integrated loudness within 0.1 LU.
fn assert_recovered(report: &Value, after: &Value) {
    let before = differences(report);
    let left = differences(after);
    assert!(
        rms(&before) > 1.0,
        "the pair differs to begin with: {before:?}"
    );
    for (f, d) in &left {
        assert!(
            d.abs() < 0.35,
            "{f:.0} Hz is {d:+.2} dB off after the match: {left:?}"
        );
    }
    assert!(rms(&left) < 0.15, "RMS {:.3} dB: {left:?}", rms(&left));
    let gain = after["match_gain_db"].as_f64().unwrap();
    assert!(
        gain.abs() < 0.1,
        "loudness {gain:+.3} LU from the reference"
    );
    let m = &report["match"];
    let lufs = &m["integrated_lufs"];
    let off = lufs["after"].as_f64().unwrap() - lufs["reference"].as_f64().unwrap();
    assert!(off.abs() < 0.1, "the report says {off:+.3} LU");
}

#[test]
fn a_known_eq_curve_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pair(
        d,
        r#"(id: "known", kind: "eq", config: (bands: [(type: "low_shelf"), (type: "bell"), (type: "bell"), (type: "high_shelf")]),
            params: {"band1.freq_hz": 120, "band1.gain_db": 4.0, "band2.freq_hz": 800, "band2.gain_db": -3.0, "band2.q": 1.2,
                     "band3.freq_hz": 3500, "band3.gain_db": 2.5, "band3.q": 1.5, "band4.freq_hz": 9000, "band4.gain_db": -5.0})"#,
    );
    let (report, after) = match_and_check(d, &["ref.wav"], "ref.wav");
    assert_recovered(&report, &after);
    // The match graph is ordinary: `lathe check` accepts it and its nodes are named.
    let check = lathe_in(d, &["check", "m.ron"]);
    assert!(check.status.success(), "{}", stderr(&check));
    let graph = std::fs::read_to_string(d.join("m.ron")).unwrap();
    for id in ["match_eq", "match_width", "match_gain"] {
        assert!(graph.contains(&format!("id: \"{id}\"")), "{graph}");
    }
}

#[test]
fn a_tilt_and_a_level_change_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pair(
        d,
        r#"(id: "known", kind: "eq", config: (bands: [(type: "tilt", order: 1)]),
            params: {"band1.freq_hz": 1000, "band1.gain_db": 3.0})"#,
    );
    // The reference is also 4 dB louder: the gain finds it.
    std::fs::write(
        d.join("louder.ron"),
        r#"(nodes: [(id: "g", kind: "gain", params: {"gain_db": 4.0})], links: ["in -> g -> out"])"#,
    )
    .unwrap();
    lathe_ok(
        d,
        &["render", "louder.ron", "ref.wav", "-o", "ref4.wav", "-q"],
    );
    let (report, after) = match_and_check(d, &["ref4.wav"], "ref4.wav");
    assert_recovered(&report, &after);
}

#[test]
fn a_width_change_is_recovered_band_by_band() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The reference: the side 5 dB up above 3 kHz and 4 dB down below 150 Hz.
    pair(
        d,
        r#"(id: "known", kind: "eq", config: (bands: [(type: "high_shelf", channel: "side"), (type: "low_shelf", channel: "side")]),
            params: {"band1.freq_hz": 3000, "band1.gain_db": 5.0, "band2.freq_hz": 150, "band2.gain_db": -4.0})"#,
    );
    let (report, after) = match_and_check(d, &["ref.wav"], "ref.wav");
    let regions = report["match"]["width"].as_array().unwrap();
    assert_eq!(regions.len(), 3);
    let mut moved = 0.0f64;
    for r in regions {
        let a = &r["side_minus_mid_db"];
        let (before, after, reference) = (
            a["before"].as_f64().unwrap(),
            a["after"].as_f64().unwrap(),
            a["reference"].as_f64().unwrap(),
        );
        moved = moved.max((reference - before).abs());
        // Tolerance: 0.5 dB per region (octave-wide side bells against shelves).
        assert!((after - reference).abs() < 0.5, "{r} in {regions:?}");
    }
    assert!(moved > 3.0, "the width differed to begin with: {regions:?}");
    // The mean spectrum (channels averaged = the mid) is untouched by side EQ, and the
    // loudness still lands on the reference.
    let gain = after["match_gain_db"].as_f64().unwrap();
    assert!(
        gain.abs() < 0.1,
        "loudness {gain:+.3} LU from the reference"
    );
    assert!(rms(&differences(&after)) < 0.2, "{:?}", differences(&after));
}

#[test]
fn several_references_are_averaged_weighted_and_their_spread_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tilt = |db: f64| {
        format!(
            r#"(id: "known", kind: "eq", config: (bands: [(type: "tilt", order: 1)]),
                params: {{"band1.freq_hz": 1000, "band1.gain_db": {db}}})"#
        )
    };
    pair(d, &tilt(2.0));
    std::fs::rename(d.join("ref.wav"), d.join("bright.wav")).unwrap();
    pair(d, &tilt(-2.0));
    std::fs::rename(d.join("ref.wav"), d.join("dark.wav")).unwrap();
    // Equal weights: the average of +2 and -2 dB tilts is the mix itself.
    let (report, after) = match_and_check(
        d,
        &["--reference", "bright.wav", "--reference", "dark.wav"],
        "mix.wav",
    );
    let spread = report["reference_spread_rms_db"].as_f64().unwrap();
    assert!(spread > 1.0, "the references disagree: {spread}");
    assert_eq!(report["references"].as_array().unwrap().len(), 2);
    // A tilt in dB is not symmetric in power once loudness-normalised, so the average is
    // the mix within 0.3 dB per band.
    for (f, d) in differences(&report) {
        assert!(d.abs() < 0.3, "{f:.0} Hz: {d:+.2} dB");
    }
    let lufs = &report["match"]["integrated_lufs"];
    assert!((lufs["after"].as_f64().unwrap() - lufs["reference"].as_f64().unwrap()).abs() < 0.1);
    assert!(rms(&differences(&after)) < 0.3, "{:?}", differences(&after));
    // Weights 3:1 pull the match toward the bright one: half of its tilt (a +-2 dB tilt
    // spans 4 dB; the average of 3 x +2 and 1 x -2 spans 2 dB), within 0.5 dB.
    let (weighted, _) = match_and_check(
        d,
        &[
            "--reference",
            "bright.wav",
            "--reference",
            "dark.wav",
            "--weight",
            "3",
            "--weight",
            "1",
        ],
        "bright.wav",
    );
    let diffs = differences(&weighted);
    let (low, high) = (diffs[0].1, diffs[diffs.len() - 1].1);
    assert!(
        (high - low - 2.0).abs() < 0.5,
        "weighted toward bright: {diffs:?}"
    );
    assert_usage_error(
        d,
        &[
            "compare",
            "mix.wav",
            "--reference",
            "bright.wav",
            "--weight",
            "1",
            "--weight",
            "2",
        ],
        &["2 --weight values for 1 references"],
    );
    assert_usage_error(d, &["compare", "mix.wav"], &["no reference"]);
}

#[test]
fn strength_scales_each_aspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pair(
        d,
        r#"(id: "known", kind: "eq", config: (bands: [(type: "tilt", order: 1)]),
            params: {"band1.freq_hz": 1000, "band1.gain_db": 3.0})"#,
    );
    let report = json(
        d,
        &[
            "compare",
            "mix.wav",
            "ref.wav",
            "--json",
            "--match",
            "half.ron",
            "--eq-strength",
            "50",
        ],
    );
    let t = &report["match"]["tonal_difference_rms_db"];
    let (before, after) = (t["before"].as_f64().unwrap(), t["after"].as_f64().unwrap());
    // Half the correction leaves half the difference; tolerance 10 % of it.
    assert!(
        (after - before / 2.0).abs() < 0.1 * before,
        "{before} -> {after}"
    );
    // The loudness still goes all the way.
    let l = &report["match"]["integrated_lufs"];
    assert!((l["after"].as_f64().unwrap() - l["reference"].as_f64().unwrap()).abs() < 0.1);
    // Loudness strength 0 keeps the mix's loudness.
    let report = json(
        d,
        &[
            "compare",
            "mix.wav",
            "ref.wav",
            "--json",
            "--match",
            "q.ron",
            "--loudness-strength",
            "0",
        ],
    );
    let l = &report["match"]["integrated_lufs"];
    assert!(
        (l["after"].as_f64().unwrap() - l["before"].as_f64().unwrap()).abs() < 0.1,
        "{l}"
    );
}

#[test]
fn the_fitted_bands_sit_where_the_docs_say() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pair(
        d,
        r#"(id: "known", kind: "gain", params: {"gain_db": 1.0})"#,
    );
    lathe_ok(
        d,
        &["compare", "mix.wav", "ref.wav", "--match-eq", "eq.ron"],
    );
    let text = std::fs::read_to_string(d.join("eq.ron")).unwrap();
    let freqs: Vec<f64> = text
        .split("freq_hz\": ")
        .skip(1)
        .map(|rest| rest.split(',').next().unwrap().trim().parse().unwrap())
        .collect();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/matching.md"))
            .unwrap();
    assert!(
        docs.contains("a low shelf at 25 Hz, 29 bells from 25 Hz to 16 kHz a third of an octave apart, a high shelf at 16 kHz"),
        "docs/matching.md changed"
    );
    assert_eq!(freqs.len(), 31, "{text}");
    assert!((freqs[0] - 25.0).abs() < 0.1 && text.contains("(type: \"low_shelf\")"));
    for (k, f) in freqs[1..30].iter().enumerate() {
        let want = 25.0 * (640f64).powf(k as f64 / 28.0);
        assert!(
            (f - want).abs() < 0.06 + want * 1e-3,
            "bell {k}: {f} Hz, want {want:.1}"
        );
    }
    assert!((freqs[29] - 16_000.0).abs() < 0.1 && (freqs[30] - 16_000.0).abs() < 0.1);
}

/// The first ogg of Debian's `hyperrogue-music` that exists, by name.
fn track(name: &str) -> Option<std::path::PathBuf> {
    let p = Path::new("/usr/share/hyperrogue/music").join(name);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("LATHE_REQUIRE_MUSIC").as_deref() != Ok("1"),
        "Debian's hyperrogue-music is required (LATHE_REQUIRE_MUSIC=1) but {} is missing",
        p.display()
    );
    eprintln!("notice: hyperrogue-music is not installed; skipping the real-music match test");
    None
}

#[test]
fn real_music_is_matched_to_within_the_fit_s_resolution() {
    let (Some(mix), Some(reference)) = (track("hr3-caves.ogg"), track("hr-savino-palace.ogg"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mix, reference) = (mix.to_str().unwrap(), reference.to_str().unwrap());
    let report = json(
        d,
        &["compare", mix, reference, "--json", "--match", "m.ron"],
    );
    lathe_ok(d, &["render", "m.ron", mix, "-o", "out.wav", "-q"]);
    let after = json(d, &["compare", "out.wav", reference, "--json"]);
    let (before, left) = (rms(&differences(&report)), rms(&differences(&after)));
    // The resolution of the fit: what its cascade cannot follow of the smoothed target
    // (reported as fit_residual_rms_db), plus 0.25 dB for the 1/3-octave bands reading
    // a 24-points-per-octave curve through different windows.
    let resolution = report["match"]["fit_residual_rms_db"].as_f64().unwrap() + 0.25;
    assert!(before > 3.0, "the tracks differ: {before}");
    assert!(
        left < resolution,
        "{before:.2} dB -> {left:.2} dB, resolution {resolution:.2} dB"
    );
    let gain = after["match_gain_db"].as_f64().unwrap();
    assert!(
        gain.abs() < 0.1,
        "loudness {gain:+.3} LU from the reference"
    );
}

#[test]
fn dynamics_are_reported_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The reference: the mix pushed 12 dB into a limiter at -1 dBTP, so denser (lower
    // PLR) and louder.
    pair(
        d,
        r#"(id: "known", kind: "limiter", params: {"input_gain_db": 12.0, "ceiling_dbtp": -1.0})"#,
    );
    let report = json(
        d,
        &[
            "compare", "mix.wav", "ref.wav", "--json", "--match", "m.ron",
        ],
    );
    let m = &report["match"];
    let plr = &m["plr_db"];
    let (before, reference) = (
        plr["before"].as_f64().unwrap(),
        plr["reference"].as_f64().unwrap(),
    );
    assert!(before - reference > 3.0, "{plr}");
    let text = m["dynamics_suggestion"].as_str().unwrap();
    assert!(text.contains("the reference is denser"), "{text}");
    // The loudness gain alone pushes the peaks over -1 dBTP: the report says so.
    assert!(m["true_peak_dbtp"]["after"].as_f64().unwrap() > -1.0);
    assert!(
        text.contains("put a `limiter` after `match_gain`"),
        "{text}"
    );
}

#[test]
fn a_silent_mix_is_plotted_but_not_matched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pair(d, r#"(id: "known", kind: "gain")"#);
    write_wav_f32(
        &d.join("silent.wav"),
        RATE,
        &[vec![0.0; 48_000], vec![0.0; 48_000]],
    );
    let plot = lathe_in(d, &["compare", "silent.wav", "ref.wav", "--plot", "p.png"]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    assert_usage_error(
        d,
        &["compare", "silent.wav", "ref.wav", "--match", "m.ron"],
        &["`silent.wav` has no measurable loudness (silent?); there is nothing to match"],
    );
    assert!(!d.join("m.ron").exists());
}
