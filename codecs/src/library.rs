//! Finds the codec libraries (libopus, LAME) at run time.
//!
//! lathe links no C library at build time, so the workspace builds on a machine with only
//! the Rust toolchain; a codec whose library is missing is reported when it is first
//! asked for, naming the library and the package that provides it. Each library is
//! opened once per process and never closed (its functions are copied out as plain
//! pointers, which stay valid for the life of the process).

use std::sync::OnceLock;

use libloading::Library;

use crate::CodecError;

/// A shared library opened once for the life of the process.
pub struct SharedLibrary {
    library: Library,
}

impl SharedLibrary {
    /// Copies the function pointer `name` (NUL-terminated) out of the library.
    ///
    /// # Safety
    /// `T` must be the function's true C signature.
    pub unsafe fn symbol<T: Copy>(&self, name: &'static [u8]) -> Result<T, CodecError> {
        // SAFETY: the caller vouches for the signature; the library outlives the pointer
        // because it lives in a process-wide static.
        unsafe { self.library.get::<T>(name) }
            .map(|s| *s)
            .map_err(|e| CodecError::Symbol {
                symbol: String::from_utf8_lossy(name.strip_suffix(b"\0").unwrap_or(name))
                    .into_owned(),
                reason: e.to_string(),
            })
    }
}

/// How to find one library: its sonames, most likely first, and what provides it.
pub struct LibrarySpec {
    pub what: &'static str,
    pub sonames: &'static [&'static str],
    pub package: &'static str,
}

/// Opens the first of `spec.sonames` that loads, once; later calls get the same result.
pub fn open(
    cell: &'static OnceLock<Result<SharedLibrary, String>>,
    spec: &LibrarySpec,
) -> Result<&'static SharedLibrary, CodecError> {
    open_first(cell, spec, None)
}

/// Like [`open`], but when the environment variable `env_var` is set, the file it names is
/// the only one tried: for a library built outside the system's search path, and so that a
/// wrong path is an error rather than a quiet fallback to another copy.
pub fn open_with_env(
    cell: &'static OnceLock<Result<SharedLibrary, String>>,
    spec: &LibrarySpec,
    env_var: &str,
) -> Result<&'static SharedLibrary, CodecError> {
    let path = std::env::var_os(env_var).filter(|p| !p.is_empty());
    open_first(cell, spec, path.as_deref()).map_err(|e| match (e, &path) {
        (
            CodecError::LibraryMissing {
                what,
                sonames,
                package,
                reason,
            },
            Some(p),
        ) => CodecError::LibraryMissing {
            what,
            sonames: format!(
                "{} (named by {env_var}; unset it to search {sonames})",
                p.to_string_lossy()
            ),
            package,
            reason,
        },
        (other, _) => other,
    })
}

fn open_first(
    cell: &'static OnceLock<Result<SharedLibrary, String>>,
    spec: &LibrarySpec,
    path: Option<&std::ffi::OsStr>,
) -> Result<&'static SharedLibrary, CodecError> {
    cell.get_or_init(|| {
        if let Some(path) = path {
            // SAFETY: as below; the user named this file as the codec library.
            return unsafe { Library::new(path) }
                .map(|library| SharedLibrary { library })
                .map_err(|e| e.to_string());
        }
        let mut reasons = Vec::new();
        for name in spec.sonames {
            // SAFETY: these are codec libraries whose initialisers have no preconditions.
            match unsafe { Library::new(name) } {
                Ok(library) => return Ok(SharedLibrary { library }),
                Err(e) => reasons.push(e.to_string()),
            }
        }
        Err(reasons.join("; "))
    })
    .as_ref()
    .map_err(|reason| CodecError::LibraryMissing {
        what: spec.what,
        sonames: spec.sonames.join(", "),
        package: spec.package,
        reason: reason.clone(),
    })
}
