//! Bad input against the real binary, one test per class of failure: headers that lie,
//! outputs over files the graph reads, scripts that stall, graphs that explode, reads
//! without end, misleading messages, exit codes, leftover temporaries, meter range.
//!
//! Every case asserts the exit code, the shape of the message (the place, or the value
//! and what is allowed), no panic, no temporary file left, and inputs unchanged (by hash
//! before and after). Cases are generated where a class has many members; each test
//! prints how many it tried.

mod common;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::process::Output;

use common::{assert_fails, lathe_in, lathe_ok, stderr, write_wav_f32};

/// The repository's example graphs, copied into each test's folder.
fn copy_graphs(dir: &Path) {
    let graphs = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs");
    for entry in std::fs::read_dir(graphs).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
}

/// A second of stereo sine at 48 kHz, a quarter of full scale.
fn tone(path: &Path, seconds: f64, gain: f32) {
    let frames = (48_000.0 * seconds) as usize;
    let wave: Vec<f32> = (0..frames)
        .map(|i| gain * 0.25 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin())
        .collect();
    write_wav_f32(path, 48_000, &[wave.clone(), wave]);
}

/// A hash of every file in `dir` (not in subfolders), by name.
fn hashes(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let mut h = DefaultHasher::new();
            std::fs::read(entry.path()).unwrap().hash(&mut h);
            out.insert(entry.file_name().to_string_lossy().into_owned(), h.finish());
        }
    }
    out
}

/// No `.lathe-tmp-*` file anywhere under `dir`.
fn assert_no_temporaries(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".lathe-tmp-"), "left behind: {name}");
        if entry.file_type().unwrap().is_dir() {
            assert_no_temporaries(&entry.path());
        }
    }
}

