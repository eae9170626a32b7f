//! Audio files in and out: reading any supported file as a stream of planar `f32`
//! chunks (or whole), and writing WAV or FLAC chunk by chunk (or whole).
//!
//! A render streams: [`open_audio`] and [`AudioReader`] on the way in, [`AudioWriter`] on
//! the way out, so its memory does not grow with the length of the files. Plain PCM WAV
//! is read and written directly in big blocks; other formats go through symphonia
//! (decoding) and flacenc (FLAC encoding).

mod codec_reader;
mod decode;
mod decode_error;
mod dither;
mod encode;
mod encode_error;
mod flac;
mod header_check;
pub mod lossy_output;
mod mp4_edit;
mod output;
mod panic_guard;
mod reader;
pub mod replaygain;
mod sample_format;
mod wav_reader;
mod wav_writer;

pub use decode::{open_audio, read_audio};
pub use decode_error::DecodeError;
pub use dither::{DITHER_SEED, Quantizer, SplitMix64, exact_pcm};
pub use encode::{write_flac, write_wav};
pub use encode_error::EncodeError;
pub use flac::{FLAC_BLOCK_FRAMES, FLAC_VENDOR, Quantisation, vorbis_comment};
pub use header_check::{MAX_FILE_CHANNELS, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};
pub use output::{AudioWriter, Written};
pub use panic_guard::install_quiet_decoder_panics;
pub use reader::AudioReader;
pub use sample_format::SampleFormat;
pub use wav_writer::{WavChunk, WavHeader, WavLayout, wav_header};

/// The file format an output path asks for, by its extension (case-insensitive):
/// `.flac` is FLAC, `.opus` Ogg Opus, `.mp3` MP3, `.m4a` AAC, anything else WAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Wav,
    Flac,
    Opus,
    Mp3,
    /// AAC-LC in an MP4 file.
    M4a,
}

impl Container {
    pub fn of(path: &std::path::Path) -> Self {
        let is = |name: &str| {
            path.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(name))
        };
        if is("flac") {
            Container::Flac
        } else if is("opus") {
            Container::Opus
        } else if is("mp3") {
            Container::Mp3
        } else if is("m4a") {
            Container::M4a
        } else {
            Container::Wav
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Container::Wav => "WAV",
            Container::Flac => "FLAC",
            Container::Opus => "Opus",
            Container::Mp3 => "MP3",
            Container::M4a => "M4A",
        }
    }

    /// The lossy codec of this container, if it is lossy.
    pub fn codec(self) -> Option<lathe_codecs::Codec> {
        match self {
            Container::Opus => Some(lathe_codecs::Codec::Opus),
            Container::Mp3 => Some(lathe_codecs::Codec::Mp3),
            Container::M4a => Some(lathe_codecs::Codec::Aac),
            Container::Wav | Container::Flac => None,
        }
    }

    /// Why `format` cannot be written in this container, if it cannot.
    pub fn refuses(self, format: SampleFormat) -> Option<String> {
        (self == Container::Flac && format == SampleFormat::Float32).then(|| {
            "FLAC holds integer samples: use --bits 16 or 24, or a .wav output for 32f".to_string()
        })
    }
}

/// Writes `audio` to `path` in `format`, as FLAC (no tags) where the path ends in
/// `.flac`, Opus, MP3 or AAC (the delivery bitrate, loudness tags; `format` unused) for
/// `.opus`, `.mp3` and `.m4a`, and as WAV otherwise; integer formats get the same TPDF dither
/// either way.
pub fn write_audio(
    path: &std::path::Path,
    audio: &Audio,
    format: SampleFormat,
) -> Result<(), EncodeError> {
    match Container::of(path) {
        Container::Opus | Container::Mp3 | Container::M4a => {
            let mut writer =
                AudioWriter::create(path, format, audio.channel_count(), audio.sample_rate_hz)?;
            writer.write_audio(audio)?;
            writer.finish()
        }
        Container::Wav => write_wav(path, audio, format),
        Container::Flac => write_flac(
            path,
            audio,
            u32::from(format.bits()),
            Quantisation::Dither,
            &[],
        ),
    }
}

/// Planar audio: one `Vec` per channel, all the same length, full scale = ±1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub sample_rate_hz: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// `channels` silent channels of `frames` frames.
    pub fn silence(sample_rate_hz: u32, channels: usize, frames: usize) -> Self {
        Self {
            sample_rate_hz,
            channels: vec![vec![0.0; frames]; channels],
        }
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Frames (samples per channel); 0 for no channels.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            0.0
        } else {
            self.frames() as f64 / self.sample_rate_hz as f64
        }
    }

    /// The largest absolute sample value over all channels (0 for silence).
    pub fn sample_peak(&self) -> f32 {
        self.channels
            .iter()
            .flatten()
            .fold(0.0f32, |peak, &s| peak.max(s.abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, frames: usize, amp: f32) -> Vec<f32> {
        (0..frames)
            .map(|i| amp * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin())
            .collect()
    }

    #[test]
    fn wav_round_trips_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let audio = Audio {
            sample_rate_hz: 44_100,
            channels: vec![sine(44_100, 4410, 0.5), sine(44_100, 4410, -0.25)],
        };
        // Tolerance: dither ±1 LSB plus rounding 0.5 LSB.
        for (format, lsb) in [
            (SampleFormat::Int16, 1.0 / 32768.0),
            (SampleFormat::Int24, 1.0 / 8_388_608.0),
            (SampleFormat::Float32, 0.0),
        ] {
            let path = dir.path().join(format!("x{}.wav", format.name()));
            write_wav(&path, &audio, format).unwrap();
            let back = read_audio(&path).unwrap();
            assert_eq!(back.sample_rate_hz, 44_100);
            assert_eq!(back.channel_count(), 2);
            assert_eq!(back.frames(), 4410);
            for (a, b) in audio.channels.iter().zip(&back.channels) {
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x - y).abs() <= 1.5 * lsb + f32::EPSILON,
                        "{format:?}: {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn many_channels_use_the_extensible_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("six.wav");
        let audio = Audio::silence(48_000, 6, 100);
        write_wav(&path, &audio, SampleFormat::Int16).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // fmt chunk: tag at byte 20; 0xFFFE = WAVE_FORMAT_EXTENSIBLE.
        assert_eq!(&bytes[20..22], &[0xFE, 0xFF]);
        assert_eq!(read_audio(&path).unwrap().channel_count(), 6);
    }

    #[test]
    fn silence_has_zero_peak() {
        assert_eq!(Audio::silence(48_000, 2, 10).sample_peak(), 0.0);
    }
}
