#![no_main]
//! Fuzz target `resp_reply`: see `elector_statestore::fuzzing::resp_reply`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| elector_statestore::fuzzing::resp_reply(data));
