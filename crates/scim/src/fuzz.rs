//! Entry points for fuzzing: each takes arbitrary bytes and must return
//! without panicking whatever they are. `fuzz/` (cargo-fuzz, nightly) runs
//! them under libFuzzer; `tests/engine/fuzz_short.rs` runs them on stable
//! Rust over the seed corpus in `fuzz/corpus/` and random inputs, in CI.

use serde_json::{Value, json};

use crate::patch::{apply_patch, parse_patch_request};
use crate::resource::normalize;
use crate::{GROUP, USER, WriteMode, filter, path, strict};

/// The filter parser (`filter=` and `.search`).
pub fn filter_parser(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(parsed) = filter::parse_filter(text)
    {
        // What parsed once prints as something that parses again.
        let _ = filter::parse_filter(&parsed.to_string());
    }
}

/// The attribute-path parsers: filter paths, `attributes` lists, PATCH paths.
pub fn attribute_path(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = filter::parse_attr_path(text);
        let _ = filter::parse_attribute_list(text);
        let _ = path::parse_patch_path(text);
    }
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "fuzz@example.com",
        "active": true,
        "name": {"givenName": "F", "familyName": "Z"},
        "emails": [{"value": "fuzz@example.com", "type": "work", "primary": true}]
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "fuzzers"
    })
}

/// The PATCH engine: a body parsed strictly, its operations parsed and
/// applied to a user and to a group.
pub fn patch_engine(data: &[u8]) {
    let Ok(body) = strict::parse_body(data) else {
        return;
    };
    let Ok(ops) = parse_patch_request(&body) else {
        return;
    };
    let _ = apply_patch(&USER, &user(), &ops, "fuzz-id");
    let _ = apply_patch(&GROUP, &group(), &ops, "fuzz-id");
}

/// Resource validation: a body parsed strictly, normalised as a user and
/// as a group, for create and for replace.
pub fn resource_validation(data: &[u8]) {
    let Ok(body) = strict::parse_body(data) else {
        return;
    };
    for mode in [WriteMode::Create, WriteMode::Replace] {
        let _ = normalize(&USER, &body, mode);
        let _ = normalize(&GROUP, &body, mode);
    }
}
