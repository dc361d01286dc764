//! Every query runs in a transaction opened for a [`Scope`]: one tenant, or
//! one of the few operator paths that cross tenants by design
//! ([`CrossTenant`], each named).
//!
//! On Postgres the scope becomes a transaction-local setting
//! (`set_config(…, true)`) that the row-level security policies of
//! migration 0005 check: `app.tenant_id` for one tenant's rows, or
//! `app.all_tenants = 'on'` for a cross-tenant path. RLS is a second wall
//! behind the `WHERE tenant_id = …` that every tenant query also carries;
//! it binds only a role that is neither superuser nor `BYPASSRLS`, and that
//! does not own the tables unless they are `FORCE`d (they are; see
//! docs/sre.md, "Row-level security (Postgres)"). A query that forgets its scope sees no row under RLS.
//! The transactions themselves are `storekit::scope`'s, shared with policy.

use crate::domain::TenantId;

/// The paths that read across tenants on purpose, each named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossTenant {
    /// `ListTenants`, for operators.
    ListTenants,
    /// `AuthenticateToken`: a secret's hash is looked up before its tenant is known.
    AuthenticateByHash,
    /// The heads of the change stream (a position per tenant, no tenant
    /// data), read by `Watch` of several tenants and `ListStreamHeads`.
    WatchAllTenants,
    /// `RedeemConsoleLink`: a code's hash is looked up before its tenant is known.
    RedeemConsoleLink,
    /// `InspectConsoleLink`: the same lookup by hash, without using the code.
    InspectConsoleLink,
}

/// Whose rows a transaction may see and write.
pub type Scope<'a> = storekit::scope::Scope<'a, TenantId, CrossTenant>;

impl storekit::scope::TenantKey for TenantId {
    fn key(&self) -> &str {
        self.as_str()
    }
}
