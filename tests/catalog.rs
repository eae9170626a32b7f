//! `lathe catalog` end to end on a small catalogue of synthetic albums: shards against
//! one process, resume after changes and after a kill, a corrupt track, refused
//! templates and collisions, provenance in the delivered files.

mod catalog_support;

use std::path::Path;
use std::time::{Duration, Instant};

use catalog_support::{fixture, lathe, manifest_lines, text, tree, write_noise};
use lathe::album::metadata::parse_coding_history;
use lathe::album::wav::read_chunks;

const RUN: [&str; 6] = [
    "catalog",
    "run",
    "master.ron",
    "catalogue.csv",
    "--preset",
    "streaming",
];

fn run(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = RUN.to_vec();
    args.extend(["-o", out]);
    args.extend(extra);
    lathe(dir, &args, &[])
}

#[test]
fn shards_cover_every_unit_once_and_match_one_process_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 5, 2);
    let one = run(dir.path(), "one", &["--jobs", "2"]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    for i in 0..3 {
        let shard = format!("{i}/3");
        let o = run(
            dir.path(),
            "sharded",
            &["--shard", &shard, "--jobs", "1", "--quiet"],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let a = tree(&dir.path().join("one"));
    let b = tree(&dir.path().join("sharded"));
    assert_eq!(a.len(), 10, "{:?}", a.keys().collect::<Vec<_>>());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between one process and shards"
        );
    }
    // Same album title by two artists, same base names: distinct outputs.
    assert!(a.contains_key("Artist 0/Greatest Hits/01 Song 1.wav"));
    assert!(a.contains_key("Artist 2/Greatest Hits/01 Song 1.wav"));

    // Every unit recorded exactly once over the three task manifests.
    let lines = manifest_lines(&dir.path().join("sharded"));
    let mut units: Vec<&str> = lines.iter().map(|l| l["unit"].as_str().unwrap()).collect();
    units.sort();
    let before = units.len();
    units.dedup();
    assert_eq!((before, units.len()), (5, 5), "{units:?}");
    let merged = dir.path().join("merged.json");
    let csv = dir.path().join("merged.csv");
    let m = lathe(
        dir.path(),
        &[
            "catalog",
            "merge",
            "catalogue.csv",
            "-o",
            "sharded",
            "--json",
            merged.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(m.status.code(), Some(0), "{}", text(&m));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    assert_eq!(report["summary"]["done"], 5);
    assert_eq!(report["summary"]["pending"], 0);
    // The recorded output hashes are those of the single-process files.
    for unit in report["units"].as_array().unwrap() {
        for t in unit["record"]["tracks"].as_array().unwrap() {
            let out = t["output"].as_str().unwrap();
            let bytes = &a[out];
            let sha = format!("{:x}", sha256(bytes));
            assert_eq!(t["output_sha256"].as_str().unwrap(), sha, "{out}");
        }
    }
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 11);

    // Provenance: the graph hash and the version in the BWF coding history.
    let graph_sha = lines[0]["graph_sha256"].as_str().unwrap().to_string();
    let wav = &a["Artist 1/Album 1/02 Song 2.wav"];
    let bext = read_chunks(wav)
        .into_iter()
        .find(|c| &c.0 == b"bext")
        .expect("a bext chunk")
        .1;
    let history = parse_coding_history(bext);
    assert!(history.contains(&graph_sha), "{history}");
    assert!(
        history.contains(concat!("T=lathe ", env!("CARGO_PKG_VERSION"))),
        "{history}"
    );
}

/// SHA-256 through the same crate the binary uses.
fn sha256(bytes: &[u8]) -> impl std::fmt::LowerHex {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
}

#[test]
fn a_rerun_skips_what_is_done_and_redoes_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 3, 2);
    let status = ["catalog", "status", "catalogue.csv", "-o", "out"];
    let pending = lathe(dir.path(), &status, &[]);
    assert_eq!(pending.status.code(), Some(4), "{}", text(&pending));
    assert!(String::from_utf8_lossy(&pending.stdout).contains("0 done, 0 failed, 3 pending"));
    let first = run(dir.path(), "out", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let again = run(dir.path(), "out", &[]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 mastered, 3 already done"),
        "{}",
        text(&again)
    );
    // A changed input, and a delivered file damaged afterwards: those two units only.
    write_noise(&dir.path().join("in/artist0/02.wav"), 999, 0.1);
    std::fs::write(
        dir.path().join("out/Artist 1/Album 1/01 Song 1.wav"),
        b"damaged",
    )
    .unwrap();
    let third = run(dir.path(), "out", &[]);
    assert!(
        String::from_utf8_lossy(&third.stdout).contains("2 mastered, 1 already done"),
        "{}",
        text(&third)
    );
    // Another graph: everything again.
    let graph = std::fs::read_to_string(dir.path().join("master.ron")).unwrap();
    std::fs::write(dir.path().join("master.ron"), graph.replace("-1.0", "-1.5")).unwrap();
    let fourth = run(dir.path(), "out", &[]);
    assert!(
        String::from_utf8_lossy(&fourth.stdout).contains("3 mastered, 0 already done"),
        "{}",
        text(&fourth)
    );
    // The chain moved into a subgraph: the graph's files changed, everything again; then an
    // edit of the subgraph alone redoes every unit too.
    let chain = std::fs::read_to_string(dir.path().join("master.ron")).unwrap();
    std::fs::write(dir.path().join("chain.ron"), &chain).unwrap();
    std::fs::write(
        dir.path().join("master.ron"),
        "(nodes: [(id: \"c\", kind: \"chain.ron\")], links: [\"in -> c -> out\"])\n",
    )
    .unwrap();
    let fifth = run(dir.path(), "out", &[]);
    assert!(
        String::from_utf8_lossy(&fifth.stdout).contains("3 mastered, 0 already done"),
        "{}",
        text(&fifth)
    );
    std::fs::write(dir.path().join("chain.ron"), chain.replace("-1.5", "-1.25")).unwrap();
    let sixth = run(dir.path(), "out", &[]);
    assert!(
        String::from_utf8_lossy(&sixth.stdout).contains("3 mastered, 0 already done"),
        "an edited subgraph redoes the units: {}",
        text(&sixth)
    );
}

