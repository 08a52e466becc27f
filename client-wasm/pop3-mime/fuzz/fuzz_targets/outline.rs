#![no_main]
//! See `pop3_mime::fuzzing::outline` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_mime::fuzzing::outline(data));
