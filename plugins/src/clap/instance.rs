//! One CLAP plugin instance and the calls lathe makes on it, in CLAP's order: create and
//! `init`, load a saved state, read the audio-ports and params extensions, `activate`,
//! read the latency extension; then, on the audio thread, `start_processing`, `process`, `reset`; and on
//! drop `stop_processing`, `deactivate`, then `destroy` once the state task lets go.
//!
//! Everything before `process` runs off the audio thread at build. The instance is
//! dropped off the audio thread too, once its graph has been swapped out, so
//! `stop_processing` runs there: the plugin is no longer processed by then.

use std::ffi::{CString, c_char};
use std::sync::Arc;

use clap_sys::ext::audio_ports::{
    CLAP_AUDIO_PORT_IS_MAIN, CLAP_EXT_AUDIO_PORTS, clap_audio_port_info, clap_plugin_audio_ports,
};
use clap_sys::ext::latency::{CLAP_EXT_LATENCY, clap_plugin_latency};
use clap_sys::ext::params::{
    CLAP_EXT_PARAMS, CLAP_PARAM_IS_ENUM, CLAP_PARAM_IS_HIDDEN, CLAP_PARAM_IS_READONLY,
    CLAP_PARAM_IS_STEPPED, clap_param_info, clap_plugin_params,
};
use clap_sys::id::clap_id;
use clap_sys::plugin::clap_plugin;
use clap_sys::process::{CLAP_PROCESS_ERROR, clap_process, clap_process_status};

use super::error::ClapError;
use super::host::HOST;
use super::library::{ClapLibrary, c_array_text};

/// Most values a stepped param may have to be offered as named choices.
pub const MAX_CHOICES: usize = 64;

/// One audio port (a CLAP port is a bus of `channels` channels).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginPort {
    pub name: String,
    pub channels: usize,
    pub main: bool,
}

/// One param as the plugin describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginParam {
    pub id: clap_id,
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub stepped: bool,
    /// The text of each value from `min` up, for an enum with at most [`MAX_CHOICES`]
    /// values whose texts the plugin gives.
    pub value_names: Vec<String>,
}

/// A created plugin and the file its code lives in. Shared by the node's processor
/// (which drives the audio side) and its state task (which saves state from the control
/// thread); the last one dropped destroys the plugin, off the audio thread either way.
pub(crate) struct PluginRef {
    pub(crate) plugin: *const clap_plugin,
    /// Dropped after the plugin is destroyed (see `Drop`): the plugin's code lives there.
    _library: Arc<ClapLibrary>,
}

// SAFETY: CLAP lets any one thread at a time drive an instance's audio side, and the
// main-thread calls lathe shares across threads (state save) are ones CLAP requires
// plugins to take while audio runs.
unsafe impl Send for PluginRef {}
unsafe impl Sync for PluginRef {}

impl PluginRef {
    pub(crate) fn raw(&self) -> &clap_plugin {
        // SAFETY: valid from create until destroy in Drop.
        unsafe { &*self.plugin }
    }

    /// The plugin's extension `id` as `T`, or `None` when it has none.
    pub(crate) fn extension<T>(&self, id: &std::ffi::CStr) -> Option<&T> {
        let get = self.raw().get_extension?;
        // SAFETY: CLAP returns either null or a pointer to the extension's struct, valid
        // for the life of the instance.
        unsafe { get(self.plugin, id.as_ptr()).cast::<T>().as_ref() }
    }
}

impl Drop for PluginRef {
    fn drop(&mut self) {
        // SAFETY: the last holder; the instance was deactivated by `ClapInstance`'s drop.
        if let Some(destroy) = self.raw().destroy {
            unsafe { destroy(self.plugin) };
        }
    }
}

pub struct ClapInstance {
    plugin: *const clap_plugin,
    shared: Arc<PluginRef>,
    pub plugin_id: String,
    activated: bool,
    processing: bool,
}

// SAFETY: CLAP lets any one thread at a time drive an instance; which thread is the audio
// thread may change between processing sessions. lathe moves the instance to the audio
// thread inside its processor and never calls its audio side from two threads at once.
unsafe impl Send for ClapInstance {}

