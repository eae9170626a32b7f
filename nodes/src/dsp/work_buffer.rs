//! Moving a block between the engine's f32 channel slices and a flat f64 work buffer.

use lathe_engine::Io;

/// Copies `frames` of the first `channels` input channels into `work` (channel `c` at
/// `c * stride`); missing channels read silence.
pub fn read_input(io: &Io<'_>, work: &mut [f64], stride: usize, channels: usize, frames: usize) {
    for c in 0..channels {
        let dst = &mut work[c * stride..c * stride + frames];
        match io.inputs.get(c) {
            Some(src) => {
                for (d, s) in dst.iter_mut().zip(src.iter()) {
                    *d = *s as f64;
                }
            }
            None => dst.fill(0.0),
        }
    }
}

/// Writes `frames` of `work` to the first `channels` output channels.
pub fn write_output(io: &mut Io<'_>, work: &[f64], stride: usize, channels: usize, frames: usize) {
    for (c, out) in io.outputs.iter_mut().enumerate().take(channels) {
        let src = &work[c * stride..c * stride + frames];
        for (o, s) in out.iter_mut().zip(src) {
            *o = *s as f32;
        }
    }
}
