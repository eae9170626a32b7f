//! What a kind's config says about the bus it runs on: how many channels, within which
//! limits. Every kind reads its bus width the same way, so the rule lives here and no kind
//! borrows it from another.

use lathe_engine::ConfigError;
use serde::Deserialize;

/// Channel count of buses when a config does not say.
pub const DEFAULT_CHANNELS: usize = 2;
/// Most channels a bus may have.
pub const MAX_CHANNELS: usize = 32;

/// The config of a kind whose only structural choice is its bus width: `(channels: 2)`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    pub channels: usize,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
        }
    }
}

/// The config of a kind with a fixed layout (a stereo pair): it takes no fields, and
/// anything given is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Checks a `channels` config field: `1..=MAX_CHANNELS`. Returns the count for callers
/// that go on with it.
pub fn check_channels(channels: usize) -> Result<usize, ConfigError> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(ConfigError::invalid(
            "channels",
            format!("must be 1..={MAX_CHANNELS}, found {channels}"),
        ));
    }
    Ok(channels)
}
