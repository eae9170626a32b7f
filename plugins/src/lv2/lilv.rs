//! liblilv, loaded at run time: the few functions of its C API the `lv2` kind calls.
//!
//! lathe must build and pass its tests on a machine with only the Rust toolchain, so it
//! never links liblilv (the `lilv-sys` crate and the crates built on it do). The library
//! is opened with `libloading` the first time a graph names an LV2 plugin; where it is
//! missing, that graph fails to build with a message naming the library, and nothing
//! else changes.

use std::ffi::{CStr, CString, c_char, c_void};

use libloading::Library;

/// The soname opened unless [`LILV_LIBRARY_ENV`] names another file.
pub const LILV_SONAME: &str = "liblilv-0.so.0";
/// An environment variable naming the liblilv file to open instead of [`LILV_SONAME`].
pub const LILV_LIBRARY_ENV: &str = "LATHE_LILV_LIBRARY";

/// Opaque lilv objects: only ever handled through pointers.
#[repr(C)]
pub struct LilvWorld {
    _private: [u8; 0],
}
#[repr(C)]
pub struct LilvNode {
    _private: [u8; 0],
}
#[repr(C)]
pub struct LilvPlugin {
    _private: [u8; 0],
}
#[repr(C)]
pub struct LilvPort {
    _private: [u8; 0],
}
#[repr(C)]
pub struct LilvColl {
    _private: [u8; 0],
}
#[repr(C)]
pub struct LilvIter {
    _private: [u8; 0],
}
#[repr(C)]
pub struct LilvScalePoint {
    _private: [u8; 0],
}

/// `LV2_Feature`: a feature URI and its data, as the LV2 core header lays it out.
#[repr(C)]
pub struct Lv2Feature {
    pub uri: *const c_char,
    pub data: *mut c_void,
}

/// `LV2_Descriptor`: the plugin's entry points.
#[repr(C)]
pub struct Lv2Descriptor {
    pub uri: *const c_char,
    pub instantiate: *const c_void,
    pub connect_port: unsafe extern "C" fn(*mut c_void, u32, *mut c_void),
    pub activate: Option<unsafe extern "C" fn(*mut c_void)>,
    pub run: unsafe extern "C" fn(*mut c_void, u32),
    pub deactivate: Option<unsafe extern "C" fn(*mut c_void)>,
    pub cleanup: unsafe extern "C" fn(*mut c_void),
    pub extension_data: Option<unsafe extern "C" fn(*const c_char) -> *const c_void>,
}

/// `LilvInstance`: lilv's header defines it as this struct and its accessors as inline
/// functions, so they are not in the library and lathe reads the struct itself.
#[repr(C)]
pub struct LilvInstance {
    pub descriptor: *const Lv2Descriptor,
    pub handle: *mut c_void,
    pub pimpl: *mut c_void,
}

macro_rules! lilv_api {
    ($( $name:ident : fn($($arg:ty),*) $(-> $ret:ty)? ;)+) => {
        /// The lilv functions lathe calls, resolved from the opened library.
        #[allow(non_snake_case)]
        pub struct Api {
            $( pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )+
            _library: Library,
        }

        impl Api {
            fn resolve(library: Library) -> Result<Self, String> {
                // SAFETY: each symbol is declared with the signature of lilv's header
                // (lilv 0.24); the library stays alive inside the returned `Api`.
                unsafe {
                    Ok(Self {
                        $( $name: *library
                            .get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                                concat!(stringify!($name), "\0").as_bytes())
                            .map_err(|e| format!("symbol `{}` missing: {e}", stringify!($name)))?, )+
                        _library: library,
                    })
                }
            }
        }
    };
}

