//! Storage behind one interface, [`Store`], with a method per use (some 35
//! of them). Every query takes the tenant; the
//! only implementation is [`sql::SqlStore`], which runs the same statements
//! on Postgres (production) and SQLite (embedded default) through sqlx's
//! `Any` driver, with a [`Dialect`] for the few places where they differ and
//! a migration directory per backend.

mod adoption;
pub use adoption::{AdoptionPolicy, ImportedAccount};
mod changes;
mod console_links;
mod filter_sql;
#[cfg(test)]
mod filter_tests;
mod groups;
mod keyset;
mod limits;
mod paging;
#[cfg(test)]
mod paging_tests;
#[cfg(test)]
mod plans;
mod request_log;
mod retention;
mod schemas;
mod scope;
mod snapshot;
mod sql;
#[cfg(test)]
mod timeout_tests;
mod users;

use async_trait::async_trait;
use scim::Filter;

pub use changes::{ChangeRecord, MEMBER_CHUNK};
pub use filter_sql::Dialect;
pub use retention::Pruned;
pub use scope::{CrossTenant, Scope};
pub use snapshot::SnapshotUser;
pub use sql::{SqlStore, StoreOptions};

use std::collections::HashMap;

use crate::domain::{GroupColumns, MemberOp, Micros, NewMember, ResourceId, TenantId, UserColumns};
use crate::error::IdentityError;

#[derive(Debug, Clone, PartialEq)]
pub struct TenantRecord {
    pub id: String,
    pub display_name: String,
    pub created: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub tenant_id: String,
    pub description: String,
    pub hint: String,
    pub created: Micros,
    pub last_used: Option<Micros>,
    pub revoked: Option<Micros>,
    pub expires: Option<Micros>,
}

/// What storage keeps of a newly issued token: never the secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub hash: String,
    pub hint: String,
    pub description: String,
    pub expires: Option<Micros>,
}

/// A tenant's extension schema as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSchemaRecord {
    pub urn: String,
    /// `User` or `Group`.
    pub resource_type: String,
    /// The normalised RFC 7643 §7 representation (JSON text).
    pub definition: String,
    pub updated: Micros,
}

/// What a create did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// A deleted or inactive account with the same externalId came back.
    Restored,
    /// An imported account was taken over, by this adoption rule.
    Adopted(&'static str),
}

/// The tenant and token a presented secret belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub tenant_id: String,
    pub token_id: String,
    /// The tenant's rate limits, carried with the answer.
    pub limits: TenantLimits,
    /// The tenant's IdP profile, likewise.
    pub profile: scim::IdpProfile,
}

/// A tenant's rate limits (all its tokens together); `None` means the gateway's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    pub rate_per_second: Option<u32>,
    pub burst: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub version: i64,
    pub created: Micros,
    pub last_modified: Micros,
    /// The canonical SCIM document (JSON text) without `id` and `meta`.
    pub resource: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: i64,
    pub created: Micros,
    pub last_modified: Micros,
    /// The canonical SCIM document (JSON text) without `id`, `meta`, `members`.
    pub resource: String,
    /// Present only when members were asked for.
    pub members: Option<Vec<MemberRecord>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    pub user_id: String,
    /// The display sent by the client, else the user's userName.
    pub display: String,
}

/// One entry of the provisioning log (see `identity.v1.RequestLogEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestLogRecord {
    /// Assigned on insert; ignored when recording.
    pub id: i64,
    pub tenant_id: String,
    pub at: Micros,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: String,
    pub latency_ms: u32,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: String,
    pub summary: String,
    pub client: String,
    pub token_id: String,
    pub test_connection: bool,
    /// The tenant's IdP profile when the request was answered.
    pub idp_profile: String,
}

/// Which entries of a tenant's log to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLogQuery {
    /// A resource id, or a userName/displayName (case-insensitive).
    pub resource: Option<String>,
    /// Inclusive status ranges, any of which matches; empty for all.
    pub statuses: Vec<(u16, u16)>,
    pub since: Option<Micros>,
    /// Exclusive.
    pub until: Option<Micros>,
    /// Entries with smaller ids only (the next page).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// The figures of a tenant's log since a point in time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub requests: u64,
    pub errors: u64,
    pub server_errors: u64,
    pub throttled: u64,
    /// Failures Entra ID counts towards quarantine (see `request_log.rs`).
    pub quarantine_failures: u64,
    pub last_request: Option<Micros>,
    pub last_success: Option<Micros>,
    pub last_error: Option<Micros>,
    pub last_test_connection: Option<Micros>,
    /// `(status, scimType, count)`, most frequent first.
    pub top_errors: Vec<(u16, String, u64)>,
}

