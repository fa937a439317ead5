//! Lines on standard output that survive their reader going away.
//!
//! `println!` panics when stdout is a pipe whose reader has exited
//! (`elector observe P | head -3`). Commands print through [`line`]
//! instead: once the reader is gone, later lines are dropped and
//! [`reader_gone`] says so, so a streaming command can stop, while a
//! command that holds a position keeps it and still resigns as usual.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to standard output.
pub fn line(text: &str) {
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            READER_GONE.store(true, Ordering::Relaxed);
        } else {
            tracing::warn!(%error, "could not write to standard output");
        }
    }
}

/// Whether standard output's reader has gone away.
pub fn reader_gone() -> bool {
    READER_GONE.load(Ordering::Relaxed)
}
