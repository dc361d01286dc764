//! End-to-end tests: one binary, every scenario on Postgres and on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod browser;
mod bulk;
mod changes;
mod compat;
mod concurrency;
mod console;
mod cursors;
mod db_timeouts;
mod docs;
mod entra;
mod equipment;
mod extensions;
mod filters;
mod groups;
mod lifecycle;
mod metrics;
mod okta;
mod policy;
mod protection;
mod provlog;
mod replay;
mod retention;
mod scale;
mod scimctl;
mod scimctl_policy;
mod scimctl_provlog;
mod scimctl_schema;
mod search;
mod tenancy;
mod users;