/// A sort key that storage can order by.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub path: scim::AttrPath,
    pub descending: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// Rows to skip (RFC 7644 `startIndex` - 1); ignored with `keyset`.
    pub offset: u64,
    /// Page size; 0 asks for the total only.
    pub limit: u64,
    pub sort: Option<SortKey>,
    /// Keyset pagination instead of an offset (cursors, RFC 9865).
    pub keyset: Option<Keyset>,
    /// The resource type filters and sortBy resolve against, when the
    /// tenant has extension schemas of its own; `None` for the static one.
    pub rt: Option<&'static scim::ResourceTypeDef>,
}

/// A row's sortBy value in keyset pagination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Text(String),
    Int(i64),
}

/// A row's position in a list's order: (sortBy value, created, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey {
    /// `None` when the list has no sortBy.
    pub sort: Option<SortValue>,
    pub created: Micros,
    pub id: String,
}

/// Where a keyset page starts: after a row (first page when `None`), or
/// just before it when `backwards`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keyset {
    pub after: Option<RowKey>,
    pub backwards: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
    /// Keyset pagination only: the keys of the first and last item.
    pub edges: Option<(RowKey, RowKey)>,
    /// Keyset pagination only: more rows follow in the direction read.
    pub more: bool,
}

impl<T> Page<T> {
    /// A page of index pagination.
    pub fn indexed(total: u64, items: Vec<T>) -> Self {
        Self {
            total,
            items,
            edges: None,
            more: false,
        }
    }
}

/// The pure part of a user update, run by [`Store::modify_user`] inside its
/// transaction on the locked current row.
pub type UserChange<'a> =
    &'a (dyn Fn(&UserRecord) -> Result<UserColumns, IdentityError> + Send + Sync);

