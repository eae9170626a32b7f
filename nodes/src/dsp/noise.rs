//! The noise generator of the sources and of dither: xorshift64* (Vigna), seeded through
//! the SplitMix64 finaliser so that nearby seeds (1, 2, 3, or one seed per channel) give
//! unrelated streams. Deterministic: the same seed gives the same samples on every
//! machine and at every block size, which renders and tests rely on.
//!
//! The two users map the 53 high bits of each output to different ranges (a full-scale
//! signal in `[-1, 1)`, a dither value in `[-0.5, 0.5)` LSB) and derive channel states
//! from the seed in their own ways; both ways are kept, as their streams are part of the
//! rendered output.

/// The SplitMix64 increment (2^64 / golden ratio).
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 finaliser: spreads the bits of `z` over the whole word.
pub fn splitmix64_finalise(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A xorshift64* generator. Its state must not be zero (zero is a fixed point).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Xorshift64Star {
    state: u64,
}

impl Xorshift64Star {
    /// A generator starting from `state` (non-zero).
    pub const fn new(state: u64) -> Self {
        Self { state }
    }

    /// The next 53 random bits (the high bits of the scrambled output).
    #[inline]
    pub fn next_bits53(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    }

    /// Uniform in `[-1, 1)`: a full-scale white signal.
    #[inline]
    pub fn uniform_signed(&mut self) -> f64 {
        self.next_bits53() as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
    }

    /// Uniform in `[-0.5, 0.5)`: one LSB of rectangular dither.
    #[inline]
    pub fn uniform_half(&mut self) -> f64 {
        self.next_bits53() as f64 / (1u64 << 53) as f64 - 0.5
    }
}
