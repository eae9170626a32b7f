//! The LV2 state extension (`state:interface`) from the host side. A plugin saves its
//! state as properties, each a key (a URID), a type (a URID) and a value (bytes of that
//! type), through the host's `store` callback, and reads them back through `retrieve`.
//!
//! In a graph file the state is the node config's `state` list, one property a line,
//! keys and types as URIs (URIDs are numbers of one process, not of a file), and values
//! as a person reads them: numbers for the atom number types, text for strings, paths
//! and URIs, base64 for any other type:
//!
//! ```ron
//! state: [
//!     (key: "http://example.org/plug#mode", type: "http://lv2plug.in/ns/ext/atom#Int", value: 2),
//! ]
//! ```
//!
//! Restoring happens at build, before activation (LV2's instantiation class). Saving
//! happens on the control thread of a live host while the plugin runs, which LV2 allows.

use std::ffi::{CString, c_void};

use serde::Deserialize;

use super::features::{uri_of, urid};
use super::instance::Shared;
use crate::base64;
use crate::state_text::{Base64Text, base64_ron};

pub const STATE_INTERFACE: &str = "http://lv2plug.in/ns/ext/state#interface";

const ATOM: &str = "http://lv2plug.in/ns/ext/atom#";

/// `LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE`: what lathe asks for and gives, since a
/// graph file is copied between machines.
const FLAGS_POD_PORTABLE: u32 = 1 | 2;
const STATUS_SUCCESS: u32 = 0;

/// Characters of base64 per line of an opaque value.
const LINE_CHARS: usize = 76;
/// Most bytes lathe takes from one plugin's state.
pub const MAX_STATE_BYTES: usize = 16 << 20;

type StoreFn = unsafe extern "C" fn(*mut c_void, u32, *const c_void, usize, u32, u32) -> u32;
type RetrieveFn =
    unsafe extern "C" fn(*mut c_void, u32, *mut usize, *mut u32, *mut u32) -> *const c_void;

/// `LV2_State_Interface`.
#[repr(C)]
struct StateInterface {
    save: Option<
        unsafe extern "C" fn(*mut c_void, StoreFn, *mut c_void, u32, *const *const c_void) -> u32,
    >,
    restore: Option<
        unsafe extern "C" fn(
            *mut c_void,
            RetrieveFn,
            *mut c_void,
            u32,
            *const *const c_void,
        ) -> u32,
    >,
}

/// One property of a saved state, as the graph file has it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateProperty {
    pub key: String,
    #[serde(rename = "type")]
    pub type_uri: String,
    pub value: StateValue,
}

/// A property's value: a number (atom Int, Long, Float, Double, Bool), text (String,
/// Path, URI, URID) or base64 (any other type: one string or a list of lines).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum StateValue {
    Number(f64),
    Text(Base64Text),
}

/// Why a state could not be saved or restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("plugin `{uri}` has no state interface, so it has no state to restore; remove `state`")]
    NoInterface { uri: String },
    #[error("state[{index}] (`{key}`): {problem}")]
    BadValue {
        index: usize,
        key: String,
        problem: String,
    },
    #[error(
        "plugin `{uri}` refused this state (status {status}: {}); remove `state` or save it again",
        status_text(*status)
    )]
    Refused { uri: String, status: u32 },
    #[error("plugin `{uri}` failed to save its state (status {status}: {})", status_text(*status))]
    SaveFailed { uri: String, status: u32 },
    #[error("plugin `{uri}` saved {problem}")]
    Unsaveable { uri: String, problem: String },
}

fn status_text(status: u32) -> &'static str {
    match status {
        1 => "unknown error",
        2 => "a value of the wrong type",
        3 => "unsupported flags",
        4 => "a feature lathe does not give",
        5 => "a property it needs is missing",
        6 => "out of space",
        _ => "an unknown status",
    }
}

fn interface(shared: &Shared) -> Option<&StateInterface> {
    // SAFETY: the plugin's descriptor; `extension_data` returns null or the interface,
    // valid for the life of the plugin's library.
    unsafe {
        let get = (*shared.descriptor).extension_data?;
        let uri = CString::new(STATE_INTERFACE).ok()?;
        get(uri.as_ptr()).cast::<StateInterface>().as_ref()
    }
    .filter(|i| i.save.is_some() && i.restore.is_some())
}

/// Does the plugin offer the state interface?
pub(crate) fn has_state(shared: &Shared) -> bool {
    interface(shared).is_some()
}

struct Stored {
    key: u32,
    type_urid: u32,
    bytes: Vec<u8>,
    flags: u32,
}

struct Sink {
    properties: Vec<Stored>,
    total_bytes: usize,
}

