//! The host side of a module's imports: its view of the election, its
//! fenced and prefixed slice of the store, and its log.

use super::ModuleState;
use super::elector::election::{fenced_store, leadership, log};
use crate::bindings::{
    DeleteOutcome, ElectionError, Hlc, Leader, SetCondition, SetOptions, StoreError,
};
use fenced_store::WriteError;

impl ModuleState {
    /// The store key for a module's key: always under the module's prefix,
    /// whatever the module writes (`../x` is just a name).
    fn key(&self, key: &str) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.replica.prefix.len() + key.len());
        full.extend_from_slice(self.replica.prefix.as_bytes());
        full.extend_from_slice(key.as_bytes());
        full
    }

    fn token(&self) -> Result<Hlc, WriteError> {
        self.replica
            .client
            .current_fencing_token()
            .ok_or(WriteError::NotLeader)
    }
}

fn write_error(error: StoreError) -> WriteError {
    match error {
        StoreError::FencingTokenLowerVersion | StoreError::FencingTokenRequired => {
            WriteError::FencingRefused
        }
        other => WriteError::Store(other),
    }
}

impl fenced_store::Host for ModuleState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, StoreError>> {
        self.budget.progress();
        let found = self.replica.store.get(&self.key(&key)).await;
        Ok(found.map(|value| value.map(|v| v.value)))
    }

    async fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), WriteError>> {
        self.budget.progress();
        let token = match self.token() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let options = SetOptions {
            condition: SetCondition::Unconditional,
            expiry_ms: None,
            fencing_token: Some(token),
        };
        let written = self
            .replica
            .store
            .set(&self.key(&key), &value, &options)
            .await;
        Ok(match written {
            Ok(response) if response.applied => Ok(()),
            Ok(_) => Err(WriteError::Store(StoreError::Protocol(
                "an unconditional SET did not apply".into(),
            ))),
            Err(error) => Err(write_error(error)),
        })
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, WriteError>> {
        self.budget.progress();
        let token = match self.token() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let deleted = self.replica.store.del(&self.key(&key), Some(&token)).await;
        Ok(deleted
            .map(|outcome| outcome == DeleteOutcome::Deleted)
            .map_err(write_error))
    }
}

impl leadership::Host for ModuleState {
    async fn replica_name(&mut self) -> wasmtime::Result<String> {
        self.budget.progress();
        Ok(self.replica.replica.clone())
    }

    async fn position(&mut self) -> wasmtime::Result<String> {
        self.budget.progress();
        Ok(self.replica.position.clone())
    }

    async fn is_leader(&mut self) -> wasmtime::Result<bool> {
        self.budget.progress();
        Ok(self.replica.client.is_leader())
    }

    async fn fencing_token(&mut self) -> wasmtime::Result<Option<Hlc>> {
        self.budget.progress();
        Ok(self.replica.client.current_fencing_token())
    }

    async fn current_leader(&mut self) -> wasmtime::Result<Result<Option<Leader>, ElectionError>> {
        self.budget.progress();
        Ok(match self.replica.client.current_leader().await {
            Ok(leader) => Ok(leader),
            Err(crate::client::ClientError::Election(error)) => Err(error),
            Err(crate::client::ClientError::SandboxFailed(reason)) => {
                Err(ElectionError::Store(StoreError::Protocol(reason)))
            }
        })
    }
}

impl log::Host for ModuleState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.budget.progress();
        let (module, replica) = (&self.replica.module, &self.replica.replica);
        match level {
            log::Level::Trace => tracing::trace!(%module, %replica, "{message}"),
            log::Level::Debug => tracing::debug!(%module, %replica, "{message}"),
            log::Level::Info => tracing::info!(%module, %replica, "{message}"),
            log::Level::Warn => tracing::warn!(%module, %replica, "{message}"),
            log::Level::Error => tracing::error!(%module, %replica, "{message}"),
        }
        Ok(())
    }
}
