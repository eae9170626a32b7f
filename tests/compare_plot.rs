//! `lathe compare` and `lathe plot` on synthetic signals with known spectra.

mod common;

use std::path::Path;

use common::{assert_fails, lathe_in, stderr, write_wav_f32};

const RATE: u32 = 48_000;

/// A sine at every 1/3-octave centre below 20 kHz, band k at `tilt_db * k` dB relative to
/// the first, with fixed spread phases; 3 s, stereo.
fn multisine(tilt_db: f64) -> Vec<Vec<f32>> {
    let frames = 3 * RATE as usize;
    let centres: Vec<f64> = (-17..=13)
        .map(|k| 1000.0 * 2f64.powf(f64::from(k) / 3.0))
        .collect();
    let signal: Vec<f32> = (0..frames)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            centres
                .iter()
                .enumerate()
                .map(|(k, f)| {
                    let amp = 0.02 * 10f64.powf(tilt_db * k as f64 / 20.0);
                    amp * (std::f64::consts::TAU * f * t + k as f64 * k as f64 * 0.7).sin()
                })
                .sum::<f64>() as f32
        })
        .collect();
    vec![signal.clone(), signal]
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_wav_f32(&dir.path().join("mix.wav"), RATE, &multisine(0.0));
    write_wav_f32(&dir.path().join("ref.wav"), RATE, &multisine(0.5));
    dir
}

/// Least-squares slope of `y` against its index.
fn slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        sxy += (i as f64 - mx) * (v - my);
        sxx += (i as f64 - mx).powi(2);
    }
    sxy / sxx
}

#[test]
fn compare_finds_the_tilt_and_the_match_eq_follows_it() {
    let dir = setup();
    let d = dir.path();
    let run = lathe_in(
        d,
        &[
            "compare",
            "mix.wav",
            "ref.wav",
            "--json",
            "--match-eq",
            "eq.ron",
            "--plot",
            "diff.png",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let diffs: Vec<f64> = json["bands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["difference_db"].as_f64())
        .collect();
    assert_eq!(diffs.len(), 31);
    // The reference rises 0.5 dB per 1/3 octave; tolerance 0.02 dB per band.
    let s = slope(&diffs);
    assert!((s - 0.5).abs() < 0.02, "slope {s}");
    // Matched loudness: the difference straddles zero.
    assert!(diffs[0] < -3.0 && diffs[30] > 0.0, "{diffs:?}");
    assert!(json["mix"]["correlation"].as_f64().unwrap() > 0.999);
    let eq = std::fs::read_to_string(d.join("eq.ron")).unwrap();
    let gains = eq_gains(&eq);
    // A low shelf, 29 bells, a high shelf, within the default 12 dB limit.
    assert_eq!(gains.len(), 31, "{eq}");
    assert!(gains.iter().all(|g| g.abs() <= 12.0), "bounded: {gains:?}");
    // The matched mix follows the tilt: what is left is small (tolerance 0.3 dB RMS).
    let tonal = &json["match"]["tonal_difference_rms_db"];
    assert!(tonal["before"].as_f64().unwrap() > 2.0, "{tonal}");
    assert!(tonal["after"].as_f64().unwrap() < 0.3, "{tonal}");
    assert!(std::fs::metadata(d.join("diff.png")).unwrap().len() > 1000);
    // The snippet is a valid eq node: a graph around it compiles.
    let graph = format!("(nodes: [{eq}], links: [\"in -> match_eq -> out\"])");
    std::fs::write(d.join("g.ron"), graph).unwrap();
    let check = lathe_in(d, &["check", "g.ron"]);
    assert!(check.status.success(), "{}", stderr(&check));
    // With a 2 dB limit no band goes beyond it.
    let capped = lathe_in(
        d,
        &[
            "compare",
            "mix.wav",
            "ref.wav",
            "--match-eq",
            "capped.ron",
            "--max-gain-db",
            "2",
        ],
    );
    assert!(capped.status.success(), "{}", stderr(&capped));
    let capped = eq_gains(&std::fs::read_to_string(d.join("capped.ron")).unwrap());
    assert!(capped.iter().all(|g| g.abs() <= 2.0), "{capped:?}");
    assert!(capped.iter().any(|g| g.abs() == 2.0), "{capped:?}");
}

fn eq_gains(ron: &str) -> Vec<f64> {
    ron.split("gain_db\": ")
        .skip(1)
        .map(|s| s.split(',').next().unwrap().trim().parse().unwrap())
        .collect()
}

#[test]
fn compare_refuses_different_rates() {
    let dir = setup();
    write_wav_f32(&dir.path().join("slow.wav"), 44_100, &[vec![0.1; 44_100]]);
    let run = lathe_in(dir.path(), &["compare", "mix.wav", "slow.wav"]);
    assert_fails(&run, 2, &["is 48000 Hz but `slow.wav` is 44100 Hz"]);
}

fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[1..4], b"PNG");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn plots_are_written_at_the_asked_size() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(
        d.join("eq.ron"),
        r#"(nodes: [(id: "eq", kind: "eq", config: (bands: [(type: "bell")]),
            params: {"band1.freq_hz": 1000, "band1.gain_db": 6.0})], links: ["in -> eq -> out"])"#,
    )
    .unwrap();
    let cases: [&[&str]; 4] = [
        &[
            "plot",
            "loudness",
            "mix.wav",
            "-o",
            "l.png",
            "--target-lufs",
            "-20",
            "--width",
            "800",
            "--height",
            "400",
        ],
        &[
            "plot",
            "spectrum",
            "mix.wav",
            "--reference",
            "ref.wav",
            "-o",
            "s.png",
            "--width",
            "640",
            "--height",
            "480",
        ],
        &[
            "plot", "response", "eq.ron", "-o", "r.png", "--width", "900", "--height", "700",
        ],
        &[
            "plot", "loudness", "mix.wav", "-o", "l.svg", "--width", "700", "--height", "300",
        ],
    ];
    for args in cases {
        let run = lathe_in(d, args);
        assert!(run.status.success(), "{args:?}: {}", stderr(&run));
    }
    assert_eq!(png_size(&d.join("l.png")), (800, 400));
    assert_eq!(png_size(&d.join("s.png")), (640, 480));
    assert_eq!(png_size(&d.join("r.png")), (900, 700));
    let svg = std::fs::read_to_string(d.join("l.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("width=\"700\"") && svg.contains("<polyline"),
        "{}",
        &svg[..200.min(svg.len())]
    );
    let graph = lathe_in(d, &["plot", "graph", "eq.ron", "-o", "g.svg"]);
    assert!(graph.status.success(), "{}", stderr(&graph));
    let written = if d.join("g.svg").exists() {
        "g.svg"
    } else {
        "g.dot"
    };
    let text = std::fs::read_to_string(d.join(written)).unwrap();
    assert!(text.contains("eq"), "{text}");
    let bad = lathe_in(d, &["plot", "loudness", "mix.wav", "-o", "x.jpg"]);
    assert_fails(&bad, 2, &["must end in .png or .svg"]);
}