#[test]
fn a_killed_run_resumes_with_only_what_was_left() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 8, 1);
    let mut args: Vec<&str> = RUN.to_vec();
    args.extend(["-o", "out", "--jobs", "1", "--mode", "track"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(&args)
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_after = loop {
        let done = manifest_lines(&dir.path().join("out")).len();
        if done >= 2 || Instant::now() > deadline {
            // SIGKILL: no cleanup of any kind runs.
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
            break manifest_lines(&dir.path().join("out")).len();
        }
        if let Ok(Some(_)) = child.try_wait() {
            break 8;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        killed_after < 8,
        "the run finished before it could be killed"
    );
    let resumed = run(dir.path(), "out", &["--mode", "track"]);
    let out = String::from_utf8_lossy(&resumed.stdout).to_string();
    let expected = format!("{} mastered, {killed_after} already done", 8 - killed_after);
    assert!(out.contains(&expected), "{}", text(&resumed));
    // No staged leftovers and exactly the catalogue's files.
    assert_eq!(tree(&dir.path().join("out")).len(), 8);
    let status = lathe(
        dir.path(),
        &[
            "catalog",
            "status",
            "catalogue.csv",
            "-o",
            "out",
            "--mode",
            "track",
        ],
        &[],
    );
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
}

#[test]
fn a_corrupt_track_fails_only_its_album_with_the_partial_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 3, 2);
    std::fs::write(
        dir.path().join("in/artist1/02.wav"),
        b"RIFF\x10\0\0\0WAVEjunkjunk",
    )
    .unwrap();
    let o = run(dir.path(), "out", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("FAILED album:Artist 1 / Album 1") && err.contains("02.wav"),
        "{err}"
    );
    let files = tree(&dir.path().join("out"));
    assert_eq!(files.len(), 4, "{:?}", files.keys().collect::<Vec<_>>());
    assert!(
        !files.keys().any(|k| k.starts_with("Artist 1/")),
        "no part of the failed album"
    );
    let failed: Vec<_> = manifest_lines(&dir.path().join("out"))
        .into_iter()
        .filter(|l| l["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["error"].as_str().unwrap().contains("02.wav"));
    let status = lathe(
        dir.path(),
        &["catalog", "status", "catalogue.csv", "-o", "out"],
        &[],
    );
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("2 done, 1 failed, 0 pending"));
    // Fixed, the rerun masters only the failed album.
    write_noise(&dir.path().join("in/artist1/02.wav"), 7, 0.1);
    let o = run(dir.path(), "out", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 mastered, 2 already done"));
}

#[test]
fn collisions_and_unsafe_names_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 3, 2);
    let refused = |extra: &[&str], needles: &[&str]| {
        let o = run(dir.path(), "out", extra);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        for n in needles {
            assert!(err.contains(n), "`{n}` not in:\n{err}");
        }
        assert!(!dir.path().join("out").exists(), "nothing may be written");
    };
    // Same album title and track by two artists.
    refused(
        &["--template", "{album}/{track:02}.{ext}"],
        &[
            "catalogue.csv:6:",
            "also the output of line 2",
            "Greatest Hits/01.wav",
        ],
    );
    refused(
        &["--template", "{album}/{tittle}.{ext}"],
        &["unknown field `tittle`", "column 9"],
    );
    refused(&["--template", "../{title}.{ext}"], &["not allowed"]);
    refused(&["--shard", "auto"], &["no array index in the environment"]);
    // A title with a separator, and an output over an input.
    let csv = std::fs::read_to_string(dir.path().join("catalogue.csv")).unwrap();
    std::fs::write(
        dir.path().join("catalogue.csv"),
        csv.replace("Song 2", "AC/DC"),
    )
    .unwrap();
    refused(&[], &["catalogue.csv:3:", "\"AC/DC\"", "--sanitize"]);
    std::fs::write(dir.path().join("catalogue.csv"), &csv).unwrap();
    // Within an album: a repeated track number, a target that disagrees.
    std::fs::write(
        dir.path().join("mixed.jsonl"),
        "{\"path\":\"in/artist0/01.wav\",\"album\":\"A\",\"track\":1}\n\
         {\"path\":\"in/artist0/02.wav\",\"album\":\"A\",\"track\":1,\"target_lufs\":-16}\n",
    )
    .unwrap();
    let mixed = lathe(
        dir.path(),
        &["catalog", "run", "master.ron", "mixed.jsonl", "-o", "out"],
        &[],
    );
    assert_eq!(mixed.status.code(), Some(2), "{}", text(&mixed));
    let err = String::from_utf8_lossy(&mixed.stderr);
    assert!(
        err.contains("mixed.jsonl:2: track 1 of `album: / A` is also on line 1"),
        "{err}"
    );
    assert!(err.contains("target_lufs -16 but line 1"), "{err}");
    assert!(!dir.path().join("out").exists());
    std::fs::write(
        dir.path().join("self.csv"),
        "path,album,artist\nin/artist0/01.wav,X,artist0\n",
    )
    .unwrap();
    let over = lathe(
        dir.path(),
        &[
            "catalog",
            "run",
            "master.ron",
            "self.csv",
            "-o",
            ".",
            "--template",
            "in/{artist}/{stem}.{ext}",
        ],
        &[],
    );
    assert_eq!(over.status.code(), Some(2), "{}", text(&over));
    assert!(String::from_utf8_lossy(&over.stderr).contains("would overwrite the input of line"));
}

