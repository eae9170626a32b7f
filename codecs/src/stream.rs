//! A codec as a stream: audio goes in block by block and comes back decoded, later by a
//! fixed number of frames, so a node or a monitor can put a codec in a signal path.
//!
//! [`CodecStream`] is the codec half (an [`Encoder`](crate::Encoder) and its
//! [`Decoder`](crate::Decoder) in series); [`AlignedOutput`] turns its decoded stream into
//! output frames at a constant latency; [`stream_latency_frames`] says what that latency
//! must be for a codec. Both run wherever the caller likes: inline in an offline render,
//! or on the worker thread of [`crate::realtime`] live. Neither is real-time safe: the
//! encoders allocate (LAME's framing, Opus packets) and symphonia's MP3 decoder may too.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use crate::rate_bridge::RateBridge;
use crate::{CodecError, CodecPair, CodecSpec, Packet};

/// How long the probe that measures a codec's buffering runs, in seconds of audio.
const PROBE_S: u32 = 2;

/// An encoder feeding its decoder: interleaved frames in, decoded interleaved frames out.
/// The decoded stream starts with [`CodecStream::delay_frames`] frames that precede the
/// first input frame.
pub struct CodecStream {
    spec: CodecSpec,
    channels: usize,
    /// The rate of the frames going in and coming out.
    sample_rate_hz: u32,
    pair: CodecPair,
    packets: Vec<Packet>,
    /// Resampling around the codec when it does not code at `sample_rate_hz`.
    bridge: Option<Bridged>,
}

/// A [`RateBridge`] and its scratch buffers of codec-rate frames.
struct Bridged {
    bridge: RateBridge,
    coded_in: Vec<f32>,
    coded_out: Vec<f32>,
}

impl CodecStream {
    /// Opens the codec for `channels` channels of frames at `sample_rate_hz`. At a rate
    /// the codec does not code at (see [`crate::coded_rate_hz`]) the frames are resampled
    /// to the codec's rate and back ([`RateBridge`]).
    pub fn open(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        let codec_rate_hz = crate::coded_rate_hz(spec.codec, sample_rate_hz);
        let bridge = if codec_rate_hz == sample_rate_hz {
            None
        } else {
            Some(Bridged {
                bridge: RateBridge::new(sample_rate_hz, codec_rate_hz, channels)?,
                coded_in: Vec::new(),
                coded_out: Vec::new(),
            })
        };
        Ok(Self {
            spec,
            channels,
            sample_rate_hz,
            pair: crate::open(spec, codec_rate_hz, channels)?,
            packets: Vec::new(),
            bridge,
        })
    }

    pub fn spec(&self) -> CodecSpec {
        self.spec
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The rate of the frames going in and coming out.
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Frames of the decoded stream before the one that renders the first input frame.
    pub fn delay_frames(&self) -> usize {
        let codec_delay = self.pair.0.delay_frames();
        match &self.bridge {
            Some(b) => b.bridge.delay_frames(codec_delay),
            None => codec_delay,
        }
    }

    /// Encodes `interleaved` and appends whatever the decoder can return so far to
    /// `decoded`. Allocates.
    pub fn push(&mut self, interleaved: &[f32], decoded: &mut Vec<f32>) -> Result<(), CodecError> {
        let Some(b) = &mut self.bridge else {
            return code(&mut self.pair, &mut self.packets, interleaved, decoded);
        };
        b.coded_in.clear();
        b.bridge.to_codec(interleaved, &mut b.coded_in)?;
        b.coded_out.clear();
        code(
            &mut self.pair,
            &mut self.packets,
            &b.coded_in,
            &mut b.coded_out,
        )?;
        b.bridge.from_codec(&b.coded_out, decoded)
    }
}

/// Encodes `interleaved` and decodes every packet that completes.
fn code(
    (encoder, decoder): &mut CodecPair,
    packets: &mut Vec<Packet>,
    interleaved: &[f32],
    decoded: &mut Vec<f32>,
) -> Result<(), CodecError> {
    encoder.encode(interleaved, packets)?;
    for packet in packets.drain(..) {
        decoder.decode(&packet, decoded)?;
    }
    Ok(())
}

/// The latency at which a stream of `spec` can always play input frame `t - latency` at
/// output frame `t`, having been fed input frames up to `t`: the codec's delay plus the
/// most input frames its encoder and decoder hold back before returning them.
///
/// Measured once per codec setting, rate and channel count (cached for the process) by
/// feeding fixed probe signals one frame at a time and recording, after each frame, how
/// far the decoded stream lags the input. Opus holds back a fixed amount (one packet);
/// LAME's holding depends on the signal through its bit reservoir (silence and quiet
/// passages after loud ones hold frames longest at low and average bitrates), so the
/// probes are dense noise, silence, and noise bursts alternating with near silence, and
/// one more codec frame (the most frames one packet decoded to) is added as a margin. A
/// signal that needs still more plays a few frames of silence, counted by the caller
/// ([`AlignedOutput::missing_frames`]), and never shifts the alignment.
pub fn stream_latency_frames(
    spec: CodecSpec,
    sample_rate_hz: u32,
    channels: usize,
) -> Result<usize, CodecError> {
    type Key = (CodecSpec, u32, usize);
    static CACHE: OnceLock<Mutex<HashMap<Key, usize>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (spec, sample_rate_hz, channels);
    if let Some(&frames) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(frames);
    }
    let mut worst_lag = 0;
    let mut longest_packet = 0;
    for probe in [Probe::Noise, Probe::Silence, Probe::Bursts] {
        let (lag, packet) = probe_lag_frames(spec, sample_rate_hz, channels, probe)?;
        worst_lag = worst_lag.max(lag);
        longest_packet = longest_packet.max(packet);
    }
    let frames = worst_lag + longest_packet;
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, frames);
    Ok(frames)
}