unsafe extern "C" fn store(
    handle: *mut c_void,
    key: u32,
    value: *const c_void,
    size: usize,
    type_urid: u32,
    flags: u32,
) -> u32 {
    // SAFETY: `handle` is the `Sink` of `save`, alive for the call.
    let sink = unsafe { &mut *handle.cast::<Sink>() };
    if value.is_null() && size > 0 {
        return 1;
    }
    if sink.total_bytes.saturating_add(size) > MAX_STATE_BYTES {
        return 6;
    }
    let bytes = if size == 0 {
        Vec::new()
    } else {
        // SAFETY: the plugin passes `size` bytes at `value`.
        unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) }.to_vec()
    };
    sink.total_bytes += size;
    match sink.properties.iter_mut().find(|p| p.key == key) {
        Some(p) => {
            *p = Stored {
                key,
                type_urid,
                bytes,
                flags,
            }
        }
        None => sink.properties.push(Stored {
            key,
            type_urid,
            bytes,
            flags,
        }),
    }
    STATUS_SUCCESS
}

/// Reads the plugin's state as the properties of a graph file.
pub(crate) fn save(shared: &Shared, uri: &str) -> Result<Vec<StateProperty>, StateError> {
    let no = || StateError::NoInterface { uri: uri.into() };
    let save = interface(shared).and_then(|i| i.save).ok_or_else(no)?;
    let mut sink = Sink {
        properties: Vec::new(),
        total_bytes: 0,
    };
    // SAFETY: the plugin's handle, a store function with its sink, alive for the call,
    // and the instance's own features.
    let status = unsafe {
        save(
            shared.handle,
            store,
            (&raw mut sink).cast(),
            FLAGS_POD_PORTABLE,
            shared.features.as_ptr().cast(),
        )
    };
    if status != STATUS_SUCCESS {
        return Err(StateError::SaveFailed {
            uri: uri.into(),
            status,
        });
    }
    sink.properties
        .iter()
        .map(|p| to_property(p, uri))
        .collect()
}

