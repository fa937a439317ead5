//! What a module may reach beyond its replica: nothing, unless a flag
//! grants it.

use std::path::PathBuf;

use wasmtime_wasi::{FsPerms, WasiCtx};

/// Capabilities granted to every module instance.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Inherit the host's stdout and stderr.
    pub stdio: bool,
    /// Inherit the host's environment variables.
    pub env: bool,
    /// Directories to preopen: (host path, path the module sees).
    pub dirs: Vec<(PathBuf, String)>,
    /// Allow TCP and UDP sockets and name lookups.
    pub network: bool,
}

impl Grants {
    /// A WASI context with exactly these grants (clocks and randomness are
    /// always there; they reach nothing).
    pub fn wasi_ctx(&self) -> WasiCtx {
        let mut builder = WasiCtx::builder();
        builder
            .monotonic_clock(crate::clock::SharedMonotonicClock)
            .allow_tcp(self.network)
            .allow_udp(self.network)
            .allow_ip_name_lookup(self.network);
        if self.network {
            builder.inherit_network();
        }
        if self.stdio {
            builder.inherit_stdout().inherit_stderr();
        }
        if self.env {
            builder.inherit_env();
        }
        for (host, guest) in &self.dirs {
            if let Err(error) = builder.preopened_dir(host, guest, FsPerms::ReadWrite) {
                // `check` found it there at start; it went away since.
                tracing::warn!(%error, host = %host.display(), "could not grant the directory");
            }
        }
        builder.build()
    }

    /// Refuses a grant that cannot be given: a module granted a directory
    /// that is not there would run without what it was promised.
    pub fn check(&self) -> anyhow::Result<()> {
        for (host, _) in &self.dirs {
            if !host.is_dir() {
                anyhow::bail!("--allow-dir {}: no such directory", host.display());
            }
        }
        Ok(())
    }
}
