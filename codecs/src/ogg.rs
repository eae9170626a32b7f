//! Ogg pages (RFC 3533): the container an Opus file is made of. Packets are laid into
//! pages of at most 255 lacing segments, a packet longer than a page continues on the
//! next one, and every page carries its sequence number, granule position and CRC.
//!
//! The writer knows nothing of Opus: the caller says where a page must end (headers on
//! pages of their own, RFC 7845 section 3) and which granule position the page's last
//! completed packet ends at.

/// Header flag: this page continues a packet begun on the previous page.
const FLAG_CONTINUED: u8 = 0x01;
/// Header flag: the first page of the stream.
const FLAG_BOS: u8 = 0x02;
/// Header flag: the last page of the stream.
const FLAG_EOS: u8 = 0x04;
/// Lacing segments a page can hold (its segment table is one byte per segment).
const MAX_SEGMENTS: usize = 255;
/// Granule position of a page on which no packet ends.
const NO_GRANULE: u64 = u64::MAX;

/// The CRC-32 Ogg uses: polynomial 0x04C11DB7, not reflected, initial value 0, no final
/// XOR, over the whole page with its CRC field zero.
fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, entry) in t.iter_mut().enumerate() {
            let mut r = (i as u32) << 24;
            for _ in 0..8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04C1_1DB7
                } else {
                    r << 1
                };
            }
            *entry = r;
        }
        t
    });
    bytes.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ table[((crc >> 24) as u8 ^ b) as usize]
    })
}

/// One logical Ogg stream being written into a byte buffer.
#[derive(Debug)]
pub struct OggWriter {
    serial: u32,
    sequence: u32,
    out: Vec<u8>,
    /// Lacing values and body of the page being filled.
    segments: Vec<u8>,
    body: Vec<u8>,
    /// The page being filled starts inside a packet.
    continued: bool,
    /// Granule position of the last packet completed on the page being filled.
    granule: u64,
    /// A packet ends on the page being filled.
    completed: bool,
    first_page: bool,
}

impl OggWriter {
    /// A stream with serial number `serial` (any value; one stream per file here).
    pub fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
            out: Vec::new(),
            segments: Vec::new(),
            body: Vec::new(),
            continued: false,
            granule: NO_GRANULE,
            completed: false,
            first_page: true,
        }
    }

    /// Appends `packet`, which ends at granule position `granule`. Full pages are
    /// written as they fill; a packet that does not fit continues on the next page.
    pub fn packet(&mut self, packet: &[u8], granule: u64) {
        // Lacing: 255-byte segments, ended by one shorter (possibly empty) segment.
        let mut rest = packet;
        loop {
            if self.segments.len() == MAX_SEGMENTS {
                self.write_page(false);
            }
            let take = rest.len().min(255);
            self.segments.push(take as u8);
            self.body.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if take < 255 {
                break;
            }
        }
        self.granule = granule;
        self.completed = true;
    }

    /// Ends the page being filled (if it holds anything), so the next packet starts a
    /// new page.
    pub fn flush(&mut self) {
        if !self.segments.is_empty() {
            self.write_page(false);
        }
    }

    /// Bytes of the page being filled (segment table and body).
    pub fn pending_bytes(&self) -> usize {
        self.segments.len() + self.body.len()
    }

    /// Ends the stream: the last page gets the end-of-stream flag. Returns the file.
    pub fn finish(mut self) -> Vec<u8> {
        self.write_page(true);
        self.out
    }

    fn write_page(&mut self, last: bool) {
        let mut flags = 0;
        if self.continued {
            flags |= FLAG_CONTINUED;
        }
        if self.first_page {
            flags |= FLAG_BOS;
        }
        if last {
            flags |= FLAG_EOS;
        }
        // The granule is that of the last packet completed here; none if none is.
        let granule = if self.completed {
            self.granule
        } else {
            NO_GRANULE
        };
        let start = self.out.len();
        self.out.extend_from_slice(b"OggS");
        self.out.push(0); // stream structure version
        self.out.push(flags);
        self.out.extend_from_slice(&granule.to_le_bytes());
        self.out.extend_from_slice(&self.serial.to_le_bytes());
        self.out.extend_from_slice(&self.sequence.to_le_bytes());
        self.out.extend_from_slice(&[0; 4]); // CRC, filled in below
        self.out.push(self.segments.len() as u8);
        self.out.extend_from_slice(&self.segments);
        self.out.extend_from_slice(&self.body);
        let crc = crc32(&self.out[start..]);
        self.out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
        self.sequence += 1;
        self.first_page = false;
        // A page ended by a full segment leaves its packet to continue on the next one.
        self.continued = self.segments.last() == Some(&255);
        self.segments.clear();
        self.body.clear();
        self.completed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page read back: (flags, granule, sequence, segment table, body).
    type Page = (u8, u64, u32, Vec<u8>, Vec<u8>);

    /// Reads the pages back, checking each CRC.
    fn pages(mut bytes: &[u8]) -> Vec<Page> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            assert_eq!(&bytes[..4], b"OggS");
            let n = bytes[26] as usize;
            let table = bytes[27..27 + n].to_vec();
            let body_len: usize = table.iter().map(|&s| s as usize).sum();
            let len = 27 + n + body_len;
            let mut page = bytes[..len].to_vec();
            let crc = u32::from_le_bytes(page[22..26].try_into().unwrap());
            page[22..26].fill(0);
            assert_eq!(crc32(&page), crc, "page CRC");
            out.push((
                bytes[5],
                u64::from_le_bytes(bytes[6..14].try_into().unwrap()),
                u32::from_le_bytes(bytes[18..22].try_into().unwrap()),
                table,
                bytes[27 + n..len].to_vec(),
            ));
            bytes = &bytes[len..];
        }
        out
    }

    #[test]
    fn crc_matches_the_ogg_reference_value() {
        // The CRC-32/MPEG-2 family without reflection or final XOR ("CRC-32/OGG"):
        // the check value of "123456789" is 0x89A1897F.
        assert_eq!(crc32(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn packets_are_laced_and_pages_flagged() {
        let mut w = OggWriter::new(7);
        w.packet(&[1; 19], 0);
        w.flush();
        w.packet(&[2; 255], 0);
        w.packet(&[3; 10], 960);
        let p = pages(&w.finish());
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].0, p[0].1, p[0].2), (FLAG_BOS, 0, 0));
        assert_eq!(p[0].3, vec![19]);
        // 255 bytes take a full segment and an empty one.
        assert_eq!(p[1].3, vec![255, 0, 10]);
        assert_eq!((p[1].0, p[1].1, p[1].2), (FLAG_EOS, 960, 1));
        assert_eq!(p[1].4.len(), 265);
    }

    #[test]
    fn a_long_packet_continues_on_the_next_page() {
        let mut w = OggWriter::new(1);
        let long = vec![9u8; 255 * 300 + 5];
        w.packet(&long, 48_000);
        let p = pages(&w.finish());
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].3.len(), 255);
        assert_eq!(p[0].1, NO_GRANULE, "no packet ends on the first page");
        assert_eq!(p[1].0 & FLAG_CONTINUED, FLAG_CONTINUED);
        assert_eq!(p[1].1, 48_000);
        let body: usize = p.iter().map(|q| q.4.len()).sum();
        assert_eq!(body, long.len());
    }
}
