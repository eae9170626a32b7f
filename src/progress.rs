//! The render progress bar: on stderr, only when stderr is a terminal and the user did
//! not ask for quiet, so logs, pipes and CI output stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of a render, in frames. Does nothing when hidden.
pub struct Progress {
    bar: ProgressBar,
    sample_rate_hz: f64,
}

impl Progress {
    /// A bar over `total_frames`, shown only when `show` and stderr is a terminal. When
    /// the length is not known beforehand (some compressed inputs do not declare it) it
    /// counts the seconds rendered instead.
    pub fn new(total_frames: Option<u64>, sample_rate_hz: u32, show: bool) -> Self {
        if !show || !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let rate = f64::from(sample_rate_hz.max(1));
        let (bar, template) = match total_frames {
            Some(total) => (
                ProgressBar::new(total),
                format!(
                    "{{spinner}} rendering [{{bar:40}}] {{percent:>3}}% of {:.1} s audio, \
                     eta {{eta}}",
                    total as f64 / rate
                ),
            ),
            None => (
                ProgressBar::no_length(),
                "{spinner} rendering: {msg} s of audio".to_string(),
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self {
            bar,
            sample_rate_hz: rate,
        }
    }

    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            sample_rate_hz: 1.0,
        }
    }

    /// Adds `frames` rendered frames.
    pub fn advance(&self, frames: u64) {
        self.bar.inc(frames);
        if self.bar.length().is_none() && !self.bar.is_hidden() {
            let seconds = self.bar.position() as f64 / self.sample_rate_hz;
            self.bar.set_message(format!("{seconds:.1}"));
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