/// Runs `args` in `dir`, asserting exit `code`, the `needles`, no panic, no temporary
/// file and every file that was in `dir` unchanged.
fn refused(dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> Output {
    let before = hashes(dir);
    let out = lathe_in(dir, args);
    assert_fails(&out, code, needles);
    let after = hashes(dir);
    for (name, hash) in &before {
        assert_eq!(after.get(name), Some(hash), "`{name}` changed; {args:?}");
    }
    assert_no_temporaries(dir);
    out
}

/// A PCM WAV whose `fmt ` says what it is given, with four bytes of data.
fn wav_with_fmt(channels: u16, rate_hz: u32, block_align: u16, bits: u16) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate_hz.to_le_bytes());
    out.extend_from_slice(&rate_hz.wrapping_mul(u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

#[test]
fn class1_bad_header_fields_are_refused_by_every_command_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_graphs(d);
    tone(&d.join("good.wav"), 0.5, 1.0);
    let cases: &[(u16, u32, u16, u16, &str)] = &[
        (1, 0, 2, 16, "sample rate 0"),
        (1, 1, 2, 16, "sample rate 1 "),
        (1, 999, 2, 16, "sample rate 999"),
        (1, 768_001, 2, 16, "sample rate 768001"),
        (1, 4_000_000_000, 2, 16, "sample rate 4000000000"),
        (0, 48_000, 2, 16, "channels 0"),
        (1, 48_000, 2, 0, "bits per sample 0"),
        (1, 48_000, 0, 16, "block align 0"),
    ];
    let mut tried = 0;
    for (k, &(channels, rate, align, bits, needle)) in cases.iter().enumerate() {
        let name = format!("bad{k}.wav");
        std::fs::write(d.join(&name), wav_with_fmt(channels, rate, align, bits)).unwrap();
        let needles = [name.as_str(), "bad header", needle, "allowed"];
        for args in [
            vec!["analyze", &name],
            vec!["render", "master.ron", &name, "-o", "out.wav", "-q"],
            vec!["compare", &name, "good.wav"],
            vec!["album", "master.ron", &name, "-o", "delivery", "-q"],
        ] {
            refused(d, &args, 2, &needles);
            assert!(!d.join("out.wav").exists());
            tried += 1;
        }
    }
    println!(
        "class 1: {tried} command runs over {} bad headers",
        cases.len()
    );
}

#[test]
fn class2_outputs_never_overwrite_a_file_the_graph_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_graphs(d);
    tone(&d.join("in.wav"), 0.5, 1.0);
    let mut tried = 0;
    for (graph, read) in [
        ("streaming.ron", "multiband.ron"),
        ("rider.ron", "rider.rhai"),
        ("deess.ron", "deess.rhai"),
    ] {
        let needles = ["refusing to write", read, "file the graph reads"];
        // As the audio output, the extension is refused first (lathe writes .wav/.flac);
        // either way the file is left as it was.
        refused(d, &["render", graph, "in.wav", "-o", read], 2, &[read]);
        refused(
            d,
            &["render", graph, "in.wav", "-o", "x.wav", "--report", read],
            2,
            &needles,
        );
        let via_dot = format!("./{read}");
        refused(d, &["render", graph, "in.wav", "-o", &via_dot], 2, &[read]);
        let via_report = format!("./{read}");
        refused(
            d,
            &[
                "render",
                graph,
                "in.wav",
                "-o",
                "y.wav",
                "--report",
                &via_report,
            ],
            2,
            &needles,
        );
        tried += 4;
    }
    // album: its report over a script, and a track delivered over a subgraph's folder
    // name is covered by the same check.
    refused(
        d,
        &[
            "album",
            "rider.ron",
            "in.wav",
            "-o",
            "delivery",
            "--report",
            "rider.rhai",
            "-q",
        ],
        2,
        &["rider.rhai", "file the graph reads"],
    );
    tried += 1;
    // plot: its --data CSV over the graph, a subgraph or the image, and the image over
    // the graph by another name.
    for (args, needle) in [
        (
            &[
                "plot",
                "response",
                "streaming.ron",
                "-o",
                "r.png",
                "--data",
                "./streaming.ron",
            ][..],
            "it is the graph file",
        ),
        (
            &[
                "plot",
                "response",
                "streaming.ron",
                "-o",
                "r.png",
                "--data",
                "multiband.ron",
            ],
            "file the graph reads",
        ),
        (
            &[
                "plot",
                "response",
                "streaming.ron",
                "-o",
                "r.png",
                "--data",
                "./r.png",
            ],
            "it is the plot",
        ),
        (
            &["plot", "graph", "streaming.ron", "-o", "./streaming.ron"],
            "it is the graph file",
        ),
        (
            &[
                "plot", "loudness", "in.wav", "-o", "x.png", "--data", "./in.wav",
            ],
            "it is the input file",
        ),
    ] {
        refused(d, args, 2, &["refusing to write", needle]);
        assert!(!d.join("r.png").exists() && !d.join("x.png").exists());
        tried += 1;
    }
    println!("class 2: {tried} outputs over indirect inputs refused");
}

#[test]
fn class3_a_script_over_its_time_budget_is_stopped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tone(&d.join("in.wav"), 1.0, 1.0);
    let mut tried = 0;
    for body in [
        // Inside every per-tick limit, but 1000 times a second.
        "let x = 0; for i in 0..5000 { x += i; }",
        // Quadratic in time with few operations.
        "let f = |x| x; for i in 0..1500 { f = f.curry(i); }",
        "for i in 0..3000 { print(i); }",
    ] {
        let graph = format!(
            "(nodes: [(id: \"trim\", kind: \"gain\"), (id: \"busy\", kind: \"script\", \
             config: (rate_hz: 1000, source: \"fn tick(ctx) {{ {body} }}\"))], \
             links: [\"in -> trim -> out\"])"
        );
        std::fs::write(d.join("busy.ron"), graph).unwrap();
        let out = lathe_in(d, &["render", "busy.ron", "in.wav", "-o", "out.wav", "-q"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("busy (inline source):1:"), "{err}");
        assert!(err.contains("operations per second of audio"), "{err}");
        assert!(err.contains("script node `busy` stopped at frame"), "{err}");
        assert_no_temporaries(d);
        tried += 1;
    }
    println!("class 3: {tried} greedy scripts stopped");
}

