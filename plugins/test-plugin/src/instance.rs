//! One plugin instance: the `clap_plugin` callbacks and the extensions it offers
//! (audio-ports, params, latency, and state for the fade variant).

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_char, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_PARAM_VALUE, clap_event_header, clap_event_param_value,
    clap_input_events, clap_output_events,
};
use clap_sys::ext::audio_ports::{
    CLAP_AUDIO_PORT_IS_MAIN, CLAP_EXT_AUDIO_PORTS, CLAP_PORT_MONO, CLAP_PORT_STEREO,
    clap_audio_port_info, clap_plugin_audio_ports,
};
use clap_sys::ext::latency::{CLAP_EXT_LATENCY, clap_plugin_latency};
use clap_sys::ext::params::{CLAP_EXT_PARAMS, clap_param_info, clap_plugin_params};
use clap_sys::ext::state::CLAP_EXT_STATE;
use clap_sys::host::clap_host;
use clap_sys::id::clap_id;
use clap_sys::plugin::{clap_plugin, clap_plugin_descriptor};
use clap_sys::process::{
    CLAP_PROCESS_CONTINUE, CLAP_PROCESS_ERROR, clap_process, clap_process_status,
};

use crate::params::{self, EMIT_NAN, GAIN_DB, PARAMS, POLARITY, Values};
use crate::{FADE_FRAMES, Variant};

struct Instance {
    /// First field: the host holds a pointer to it, and `plugin_data` points back here.
    plugin: clap_plugin,
    variant: &'static Variant,
    values: Values,
    /// Frames processed in the plugin's life (restored state included): the fade
    /// variant's state. Atomic because CLAP lets the host save while audio runs.
    lifetime_frames: AtomicU64,
    /// Touched only by activate/deactivate/reset/process, which CLAP never runs at once.
    audio: UnsafeCell<AudioState>,
}

#[derive(Default)]
struct AudioState {
    /// One delay line per channel, `latency_frames` long (empty without latency).
    delay: Vec<Vec<f32>>,
    delay_pos: usize,
}

pub fn create(
    _host: *const clap_host,
    variant: &'static Variant,
    descriptor: &'static clap_plugin_descriptor,
) -> *const clap_plugin {
    let instance = Box::new(Instance {
        plugin: clap_plugin {
            desc: descriptor,
            plugin_data: std::ptr::null_mut(),
            init: Some(init),
            destroy: Some(destroy),
            activate: Some(activate),
            deactivate: Some(deactivate),
            start_processing: Some(start_processing),
            stop_processing: Some(stop_processing),
            reset: Some(reset),
            process: Some(process),
            get_extension: Some(get_extension),
            on_main_thread: Some(on_main_thread),
        },
        variant,
        values: Values::new(),
        lifetime_frames: AtomicU64::new(0),
        audio: UnsafeCell::new(AudioState::default()),
    });
    let raw = Box::into_raw(instance);
    // SAFETY: `raw` is the live box just made; the host owns it until `destroy`.
    unsafe {
        (*raw).plugin.plugin_data = raw.cast();
        &raw const (*raw).plugin
    }
}

/// The instance behind a plugin pointer the host passes back.
///
/// # Safety
/// `plugin` must come from [`create`] and not be destroyed.
unsafe fn instance<'a>(plugin: *const clap_plugin) -> &'a Instance {
    unsafe { &*((*plugin).plugin_data as *const Instance) }
}

/// The fade variant's frame count of the instance behind `plugin`.
///
/// # Safety
/// As for [`instance`].
pub(crate) unsafe fn lifetime<'a>(plugin: *const clap_plugin) -> &'a AtomicU64 {
    unsafe { &instance(plugin).lifetime_frames }
}

/// The fade-in gain at frame `n` of the plugin's life.
fn fade_gain(n: u64) -> f32 {
    if n >= FADE_FRAMES {
        1.0
    } else {
        (n as f64 / FADE_FRAMES as f64) as f32
    }
}

unsafe extern "C" fn init(_plugin: *const clap_plugin) -> bool {
    true
}

unsafe extern "C" fn destroy(plugin: *const clap_plugin) {
    // SAFETY: made by `Box::into_raw` in `create`; the host calls destroy once.
    drop(unsafe { Box::from_raw((*plugin).plugin_data as *mut Instance) });
}

unsafe extern "C" fn activate(
    plugin: *const clap_plugin,
    _sample_rate: f64,
    _min_frames: u32,
    _max_frames: u32,
) -> bool {
    let this = unsafe { instance(plugin) };
    // SAFETY: activate never runs alongside process (CLAP's thread rules).
    let audio = unsafe { &mut *this.audio.get() };
    let len = this.variant.latency_frames as usize;
    audio.delay = if len == 0 {
        Vec::new()
    } else {
        vec![vec![0.0; len]; this.variant.channels as usize]
    };
    audio.delay_pos = 0;
    true
}

