//! Ctrl-C and SIGTERM for the commands that hold or serve something
//! (`campaign`, `observe`, `run`, `statestore`). The first asks the command
//! to stop cleanly: resign, stop its child, close. A second one means now:
//! someone who presses Ctrl-C twice does not want to wait for a store that
//! does not answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// The two stages of stopping, as the signals arrive.
pub struct Shutdown {
    requested: CancellationToken,
    forced: CancellationToken,
    /// The number of the last signal received.
    signal: Arc<AtomicI32>,
}

impl Shutdown {
    /// Takes over SIGINT and SIGTERM: from now on they no longer end the
    /// process by themselves.
    pub fn listen() -> std::io::Result<Shutdown> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let shutdown = Shutdown {
            requested: CancellationToken::new(),
            forced: CancellationToken::new(),
            signal: Arc::new(AtomicI32::new(0)),
        };
        let stages = [shutdown.requested.clone(), shutdown.forced.clone()];
        let last = shutdown.signal.clone();
        tokio::spawn(async move {
            for stage in stages {
                let number = tokio::select! {
                    _ = interrupt.recv() => libc::SIGINT,
                    _ = terminate.recv() => libc::SIGTERM,
                };
                last.store(number, Ordering::SeqCst);
                stage.cancel();
            }
        });
        Ok(shutdown)
    }

    /// Fires at the first signal: stop cleanly.
    pub fn requested(&self) -> CancellationToken {
        self.requested.clone()
    }

    /// Waits for the second signal; returns the exit code it calls for.
    pub async fn forced(&self) -> i32 {
        self.forced.cancelled().await;
        crate::exit::forced(self.signal.load(Ordering::SeqCst))
    }
}
