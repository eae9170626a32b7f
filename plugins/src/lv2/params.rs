//! How an LV2 control port becomes a lathe param or meter: name = the port's symbol,
//! range and default from the plugin, unit from the LV2 units extension, enumerations
//! with values 0, 1, 2, ... as named choices.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use lathe_engine::{MeterSpec, ParamSpec, Unit};

use crate::info::ParamInfo;

/// The lathe unit of an LV2 unit name (the last part of its URI: `db`, `hz`, `ms`).
fn unit_of(info: &ParamInfo) -> Unit {
    if info.toggle {
        return Unit::Toggle;
    }
    match info.unit.as_deref() {
        Some("db") => Unit::Db,
        Some("hz") => Unit::Hz,
        Some("ms") => Unit::Ms,
        Some("s") => Unit::Seconds,
        Some("pc") => Unit::Percent,
        Some("frame") => Unit::Frames,
        _ => Unit::Factor,
    }
}

/// Do the choices number 0, 1, 2, ... (so lathe's choice index is the plugin's value)?
fn indexed_choices(info: &ParamInfo) -> bool {
    !info.choices.is_empty()
        && info
            .choices
            .iter()
            .enumerate()
            .all(|(i, (v, _))| *v == i as f64)
        && info.min == 0.0
        && info.max == (info.choices.len() - 1) as f64
}

/// Choice labels live for the whole process (a [`ParamSpec`] holds `&'static str`):
/// each distinct label is kept once, so rebuilding a graph does not grow the table.
fn intern(label: &str) -> &'static str {
    static LABELS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut labels = LABELS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&s) = labels.get(label) {
        return s;
    }
    let s: &'static str = Box::leak(label.to_string().into_boxed_str());
    labels.insert(s);
    s
}

/// The param of a control input. Unsmoothed: the plugin gets each new value at the
/// start of a block and smooths (or not) as its author chose.
pub fn param_spec(info: &ParamInfo) -> ParamSpec {
    let mut doc = info.name.clone();
    let mut spec = if indexed_choices(info) {
        let labels: Vec<&'static str> = info.choices.iter().map(|(_, l)| intern(l)).collect();
        ParamSpec::choice(&info.symbol, &labels, info.default.round() as usize)
    } else {
        if !info.choices.is_empty() {
            let values: Vec<String> = info
                .choices
                .iter()
                .map(|(v, l)| format!("{v} = {l}"))
                .collect();
            doc.push_str(&format!(" (values: {})", values.join(", ")));
        }
        ParamSpec::new(
            &info.symbol,
            unit_of(info),
            info.min as f32,
            info.max as f32,
            info.default as f32,
        )
    };
    if info.integer && spec.choices.is_empty() && spec.unit != Unit::Toggle {
        doc.push_str(" (whole numbers)");
    }
    spec.smoothing_ms = 0.0;
    spec.doc = doc;
    spec
}

/// The meter of a control output.
pub fn meter_spec(info: &ParamInfo) -> MeterSpec {
    MeterSpec::new(&info.symbol, unit_of(info), &info.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(choices: Vec<(f64, String)>, min: f64, max: f64) -> ParamInfo {
        ParamInfo {
            symbol: "ft_0".into(),
            name: "Filter type 0".into(),
            min,
            max,
            default: 1.0,
            unit: None,
            choices,
            integer: true,
            toggle: false,
        }
    }

    #[test]
    fn enumerations_numbered_from_zero_become_choices() {
        let labels = ["Off", "Bell", "Hi-pass"].map(String::from);
        let info = control(
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64, l.clone()))
                .collect(),
            0.0,
            2.0,
        );
        let spec = param_spec(&info);
        assert_eq!(spec.unit, Unit::Choice);
        assert_eq!(spec.choices, vec!["Off", "Bell", "Hi-pass"]);
        assert_eq!(spec.default, 1.0);
        assert_eq!(spec.smoothing_ms, 0.0, "the plugin smooths, not lathe");
    }

    #[test]
    fn other_enumerations_stay_numbers_with_their_values_described() {
        let info = control(vec![(1.0, "x1".into()), (2.0, "x2".into())], 1.0, 2.0);
        let spec = param_spec(&info);
        assert_eq!(spec.unit, Unit::Factor);
        assert!(spec.choices.is_empty());
        assert!(spec.doc.contains("1 = x1, 2 = x2"), "{}", spec.doc);
    }

    #[test]
    fn lv2_units_map_to_lathe_units() {
        let mut info = control(Vec::new(), -10.0, 0.0);
        info.unit = Some("db".into());
        info.integer = false;
        assert_eq!(param_spec(&info).unit, Unit::Db);
        info.toggle = true;
        assert_eq!(param_spec(&info).unit, Unit::Toggle);
    }
}
