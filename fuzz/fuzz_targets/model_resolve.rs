#![no_main]
//! See fuzz_props::resolve::check.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_props::resolve::check(data));
