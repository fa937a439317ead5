//! The `types` interface's `buffer`: bytes the host holds, which the
//! operator reads when it wants them.

use wasmtime::component::Resource;

use super::instance::AioHostState;
use super::types;

/// A host-held byte buffer.
pub struct Buffer(pub Vec<u8>);

impl types::HostBuffer for AioHostState {
    async fn read(&mut self, buffer: Resource<Buffer>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get(&buffer)?.0.clone())
    }

    async fn drop(&mut self, buffer: Resource<Buffer>) -> wasmtime::Result<()> {
        self.table.delete(buffer)?;
        Ok(())
    }
}

impl types::Host for AioHostState {}
