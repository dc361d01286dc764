//! Tenant protection: rate limits in Redis (shared by gateway replicas, with
//! a fallback when Redis goes away), token rotation across replicas, the
//! isolation matrix, hostile input end to end, and logs free of secrets.

mod budgets;
mod cluster;
mod fairness;
mod hostile;
mod isolation;
mod limits_cli;
mod mtls;
mod ratelimit;
mod redis_outage;
pub(crate) mod rls;
mod roles;
mod secrets;
mod support;
mod timeouts;
mod tokens;
