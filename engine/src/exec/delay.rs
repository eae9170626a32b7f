//! Fixed delay lines for latency compensation and bypass alignment.

/// A ring buffer delaying one channel by a fixed number of frames.
#[derive(Debug, Clone)]
pub struct DelayLine {
    ring: Box<[f32]>,
    pos: usize,
}

impl DelayLine {
    pub fn new(delay_frames: usize) -> Self {
        Self {
            ring: vec![0.0; delay_frames].into_boxed_slice(),
            pos: 0,
        }
    }

    pub fn delay_frames(&self) -> usize {
        self.ring.len()
    }

    /// Writes `input` delayed into `out` (or adds it when `add`).
    #[inline]
    pub fn process(&mut self, input: &[f32], out: &mut [f32], add: bool) {
        let len = self.ring.len();
        if len == 0 {
            if add {
                out.iter_mut().zip(input).for_each(|(o, i)| *o += i);
            } else {
                out.copy_from_slice(input);
            }
            return;
        }
        // In runs up to the ring's wrap, each a plain swap over contiguous slices
        // (vectorised), not a per-sample index check.
        let frames = out.len().min(input.len());
        let mut done = 0;
        while done < frames {
            let run = (frames - done).min(len - self.pos);
            let ring = &mut self.ring[self.pos..self.pos + run];
            let (src, dst) = (&input[done..done + run], &mut out[done..done + run]);
            for ((o, &x), r) in dst.iter_mut().zip(src).zip(ring.iter_mut()) {
                let delayed = std::mem::replace(r, x);
                if add {
                    *o += delayed;
                } else {
                    *o = delayed;
                }
            }
            self.pos += run;
            if self.pos == len {
                self.pos = 0;
            }
            done += run;
        }
    }

    pub fn clear(&mut self) {
        self.ring.fill(0.0);
        self.pos = 0;
    }

    /// Takes over the audio held by `other` so a recompile does not drop it: the newest
    /// samples are kept, aligned so the next output is what `other` would have output
    /// next (when lengths differ, the extra history is zero or the oldest is dropped).
    /// Does not allocate.
    pub fn take_history_from(&mut self, other: &DelayLine) {
        let (n, m) = (self.ring.len(), other.ring.len());
        if n == 0 {
            return;
        }
        // Chronological index k (0 = oldest) of `self` maps to other's k - (n - m).
        for k in 0..n {
            let src_k = k as isize - (n as isize - m as isize);
            self.ring[k] = if src_k >= 0 && (src_k as usize) < m {
                other.ring[(other.pos + src_k as usize) % m]
            } else {
                0.0
            };
        }
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_by_exact_frames_across_blocks() {
        let mut d = DelayLine::new(3);
        let input: Vec<f32> = (1..=8).map(|x| x as f32).collect();
        let mut out = vec![0.0; 8];
        d.process(&input[..5], &mut out[..5], false);
        d.process(&input[5..], &mut out[5..], false);
        assert_eq!(out, vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    /// Any split into blocks (shorter and longer than the ring, across its wrap) gives
    /// the input shifted by the delay, written or added.
    #[test]
    fn any_block_split_delays_and_adds_exactly() {
        let input: Vec<f32> = (1..=200).map(|x| x as f32).collect();
        for delay in [1, 7, 64] {
            for add in [false, true] {
                let mut d = DelayLine::new(delay);
                let mut out = vec![0.5f32; input.len()];
                let mut at = 0;
                for block in [3, 1, 70, 5, 64, 9, 200].iter().cycle() {
                    let end = (at + block).min(input.len());
                    d.process(&input[at..end], &mut out[at..end], add);
                    at = end;
                    if at == input.len() {
                        break;
                    }
                }
                let want: Vec<f32> = (0..input.len())
                    .map(|i| {
                        let delayed = if i >= delay { input[i - delay] } else { 0.0 };
                        if add { 0.5 + delayed } else { delayed }
                    })
                    .collect();
                assert_eq!(out, want, "delay {delay}, add {add}");
            }
        }
    }

    #[test]
    fn history_survives_a_longer_line() {
        let mut old = DelayLine::new(2);
        let mut sink = [0.0; 3];
        old.process(&[1.0, 2.0, 3.0], &mut sink, false);
        let mut new = DelayLine::new(4);
        new.take_history_from(&old);
        let mut out = [0.0; 4];
        new.process(&[9.0; 4], &mut out, false);
        // The two newest samples (2, 3) come out last, after zero padding.
        assert_eq!(out, [0.0, 0.0, 2.0, 3.0]);
    }
}
