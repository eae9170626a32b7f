//! A param value typed as text (`--set eq.band2.gain_db=-3`, `set limit.mode fast` on the
//! live console, a string over OSC): the one grammar every host reads, giving the same
//! [`ParamValue`] a graph file would hold. Which number it stands for depends on the param
//! and is decided by the compiler (`compile::build::override_value`).
//!
//! - a finite number (`-3`, `0.5`, `1e-3`);
//! - `on`/`true` and `off`/`false`, for toggles (and 1/0 anywhere);
//! - a name of letters, digits and `_` not starting like a number: a choice (`fast`).

use crate::graph::file::ParamValue;

/// Why a text is not a param value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueTextError {
    #[error("no value; expected a number, true/false or a choice name")]
    Empty,
    #[error("value `{0}` is not a finite number")]
    NotFinite(String),
    #[error("value `{0}` is not a number, true/false or a choice name")]
    Unreadable(String),
}

impl ParamValue {
    /// Reads a value typed by a user; surrounding white space is ignored.
    pub fn from_text(text: &str) -> Result<ParamValue, ValueTextError> {
        let text = text.trim();
        match text {
            "" => return Err(ValueTextError::Empty),
            "true" | "on" => return Ok(ParamValue::Bool(true)),
            "false" | "off" => return Ok(ParamValue::Bool(false)),
            _ => {}
        }
        if let Ok(v) = text.parse::<f64>() {
            return if v.is_finite() {
                Ok(ParamValue::Number(v))
            } else {
                Err(ValueTextError::NotFinite(text.to_string()))
            };
        }
        let starts_like_number = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
        if starts_like_number || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ValueTextError::Unreadable(text.to_string()));
        }
        Ok(ParamValue::Text(text.to_string()))
    }

    /// The value as a number when it is one without knowing the param (names are not).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            ParamValue::Number(v) => Some(*v),
            ParamValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            ParamValue::Text(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ParamValue, String> {
        ParamValue::from_text(text).map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_reads_as_the_file_would_hold_it() {
        assert_eq!(read("-3.5"), Ok(ParamValue::Number(-3.5)));
        assert_eq!(read(" 12 "), Ok(ParamValue::Number(12.0)));
        assert_eq!(read("1e-3"), Ok(ParamValue::Number(0.001)));
        assert_eq!(read("+2"), Ok(ParamValue::Number(2.0)));
        assert_eq!(read("1"), Ok(ParamValue::Number(1.0)));
        assert_eq!(read("on"), Ok(ParamValue::Bool(true)));
        assert_eq!(read("true"), Ok(ParamValue::Bool(true)));
        assert_eq!(read("off"), Ok(ParamValue::Bool(false)));
        assert_eq!(read("false"), Ok(ParamValue::Bool(false)));
        assert_eq!(read("fast"), Ok(ParamValue::Text("fast".into())));
        assert_eq!(read("true_peak"), Ok(ParamValue::Text("true_peak".into())));
        assert_eq!(read("Linear2"), Ok(ParamValue::Text("Linear2".into())));
    }

    #[test]
    fn errors_say_what_a_value_may_be() {
        assert_eq!(
            read(""),
            Err("no value; expected a number, true/false or a choice name".into())
        );
        assert_eq!(
            read("inf"),
            Err("value `inf` is not a finite number".into())
        );
        assert_eq!(
            read("nan"),
            Err("value `nan` is not a finite number".into())
        );
        assert_eq!(
            read("-1x"),
            Err("value `-1x` is not a number, true/false or a choice name".into())
        );
        assert_eq!(
            read("2nd"),
            Err("value `2nd` is not a number, true/false or a choice name".into())
        );
        assert_eq!(
            read("a-b"),
            Err("value `a-b` is not a number, true/false or a choice name".into())
        );
    }

    #[test]
    fn numbers_and_toggles_are_numbers_without_the_param() {
        assert_eq!(ParamValue::Number(-2.0).as_number(), Some(-2.0));
        assert_eq!(ParamValue::Bool(true).as_number(), Some(1.0));
        assert_eq!(ParamValue::Bool(false).as_number(), Some(0.0));
        assert_eq!(ParamValue::Text("x".into()).as_number(), None);
    }
}
