//! End-to-end tests: one binary, every scenario on Postgres and on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod changes;
mod concurrency;
mod entra;
mod filters;
mod groups;
mod okta;
mod scimctl;
mod tenancy;
mod users;
