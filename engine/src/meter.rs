//! Lock-free meter values: one atomic f32 per meter, written by the audio thread with a
//! relaxed store and read by any thread. A reader may see values from different blocks
//! of different meters, never a torn value.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// One published meter value. NaN means "no value" (nothing measured yet).
#[derive(Debug)]
pub struct MeterCell(AtomicU32);

impl MeterCell {
    pub fn new() -> Self {
        Self(AtomicU32::new(f32::NAN.to_bits()))
    }

    #[inline]
    pub fn store(&self, value: f32) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    #[inline]
    pub fn load(&self) -> f32 {
        f32::from_bits(self.0.load(Ordering::Relaxed))
    }
}

impl Default for MeterCell {
    fn default() -> Self {
        Self::new()
    }
}

/// All meters of a compiled graph, shared between the audio thread and readers.
pub type MeterBank = Arc<[MeterCell]>;

/// Makes a bank of `count` meters, all reading "no value".
pub fn meter_bank(count: usize) -> MeterBank {
    (0..count).map(|_| MeterCell::new()).collect()
}
