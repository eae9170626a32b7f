//! The input a block-wise FIR reader keeps: the last frames of earlier blocks followed by
//! the loaded block. Whatever a frame's output reads is then in one slice, so any run of
//! the loaded block can be computed from the input alone, and runs a caller skips leave
//! nothing behind (the readers in [`crate::dsp::peak_detector`] and [`crate::dsp::near_nyquist`]
//! keep no other state).
//!
//! Sized in `new`; `load` and `finish` never allocate.

/// `history` frames of earlier input, then a loaded block of up to `max_block_frames`.
#[derive(Clone)]
pub struct InputHistory {
    frames: Box<[f32]>,
    history: usize,
    loaded: usize,
    max_block_frames: usize,
}

impl InputHistory {
    pub fn new(history: usize, max_block_frames: usize) -> Self {
        let max_block_frames = max_block_frames.max(1);
        Self {
            frames: vec![0.0; history + max_block_frames].into_boxed_slice(),
            history,
            loaded: 0,
            max_block_frames,
        }
    }

    /// Frames kept before the loaded block.
    pub fn history_frames(&self) -> usize {
        self.history
    }

    /// Frames of the loaded block.
    pub fn loaded_frames(&self) -> usize {
        self.loaded
    }

    /// The longest block [`Self::load`] takes.
    pub fn max_block_frames(&self) -> usize {
        self.max_block_frames
    }

    /// The history followed by the loaded block.
    pub fn frames(&self) -> &[f32] {
        &self.frames[..self.history + self.loaded]
    }

    /// Loads the next block (at most `max_block_frames`; more is cut).
    pub fn load(&mut self, block: &[f32]) {
        let n = block.len().min(self.max_block_frames);
        self.frames[self.history..self.history + n].copy_from_slice(&block[..n]);
        self.loaded = n;
    }

    /// Ends the loaded block: its last frames become the history.
    pub fn finish(&mut self) {
        let n = self.loaded;
        self.frames.copy_within(n..n + self.history, 0);
        self.loaded = 0;
    }

    /// Silence as history, nothing loaded.
    pub fn reset(&mut self) {
        self.frames.fill(0.0);
        self.loaded = 0;
    }
}