/// The signals [`stream_latency_frames`] probes with.
#[derive(Debug, Clone, Copy)]
enum Probe {
    Noise,
    Silence,
    /// Noise for a quarter second, then noise 60 dB down for a quarter second, and so on.
    Bursts,
}

/// The most frames the decoded stream lagged the input by while `probe` went through,
/// and the most frames one packet decoded to.
fn probe_lag_frames(
    spec: CodecSpec,
    sample_rate_hz: u32,
    channels: usize,
    probe: Probe,
) -> Result<(usize, usize), CodecError> {
    let mut stream = CodecStream::open(spec, sample_rate_hz, channels)?;
    let delay = stream.delay_frames();
    let burst_frames = (sample_rate_hz / 4).max(1) as usize;
    let mut decoded = Vec::new();
    let mut seed = 0x2545_f491_u32;
    let mut frame = vec![0.0f32; channels];
    let (mut worst_lag, mut longest_packet, mut decoded_frames) = (0usize, 0usize, 0usize);
    for n in 1..=(PROBE_S * sample_rate_hz) as usize {
        for s in &mut frame {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed as f32 / u32::MAX as f32 - 0.5) * 1.6;
            *s = match probe {
                Probe::Noise => noise,
                Probe::Silence => 0.0,
                Probe::Bursts if (n / burst_frames).is_multiple_of(2) => noise,
                Probe::Bursts => noise * 0.001,
            };
        }
        decoded.clear();
        stream.push(&frame, &mut decoded)?;
        let got = decoded.len() / channels;
        longest_packet = longest_packet.max(got);
        decoded_frames += got;
        // Input frame n - 1 (the newest) is decoded frame n - 1 + delay.
        worst_lag = worst_lag.max((n + delay).saturating_sub(decoded_frames));
    }
    Ok((worst_lag, longest_packet))
}

/// Turns a codec's decoded stream into output at a constant latency: output frame `t` is
/// the decoded rendering of input frame `t - latency`. The first
/// `latency - delay` output frames are silence (the decoded stream's own first `delay`
/// frames already stand for time before the input). Frames the stream has not decoded
/// by the time they are due are played as silence and counted, and skipped when they
/// arrive, so a late stream never shifts the alignment.
#[derive(Debug)]
pub struct AlignedOutput {
    channels: usize,
    /// Output frames of silence still to play before the decoded stream starts.
    lead_frames: usize,
    /// Decoded frames that were due and missing: dropped when they come.
    owed_frames: usize,
    /// Decoded frames waiting to be played, interleaved.
    queue: VecDeque<f32>,
    pub missing_frames: u64,
}

impl AlignedOutput {
    /// Output for a stream of `channels` channels whose decoded stream starts
    /// `delay_frames` early, at `latency_frames` (at least `delay_frames`).
    pub fn new(channels: usize, latency_frames: usize, delay_frames: usize) -> Self {
        Self {
            channels,
            lead_frames: latency_frames.saturating_sub(delay_frames),
            owed_frames: 0,
            queue: VecDeque::new(),
            missing_frames: 0,
        }
    }