#[test]
fn class4_graph_sizes_are_bounded_before_memory_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 16 files, each two nodes of the next: 65,536 leaves if nothing stopped it.
    for level in 0..16 {
        let kind = if level == 15 {
            "gain".to_string()
        } else {
            format!("s{}.ron", level + 1)
        };
        std::fs::write(
            d.join(format!("s{level}.ron")),
            format!(
                "(nodes: [(id: \"a\", kind: \"{kind}\"), (id: \"b\", kind: \"{kind}\")], \
                 links: [\"in -> a -> b -> out\"])"
            ),
        )
        .unwrap();
    }
    refused(
        d,
        &["check", "s0.ron"],
        2,
        &["more than 4096 nodes", "(the limit)", ".ron:1:"],
    );

    // Many nodes or links in one file are refused after parsing, at the file.
    let chain = |n: usize| {
        let nodes: String = (0..n)
            .map(|i| format!("(id: \"g{i}\", kind: \"gain\"),"))
            .collect();
        let links: String = (0..n)
            .map(|i| {
                format!(
                    "\"{} -> g{i}\",",
                    if i == 0 {
                        "in".into()
                    } else {
                        format!("g{}", i - 1)
                    }
                )
            })
            .collect();
        format!("(nodes: [{nodes}], links: [{links} \"g{} -> out\"])", n - 1)
    };
    std::fs::write(d.join("wide.ron"), chain(5000)).unwrap();
    refused(
        d,
        &["check", "wide.ron"],
        2,
        &["wide.ron:1:1", "5000 nodes", "the limit is 4096"],
    );
    // Just under the limit compiles (in well under a second in a release build).
    std::fs::write(d.join("long.ron"), chain(4000)).unwrap();
    lathe_ok(d, &["check", "long.ron"]);

    // One node's bands are bounded too: 100,000 bells would cost 100,000 filters a sample.
    let eq = |n: usize| {
        let bands = "(type: \"bell\"),".repeat(n);
        format!(
            "(nodes: [(id: \"big\", kind: \"eq\", config: (bands: [{bands}]))], \
             links: [\"in -> big -> out\"])"
        )
    };
    std::fs::write(d.join("bands.ron"), eq(100_000)).unwrap();
    refused(
        d,
        &["check", "bands.ron"],
        2,
        &["big", "100000 bands", "at most 128"],
    );
    std::fs::write(d.join("bands_ok.ron"), eq(128)).unwrap();
    lathe_ok(d, &["check", "bands_ok.ron"]);
    println!(
        "class 4: 5 graph shapes (exponential subgraphs, 5000 and 4000 nodes, 100,000 and 128 bands)"
    );
}

#[cfg(unix)]
#[test]
fn class5_graph_referenced_files_are_read_with_limits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tone(&d.join("in.wav"), 0.5, 1.0);
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.ron")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.rhai")).unwrap();
    std::fs::write(d.join("big.rhai"), vec![b' '; 5 * 1024 * 1024]).unwrap();
    let fifo = d.join("pipe.wav");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let script = |file: &str| {
        format!(
            "(nodes: [(id: \"trim\", kind: \"gain\"), (id: \"s\", kind: \"script\", \
             config: (file: \"{file}\"))], links: [\"in -> trim -> out\"])"
        )
    };
    std::fs::write(
        d.join("sub_zero.ron"),
        "(nodes: [(id: \"z\", kind: \"zero.ron\")], links: [\"in -> z -> out\"])",
    )
    .unwrap();
    std::fs::write(d.join("script_zero.ron"), script("zero.rhai")).unwrap();
    std::fs::write(d.join("script_big.ron"), script("big.rhai")).unwrap();
    std::fs::write(d.join("script_fifo.ron"), script("pipe.wav")).unwrap();
    let mut tried = 0;
    for (graph, needle) in [
        ("sub_zero.ron", "character device"),
        ("script_zero.ron", "character device"),
        ("script_big.ron", "larger than the limit of 4194304 bytes"),
        ("script_fifo.ron", "FIFO"),
    ] {
        refused(d, &["check", graph], 2, &[needle, &format!("{graph}:1:")]);
        tried += 1;
    }
    // A FIFO as the audio input is refused at once instead of blocking.
    std::fs::write(
        d.join("plain.ron"),
        "(nodes: [(id: \"g\", kind: \"gain\")], links: [\"in -> g -> out\"])",
    )
    .unwrap();
    refused(
        d,
        &["render", "plain.ron", "pipe.wav", "-o", "out.wav"],
        2,
        &["pipe.wav", "not a regular file"],
    );
    refused(
        d,
        &["analyze", "pipe.wav"],
        2,
        &["pipe.wav", "not a regular file"],
    );
    tried += 2;
    // The platform table of `analyze --platforms=FILE` is read as a graph file is.
    refused(
        d,
        &["analyze", "in.wav", "--platforms=zero.ron"],
        2,
        &["zero.ron", "a character device, not a regular file"],
    );
    tried += 1;
    tried += catalogue_reads_are_bounded(d);
    println!("class 5: {tried} unbounded or blocking reads refused");
}

