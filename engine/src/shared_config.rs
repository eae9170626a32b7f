//! The configs many kinds share: a bus width, `(channels: 2)`, defaulting to stereo and
//! bounded so a typo cannot allocate a thousand filters; or no config at all.

use serde::Deserialize;

use crate::config::ConfigError;

/// Channel count of buses when a config does not say.
pub const DEFAULT_CHANNELS: usize = 2;
/// Most channels a bus may have.
pub const MAX_CHANNELS: usize = 32;

/// The config of a kind that takes none (`balance`, `width`, `ms_encode`): anything given
/// is an error, so a field meant for another kind is not silently ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// The config of a kind whose only structural choice is its width (`gain`, `polarity`,
/// `dc_block`, the sources). Unknown keys are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

impl ChannelsConfig {
    /// The channel count, checked to be 1..=[`MAX_CHANNELS`].
    pub fn checked(&self) -> Result<usize, ConfigError> {
        check_channels(self.channels)
    }
}

/// `channels` if it is 1..=[`MAX_CHANNELS`], else an error naming the `channels` field.
pub fn check_channels(channels: usize) -> Result<usize, ConfigError> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(ConfigError::invalid(
            "channels",
            format!("must be 1..={MAX_CHANNELS}, found {channels}"),
        ));
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;

    #[test]
    fn empty_config_is_stereo() {
        let cfg: ChannelsConfig = NodeConfig::empty().parse().expect("empty parses");
        assert_eq!(cfg.checked().expect("2 is valid"), 2);
    }

    #[test]
    fn out_of_range_and_unknown_keys_are_errors() {
        let zero: ChannelsConfig = NodeConfig::from_ron("(channels: 0)")
            .parse()
            .expect("parses");
        let err = zero.checked().expect_err("0 channels");
        assert!(err.to_string().contains("must be 1..=32, found 0"), "{err}");
        assert!(
            NodeConfig::from_ron("(channel: 2)")
                .parse::<ChannelsConfig>()
                .is_err()
        );
    }
}
