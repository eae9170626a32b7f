//! Album and catalogue delivery: everything `lathe album` needs besides the graph render
//! itself (presets, the gain iteration, resampling, metadata, WAV chunks, shards).

pub mod metadata;
pub mod node_run;
pub mod plan;
pub mod preset;
pub mod resample;
pub mod shard;
pub mod wav;
