//! `lathe catalog status|merge`: the tasks' manifests merged against the catalogue into
//! one report: every unit done, failed (with the reasons) or pending, as JSON or CSV.

use std::collections::HashMap;

use serde::Serialize;

use crate::catalog::manifest::{Status, UnitRecord};
use crate::catalog::plan::Unit;

/// Where a unit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Done,
    Failed,
    /// No record, or the record is of other inputs than the catalogue lists now.
    Pending,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub units: usize,
    pub tracks: usize,
    pub done: usize,
    pub failed: usize,
    pub pending: usize,
    /// Manifest lines that could not be read (a task killed while writing one).
    pub torn_lines: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergedUnit {
    pub unit: String,
    pub state: State,
    /// Catalogue inputs of the unit (for pending units, what is still to do).
    pub inputs: Vec<String>,
    pub record: Option<UnitRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    pub summary: Summary,
    pub units: Vec<MergedUnit>,
}

/// Joins the catalogue's units (in key order) with the latest record of each.
pub fn merge(units: &[Unit], latest: &HashMap<String, UnitRecord>, torn_lines: usize) -> Merged {
    let mut summary = Summary {
        torn_lines,
        ..Summary::default()
    };
    let merged = units
        .iter()
        .map(|u| {
            let inputs: Vec<String> = u.tracks.iter().map(|t| t.path.clone()).collect();
            let record = latest.get(&u.key).filter(|r| {
                let recorded: Vec<&str> = r.tracks.iter().map(|t| t.input.as_str()).collect();
                recorded == inputs.iter().map(String::as_str).collect::<Vec<_>>()
            });
            let state = match record.map(|r| r.status) {
                Some(Status::Done) => State::Done,
                Some(Status::Failed) => State::Failed,
                None => State::Pending,
            };
            summary.units += 1;
            summary.tracks += u.tracks.len();
            match state {
                State::Done => summary.done += 1,
                State::Failed => summary.failed += 1,
                State::Pending => summary.pending += 1,
            }
            MergedUnit {
                unit: u.key.clone(),
                state,
                inputs,
                record: record.cloned(),
            }
        })
        .collect();
    Merged {
        summary,
        units: merged,
    }
}

/// One CSV row per track: unit, state, input, output and its hash, gains, loudness,
/// and the unit's error.
pub fn to_csv(merged: &Merged) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "unit",
        "state",
        "catalogue_line",
        "input",
        "input_sha256",
        "output",
        "output_sha256",
        "gain_db",
        "safety_gain_db",
        "before_lufs",
        "after_lufs",
        "after_true_peak_dbtp",
        "error",
    ])?;
    let num = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.2}"));
    for u in &merged.units {
        let state = match u.state {
            State::Done => "done",
            State::Failed => "failed",
            State::Pending => "pending",
        };
        match &u.record {
            Some(r) => {
                let error = r.error.clone().unwrap_or_default();
                for t in &r.tracks {
                    w.write_record([
                        u.unit.clone(),
                        state.to_string(),
                        t.line.to_string(),
                        t.input.clone(),
                        t.input_sha256.clone().unwrap_or_default(),
                        t.output.clone(),
                        t.output_sha256.clone().unwrap_or_default(),
                        num(t.gain_db),
                        num(t.safety_gain_db),
                        num(t.before.as_ref().and_then(|l| l.integrated_lufs)),
                        num(t.after.as_ref().and_then(|l| l.integrated_lufs)),
                        num(t.after.as_ref().and_then(|l| l.true_peak_dbtp)),
                        error.clone(),
                    ])?;
                }
            }
            None => {
                for input in &u.inputs {
                    let mut row = vec![u.unit.clone(), state.to_string(), String::new()];
                    row.push(input.clone());
                    row.extend(std::iter::repeat_n(String::new(), 9));
                    w.write_record(row)?;
                }
            }
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
