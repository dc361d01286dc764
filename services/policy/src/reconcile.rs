//! `Reconcile`'s read side: a tenant's users and memberships as identity has
//! them now, paged through identity's `Snapshot`. The write side (replace
//! the replica, recompute, rewind the cursor) is [`Store::reconcile`].
//!
//! [`Store::reconcile`]: crate::store::Store::reconcile

use proto::identity::v1 as idpb;

use crate::convert;
use crate::domain::{SnapshotUser, TenantId};
use crate::error::PolicyError;

/// Users per `Snapshot` page.
const PAGE: u32 = 500;

/// Every user of the tenant (tombstones included) with their groups, and
/// the stream position of the first page: the whole snapshot is at least
/// that new.
pub async fn snapshot(
    mut identity: crate::IdentityClient,
    tenant: &TenantId,
) -> Result<(i64, Vec<SnapshotUser>), PolicyError> {
    let mut users = Vec::new();
    let mut after = String::new();
    let mut first_as_of = None;
    loop {
        let page = identity
            .snapshot(idpb::SnapshotRequest {
                tenant_id: tenant.as_str().to_owned(),
                after_user_id: after,
                page_size: PAGE,
            })
            .await
            .map_err(|s| PolicyError::Identity(Box::new(s)))?
            .into_inner();
        first_as_of.get_or_insert(page.as_of_seq);
        users.extend(page.users.into_iter().map(convert::snapshot_user));
        if page.next_after_user_id.is_empty() {
            break;
        }
        after = page.next_after_user_id;
    }
    Ok((first_as_of.unwrap_or(0), users))
}