unsafe extern "C" fn deactivate(plugin: *const clap_plugin) {
    let this = unsafe { instance(plugin) };
    // SAFETY: as in activate.
    unsafe { (*this.audio.get()).delay = Vec::new() };
}

unsafe extern "C" fn start_processing(_plugin: *const clap_plugin) -> bool {
    true
}

unsafe extern "C" fn stop_processing(_plugin: *const clap_plugin) {}

unsafe extern "C" fn reset(plugin: *const clap_plugin) {
    let this = unsafe { instance(plugin) };
    // SAFETY: reset runs on the audio thread, never alongside process.
    let audio = unsafe { &mut *this.audio.get() };
    for line in &mut audio.delay {
        line.fill(0.0);
    }
    audio.delay_pos = 0;
}

unsafe extern "C" fn on_main_thread(_plugin: *const clap_plugin) {}

/// Applies the param-value events in `events` whose time is `time`.
fn apply_events_at(this: &Instance, events: *const clap_input_events, time: Option<u32>) {
    for header in event_headers(events) {
        if time.is_some_and(|t| header.time != t) {
            continue;
        }
        if header.space_id == CLAP_CORE_EVENT_SPACE_ID && header.type_ == CLAP_EVENT_PARAM_VALUE {
            // SAFETY: the type says this header starts a clap_event_param_value.
            let event =
                unsafe { &*(header as *const clap_event_header).cast::<clap_event_param_value>() };
            this.values.set(event.param_id, event.value);
        }
    }
}

fn event_headers<'a>(
    events: *const clap_input_events,
) -> impl Iterator<Item = &'a clap_event_header> {
    // SAFETY: the host's list stays valid for the call that passed it.
    let list = unsafe { events.as_ref() };
    let count = list
        .and_then(|l| l.size.map(|size| unsafe { size(l) }))
        .unwrap_or(0);
    (0..count).filter_map(move |i| {
        let l = list?;
        let header = unsafe { (l.get?)(l, i) };
        unsafe { header.as_ref() }
    })
}

/// The linear gain of the current params, computed as the tests expect it: in f64, then
/// rounded once to f32.
fn current_gain(this: &Instance) -> f32 {
    let db = this.values.get(GAIN_DB).unwrap_or(0.0);
    let sign = if this.values.get(POLARITY).unwrap_or(0.0) >= 0.5 {
        -1.0
    } else {
        1.0
    };
    (sign * 10f64.powf(db / 20.0)) as f32
}

unsafe extern "C" fn process(
    plugin: *const clap_plugin,
    process: *const clap_process,
) -> clap_process_status {
    let this = unsafe { instance(plugin) };
    let Some(process) = (unsafe { process.as_ref() }) else {
        return CLAP_PROCESS_ERROR;
    };
    if process.audio_inputs_count < 1 || process.audio_outputs_count < 1 {
        return CLAP_PROCESS_ERROR;
    }
    // SAFETY: the host gives one buffer per port, each with `channel_count` channels of
    // `frames_count` samples; checked against the port layout below.
    let (input, output) = unsafe { (&*process.audio_inputs, &*process.audio_outputs) };
    let channels = this.variant.channels as usize;
    if input.channel_count as usize != channels
        || output.channel_count as usize != channels
        || input.data32.is_null()
        || output.data32.is_null()
    {
        return CLAP_PROCESS_ERROR;
    }
    // SAFETY: process never runs alongside activate, deactivate or reset.
    let audio = unsafe { &mut *this.audio.get() };
    let frames = process.frames_count as usize;
    if this.variant.crashes {
        // SAFETY: none: this plugin exists to crash like a buggy one (a write through a
        // null pointer), so the host's crash report can be tested.
        unsafe { std::ptr::null_mut::<f32>().write_volatile(1.0) };
    }
    let delay_len = this.variant.latency_frames as usize;
    let mut gain = current_gain(this);
    let mut life = this.lifetime_frames.load(Ordering::Relaxed);
    for frame in 0..frames {
        if event_headers(process.in_events).any(|h| h.time as usize == frame) {
            apply_events_at(this, process.in_events, Some(frame as u32));
            gain = current_gain(this);
        }
        let nan = this.values.get(EMIT_NAN).unwrap_or(0.0) >= 0.5;
        for ch in 0..channels {
            // SAFETY: channel pointers are valid for `frames` samples (see above).
            let x = unsafe { *(*input.data32.add(ch)).add(frame) };
            let mut y = x * gain;
            if this.variant.fades {
                y *= fade_gain(life);
            }
            if delay_len > 0 {
                let line = &mut audio.delay[ch];
                std::mem::swap(&mut line[audio.delay_pos], &mut y);
            }
            if nan {
                y = f32::NAN;
            }
            unsafe { *(*output.data32.add(ch)).add(frame) = y };
        }
        if delay_len > 0 {
            audio.delay_pos = (audio.delay_pos + 1) % delay_len;
        }
        life = life.saturating_add(1);
    }
    this.lifetime_frames.store(life, Ordering::Relaxed);
    CLAP_PROCESS_CONTINUE
}

