#![no_main]
//! Fuzz target `hlc`: see `elector_statestore::fuzzing::hlc`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| elector_statestore::fuzzing::hlc(data));
