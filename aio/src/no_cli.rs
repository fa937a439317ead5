//! Keeps Rust's standard library from importing WASI's command-line
//! interfaces (`wasi:cli/*`, `wasi:io/streams`) into an operator.
//!
//! AIO's host promises an operator its own interfaces; whether it also
//! gives `wasi:cli` is not published. The standard library reaches for it
//! in one place here: the panic message (`RUST_BACKTRACE` from the
//! environment, the text written to stderr), through the C library's
//! `getenv` and `write`/`writev`. These definitions take the place of the
//! C library's (the linker takes an archive member only for a symbol still
//! undefined): no environment, and writes to the standard streams are
//! dropped. A panic still aborts the call (the operator traps, and AIO's
//! host reports the failed `process`); only its message is lost.
//!
//! Nothing else in an operator may write to stdout or stderr this way: a
//! `println!` goes nowhere. Operators log through AIO's `logger`.

use core::ffi::{c_char, c_int, c_void};

#[repr(C)]
pub struct IoVec {
    base: *const c_void,
    len: usize,
}

#[unsafe(no_mangle)]
pub extern "C" fn getenv(_name: *const c_char) -> *mut c_char {
    core::ptr::null_mut()
}

#[unsafe(no_mangle)]
pub extern "C" fn write(_fd: c_int, _buf: *const c_void, count: usize) -> isize {
    isize::try_from(count).unwrap_or(isize::MAX)
}

/// # Safety
/// `iov` points to `count` valid `IoVec`s (the C library's contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(_fd: c_int, iov: *const IoVec, count: c_int) -> isize {
    let vectors = match usize::try_from(count) {
        Ok(count) if !iov.is_null() => unsafe { core::slice::from_raw_parts(iov, count) },
        _ => &[],
    };
    let total: usize = vectors.iter().map(|v| v.len).sum();
    isize::try_from(total).unwrap_or(isize::MAX)
}
