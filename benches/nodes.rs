//! Per-node cost: every kind in `lathe_nodes::registry()` in a realistic configuration,
//! driven directly (no engine) over a stereo 48 kHz test signal in blocks of 64, 256 and
//! 1024 frames. Throughput is in frames, so criterion reports frames per second; one
//! second of stereo audio is 48 000 frames.
//!
//! Kinds without an entry in [`cases`] run with their default config, so a new kind is
//! measured as soon as it is registered.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lathe_engine::harness::{self, Case};
use lathe_engine::{Io, MeterCell, NodeKind, PrepareInfo};

const RATE_HZ: f64 = 48_000.0;
const BLOCKS: [usize; 3] = [64, 256, 1024];
/// Four seconds of the harness test signal (noise bursts at varied levels, silence, a
/// full-scale stretch, a low sine), cycled through block after block.
const SIGNAL_FRAMES: usize = 4 * 48_000;
const MAX_CH: usize = 16;

/// One measured configuration: a label, a kind, its config (RON) and initial params.
struct Setup {
    label: &'static str,
    kind: &'static str,
    config: &'static str,
    params: &'static [(&'static str, f32)],
}

const MASTER_EQ_BANDS: &str = "bands: [(type: \"high_pass\", order: 2), (type: \"low_shelf\"), \
     (type: \"bell\"), (type: \"bell\"), (type: \"high_shelf\")]";

const MASTER_EQ_PARAMS: &[(&str, f32)] = &[
    ("band1.freq_hz", 30.0),
    ("band2.freq_hz", 100.0),
    ("band2.gain_db", 1.5),
    ("band3.freq_hz", 300.0),
    ("band3.q", 1.0),
    ("band3.gain_db", -1.5),
    ("band4.freq_hz", 3000.0),
    ("band4.q", 1.0),
    ("band4.gain_db", 1.0),
    ("band5.freq_hz", 10000.0),
    ("band5.gain_db", 1.0),
];

/// The configurations of graphs/master.ron where the kind appears there, otherwise a
/// typical mastering use.
fn cases() -> Vec<Setup> {
    vec![
        Setup {
            label: "eq_5band_min_phase",
            kind: "eq",
            config: leak(format!("({MASTER_EQ_BANDS})")),
            params: MASTER_EQ_PARAMS,
        },
        Setup {
            label: "eq_5band_linear_phase",
            kind: "eq",
            config: leak(format!("(mode: \"linear_phase\", {MASTER_EQ_BANDS})")),
            params: MASTER_EQ_PARAMS,
        },
        Setup {
            label: "crossover_3band_lr4",
            kind: "crossover",
            config: "(freqs_hz: [200.0, 2000.0], slope: \"lr4\")",
            params: &[],
        },
        Setup {
            label: "crossover_3band_lr4_linear_phase",
            kind: "crossover",
            config: "(freqs_hz: [200.0, 2000.0], slope: \"lr4\", mode: \"linear_phase\")",
            params: &[],
        },
        Setup {
            label: "compressor",
            kind: "compressor",
            config: "",
            params: &[
                ("threshold_db", -18.0),
                ("ratio", 2.0),
                ("knee_db", 6.0),
                ("attack_ms", 10.0),
                ("release_ms", 150.0),
            ],
        },
        Setup {
            label: "limiter_tp_4x",
            kind: "limiter",
            config: "(lookahead_ms: 5.0, oversampling: 4)",
            params: &[("ceiling_dbtp", -1.0), ("release_ms", 50.0)],
        },
        Setup {
            label: "clipper_4x",
            kind: "clipper",
            config: "(oversampling: 4)",
            params: &[],
        },
        Setup {
            label: "dither_16bit_shaped",
            kind: "dither",
            config: "(bits: 16, shaping: \"shaped\")",
            params: &[],
        },
        Setup {
            label: "width",
            kind: "width",
            config: "",
            params: &[("side_gain_db", 1.6)],
        },
        Setup {
            label: "mix_3in",
            kind: "mix",
            config: "(inputs: 3)",
            params: &[],
        },
        Setup {
            label: "gain",
            kind: "gain",
            config: "",
            params: &[("gain_db", -3.0)],
        },
        Setup {
            label: "delay_10ms",
            kind: "delay",
            config: "",
            params: &[("delay_ms", 10.0)],
        },
        Setup {
            label: "noise_pink",
            kind: "noise",
            config: "(color: \"pink\")",
            params: &[],
        },
    ]
}

/// Config strings built at start-up live for the whole run.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Every registered kind: the configured cases first, then each remaining kind as default.
fn all_setups(registry: &lathe_engine::Registry) -> Vec<Setup> {
    let mut setups = cases();
    for name in registry.names() {
        if !setups.iter().any(|s| s.kind == name) {
            setups.push(Setup {
                label: name,
                kind: name,
                config: "",
                params: &[],
            });
        }
    }
    setups
}

/// A built node and the buffers to feed it one block per call, walking through the signal
/// with the absolute frame position advancing as in a real render.
struct Driver {
    built: lathe_engine::BuiltNode,
    signal: Vec<Vec<f32>>,
    outputs: Vec<Vec<f32>>,
    connected: Vec<bool>,
    meters: Vec<MeterCell>,
    position: u64,
}

impl Driver {
    fn new(kind: &dyn NodeKind, setup: &Setup, frames: usize) -> Self {
        let case = Case::new(kind).config(setup.config).params(setup.params);
        let built = harness::build(&case, PrepareInfo::new(RATE_HZ, frames));
        let in_ch = built.spec.input_channels();
        let out_ch = built.spec.output_channels();
        assert!(
            in_ch <= MAX_CH && out_ch <= MAX_CH,
            "{}: too many channels",
            setup.label
        );
        // Optional side inputs stay unlinked, as in graphs/master.ron.
        let connected = built
            .spec
            .inputs
            .iter()
            .map(|p| !p.name.contains("side"))
            .collect();
        let meters = harness::meters_for(&built.spec);
        Self {
            signal: harness::test_signal(in_ch, SIGNAL_FRAMES),
            outputs: vec![vec![0.0; frames]; out_ch],
            connected,
            meters,
            built,
            position: 0,
        }
    }

    fn block(&mut self) {
        let frames = self.outputs.first().map_or(0, Vec::len);
        let start = (self.position as usize) % (SIGNAL_FRAMES - frames);
        let mut ins: [&[f32]; MAX_CH] = [&[]; MAX_CH];
        for (slot, ch) in ins.iter_mut().zip(&self.signal) {
            *slot = &ch[start..start + frames];
        }
        let out_count = self.outputs.len();
        let mut outs: [&mut [f32]; MAX_CH] = std::array::from_fn(|_| Default::default());
        for (slot, ch) in outs.iter_mut().zip(self.outputs.iter_mut()) {
            *slot = ch.as_mut_slice();
        }
        let mut io = Io::new(
            frames,
            &ins[..self.signal.len()],
            &mut outs[..out_count],
            self.position,
            &self.connected,
            &self.meters,
        );
        self.built.processor.process(&mut io);
        self.position += frames as u64;
    }
}

fn bench(c: &mut Criterion) {
    let registry = lathe_nodes::registry();
    for setup in all_setups(&registry) {
        let kind = registry.get(setup.kind).expect("registered kind");
        let mut group = c.benchmark_group(format!("node/{}", setup.label));
        for frames in BLOCKS {
            let mut driver = Driver::new(kind.as_ref(), &setup, frames);
            group.throughput(Throughput::Elements(frames as u64));
            group.bench_function(BenchmarkId::from_parameter(frames), |b| {
                b.iter(|| driver.block())
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