/// The catalogue of `lathe catalog` is streamed and may be huge, but it must be a regular
/// file, and each row is read with at most 1 MiB in memory. Returns the cases tried.
#[cfg(unix)]
fn catalogue_reads_are_bounded(d: &Path) -> usize {
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.jsonl")).unwrap();
    let fifo = std::ffi::CString::new(d.join("pipe.csv").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let long = "x".repeat(2 * 1024 * 1024);
    // A JSON Lines row past the limit is an error at its line; the rows after it are read.
    std::fs::write(
        d.join("long.jsonl"),
        format!(
            "{{\"path\": \"a.wav\", \"album\": \"A\"}}\n{{\"path\": \"{long}\"}}\n{{\"path\": \"b.wav\", \"album\": \"A\", \"track\": 0}}\n"
        ),
    )
    .unwrap();
    // A quoted CSV field that never closes: the rows end at its line.
    std::fs::write(
        d.join("long.csv"),
        format!("path,album\na.wav,A\n\"{long}\nb.wav,A\n"),
    )
    .unwrap();
    let status =
        |catalogue: &str| ["catalog", "status", catalogue, "-o", "delivery"].map(String::from);
    let cases: [(&str, &[&str]); 4] = [
        (
            "zero.jsonl",
            &["zero.jsonl", "a character device, not a regular file"],
        ),
        (
            "pipe.csv",
            &["pipe.csv", "a FIFO (named pipe), not a regular file"],
        ),
        (
            "long.jsonl",
            &[
                "long.jsonl:2: the row is longer than 1048576 bytes",
                "long.jsonl:3: track 0",
            ],
        ),
        (
            "long.csv",
            &["long.csv:3: the row is longer than 1048576 bytes"],
        ),
    ];
    for (catalogue, needles) in cases {
        let args = status(catalogue);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(d, &args, 2, needles);
        assert!(
            !d.join("delivery").exists(),
            "{catalogue}: a folder was made"
        );
    }
    cases.len()
}

#[test]
fn class6_messages_name_the_place_once_and_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_graphs(d);
    tone(&d.join("in.wav"), 1.0, 1.0);
    // Not UTF-8: the line and column of the first bad byte.
    std::fs::write(
        d.join("latin1.ron"),
        b"(\n  nodes: [(id: \"caf\xe9\", kind: \"gain\")],\n)",
    )
    .unwrap();
    refused(
        d,
        &["check", "latin1.ron"],
        2,
        &["latin1.ron:2:20", "not UTF-8", "0xe9"],
    );

    // 17 nested subgraphs: the depth limit, named as such, and nothing else.
    for level in 0..18 {
        let kind = if level == 17 {
            "gain".to_string()
        } else {
            format!("d{}.ron", level + 1)
        };
        std::fs::write(
            d.join(format!("d{level}.ron")),
            format!("(nodes: [(id: \"a\", kind: \"{kind}\")], links: [\"in -> a -> out\"])"),
        )
        .unwrap();
    }
    let out = refused(
        d,
        &["check", "d0.ron"],
        2,
        &["nested 17 deep; the limit is 16"],
    );
    let err = stderr(&out);
    assert!(!err.contains("includes itself"), "{err}");
    assert!(err.contains("1 problem"), "{err}");

    // An unknown node in the middle of a chain is reported once.
    std::fs::write(
        d.join("unknown.ron"),
        "(nodes: [(id: \"g\", kind: \"gain\")], links: [\"in -> nope -> g -> out\"])",
    )
    .unwrap();
    let out = refused(
        d,
        &["check", "unknown.ron"],
        2,
        &["unknown.ron:1:", "unknown node `nope`"],
    );
    assert_eq!(
        stderr(&out).matches("unknown node `nope`").count(),
        1,
        "{}",
        stderr(&out)
    );

    // album's warnings print numbers, not Rust's debug text.
    let out = lathe_in(
        d,
        &[
            "album",
            "master.ron",
            "in.wav",
            "-o",
            "delivery",
            "--target-lufs",
            "0",
            "-q",
        ],
    );
    let err = stderr(&out);
    assert!(!err.contains("Some("), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    println!("class 6: 4 messages checked");
}

/// Runs lathe with the size of any file it writes limited to `bytes` (as a full disk
/// would stop it), with SIGXFSZ ignored so the write fails with an error instead.
#[cfg(unix)]
fn lathe_with_file_limit(dir: &Path, args: &[&str], bytes: u64) -> Output {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"));
    command.args(args).current_dir(dir).env_remove("RUST_LOG");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("the lathe binary runs")
}

#[cfg(unix)]
#[test]
fn class7_a_failed_write_exits_1_in_album_as_in_render() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_graphs(d);
    tone(&d.join("in.wav"), 1.0, 1.0);
    let before = hashes(d);
    let out = lathe_with_file_limit(
        d,
        &["render", "streaming.ron", "in.wav", "-o", "out.wav", "-q"],
        64 * 1024,
    );
    assert_fails(&out, 1, &["out.wav"]);
    let out = lathe_with_file_limit(
        d,
        &["album", "streaming.ron", "in.wav", "-o", "delivery", "-q"],
        64 * 1024,
    );
    assert_fails(&out, 1, &["in.wav", "failed"]);
    assert!(!d.join("out.wav").exists());
    assert!(!d.join("delivery").join("in.wav").exists());
    assert_no_temporaries(d);
    assert_eq!(hashes(d), before);
    println!("class 7: 2 failed writes (render, album) exit 1");
}

