//! Delivery checks: what a master becomes after a lossy codec ([`codec_measure`]) and
//! after each streaming platform's loudness normalisation ([`platforms`]).

pub mod codec_measure;
pub mod codec_safe;
pub mod platforms;
