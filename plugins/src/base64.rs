//! Standard base64 (RFC 4648, with `=` padding): how an opaque plugin state (a CLAP
//! state stream, an LV2 value of a type lathe cannot write as a number or text) sits in
//! a graph file as one RON string.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a text is not base64.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Base64Error {
    #[error("`{found}` at character {at} is not a base64 character (A-Z a-z 0-9 + / =)")]
    Character { found: char, at: usize },
    #[error("its length without spaces ({len}) is not a multiple of 4")]
    Length { len: usize },
    #[error("`=` padding before the end (character {at})")]
    Padding { at: usize },
}

pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes `text`; white space anywhere is ignored, so a long state may be wrapped.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let mut sextets = Vec::with_capacity(text.len());
    let mut padding = 0;
    for (at, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            continue;
        }
        if c == '=' {
            padding += 1;
            sextets.push(0);
            continue;
        }
        if padding > 0 {
            return Err(Base64Error::Padding { at });
        }
        let value = ALPHABET
            .iter()
            .position(|&a| a as char == c)
            .ok_or(Base64Error::Character { found: c, at })?;
        sextets.push(value as u32);
    }
    if sextets.len() % 4 != 0 || padding > 2 {
        return Err(Base64Error::Length { len: sextets.len() });
    }
    let mut out = Vec::with_capacity(sextets.len() / 4 * 3);
    for quad in sextets.chunks(4) {
        let n = (quad[0] << 18) | (quad[1] << 12) | (quad[2] << 6) | quad[3];
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.truncate(out.len() - padding);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_vectors_round_trip() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }

    #[test]
    fn bad_text_is_refused_with_the_place() {
        assert_eq!(
            decode("Zm9!"),
            Err(Base64Error::Character { found: '!', at: 3 })
        );
        assert_eq!(decode("Zm9"), Err(Base64Error::Length { len: 3 }));
        assert_eq!(decode("Zg==Zm9v"), Err(Base64Error::Padding { at: 4 }));
        assert_eq!(decode("Zm9v\n  YmFy").unwrap(), b"foobar");
    }
}