    /// Adds decoded interleaved frames.
    pub fn extend(&mut self, decoded: &[f32]) {
        let owed = (self.owed_frames * self.channels).min(decoded.len());
        self.owed_frames -= owed / self.channels;
        self.queue.extend(&decoded[owed..]);
    }

    /// Writes the next `frames` output frames into `outputs` (planar, one slice per
    /// channel, each at least `frames` long).
    pub fn play(&mut self, outputs: &mut [&mut [f32]], frames: usize) {
        let lead = self.lead_frames.min(frames);
        for out in outputs.iter_mut() {
            out[..lead].fill(0.0);
        }
        self.lead_frames -= lead;
        for i in lead..frames {
            if self.queue.len() < self.channels {
                for out in outputs.iter_mut() {
                    out[i] = 0.0;
                }
                self.owed_frames += 1;
                self.missing_frames += 1;
                continue;
            }
            for (c, sample) in self.queue.drain(..self.channels).enumerate() {
                if let Some(out) = outputs.get_mut(c) {
                    out[i] = sample;
                }
            }
        }
    }
}

/// Runs planar input through `stream` inline and plays it at `latency_frames`: the
/// deterministic path of an offline render (and of tests). Allocates.
pub struct InlineCodec {
    stream: CodecStream,
    output: AlignedOutput,
    latency_frames: usize,
    interleaved: Vec<f32>,
    decoded: Vec<f32>,
    /// Set when the codec failed; the output is silence from then on.
    pub error: Option<CodecError>,
}

impl InlineCodec {
    pub fn new(stream: CodecStream, latency_frames: usize) -> Self {
        let output = AlignedOutput::new(stream.channels(), latency_frames, stream.delay_frames());
        Self {
            stream,
            output,
            latency_frames,
            interleaved: Vec::new(),
            decoded: Vec::new(),
            error: None,
        }
    }

    /// Frames played as silence because the codec had not returned them (never, when the
    /// latency is [`stream_latency_frames`] or more).
    pub fn missing_frames(&self) -> u64 {
        self.output.missing_frames
    }

    /// Encodes and decodes `inputs` (planar) and writes `frames` output frames.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], frames: usize) {
        if self.error.is_none() {
            interleave(
                inputs,
                frames,
                self.stream.channels(),
                &mut self.interleaved,
            );
            self.decoded.clear();
            match self.stream.push(&self.interleaved, &mut self.decoded) {
                Ok(()) => self.output.extend(&self.decoded),
                Err(e) => self.error = Some(e),
            }
        }
        self.output.play(outputs, frames);
    }

    /// Starts again from silence with a fresh codec.
    pub fn reset(&mut self) -> Result<(), CodecError> {
        let s = &self.stream;
        let stream = CodecStream::open(s.spec, s.sample_rate_hz, s.channels)?;
        *self = Self::new(stream, self.latency_frames);
        Ok(())
    }
}

/// Interleaves the first `frames` frames of `channels` planar channels into `out`
/// (cleared first); a missing channel reads silence.
pub fn interleave(inputs: &[&[f32]], frames: usize, channels: usize, out: &mut Vec<f32>) {
    out.clear();
    for i in 0..frames {
        for c in 0..channels {
            out.push(inputs.get(c).map_or(0.0, |ch| ch[i]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_output_leads_with_silence_and_keeps_alignment_when_late() {
        // latency 5, delay 2: 3 frames of silence, then the decoded stream from frame 0.
        let mut out = AlignedOutput::new(1, 5, 2);
        let mut buf = [9.0f32; 4];
        out.extend(&[1.0]);
        out.play(&mut [&mut buf[..]], 4);
        assert_eq!(buf, [0.0, 0.0, 0.0, 1.0]);
        // Two frames due, none decoded: silence, and the two are skipped when they come.
        out.play(&mut [&mut buf[..]], 2);
        assert_eq!(&buf[..2], &[0.0, 0.0]);
        assert_eq!(out.missing_frames, 2);
        out.extend(&[2.0, 3.0, 4.0]);
        out.play(&mut [&mut buf[..]], 1);
        assert_eq!(buf[0], 4.0);
    }
}
