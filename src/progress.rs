//! The render progress bar: on stderr, only when stderr is a terminal and the user did
//! not ask for quiet, so logs, pipes and CI output stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of a render, in frames. Does nothing when hidden.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total_frames`, shown only when `show` and stderr is a terminal.
    pub fn new(total_frames: u64, sample_rate_hz: u32, show: bool) -> Self {
        if !show || !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let bar = ProgressBar::new(total_frames);
        let template = format!(
            "{{spinner}} rendering [{{bar:40}}] {{percent:>3}}% of {:.1} s audio, eta {{eta}}",
            total_frames as f64 / sample_rate_hz.max(1) as f64
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }

    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// Adds `frames` rendered frames.
    pub fn advance(&self, frames: u64) {
        self.bar.inc(frames);
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
