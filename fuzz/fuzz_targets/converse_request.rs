#![no_main]
//! See fuzz_props::converse::check.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_props::converse::check(data));
