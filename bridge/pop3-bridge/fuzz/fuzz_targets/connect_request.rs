#![no_main]
//! See `pop3_bridge::fuzzing::connect_request` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_bridge::fuzzing::connect_request(data));
