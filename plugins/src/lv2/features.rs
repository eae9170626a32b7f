//! The LV2 host features lathe gives every plugin: URID mapping, the options interface
//! with the sample rate and block lengths, and the promise of bounded block lengths.
//!
//! The feature structs are laid out as the LV2 headers define them; one [`HostFeatures`]
//! lives (boxed, never moved) as long as the plugin instance it was passed to.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::{Mutex, OnceLock};

use super::lilv::Lv2Feature;

pub const URID_MAP: &str = "http://lv2plug.in/ns/ext/urid#map";
pub const URID_UNMAP: &str = "http://lv2plug.in/ns/ext/urid#unmap";
pub const OPTIONS: &str = "http://lv2plug.in/ns/ext/options#options";
pub const BOUNDED_BLOCK: &str = "http://lv2plug.in/ns/ext/buf-size#boundedBlockLength";
const HARD_RT: &str = "http://lv2plug.in/ns/lv2core#hardRTCapable";
const IS_LIVE: &str = "http://lv2plug.in/ns/lv2core#isLive";
const IN_PLACE_BROKEN: &str = "http://lv2plug.in/ns/lv2core#inPlaceBroken";

const MIN_BLOCK: &str = "http://lv2plug.in/ns/ext/buf-size#minBlockLength";
const MAX_BLOCK: &str = "http://lv2plug.in/ns/ext/buf-size#maxBlockLength";
const NOMINAL_BLOCK: &str = "http://lv2plug.in/ns/ext/buf-size#nominalBlockLength";
const SEQUENCE_SIZE: &str = "http://lv2plug.in/ns/ext/buf-size#sequenceSize";
const SAMPLE_RATE: &str = "http://lv2plug.in/ns/ext/parameters#sampleRate";
pub const ATOM_INT: &str = "http://lv2plug.in/ns/ext/atom#Int";
pub const ATOM_FLOAT: &str = "http://lv2plug.in/ns/ext/atom#Float";
pub const ATOM_SEQUENCE: &str = "http://lv2plug.in/ns/ext/atom#Sequence";
pub const ATOM_CHUNK: &str = "http://lv2plug.in/ns/ext/atom#Chunk";

/// Features a plugin may require and still load: the ones given here, plus properties
/// some plugins list as features although they ask nothing of the host (lathe never runs
/// a plugin in place, and gives it its own thread's real-time guarantees).
pub const SUPPORTED: &[&str] = &[
    URID_MAP,
    URID_UNMAP,
    OPTIONS,
    BOUNDED_BLOCK,
    HARD_RT,
    IS_LIVE,
    IN_PLACE_BROKEN,
];

/// The process-wide URI <-> URID table. Plugins map at instantiation; a URID keeps its
/// number for the life of the process, so instances of one plugin agree.
struct UridTable {
    ids: HashMap<CString, u32>,
    /// Index = URID - 1; the heap text of a `CString` never moves, so `unmap` can
    /// return pointers into it.
    uris: Vec<CString>,
}

fn table() -> &'static Mutex<UridTable> {
    static TABLE: OnceLock<Mutex<UridTable>> = OnceLock::new();
    TABLE.get_or_init(|| {
        Mutex::new(UridTable {
            ids: HashMap::new(),
            uris: Vec::new(),
        })
    })
}

/// The URID of `uri` (mapping it if new).
pub fn urid(uri: &str) -> u32 {
    let c = CString::new(uri).unwrap_or_default();
    map_cstr(&c)
}

fn map_cstr(uri: &CStr) -> u32 {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&id) = t.ids.get(uri) {
        return id;
    }
    t.uris.push(uri.to_owned());
    let id = t.uris.len() as u32;
    t.ids.insert(uri.to_owned(), id);
    id
}

unsafe extern "C" fn map_uri(_handle: *mut c_void, uri: *const c_char) -> u32 {
    if uri.is_null() {
        return 0;
    }
    // SAFETY: LV2 passes a NUL-terminated URI.
    map_cstr(unsafe { CStr::from_ptr(uri) })
}

/// The URI of `urid`, if lathe mapped it.
pub fn uri_of(urid: u32) -> Option<String> {
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    (urid as usize)
        .checked_sub(1)
        .and_then(|i| t.uris.get(i))
        .map(|uri| uri.to_string_lossy().into_owned())
}

