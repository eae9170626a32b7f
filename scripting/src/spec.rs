//! A script ready to run: its node id, name, source text, tick rate and own params, read
//! from a `script` node's config. Shared by the node kind (which only checks it) and the
//! host (which runs it).

use std::path::{Path, PathBuf};

use lathe_engine::graph::read_source_text;
use lathe_engine::{ConfigError, NodeConfig, ParamSpec};
use rhai::{AST, Engine};

use crate::config::ScriptConfig;
use crate::sandbox::{self, ScriptPos};

/// A script could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    #[error("script node `{node_id}`: {error}")]
    Config { node_id: String, error: ConfigError },
    #[error("cannot read script `{}`: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{script}{}: {message}", pos_text(.pos))]
    Compile {
        /// The script's name: its file path, or `node (inline source)`.
        script: String,
        pos: Option<ScriptPos>,
        message: String,
    },
}

fn pos_text(pos: &Option<ScriptPos>) -> String {
    match pos {
        Some(p) => format!(":{}:{}", p.line, p.col),
        None => String::new(),
    }
}

impl ScriptError {
    /// The same problem as a node config error, for `NodeKind::build`.
    pub fn into_config_error(self) -> ConfigError {
        match self {
            ScriptError::Config { error, .. } => error,
            e @ ScriptError::Read { .. } => ConfigError::invalid("file", e.to_string()),
            e @ ScriptError::Compile { .. } => ConfigError::invalid("script", e.to_string()),
        }
    }
}

/// One script node, loaded and validated (not yet compiled).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptSpec {
    node_id: String,
    name: String,
    /// The script file, when the source came from one.
    file: Option<PathBuf>,
    source: String,
    rate_hz: f64,
    params: Vec<ParamSpec>,
}

impl ScriptSpec {
    /// Reads a `script` node's config; `file` resolves relative to `base_dir` (the folder
    /// of the graph file). With neither `file` nor `source` the script is empty.
    pub fn from_config(
        node_id: &str,
        config: &NodeConfig<'_>,
        base_dir: &Path,
    ) -> Result<ScriptSpec, ScriptError> {
        let config_error = |error| ScriptError::Config {
            node_id: node_id.to_string(),
            error,
        };
        let cfg: ScriptConfig = config.parse().map_err(config_error)?;
        let params = cfg.validate().map_err(config_error)?;
        let (name, file, source) = match (&cfg.file, &cfg.source) {
            (Some(file), _) => {
                let path = base_dir.join(file);
                let source = read_source_text(&path).map_err(|e| ScriptError::Read {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                (path.display().to_string(), Some(path), source)
            }
            (None, Some(source)) => (format!("{node_id} (inline source)"), None, source.clone()),
            (None, None) => (format!("{node_id} (empty script)"), None, String::new()),
        };
        Ok(ScriptSpec {
            node_id: node_id.to_string(),
            name,
            file,
            source,
            rate_hz: cfg.rate_hz,
            params,
        })
    }

    /// The script node's id; its own params are addressed `node_id.name`.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The name used in messages: the script file's path, or `node (inline source)`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script file, when the source came from one (hosts watch it for changes).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// The script's own params, in name order.
    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// Compiles the source with `engine`; a syntax error names the script and position.
    pub fn compile(&self, engine: &Engine) -> Result<AST, ScriptError> {
        engine.compile(&self.source).map_err(|e| {
            let (message, pos) = sandbox::parse_error_parts(&e);
            ScriptError::Compile {
                script: self.name.clone(),
                pos,
                message,
            }
        })
    }
}
