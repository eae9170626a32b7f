//! A node's structural config: the raw RON text of its `config:` field, parsed by the
//! kind into its own typed struct. Keeping the raw text (borrowed from the graph file)
//! lets a parse error point at the exact line and column of the graph file.

use ron::extensions::Extensions;
use serde::de::DeserializeOwned;

/// A node's config as written in the graph file, or empty when the node has none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeConfig<'a> {
    raw: Option<&'a str>,
}

impl<'a> NodeConfig<'a> {
    /// A config from RON text, e.g. `(bands: [(type: bell)])`.
    pub fn from_ron(raw: &'a str) -> Self {
        Self { raw: Some(raw) }
    }

    /// No config: every field takes its default.
    pub fn empty() -> Self {
        Self { raw: None }
    }

    pub fn raw(&self) -> Option<&'a str> {
        self.raw
    }

    /// Parses into the kind's config struct. Use `#[serde(deny_unknown_fields, default)]`
    /// on `T` so a misspelt field is an error and missing fields take their defaults.
    pub fn parse<T: DeserializeOwned + Default>(&self) -> Result<T, ConfigError> {
        match self.raw {
            None => Ok(T::default()),
            Some(raw) => ron_options().from_str(raw).map_err(|e| ConfigError::Parse {
                message: without_type_names(&e.code.to_string()),
                line: e.span.start.line,
                col: e.span.start.col,
            }),
        }
    }
}

/// RON names the Rust struct in some messages (" in `EqConfig`"): users never see those
/// types, so the phrase is dropped.
fn without_type_names(message: &str) -> String {
    let mut out = message.to_string();
    while let Some(start) = out.find(" in `") {
        let Some(len) = out[start + 5..].find('`') else {
            break;
        };
        out.replace_range(start..start + 5 + len + 1, "");
    }
    out
}

/// The RON dialect of graph files: `Some(..)` may be left out around optional values.
pub fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME)
}

/// A node's config was rejected. The compiler adds the file position and node id.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The RON did not fit the kind's config struct. `line`/`col` are 1-based and
    /// relative to the start of the config text.
    #[error("{message}")]
    Parse {
        message: String,
        line: usize,
        col: usize,
    },
    /// A field parsed but its value is not allowed, e.g. `bands[2].order`.
    #[error("config field `{field}`: {message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
