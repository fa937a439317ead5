#![no_main]
//! Fuzz target `service`: see `elector_statestore::fuzzing::service`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| elector_statestore::fuzzing::service(data));
