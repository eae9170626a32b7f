//! The `clap_host` lathe hands to every CLAP plugin it creates.
//!
//! lathe offers no host extensions: a plugin that asks for one gets null, which CLAP
//! requires plugins to handle. Requests to restart, process or call back are not acted
//! on: a node is rebuilt from its graph file, and it is always processed.

use std::ffi::{c_char, c_void};

use clap_sys::host::clap_host;
use clap_sys::version::CLAP_VERSION;

const VERSION: &[u8] = concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// The one host record every instance gets: it holds no per-instance state.
pub(crate) static HOST: clap_host = clap_host {
    clap_version: CLAP_VERSION,
    host_data: std::ptr::null_mut(),
    name: c"lathe".as_ptr(),
    vendor: c"lathe".as_ptr(),
    url: c"".as_ptr(),
    version: VERSION.as_ptr() as *const c_char,
    get_extension: Some(get_extension),
    request_restart: Some(ignore_request),
    request_process: Some(ignore_request),
    request_callback: Some(ignore_request),
};

unsafe extern "C" fn get_extension(_host: *const clap_host, _id: *const c_char) -> *const c_void {
    std::ptr::null()
}

unsafe extern "C" fn ignore_request(_host: *const clap_host) {}
