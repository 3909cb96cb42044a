#![no_main]
//! See fuzz_props::url_guard::check.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_props::url_guard::check(data));
