//! One module per subcommand. Each receives its parsed, validated arguments and returns a
//! [`CliError`] that decides the exit code.

mod analyze;
mod check;
mod dot;
pub mod engine;
mod nodes;
mod render;

use crate::cli::Command;
use crate::exit::CliError;

/// Runs one subcommand to completion.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Render(args) => render::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Dot(args) => dot::run(&args),
        Command::Nodes(args) => nodes::run(&args),
        Command::Analyze(args) => analyze::run(&args),
    }
}

/// Measures audio for reports, warning once when loudness cannot be measured.
#[derive(Default)]
struct Measurer {
    warned: bool,
}

impl Measurer {
    fn measure(
        &mut self,
        label: String,
        audio: &crate::audio_io::Audio,
    ) -> crate::report::Measurement {
        let loudness = match engine::loudness(audio) {
            Ok(l) => Some(l),
            Err(e) => {
                if !self.warned {
                    tracing::warn!("{e}");
                    self.warned = true;
                }
                None
            }
        };
        crate::report::Measurement::of(label, audio, loudness)
    }
}