fn to_property(p: &Stored, uri: &str) -> Result<StateProperty, StateError> {
    let unsaveable = |problem: String| StateError::Unsaveable {
        uri: uri.into(),
        problem,
    };
    let key =
        uri_of(p.key).ok_or_else(|| unsaveable(format!("a key lathe never mapped ({})", p.key)))?;
    if p.flags & 1 == 0 {
        return Err(unsaveable(format!(
            "`{key}` as a value that is not plain data (no `isPOD` flag), which no file can hold"
        )));
    }
    let type_uri = uri_of(p.type_urid)
        .ok_or_else(|| unsaveable(format!("`{key}` with a type lathe never mapped")))?;
    let b = &p.bytes;
    let wrong = || unsaveable(format!("`{key}` as {type_uri} of {} bytes", b.len()));
    let number = |n: usize| -> Result<[u8; 8], StateError> {
        let mut out = [0u8; 8];
        if b.len() != n {
            return Err(wrong());
        }
        out[..n].copy_from_slice(b);
        Ok(out)
    };
    let local = type_uri.strip_prefix(ATOM).unwrap_or("");
    let value = match local {
        "Float" => {
            let w = number(4)?;
            StateValue::Number(f64::from(f32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        }
        "Double" => StateValue::Number(f64::from_ne_bytes(number(8)?)),
        "Int" | "Bool" => {
            let w = number(4)?;
            StateValue::Number(f64::from(i32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        }
        "Long" => StateValue::Number(i64::from_ne_bytes(number(8)?) as f64),
        "URID" => {
            let w = number(4)?;
            let id = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]);
            StateValue::Text(Base64Text::One(uri_of(id).ok_or_else(wrong)?))
        }
        "String" | "Path" | "URI" => {
            let text = b.strip_suffix(&[0]).unwrap_or(b);
            let text = std::str::from_utf8(text).map_err(|_| wrong())?;
            StateValue::Text(Base64Text::One(text.to_string()))
        }
        _ => StateValue::Text(Base64Text::One(base64::encode(b))),
    };
    Ok(StateProperty {
        key,
        type_uri,
        value,
    })
}

/// One property ready for the plugin: URIDs and bytes.
struct Retrievable {
    key: u32,
    type_urid: u32,
    bytes: Vec<u8>,
}

/// The bytes a property's value stands for, by its type.
fn to_bytes(index: usize, p: &StateProperty) -> Result<Vec<u8>, StateError> {
    let bad = |problem: String| StateError::BadValue {
        index,
        key: p.key.clone(),
        problem,
    };
    let local = p.type_uri.strip_prefix(ATOM).unwrap_or("");
    let number = || match &p.value {
        StateValue::Number(x) => Ok(*x),
        StateValue::Text(_) => Err(bad(format!("{} needs a number", p.type_uri))),
    };
    let text = || match &p.value {
        StateValue::Text(t) => Ok(t.joined()),
        StateValue::Number(x) => Err(bad(format!("{} needs text, not {x}", p.type_uri))),
    };
    let whole = |x: f64, min: f64, max: f64| {
        if x.fract() == 0.0 && (min..=max).contains(&x) {
            Ok(x)
        } else {
            Err(bad(format!(
                "{} needs a whole number in {min}..={max}, not {x}",
                p.type_uri
            )))
        }
    };
    Ok(match local {
        "Float" => (number()? as f32).to_ne_bytes().to_vec(),
        "Double" => number()?.to_ne_bytes().to_vec(),
        "Int" => (whole(number()?, f64::from(i32::MIN), f64::from(i32::MAX))? as i32)
            .to_ne_bytes()
            .to_vec(),
        "Bool" => (whole(number()?, 0.0, 1.0)? as i32).to_ne_bytes().to_vec(),
        "Long" => (whole(number()?, -9.0e15, 9.0e15)? as i64)
            .to_ne_bytes()
            .to_vec(),
        "URID" => urid(&text()?).to_ne_bytes().to_vec(),
        "String" | "Path" | "URI" => {
            let mut bytes = text()?.into_bytes();
            bytes.push(0);
            bytes
        }
        _ => base64::decode(&text()?).map_err(|e| bad(format!("not base64: {e}")))?,
    })
}

unsafe extern "C" fn retrieve(
    handle: *mut c_void,
    key: u32,
    size: *mut usize,
    type_urid: *mut u32,
    flags: *mut u32,
) -> *const c_void {
    // SAFETY: `handle` is the list of `restore`, alive for the call; the out-pointers
    // are the plugin's, null or valid.
    let list = unsafe { &*handle.cast::<Vec<Retrievable>>() };
    let Some(p) = list.iter().find(|p| p.key == key) else {
        return std::ptr::null();
    };
    unsafe {
        if let Some(size) = size.as_mut() {
            *size = p.bytes.len();
        }
        if let Some(t) = type_urid.as_mut() {
            *t = p.type_urid;
        }
        if let Some(f) = flags.as_mut() {
            *f = FLAGS_POD_PORTABLE;
        }
    }
    p.bytes.as_ptr().cast()
}

/// Checks every property of `state` (collecting no plugin call): a bad one names its
/// index and key.
pub(crate) fn encode(state: &[StateProperty]) -> Result<Vec<(u32, u32, Vec<u8>)>, StateError> {
    state
        .iter()
        .enumerate()
        .map(|(i, p)| Ok((urid(&p.key), urid(&p.type_uri), to_bytes(i, p)?)))
        .collect()
}

/// Hands `state` to the plugin. Before activation (LV2's instantiation class).
pub(crate) fn restore(
    shared: &Shared,
    uri: &str,
    state: &[StateProperty],
) -> Result<(), StateError> {
    let restore = interface(shared)
        .and_then(|i| i.restore)
        .ok_or_else(|| StateError::NoInterface { uri: uri.into() })?;
    let mut list: Vec<Retrievable> = encode(state)?
        .into_iter()
        .map(|(key, type_urid, bytes)| Retrievable {
            key,
            type_urid,
            bytes,
        })
        .collect();
    // SAFETY: the plugin's handle, not active, with a retrieve function over `list`,
    // alive for the call, and the instance's own features.
    let status = unsafe {
        restore(
            shared.handle,
            retrieve,
            (&raw mut list).cast(),
            FLAGS_POD_PORTABLE,
            shared.features.as_ptr().cast(),
        )
    };
    if status == STATUS_SUCCESS {
        Ok(())
    } else {
        Err(StateError::Refused {
            uri: uri.into(),
            status,
        })
    }
}

/// The state list as RON for a node's config, one property a line.
pub(crate) fn state_ron(state: &[StateProperty]) -> String {
    let mut out = String::from("[\n");
    for p in state {
        let value = match &p.value {
            StateValue::Number(x) => number_text(*x),
            StateValue::Text(t) => {
                let text = t.joined();
                if p.type_uri.starts_with(ATOM)
                    && !matches!(
                        &p.type_uri[ATOM.len()..],
                        "String" | "Path" | "URI" | "URID"
                    )
                {
                    base64_ron(&text, LINE_CHARS)
                } else {
                    ron_string(&text)
                }
            }
        };
        out.push_str(&format!(
            "        (key: {}, type: {}, value: {value}),\n",
            ron_string(&p.key),
            ron_string(&p.type_uri)
        ));
    }
    out.push_str("    ]");
    out
}

/// `x` so it reads back as the same f64.
fn number_text(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// `text` as a RON string: quotes, backslashes and control characters escaped.
fn ron_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
