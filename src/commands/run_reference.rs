//! Reference files for the monitor of `lathe run` (`--reference`, `monitor ref FILE`):
//! decoded with the same readers as `analyze` (WAV, FLAC, MP3, Ogg and whatever else
//! they open) and brought to the server's rate with the album resampler. The live host
//! calls this off the audio thread.

use std::path::Path;

use lathe_host::live::ref_deck::{DecodedRef, ReferenceDecoder};

use crate::album::resample::resample;
use crate::audio_io::{Audio, open_audio};

/// Frames read per call to the decoder.
const READ_FRAMES: usize = 1 << 16;

/// Decodes reference files with lathe's own readers.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileReferenceDecoder;

impl ReferenceDecoder for FileReferenceDecoder {
    fn decode(
        &self,
        path: &Path,
        sample_rate_hz: u32,
        max_frames: usize,
    ) -> Result<DecodedRef, String> {
        let mut reader = open_audio(path).map_err(|e| e.to_string())?;
        let file_rate_hz = reader.sample_rate_hz();
        // Frames of the file that make `max_frames` at the run's rate: decoding stops
        // there, so a very long file never takes more memory than the limit allows.
        let limit = (max_frames as f64 * f64::from(file_rate_hz) / f64::from(sample_rate_hz.max(1)))
            .ceil() as usize;
        let mut channels: Vec<Vec<f32>> = vec![Vec::new(); reader.channel_count()];
        let mut cut = false;
        loop {
            let start = channels.first().map_or(0, Vec::len);
            if start >= limit {
                // One more frame tells whether the file goes on.
                let mut probe: Vec<Vec<f32>> = vec![vec![0.0; 1]; channels.len()];
                let mut planes: Vec<&mut [f32]> = probe.iter_mut().map(|c| &mut c[..]).collect();
                cut = reader.read(&mut planes).map_err(|e| e.to_string())? > 0;
                break;
            }
            let want = READ_FRAMES.min(limit - start);
            for channel in &mut channels {
                channel.resize(start + want, 0.0);
            }
            let mut planes: Vec<&mut [f32]> =
                channels.iter_mut().map(|c| &mut c[start..]).collect();
            let read = reader.read(&mut planes).map_err(|e| e.to_string())?;
            for channel in &mut channels {
                channel.truncate(start + read);
            }
            if read < want {
                break;
            }
        }
        let audio = resample(
            &Audio {
                sample_rate_hz: file_rate_hz,
                channels,
            },
            sample_rate_hz,
        )?;
        Ok(DecodedRef {
            channels: audio.channels,
            file_rate_hz,
            cut,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::{SampleFormat, write_wav};

    /// A file longer than the limit is cut and says so; a 44.1 kHz file comes out at
    /// 48 kHz with the length scaled.
    #[test]
    fn cuts_at_the_limit_and_resamples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.wav");
        let audio = Audio {
            sample_rate_hz: 44_100,
            channels: vec![vec![0.25; 44_100]; 2],
        };
        write_wav(&path, &audio, SampleFormat::Float32).unwrap();
        let whole = FileReferenceDecoder.decode(&path, 48_000, 1 << 20).unwrap();
        assert!(!whole.cut);
        assert_eq!(whole.file_rate_hz, 44_100);
        assert_eq!(whole.channels[0].len(), 48_000);
        let part = FileReferenceDecoder.decode(&path, 44_100, 1000).unwrap();
        assert!(part.cut);
        assert_eq!(part.channels[1].len(), 1000);
        let missing = FileReferenceDecoder
            .decode(&dir.path().join("none.wav"), 48_000, 10)
            .unwrap_err();
        assert!(missing.contains("none.wav"), "{missing}");
    }
}
