//! libFuzzer target: `scim::fuzz::resource_validation` must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim::fuzz::resource_validation(data));
