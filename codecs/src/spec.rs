//! Codec specs in delivery terms, parsed from the text a user writes: `opus:128`,
//! `mp3:320`, `mp3:256:vbr`. A spec names the codec, its bitrate in kbps and the rate
//! control mode; every rejected spec names the allowed values.

use std::fmt;
use std::str::FromStr;

/// The codecs lathe can name in a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Opus,
    Mp3,
    Aac,
}

impl Codec {
    pub const ALL: [Codec; 3] = [Codec::Opus, Codec::Mp3, Codec::Aac];

    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Mp3 => "mp3",
            Codec::Aac => "aac",
        }
    }

    /// The mode used when a spec names none: Opus's own default (constrained-free VBR) and
    /// constant bitrate for MP3 and AAC, as most delivery specs ask.
    pub fn default_mode(self) -> Mode {
        match self {
            Codec::Opus => Mode::Vbr,
            Codec::Mp3 | Codec::Aac => Mode::Cbr,
        }
    }

    /// Bitrates a spec may ask for, in kbps, as text for messages.
    pub fn allowed_bitrates(self) -> &'static str {
        match self {
            Codec::Opus => "6 ..= 510",
            Codec::Mp3 => "32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320",
            Codec::Aac => "8 ..= 320",
        }
    }

    fn accepts_bitrate(self, kbps: u32) -> bool {
        match self {
            Codec::Opus => (6..=510).contains(&kbps),
            Codec::Mp3 => MP3_BITRATES_KBPS.contains(&kbps),
            Codec::Aac => (8..=320).contains(&kbps),
        }
    }
}

/// The MPEG-1 Layer III bitrates (ISO 11172-3): a CBR stream can only use these.
pub const MP3_BITRATES_KBPS: [u32; 14] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rate control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Constant bitrate.
    Cbr,
    /// Variable bitrate around the stated rate (Opus VBR, LAME ABR).
    Vbr,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cbr => "cbr",
            Mode::Vbr => "vbr",
        }
    }
}

/// One codec setting: `opus:128` is Opus at 128 kbps in its default mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodecSpec {
    pub codec: Codec,
    pub bitrate_kbps: u32,
    pub mode: Mode,
}

impl fmt::Display for CodecSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.codec, self.bitrate_kbps)?;
        if self.mode != self.codec.default_mode() {
            write!(f, ":{}", self.mode.name())?;
        }
        Ok(())
    }
}

/// Why a spec was rejected; each names the value found and the values allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("`{spec}`: a codec spec is CODEC:KBPS[:MODE], e.g. `opus:128` or `mp3:320`")]
    Shape { spec: String },
    #[error("`{spec}`: unknown codec `{found}`; allowed codecs are opus, mp3 and aac")]
    UnknownCodec { spec: String, found: String },
    #[error("`{spec}`: bitrate `{found}` is not allowed for {codec}; allowed kbps: {allowed}")]
    Bitrate {
        spec: String,
        codec: Codec,
        found: String,
        allowed: &'static str,
    },
    #[error("`{spec}`: unknown mode `{found}`; allowed modes are cbr and vbr")]
    UnknownMode { spec: String, found: String },
    #[error("no codec given; a codec list is CODEC:KBPS[,CODEC:KBPS...], e.g. opus:128,mp3:320")]
    Empty,
}

impl FromStr for CodecSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let spec = text.trim();
        let mut parts = spec.split(':');
        let (Some(codec_text), Some(rate_text)) = (parts.next(), parts.next()) else {
            return Err(SpecError::Shape {
                spec: spec.to_string(),
            });
        };
        let mode_text = parts.next();
        if parts.next().is_some() {
            return Err(SpecError::Shape {
                spec: spec.to_string(),
            });
        }
        let codec = Codec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(codec_text))
            .ok_or_else(|| SpecError::UnknownCodec {
                spec: spec.to_string(),
                found: codec_text.to_string(),
            })?;
        let bitrate_kbps = rate_text
            .strip_suffix('k')
            .unwrap_or(rate_text)
            .parse::<u32>()
            .ok()
            .filter(|&kbps| codec.accepts_bitrate(kbps))
            .ok_or_else(|| SpecError::Bitrate {
                spec: spec.to_string(),
                codec,
                found: rate_text.to_string(),
                allowed: codec.allowed_bitrates(),
            })?;
        let mode = match mode_text {
            None => codec.default_mode(),
            Some(m) if m.eq_ignore_ascii_case("cbr") => Mode::Cbr,
            Some(m) if m.eq_ignore_ascii_case("vbr") => Mode::Vbr,
            Some(m) => {
                return Err(SpecError::UnknownMode {
                    spec: spec.to_string(),
                    found: m.to_string(),
                });
            }
        };
        Ok(CodecSpec {
            codec,
            bitrate_kbps,
            mode,
        })
    }
}

/// Parses a comma-separated list (`opus:128,mp3:320`), keeping the order and dropping
/// repeats.
pub fn parse_list(text: &str) -> Result<Vec<CodecSpec>, SpecError> {
    let mut specs: Vec<CodecSpec> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let spec: CodecSpec = part.parse()?;
        if !specs.contains(&spec) {
            specs.push(spec);
        }
    }
    if specs.is_empty() {
        return Err(SpecError::Empty);
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codec_bitrate_and_mode() {
        let s: CodecSpec = "opus:128".parse().unwrap();
        assert_eq!(
            (s.codec, s.bitrate_kbps, s.mode),
            (Codec::Opus, 128, Mode::Vbr)
        );
        let s: CodecSpec = "MP3:256:vbr".parse().unwrap();
        assert_eq!(
            (s.codec, s.bitrate_kbps, s.mode),
            (Codec::Mp3, 256, Mode::Vbr)
        );
        assert_eq!(s.to_string(), "mp3:256:vbr");
        assert_eq!(
            "mp3:320".parse::<CodecSpec>().unwrap().to_string(),
            "mp3:320"
        );
    }

    #[test]
    fn rejections_name_the_allowed_values() {
        let e = "flac:900".parse::<CodecSpec>().unwrap_err().to_string();
        assert!(
            e.contains("unknown codec `flac`") && e.contains("opus, mp3 and aac"),
            "{e}"
        );
        let e = "mp3:300".parse::<CodecSpec>().unwrap_err().to_string();
        assert!(e.contains("bitrate `300`") && e.contains("256, 320"), "{e}");
        let e = "opus:600".parse::<CodecSpec>().unwrap_err().to_string();
        assert!(e.contains("6 ..= 510"), "{e}");
        let e = "opus:128:abr".parse::<CodecSpec>().unwrap_err().to_string();
        assert!(e.contains("cbr and vbr"), "{e}");
        assert!(matches!(
            "opus".parse::<CodecSpec>(),
            Err(SpecError::Shape { .. })
        ));
        assert_eq!(parse_list(" , "), Err(SpecError::Empty));
    }

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        let l = parse_list("opus:128, mp3:320,opus:128").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].codec, Codec::Mp3);
    }
}