unsafe extern "C" fn unmap_urid(_handle: *mut c_void, urid: u32) -> *const c_char {
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    match (urid as usize).checked_sub(1).and_then(|i| t.uris.get(i)) {
        Some(uri) => uri.as_ptr(),
        None => std::ptr::null(),
    }
}

#[repr(C)]
struct UridMap {
    handle: *mut c_void,
    map: unsafe extern "C" fn(*mut c_void, *const c_char) -> u32,
}

#[repr(C)]
struct UridUnmap {
    handle: *mut c_void,
    unmap: unsafe extern "C" fn(*mut c_void, u32) -> *const c_char,
}

/// `LV2_Options_Option`.
#[repr(C)]
struct OptionsOption {
    context: u32,
    subject: u32,
    key: u32,
    size: u32,
    type_: u32,
    value: *const c_void,
}

/// Everything a plugin instance's feature pointers point at. Built boxed, so the
/// addresses handed to the plugin stay valid until it is freed.
pub struct HostFeatures {
    map: UridMap,
    unmap: UridUnmap,
    min_block: i32,
    max_block: i32,
    nominal_block: i32,
    sequence_size: i32,
    sample_rate: f32,
    options: [OptionsOption; 6],
    uris: [CString; 4],
    features: [Lv2Feature; 4],
    pointers: [*const Lv2Feature; 5],
}

// SAFETY: the raw pointers point into the same boxed struct (or at static functions) and
// are only read by the plugin instance that owns this box.
unsafe impl Send for HostFeatures {}

impl HostFeatures {
    pub fn new(sample_rate_hz: f64, max_block_frames: usize, sequence_bytes: usize) -> Box<Self> {
        let empty = || OptionsOption {
            context: 0,
            subject: 0,
            key: 0,
            size: 0,
            type_: 0,
            value: std::ptr::null(),
        };
        let cs = |s: &str| CString::new(s).expect("feature URIs hold no NUL");
        let mut f = Box::new(Self {
            map: UridMap {
                handle: std::ptr::null_mut(),
                map: map_uri,
            },
            unmap: UridUnmap {
                handle: std::ptr::null_mut(),
                unmap: unmap_urid,
            },
            min_block: 1,
            max_block: max_block_frames as i32,
            nominal_block: max_block_frames as i32,
            sequence_size: sequence_bytes as i32,
            sample_rate: sample_rate_hz as f32,
            options: [empty(), empty(), empty(), empty(), empty(), empty()],
            uris: [cs(URID_MAP), cs(URID_UNMAP), cs(OPTIONS), cs(BOUNDED_BLOCK)],
            features: std::array::from_fn(|_| Lv2Feature {
                uri: std::ptr::null(),
                data: std::ptr::null_mut(),
            }),
            pointers: [std::ptr::null(); 5],
        });
        let (int, float) = (urid(ATOM_INT), urid(ATOM_FLOAT));
        let option = |key: &str, type_: u32, value: *const c_void| OptionsOption {
            context: 0, // LV2_OPTIONS_INSTANCE
            subject: 0,
            key: urid(key),
            size: 4,
            type_,
            value,
        };
        f.options[0] = option(MIN_BLOCK, int, (&raw const f.min_block).cast());
        f.options[1] = option(MAX_BLOCK, int, (&raw const f.max_block).cast());
        f.options[2] = option(NOMINAL_BLOCK, int, (&raw const f.nominal_block).cast());
        f.options[3] = option(SEQUENCE_SIZE, int, (&raw const f.sequence_size).cast());
        f.options[4] = option(SAMPLE_RATE, float, (&raw const f.sample_rate).cast());
        let data: [*mut c_void; 4] = [
            (&raw mut f.map).cast(),
            (&raw mut f.unmap).cast(),
            (&raw mut f.options).cast(),
            std::ptr::null_mut(),
        ];
        for (i, data) in data.into_iter().enumerate() {
            f.features[i] = Lv2Feature {
                uri: f.uris[i].as_ptr(),
                data,
            };
            f.pointers[i] = &raw const f.features[i];
        }
        f
    }

    /// The NULL-terminated feature array for `lilv_plugin_instantiate`.
    pub fn as_ptr(&self) -> *const *const Lv2Feature {
        self.pointers.as_ptr()
    }
}
