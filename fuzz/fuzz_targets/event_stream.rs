#![no_main]
//! See fuzz_props::event_stream::check.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_props::event_stream::check(data));
