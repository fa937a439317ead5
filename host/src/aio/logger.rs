//! AIO's `logger` into `tracing`, tagged with the operator instance.

use super::instance::AioHostState;
use super::wit_logger::{Host, Level};

impl Host for AioHostState {
    async fn log(
        &mut self,
        level: Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        let instance = self.instance;
        match level {
            Level::Trace => tracing::trace!(instance, context, "{message}"),
            Level::Debug => tracing::debug!(instance, context, "{message}"),
            Level::Info => tracing::info!(instance, context, "{message}"),
            Level::Warn => tracing::warn!(instance, context, "{message}"),
            // tracing has no level above error.
            Level::Error | Level::Critical => tracing::error!(instance, context, "{message}"),
        }
        Ok(())
    }
}
