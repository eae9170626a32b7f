//! Taps: a copy of one node output port, taken on the audio thread right after the node
//! runs, so a host can let the listener hear a point inside the graph (one crossover band,
//! say) without changing the graph or what it outputs.
//!
//! The controller resolves `node.port` against the graph it knows and publishes the choice
//! as one packed atomic word tagged with that graph's generation; the audio thread takes
//! it only while running that generation, so a swap never taps the wrong node (until the
//! controller re-resolves the path for the new graph, nothing is tapped).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::compiled::GraphInfo;

/// Most channels a tap carries (a port with more is tapped in its first ones).
pub const MAX_TAP_CHANNELS: usize = 8;

/// Bits of each packed field: channels (1..=8, 0 = no tap), first channel, node, and the
/// low bits of the generation.
const CHANNEL_BITS: u32 = 8;
const FIRST_BITS: u32 = 12;
const NODE_BITS: u32 = 20;
const GENERATION_BITS: u32 = 64 - CHANNEL_BITS - FIRST_BITS - NODE_BITS;

/// A resolved tap: which output channels of which runtime node, in which graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapPoint {
    pub generation: u64,
    /// Runtime node index.
    pub node: u32,
    /// First channel of the port among the node's output channels.
    pub first_channel: u32,
    /// Channels tapped (at most [`MAX_TAP_CHANNELS`]).
    pub channels: u32,
}

fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

impl TapPoint {
    /// Resolves `node.port` (or `node`, for its first output port) in `info`, a graph of
    /// generation `generation`. The error lists what could be tapped instead.
    pub fn resolve(info: &GraphInfo, path: &str, generation: u64) -> Result<TapPoint, String> {
        let (node_id, port) = match info.nodes.iter().find(|n| n.id == path) {
            Some(_) => (path, None),
            None => match path.rsplit_once('.') {
                Some((node, port)) => (node, Some(port)),
                None => (path, None),
            },
        };
        let Some((index, node)) = info.nodes.iter().enumerate().find(|(_, n)| n.id == node_id)
        else {
            let ids: Vec<&str> = info.nodes.iter().map(|n| n.id.as_str()).collect();
            return Err(format!(
                "unknown node `{node_id}`; nodes: {}",
                ids.join(", ")
            ));
        };
        let outputs = &node.spec.outputs;
        let names = || {
            outputs
                .iter()
                .map(|p| format!("{node_id}.{}", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let port_index = match port {
            None => 0,
            Some(name) => outputs.iter().position(|p| p.name == name).ok_or_else(|| {
                format!(
                    "node `{node_id}` has no output `{name}`; outputs: {}",
                    names()
                )
            })?,
        };
        let Some(spec) = outputs.get(port_index) else {
            return Err(format!("node `{node_id}` has no output to listen to"));
        };
        let first: usize = outputs[..port_index].iter().map(|p| p.channels).sum();
        if index as u64 > mask(NODE_BITS) || first as u64 > mask(FIRST_BITS) {
            return Err(format!("`{path}` is beyond what a tap can address"));
        }
        Ok(TapPoint {
            generation,
            node: index as u32,
            first_channel: first as u32,
            channels: spec.channels.clamp(1, MAX_TAP_CHANNELS) as u32,
        })
    }

    fn pack(self) -> u64 {
        u64::from(self.channels)
            | u64::from(self.first_channel) << CHANNEL_BITS
            | u64::from(self.node) << (CHANNEL_BITS + FIRST_BITS)
            | (self.generation & mask(GENERATION_BITS)) << (CHANNEL_BITS + FIRST_BITS + NODE_BITS)
    }

    /// The tap in `word` if it was made for a graph of `generation`.
    fn unpack(word: u64, generation: u64) -> Option<TapPoint> {
        let channels = (word & mask(CHANNEL_BITS)) as u32;
        let tagged = word >> (CHANNEL_BITS + FIRST_BITS + NODE_BITS);
        (channels > 0 && tagged == generation & mask(GENERATION_BITS)).then(|| TapPoint {
            generation,
            node: ((word >> (CHANNEL_BITS + FIRST_BITS)) & mask(NODE_BITS)) as u32,
            first_channel: ((word >> CHANNEL_BITS) & mask(FIRST_BITS)) as u32,
            channels,
        })
    }
}

/// The tap choice shared by the controller and the audio thread.
#[derive(Debug, Default)]
pub struct TapSelection(AtomicU64);

impl TapSelection {
    pub fn set(&self, point: Option<TapPoint>) {
        self.0
            .store(point.map_or(0, TapPoint::pack), Ordering::Release);
    }

    /// The tap for the graph of `generation`, if one is chosen for it.
    pub fn get(&self, generation: u64) -> Option<TapPoint> {
        TapPoint::unpack(self.0.load(Ordering::Acquire), generation)
    }
}

/// The audio side of a tap in one runtime: what to copy and where, sized at compile time.
#[derive(Debug)]
pub struct TapBuffer {
    point: Option<TapPoint>,
    /// `MAX_TAP_CHANNELS` channels of `max_block` frames.
    buf: Box<[f32]>,
    max_block: usize,
    /// The tapped node ran in the current block.
    captured: bool,
}

impl TapBuffer {
    pub fn new(max_block: usize) -> Self {
        Self {
            point: None,
            buf: vec![0.0; MAX_TAP_CHANNELS * max_block].into_boxed_slice(),
            max_block,
            captured: false,
        }
    }

    /// Chooses what the next block taps. Real-time safe.
    pub fn select(&mut self, point: Option<TapPoint>) {
        self.point = point;
        self.captured = false;
    }

    /// The node the tap wants, if any.
    #[inline]
    pub fn node(&self) -> Option<u32> {
        self.point.map(|p| p.node)
    }

    /// Copies the tapped channels out of `node_outputs` (all of the node's output
    /// channels). Real-time safe.
    pub fn capture(&mut self, node_outputs: &[&mut [f32]]) {
        let Some(p) = self.point else { return };
        let first = p.first_channel as usize;
        let wanted = node_outputs.iter().skip(first).take(p.channels as usize);
        for (dst, src) in self.buf.chunks_mut(self.max_block).zip(wanted) {
            let n = src.len().min(dst.len());
            dst[..n].copy_from_slice(&src[..n]);
        }
        self.captured = true;
    }

    /// The tapped channels of the block just run (empty when nothing was tapped).
    pub fn channels(&self, frames: usize) -> impl Iterator<Item = &[f32]> {
        let count = match (self.captured, self.point) {
            (true, Some(p)) => p.channels as usize,
            _ => 0,
        };
        let frames = frames.min(self.max_block);
        self.buf
            .chunks(self.max_block)
            .take(count)
            .map(move |c| &c[..frames])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_checks_the_generation() {
        let p = TapPoint {
            generation: 7,
            node: 123_456,
            first_channel: 4,
            channels: 2,
        };
        let sel = TapSelection::default();
        assert_eq!(sel.get(7), None);
        sel.set(Some(p));
        assert_eq!(sel.get(7), Some(p));
        assert_eq!(
            sel.get(8),
            None,
            "a newer graph is not tapped by an old choice"
        );
        sel.set(None);
        assert_eq!(sel.get(7), None);
    }
}
