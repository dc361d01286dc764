//! libFuzzer target: `scim::fuzz::attribute_path` must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim::fuzz::attribute_path(data));
