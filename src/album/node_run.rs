//! Running one node kind on its own over a whole signal, outside any graph: the final
//! `dither` of a delivery, and the impulse responses that `lathe plot` draws.

use std::path::Path;

use lathe_engine::{BuildContext, Io, MeterCell, NodeConfig, NodeKind, PrepareInfo};

use crate::audio_io::Audio;

/// Frames per `process` call.
const BLOCK_FRAMES: usize = 4096;

/// `audio` through a node of `kind` built with the RON `config`; the node's latency is
/// compensated (the output is aligned with the input and as long).
pub fn run_node(kind: &dyn NodeKind, config: &str, audio: &Audio) -> Result<Audio, String> {
    let prepare = PrepareInfo::new(f64::from(audio.sample_rate_hz), BLOCK_FRAMES);
    let ctx = BuildContext {
        prepare,
        node_id: kind.name(),
        base_dir: Path::new("."),
    };
    let built = kind
        .build(&NodeConfig::from_ron(config), &ctx)
        .map_err(|e| format!("{} node: {e}", kind.name()))?;
    let spec = built.spec;
    let mut processor = built.processor;
    if spec.input_channels() != audio.channel_count() {
        return Err(format!(
            "{} node takes {} channels, found {}",
            kind.name(),
            spec.input_channels(),
            audio.channel_count()
        ));
    }
    let latency = spec.latency_frames;
    let total = audio.frames() + latency;
    let input: Vec<Vec<f32>> = audio
        .channels
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.resize(total, 0.0);
            c
        })
        .collect();
    let mut output = vec![vec![0.0f32; total]; spec.output_channels()];
    let connected = vec![true; spec.inputs.len()];
    let meters: Vec<MeterCell> = spec.meters.iter().map(|_| MeterCell::new()).collect();
    let mut pos = 0;
    while pos < total {
        let n = BLOCK_FRAMES.min(total - pos);
        let ins: Vec<&[f32]> = input.iter().map(|c| &c[pos..pos + n]).collect();
        let mut outs: Vec<&mut [f32]> = output.iter_mut().map(|c| &mut c[pos..pos + n]).collect();
        let mut io = Io::new(n, &ins, &mut outs, pos as u64, &connected, &meters);
        processor.process(&mut io);
        pos += n;
    }
    Ok(Audio {
        sample_rate_hz: audio.sample_rate_hz,
        channels: output
            .into_iter()
            .map(|mut c| {
                c.drain(..latency);
                c
            })
            .collect(),
    })
}
