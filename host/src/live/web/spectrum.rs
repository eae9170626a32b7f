//! The web console's own spectrum of the main output, for graphs without a `spectrum`
//! node: the audio thread copies every frame of the main output's left/right pair into
//! a lock-free ring ([`SpectrumWriter`], full rate: the goniometer's ring keeps one frame
//! in four, which would fold everything above fs/8); the control thread drains it at the
//! meter-frame rate and runs it through a `spectrum` node ([`ConsoleSpectrum`]) of its
//! own, the same analyser and the same 1/3-octave bands a graph gets, so the two read
//! alike. The writer never blocks or allocates: with nobody reading, the ring is full and
//! frames are dropped.

use lathe_engine::{CompileOptions, Controller, Engine, GraphDoc, PrepareInfo, Registry};
use lathe_nodes::kinds::spectrum::SpectrumKind;

/// Frames the ring holds: about 0.7 s at 48 kHz, so a control thread held up for a
/// reload still finds every frame.
pub const CAPACITY_FRAMES: usize = 32_768;
/// Frames run through the analyser per call of its engine.
const BLOCK_FRAMES: usize = 1024;
/// The analyser: a `spectrum` node with its defaults (8192-point Hann FFT, 75 % overlap,
/// 300 ms averaging) on a stereo bus.
const ANALYSER_GRAPH: &str = r#"(
    inputs: {"main": 2},
    outputs: {"main": 2},
    nodes: [(id: "console", kind: "spectrum")],
    links: ["in.main -> console -> out.main"],
)"#;

/// The audio thread's end.
pub struct SpectrumWriter {
    ring: rtrb::Producer<[f32; 2]>,
}

/// The control thread's end.
pub struct SpectrumReader {
    ring: rtrb::Consumer<[f32; 2]>,
}

/// A new ring's two ends.
pub fn spectrum_ring() -> (SpectrumWriter, SpectrumReader) {
    let (tx, rx) = rtrb::RingBuffer::new(CAPACITY_FRAMES);
    (SpectrumWriter { ring: tx }, SpectrumReader { ring: rx })
}

impl SpectrumWriter {
    /// Copies every frame of `left`/`right` that fits. Real-time safe.
    pub fn write(&mut self, left: &[f32], right: &[f32]) {
        let frames = left.len().min(right.len()).min(self.ring.slots());
        let Ok(mut chunk) = self.ring.write_chunk(frames) else {
            return;
        };
        let (a, b) = chunk.as_mut_slices();
        for (k, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
            *slot = [left[k], right[k]];
        }
        chunk.commit_all();
    }
}

/// The 1/3-octave analyser of the main output, run on the control thread.
pub struct ConsoleSpectrum {
    controller: Controller,
    engine: Engine,
    sample_rate_hz: f64,
    left: Vec<f32>,
    right: Vec<f32>,
    out: Vec<Vec<f32>>,
}

impl ConsoleSpectrum {
    /// An analyser for audio at `sample_rate_hz`.
    pub fn new(sample_rate_hz: f64) -> Result<Self, String> {
        let mut registry = Registry::new();
        registry.register(SpectrumKind);
        let doc = GraphDoc::parse(std::path::Path::new("console-spectrum.ron"), ANALYSER_GRAPH)
            .map_err(|e| e.to_string())?;
        let options = CompileOptions::new(PrepareInfo::new(sample_rate_hz, BLOCK_FRAMES));
        let compiled =
            lathe_engine::compile(&doc, &registry, &options).map_err(|e| e.to_string())?;
        let (controller, engine) = lathe_engine::engine(compiled);
        Ok(Self {
            controller,
            engine,
            sample_rate_hz,
            left: Vec::with_capacity(BLOCK_FRAMES),
            right: Vec::with_capacity(BLOCK_FRAMES),
            out: vec![vec![0.0; BLOCK_FRAMES]; 2],
        })
    }

