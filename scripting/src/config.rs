//! The `script` node's config as written in a graph file, and its validation into the
//! script's own param specs.

use std::collections::BTreeMap;

use lathe_engine::{ConfigError, ParamSpec, Unit};
use serde::Deserialize;

/// Tick rate when a config does not say.
pub const DEFAULT_RATE_HZ: f64 = 20.0;
/// Fastest tick rate a script may ask for: control, not audio, rate.
pub const MAX_RATE_HZ: f64 = 1000.0;

/// `(file: "rider.rhai", rate_hz: 20, params: {"target_lufs": (min: -30, max: -6, default: -14, unit: "LUFS")})`,
/// or `source: "..."` instead of `file`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptConfig {
    /// Script file, relative to the graph file's folder.
    pub file: Option<String>,
    /// The script text itself, for short scripts kept in the graph file.
    pub source: Option<String>,
    /// Ticks per second.
    pub rate_hz: f64,
    /// The script's own params, by name. They live in the engine's param table as
    /// `node.name`, so `--set`, the live host and `ctx.own(name)` all see them.
    pub params: BTreeMap<String, ScriptParamConfig>,
}

impl Default for ScriptConfig {
    fn default() -> Self {
        Self {
            file: None,
            source: None,
            rate_hz: DEFAULT_RATE_HZ,
            params: BTreeMap::new(),
        }
    }
}

/// One of the script's own params.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptParamConfig {
    pub min: f32,
    pub max: f32,
    pub default: f32,
    /// A unit label as `lathe nodes` prints it: "dB", "LUFS", "ms", "Hz", "" ...
    pub unit: String,
    pub doc: String,
}

impl Default for ScriptParamConfig {
    fn default() -> Self {
        Self {
            min: 0.0,
            max: 1.0,
            default: 0.0,
            unit: String::new(),
            doc: String::new(),
        }
    }
}

/// Units a script param may declare, by their printed label.
const UNITS: [Unit; 13] = [
    Unit::Db,
    Unit::Dbfs,
    Unit::Dbtp,
    Unit::Lufs,
    Unit::Lu,
    Unit::Hz,
    Unit::Ms,
    Unit::Seconds,
    Unit::Ratio,
    Unit::Percent,
    Unit::Frames,
    Unit::Factor,
    Unit::Toggle,
];

impl ScriptConfig {
    /// Checks the rate and the params; returns the param specs in name order.
    pub fn validate(&self) -> Result<Vec<ParamSpec>, ConfigError> {
        if self.file.is_some() && self.source.is_some() {
            return Err(ConfigError::invalid(
                "source",
                "give either `file` or `source`, found both",
            ));
        }
        if !(self.rate_hz > 0.0 && self.rate_hz <= MAX_RATE_HZ) {
            return Err(ConfigError::invalid(
                "rate_hz",
                format!(
                    "must be above 0 and at most {MAX_RATE_HZ} Hz, found {}",
                    self.rate_hz
                ),
            ));
        }
        self.params
            .iter()
            .map(|(name, p)| p.to_spec(name))
            .collect()
    }
}

impl ScriptParamConfig {
    fn to_spec(&self, name: &str) -> Result<ParamSpec, ConfigError> {
        let field = format!("params.{name}");
        if !valid_param_name(name) {
            return Err(ConfigError::invalid(
                field,
                "a param name is lowercase letters, digits, `_` and `.`, starting with a \
                 letter, and not `bypass`",
            ));
        }
        if !(self.min.is_finite() && self.max.is_finite() && self.min < self.max) {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "needs finite `min` < `max`, found min {} max {}",
                    self.min, self.max
                ),
            ));
        }
        if !(self.default >= self.min && self.default <= self.max) {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "`default` must be within {} ..= {}, found {}",
                    self.min, self.max, self.default
                ),
            ));
        }
        let unit = UNITS
            .into_iter()
            .find(|u| u.label().eq_ignore_ascii_case(&self.unit))
            .ok_or_else(|| {
                let labels: Vec<String> =
                    UNITS.iter().map(|u| format!("\"{}\"", u.label())).collect();
                ConfigError::invalid(
                    format!("params.{name}.unit"),
                    format!(
                        "must be one of {}, found \"{}\"",
                        labels.join(", "),
                        self.unit
                    ),
                )
            })?;
        // The script reads its params once per tick: smoothing would only delay them.
        Ok(ParamSpec::new(name, unit, self.min, self.max, self.default)
            .smoothing_ms(0.0)
            .doc(self.doc.clone()))
    }
}

fn valid_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        && name != "bypass"
        && !name.ends_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_engine::NodeConfig;

    #[test]
    fn params_become_specs_in_name_order() {
        let cfg: ScriptConfig = NodeConfig::from_ron(
            r#"(rate_hz: 50, params: {"target_lufs": (min: -30, max: -6, default: -14, unit: "LUFS"),
                "max_gain_db": (min: 0, max: 12, default: 6, unit: "dB")})"#,
        )
        .parse()
        .expect("valid config");
        let specs = cfg.validate().expect("valid params");
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name, "max_gain_db");
        assert_eq!(specs[1].name, "target_lufs");
        assert_eq!(specs[1].unit, Unit::Lufs);
        assert_eq!(
            (specs[1].min, specs[1].max, specs[1].default),
            (-30.0, -6.0, -14.0)
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            ("(rate_hz: 0)", "rate_hz"),
            (r#"(file: "a.rhai", source: "")"#, "source"),
            (r#"(params: {"x": (min: 1, max: 0)})"#, "params.x"),
            (
                r#"(params: {"x": (min: 0, max: 1, default: 2)})"#,
                "params.x",
            ),
            (r#"(params: {"x": (unit: "furlongs")})"#, "params.x.unit"),
            (r#"(params: {"Bad": ()})"#, "params.Bad"),
            (r#"(params: {"bypass": ()})"#, "params.bypass"),
        ];
        for (ron, field) in cases {
            let cfg: ScriptConfig = NodeConfig::from_ron(ron).parse().expect("parses");
            match cfg.validate() {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{ron}"),
                other => panic!("{ron}: expected an error on `{field}`, got {other:?}"),
            }
        }
    }
}
