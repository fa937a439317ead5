#![no_main]
//! Fuzz target `resp_request`: see `elector_statestore::fuzzing::resp_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| elector_statestore::fuzzing::resp_request(data));
