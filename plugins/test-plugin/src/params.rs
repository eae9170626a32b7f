//! The plugin's params: their infos for the params extension, and their current values,
//! shared by the main thread (`get_value`) and the audio thread (events in `process`).

use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicU64, Ordering};

use clap_sys::ext::params::{
    CLAP_PARAM_IS_AUTOMATABLE, CLAP_PARAM_IS_ENUM, CLAP_PARAM_IS_STEPPED, clap_param_info,
};
use clap_sys::id::clap_id;

pub const GAIN_DB: clap_id = 0;
pub const POLARITY: clap_id = 1;
pub const EMIT_NAN: clap_id = 2;

pub struct ParamDef {
    pub id: clap_id,
    pub name: &'static CStr,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub flags: u32,
    /// Names of the values of a stepped param, from `min` up.
    pub value_names: &'static [&'static str],
}

pub const PARAMS: [ParamDef; 3] = [
    ParamDef {
        id: GAIN_DB,
        name: c"Gain dB",
        min: -60.0,
        max: 24.0,
        default: 0.0,
        flags: CLAP_PARAM_IS_AUTOMATABLE,
        value_names: &[],
    },
    ParamDef {
        id: POLARITY,
        name: c"Polarity",
        min: 0.0,
        max: 1.0,
        default: 0.0,
        flags: CLAP_PARAM_IS_AUTOMATABLE | CLAP_PARAM_IS_STEPPED | CLAP_PARAM_IS_ENUM,
        value_names: &["normal", "inverted"],
    },
    ParamDef {
        id: EMIT_NAN,
        name: c"Emit NaN",
        min: 0.0,
        max: 1.0,
        default: 0.0,
        flags: CLAP_PARAM_IS_AUTOMATABLE | CLAP_PARAM_IS_STEPPED,
        value_names: &["off", "on"],
    },
];

pub fn def(id: clap_id) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|p| p.id == id)
}

/// Fills a `clap_param_info`.
pub fn info(def: &ParamDef, out: &mut clap_param_info) {
    out.id = def.id;
    out.flags = def.flags;
    out.cookie = std::ptr::null_mut();
    copy_c_str(def.name.to_bytes(), &mut out.name);
    copy_c_str(b"", &mut out.module);
    out.min_value = def.min;
    out.max_value = def.max;
    out.default_value = def.default;
}

/// Copies `text` into a fixed C buffer, cut to fit and null-terminated.
pub fn copy_c_str(text: &[u8], out: &mut [c_char]) {
    let Some(room) = out.len().checked_sub(1) else {
        return;
    };
    let len = text.len().min(room);
    for (dst, src) in out.iter_mut().zip(&text[..len]) {
        *dst = *src as c_char;
    }
    out[len] = 0;
}

/// The current value of each param, as f64 bits.
pub struct Values([AtomicU64; 3]);

impl Values {
    pub fn new() -> Self {
        Self(PARAMS.map(|p| AtomicU64::new(p.default.to_bits())))
    }

    pub fn get(&self, id: clap_id) -> Option<f64> {
        self.0
            .get(id as usize)
            .map(|v| f64::from_bits(v.load(Ordering::Relaxed)))
    }

    /// Stores `value` clamped to the param's range; unknown ids are ignored.
    pub fn set(&self, id: clap_id, value: f64) {
        if let (Some(def), Some(slot)) = (def(id), self.0.get(id as usize)) {
            let v = if value.is_nan() {
                def.default
            } else {
                value.clamp(def.min, def.max)
            };
            slot.store(v.to_bits(), Ordering::Relaxed);
        }
    }
}
