#![no_main]
//! See fuzz_props::compat::check.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_props::compat::check(data));
