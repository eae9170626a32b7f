//! A small but real CLAP plugin that lathe's tests load as a `.clap` file.
//!
//! Debian packages no CLAP plugin, so the host side of the `clap` node kind is tested
//! against this one, built from source with nothing but the C ABI of `clap-sys`. One file
//! holds several plugins, each a gain with the params a host must map:
//!
//! | id | ports | latency |
//! | --- | --- | --- |
//! | `org.lathe.test.gain` | stereo in, stereo out | 0 |
//! | `org.lathe.test.latency` | stereo in, stereo out | [`LATENCY_FRAMES`] |
//! | `org.lathe.test.mono` | mono in, mono out | 0 |
//! | `org.lathe.test.crash` | stereo in, stereo out | 0; its `process` writes through a null pointer, as a buggy plugin would |
//! | `org.lathe.test.fade` | stereo in, stereo out | 0; fades in over the first [`FADE_FRAMES`] frames it ever processes, and keeps that count in its state |
//!
//! The fade plugin is the one with the state extension: its state is not a param but the
//! number of frames it has processed in its life (a tape counter), which `reset` keeps.
//! A restored plugin carries on where the saved one was, so a test sees in the audio
//! whether its state came back: a fresh one starts silent, a restored one at full gain.
//!
//! Params (ids in brackets): `Gain dB` [0] -60..24, default 0, applied at the exact frame of
//! its event with no smoothing so a host's output can be checked bit for bit;
//! `Polarity` [1] an enum (`normal`, `inverted`); `Emit NaN` [2] a stepped switch that makes
//! every output sample NaN, for the host's bad-output handling.

mod instance;
mod params;
mod state;

use std::ffi::{CStr, c_char, c_void};

use clap_sys::entry::clap_plugin_entry;
use clap_sys::factory::plugin_factory::{CLAP_PLUGIN_FACTORY_ID, clap_plugin_factory};
use clap_sys::host::clap_host;
use clap_sys::plugin::{clap_plugin, clap_plugin_descriptor};
use clap_sys::version::CLAP_VERSION;

/// The fixed latency of `org.lathe.test.latency`, in frames: a delay line the plugin
/// reports through the latency extension.
pub const LATENCY_FRAMES: u32 = 64;

/// How long `org.lathe.test.fade` takes to fade in, in frames of its life: its gain at
/// frame `n` of its life is `min(n / FADE_FRAMES, 1)`.
pub const FADE_FRAMES: u64 = 4800;

/// What sets one plugin of this file apart from the others.
pub(crate) struct Variant {
    pub id: &'static CStr,
    pub name: &'static CStr,
    pub channels: u32,
    pub latency_frames: u32,
    /// `process` crashes the process (a segmentation fault), for the host's crash report.
    pub crashes: bool,
    /// Fades in over its first [`FADE_FRAMES`] and offers the state extension.
    pub fades: bool,
}

pub(crate) const VARIANTS: [Variant; 5] = [
    Variant {
        id: c"org.lathe.test.gain",
        name: c"lathe test gain",
        channels: 2,
        latency_frames: 0,
        crashes: false,
        fades: false,
    },
    Variant {
        id: c"org.lathe.test.latency",
        name: c"lathe test gain with latency",
        channels: 2,
        latency_frames: LATENCY_FRAMES,
        crashes: false,
        fades: false,
    },
    Variant {
        id: c"org.lathe.test.mono",
        name: c"lathe test mono gain",
        channels: 1,
        latency_frames: 0,
        crashes: false,
        fades: false,
    },
    Variant {
        id: c"org.lathe.test.crash",
        name: c"lathe test crash",
        channels: 2,
        latency_frames: 0,
        crashes: true,
        fades: false,
    },
    Variant {
        id: c"org.lathe.test.fade",
        name: c"lathe test fade-in with state",
        channels: 2,
        latency_frames: 0,
        crashes: false,
        fades: true,
    },
];

/// A null-terminated list of C strings that may live in a `static`.
struct Features([*const c_char; 3]);
// SAFETY: the pointers are to string literals, immutable for the life of the program.
unsafe impl Sync for Features {}

static FEATURES: Features = Features([
    c"audio-effect".as_ptr(),
    c"utility".as_ptr(),
    std::ptr::null(),
]);

const fn descriptor(variant: &Variant) -> clap_plugin_descriptor {
    clap_plugin_descriptor {
        clap_version: CLAP_VERSION,
        id: variant.id.as_ptr(),
        name: variant.name.as_ptr(),
        vendor: c"lathe".as_ptr(),
        url: c"".as_ptr(),
        manual_url: c"".as_ptr(),
        support_url: c"".as_ptr(),
        version: c"0.1.0".as_ptr(),
        description: c"A gain for testing CLAP hosts.".as_ptr(),
        features: FEATURES.0.as_ptr(),
    }
}

static DESCRIPTORS: [clap_plugin_descriptor; 5] = [
    descriptor(&VARIANTS[0]),
    descriptor(&VARIANTS[1]),
    descriptor(&VARIANTS[2]),
    descriptor(&VARIANTS[3]),
    descriptor(&VARIANTS[4]),
];

/// The symbol every CLAP host looks up.
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static clap_entry: clap_plugin_entry = clap_plugin_entry {
    clap_version: CLAP_VERSION,
    init: Some(entry_init),
    deinit: Some(entry_deinit),
    get_factory: Some(entry_get_factory),
};

unsafe extern "C" fn entry_init(_plugin_path: *const c_char) -> bool {
    true
}

unsafe extern "C" fn entry_deinit() {}

static FACTORY: clap_plugin_factory = clap_plugin_factory {
    get_plugin_count: Some(factory_count),
    get_plugin_descriptor: Some(factory_descriptor),
    create_plugin: Some(factory_create),
};

unsafe extern "C" fn entry_get_factory(factory_id: *const c_char) -> *const c_void {
    if factory_id.is_null() {
        return std::ptr::null();
    }
    // SAFETY: the host passes a null-terminated string.
    if unsafe { CStr::from_ptr(factory_id) } == CLAP_PLUGIN_FACTORY_ID {
        (&raw const FACTORY).cast()
    } else {
        std::ptr::null()
    }
}

unsafe extern "C" fn factory_count(_factory: *const clap_plugin_factory) -> u32 {
    DESCRIPTORS.len() as u32
}

unsafe extern "C" fn factory_descriptor(
    _factory: *const clap_plugin_factory,
    index: u32,
) -> *const clap_plugin_descriptor {
    DESCRIPTORS
        .get(index as usize)
        .map_or(std::ptr::null(), |d| d as *const _)
}

unsafe extern "C" fn factory_create(
    _factory: *const clap_plugin_factory,
    host: *const clap_host,
    plugin_id: *const c_char,
) -> *const clap_plugin {
    if plugin_id.is_null() {
        return std::ptr::null();
    }
    // SAFETY: the host passes a null-terminated string.
    let wanted = unsafe { CStr::from_ptr(plugin_id) };
    match VARIANTS.iter().position(|v| v.id == wanted) {
        Some(index) => instance::create(host, &VARIANTS[index], &DESCRIPTORS[index]),
        None => std::ptr::null(),
    }
}
