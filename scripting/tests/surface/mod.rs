//! An in-memory control surface for script tests: a table of params with ranges, meters
//! the test drives, and a log of every set.
//!
//! Each test binary uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use lathe_engine::{ControlError, ControlSurface};

#[derive(Debug, Clone, Copy)]
pub struct TestParam {
    pub min: f64,
    pub max: f64,
    pub value: f64,
}

/// One `set_param` call: at which frame, on which path, asked value, applied value.
#[derive(Debug, Clone, PartialEq)]
pub struct SetRecord {
    pub frame: u64,
    pub path: String,
    pub asked: f64,
    pub applied: f32,
}

pub struct TestSurface {
    pub params: BTreeMap<String, TestParam>,
    pub meters: BTreeMap<String, f32>,
    pub sets: Vec<SetRecord>,
    pub position_frames: u64,
    pub sample_rate_hz: f64,
}

impl TestSurface {
    pub fn new(sample_rate_hz: f64) -> Self {
        Self {
            params: BTreeMap::new(),
            meters: BTreeMap::new(),
            sets: Vec::new(),
            position_frames: 0,
            sample_rate_hz,
        }
    }

    pub fn with_param(mut self, path: &str, min: f64, max: f64, value: f64) -> Self {
        self.params
            .insert(path.to_string(), TestParam { min, max, value });
        self
    }

    pub fn with_meter(mut self, path: &str, value: f32) -> Self {
        self.meters.insert(path.to_string(), value);
        self
    }

    pub fn value(&self, path: &str) -> f64 {
        self.params[path].value
    }

    /// Sets a param as the CLI or live host would: not logged as a script set.
    pub fn set_value(&mut self, path: &str, value: f64) {
        if let Some(p) = self.params.get_mut(path) {
            p.value = value.clamp(p.min, p.max);
        }
    }

    pub fn set_meter(&mut self, path: &str, value: f32) {
        self.meters.insert(path.to_string(), value);
    }

    pub fn sets_of(&self, path: &str) -> Vec<&SetRecord> {
        self.sets.iter().filter(|s| s.path == path).collect()
    }
}

impl ControlSurface for TestSurface {
    fn meter(&self, path: &str) -> Result<f32, ControlError> {
        self.meters
            .get(path)
            .copied()
            .ok_or_else(|| ControlError::UnknownMeter {
                path: path.to_string(),
                suggestion: None,
            })
    }

    fn param(&self, path: &str) -> Result<f32, ControlError> {
        self.params
            .get(path)
            .map(|p| p.value as f32)
            .ok_or_else(|| ControlError::UnknownParam {
                path: path.to_string(),
                suggestion: None,
            })
    }

    fn set_param(&mut self, path: &str, value: f64) -> Result<f32, ControlError> {
        if !value.is_finite() {
            return Err(ControlError::NotFinite {
                path: path.to_string(),
                value,
            });
        }
        let frame = self.position_frames;
        let p = self
            .params
            .get_mut(path)
            .ok_or_else(|| ControlError::UnknownParam {
                path: path.to_string(),
                suggestion: None,
            })?;
        // As the engine: clamped to the range, stored as f32.
        let applied = value.clamp(p.min, p.max) as f32;
        p.value = applied as f64;
        self.sets.push(SetRecord {
            frame,
            path: path.to_string(),
            asked: value,
            applied,
        });
        Ok(applied)
    }

    fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    fn position_frames(&self) -> u64 {
        self.position_frames
    }
}
