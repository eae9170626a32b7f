//! Lossy render outputs (`.opus`, `.mp3`, `.m4a`): which codec setting each gets and the
//! combinations refused before anything is rendered (a bit depth, a `--codec` of the
//! other codec, a rate or channel count the codec does not take), each naming the
//! allowed values.

use std::path::Path;

use anyhow::anyhow;
use lathe_codecs::CodecSpec;

use crate::audio_io::{Container, SampleFormat, lossy_output};
use crate::exit::CliError;

/// The codec setting of `path`: `--codec` when given, else the delivery default of the
/// extension's codec; `None` for WAV and FLAC.
pub fn spec_of(path: &Path, codec: Option<CodecSpec>) -> Option<CodecSpec> {
    let wanted = Container::of(path).codec()?;
    Some(codec.unwrap_or_else(|| lossy_output::default_spec(wanted)))
}

/// Refuses `--bits` (16/24: lossy files hold no bit depth) and a `--codec` whose codec
/// is not the extension's; `--codec` needs at least one lossy output, checked by the
/// caller through [`check_codec_used`].
pub fn check_output(
    path: &Path,
    bits: Option<SampleFormat>,
    codec: Option<CodecSpec>,
) -> Result<(), CliError> {
    let Some(wanted) = Container::of(path).codec() else {
        return Ok(());
    };
    if let Some(bits @ (SampleFormat::Int16 | SampleFormat::Int24)) = bits {
        return Err(CliError::user(anyhow!(
            "cannot write `{}`: --bits {} is for WAV and FLAC; a {} file is encoded from \
             the float samples (allowed for lossy outputs: no --bits, or 32f)",
            path.display(),
            bits.name(),
            Container::of(path).name()
        )));
    }
    if let Some(spec) = codec
        && spec.codec != wanted
    {
        return Err(CliError::user(anyhow!(
            "cannot write `{}` with --codec {spec}: a .{} file is {wanted}; \
             use --codec {wanted}:KBPS (allowed kbps: {})",
            path.display(),
            path.extension()
                .map_or(String::new(), |e| e.to_string_lossy().into_owned()),
            wanted.allowed_bitrates()
        )));
    }
    Ok(())
}

/// Refuses `--codec` when no output is lossy (it would be silently unused).
pub fn check_codec_used(outputs: &[&Path], codec: Option<CodecSpec>) -> Result<(), CliError> {
    match codec {
        Some(spec) if !outputs.iter().any(|p| Container::of(p).codec().is_some()) => {
            Err(CliError::user(anyhow!(
                "--codec {spec} sets the codec of .opus, .mp3 and .m4a outputs, and no output is one"
            )))
        }
        _ => Ok(()),
    }
}

/// Refuses `--plot` when the first output (the one plotted, read back) is Opus: lathe
/// writes Ogg Opus but reads no Opus (its decoder, symphonia, has none).
pub fn check_plot(first_output: Option<&Path>, plot: Option<&Path>) -> Result<(), CliError> {
    match (first_output, plot) {
        (Some(out), Some(plot)) if Container::of(out) == Container::Opus => {
            Err(CliError::user(anyhow!(
                "--plot `{}` draws the first output read back, and lathe reads no Opus \
                 (`{}`); put a .wav, .flac, .mp3 or .m4a output first",
                plot.display(),
                out.display()
            )))
        }
        _ => Ok(()),
    }
}

/// Refuses a lossy output the codec cannot take as it is: a rate it does not code at
/// (render does not resample; `lathe album` does) or more than two channels.
pub fn check_bus(path: &Path, channels: usize, sample_rate_hz: u32) -> Result<(), CliError> {
    let Some(codec) = Container::of(path).codec() else {
        return Ok(());
    };
    if !lossy_output::takes_rate(codec, sample_rate_hz) {
        return Err(CliError::user(anyhow!(
            "cannot write `{}`: {codec} is written at {} Hz and the render runs at \
             {sample_rate_hz} Hz (the input's rate); resample the input, or deliver with \
             `lathe album --format {codec}`, which resamples",
            path.display(),
            lossy_output::allowed_rates(codec)
        )));
    }
    if !(1..=2).contains(&channels) {
        return Err(CliError::user(anyhow!(
            "cannot write `{}`: {codec} holds 1 or 2 channels and the output bus has {channels}",
            path.display()
        )));
    }
    Ok(())
}
