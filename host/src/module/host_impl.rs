//! The host side of a module's imports: its view of the election, its
//! fenced and prefixed slice of the store, and its log.
//!
//! No host call resets the hook's CPU budget (see `ModuleInstance`); store
//! calls are paced by the module's request rate, writes are held to its
//! key quota, and log lines are paced, escaped and cut to length
//! (`limits.rs`).

use super::ModuleState;
use super::elector::election::{fenced_store, leadership, log};
use super::limits::sanitize_log_line;
use crate::bindings::{ElectionError, Hlc, Leader, StoreError};
use elector_statestore as ss;
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

    /// Waits for the module's next store request to be due.
    async fn pace_store_request(&mut self) {
        let wait = self.replica.pacing.lock().unwrap().store_requests.wait();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn token(&self) -> Result<ss::Hlc, WriteError> {
        let token = self.replica.client.current_fencing_token();
        token.as_ref().map(Into::into).ok_or(WriteError::NotLeader)
    }
}

fn write_error(error: ss::StoreError) -> WriteError {
    use ss::StoreErrorKind as K;
    match error {
        ss::StoreError::Refused(K::FencingTokenLowerVersion | K::FencingTokenRequired) => {
            WriteError::FencingRefused
        }
        other => WriteError::Store(other.into()),
    }
}

impl fenced_store::Host for ModuleState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, StoreError>> {
        self.pace_store_request().await;
        let found = self.replica.store.get(&self.key(&key)).await;
        Ok(found
            .map(|value| value.map(|v| v.value))
            .map_err(Into::into))
    }

    async fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), WriteError>> {
        self.pace_store_request().await;
        let token = match self.token() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let key = self.key(&key);
        let allowed = self.replica.quota.lock().unwrap().check(&key, value.len());
        if let Err(refusal) = allowed {
            tracing::debug!(module = %self.replica.module, %refusal, "module write refused");
            return Ok(Err(WriteError::Store(StoreError::QuotaExceeded)));
        }
        let options = ss::SetOptions {
            fencing_token: Some(token),
            ..ss::SetOptions::default()
        };
        let written = self.replica.store.set(&key, &value, &options).await;
        if matches!(&written, Ok(response) if response.applied) {
            self.replica
                .quota
                .lock()
                .unwrap()
                .written(&key, value.len());
        }
        Ok(match written {
            Ok(response) if response.applied => Ok(()),
            Ok(_) => Err(WriteError::Store(StoreError::Protocol(
                "an unconditional SET did not apply".into(),
            ))),
            Err(error) => Err(write_error(error)),
        })
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, WriteError>> {
        self.pace_store_request().await;
        let token = match self.token() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let key = self.key(&key);
        let deleted = self.replica.store.del(&key, Some(&token)).await;
        if deleted.is_ok() {
            self.replica.quota.lock().unwrap().deleted(&key);
        }
        Ok(deleted
            .map(|outcome| outcome == ss::DeleteOutcome::Deleted)
            .map_err(write_error))
    }
}

impl leadership::Host for ModuleState {
    async fn candidate_name(&mut self) -> wasmtime::Result<String> {
        Ok(self.replica.replica.clone())
    }

    async fn position(&mut self) -> wasmtime::Result<String> {
        Ok(self.replica.position.clone())
    }

    async fn is_leader(&mut self) -> wasmtime::Result<bool> {
        Ok(self.replica.client.is_leader())
    }

    async fn fencing_token(&mut self) -> wasmtime::Result<Option<Hlc>> {
        Ok(self.replica.client.current_fencing_token())
    }

    async fn current_leader(&mut self) -> wasmtime::Result<Result<Option<Leader>, ElectionError>> {
        self.pace_store_request().await;
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
        let dropped = {
            let mut pacing = self.replica.pacing.lock().unwrap();
            if !pacing.log_lines.try_take() {
                pacing.dropped_lines += 1;
                return Ok(());
            }
            std::mem::take(&mut pacing.dropped_lines)
        };
        let mut message = sanitize_log_line(&message, self.log_line_bytes);
        if dropped > 0 {
            message = format!("({dropped} lines dropped: over the log rate) {message}");
        }
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
