//! Storage plumbing that identity and policy share: the SQL [`Dialect`] of
//! a backend, per-tenant ordered streams ([`stream`]: the outbox of
//! identity and the role-change log of policy), the partitioning of
//! tenants across replicas ([`partition_of`]) and the check that a
//! service's database role is one that row-level security binds
//! ([`roles`]), the transactions scoped to a tenant or a named
//! cross-tenant path that every query runs in ([`scope`]), and how the
//! tables that grow with use are pruned ([`retention`]).
//!
//! Tenants are the unit of order and of partitioning. Nothing here is
//! shared by all tenants on a write path: a stream's order is kept per
//! tenant, by a counter row of that tenant.

mod dialect;
pub mod errors;
mod partition;
pub mod retention;
pub mod roles;
pub mod scope;
pub mod server;
pub mod stream;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timeouts;

pub use dialect::Dialect;
pub use partition::partition_of;
