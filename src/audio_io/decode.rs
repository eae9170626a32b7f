//! Opening audio files (WAV, FLAC, OGG Vorbis, MP3 and whatever else symphonia knows)
//! as streams of planar `f32`, and decoding them whole.
//!
//! Integer samples are scaled by 2^(bits-1), so a 16-bit sample `s` becomes exactly
//! `s / 32768`; the WAV writer uses the same scale, so a file round-trips bit-exactly
//! apart from dither. Plain PCM WAV files are read directly ([`super::wav_reader`]),
//! everything else through symphonia ([`super::codec_reader`]); both give the same
//! samples and the same errors.

use std::fs::File;
use std::io;
use std::path::Path;

use super::Audio;
use super::codec_reader::CodecReader;
use super::decode_error::DecodeError;
use super::header_check::check_header;
use super::reader::AudioReader;
use super::wav_reader::{Probe, WavReader};

/// Opens `path` for reading front to back: its header is read, and enough of it decoded
/// to know its channels and rate. A file that cannot be read at all fails here; damage
/// further in surfaces from [`AudioReader::read`].
pub fn open_audio(path: &Path) -> Result<AudioReader, DecodeError> {
    refuse_special_file(path)?;
    let open = || {
        let file = File::open(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => DecodeError::NotFound {
                path: path.to_path_buf(),
            },
            _ => DecodeError::Unreadable {
                path: path.to_path_buf(),
                source,
            },
        })?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(DecodeError::Unreadable {
                path: path.to_path_buf(),
                source: io::Error::other("it is a directory"),
            });
        }
        Ok(file)
    };
    let mut file = open()?;
    check_header(path, &mut file)?;
    match WavReader::probe(path, file)? {
        Probe::Pcm(reader) => Ok(AudioReader::Wav(reader)),
        Probe::Other => CodecReader::open(path, open()?).map(AudioReader::Codec),
    }
}

/// Refuses a FIFO, device or socket before opening it: opening a FIFO blocks until a
/// writer comes, and a device like `/dev/zero` never ends. Missing files are left to
/// `File::open`, which names them.
fn refuse_special_file(path: &Path) -> Result<(), DecodeError> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.is_file() || meta.is_dir() {
        return Ok(());
    }
    Err(DecodeError::Unreadable {
        path: path.to_path_buf(),
        source: io::Error::other(
            "it is not a regular file (a FIFO, device or socket); lathe reads audio from files",
        ),
    })
}

/// Decodes the first audio track of `path` completely.
pub fn read_audio(path: &Path) -> Result<Audio, DecodeError> {
    // A declared length only pre-sizes the buffers; it is capped so a lying header
    // cannot make us reserve absurd amounts of memory.
    const MAX_RESERVE_FRAMES: u64 = 48_000 * 60 * 30;
    const READ_FRAMES: usize = 1 << 16;
    let mut reader = open_audio(path)?;
    let reserve = reader
        .declared_frames()
        .unwrap_or(0)
        .min(MAX_RESERVE_FRAMES) as usize;
    let mut channels: Vec<Vec<f32>> = (0..reader.channel_count())
        .map(|_| Vec::with_capacity(reserve))
        .collect();
    loop {
        let start = channels.first().map_or(0, Vec::len);
        for channel in &mut channels {
            channel.resize(start + READ_FRAMES, 0.0);
        }
        let mut planes: Vec<&mut [f32]> = channels.iter_mut().map(|c| &mut c[start..]).collect();
        let read = reader.read(&mut planes)?;
        for channel in &mut channels {
            channel.truncate(start + read);
        }
        if read < READ_FRAMES {
            break;
        }
    }
    Ok(Audio {
        sample_rate_hz: reader.sample_rate_hz(),
        channels,
    })
}