    /// The rate it analyses at.
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// Runs everything waiting in `reader` through the analyser.
    pub fn feed(&mut self, reader: &mut SpectrumReader) {
        loop {
            let n = reader.ring.slots().min(BLOCK_FRAMES);
            if n == 0 {
                return;
            }
            let Ok(chunk) = reader.ring.read_chunk(n) else {
                return;
            };
            let (a, b) = chunk.as_slices();
            self.left.clear();
            self.right.clear();
            for p in a.iter().chain(b) {
                self.left.push(p[0]);
                self.right.push(p[1]);
            }
            chunk.commit_all();
            self.run();
        }
    }

    /// Runs the frames in `left`/`right` through the engine.
    fn run(&mut self) {
        let n = self.left.len();
        let ins: [&[f32]; 2] = [&self.left, &self.right];
        let [o1, o2] = &mut self.out[..] else {
            return;
        };
        let mut outs: [&mut [f32]; 2] = [&mut o1[..n], &mut o2[..n]];
        self.engine.process(&ins, &mut outs, n);
    }

    /// The bands: their labels as in the `spectrum` node's meter names (`31_5`, `1000`).
    pub fn labels(&self) -> Vec<String> {
        self.controller
            .info()
            .meter_paths()
            .iter()
            .map(|p| {
                p.trim_start_matches("console.band_")
                    .trim_end_matches("hz_db")
                    .to_string()
            })
            .collect()
    }

    /// Each band's level in dB re a full-scale sine (NaN before the first spectrum and
    /// for digital silence), in the order of [`ConsoleSpectrum::labels`].
    pub fn levels_db(&self) -> Vec<f32> {
        (0..self.controller.info().meter_count)
            .map(|i| self.controller.meter_index(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq_hz: f64, amp: f64, rate: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| (amp * (std::f64::consts::TAU * freq_hz * i as f64 / rate).sin()) as f32)
            .collect()
    }

    /// A sine at a known level and frequency reads in its band at its level (20·log10 of
    /// the amplitude, within 0.2 dB), and the bands an octave away read at least 40 dB
    /// lower; written by "periods" of 256 frames and drained at the meter-frame rate.
    #[test]
    fn sine_shows_in_its_band_at_its_level() {
        for (rate, freq_hz, amp, band) in [
            (48_000.0, 1000.0, 0.25, "1000"),
            (48_000.0, 10_000.0, 0.5, "10000"),
            (44_100.0, 63.0, 0.1, "63"),
        ] {
            let (mut writer, mut reader) = spectrum_ring();
            let mut analyser = ConsoleSpectrum::new(rate).expect("analyser builds");
            let signal = sine(freq_hz, amp, rate, 3 * rate as usize);
            for (k, period) in signal.chunks(256).enumerate() {
                writer.write(period, period);
                // About 30 frames a second: every 6 periods at 48 kHz.
                if k % 6 == 5 {
                    analyser.feed(&mut reader);
                }
            }
            analyser.feed(&mut reader);
            let labels = analyser.labels();
            let levels = analyser.levels_db();
            let at = labels.iter().position(|l| l == band).expect("band");
            let expected = 20.0 * (amp as f32).log10();
            assert!(
                (levels[at] - expected).abs() < 0.2,
                "{freq_hz} Hz at {rate} Hz: band {band} reads {} dB, expected {expected}",
                levels[at]
            );
            for far in [at.saturating_sub(3), (at + 3).min(levels.len() - 1)] {
                if far != at {
                    assert!(
                        levels[far] < expected - 40.0 || levels[far].is_nan(),
                        "band {} reads {} dB next to a {freq_hz} Hz sine",
                        labels[far],
                        levels[far]
                    );
                }
            }
        }
    }

    /// Nobody reading: the ring fills and drops frames, and the writer goes on.
    #[test]
    fn full_ring_drops_frames() {
        let (mut writer, reader) = spectrum_ring();
        let block = vec![0.5f32; 4096];
        for _ in 0..(CAPACITY_FRAMES / 4096 + 3) {
            writer.write(&block, &block);
        }
        assert_eq!(reader.ring.slots(), CAPACITY_FRAMES);
    }
}