lilv_api! {
    lilv_world_new: fn() -> *mut LilvWorld;
    lilv_world_load_all: fn(*mut LilvWorld);
    lilv_world_load_bundle: fn(*mut LilvWorld, *const LilvNode);
    lilv_world_get_all_plugins: fn(*const LilvWorld) -> *const LilvColl;
    lilv_new_uri: fn(*mut LilvWorld, *const c_char) -> *mut LilvNode;
    lilv_new_file_uri: fn(*mut LilvWorld, *const c_char, *const c_char) -> *mut LilvNode;
    lilv_node_free: fn(*mut LilvNode);
    lilv_node_as_uri: fn(*const LilvNode) -> *const c_char;
    lilv_node_as_string: fn(*const LilvNode) -> *const c_char;
    lilv_node_as_float: fn(*const LilvNode) -> f32;
    lilv_node_is_float: fn(*const LilvNode) -> bool;
    lilv_node_is_int: fn(*const LilvNode) -> bool;
    lilv_node_is_bool: fn(*const LilvNode) -> bool;
    lilv_node_as_bool: fn(*const LilvNode) -> bool;
    lilv_file_uri_parse: fn(*const c_char, *mut *mut c_char) -> *mut c_char;
    lilv_free: fn(*mut c_void);
    lilv_plugins_begin: fn(*const LilvColl) -> *mut LilvIter;
    lilv_plugins_is_end: fn(*const LilvColl, *mut LilvIter) -> bool;
    lilv_plugins_next: fn(*const LilvColl, *mut LilvIter) -> *mut LilvIter;
    lilv_plugins_get: fn(*const LilvColl, *mut LilvIter) -> *const LilvPlugin;
    lilv_plugins_get_by_uri: fn(*const LilvColl, *const LilvNode) -> *const LilvPlugin;
    lilv_nodes_begin: fn(*const LilvColl) -> *mut LilvIter;
    lilv_nodes_is_end: fn(*const LilvColl, *mut LilvIter) -> bool;
    lilv_nodes_next: fn(*const LilvColl, *mut LilvIter) -> *mut LilvIter;
    lilv_nodes_get: fn(*const LilvColl, *mut LilvIter) -> *const LilvNode;
    lilv_nodes_free: fn(*mut LilvColl);
    lilv_scale_points_begin: fn(*const LilvColl) -> *mut LilvIter;
    lilv_scale_points_is_end: fn(*const LilvColl, *mut LilvIter) -> bool;
    lilv_scale_points_next: fn(*const LilvColl, *mut LilvIter) -> *mut LilvIter;
    lilv_scale_points_get: fn(*const LilvColl, *mut LilvIter) -> *const LilvScalePoint;
    lilv_scale_points_free: fn(*mut LilvColl);
    lilv_scale_point_get_label: fn(*const LilvScalePoint) -> *const LilvNode;
    lilv_scale_point_get_value: fn(*const LilvScalePoint) -> *const LilvNode;
    lilv_plugin_get_uri: fn(*const LilvPlugin) -> *const LilvNode;
    lilv_plugin_get_bundle_uri: fn(*const LilvPlugin) -> *const LilvNode;
    lilv_plugin_get_name: fn(*const LilvPlugin) -> *mut LilvNode;
    lilv_plugin_get_num_ports: fn(*const LilvPlugin) -> u32;
    lilv_plugin_get_port_by_index: fn(*const LilvPlugin, u32) -> *const LilvPort;
    lilv_plugin_get_required_features: fn(*const LilvPlugin) -> *mut LilvColl;
    lilv_plugin_instantiate: fn(*const LilvPlugin, f64, *const *const Lv2Feature) -> *mut LilvInstance;
    lilv_instance_free: fn(*mut LilvInstance);
    lilv_port_is_a: fn(*const LilvPlugin, *const LilvPort, *const LilvNode) -> bool;
    lilv_port_has_property: fn(*const LilvPlugin, *const LilvPort, *const LilvNode) -> bool;
    lilv_port_get_symbol: fn(*const LilvPlugin, *const LilvPort) -> *const LilvNode;
    lilv_port_get_name: fn(*const LilvPlugin, *const LilvPort) -> *mut LilvNode;
    lilv_port_get_range: fn(*const LilvPlugin, *const LilvPort, *mut *mut LilvNode, *mut *mut LilvNode, *mut *mut LilvNode);
    lilv_port_get_scale_points: fn(*const LilvPlugin, *const LilvPort) -> *mut LilvColl;
    lilv_port_get_value: fn(*const LilvPlugin, *const LilvPort, *const LilvNode) -> *mut LilvColl;
}

impl Api {
    /// Opens liblilv ([`LILV_LIBRARY_ENV`] or [`LILV_SONAME`]) and resolves every function.
    pub fn open() -> Result<Self, String> {
        let name = std::env::var(LILV_LIBRARY_ENV).unwrap_or_else(|_| LILV_SONAME.to_string());
        // SAFETY: opening liblilv runs only its (trivial) initialisers.
        let library = unsafe { Library::new(&name) }.map_err(|e| {
            format!("cannot load `{name}` (Debian/Ubuntu: apt install liblilv-0-0): {e}")
        })?;
        Self::resolve(library)
    }

    /// A node's text (`lilv_node_as_string`), or "" for a null node.
    pub fn node_string(&self, node: *const LilvNode) -> String {
        if node.is_null() {
            return String::new();
        }
        // SAFETY: a non-null node from lilv; the string lives as long as the node.
        unsafe { cstr((self.lilv_node_as_string)(node)) }
    }

    /// A node's number (float, int or bool), `None` for a null or non-numeric node.
    pub fn node_number(&self, node: *const LilvNode) -> Option<f32> {
        if node.is_null() {
            return None;
        }
        // SAFETY: a non-null node from lilv.
        unsafe {
            if (self.lilv_node_is_float)(node) || (self.lilv_node_is_int)(node) {
                Some((self.lilv_node_as_float)(node))
            } else if (self.lilv_node_is_bool)(node) {
                Some(if (self.lilv_node_as_bool)(node) {
                    1.0
                } else {
                    0.0
                })
            } else {
                None
            }
        }
    }

    /// A new URI node (free it with `lilv_node_free`).
    pub fn uri(&self, world: *mut LilvWorld, uri: &str) -> *mut LilvNode {
        let c = CString::new(uri).unwrap_or_default();
        // SAFETY: `world` is live; lilv copies the string.
        unsafe { (self.lilv_new_uri)(world, c.as_ptr()) }
    }

    /// The local path of a `file://` URI node.
    pub fn node_path(&self, node: *const LilvNode) -> std::path::PathBuf {
        if node.is_null() {
            return std::path::PathBuf::new();
        }
        // SAFETY: a URI node; the parsed path is freed with lilv_free as documented.
        unsafe {
            let raw =
                (self.lilv_file_uri_parse)((self.lilv_node_as_uri)(node), std::ptr::null_mut());
            if raw.is_null() {
                return std::path::PathBuf::from(self.node_string(node));
            }
            let path = cstr(raw);
            (self.lilv_free)(raw.cast());
            std::path::PathBuf::from(path)
        }
    }
}

/// Copies a C string, or "" for null.
///
/// # Safety
/// `s` is null or a valid NUL-terminated string.
pub unsafe fn cstr(s: *const c_char) -> String {
    if s.is_null() {
        String::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
    }
}
