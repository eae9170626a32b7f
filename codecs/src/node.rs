//! The `codec` node kind: the signal through a lossy encoder and back, in the graph, at a
//! declared latency, so a master can be heard (and rendered) as a listener's decoder
//! plays it.
//!
//! Offline (the host says [`PrepareInfo::offline`]) the codec runs inline in `process`,
//! so renders are the same on every run. Live it runs on a worker thread
//! ([`RealtimeCodec`]) and the audio thread only copies samples through lock-free rings.
//! Both play at the same latency, so a live run and a render line up.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, MeterSpec, NodeConfig, NodeKind, NodeSpec, ParamId,
    PrepareInfo, Processor, Unit,
};
use serde::Deserialize;

use crate::realtime::{RealtimeCodec, worker_headroom_frames};
use crate::stream::{CodecStream, InlineCodec, stream_latency_frames};
use crate::{CodecError, CodecSpec};

/// Channels when the config names none.
pub const DEFAULT_CHANNELS: usize = 2;

const DOC: &str = "\
Encodes its input with a lossy codec and decodes it again, as a listener's player would.
Config: `codec` (required: CODEC:KBPS[:MODE], e.g. \"opus:128\", \"mp3:320\", \"mp3:256:vbr\",
\"aac:256\"), `channels` (1 or 2, default 2). At a rate the codec does not code at (Opus at
44100, MP3 above 48000) the node resamples to the codec's rate and back, as a streaming
service and a player do. Ports: `in`, `out`. Meters: `late_frames`.
Latency: the codec's delay and buffering (measured once when built: at 48 kHz opus:128 takes
2231 frames, mp3:320 4784) plus one block and 10 ms for the worker thread that runs the codec live.
Offline renders run the codec inline (the same output every run); live, the audio
thread only copies through lock-free rings and a late worker plays silence (counted in
`late_frames`). Allocates its rings and starts its worker when built.";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CodecConfig {
    codec: Option<String>,
    channels: Option<usize>,
}

/// The `codec` kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct CodecKind;

/// Registers the `codec` kind.
pub fn register(registry: &mut lathe_engine::Registry) {
    registry.register(CodecKind);
}

/// The latency a `codec` node of `spec` declares when prepared with `prepare`.
pub fn node_latency_frames(
    spec: CodecSpec,
    channels: usize,
    prepare: &PrepareInfo,
) -> Result<usize, CodecError> {
    let rate_hz = prepare.sample_rate_hz.round() as u32;
    Ok(stream_latency_frames(spec, rate_hz, channels)?
        + worker_headroom_frames(rate_hz, prepare.max_block_frames))
}

impl NodeKind for CodecKind {
    fn name(&self) -> &'static str {
        "codec"
    }

    fn summary(&self) -> &'static str {
        "A lossy codec (Opus, MP3, AAC) encoding and decoding the signal, latency declared."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: CodecConfig = config.parse()?;
        let text = cfg.codec.ok_or_else(|| {
            ConfigError::invalid(
                "codec",
                "name the codec, e.g. `(codec: \"opus:128\")`; codecs: opus, mp3, aac",
            )
        })?;
        let spec: CodecSpec = text
            .parse()
            .map_err(|e: crate::SpecError| ConfigError::invalid("codec", e.to_string()))?;
        let channels = cfg.channels.unwrap_or(DEFAULT_CHANNELS);
        if !(1..=2).contains(&channels) {
            return Err(ConfigError::invalid(
                "channels",
                format!("{channels} channels; allowed: 1 or 2"),
            ));
        }
        let prepare = ctx.prepare;
        let rate_hz = prepare.sample_rate_hz.round() as u32;
        let codec_error = |e: CodecError| ConfigError::invalid("codec", e.to_string());
        let latency_frames = node_latency_frames(spec, channels, &prepare).map_err(codec_error)?;
        let run = if prepare.offline {
            let stream = CodecStream::open(spec, rate_hz, channels).map_err(codec_error)?;
            Run::Inline(Box::new(InlineCodec::new(stream, latency_frames)))
        } else {
            Run::Worker(
                RealtimeCodec::with_latency(
                    spec,
                    rate_hz,
                    channels,
                    prepare.max_block_frames,
                    latency_frames,
                )
                .map_err(codec_error)?,
            )
        };
        let spec = NodeSpec::in_out(channels)
            .with_meters(vec![MeterSpec::new(
                "late_frames",
                Unit::Frames,
                "Frames played as silence because the codec had not returned them in time \
                 (live only; 0 when all is well).",
            )])
            .with_latency(latency_frames);
        Ok(BuiltNode {
            spec,
            processor: Box::new(CodecProcessor { run }),
        })
    }
}

/// Where the codec runs.
enum Run {
    /// In `process` (offline: deterministic, may allocate).
    Inline(Box<InlineCodec>),
    /// On a worker thread (live: real-time safe).
    Worker(RealtimeCodec),
}

/// The audio side of a `codec` node.
pub struct CodecProcessor {
    run: Run,
}

impl Processor for CodecProcessor {
    fn set_param(&mut self, _id: ParamId, _value: f32) {}

    fn reset(&mut self) {
        match &mut self.run {
            // Offline only: opening a codec is allowed here. If it fails the old one stays
            // (the output is then silence, as after any codec failure).
            Run::Inline(inline) => {
                if let Err(e) = inline.reset() {
                    inline.error = Some(e);
                }
            }
            Run::Worker(worker) => worker.reset(),
        }
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        let late = match &mut self.run {
            Run::Inline(inline) => {
                inline.process(io.inputs, io.outputs, frames);
                inline.missing_frames()
            }
            Run::Worker(worker) => {
                worker.process(io.inputs, io.outputs, frames);
                worker.late_frames()
            }
        };
        io.set_meter(0, late as f32);
    }
}
