#![no_main]
//! See `pop3_bridge::fuzzing::frame_header` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_bridge::fuzzing::frame_header(data));
