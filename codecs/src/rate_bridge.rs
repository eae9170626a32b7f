//! Running a codec at a rate it does not code at: Opus codes 48 kHz (and sub-rates), not
//! the 44.1 kHz of a CD session. [`RateBridge`] resamples the input to the codec's rate and
//! the decoded stream back, the way a streaming service's encoder and a listener's player
//! do, so the `codec` node and `monitor codec` work at any session rate.
//!
//! Both resamplers are 256-point Blackman-Harris sincs with cubic interpolation, as long as
//! `lathe album`'s: a round trip 44.1 -> 48 -> 44.1 kHz keeps partials up to 15 kHz to
//! 40 dB SNR (measured below), far under the noise of any codec setting. Each side takes a fixed
//! chunk, so the bridge holds frames back until a chunk is full: the stream's latency
//! probe ([`crate::stream::stream_latency_frames`]) measures that like any codec's.
//! Not real-time safe (allocates); it runs where the codec runs.

use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
    calculate_cutoff,
};

use crate::CodecError;

/// Sinc kernel length of both resamplers.
const SINC_LEN: usize = 256;
/// Input frames per resampler call.
const CHUNK_FRAMES: usize = 256;

/// Two resamplers around a codec: node rate to codec rate before it, back after it.
pub struct RateBridge {
    channels: usize,
    node_rate_hz: u32,
    codec_rate_hz: u32,
    to_codec: SincFixedIn<f32>,
    from_codec: SincFixedIn<f32>,
    /// Planar frames waiting for a full chunk: at the node's rate before the codec, at
    /// the codec's after it.
    pending_in: Vec<Vec<f32>>,
    pending_out: Vec<Vec<f32>>,
}

fn resampler(from_hz: u32, to_hz: u32, channels: usize) -> Result<SincFixedIn<f32>, CodecError> {
    let window = WindowFunction::BlackmanHarris2;
    let params = SincInterpolationParameters {
        sinc_len: SINC_LEN,
        f_cutoff: calculate_cutoff(SINC_LEN, window),
        oversampling_factor: 256,
        interpolation: SincInterpolationType::Cubic,
        window,
    };
    let ratio = f64::from(to_hz) / f64::from(from_hz);
    SincFixedIn::new(ratio, 1.0, params, CHUNK_FRAMES, channels).map_err(|e| {
        CodecError::Resampler {
            reason: format!("{from_hz} Hz to {to_hz} Hz: {e}"),
        }
    })
}

impl RateBridge {
    pub fn new(node_rate_hz: u32, codec_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        Ok(Self {
            channels,
            node_rate_hz,
            codec_rate_hz,
            to_codec: resampler(node_rate_hz, codec_rate_hz, channels)?,
            from_codec: resampler(codec_rate_hz, node_rate_hz, channels)?,
            pending_in: vec![Vec::new(); channels],
            pending_out: vec![Vec::new(); channels],
        })
    }

    /// How many frames of the bridged decoded stream come before the first input frame,
    /// given the codec's own delay `codec_delay_frames` at its rate: that delay at the
    /// node's rate, rounded (the remainder, under half a frame, is a phase shift of no
    /// consequence to listening). The resamplers add none: rubato's sinc resamplers start
    /// reading half a kernel early, so their output is aligned with their input (the test
    /// below measures it).
    pub fn delay_frames(&self, codec_delay_frames: usize) -> usize {
        let scale = f64::from(self.node_rate_hz) / f64::from(self.codec_rate_hz);
        (codec_delay_frames as f64 * scale).round() as usize
    }

    /// Resamples interleaved node-rate frames to the codec's rate, appending whole chunks'
    /// worth of interleaved codec-rate frames to `out`.
    pub fn to_codec(&mut self, interleaved: &[f32], out: &mut Vec<f32>) -> Result<(), CodecError> {
        run(
            &mut self.to_codec,
            &mut self.pending_in,
            self.channels,
            interleaved,
            out,
        )
    }

    /// Resamples interleaved decoded codec-rate frames back to the node's rate.
    pub fn from_codec(
        &mut self,
        interleaved: &[f32],
        out: &mut Vec<f32>,
    ) -> Result<(), CodecError> {
        run(
            &mut self.from_codec,
            &mut self.pending_out,
            self.channels,
            interleaved,
            out,
        )
    }
}

fn run(
    resampler: &mut SincFixedIn<f32>,
    pending: &mut [Vec<f32>],
    channels: usize,
    interleaved: &[f32],
    out: &mut Vec<f32>,
) -> Result<(), CodecError> {
    for frame in interleaved.chunks_exact(channels) {
        for (p, &s) in pending.iter_mut().zip(frame) {
            p.push(s);
        }
    }
    while pending[0].len() >= resampler.input_frames_next() {
        let need = resampler.input_frames_next();
        let slices: Vec<&[f32]> = pending.iter().map(|p| &p[..need]).collect();
        let planes = resampler
            .process(&slices, None)
            .map_err(|e| CodecError::Resampler {
                reason: e.to_string(),
            })?;
        for p in pending.iter_mut() {
            p.drain(..need);
        }
        for i in 0..planes[0].len() {
            out.extend(planes.iter().map(|p| p[i]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bridge alone (no codec between its halves) returns its input `delay_frames(0)`
    /// (no) frames late: the least squared error against the input is there, and the
    /// round trip through 48 kHz keeps partials up to 15 kHz to 40 dB SNR.
    #[test]
    fn the_round_trip_is_late_by_the_delay_it_declares() {
        let channels = 2;
        let mut bridge = RateBridge::new(44_100, 48_000, channels).expect("bridge");
        // Partials from 110 Hz to 15 kHz, inside both passbands, none a multiple of another.
        let x: Vec<f32> = (0..44_100)
            .map(|i| {
                let t = i as f64 / 44_100.0;
                [110.0, 987.0, 3_141.0, 7_777.0, 12_345.0, 15_000.0]
                    .iter()
                    .enumerate()
                    .map(|(k, f)| (2.0 * std::f64::consts::PI * f * t + k as f64).sin() * 0.1)
                    .sum::<f64>() as f32
            })
            .collect();
        let interleaved: Vec<f32> = x.iter().flat_map(|&s| [s, -s]).collect();
        let (mut coded, mut back) = (Vec::new(), Vec::new());
        for block in interleaved.chunks(2 * 100) {
            coded.clear();
            bridge.to_codec(block, &mut coded).expect("to codec");
            bridge.from_codec(&coded, &mut back).expect("from codec");
        }
        let y: Vec<f32> = back.iter().step_by(2).copied().collect();
        let error_at = |lag: usize| -> f64 {
            (10_000..20_000)
                .map(|i| f64::from(y[i] - x[i - lag]).powi(2))
                .sum()
        };
        let best = (0..400)
            .min_by(|&a, &b| error_at(a).total_cmp(&error_at(b)))
            .expect("lag");
        let signal: f64 = (10_000..20_000).map(|i| f64::from(x[i]).powi(2)).sum();
        let snr_db = 10.0 * (signal / error_at(best)).log10();
        assert_eq!(
            best,
            bridge.delay_frames(0),
            "measured lag; SNR {snr_db:.1} dB"
        );
        println!("round trip: {snr_db:.1} dB SNR");
        assert!(snr_db > 40.0, "{snr_db} dB");
        // The other channel is the same, inverted.
        assert!((back[2 * 15_000 + 1] + back[2 * 15_000]).abs() < 1e-6);
    }
}
