//! libFuzzer target: `scim::fuzz::patch_engine` must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim::fuzz::patch_engine(data));
