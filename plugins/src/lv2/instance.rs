//! One running plugin instance: created (and freed) off the audio thread, its entry
//! points called directly through the plugin's descriptor.

use std::ffi::c_void;

use super::features::HostFeatures;
use super::lilv::{LilvInstance, LilvPlugin, Lv2Descriptor};
use super::world::{Lv2Error, World, world};

pub struct Instance {
    raw: *mut LilvInstance,
    descriptor: *const Lv2Descriptor,
    handle: *mut c_void,
    active: bool,
    /// What the plugin's feature pointers point at: lives as long as the instance.
    _features: Box<HostFeatures>,
}

// SAFETY: an LV2 instance may be moved between threads; lathe calls it from one thread
// at a time (built on a control thread, run on the audio thread, freed off it).
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
            raw,
            descriptor,
            handle,
            active: false,
            _features: features,
        })
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
        self.deactivate();
        // lilv closes the plugin's library through its world, so freeing takes the world.
        if let Ok(world) = world() {
            // SAFETY: the instance came from this world and is freed once.
            unsafe { (world.api.lilv_instance_free)(self.raw) };
        }
    }
}
