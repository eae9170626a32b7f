//! `peak_rms`: per-channel peak and RMS level over a sliding window; audio passes
//! through unchanged.
//!
//! - Ports: in `in`, out `out` (N channels).
//! - Config: `(channels: 2)` (1 ..= 32).
//! - Params ([`PeakRmsParam`]): `window_ms`, length of the rectangular
//!   window both readings cover, in steps of 10 ms; a change applies from the next
//!   10 ms step. `reset` (0/1): any change of value clears the window and `peak_max_dbfs`.
//! - Meters: `chN.peak_dbfs` and `chN.rms_dbfs` for N = 1 ..= channels (largest absolute
//!   sample and RMS over the window, updated every 10 ms; RMS in dBFS of the signal's
//!   mean square, so a full-scale sine reads -3.01 dB), and `peak_max_dbfs` (largest
//!   sample since reset, all channels). NaN = digital silence (no level).
//! - Latency: 0. Allocates at build only: a ring of 10 ms sums per channel (10 s deep).

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, MeterSpec, NodeConfig, NodeKind, NodeSpec, ParamDecl,
    ParamId, ParamTable, Processor, Unit, params,
};

use crate::bus::{ChannelsConfig, check_channels};

/// Default window length.
pub const DEFAULT_WINDOW_MS: f32 = 300.0;
/// Longest window; the ring of 10 ms steps is sized for it.
pub const MAX_WINDOW_MS: f32 = 10_000.0;
/// Readings move in steps of this length.
const STEP_MS: f64 = 10.0;
const MAX_STEPS: usize = (MAX_WINDOW_MS as f64 / STEP_MS) as usize;

const DOC: &str = "\
Per-channel peak and RMS over a sliding window; audio passes through unchanged.
Ports: in `in`, out `out` (N channels). Config: channels (1..=32, default 2).
Params: window_ms (10 ms steps): window of both readings; reset: any change of value
  clears the window and peak_max_dbfs.
Meters: chN.peak_dbfs, chN.rms_dbfs (N = 1..channels; every 10 ms; a full-scale sine reads
  0 dBFS peak, -3.01 dBFS RMS), peak_max_dbfs (since reset). NaN = digital silence.
Latency: 0. Allocates at build only (a 10 s ring of 10 ms sums per channel).";

params! {
    /// The params of `peak_rms`.
    pub enum PeakRmsParam {
        WindowMs = ParamDecl::new(
            "window_ms",
            Unit::Ms,
            STEP_MS as f32,
            MAX_WINDOW_MS,
            DEFAULT_WINDOW_MS,
        )
        .smoothing_ms(0.0)
        .doc("Window length of both readings (10 ms steps)."),
        Reset = ParamDecl::toggle("reset", false)
            .smoothing_ms(0.0)
            .doc("Any change of value clears the window and the peak maximum."),
    }
}

pub struct PeakRmsKind;

impl NodeKind for PeakRmsKind {
    fn name(&self) -> &'static str {
        "peak_rms"
    }

    fn summary(&self) -> &'static str {
        "Per-channel peak and RMS meters over a sliding window."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let channels = check_channels(config.parse::<ChannelsConfig>()?.channels)?;
        let mut meters = Vec::with_capacity(2 * channels + 1);
        for c in 1..=channels {
            meters.push(MeterSpec::new(
                format!("ch{c}.peak_dbfs"),
                Unit::Dbfs,
                "Largest absolute sample in the window.",
            ));
            meters.push(MeterSpec::new(
                format!("ch{c}.rms_dbfs"),
                Unit::Dbfs,
                "RMS level over the window.",
            ));
        }
        meters.push(MeterSpec::new(
            "peak_max_dbfs",
            Unit::Dbfs,
            "Largest sample since reset, all channels.",
        ));
        let spec = NodeSpec::in_out(channels)
            .with_params(PeakRmsParam::specs())
            .with_meters(meters);
        let step_frames = ((ctx.prepare.sample_rate_hz * STEP_MS / 1000.0).round() as usize).max(1);
        let processor = PeakRmsProcessor {
            channels,
            step_frames,
            window_steps: window_steps(PeakRmsParam::WindowMs.default_value()),
            reset_value: PeakRmsParam::Reset.default_value(),
            fill: 0,
            square_sums: vec![0.0; channels],
            peaks: vec![0.0; channels],
            ring_squares: vec![0.0; channels * MAX_STEPS],
            ring_peaks: vec![0.0; channels * MAX_STEPS],
            ring_pos: 0,
            peak_max: 0.0,
            readings: vec![f32::NAN; 2 * channels],
        };
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

