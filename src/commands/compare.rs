//! `lathe compare`.
use crate::cli::CompareArgs;
use crate::exit::CliError;
pub fn run(_args: &CompareArgs) -> Result<(), CliError> {
    Err(CliError::user(anyhow::anyhow!("not yet")))
}
