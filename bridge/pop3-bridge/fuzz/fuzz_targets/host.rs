#![no_main]
//! See `pop3_bridge::fuzzing::host` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_bridge::fuzzing::host(data));
