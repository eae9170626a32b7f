//! The coefficient grid: while a filter's frequency moves, its coefficients are recomputed
//! only on frames whose absolute position (counted from the processor's reset) is a
//! multiple of [`COEF_GRID_FRAMES`]. Counting absolute frames, not block starts, is what
//! makes the output independent of the block size. Every kind with moving filters uses
//! this one grid.

/// While a frequency moves, coefficients are recomputed every this many frames, counted
/// from the processor's reset so the output does not depend on block size.
pub const COEF_GRID_FRAMES: u64 = 16;

/// Frames from absolute position `pos` to the next coefficient-grid point, at most `left`.
pub fn grid_segment(pos: u64, left: usize) -> usize {
    let to_grid = COEF_GRID_FRAMES - pos % COEF_GRID_FRAMES;
    (to_grid as usize).min(left)
}
