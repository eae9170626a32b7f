//! What the catalogue tests share: a small catalogue of synthetic albums, running the
//! real binary, and reading back a delivery tree.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const RATE: u32 = 48_000;
/// Track length: enough for gating, short enough for a quick test.
pub const SECONDS: f64 = 2.0;

pub const GRAPH: &str = r#"(
    nodes: [
        (id: "trim", kind: "gain"),
        (id: "limit", kind: "limiter", params: {"ceiling_dbtp": -1.0}),
    ],
    links: ["in -> trim -> limit -> out"],
)"#;

fn xorshift32(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}

/// Writes a stereo 32-bit float WAV of deterministic noise at RMS `level`.
pub fn write_noise(path: &Path, seed: u32, level: f32) {
    let frames = (SECONDS * f64::from(RATE)) as usize;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for i in 0..frames {
        let swell = 0.6 + 0.4 * (i as f32 / frames as f32 * 6.0).sin();
        for _ in 0..2 {
            let white = (xorshift32(&mut s) as f32 / u32::MAX as f32) * 2.0 - 1.0;
            w.write_sample(white * level * 1.73 * swell)
                .expect("sample");
        }
    }
    w.finalize().expect("finalize");
}

/// A catalogue of `albums` albums of `tracks` tracks in `dir` (`catalogue.csv`,
/// `master.ron`, inputs under `in/ARTIST/`), with two albums of the same title by
/// different artists and tracks of the same base name in different albums.
pub fn fixture(dir: &Path, albums: usize, tracks: usize) {
    std::fs::write(dir.join("master.ron"), GRAPH).expect("graph");
    let mut csv = String::from("path,album,artist,track,title,isrc\n");
    for a in 0..albums {
        let artist = format!("Artist {a}");
        let album = if a % 2 == 0 {
            "Greatest Hits".to_string()
        } else {
            format!("Album {a}")
        };
        for t in 1..=tracks {
            let path = format!("in/artist{a}/{t:02}.wav");
            let level = 0.05 * (1 + (a + t) % 4) as f32;
            write_noise(&dir.join(&path), (a * 100 + t) as u32, level);
            let isrc = if t == 1 {
                format!("GB-AAA-24-{:05}", a + 1)
            } else {
                String::new()
            };
            csv.push_str(&format!("{path},{album},{artist},{t},Song {t},{isrc}\n"));
        }
    }
    std::fs::write(dir.join("catalogue.csv"), csv).expect("catalogue");
}

/// Runs the lathe binary in `dir` with a fixed origination time (reproducible files).
pub fn lathe(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lathe"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("SOURCE_DATE_EPOCH", "1700000000");
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "AWS_BATCH_JOB_ARRAY_INDEX",
        "JOB_COMPLETION_INDEX",
        "LATHE_SHARD_COUNT",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the lathe binary runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `root` (not hidden folders), by relative path, with its bytes.
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path: PathBuf = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(&path).expect("readable"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The lines of every manifest of a run, parsed.
pub fn manifest_lines(out_dir: &Path) -> Vec<serde_json::Value> {
    let dir = out_dir.join(".lathe-catalog");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("manifest")
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<_>>()
        })
        .collect()
}