/// The pure part of a group update: the new document and the membership
/// changes, applied in order, in one transaction with the group locked.
pub type GroupChange<'a> = &'a (
        dyn Fn(&GroupRecord) -> Result<(GroupColumns, Vec<MemberOp>), IdentityError> + Send + Sync
    );

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_tenant(
        &self,
        id: &TenantId,
        display_name: &str,
    ) -> Result<TenantRecord, IdentityError>;
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, IdentityError>;
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, IdentityError>;
    /// Stores the tenant's rate limits (NotFound for an unknown tenant).
    async fn set_tenant_limits(
        &self,
        id: &TenantId,
        limits: TenantLimits,
    ) -> Result<TenantLimits, IdentityError>;
    /// The tenant's rate limits, or None for an unknown tenant.
    async fn get_tenant_limits(&self, id: &TenantId)
    -> Result<Option<TenantLimits>, IdentityError>;
    /// Stores the tenant's IdP profile (NotFound for an unknown tenant).
    async fn set_tenant_profile(
        &self,
        id: &TenantId,
        profile: scim::IdpProfile,
    ) -> Result<(), IdentityError>;
    /// The tenant's IdP profile, or None for an unknown tenant.
    async fn get_tenant_profile(
        &self,
        id: &TenantId,
    ) -> Result<Option<scim::IdpProfile>, IdentityError>;

    /// Creates or replaces (by URN, case-insensitively) a tenant's extension
    /// schema; true when created. NotFound for an unknown tenant.
    async fn put_tenant_schema(
        &self,
        tenant: &TenantId,
        schema: &TenantSchemaRecord,
    ) -> Result<bool, IdentityError>;
    /// The tenant's extension schemas, oldest first.
    async fn list_tenant_schemas(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<TenantSchemaRecord>, IdentityError>;
    /// Removes one (NotFound when the tenant has no schema with that URN).
    async fn delete_tenant_schema(&self, tenant: &TenantId, urn: &str)
    -> Result<(), IdentityError>;

    async fn insert_token(
        &self,
        tenant: &TenantId,
        token: &NewToken,
    ) -> Result<TokenRecord, IdentityError>;
    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, IdentityError>;
    /// Revokes a token of the tenant (idempotent). NotFound for another tenant's token.
    async fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
    ) -> Result<TokenRecord, IdentityError>;
    /// The owner of a live (not revoked, not expired) token, recording its use.
    async fn authenticate(&self, hash: &str) -> Result<Option<TokenOwner>, IdentityError>;

    /// Stores a console link's hashed code (NotFound for an unknown tenant).
    async fn insert_console_link(
        &self,
        tenant: &TenantId,
        hash: &str,
        expires: Micros,
    ) -> Result<(), IdentityError>;
    /// Marks an unused, unexpired console link used and returns its tenant
    /// and the tenant's console session epoch; None when there is no such link.
    async fn redeem_console_link(&self, hash: &str)
    -> Result<Option<(String, i64)>, IdentityError>;
    /// The tenant of an unused, unexpired console link, leaving it unused;
    /// None when there is no such link.
    async fn inspect_console_link(&self, hash: &str) -> Result<Option<String>, IdentityError>;
    /// The tenant's console session epoch, or None for an unknown tenant.
    async fn console_session_epoch(&self, tenant: &TenantId) -> Result<Option<i64>, IdentityError>;
    /// Advances the tenant's console session epoch (ending every session
    /// issued under an older one) and returns the new one; None for an
    /// unknown tenant.
    async fn end_console_sessions(&self, tenant: &TenantId) -> Result<Option<i64>, IdentityError>;

    /// Creates a user, or restores a deleted or deactivated account with the
    /// same `externalId` (then `true`), keeping its id.
    async fn create_user(
        &self,
        tenant: &TenantId,
        user: &UserColumns,
    ) -> Result<(UserRecord, bool), IdentityError> {
        let (record, outcome) = self.create_user_adopting(tenant, user).await?;
        Ok((record, outcome == Created::Restored))
    }
    /// [`Store::create_user`], saying whether the user was new, restored
    /// from a tombstone, or an imported account taken over (by which rule).
    async fn create_user_adopting(
        &self,
        tenant: &TenantId,
        user: &UserColumns,
    ) -> Result<(UserRecord, Created), IdentityError>;
    /// Imports accounts that exist before SCIM; their ids, in order.
    async fn import_accounts(
        &self,
        tenant: &TenantId,
        accounts: &[ImportedAccount],
    ) -> Result<Vec<String>, IdentityError>;
    async fn set_adoption_policy(
        &self,
        tenant: &TenantId,
        policy: AdoptionPolicy,
    ) -> Result<(), IdentityError>;
    async fn get_adoption_policy(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<AdoptionPolicy>, IdentityError>;
    /// A live user; tombstones are not found.
    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
    ) -> Result<Option<UserRecord>, IdentityError>;
    /// Locks the user, checks `if_version`, applies `change` and writes the
    /// result with a new version, all in one transaction. A change that
    /// yields the same document writes nothing and keeps the version.
    async fn modify_user(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
        change: UserChange<'_>,
    ) -> Result<UserRecord, IdentityError>;
    /// Turns the user into a tombstone (inactive, hidden from SCIM).
    async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<(), IdentityError>;
    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<UserRecord>, IdentityError>;

    async fn create_group(
        &self,
        tenant: &TenantId,
        group: &GroupColumns,
        members: &[NewMember],
    ) -> Result<GroupRecord, IdentityError>;
    async fn get_group(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        include_members: bool,
    ) -> Result<Option<GroupRecord>, IdentityError>;
    /// Locks the group, checks `if_version`, applies `change` (document and
    /// membership rows) with a new version, all in one transaction.
    async fn modify_group(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
        change: GroupChange<'_>,
    ) -> Result<GroupRecord, IdentityError>;
    /// Deletes the group and its memberships.
    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<(), IdentityError>;
    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        include_members: bool,
    ) -> Result<Page<GroupRecord>, IdentityError>;
    /// `(group id, displayName)` of each user's groups.
    async fn groups_of_users(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<HashMap<String, Vec<(String, String)>>, IdentityError>;

    /// The tenant's change records after position `after_seq`, in its
    /// commit order: at most `limit`, and no more than about `max_bytes` of
    /// payload (always at least one record when there is one).
    async fn changes_after(
        &self,
        tenant: &TenantId,
        after_seq: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<ChangeRecord>, IdentityError>;
    /// Every tenant's newest stream position, by tenant id (tenants without
    /// a change yet are absent). A head `h` means every record of that
    /// tenant up to `h` is committed.
    async fn stream_heads(&self) -> Result<Vec<(String, i64)>, IdentityError>;
    /// A page of the tenant's users (tombstones included) with their groups,
    /// and the tenant's stream position the page is at least as new as.
    async fn snapshot(
        &self,
        tenant: &TenantId,
        after_user_id: &str,
        limit: u32,
    ) -> Result<(i64, Vec<SnapshotUser>), IdentityError>;
    /// Appends entries to the tenant's provisioning log (one INSERT).
    async fn record_requests(
        &self,
        tenant: &TenantId,
        entries: &[RequestLogRecord],
    ) -> Result<u64, IdentityError>;
    /// The tenant's log entries matching `query`, newest first.
    async fn list_request_log(
        &self,
        tenant: &TenantId,
        query: &RequestLogQuery,
    ) -> Result<Vec<RequestLogRecord>, IdentityError>;
    /// The figures of the tenant's log from `since` on.
    async fn request_health(
        &self,
        tenant: &TenantId,
        since: Micros,
    ) -> Result<HealthCounts, IdentityError>;
    /// Prunes the tenant's rows of `table` that `rule` no longer keeps at
    /// `now` (µs), oldest first, in batches of their own transactions
    /// (see `storekit::retention`); returns how many were deleted.
    async fn prune(
        &self,
        tenant: &TenantId,
        table: Pruned,
        rule: &storekit::retention::Rule,
        now: Micros,
    ) -> Result<u64, IdentityError>;

    /// Ticks after every write this process commits. Watchers also poll, for
    /// writes committed by other replicas.
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}
