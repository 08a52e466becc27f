#![no_main]
//! See `pop3_proto::fuzzing::unstuff_roundtrip_raw` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_proto::fuzzing::unstuff_roundtrip_raw(data));