fn window_steps(window_ms: f32) -> usize {
    ((window_ms as f64 / STEP_MS).round() as usize).clamp(1, MAX_STEPS)
}

/// dB of a linear amplitude; NaN for zero (no level).
fn amplitude_db(x: f64) -> f32 {
    if x > 0.0 {
        (20.0 * x.log10()) as f32
    } else {
        f32::NAN
    }
}

pub struct PeakRmsProcessor {
    channels: usize,
    step_frames: usize,
    window_steps: usize,
    reset_value: f32,
    /// Frames in the current step.
    fill: usize,
    square_sums: Vec<f64>,
    peaks: Vec<f32>,
    /// Per channel, [`MAX_STEPS`] completed steps (channel-major).
    ring_squares: Vec<f64>,
    ring_peaks: Vec<f32>,
    ring_pos: usize,
    peak_max: f32,
    /// Published peak and RMS per channel, in meter order.
    readings: Vec<f32>,
}

impl PeakRmsProcessor {
    fn end_step(&mut self) {
        let pos = self.ring_pos;
        let steps = self.window_steps;
        let frames = (steps * self.step_frames) as f64;
        for c in 0..self.channels {
            let base = c * MAX_STEPS;
            self.ring_squares[base + pos] = self.square_sums[c];
            self.ring_peaks[base + pos] = self.peaks[c];
            // The window is the `steps` slots ending at `pos`, wrapping round the ring.
            let first = (pos + MAX_STEPS + 1 - steps) % MAX_STEPS;
            let (mut sum, mut peak) = (0.0, 0f32);
            for ranges in [
                first..(first + steps).min(MAX_STEPS),
                0..(first + steps).saturating_sub(MAX_STEPS),
            ] {
                sum += self.ring_squares[base + ranges.start..base + ranges.end]
                    .iter()
                    .sum::<f64>();
                peak = self.ring_peaks[base + ranges.start..base + ranges.end]
                    .iter()
                    .fold(peak, |m, &x| m.max(x));
            }
            self.readings[2 * c] = amplitude_db(peak as f64);
            self.readings[2 * c + 1] = amplitude_db((sum / frames).sqrt());
        }
        self.square_sums.fill(0.0);
        self.peaks.fill(0.0);
        self.ring_pos = (pos + 1) % MAX_STEPS;
    }
}

impl Processor for PeakRmsProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        match PeakRmsParam::from_id(id) {
            Some(PeakRmsParam::WindowMs) => self.window_steps = window_steps(value),
            Some(PeakRmsParam::Reset) if value != self.reset_value => {
                self.reset_value = value;
                self.reset();
            }
            _ => {}
        }
    }

    fn reset(&mut self) {
        self.fill = 0;
        self.square_sums.fill(0.0);
        self.peaks.fill(0.0);
        self.ring_squares.fill(0.0);
        self.ring_peaks.fill(0.0);
        self.ring_pos = 0;
        self.peak_max = 0.0;
        self.readings.fill(f32::NAN);
    }

    fn process(&mut self, io: &mut Io<'_>) {
        io.copy_through();
        let frames = io.frames;
        let mut offset = 0;
        while offset < frames {
            let n = (frames - offset).min(self.step_frames - self.fill);
            for (c, input) in io.inputs.iter().enumerate().take(self.channels) {
                let x = &input[offset..offset + n];
                self.square_sums[c] += x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
                self.peaks[c] = x.iter().fold(self.peaks[c], |m, v| m.max(v.abs()));
                self.peak_max = self.peak_max.max(self.peaks[c]);
            }
            offset += n;
            self.fill += n;
            if self.fill == self.step_frames {
                self.fill = 0;
                self.end_step();
            }
        }
        for (i, &v) in self.readings.iter().enumerate() {
            io.set_meter(i, v);
        }
        io.set_meter(self.readings.len(), amplitude_db(self.peak_max as f64));
    }
}
