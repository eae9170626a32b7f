//! A param value a user typed, resolved against a running graph: the live console and
//! OSC set params through this, with the same grammar
//! ([`ParamValue::from_text`]) and the same resolver
//! ([`override_value`](lathe_engine::compile::build::override_value)) as `--set`.

use lathe_engine::compile::build::override_value;
use lathe_engine::{GraphInfo, ParamValue};

/// The number to set `path` to for `value`: numbers and on/off as they are (the surface
/// clamps them), a choice's name as its index. Errors name the param.
pub fn number_for(info: &GraphInfo, path: &str, value: &ParamValue) -> Result<f64, String> {
    if let Some(number) = value.as_number() {
        return Ok(number);
    }
    let Some((node, param)) = info.find_param(path) else {
        let hint = info
            .suggest_param(path)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(format!("unknown param `{path}`{hint}"));
    };
    override_value(path, &info.nodes[node].spec.params[param], value).map(f64::from)
}