impl ClapInstance {
    /// Creates and initialises plugin `plugin_id` of `library`.
    pub fn create(library: Arc<ClapLibrary>, plugin_id: &str) -> Result<Self, ClapError> {
        let descriptors = library.descriptors();
        if !descriptors.iter().any(|d| d.id == plugin_id) {
            let ids: Vec<&str> = descriptors.iter().map(|d| d.id.as_str()).collect();
            let hint = lathe_engine::problem::suggest(plugin_id, ids.iter().copied())
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(ClapError::UnknownId {
                path: library.path.clone(),
                id: plugin_id.to_string(),
                hint,
                available: if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                },
            });
        }
        let failed = |step| ClapError::Instance {
            id: plugin_id.to_string(),
            step,
        };
        let c_id = CString::new(plugin_id).map_err(|_| failed("be created"))?;
        let factory = library.factory();
        let create = factory.create_plugin.ok_or_else(|| failed("be created"))?;
        // SAFETY: the factory's function with the factory, a host that lives forever and
        // an id the factory lists.
        let plugin = unsafe { create(factory, &HOST, c_id.as_ptr()) };
        if plugin.is_null() {
            return Err(failed("be created"));
        }
        let instance = ClapInstance {
            plugin,
            shared: Arc::new(PluginRef {
                plugin,
                _library: library,
            }),
            plugin_id: plugin_id.to_string(),
            activated: false,
            processing: false,
        };
        // SAFETY: a freshly created plugin is initialised once, before anything else.
        let init = instance.raw().init.ok_or_else(|| failed("initialise"))?;
        if !unsafe { init(instance.plugin) } {
            // Drop destroys it, as CLAP asks after a failed init.
            return Err(failed("initialise"));
        }
        Ok(instance)
    }

    fn raw(&self) -> &clap_plugin {
        self.shared.raw()
    }

    /// The plugin's extension `id` as `T`, or `None` when it has none.
    fn extension<T>(&self, id: &std::ffi::CStr) -> Option<&T> {
        self.shared.extension(id)
    }

    /// The plugin, shared with whoever saves its state (see [`PluginRef`]).
    pub(crate) fn shared(&self) -> Arc<PluginRef> {
        Arc::clone(&self.shared)
    }

    /// The audio ports on one side, in the plugin's order; none without the extension.
    pub fn audio_ports(&self, is_input: bool) -> Vec<PluginPort> {
        let Some(ext) = self.extension::<clap_plugin_audio_ports>(CLAP_EXT_AUDIO_PORTS) else {
            return Vec::new();
        };
        let (Some(count), Some(get)) = (ext.count, ext.get) else {
            return Vec::new();
        };
        // SAFETY: the extension's functions with its plugin, on the main thread.
        let n = unsafe { count(self.plugin, is_input) };
        (0..n)
            .filter_map(|i| {
                // SAFETY: zeroed is a valid clap_audio_port_info (integers, arrays, a
                // nullable pointer), filled by the plugin.
                let mut info: clap_audio_port_info = unsafe { std::mem::zeroed() };
                unsafe { get(self.plugin, i, is_input, &mut info) }.then(|| PluginPort {
                    name: c_array_text(&info.name),
                    channels: info.channel_count as usize,
                    main: info.flags & CLAP_AUDIO_PORT_IS_MAIN != 0,
                })
            })
            .collect()
    }

    /// The params a user may set: every param that is neither hidden nor read-only.
    pub fn params(&self) -> Vec<PluginParam> {
        let Some(ext) = self.extension::<clap_plugin_params>(CLAP_EXT_PARAMS) else {
            return Vec::new();
        };
        let (Some(count), Some(get_info)) = (ext.count, ext.get_info) else {
            return Vec::new();
        };
        // SAFETY: the extension's functions with its plugin, on the main thread.
        let n = unsafe { count(self.plugin) };
        let mut out = Vec::new();
        for i in 0..n {
            // SAFETY: zeroed is a valid clap_param_info (integers, arrays, a cookie).
            let mut info: clap_param_info = unsafe { std::mem::zeroed() };
            if !unsafe { get_info(self.plugin, i, &mut info) } {
                continue;
            }
            if info.flags & (CLAP_PARAM_IS_HIDDEN | CLAP_PARAM_IS_READONLY) != 0 {
                continue;
            }
            let stepped = info.flags & CLAP_PARAM_IS_STEPPED != 0;
            let is_enum = info.flags & CLAP_PARAM_IS_ENUM != 0;
            let value_names = if stepped && is_enum {
                self.value_names(ext, &info).unwrap_or_default()
            } else {
                Vec::new()
            };
            out.push(PluginParam {
                id: info.id,
                name: c_array_text(&info.name),
                min: info.min_value,
                max: info.max_value,
                default: info.default_value,
                stepped,
                value_names,
            });
        }
        out
    }

    /// The text of each whole value of a stepped param, when the plugin names them all.
    fn value_names(&self, ext: &clap_plugin_params, info: &clap_param_info) -> Option<Vec<String>> {
        let to_text = ext.value_to_text?;
        let (first, last) = (info.min_value.round(), info.max_value.round());
        let count = (last - first + 1.0).max(0.0) as usize;
        if count == 0 || count > MAX_CHOICES {
            return None;
        }
        (0..count)
            .map(|k| {
                let mut buf = [0 as c_char; 256];
                // SAFETY: a buffer of the size passed.
                let ok = unsafe {
                    to_text(
                        self.plugin,
                        info.id,
                        first + k as f64,
                        buf.as_mut_ptr(),
                        buf.len() as u32,
                    )
                };
                let text = c_array_text(&buf);
                (ok && !text.is_empty()).then_some(text)
            })
            .collect()
    }

    /// The current value of param `id`, as the plugin reports it.
    pub fn param_value(&self, id: clap_id) -> Option<f64> {
        let ext = self.extension::<clap_plugin_params>(CLAP_EXT_PARAMS)?;
        let get = ext.get_value?;
        let mut value = 0.0;
        // SAFETY: the extension's function with its plugin, on the main thread.
        unsafe { get(self.plugin, id, &mut value) }.then_some(value)
    }

    /// Activates for blocks of 1 ..= `max_frames` frames at `sample_rate_hz`.
    pub fn activate(&mut self, sample_rate_hz: f64, max_frames: u32) -> Result<(), ClapError> {
        let activate = self.raw().activate.ok_or_else(|| ClapError::Instance {
            id: self.plugin_id.clone(),
            step: "activate",
        })?;
        // SAFETY: initialised and not active; on the main thread.
        if !unsafe { activate(self.plugin, sample_rate_hz, 1, max_frames) } {
            return Err(ClapError::Instance {
                id: self.plugin_id.clone(),
                step: "activate",
            });
        }
        self.activated = true;
        Ok(())
    }

    /// The latency the plugin reports, in frames (0 without the extension). CLAP lets a
    /// host ask only while the plugin is active.
    pub fn latency_frames(&self) -> u32 {
        self.extension::<clap_plugin_latency>(CLAP_EXT_LATENCY)
            .and_then(|ext| ext.get)
            // SAFETY: the extension's function with its active plugin.
            .map_or(0, |get| unsafe { get(self.plugin) })
    }

    /// Does the plugin offer the latency extension?
    pub fn has_latency_extension(&self) -> bool {
        self.extension::<clap_plugin_latency>(CLAP_EXT_LATENCY)
            .is_some_and(|ext| ext.get.is_some())
    }

    /// Runs one block. Audio thread: starts processing on the first call.
    #[inline]
    pub fn process(&mut self, process: &clap_process) -> clap_process_status {
        if !self.processing {
            match self.raw().start_processing {
                // SAFETY: active, on the audio thread.
                Some(start) if unsafe { start(self.plugin) } => self.processing = true,
                _ => return CLAP_PROCESS_ERROR,
            }
        }
        match self.raw().process {
            // SAFETY: active and processing; `process` is valid for the call.
            Some(run) => unsafe { run(self.plugin, process) },
            None => CLAP_PROCESS_ERROR,
        }
    }

    /// Clears the plugin's signal state (delay lines, envelopes). Audio thread.
    pub fn reset(&mut self) {
        if self.activated
            && let Some(reset) = self.raw().reset
        {
            // SAFETY: active.
            unsafe { reset(self.plugin) };
        }
    }
}

impl Drop for ClapInstance {
    fn drop(&mut self) {
        let raw = *self.raw();
        // SAFETY: CLAP's order of teardown; each call made only in the state it needs.
        // `PluginRef` destroys the plugin once its state task is gone too.
        unsafe {
            if self.processing
                && let Some(stop) = raw.stop_processing
            {
                stop(self.plugin);
            }
            if self.activated
                && let Some(deactivate) = raw.deactivate
            {
                deactivate(self.plugin);
            }
        }
    }
}
