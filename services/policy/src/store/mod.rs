//! Storage behind one interface, [`Store`], with a method per use (some 26
//! of them). Every query takes the tenant; the
//! only implementation is [`SqlStore`], which runs the same statements on
//! Postgres (production) and SQLite (embedded default) through sqlx's `Any`
//! driver, with a migration directory per backend.
//!
//! Every write that can change a role runs in one transaction that also
//! recomputes the users it touches and appends their role changes, so the
//! stored roles always agree with the stored inputs.

mod admin;
mod alerts;
mod compute;
mod equipment;
mod equipment_api;
#[cfg(test)]
mod equipment_tests;
mod follow;
mod hooks;
mod leases;
#[cfg(test)]
mod plans;
mod read;
mod retention;
mod scope;
mod sql;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timeout_tests;

use std::collections::HashMap;

use async_trait::async_trait;

pub use admin::{MAX_ASSIGNMENTS, MAX_ROLES};
pub use alerts::{Claimed, Delivery, Outcome};
pub use equipment_api::EquipmentStore;
pub use leases::{Lease, Round, fair_share};
pub use retention::Pruned;
pub use sql::{Dialect, SqlStore, StoreOptions};

use crate::domain::{
    EffectiveRecord, Hypothesis, RoleChangeRecord, RoleDiff, RoleName, RoleRecord, SnapshotUser,
    StreamChange, TenantId,
};
use crate::error::PolicyError;
use crate::role::{Candidate, Step};

/// What [`Store::apply_changes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The page is applied; the tenant's cursor is now `cursor`.
    Applied { cursor: i64, role_changes: u32 },
    /// The tenant's stored cursor was not where the caller expected (a
    /// reconcile rewound it, or another replica moved it): nothing was done,
    /// and the caller should resume from `cursor`.
    Moved { cursor: i64 },
    /// The caller's lease of the tenant's partition is gone: nothing was
    /// done, and the tenant is another replica's now.
    LeaseLost,
}

/// Why a user has their role, with everything the role function read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub effective: EffectiveRecord,
    pub steps: Vec<Step>,
    /// The user's groups that have an assignment, highest priority first.
    pub candidates: Vec<Candidate>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Each tenant's position in identity's stream up to which its changes
    /// are applied (tenants with none applied are absent).
    async fn cursors(&self) -> Result<HashMap<String, i64>, PolicyError>;
    /// Applies a page of one tenant's changes, recomputes the users they
    /// touch and advances the tenant's cursor, in one transaction, provided
    /// the stored cursor still equals `from` and `lease` (when given) is
    /// still held.
    async fn apply_changes(
        &self,
        tenant: &TenantId,
        from: i64,
        changes: &[StreamChange],
        lease: Option<&Lease>,
    ) -> Result<Applied, PolicyError>;
    /// One lease round of `replica` (see `store/leases.rs`): the partitions
    /// it holds afterwards.
    async fn lease_round(&self, replica: &str, round: Round) -> Result<Vec<u32>, PolicyError>;
    /// Gives back every lease of `replica`.
    async fn release_leases(&self, replica: &str) -> Result<(), PolicyError>;
    /// Every partition's lease: (partition, holder, expiry in µs), ascending.
    async fn leases(&self) -> Result<Vec<(u32, String, i64)>, PolicyError>;
    /// Replaces the tenant's replica with identity's snapshot (taken at
    /// `as_of_seq` or later), recomputes every user and rewinds the tenant's
    /// cursor to `as_of_seq` when it is ahead, so that changes the snapshot
    /// may have missed are applied again; no other tenant is touched.
    /// Returns (users checked, users changed).
    async fn reconcile(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
    ) -> Result<(u32, u32), PolicyError>;
    /// The follower's resynchronisation of a tenant whose stream was pruned
    /// past its cursor: replaces the replica with the snapshot and sets the
    /// cursor to `as_of_seq`, in one transaction, provided the stored cursor
    /// still equals `from` and `lease` is still held (else nothing is done).
    async fn resync(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
        from: i64,
        lease: &Lease,
    ) -> Result<Applied, PolicyError>;
    /// The tenants with rows in a pruned table, by id.
    async fn pruned_tenants(&self) -> Result<Vec<String>, PolicyError>;
    /// Prunes the tenant's rows of `table` that `rule` no longer keeps at
    /// `now` (µs), oldest first, in batches of their own transactions that
    /// take no tenant lock (see `storekit::retention`); returns how many
    /// were deleted.
    async fn prune(
        &self,
        tenant: &TenantId,
        table: Pruned,
        rule: &storekit::retention::Rule,
        now: i64,
    ) -> Result<u64, PolicyError>;

    async fn create_role(
        &self,
        tenant: &TenantId,
        name: &RoleName,
        description: &str,
    ) -> Result<RoleRecord, PolicyError>;
    /// `Disabled` first, then the tenant's roles by name.
    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<RoleRecord>, PolicyError>;
    /// FAILED_PRECONDITION while an assignment, the default role or a lock uses it.
    async fn delete_role(&self, tenant: &TenantId, name: &RoleName) -> Result<(), PolicyError>;

    /// Creates or replaces the group's assignment; returns the users changed.
    async fn set_assignment(
        &self,
        tenant: &TenantId,
        assignment: &Candidate,
    ) -> Result<u32, PolicyError>;
    async fn remove_assignment(
        &self,
        tenant: &TenantId,
        group_id: &str,
    ) -> Result<u32, PolicyError>;
    /// Highest priority first.
    async fn list_assignments(&self, tenant: &TenantId) -> Result<Vec<Candidate>, PolicyError>;

    /// Sets (or with `None` clears) the default role; returns the users changed.
    async fn set_default_role(
        &self,
        tenant: &TenantId,
        role: Option<&RoleName>,
    ) -> Result<u32, PolicyError>;
    async fn default_role(&self, tenant: &TenantId) -> Result<Option<String>, PolicyError>;

    /// Freezes the user's current role (idempotent: a locked user keeps the
    /// role of the first lock). NOT_FOUND for a user never seen.
    async fn lock_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
        note: &str,
    ) -> Result<EffectiveRecord, PolicyError>;
    /// Removes the lock (idempotent) and recomputes the user.
    async fn unlock_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<EffectiveRecord, PolicyError>;

    async fn effective_role(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<EffectiveRecord>, PolicyError>;
    /// Users holding `role` with id greater than `after`, by id.
    async fn users_by_role(
        &self,
        tenant: &TenantId,
        role: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EffectiveRecord>, PolicyError>;
    async fn explain(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Explanation>, PolicyError>;
    /// The users whose role `change` would change, by id; nothing is written.
    async fn dry_run(
        &self,
        tenant: &TenantId,
        change: &Hypothesis,
    ) -> Result<Vec<RoleDiff>, PolicyError>;

    /// The user's role changes, newest first.
    async fn history(
        &self,
        tenant: &TenantId,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, PolicyError>;
    /// The tenant's role changes after position `after_seq`, in its commit
    /// order.
    async fn role_changes_after(
        &self,
        tenant: &TenantId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, PolicyError>;
    /// Every tenant's newest role-change position, by tenant id.
    async fn role_heads(&self) -> Result<Vec<(String, i64)>, PolicyError>;
    /// Ticks after every committed write. Watchers also poll, for writes of
    /// other replicas.
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}
