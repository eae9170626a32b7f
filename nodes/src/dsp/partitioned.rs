//! Uniformly partitioned FFT convolution (overlap-save): the input side every FIR kind
//! shares, so a long filter costs one forward FFT per channel and partition however many
//! kernels read it.
//!
//! Per channel, the input arrives a partition of `P` frames at a time into the second half
//! of a `2P` window; [`PartitionedInput::transform`] takes the window's spectrum into a ring
//! of past spectra (the frequency-domain delay line) and slides the window by `P`.
//! [`PartitionedInput::accumulate`] adds `X[newest - k] * H[k]` over the kernel's partitions
//! `k` into a spectrum, in the order of `k`; the kind then returns it to the time domain and
//! keeps the second half. What a kind does with the sum (a crossfade between kernel sets,
//! zeroing the imaginary parts at DC and Nyquist, summing several inputs into one output)
//! stays with the kind.
//!
//! Allocates only in [`PartitionedInput::new`]; the rest runs on the audio thread.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{FftNum, RealToComplex};

/// The input half of a partitioned convolution, for `channels` channels.
pub struct PartitionedInput<T: FftNum> {
    partition_frames: usize,
    partitions: usize,
    forward: Arc<dyn RealToComplex<T>>,
    /// `[channel][2 x partition]`: previous and current input partitions.
    window: Vec<T>,
    /// `[channel][slot][bin]`: past input spectra, a ring whose newest slot is `head`.
    spectra: Vec<Complex<T>>,
    head: usize,
    time: Vec<T>,
    scratch: Vec<Complex<T>>,
}

impl<T: FftNum> PartitionedInput<T> {
    /// `forward` is a real FFT of `2 * partition_frames`; `partitions` is how many partitions
    /// the longest kernel has.
    pub fn new(
        forward: Arc<dyn RealToComplex<T>>,
        partition_frames: usize,
        partitions: usize,
        channels: usize,
    ) -> Self {
        let bins = partition_frames + 1;
        Self {
            partition_frames,
            partitions,
            window: vec![T::zero(); channels * 2 * partition_frames],
            spectra: vec![Complex::new(T::zero(), T::zero()); channels * partitions * bins],
            head: 0,
            time: forward.make_input_vec(),
            scratch: vec![Complex::new(T::zero(), T::zero()); forward.get_scratch_len()],
            forward,
        }
    }

    /// Spectrum bins of one partition (`partition_frames + 1`).
    pub fn bins(&self) -> usize {
        self.partition_frames + 1
    }

    /// Forgets all input.
    pub fn reset(&mut self) {
        self.window.fill(T::zero());
        self.spectra.fill(Complex::new(T::zero(), T::zero()));
        self.head = 0;
    }

    /// Where `frames` input frames of `channel` go, `at` frames into the current partition.
    pub fn input_mut(&mut self, channel: usize, at: usize, frames: usize) -> &mut [T] {
        let p = self.partition_frames;
        &mut self.window[channel * 2 * p + p + at..][..frames]
    }

    /// Starts a new slot in the ring of spectra; call once per partition, before the
    /// channels' [`PartitionedInput::transform`].
    pub fn advance(&mut self) {
        self.head = (self.head + 1) % self.partitions;
    }

    /// The current partition of `channel` is complete: its window's spectrum becomes the
    /// newest slot, and the window slides by a partition.
    pub fn transform(&mut self, channel: usize) {
        let p = self.partition_frames;
        let bins = p + 1;
        let window = &mut self.window[channel * 2 * p..(channel + 1) * 2 * p];
        self.time.copy_from_slice(window);
        window.copy_within(p.., 0);
        let at = (channel * self.partitions + self.head) * bins;
        // Only fails on wrong lengths, which `new` rules out.
        let _ = self.forward.process_with_scratch(
            &mut self.time,
            &mut self.spectra[at..at + bins],
            &mut self.scratch,
        );
    }

    /// Adds `X[newest - k] * H[k]` for every partition `k` of `kernel` (`[partition][bin]`
    /// spectra, at most as many partitions as the ring holds) into `acc`.
    pub fn accumulate(&self, channel: usize, kernel: &[Complex<T>], acc: &mut [Complex<T>]) {
        let bins = self.bins();
        let history = &self.spectra[channel * self.partitions * bins..][..self.partitions * bins];
        for (k, h) in kernel.chunks_exact(bins).enumerate() {
            let slot = (self.head + self.partitions - k) % self.partitions;
            let x = &history[slot * bins..(slot + 1) * bins];
            for ((a, x), h) in acc.iter_mut().zip(x).zip(h) {
                *a = *a + *x * *h;
            }
        }
    }
}
