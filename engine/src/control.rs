//! The control surface: how hosts and scripts read meters and steer params by path
//! (`limit.gain_reduction_db`, `eq.band2.gain_db`), off the audio thread.
//!
//! Offline, the render host implements it over its engine between blocks, at exact frame
//! positions. Live, the JACK host implements it over the lock-free param queue and the
//! meter bank. Either way a caller never touches the audio thread directly.

/// Why a control call was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    #[error("unknown param `{path}`{}", suggestion_text(.suggestion))]
    UnknownParam {
        path: String,
        suggestion: Option<String>,
    },
    #[error("unknown meter `{path}`{}", suggestion_text(.suggestion))]
    UnknownMeter {
        path: String,
        suggestion: Option<String>,
    },
    #[error("value {value} for `{path}` is not a finite number")]
    NotFinite { path: String, value: f64 },
    #[error("the param queue is full; `{path}` was not changed")]
    QueueFull { path: String },
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// Read meters, read and set params, by path.
pub trait ControlSurface {
    /// The latest value of a meter; NaN when it has no value yet.
    fn meter(&self, path: &str) -> Result<f32, ControlError>;

    /// The current target value of a param (what was last set, not the smoothed value).
    fn param(&self, path: &str) -> Result<f32, ControlError>;

    /// Sets a param's target; the value is clamped to the param's range and smoothed by
    /// the node. Returns the value actually applied.
    fn set_param(&mut self, path: &str, value: f64) -> Result<f32, ControlError>;

    fn sample_rate_hz(&self) -> f64;

    /// Frames processed since the start of the render or run.
    fn position_frames(&self) -> u64;
}
