//! The gapless trim of an MP4/M4A file (AAC, ALAC), read from its edit list.
//!
//! An AAC encoder starts with priming frames (1024 or 2112) and pads the last packet;
//! the MP4 muxer records the real audio as an edit: `elst` says where in the decoded
//! track the audio starts (`media_time`) and how long it lasts (`segment_duration`, in
//! the movie's time scale). symphonia 0.5 parses the atom but does not apply it, so lathe
//! does, as ffmpeg does: without it an M4A reads 1024+ frames late and too long.
//! (iTunes' `iTunSMPB` comment carries the same figures in files without an edit list;
//! those are not read.)

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The part of the decoded track that is the audio, in the media's time scale units
/// (frames at the track's rate for audio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditTrim {
    /// Frames to drop at the start (the encoder's priming).
    pub skip_frames: u64,
    /// Frames to keep after them.
    pub keep_frames: u64,
}

/// Largest box read whole (`moov` of a long file is a few MB at most).
const MAX_BOX_BYTES: u64 = 64 << 20;

/// The edit of the first sound track of the MP4 file at `path`, converted to frames
/// at `rate_hz`; `None` when the file is not MP4, has no usable edit, or the edit is
/// the whole track.
pub fn edit_trim(path: &Path, rate_hz: u32) -> Option<EditTrim> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let moov = find_top_level(&mut file, len, b"moov")?;
    let mvhd = child(&moov, b"mvhd")?;
    let movie_scale = if *mvhd.first()? == 1 {
        be_u32(mvhd, 20)?
    } else {
        be_u32(mvhd, 12)?
    };
    for trak in children(&moov, b"trak") {
        let mdia = child(trak, b"mdia")?;
        let hdlr = child(mdia, b"hdlr")?;
        if hdlr.get(8..12)? != b"soun" {
            continue;
        }
        let mdhd = child(mdia, b"mdhd")?;
        let media_scale = if *mdhd.first()? == 1 {
            be_u32(mdhd, 20)?
        } else {
            be_u32(mdhd, 12)?
        };
        let elst = child(child(trak, b"edts")?, b"elst")?;
        let (segment, media_time) = first_edit(elst)?;
        if movie_scale == 0 || media_scale == 0 || media_time < 0 {
            return None;
        }
        let rate = u128::from(rate_hz);
        let skip = (media_time as u128 * rate / u128::from(media_scale)) as u64;
        let keep =
            (u128::from(segment) * rate + u128::from(movie_scale) / 2) / u128::from(movie_scale);
        if skip == 0 && keep == 0 {
            return None;
        }
        return Some(EditTrim {
            skip_frames: skip,
            keep_frames: keep as u64,
        });
    }
    None
}

/// `(segment_duration, media_time)` of the first edit that is not an empty one.
fn first_edit(elst: &[u8]) -> Option<(u64, i64)> {
    let version = *elst.first()?;
    let count = be_u32(elst, 4)? as usize;
    let entry = if version == 1 { 20 } else { 12 };
    for k in 0..count {
        let at = 8 + k * entry;
        let (segment, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                u64::from(be_u32(elst, at)?),
                i64::from(be_u32(elst, at + 4)? as i32),
            )
        };
        if media_time >= 0 {
            return Some((segment, media_time));
        }
    }
    None
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The payload of the top-level box `kind`, read from the file.
fn find_top_level(file: &mut File, len: u64, kind: &[u8; 4]) -> Option<Vec<u8>> {
    let mut at = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8]).ok()?;
        let mut size = u64::from(u32::from_be_bytes(head[..4].try_into().ok()?));
        let mut header = 8;
        if size == 1 {
            file.read_exact(&mut head[8..16]).ok()?;
            size = u64::from_be_bytes(head[8..16].try_into().ok()?);
            header = 16;
        } else if size == 0 {
            size = len - at;
        }
        if size < header {
            return None;
        }
        if &head[4..8] == kind {
            let payload = size - header;
            if payload > MAX_BOX_BYTES {
                return None;
            }
            let mut buf = vec![0u8; payload as usize];
            file.read_exact(&mut buf).ok()?;
            return Some(buf);
        }
        at += size;
    }
    None
}

/// The payloads of the boxes of `kind` directly inside `parent`'s payload.
fn children<'a>(parent: &'a [u8], kind: &'a [u8; 4]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        while at + 8 <= parent.len() {
            let size = be_u32(parent, at)? as usize;
            let (start, end) = match size {
                1 => (at + 16, at + usize::try_from(be_u64(parent, at + 8)?).ok()?),
                0 => (at + 8, parent.len()),
                n => (at + 8, at + n),
            };
            if end > parent.len() || end < start {
                return None;
            }
            let here = &parent[at + 4..at + 8];
            at = end;
            if here == kind {
                return Some(&parent[start..end]);
            }
        }
        None
    })
}

fn child<'a>(parent: &'a [u8], kind: &'a [u8; 4]) -> Option<&'a [u8]> {
    children(parent, kind).next()
}
