//! `lathe plot`.
use crate::cli::PlotArgs;
use crate::exit::CliError;
pub fn run(_args: &PlotArgs) -> Result<(), CliError> {
    Err(CliError::user(anyhow::anyhow!("not yet")))
}
