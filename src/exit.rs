//! How a failed command ends the process: the message on stderr and the exit code.
//!
//! Users script lathe in batch jobs, so the code tells them whose fault a failure was:
//! [`USAGE`] (2) for anything they can fix in their command, graph or input files;
//! [`FAILURE`] (1) for things that went wrong while running (a disk full on write).

use std::fmt;
use std::process::ExitCode;

/// The command line, a graph file or an input file was wrong.
pub const USAGE: u8 = 2;
/// Something failed while running.
pub const FAILURE: u8 = 1;

/// Whose fault a failure was; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bad arguments, a bad graph, an unreadable or unsuitable input, a refused output.
    User,
    /// Writing an output failed.
    Runtime,
}

/// An error as the CLI reports it: a message chain and its fault.
#[derive(Debug)]
pub struct CliError {
    pub fault: Fault,
    pub error: anyhow::Error,
    /// The message already says `error:` where it belongs (`file:line:col: error: ...`
    /// lines of a graph), so it is printed as it is.
    pub located: bool,
}

impl CliError {
    pub fn user(error: impl Into<anyhow::Error>) -> Self {
        Self {
            fault: Fault::User,
            error: error.into(),
            located: false,
        }
    }

    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            fault: Fault::Runtime,
            error: error.into(),
            located: false,
        }
    }

    /// A user error whose text is a list of `file:line:col: error: ...` problems.
    pub fn located(error: impl Into<anyhow::Error>) -> Self {
        Self {
            located: true,
            ..Self::user(error)
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self.fault {
            Fault::User => USAGE,
            Fault::Runtime => FAILURE,
        }
    }

    /// Prints `error: ...` with every cause on its own line, and returns the exit code.
    pub fn report(&self) -> ExitCode {
        if self.located {
            eprintln!("{self}");
        } else {
            eprintln!("error: {self}");
        }
        ExitCode::from(self.exit_code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        for cause in self.error.chain().skip(1) {
            write!(f, "\n  caused by: {cause}")?;
        }
        Ok(())
    }
}

/// Marks errors as the user's or the run's, on any `Result`.
pub trait ResultExt<T> {
    fn user_fault(self) -> Result<T, CliError>;
    fn runtime_fault(self) -> Result<T, CliError>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn user_fault(self) -> Result<T, CliError> {
        self.map_err(CliError::user)
    }

    fn runtime_fault(self) -> Result<T, CliError> {
        self.map_err(CliError::runtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_fault() {
        assert_eq!(CliError::user(anyhow::anyhow!("x")).exit_code(), 2);
        assert_eq!(CliError::runtime(anyhow::anyhow!("x")).exit_code(), 1);
    }

    #[test]
    fn display_lists_causes() {
        let e = CliError::user(anyhow::anyhow!("inner").context("outer"));
        assert_eq!(e.to_string(), "outer\n  caused by: inner");
    }
}
