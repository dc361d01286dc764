//! Storage behind one narrow interface. Every query takes the tenant; the
//! only implementation is [`sql::SqlStore`], which runs the same statements
//! on Postgres (production) and SQLite (embedded default) through sqlx's
//! `Any` driver, with a [`Dialect`] for the few places where they differ and
//! a migration directory per backend.

mod changes;
mod filter_sql;
mod groups;
mod snapshot;
mod sql;
mod users;

use async_trait::async_trait;
use scim::Filter;

pub use changes::ChangeRecord;
pub use filter_sql::Dialect;
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

/// The tenant and token a presented secret belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub tenant_id: String,
    pub token_id: String,
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

/// A sort key that storage can order by.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub path: scim::AttrPath,
    pub descending: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// Rows to skip (RFC 7644 `startIndex` - 1).
    pub offset: u64,
    /// Page size; 0 asks for the total only.
    pub limit: u64,
    pub sort: Option<SortKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
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

    /// Creates a user, or restores a deleted or deactivated account with the
    /// same `externalId` (then `true`), keeping its id.
    async fn create_user(
        &self,
        tenant: &TenantId,
        user: &UserColumns,
    ) -> Result<(UserRecord, bool), IdentityError>;
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

    /// Change records after `after_seq` in commit order, optionally of one tenant.
    async fn changes_after(
        &self,
        after_seq: i64,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, IdentityError>;
    /// A page of the tenant's users (tombstones included) with their groups,
    /// and a stream position the page is at least as new as.
    async fn snapshot(
        &self,
        tenant: &TenantId,
        after_user_id: &str,
        limit: u32,
    ) -> Result<(i64, Vec<SnapshotUser>), IdentityError>;
    /// Ticks after every write this process commits. Watchers also poll, for
    /// writes committed by other replicas.
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;
}
