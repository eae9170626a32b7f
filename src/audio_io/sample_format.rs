//! The sample formats lathe writes: 16 and 24-bit integer, 32-bit float.
//!
//! A leaf, named by the container writers (WAV, FLAC), the streaming output and the
//! command line alike.

/// The sample format of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 16-bit integer, TPDF-dithered.
    Int16,
    /// 24-bit integer, TPDF-dithered.
    Int24,
    /// 32-bit IEEE float, written as is (no clamping: float keeps overs).
    Float32,
}

impl SampleFormat {
    pub const ALL: [SampleFormat; 3] = [
        SampleFormat::Int16,
        SampleFormat::Int24,
        SampleFormat::Float32,
    ];

    pub fn bits(self) -> u16 {
        match self {
            SampleFormat::Int16 => 16,
            SampleFormat::Int24 => 24,
            SampleFormat::Float32 => 32,
        }
    }

    /// The name used on the command line: `16`, `24`, `32f`.
    pub fn name(self) -> &'static str {
        match self {
            SampleFormat::Int16 => "16",
            SampleFormat::Int24 => "24",
            SampleFormat::Float32 => "32f",
        }
    }
}
