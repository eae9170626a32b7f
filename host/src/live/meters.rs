//! The terminal meter line: a compact status refreshed a few times a second when stdout
//! is a terminal (never written to pipes or logs).

use lathe_engine::{Controller, GraphInfo};

/// Meter names the line shows when the graph has them, with their labels.
pub const SHOWN_METERS: &[(&str, &str)] = &[
    ("momentary_lufs", "M"),
    ("short_term_lufs", "S"),
    ("integrated_lufs", "I"),
    ("true_peak_dbtp", "TP"),
    ("gain_reduction_db", "GR"),
    ("correlation", "corr"),
];

/// Which meters of a graph the line shows.
#[derive(Debug, Default)]
pub struct MeterLine {
    /// (label, meter bank index)
    entries: Vec<(String, usize)>,
}

impl MeterLine {
    /// Finds the shown meters in `info`; a meter found on several nodes is labelled with
    /// its node id.
    pub fn new(info: &GraphInfo) -> Self {
        let mut entries = Vec::new();
        for (name, label) in SHOWN_METERS {
            let found: Vec<(&str, usize)> = info
                .nodes
                .iter()
                .filter_map(|n| {
                    n.spec
                        .meter_index(name)
                        .map(|m| (n.id.as_str(), n.meter_start + m))
                })
                .collect();
            for &(id, index) in &found {
                let label = if found.len() > 1 {
                    format!("{id}.{label}")
                } else {
                    label.to_string()
                };
                entries.push((label, index));
            }
        }
        Self { entries }
    }

    /// The line, without a newline.
    pub fn render(
        &self,
        controller: &Controller,
        dsp_load: f32,
        xruns: u64,
        monitor: &str,
    ) -> String {
        let mut parts: Vec<String> = self
            .entries
            .iter()
            .map(|(label, index)| format!("{label} {}", number(controller.meter_index(*index))))
            .collect();
        parts.push(format!("DSP {dsp_load:4.1}%"));
        parts.push(format!("xruns {xruns}"));
        if monitor != "off" {
            parts.push(format!("mon {monitor}"));
        }
        parts.join(" | ")
    }
}

/// A meter value for display: one decimal, `-inf` for silence, `--` for no value yet.
pub fn number(v: f32) -> String {
    if v.is_nan() {
        "--".to_string()
    } else if v == f32::NEG_INFINITY {
        "-inf".to_string()
    } else {
        format!("{v:6.1}")
    }
}
