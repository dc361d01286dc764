//! libFuzzer target: `scim::fuzz::filter_parser` must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim::fuzz::filter_parser(data));
