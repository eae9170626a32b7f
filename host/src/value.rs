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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lathe_engine::{CompileOptions, GraphDoc, PrepareInfo, compile};

    use super::*;

    fn info() -> GraphInfo {
        let doc = GraphDoc::parse(
            Path::new("live.ron"),
            r#"(nodes: [(id: "comp", kind: "compressor")], links: ["in -> comp -> out"])"#,
        )
        .expect("parses");
        let options = CompileOptions::new(PrepareInfo::new(48_000.0, 64));
        compile(&doc, &crate::registry(), &options)
            .expect("compiles")
            .info
    }

    fn typed(path: &str, text: &str) -> Result<f64, String> {
        let value = ParamValue::from_text(text).map_err(|e| e.to_string())?;
        number_for(&info(), path, &value)
    }

    #[test]
    fn a_console_word_becomes_the_number_to_set() {
        assert_eq!(typed("comp.detector", "rms"), Ok(1.0), "a choice by name");
        assert_eq!(typed("comp.detector", "peak"), Ok(0.0));
        assert_eq!(typed("comp.detector", "1"), Ok(1.0), "or by index");
        assert_eq!(typed("comp.bypass", "on"), Ok(1.0));
        assert_eq!(typed("comp.threshold_db", "-12.5"), Ok(-12.5));
        // Numbers go to the surface as typed: it clamps them, as before.
        assert_eq!(typed("comp.threshold_db", "-500"), Ok(-500.0));
    }

    #[test]
    fn a_name_that_fits_no_param_says_why() {
        assert_eq!(
            typed("comp.detector", "loud"),
            Err("`loud` is not a choice of `comp.detector`; allowed: peak, rms".into())
        );
        assert!(
            typed("comp.threshold_db", "loud")
                .unwrap_err()
                .starts_with("`comp.threshold_db` takes a number (")
        );
        assert_eq!(
            typed("comp.detectr", "rms"),
            Err("unknown param `comp.detectr` (did you mean `comp.detector`?)".into())
        );
    }
}