#[cfg(unix)]
#[test]
fn class8_interrupted_renders_leave_no_temporary_file() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_graphs(d);
    // Long enough that the render is still writing when the signal comes.
    tone(&d.join("long.wav"), 120.0, 1.0);
    let has_temp = |d: &Path| {
        std::fs::read_dir(d).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".lathe-tmp-")
        })
    };
    let mut tried = 0;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        // On a starved machine the render can finish before the signal lands: that
        // attempt interrupted nothing, so it is repeated (a few times at most).
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut render = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"));
            render
                .args(["render", "master.ron", "long.wav", "-o", "out.wav", "-q"])
                .current_dir(d)
                .stderr(std::process::Stdio::null());
            // A shell that started the tests in the background leaves SIGINT ignored, and
            // lathe keeps an ignored signal ignored (as `nohup` asks): give the render the
            // default dispositions, as an interactive user's render has.
            // SAFETY: `signal` is async-signal-safe, as `pre_exec` requires.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut render, || {
                    libc::signal(libc::SIGINT, libc::SIG_DFL);
                    libc::signal(libc::SIGTERM, libc::SIG_DFL);
                    Ok(())
                });
            }
            let mut child = render.spawn().unwrap();
            let pid = child.id() as libc::pid_t;
            let start = Instant::now();
            while !has_temp(d) && start.elapsed() < Duration::from_secs(30) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // SAFETY: signalling the child this test started, by its own pid.
            unsafe { libc::kill(pid, signal) };
            let status = child.wait().unwrap();
            if !status.success() {
                break;
            }
            assert!(
                attempts < 5,
                "5 renders finished before signal {signal} reached them"
            );
            println!("class 8: the render finished before signal {signal}; again");
            std::fs::remove_file(d.join("out.wav")).unwrap();
        }
        assert!(!d.join("out.wav").exists());
        if signal == libc::SIGKILL {
            assert!(has_temp(d), "SIGKILL cannot clean up; the next run must");
            // The next write to the same target sweeps it (a short render).
            tone(&d.join("short.wav"), 0.2, 1.0);
            lathe_ok(
                d,
                &["render", "master.ron", "short.wav", "-o", "out.wav", "-q"],
            );
        }
        assert_no_temporaries(d);
        tried += 1;
    }
    println!("class 8: {tried} interrupted renders (SIGINT, SIGTERM, SIGKILL) left no temporary");
}