unsafe extern "C" fn get_extension(plugin: *const clap_plugin, id: *const c_char) -> *const c_void {
    if id.is_null() {
        return std::ptr::null();
    }
    let id = unsafe { CStr::from_ptr(id) };
    if id == CLAP_EXT_AUDIO_PORTS {
        (&raw const AUDIO_PORTS).cast()
    } else if id == CLAP_EXT_PARAMS {
        (&raw const PARAMS_EXT).cast()
    } else if id == CLAP_EXT_LATENCY {
        (&raw const LATENCY).cast()
    } else if id == CLAP_EXT_STATE && unsafe { instance(plugin) }.variant.fades {
        (&raw const crate::state::STATE).cast()
    } else {
        std::ptr::null()
    }
}

static AUDIO_PORTS: clap_plugin_audio_ports = clap_plugin_audio_ports {
    count: Some(audio_ports_count),
    get: Some(audio_ports_get),
};

unsafe extern "C" fn audio_ports_count(_plugin: *const clap_plugin, _is_input: bool) -> u32 {
    1
}

unsafe extern "C" fn audio_ports_get(
    plugin: *const clap_plugin,
    index: u32,
    _is_input: bool,
    info: *mut clap_audio_port_info,
) -> bool {
    let this = unsafe { instance(plugin) };
    let Some(info) = (unsafe { info.as_mut() }) else {
        return false;
    };
    if index != 0 {
        return false;
    }
    info.id = 0;
    params::copy_c_str(b"main", &mut info.name);
    info.flags = CLAP_AUDIO_PORT_IS_MAIN;
    info.channel_count = this.variant.channels;
    info.port_type = if this.variant.channels == 1 {
        CLAP_PORT_MONO.as_ptr()
    } else {
        CLAP_PORT_STEREO.as_ptr()
    };
    info.in_place_pair = 0;
    true
}

static LATENCY: clap_plugin_latency = clap_plugin_latency {
    get: Some(latency_get),
};

unsafe extern "C" fn latency_get(plugin: *const clap_plugin) -> u32 {
    unsafe { instance(plugin) }.variant.latency_frames
}

static PARAMS_EXT: clap_plugin_params = clap_plugin_params {
    count: Some(params_count),
    get_info: Some(params_get_info),
    get_value: Some(params_get_value),
    value_to_text: Some(params_value_to_text),
    text_to_value: Some(params_text_to_value),
    flush: Some(params_flush),
};

unsafe extern "C" fn params_count(_plugin: *const clap_plugin) -> u32 {
    PARAMS.len() as u32
}

unsafe extern "C" fn params_get_info(
    _plugin: *const clap_plugin,
    index: u32,
    info: *mut clap_param_info,
) -> bool {
    match (PARAMS.get(index as usize), unsafe { info.as_mut() }) {
        (Some(def), Some(info)) => {
            params::info(def, info);
            true
        }
        _ => false,
    }
}

unsafe extern "C" fn params_get_value(
    plugin: *const clap_plugin,
    id: clap_id,
    out: *mut f64,
) -> bool {
    let this = unsafe { instance(plugin) };
    match (this.values.get(id), unsafe { out.as_mut() }) {
        (Some(v), Some(out)) => {
            *out = v;
            true
        }
        _ => false,
    }
}

unsafe extern "C" fn params_value_to_text(
    _plugin: *const clap_plugin,
    id: clap_id,
    value: f64,
    out: *mut c_char,
    capacity: u32,
) -> bool {
    let Some(def) = params::def(id) else {
        return false;
    };
    if out.is_null() || capacity == 0 {
        return false;
    }
    // SAFETY: the host gives a buffer of `capacity` chars.
    let out = unsafe { std::slice::from_raw_parts_mut(out, capacity as usize) };
    let text = if def.value_names.is_empty() {
        format!("{value:.2}")
    } else {
        let index = (value - def.min).round().max(0.0) as usize;
        match def.value_names.get(index) {
            Some(name) => (*name).to_string(),
            None => return false,
        }
    };
    params::copy_c_str(text.as_bytes(), out);
    true
}

unsafe extern "C" fn params_text_to_value(
    _plugin: *const clap_plugin,
    id: clap_id,
    text: *const c_char,
    out: *mut f64,
) -> bool {
    let (Some(def), false, Some(out)) = (params::def(id), text.is_null(), unsafe { out.as_mut() })
    else {
        return false;
    };
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    if let Some(index) = def.value_names.iter().position(|n| *n == text) {
        *out = def.min + index as f64;
        return true;
    }
    match text.trim().parse::<f64>() {
        Ok(v) => {
            *out = v;
            true
        }
        Err(_) => false,
    }
}

unsafe extern "C" fn params_flush(
    plugin: *const clap_plugin,
    in_events: *const clap_input_events,
    _out: *const clap_output_events,
) {
    apply_events_at(unsafe { instance(plugin) }, in_events, None);
}
