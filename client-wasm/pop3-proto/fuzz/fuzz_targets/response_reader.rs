#![no_main]
//! See `pop3_proto::fuzzing::response_reader_raw` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_proto::fuzzing::response_reader_raw(data));
