#![no_main]
//! See `pop3_mime::fuzzing::parse_message` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_mime::fuzzing::parse_message(data));
