//! Integration tests of the SCIM engine through its public API: the request bodies Entra ID
//! and Okta actually send (copied verbatim) and property tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod entra_groups;
mod entra_patch;
mod entra_post;
mod fuzz_short;
mod okta;
mod props_custom;
mod props_filter;
mod props_patch;
mod props_restrict;
mod support;
