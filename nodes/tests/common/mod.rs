//! What several test binaries of this crate share: a deterministic noise signal and the
//! build context a kind is built in outside a graph. Each binary uses only part of it.
#![allow(dead_code)]

use lathe_engine::{BuildContext, PrepareInfo};

/// Deterministic white noise in -1..1.
pub fn noise(seed: u64, frames: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..frames)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The context to build a kind in for `prepare`, as node `node_id` of a graph in the
/// current folder.
pub fn build_context(prepare: PrepareInfo, node_id: &'static str) -> BuildContext<'static> {
    BuildContext {
        prepare,
        node_id,
        base_dir: std::path::Path::new("."),
    }
}
