//! Groups and their members: `CreateGroup`, `GetGroup`, `ReplaceGroup`, `PatchGroup`, `DeleteGroup`, `ListGroups`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn create_group(
    api: &IdentityApi,
    request: Request<pb::CreateGroupRequest>,
) -> Result<Response<pb::CreateGroupResponse>, Status> {
    let pb::CreateGroupRequest {
        tenant_id,
        resource_json,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let rt = api.types(&tenant).await?.group;
    let (cols, members) =
        crate::groups::group_document(rt, &resource_json, scim::WriteMode::Create)?;
    let record = api.store.create_group(&tenant, &cols, &members).await?;
    tracing::info!(group_id = %record.id, members = members.len(), "group created");
    let group = crate::groups::respond(api.store.as_ref(), &tenant, record, true).await?;
    Ok(Response::new(pb::CreateGroupResponse {
        group: Some(group),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
pub(super) async fn get_group(
    api: &IdentityApi,
    request: Request<pb::GetGroupRequest>,
) -> Result<Response<pb::GetGroupResponse>, Status> {
    let pb::GetGroupRequest {
        tenant_id,
        group_id: id,
        include_members,
    } = request.into_inner();
    let record = api
        .store
        .get_group(&tenant(&tenant_id)?, &group_id(&id)?, include_members)
        .await?
        .ok_or(IdentityError::NotFound("group"))?;
    Ok(Response::new(pb::GetGroupResponse {
        group: Some(convert::group(record)),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
pub(super) async fn replace_group(
    api: &IdentityApi,
    request: Request<pb::ReplaceGroupRequest>,
) -> Result<Response<pb::ReplaceGroupResponse>, Status> {
    let pb::ReplaceGroupRequest {
        tenant_id,
        group_id: id,
        resource_json,
        if_version,
        include_members,
    } = request.into_inner();
    let (tenant, id) = (tenant(&tenant_id)?, group_id(&id)?);
    let rt = api.types(&tenant).await?.group;
    let (cols, members) =
        crate::groups::group_document(rt, &resource_json, scim::WriteMode::Replace)?;
    let change = move |_: &crate::store::GroupRecord| {
        Ok((cols.clone(), vec![MemberOp::ReplaceAll(members.clone())]))
    };
    let record = api
        .store
        .modify_group(&tenant, &id, if_version, &change)
        .await?;
    let group =
        crate::groups::respond(api.store.as_ref(), &tenant, record, include_members).await?;
    Ok(Response::new(pb::ReplaceGroupResponse {
        group: Some(group),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
pub(super) async fn patch_group(
    api: &IdentityApi,
    request: Request<pb::PatchGroupRequest>,
) -> Result<Response<pb::PatchGroupResponse>, Status> {
    let pb::PatchGroupRequest {
        tenant_id,
        group_id: id,
        operations,
        if_version,
        include_members,
    } = request.into_inner();
    let (tenant, id) = (tenant(&tenant_id)?, group_id(&id)?);
    let (doc_ops, member_ops) = crate::groups::split_patch(patch_operations(operations)?)?;
    let rt = api.types(&tenant).await?.group;
    let change = move |current: &crate::store::GroupRecord| {
        Ok((
            crate::groups::patch_document(rt, current, &doc_ops)?,
            member_ops.clone(),
        ))
    };
    let record = api
        .store
        .modify_group(&tenant, &id, if_version, &change)
        .await?;
    let group =
        crate::groups::respond(api.store.as_ref(), &tenant, record, include_members).await?;
    Ok(Response::new(pb::PatchGroupResponse { group: Some(group) }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
pub(super) async fn delete_group(
    api: &IdentityApi,
    request: Request<pb::DeleteGroupRequest>,
) -> Result<Response<pb::DeleteGroupResponse>, Status> {
    let pb::DeleteGroupRequest {
        tenant_id,
        group_id: id,
        if_version,
    } = request.into_inner();
    api.store
        .delete_group(&tenant(&tenant_id)?, &group_id(&id)?, if_version)
        .await?;
    tracing::info!("group deleted");
    Ok(Response::new(pb::DeleteGroupResponse {}))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn list_groups(
    api: &IdentityApi,
    request: Request<pb::ListGroupsRequest>,
) -> Result<Response<pb::ListGroupsResponse>, Status> {
    let pb::ListGroupsRequest {
        tenant_id,
        filter,
        start_index,
        count,
        sort_by,
        sort_order,
        include_members,
        keyset,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let mut query = list_query(&filter, start_index, count, &sort_by, sort_order, keyset)?;
    query.rt = TenantTypes::custom(api.types(&tenant).await?.group);
    let mut page = api
        .store
        .list_groups(&tenant, &query, include_members)
        .await?;
    let (first_key, last_key, more) = page_edges(&mut page);
    Ok(Response::new(pb::ListGroupsResponse {
        total_results: page.total,
        groups: page.items.into_iter().map(convert::group).collect(),
        first_key,
        last_key,
        more,
    }))
}
