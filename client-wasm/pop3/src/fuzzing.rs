//! Entry points shared by the `cargo fuzz` targets and by the tests that replay their seed
//! corpora, so a crash found by the fuzzer is a failing ordinary test once its input is saved.
#![doc(hidden)]