#[test]
fn render_draws_the_loudness_of_its_output() {
    let dir = setup();
    let d = dir.path();
    std::fs::write(
        d.join("g.ron"),
        r#"(nodes: [(id: "trim", kind: "gain")], links: ["in -> trim -> out"])"#,
    )
    .unwrap();
    let run = lathe_in(
        d,
        &[
            "render", "g.ron", "mix.wav", "-o", "out.wav", "-q", "--plot", "loud.png",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(png_size(&d.join("loud.png")), (1200, 600));
    let bad = lathe_in(
        d,
        &[
            "render", "g.ron", "mix.wav", "-o", "out2.wav", "--plot", "loud.gif",
        ],
    );
    assert_fails(&bad, 2, &["must end in .png or .svg"]);
    assert!(!d.join("out2.wav").exists(), "refused before rendering");
}

#[test]
fn response_plots_each_node_alone_and_exports_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A +6 dB bell at 1 kHz between two -3 dB gains: alone the eq peaks at +6 dB, the
    // whole graph at 0 dB.
    std::fs::write(
        d.join("g.ron"),
        r#"(nodes: [
            (id: "pre", kind: "gain", params: {"gain_db": -3.0}),
            (id: "eq", kind: "eq", config: (bands: [(type: "bell")]),
             params: {"band1.freq_hz": 1000, "band1.gain_db": 6.0, "band1.q": 1.0}),
            (id: "xo", kind: "crossover", config: (freqs_hz: [500, 4000])),
            (id: "post", kind: "gain", params: {"gain_db": -3.0}),
            (id: "mix", kind: "mix", config: (inputs: 3)),
        ],
        links: ["in -> pre -> eq -> xo", "xo.band1 -> mix.in1", "xo.band2 -> mix.in2",
                "xo.band3 -> mix.in3", "mix -> post -> out"])"#,
    )
    .unwrap();
    let run = lathe_in(
        d,
        &[
            "plot", "response", "g.ron", "-o", "all.png", "--data", "all.csv", "--width", "1000",
            "--height", "800",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(png_size(&d.join("all.png")), (1000, 800));
    let csv = std::fs::read_to_string(d.join("all.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let curves: Vec<&str> = header[1..]
        .iter()
        .step_by(2)
        .map(|h| h.trim_end_matches(" gain_db"))
        .collect();
    assert_eq!(
        curves,
        ["eq", "xo.band1", "xo.band2", "xo.band3", "whole graph"],
        "eq and crossover nodes, one curve per band, then the whole graph"
    );
    // The row nearest 1 kHz: the eq alone at +6 dB, the whole graph at 0 dB.
    let row: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap())
                .collect::<Vec<f64>>()
        })
        .min_by(|a, b| (a[0] - 1000.0).abs().total_cmp(&(b[0] - 1000.0).abs()))
        .unwrap();
    assert!((row[1] - 6.0).abs() < 0.05, "eq at 1 kHz: {} dB", row[1]);
    assert!(row[9].abs() < 0.05, "whole graph at 1 kHz: {} dB", row[9]);

    let one = lathe_in(
        d,
        &[
            "plot", "response", "g.ron", "-o", "eq.svg", "--node", "eq", "--whole", "--data",
            "eq.csv",
        ],
    );
    assert!(one.status.success(), "{}", stderr(&one));
    let header = std::fs::read_to_string(d.join("eq.csv")).unwrap();
    assert!(header.starts_with(
        "freq_hz,eq gain_db,eq phase_deg,whole graph gain_db,whole graph phase_deg\n"
    ));
    let svg = std::fs::read_to_string(d.join("eq.svg")).unwrap();
    assert!(svg.contains("width=\"1200\"") && svg.contains("height=\"600\""));
    let bad = lathe_in(
        d,
        &["plot", "response", "g.ron", "-o", "x.png", "--node", "eqq"],
    );
    assert_fails(
        &bad,
        2,
        &["--node `eqq`: no such node", "its nodes: pre, eq, xo"],
    );
}
