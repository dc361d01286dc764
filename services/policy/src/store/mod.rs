//! Storage behind one narrow interface. Every query takes the tenant; the
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
mod read;
mod scope;
mod sql;
#[cfg(test)]
mod tests;

use async_trait::async_trait;

pub use alerts::{Claimed, Delivery, Outcome};
pub use equipment_api::EquipmentStore;
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
    /// The batch is applied; the cursor is now `cursor`.
    Applied { cursor: i64, role_changes: u32 },
    /// The stored cursor was not where the caller expected (a reconcile
    /// rewound it, or another replica moved it): nothing was done, and the
    /// caller should resume from `cursor`.
    Moved { cursor: i64 },
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
    /// The position in identity's stream up to which changes are applied.
    async fn cursor(&self) -> Result<i64, PolicyError>;
    /// Applies a batch of identity's changes, recomputes the users they
    /// touch and advances the cursor, in one transaction, provided the
    /// stored cursor still equals `from`.
    async fn apply_changes(
        &self,
        from: i64,
        changes: &[StreamChange],
    ) -> Result<Applied, PolicyError>;
    /// Replaces the tenant's replica with identity's snapshot (taken at
    /// `as_of_seq` or later), recomputes every user and rewinds the cursor to
    /// `as_of_seq` when it is ahead, so that changes the snapshot may have
    /// missed are applied again. Returns (users checked, users changed).
    async fn reconcile(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
    ) -> Result<(u32, u32), PolicyError>;

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
    /// Role changes after `after_seq` in commit order, optionally of one tenant.
    async fn role_changes_after(
        &self,
        after_seq: i64,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, PolicyError>;
    /// Ticks after every committed write. Watchers also poll, for writes of
    /// other replicas.
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}
