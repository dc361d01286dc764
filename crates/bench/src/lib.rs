//! `make bench`: a load generator for the SCIM platform that plays
//! Entra- and Okta-shaped provisioning for many tenants at once against the
//! production topology, `make run`'s single binary, the bare gateway hop and
//! two peers, measures the Postgres limit in the same run, draws scale
//! curves, and writes `bench/results.{json,md}` and SVG charts.
//!
//! Loopback only: every system is started by the bench on 127.0.0.1, and
//! the client refuses any other host. Every loop is bounded in requests
//! and in time.

// Proto messages are built with `..Default::default()` even where every
// field is named today, so that fields added to identity.v1 and policy.v1
// later do not break the bench.
#![allow(clippy::needless_update)]

pub mod client;
pub mod pg;
pub mod procs;
pub mod profile;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod stats;
pub mod stub;
pub mod svg;
pub mod systems;
pub mod workload;

/// The bench's error: anything, with its message (a tool, not a service).
pub type Error = Box<dyn std::error::Error + Send + Sync>;