#[test]
fn class9_loudness_is_measured_over_the_whole_float_range() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut tried = 0;
    let mut reference: Option<(f64, f64)> = None;
    for gain_db in [0.0f32, 20.0, 40.0, 60.0, 100.0] {
        let name = format!("loud{gain_db}.wav");
        // A tone with a quiet half: a loudness range above 0.
        let frames = 48_000 * 8;
        let gain = 10f32.powf(gain_db / 20.0);
        let wave: Vec<f32> = (0..frames)
            .map(|i| {
                let level = if i < frames / 2 { 0.25 } else { 0.05 };
                gain * level * (i as f32 * 997.0 * std::f32::consts::TAU / 48_000.0).sin()
            })
            .collect();
        write_wav_f32(&d.join(&name), 48_000, &[wave.clone(), wave]);
        let out = lathe_ok(d, &["analyze", &name, "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let file = &report["files"][0];
        let integrated = file["integrated_lufs"].as_f64();
        let lra = file["loudness_range_lu"].as_f64();
        let (Some(integrated), Some(lra)) = (integrated, lra) else {
            panic!("+{gain_db} dB: integrated {integrated:?}, range {lra:?}");
        };
        let (i0, lra0) = *reference.get_or_insert((integrated, lra));
        assert!(lra0 > 5.0, "the quiet half makes a range: {lra0}");
        let expected = i0 + f64::from(gain_db);
        assert!(
            (integrated - expected).abs() < 0.15,
            "+{gain_db} dB: {integrated} vs {expected}"
        );
        assert!(
            (lra - lra0).abs() < 0.15,
            "+{gain_db} dB: range {lra} vs {lra0}"
        );
        tried += 1;
    }
    println!("class 9: {tried} levels from 0 to +100 dB measured");
}

/// Inputs the fuzzers found that made symphonia's ADTS reader panic (probed from a file
/// named .ogg and from one named .wav): every command reports a corrupt file, exit 2,
/// without a panic message, and writes nothing.
#[test]
fn decoder_panics_found_by_fuzzing_are_reported_as_corrupt_files() {
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let cases = [
        ("audio_decode-adts-panic.bin", "in.ogg", 1),
        ("wav_reader-adts-panic.wav.bin", "in.wav", 0),
    ];
    for (file, name, skip) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_graphs(dir.path());
        let bytes = std::fs::read(regressions.join(file)).expect("regression input");
        // The audio_decode target's first byte picks the extension; the rest is the file.
        std::fs::write(dir.path().join(name), &bytes[skip..]).expect("write input");
        let before = hashes(dir.path());
        for args in [
            vec!["analyze", name],
            vec!["render", "master.ron", name, "-o", "out.wav"],
        ] {
            let out = lathe_in(dir.path(), &args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?} on {file}: {err}");
            assert!(!err.contains("panicked"), "{args:?} on {file}: {err}");
            assert!(err.contains(name), "names the file: {err}");
        }
        assert_eq!(
            hashes(dir.path()),
            before,
            "inputs unchanged, nothing written"
        );
        assert_no_temporaries(dir.path());
    }
}
