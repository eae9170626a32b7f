//! One running plugin instance: created (and freed) off the audio thread, its entry
//! points called directly through the plugin's descriptor.

use std::ffi::c_void;

use super::features::HostFeatures;
use super::lilv::{LilvInstance, LilvPlugin, Lv2Descriptor};
use super::world::{Lv2Error, World, world};

/// An instantiated plugin, shared by the node's processor (the audio side) and its state
/// task (which saves state from the control thread); the last one dropped frees it,
/// off the audio thread either way.
pub(crate) struct Shared {
    raw: *mut LilvInstance,
    pub(crate) descriptor: *const Lv2Descriptor,
    pub(crate) handle: *mut c_void,
    /// What the plugin's feature pointers point at: lives as long as the instance.
    pub(crate) features: Box<HostFeatures>,
}

// SAFETY: an LV2 instance may be moved between threads; lathe runs its audio side from
// one thread at a time, and the one call it makes from another thread meanwhile (state
// `save`) is one LV2 lets run beside `run`.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Drop for Shared {
    fn drop(&mut self) {
        // lilv closes the plugin's library through its world, so freeing takes the world.
        if let Ok(world) = world() {
            // SAFETY: the instance came from this world, was deactivated by `Instance`,
            // and is freed once.
            unsafe { (world.api.lilv_instance_free)(self.raw) };
        }
    }
}

pub struct Instance {
    shared: std::sync::Arc<Shared>,
    descriptor: *const Lv2Descriptor,
    handle: *mut c_void,
    active: bool,
}

// SAFETY: as for `Shared`; the audio side is driven from one thread at a time.
unsafe impl Send for Instance {}

/// Bytes of each atom sequence buffer (event ports): plenty for the few events an
/// offline host sends (none) and a plugin's notifications.
pub const SEQUENCE_BYTES: usize = 8192;

impl Instance {
    /// Instantiates `plugin` for this rate and block bound. The caller holds the world.
    pub fn new(
        world: &World,
        plugin: *const LilvPlugin,
        uri: &str,
        sample_rate_hz: f64,
        max_block_frames: usize,
    ) -> Result<Self, Lv2Error> {
        let features = HostFeatures::new(sample_rate_hz, max_block_frames, SEQUENCE_BYTES);
        // SAFETY: a plugin of this world; the feature array outlives the instance.
        let raw = unsafe {
            (world.api.lilv_plugin_instantiate)(plugin, sample_rate_hz, features.as_ptr())
        };
        if raw.is_null() {
            return Err(Lv2Error::Instantiate {
                uri: uri.to_string(),
                sample_rate_hz,
            });
        }
        // SAFETY: lilv returned a valid instance struct.
        let (descriptor, handle) = unsafe { ((*raw).descriptor, (*raw).handle) };
        Ok(Self {
            shared: std::sync::Arc::new(Shared {
                raw,
                descriptor,
                handle,
                features,
            }),
            descriptor,
            handle,
            active: false,
        })
    }

    /// The instance, shared with whoever saves its state (see [`Shared`]).
    pub(crate) fn shared(&self) -> std::sync::Arc<Shared> {
        std::sync::Arc::clone(&self.shared)
    }

    /// Connects port `index` to `data` (a buffer that outlives every later `run`).
    ///
    /// # Safety
    /// `data` points at a buffer of the port's type, large enough for the port, valid
    /// until it is connected elsewhere or the instance is dropped.
    #[inline]
    pub unsafe fn connect(&mut self, index: u32, data: *mut c_void) {
        // SAFETY: guaranteed by the caller; the descriptor is the plugin's.
        unsafe { ((*self.descriptor).connect_port)(self.handle, index, data) }
    }

    /// Activates the plugin: resets its internal state. Off the audio thread.
    pub fn activate(&mut self) {
        if self.active {
            self.deactivate();
        }
        // SAFETY: the plugin's own entry point on its own handle.
        if let Some(activate) = unsafe { (*self.descriptor).activate } {
            unsafe { activate(self.handle) };
        }
        self.active = true;
    }

    pub fn deactivate(&mut self) {
        if !self.active {
            return;
        }
        // SAFETY: as in `activate`.
        if let Some(deactivate) = unsafe { (*self.descriptor).deactivate } {
            unsafe { deactivate(self.handle) };
        }
        self.active = false;
    }

    /// Runs the plugin for `frames` frames on the connected buffers.
    ///
    /// # Safety
    /// Every port the plugin reads or writes is connected to a buffer of at least
    /// `frames` frames (audio) or of its type (control, atom).
    #[inline]
    pub unsafe fn run(&mut self, frames: u32) {
        // SAFETY: guaranteed by the caller.
        unsafe { ((*self.descriptor).run)(self.handle, frames) }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // `Shared` frees the instance once its state task is gone too.
        self.deactivate();
    }
}
