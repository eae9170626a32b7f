//! Containment of panics inside the third-party decoders.
//!
//! symphonia's demuxers and decoders are written to return errors, but a crafted file can
//! still reach a panic inside them (found by fuzzing: an ADTS header that makes the AAC
//! reader index out of bounds). A bad input file must never take lathe down, so every call
//! into symphonia runs through [`contained`], which turns such a panic into an error the
//! caller reports as a corrupt file. The panic hook installed by the binary
//! ([`install_quiet_decoder_panics`]) keeps those contained panics off stderr; any other
//! panic is printed as before.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// Inside a [`contained`] call on this thread.
    static IN_DECODER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `call` (a call into a decoder), returning the panic's message as an error if it
/// panics. The decoder's state is unknown after a panic: the caller must not use it again.
pub fn contained<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    let outer = IN_DECODER.with(|flag| flag.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(call));
    IN_DECODER.with(|flag| flag.set(outer));
    result.map_err(|payload| format!("the decoder failed on this data ({})", message(&*payload)))
}

/// Installs a panic hook that stays quiet for panics [`contained`] turns into errors and
/// prints every other panic with the hook that was there before. Call once, early.
pub fn install_quiet_decoder_panics() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !IN_DECODER.with(Cell::get) {
            previous(info);
        }
    }));
}

fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_becomes_an_error_and_the_flag_is_restored() {
        let err = contained(|| -> u32 { panic!("index out of bounds") }).unwrap_err();
        assert!(err.contains("index out of bounds"), "{err}");
        assert!(!IN_DECODER.with(Cell::get));
        assert_eq!(contained(|| 7), Ok(7));
    }
}
