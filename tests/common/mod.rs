//! Helpers for tests that run the real `lathe` binary: running it, reading its result,
//! and making audio files (WAV through hound, FLAC through a small verbatim encoder).

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `lathe` with `args` in `dir`, with logging at its default.
pub fn lathe_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("the lathe binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit code `code` and that stderr contains every one of `needles`.
pub fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stderr:\n{err}\nstdout:\n{}",
        stdout(out)
    );
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "panic:\n{err}");
}

/// Runs `lathe` with `args` in `dir` and asserts it refuses them as a usage error (exit
/// code 2) whose stderr contains every one of `needles`.
pub fn assert_usage_error(dir: &Path, args: &[&str], needles: &[&str]) {
    assert_fails(&lathe_in(dir, args), 2, needles);
}

/// Runs `lathe` with `args` in `dir` and asserts it succeeds (showing its stderr if not).
pub fn lathe_ok(dir: &Path, args: &[&str]) -> Output {
    let out = lathe_in(dir, args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

/// Names of the entries of `dir`, sorted.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable test dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Writes integer PCM WAV (`bits` 16 or 24) from planar samples.
pub fn write_wav_int(path: &Path, rate: u32, bits: u16, channels: &[Vec<i32>]) {
    write_wav_planar(path, rate, bits, hound::SampleFormat::Int, channels);
}

/// Writes 32-bit float WAV from planar samples.
pub fn write_wav_f32(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    write_wav_planar(path, rate, 32, hound::SampleFormat::Float, channels);
}

/// Writes a WAV of `bits` per sample in `format` from planar samples, interleaving them.
fn write_wav_planar<S: hound::Sample + Copy>(
    path: &Path,
    rate: u32,
    bits: u16,
    format: hound::SampleFormat,
    channels: &[Vec<S>],
) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[i]).expect("write sample");
        }
    }
    w.finalize().expect("finalize wav");
}

/// One step of Marsaglia's xorshift32 (shifts 13, 17, 5): the deterministic noise of
/// these tests. Returns the new state.
pub fn xorshift32(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

/// A deterministic test signal: a sine sweep plus a little deterministic noise, scaled
/// to `peak` of the integer full scale of `bits`.
pub fn test_signal(frames: usize, bits: u16, peak: f64, channel: usize) -> Vec<i32> {
    let full = (1i64 << (bits - 1)) as f64;
    let mut state = 0x1234_5678u32.wrapping_add(channel as u32);
    (0..frames)
        .map(|i| {
            let noise = (xorshift32(&mut state) as f64 / u32::MAX as f64) * 2.0 - 1.0;
            let t = i as f64 / frames as f64;
            let sweep = (std::f64::consts::TAU * (50.0 + 2000.0 * t) * i as f64 / 48_000.0).sin();
            ((0.9 * sweep + 0.1 * noise) * peak * (full - 1.0)).round() as i32
        })
        .collect()
}

/// Frames per FLAC frame written by [`write_flac`].
pub const FLAC_BLOCK: usize = 4096;

/// Writes a FLAC file with VERBATIM subframes (no compression, but a valid stream with
/// STREAMINFO, frame headers and both CRCs), so FLAC decoding is tested without any
/// external encoder.
pub fn write_flac(path: &Path, rate: u32, bits: u32, channels: &[Vec<i32>]) {
    let frames = channels[0].len();
    let mut out = Vec::new();
    out.extend_from_slice(b"fLaC");
    // Last metadata block, type 0 (STREAMINFO), 34 bytes.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    let mut info = BitWriter::default();
    info.put(FLAC_BLOCK as u64, 16);
    info.put(FLAC_BLOCK as u64, 16);
    info.put(0, 24);
    info.put(0, 24);
    info.put(rate as u64, 20);
    info.put(channels.len() as u64 - 1, 3);
    info.put(bits as u64 - 1, 5);
    info.put(frames as u64, 36);
    for _ in 0..16 {
        info.put(0, 8); // MD5 unknown
    }
    out.extend_from_slice(&info.bytes);
    for (index, start) in (0..frames).step_by(FLAC_BLOCK).enumerate() {
        let len = FLAC_BLOCK.min(frames - start);
        let mut f = BitWriter::default();
        f.put(0b11_1111_1111_1110, 14);
        f.put(0, 1);
        f.put(0, 1); // fixed block size
        f.put(0b0111, 4); // block size - 1 in 16 bits after the header
        f.put(0, 4); // sample rate from STREAMINFO
        f.put(channels.len() as u64 - 1, 4); // independent channels
        f.put(
            match bits {
                16 => 0b100,
                24 => 0b110,
                _ => panic!("write_flac: 16 or 24 bits"),
            },
            3,
        );
        f.put(0, 1);
        for byte in utf8_number(index as u32) {
            f.put(byte as u64, 8);
        }
        f.put(len as u64 - 1, 16);
        let crc8 = crc8(&f.bytes);
        f.put(crc8 as u64, 8);
        for channel in channels {
            f.put(0, 1);
            f.put(0b000001, 6); // VERBATIM
            f.put(0, 1);
            for &s in &channel[start..start + len] {
                f.put((s as i64 as u64) & ((1u64 << bits) - 1), bits);
            }
        }
        f.align();
        let crc16 = crc16(&f.bytes);
        f.put(crc16 as u64, 16);
        out.extend_from_slice(&f.bytes);
    }
    std::fs::write(path, out).expect("write flac");
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, bits: u32) {
        for i in (0..bits).rev() {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            *self.bytes.last_mut().expect("pushed") |= bit << (7 - self.used);
            self.used = (self.used + 1) % 8;
        }
    }

    fn align(&mut self) {
        self.used = 0;
    }
}

/// FLAC's UTF-8-style coding of frame numbers.
fn utf8_number(n: u32) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let mut tail = Vec::new();
    let mut v = n;
    let mut lead_bits = 6; // payload bits left in the lead byte
    while v >= (1 << lead_bits) {
        tail.push(0x80 | (v & 0x3f) as u8);
        v >>= 6;
        lead_bits -= 1;
    }
    let count = tail.len() + 1;
    let marker = !(0xffu8 >> count);
    let mut bytes = vec![marker | v as u8];
    bytes.extend(tail.iter().rev());
    bytes
}

fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
    }
    crc
}
