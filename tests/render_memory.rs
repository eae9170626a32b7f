//! `lathe render` streams: its peak memory does not grow with the length of the files.
//!
//! The same render runs on a short and a ten times longer input; the longer one may not
//! take more than a few MiB more (holding the audio, as renders once did, would take
//! hundreds). Peak memory is the child's maximum resident set, from `wait4`.

#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use lathe::audio_io::{SampleFormat, wav_header};

const RATE_HZ: u32 = 48_000;

/// A stereo 24-bit WAV of `seconds` of noise, written directly (quickly) in blocks.
fn noise_wav(path: &Path, seconds: u32) {
    let frames = (RATE_HZ * seconds) as usize;
    let data_bytes = frames * 2 * 3;
    let mut out = BufWriter::new(File::create(path).expect("create input"));
    out.write_all(&wav_header(
        SampleFormat::Int24,
        2,
        RATE_HZ,
        data_bytes as u32,
    ))
    .expect("write header");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut block = vec![0u8; 6 * 4096];
    let mut left = frames;
    while left > 0 {
        let n = left.min(4096);
        for sample in block[..n * 6].chunks_exact_mut(3) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            // About -20 dBFS of noise.
            let v = ((state >> 40) as i32 - (1 << 23)) / 10;
            sample.copy_from_slice(&v.to_le_bytes()[..3]);
        }
        out.write_all(&block[..n * 6]).expect("write samples");
        left -= n;
    }
    out.flush().expect("flush input");
}

/// Runs `lathe` with `args` in `dir` and returns its peak resident memory in bytes.
// The child is reaped by wait4, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn peak_rss_bytes(dir: &Path, args: &[&str]) -> u64 {
    let child = Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the lathe binary runs");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills; the child is ours and not
    // waited for elsewhere (`child` is never waited on: wait4 reaps it).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let status = std::process::ExitStatus::from_raw(status);
    assert!(status.success(), "lathe {args:?} failed: {status}");
    // ru_maxrss is in KiB on Linux.
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn peak_memory_does_not_grow_with_the_length_of_the_render() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(
        d.join("trim.ron"),
        r#"(nodes: [(id: "trim", kind: "gain", params: {"gain_db": -3.0})], links: ["in -> trim -> out"])"#,
    )
    .expect("write graph");
    noise_wav(&d.join("short.wav"), 10);
    noise_wav(&d.join("long.wav"), 100);
    let render = |input: &str, output: &str| {
        peak_rss_bytes(
            d,
            &[
                "render", "trim.ron", input, "-o", output, "--bits", "24", "--report", "r.json",
            ],
        )
    };
    let short = render("short.wav", "short-out.wav");
    let long = render("long.wav", "long-out.wav");
    let short_flac = render("short.wav", "short-out.flac");
    let long_flac = render("long.wav", "long-out.flac");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "peak RSS: WAV {:.1} MiB for 10 s, {:.1} MiB for 100 s; FLAC {:.1} / {:.1} MiB",
        mib(short),
        mib(long),
        mib(short_flac),
        mib(long_flac)
    );
    // 90 s more of stereo audio is 33 MiB per copy as f32; allow 8 MiB of noise.
    const SLACK_BYTES: u64 = 8 << 20;
    assert!(
        long < short + SLACK_BYTES,
        "WAV: {short} B for 10 s, {long} B for 100 s"
    );
    assert!(
        long_flac < short_flac + SLACK_BYTES,
        "FLAC: {short_flac} B for 10 s, {long_flac} B for 100 s"
    );
    let frames = |p: &str| std::fs::metadata(d.join(p)).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        frames("long-out.wav"),
        frames("long.wav"),
        "the whole render was written"
    );
}
