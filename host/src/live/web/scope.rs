//! The goniometer's samples: a lock-free ring the audio thread writes the main output's
//! left/right pairs into (one pair in [`DECIMATION`]), and the control thread drains for
//! the browsers. The writer never blocks or allocates: when nobody reads (no browser),
//! the ring is full and pairs are dropped.

/// Pairs kept per second of audio: one in this many frames.
pub const DECIMATION: usize = 4;
/// Pairs the ring holds (about a third of a second at 48 kHz).
pub const CAPACITY: usize = 4096;

/// The audio thread's end.
pub struct ScopeWriter {
    ring: rtrb::Producer<[f32; 2]>,
    /// Frames to skip before the next pair is taken.
    skip: usize,
}

/// The control thread's end.
pub struct ScopeReader {
    ring: rtrb::Consumer<[f32; 2]>,
}

/// A new ring's two ends.
pub fn scope_ring() -> (ScopeWriter, ScopeReader) {
    let (tx, rx) = rtrb::RingBuffer::new(CAPACITY);
    (ScopeWriter { ring: tx, skip: 0 }, ScopeReader { ring: rx })
}

impl ScopeWriter {
    /// Takes every [`DECIMATION`]th pair of `left`/`right`. Real-time safe.
    pub fn write(&mut self, left: &[f32], right: &[f32]) {
        let frames = left.len().min(right.len());
        let mut i = self.skip;
        while i < frames {
            // A full ring (nobody reading) drops the pair.
            let _ = self.ring.push([left[i], right[i]]);
            i += DECIMATION;
        }
        // Keeps the spacing across periods.
        self.skip = i - frames;
    }
}

impl ScopeReader {
    /// Drains the ring; returns at most `max` pairs spread over what was there.
    pub fn drain(&mut self, max: usize) -> Vec<[f32; 2]> {
        let n = self.ring.slots();
        let Ok(chunk) = self.ring.read_chunk(n) else {
            return Vec::new();
        };
        let (a, b) = chunk.as_slices();
        let step = n.div_ceil(max.max(1)).max(1);
        let out = a.iter().chain(b).step_by(step).copied().collect();
        chunk.commit_all();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_one_pair_in_decimation_and_drops_when_full() {
        let (mut w, mut r) = scope_ring();
        let left: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let right: Vec<f32> = (0..10).map(|i| -(i as f32)).collect();
        w.write(&left, &right);
        w.write(&left, &right);
        let got = r.drain(100);
        // Frames 0, 4, 8 of the first period, then 2, 6 of the second (12, 16 overall).
        assert_eq!(
            got,
            [
                [0.0, -0.0],
                [4.0, -4.0],
                [8.0, -8.0],
                [2.0, -2.0],
                [6.0, -6.0]
            ]
        );
        let long = vec![0.5f32; CAPACITY * DECIMATION * 2];
        w.write(&long, &long);
        assert_eq!(r.drain(usize::MAX).len(), CAPACITY);
        w.write(&long[..40], &long[..40]);
        assert_eq!(r.drain(3).len(), 3);
    }
}
