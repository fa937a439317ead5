//! The `elector` command line: argument types ([`cli`]), one module per
//! command ([`commands`], [`demo`], [`run`], [`bench`]), how it prints
//! ([`output`]), logs ([`logging`]), exits ([`exit`]) and stops
//! ([`shutdown`]), the replicas of `elector run` ([`replica`]) and the
//! metrics and health they report ([`ops`]).
//!
//! It is a crate of its own, on top of the `elector-host` library (and
//! `elector-ops`, `elector-service`), so that the library stays free of
//! clap, of process concerns (signals, exit codes, stdout formats) and of
//! the CLI's monitors: an embedder depends on `elector-host` alone. The
//! binary is `src/main.rs`; this library exists so its integration tests
//! (`tests/`) can reach the same types.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod dataflow;
pub mod demo;
pub mod exit;
pub mod logging;
pub mod ops;
pub mod output;
pub mod replica;
pub mod run;
pub mod shutdown;
