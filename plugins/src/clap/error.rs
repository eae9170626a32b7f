//! Why a `.clap` file or one of its plugins could not be used. The node kind turns these
//! into config errors on the field at fault; the compiler adds the node id and position.

use std::path::PathBuf;

use lathe_engine::ConfigError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClapError {
    #[error("no CLAP file at `{}`", path.display())]
    Missing { path: PathBuf },
    #[error("cannot load `{}`: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("`{}` has no `clap_entry` symbol: it is not a CLAP plugin", path.display())]
    NoEntry { path: PathBuf },
    #[error("`{}` speaks CLAP {version}, which this host cannot load", path.display())]
    Version { path: PathBuf, version: String },
    #[error("`{}` refused to initialise", path.display())]
    EntryInit { path: PathBuf },
    #[error("`{}` has no plugin factory", path.display())]
    NoFactory { path: PathBuf },
    #[error("`{}` has no plugin `{id}`{hint}; it has: {available}", path.display())]
    UnknownId {
        path: PathBuf,
        id: String,
        /// `, did you mean `x`?` or empty.
        hint: String,
        available: String,
    },
    /// `create_plugin`, `init` or `activate` failed.
    #[error("plugin `{id}` failed to {step}")]
    Instance { id: String, step: &'static str },
    #[error("plugin `{id}` has {what}, which lathe cannot host: {detail}")]
    Unsupported {
        id: String,
        what: &'static str,
        detail: String,
    },
}

impl ClapError {
    /// The config field a user fixes for this error.
    fn field(&self) -> &'static str {
        match self {
            ClapError::UnknownId { .. } | ClapError::Instance { .. } => "id",
            ClapError::Unsupported { .. } => "id",
            _ => "path",
        }
    }

    pub fn into_config_error(self) -> ConfigError {
        ConfigError::invalid(self.field(), self.to_string())
    }
}
