#![no_main]
//! See `pop3_proto::fuzzing::listings` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_proto::fuzzing::listings(data));