#[test]
fn flac_deliveries_carry_the_provenance_in_vorbis_comments() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 1, 1);
    let o = run(dir.path(), "out", &["--format", "flac", "--verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = tree(&dir.path().join("out"));
    let flac = &files["Artist 0/Greatest Hits/01 Song 1.flac"];
    let line = &manifest_lines(&dir.path().join("out"))[0];
    let sha = line["graph_sha256"].as_str().unwrap();
    let needle = format!("LATHE_GRAPH_SHA256={sha}");
    assert!(flac.windows(needle.len()).any(|w| w == needle.as_bytes()));
    assert_eq!(line["tracks"][0]["codec_check"]["decoded"], true);
    assert_eq!(line["tracks"][0]["isrc"], "GBAAA2400001");
}

/// `merge --json/--csv` never replaces a file of the run: the catalogue, a manifest, an
/// input, a delivered file, or the other report. Every case exits 2 and changes nothing.
#[test]
fn merge_reports_never_replace_a_file_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d, 1, 2);
    let o = run(d, "out", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let manifest = "out/.lathe-catalog/task-0000.jsonl";
    // `tree` skips dot folders, so the manifest is compared on its own.
    let files = || (tree(d), std::fs::read(d.join(manifest)).unwrap());
    let before = files();
    let delivered = "out/Artist 0/Greatest Hits/01 Song 1.wav";
    let cases: [(&[&str], &str); 6] = [
        (&["--csv", "catalogue.csv"], "it is the catalogue"),
        (&["--json", "./catalogue.csv"], "it is the catalogue"),
        (&["--json", manifest], "it is the manifest"),
        (&["--csv", "in/artist0/02.wav"], "it is the input file"),
        (&["--json", delivered], "it is the delivered file"),
        (
            &["--json", "report.txt", "--csv", "./report.txt"],
            "both name `./report.txt`",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["catalog", "merge", "catalogue.csv", "-o", "out"];
        args.extend(extra);
        let o = lathe(d, &args, &[]);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        assert!(
            text(&o).contains(needle),
            "{extra:?}: `{needle}` not in {}",
            text(&o)
        );
        assert!(before == files(), "{extra:?} changed a file");
    }
}

/// The GNU parallel recipe of docs/catalog.md, as written there. Skips with a notice
/// without `parallel`; `LATHE_REQUIRE_PARALLEL=1` makes that a failure.
#[test]
fn the_gnu_parallel_recipe_delivers_the_whole_catalogue() {
    let found = std::process::Command::new("parallel")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("LATHE_REQUIRE_PARALLEL").as_deref() != Ok("1"),
            "LATHE_REQUIRE_PARALLEL=1 but GNU parallel is not installed"
        );
        eprintln!("notice: GNU parallel not found; skipping its recipe (install parallel)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 4, 1);
    let bin = env!("CARGO_BIN_EXE_lathe");
    let script = format!(
        "seq 0 2 | parallel -j 3 --halt never \\\n  '{bin}' catalog run master.ron catalogue.csv -o delivery --preset streaming \\\n  --shard {{}}/3 --jobs 1 --quiet\n'{bin}' catalog status catalogue.csv -o delivery\n"
    );
    let o = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 done, 0 failed, 0 pending"));
    assert_eq!(tree(&dir.path().join("delivery")).len(), 4);
}
