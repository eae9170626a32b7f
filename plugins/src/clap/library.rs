//! A loaded `.clap` file: the shared library, its entry initialised once, its plugin
//! factory and the descriptors it offers.
//!
//! CLAP asks hosts to call the entry's `init` once per file and `deinit` when done, so
//! loaded files are shared: every node (and discovery) that opens the same file gets the
//! same [`ClapLibrary`], and the last one dropped deinitialises and unloads it.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use clap_sys::entry::clap_plugin_entry;
use clap_sys::factory::plugin_factory::{CLAP_PLUGIN_FACTORY_ID, clap_plugin_factory};

use clap_sys::version::clap_version_is_compatible;

use super::error::ClapError;

/// Files loaded now, by canonical path.
static LOADED: Mutex<Option<HashMap<PathBuf, Weak<ClapLibrary>>>> = Mutex::new(None);

/// One plugin a file offers.
#[derive(Debug, Clone)]
pub struct Descriptor {
    pub id: String,
    pub name: String,
}

pub struct ClapLibrary {
    pub path: PathBuf,
    factory: *const clap_plugin_factory,
    entry: *const clap_plugin_entry,
    /// Kept last: unloaded after `deinit` ran (see `Drop`).
    _library: libloading::Library,
}

// SAFETY: the entry and factory are immutable tables the plugin file exports; CLAP lets
// hosts call the factory from any thread once the entry is initialised.
unsafe impl Send for ClapLibrary {}
unsafe impl Sync for ClapLibrary {}

impl ClapLibrary {
    /// Opens `path`, or shares the copy already open.
    pub fn open(path: &Path) -> Result<Arc<ClapLibrary>, ClapError> {
        if !path.is_file() {
            return Err(ClapError::Missing {
                path: path.to_path_buf(),
            });
        }
        let canonical = path.canonicalize().map_err(|e| ClapError::Load {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = loaded.get_or_insert_with(HashMap::new);
        if let Some(lib) = loaded.get(&canonical).and_then(Weak::upgrade) {
            return Ok(lib);
        }
        let lib = Arc::new(Self::load(&canonical)?);
        loaded.retain(|_, weak| weak.strong_count() > 0);
        loaded.insert(canonical, Arc::downgrade(&lib));
        Ok(lib)
    }

    fn load(path: &Path) -> Result<ClapLibrary, ClapError> {
        let load_error = |message: String| ClapError::Load {
            path: path.to_path_buf(),
            message,
        };
        // SAFETY: loading a plugin runs its initialisers; that is what hosting it means.
        let library =
            unsafe { libloading::Library::new(path) }.map_err(|e| load_error(e.to_string()))?;
        // SAFETY: `clap_entry` is a `clap_plugin_entry` in every CLAP file; the symbol's
        // address is the address of that struct.
        let entry: *const clap_plugin_entry = unsafe {
            *library
                .get::<*const clap_plugin_entry>(b"clap_entry\0")
                .map_err(|_| ClapError::NoEntry {
                    path: path.to_path_buf(),
                })?
        };
        // SAFETY: checked non-null; the struct lives as long as the library.
        let entry_ref = unsafe { entry.as_ref() }.ok_or_else(|| ClapError::NoEntry {
            path: path.to_path_buf(),
        })?;
        let version = entry_ref.clap_version;
        if !clap_version_is_compatible(version) {
            return Err(ClapError::Version {
                path: path.to_path_buf(),
                version: format!("{}.{}.{}", version.major, version.minor, version.revision),
            });
        }
        let (Some(init), Some(get_factory)) = (entry_ref.init, entry_ref.get_factory) else {
            return Err(ClapError::NoEntry {
                path: path.to_path_buf(),
            });
        };
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|e| load_error(e.to_string()))?;
        // SAFETY: called once for this load of the file, as CLAP asks.
        if !unsafe { init(c_path.as_ptr()) } {
            return Err(ClapError::EntryInit {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: the entry is initialised.
        let factory =
            unsafe { get_factory(CLAP_PLUGIN_FACTORY_ID.as_ptr()) }.cast::<clap_plugin_factory>();
        let lib = ClapLibrary {
            path: path.to_path_buf(),
            factory,
            entry,
            _library: library,
        };
        if factory.is_null() {
            // Dropping `lib` deinitialises the entry.
            return Err(ClapError::NoFactory {
                path: path.to_path_buf(),
            });
        }
        Ok(lib)
    }

    pub(crate) fn factory(&self) -> &clap_plugin_factory {
        // SAFETY: checked non-null at load; lives as long as the library.
        unsafe { &*self.factory }
    }

    /// Every plugin the file offers, in factory order.
    pub fn descriptors(&self) -> Vec<Descriptor> {
        let factory = self.factory();
        let (Some(count), Some(get)) = (factory.get_plugin_count, factory.get_plugin_descriptor)
        else {
            return Vec::new();
        };
        // SAFETY: the factory's own functions, called with the factory.
        let n = unsafe { count(factory) };
        (0..n)
            .filter_map(|i| {
                let raw = unsafe { get(factory, i) };
                // SAFETY: a non-null descriptor is valid for the life of the library.
                let desc = unsafe { raw.as_ref() }?;
                Some(Descriptor {
                    id: c_text(desc.id)?,
                    name: c_text(desc.name).unwrap_or_default(),
                })
            })
            .collect()
    }
}

impl Drop for ClapLibrary {
    fn drop(&mut self) {
        // SAFETY: the entry was initialised in `load`; no instance outlives the library
        // (each holds an `Arc` to it).
        if let Some(deinit) = unsafe { (*self.entry).deinit } {
            unsafe { deinit() };
        }
    }
}

/// A C string from a plugin, or `None` for null.
pub(crate) fn c_text(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: CLAP strings are null-terminated.
    Some(
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Text from a fixed-size C buffer in a plugin's struct (a param or port name).
pub(crate) fn c_array_text(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
