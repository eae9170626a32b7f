//! Running one node kind on its own over a whole signal, outside any graph: the final
//! `dither` of a delivery. The engine's offline driver runs it, as it runs graphs.

use std::path::Path;

use lathe_engine::offline::{NoSplits, NodeCall, OfflineRun, render_compensated};
use lathe_engine::{BuildContext, MeterCell, NodeConfig, NodeKind, PrepareInfo};

use crate::audio_io::Audio;

/// Frames per `process` call.
const BLOCK_FRAMES: usize = 4096;

/// `audio` through a node of `kind` built with the RON `config`; the node's latency is
/// compensated (the output is aligned with the input and as long).
pub fn run_node(kind: &dyn NodeKind, config: &str, audio: &Audio) -> Result<Audio, String> {
    let prepare = PrepareInfo::new(f64::from(audio.sample_rate_hz), BLOCK_FRAMES).for_offline();
    let ctx = BuildContext {
        prepare,
        node_id: kind.name(),
        base_dir: Path::new("."),
    };
    let mut built = kind
        .build(&NodeConfig::from_ron(config), &ctx)
        .map_err(|e| format!("{} node: {e}", kind.name()))?;
    let spec = &built.spec;
    if spec.input_channels() != audio.channel_count() {
        return Err(format!(
            "{} node takes {} channels, found {}",
            kind.name(),
            spec.input_channels(),
            audio.channel_count()
        ));
    }
    let latency = spec.latency_frames;
    let outputs = spec.output_channels();
    let connected = vec![true; spec.inputs.len()];
    let meters: Vec<MeterCell> = spec.meters.iter().map(|_| MeterCell::new()).collect();
    let node = NodeCall {
        built: &mut built,
        connected: &connected,
        meters: &meters,
    };
    let mut run = OfflineRun::new(node, NoSplits, BLOCK_FRAMES);
    let channels = render_compensated(
        &mut run,
        audio.channels.clone(),
        audio.frames(),
        latency,
        outputs,
        |_| {},
    );
    Ok(Audio {
        sample_rate_hz: audio.sample_rate_hz,
        channels,
    })
}
