//! The CLAP state extension (`clap.state`) from the host side: a plugin's state is the
//! byte stream it writes on `save` and reads back on `load`; in a graph file it is the
//! node config's `state` field, as base64 text.
//!
//! Loading happens at build, after `init` and before `activate`, off the audio thread.
//! Saving happens on the control thread of a live host while the plugin may be
//! processing: CLAP makes `save` a main-thread call that a plugin must accept while
//! audio runs.

use std::ffi::c_void;
use std::path::Path;

use clap_sys::ext::state::{CLAP_EXT_STATE, clap_plugin_state};
use clap_sys::stream::{clap_istream, clap_ostream};

use super::instance::PluginRef;
use crate::base64;

/// Most bytes lathe takes from one plugin's state: a graph file is text a person reads,
/// and a plugin that writes more is stuck in a loop or storing audio.
pub const MAX_STATE_BYTES: usize = 16 << 20;

/// Why a state could not be saved or loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("plugin `{id}` has no state extension, so it has no state to restore; remove `state`")]
    NoExtension { id: String },
    #[error("`state` is not base64 text: {0}")]
    NotBase64(#[from] base64::Base64Error),
    #[error(
        "plugin `{id}` refused this state (a corrupt blob, or the state of another plugin or version); remove `state` or save it again"
    )]
    Refused { id: String },
    #[error("plugin `{id}` failed to save its state")]
    SaveFailed { id: String },
    #[error("plugin `{id}` wrote more than {MAX_STATE_BYTES} bytes of state")]
    TooLarge { id: String },
}

fn extension(plugin: &PluginRef) -> Option<&clap_plugin_state> {
    plugin
        .extension::<clap_plugin_state>(CLAP_EXT_STATE)
        .filter(|ext| ext.save.is_some() && ext.load.is_some())
}

/// Does the plugin offer the state extension?
pub(crate) fn has_state(plugin: &PluginRef) -> bool {
    extension(plugin).is_some()
}

/// Reads the plugin's state.
pub(crate) fn save(plugin: &PluginRef, id: &str) -> Result<Vec<u8>, StateError> {
    let ext = extension(plugin).ok_or_else(|| StateError::NoExtension { id: id.into() })?;
    let mut sink = Sink {
        bytes: Vec::new(),
        overflow: false,
    };
    let stream = clap_ostream {
        ctx: (&raw mut sink).cast::<c_void>(),
        write: Some(sink_write),
    };
    let save = ext
        .save
        .ok_or_else(|| StateError::NoExtension { id: id.into() })?;
    // SAFETY: the plugin with a stream valid for the call.
    let ok = unsafe { save(plugin.plugin, &stream) };
    if sink.overflow {
        return Err(StateError::TooLarge { id: id.into() });
    }
    if !ok {
        return Err(StateError::SaveFailed { id: id.into() });
    }
    Ok(sink.bytes)
}

/// Hands `bytes` to the plugin as its state. Before `activate`.
pub(crate) fn load(plugin: &PluginRef, id: &str, bytes: &[u8]) -> Result<(), StateError> {
    let ext = extension(plugin).ok_or_else(|| StateError::NoExtension { id: id.into() })?;
    let load = ext
        .load
        .ok_or_else(|| StateError::NoExtension { id: id.into() })?;
    let mut source = Source { bytes, pos: 0 };
    let stream = clap_istream {
        ctx: (&raw mut source).cast::<c_void>(),
        read: Some(source_read),
    };
    // SAFETY: the plugin, initialised and not active, with a stream valid for the call.
    if unsafe { load(plugin.plugin, &stream) } {
        Ok(())
    } else {
        Err(StateError::Refused { id: id.into() })
    }
}

struct Sink {
    bytes: Vec<u8>,
    overflow: bool,
}

unsafe extern "C" fn sink_write(
    stream: *const clap_ostream,
    buffer: *const c_void,
    size: u64,
) -> i64 {
    // SAFETY: `ctx` is the `Sink` of `save`, alive for the call; the plugin passes a
    // buffer of `size` bytes.
    let sink = unsafe { &mut *((*stream).ctx as *mut Sink) };
    let Ok(size) = usize::try_from(size) else {
        return -1;
    };
    if buffer.is_null() || sink.bytes.len().saturating_add(size) > MAX_STATE_BYTES {
        sink.overflow = !buffer.is_null();
        return -1;
    }
    let data = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), size) };
    sink.bytes.extend_from_slice(data);
    size as i64
}

struct Source<'a> {
    bytes: &'a [u8],
    pos: usize,
}

unsafe extern "C" fn source_read(
    stream: *const clap_istream,
    buffer: *mut c_void,
    size: u64,
) -> i64 {
    // SAFETY: `ctx` is the `Source` of `load`, alive for the call; the plugin passes a
    // buffer of `size` bytes.
    let source = unsafe { &mut *((*stream).ctx as *mut Source<'_>) };
    if buffer.is_null() {
        return -1;
    }
    let rest = &source.bytes[source.pos..];
    let n = rest.len().min(usize::try_from(size).unwrap_or(usize::MAX));
    unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), buffer.cast::<u8>(), n) };
    source.pos += n;
    n as i64
}

/// Characters of base64 per line of a saved state: a state that changes a little
/// changes a few lines of the graph file's diff, not one long line.
const LINE_CHARS: usize = 76;

/// The config text of a `clap` node: `path` and `id` as the graph file has them, and
/// `state` as base64: one string, or a list of lines for a long state.
pub(crate) fn config_text(path: &Path, id: &str, state: &[u8]) -> String {
    format!(
        "(path: {:?}, id: {:?}, state: {})",
        path.to_string_lossy(),
        id,
        crate::state_text::base64_ron(&base64::encode(state), LINE_CHARS)
    )
}
