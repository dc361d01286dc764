//! The change stream: `Watch`, `ListStreamHeads`, `ReadChanges`, `Snapshot`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, after_seq = request.get_ref().after_seq))]
pub(super) async fn watch(
    api: &IdentityApi,
    request: Request<pb::WatchRequest>,
) -> Result<Response<watch::WatchStream>, Status> {
    let pb::WatchRequest {
        after_seq,
        tenant_id,
        cursors,
        from_now,
        partition_count,
        partitions,
    } = request.into_inner();
    let (tenants, cursors) = match tenant_id.as_str() {
        "" => (
            watch::Tenants::from_request(partition_count, partitions)?,
            positions(cursors)?,
        ),
        t => {
            let id = tenant(t)?;
            let mut at = HashMap::new();
            if after_seq > 0 || !from_now {
                at.insert(id.as_str().to_owned(), after_seq.max(0));
            }
            (watch::Tenants::One(id), at)
        }
    };
    Ok(Response::new(watch::watch(
        api.store.clone(),
        tenants,
        cursors,
        from_now,
    )))
}

#[instrument(skip_all, fields(partitions = request.get_ref().partitions.len()))]
pub(super) async fn list_stream_heads(
    api: &IdentityApi,
    request: Request<pb::ListStreamHeadsRequest>,
) -> Result<Response<pb::ListStreamHeadsResponse>, Status> {
    let pb::ListStreamHeadsRequest {
        partition_count,
        partitions,
        known,
        wait_ms,
    } = request.into_inner();
    let tenants = watch::Tenants::from_request(partition_count, partitions)?;
    let known = positions(known)?;
    let wait = Duration::from_millis(u64::from(wait_ms));
    let heads = watch::heads_after(api.store.as_ref(), &tenants, &known, wait).await?;
    Ok(Response::new(pb::ListStreamHeadsResponse {
        heads: heads
            .into_iter()
            .map(|(tenant_id, seq)| pb::StreamPosition { tenant_id, seq })
            .collect(),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, after_seq = request.get_ref().after_seq))]
pub(super) async fn read_changes(
    api: &IdentityApi,
    request: Request<pb::ReadChangesRequest>,
) -> Result<Response<pb::ReadChangesResponse>, Status> {
    let pb::ReadChangesRequest {
        tenant_id,
        after_seq,
        limit,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let limit = match limit {
        0 => watch::BATCH,
        n => n.min(watch::BATCH),
    };
    let rows = api
        .store
        .changes_after(&tenant, after_seq.max(0), limit, watch::MAX_BYTES)
        .await?;
    watch::contiguous(&tenant, after_seq.max(0), &rows)?;
    Ok(Response::new(pb::ReadChangesResponse {
        changes: rows.into_iter().map(convert::change).collect(),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn snapshot(
    api: &IdentityApi,
    request: Request<pb::SnapshotRequest>,
) -> Result<Response<pb::SnapshotResponse>, Status> {
    let pb::SnapshotRequest {
        tenant_id,
        after_user_id,
        page_size,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let limit = match page_size {
        0 => 500,
        n => n.min(MAX_PAGE_SIZE),
    };
    let (as_of_seq, users) = api.store.snapshot(&tenant, &after_user_id, limit).await?;
    let next_after_user_id = if users.len() == limit as usize {
        users.last().map(|u| u.user_id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(Response::new(pb::SnapshotResponse {
        as_of_seq,
        users: users
            .into_iter()
            .map(|u| pb::SnapshotUser {
                user_id: u.user_id,
                active: u.active,
                deleted: u.deleted,
                group_ids: u.group_ids,
            })
            .collect(),
        next_after_user_id,
    }))
}
