#![no_main]
//! See fuzz_props::sse::check.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_props::sse::check(data));
