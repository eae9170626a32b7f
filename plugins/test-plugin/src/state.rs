//! The state extension of the fade plugin: its life so far in frames, as 16 bytes
//! (`MAGIC`, then the count as a little-endian u64). A blob of another length or without
//! the magic is refused, as a plugin refuses another plugin's state.

use std::ffi::c_void;

use clap_sys::ext::state::clap_plugin_state;
use clap_sys::plugin::clap_plugin;
use clap_sys::stream::{clap_istream, clap_ostream};

use crate::instance::lifetime;

/// Marks a state blob as this plugin's, version 1.
const MAGIC: &[u8; 8] = b"LTFADE01";
const STATE_LEN: usize = 16;

pub static STATE: clap_plugin_state = clap_plugin_state {
    save: Some(save),
    load: Some(load),
};

unsafe extern "C" fn save(plugin: *const clap_plugin, stream: *const clap_ostream) -> bool {
    let Some(stream) = (unsafe { stream.as_ref() }) else {
        return false;
    };
    let Some(write) = stream.write else {
        return false;
    };
    let frames = unsafe { lifetime(plugin) }.load(std::sync::atomic::Ordering::Relaxed);
    let mut blob = [0u8; STATE_LEN];
    blob[..8].copy_from_slice(MAGIC);
    blob[8..].copy_from_slice(&frames.to_le_bytes());
    // CLAP lets a stream take fewer bytes than offered: write until all are taken.
    let mut done = 0;
    while done < STATE_LEN {
        let rest = &blob[done..];
        let n = unsafe { write(stream, rest.as_ptr().cast::<c_void>(), rest.len() as u64) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

unsafe extern "C" fn load(plugin: *const clap_plugin, stream: *const clap_istream) -> bool {
    let Some(stream) = (unsafe { stream.as_ref() }) else {
        return false;
    };
    let Some(read) = stream.read else {
        return false;
    };
    // One byte more than a state has, to see a blob that is too long.
    let mut blob = [0u8; STATE_LEN + 1];
    let mut got = 0;
    while got < blob.len() {
        let rest = &mut blob[got..];
        let n = unsafe {
            read(
                stream,
                rest.as_mut_ptr().cast::<c_void>(),
                rest.len() as u64,
            )
        };
        if n < 0 {
            return false;
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    if got != STATE_LEN || &blob[..8] != MAGIC {
        return false;
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&blob[8..STATE_LEN]);
    unsafe { lifetime(plugin) }.store(
        u64::from_le_bytes(count),
        std::sync::atomic::Ordering::Relaxed,
    );
    true
}
