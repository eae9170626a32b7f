//! How a CLAP plugin's params become node params: a symbol made from the param's name
//! (`Gain dB` → `gain_db`), its range and default, a unit guessed from the symbol's
//! suffix, and named choices for enums. The plugin smooths its own params, so lathe does
//! not (smoothing 0).

use std::collections::BTreeSet;
use std::sync::Mutex;

use clap_sys::id::clap_id;
use lathe_engine::{ParamSpec, Unit};

use super::instance::PluginParam;

/// How one node param reaches the plugin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamRoute {
    pub clap_id: clap_id,
    /// Added to the node value: the plugin value of choice 0 (0 for other params).
    pub offset: f64,
    /// Whole values only (a stepped param): the node value is rounded.
    pub stepped: bool,
}

impl ParamRoute {
    /// The plugin value of node value `value`.
    #[inline]
    pub fn plugin_value(&self, value: f32) -> f64 {
        let v = f64::from(value);
        self.offset + if self.stepped { v.round() } else { v }
    }
}

/// The node params of `params`, in the plugin's order, and how each reaches the plugin.
pub fn map_params(params: &[PluginParam]) -> (Vec<ParamSpec>, Vec<ParamRoute>) {
    let mut used = BTreeSet::new();
    let mut specs = Vec::with_capacity(params.len());
    let mut routes = Vec::with_capacity(params.len());
    for p in params {
        let mut name = symbol(&p.name, p.id);
        if !used.insert(name.clone()) {
            name = format!("{name}_{}", p.id);
            used.insert(name.clone());
        }
        let doc = format!("CLAP param {} `{}`.", p.id, p.name);
        let (spec, route) = if !p.value_names.is_empty() {
            let names: Vec<&'static str> = p.value_names.iter().map(|n| intern(n)).collect();
            let default = (p.default - p.min).round().max(0.0) as usize;
            let offset = p.min.round();
            (
                ParamSpec::choice(name, &names, default.min(names.len() - 1)),
                ParamRoute {
                    clap_id: p.id,
                    offset,
                    stepped: true,
                },
            )
        } else {
            let toggle = p.stepped && p.min == 0.0 && p.max == 1.0;
            let unit = if toggle { Unit::Toggle } else { unit_of(&name) };
            (
                ParamSpec::new(name, unit, p.min as f32, p.max as f32, p.default as f32),
                ParamRoute {
                    clap_id: p.id,
                    offset: 0.0,
                    stepped: p.stepped,
                },
            )
        };
        specs.push(spec.smoothing_ms(0.0).doc(doc));
        routes.push(route);
    }
    (specs, routes)
}

/// A param name as a lathe symbol: lower case, runs of other characters as one `_`.
/// `Gain dB` → `gain_db`; a name with no letter or digit gives `param{id}`.
pub fn symbol(name: &str, id: clap_id) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        return format!("param{id}");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'p');
    }
    out
}

/// The display unit a symbol's suffix names (`_db`, `_hz`, `_ms`...), or none.
fn unit_of(symbol: &str) -> Unit {
    let suffix = symbol.rsplit('_').next().unwrap_or("");
    match suffix {
        "db" => Unit::Db,
        "dbfs" => Unit::Dbfs,
        "hz" => Unit::Hz,
        "ms" => Unit::Ms,
        "s" => Unit::Seconds,
        "pct" | "percent" => Unit::Percent,
        _ => Unit::Factor,
    }
}

/// Choice names live as long as the program ([`ParamSpec::choices`] holds `&'static
/// str`); each distinct name is kept once however often a graph is rebuilt.
fn intern(text: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = names.get(text) {
        return existing;
    }
    let leaked: &'static str = Box::leak(text.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_lower_case_words_joined_by_underscores() {
        assert_eq!(symbol("Gain dB", 0), "gain_db");
        assert_eq!(symbol("  Attack (ms) ", 1), "attack_ms");
        assert_eq!(symbol("Emit NaN", 2), "emit_nan");
        assert_eq!(symbol("3rd band", 3), "p3rd_band");
        assert_eq!(symbol("--", 7), "param7");
    }

    fn param(id: u32, name: &str) -> PluginParam {
        PluginParam {
            id,
            name: name.into(),
            min: -1.0,
            max: 1.0,
            default: 0.0,
            stepped: false,
            value_names: Vec::new(),
        }
    }

    #[test]
    fn enums_become_choices_offset_from_their_minimum() {
        let mut p = param(4, "Mode");
        p.min = 1.0;
        p.max = 3.0;
        p.default = 2.0;
        p.stepped = true;
        p.value_names = vec!["a".into(), "b".into(), "c".into()];
        let (specs, routes) = map_params(&[p]);
        assert_eq!(specs[0].unit, Unit::Choice);
        assert_eq!(specs[0].choices, vec!["a", "b", "c"]);
        assert_eq!(specs[0].default, 1.0);
        assert_eq!(routes[0].plugin_value(2.0), 3.0);
    }

    #[test]
    fn clashing_symbols_get_the_param_id() {
        let (specs, _) = map_params(&[param(1, "Gain"), param(9, "gain")]);
        assert_eq!(specs[0].name, "gain");
        assert_eq!(specs[1].name, "gain_9");
        assert_eq!(specs[0].unit, Unit::Factor);
        assert_eq!(specs[0].smoothing_ms, 0.0);
    }
}
