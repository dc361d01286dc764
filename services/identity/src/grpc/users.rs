//! Users: `CreateUser`, `GetUser`, `ReplaceUser`, `PatchUser`, `DeleteUser`, `ListUsers`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn create_user(
    api: &IdentityApi,
    request: Request<pb::CreateUserRequest>,
) -> Result<Response<pb::CreateUserResponse>, Status> {
    let pb::CreateUserRequest {
        tenant_id,
        resource_json,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let cols = new_user_columns(api.types(&tenant).await?.user, &resource_json)?;
    let (record, created) = api.store.create_user_adopting(&tenant, &cols).await?;
    let adopted_by = match created {
        crate::store::Created::Adopted(rule) => rule,
        crate::store::Created::New | crate::store::Created::Restored => "",
    };
    let restored = created == crate::store::Created::Restored;
    tracing::info!(user_id = %record.id, restored, adopted_by, "user created");
    Ok(Response::new(pb::CreateUserResponse {
        user: Some(convert::user(record, Vec::new())),
        restored,
        adopted_by: adopted_by.to_owned(),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
pub(super) async fn get_user(
    api: &IdentityApi,
    request: Request<pb::GetUserRequest>,
) -> Result<Response<pb::GetUserResponse>, Status> {
    let pb::GetUserRequest {
        tenant_id,
        user_id: id,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let record = api
        .store
        .get_user(&tenant, &user_id(&id)?)
        .await?
        .ok_or(IdentityError::NotFound("user"))?;
    Ok(Response::new(pb::GetUserResponse {
        user: api.user_with_groups(&tenant, record).await?,
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
pub(super) async fn replace_user(
    api: &IdentityApi,
    request: Request<pb::ReplaceUserRequest>,
) -> Result<Response<pb::ReplaceUserResponse>, Status> {
    let pb::ReplaceUserRequest {
        tenant_id,
        user_id: id,
        resource_json,
        if_version,
    } = request.into_inner();
    let (tenant, id) = (tenant(&tenant_id)?, user_id(&id)?);
    let rt = api.types(&tenant).await?.user;
    let doc = scim::resource::normalize(rt, &parse_json(&resource_json)?, scim::WriteMode::Replace)
        .map_err(IdentityError::from)?;
    // A PUT without `active` keeps the current state: Okta's AIW apps
    // send whole objects, and omitting `active` must never flip it.
    let change = move |current: &crate::store::UserRecord| {
        let mut doc = doc.clone();
        if let Some(object) = doc.as_object_mut() {
            object.entry("active").or_insert(current.active.into());
        }
        UserColumns::from_canonical(&doc)
    };
    let record = api
        .store
        .modify_user(&tenant, &id, if_version, &change)
        .await?;
    Ok(Response::new(pb::ReplaceUserResponse {
        user: api.user_with_groups(&tenant, record).await?,
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
pub(super) async fn patch_user(
    api: &IdentityApi,
    request: Request<pb::PatchUserRequest>,
) -> Result<Response<pb::PatchUserResponse>, Status> {
    let pb::PatchUserRequest {
        tenant_id,
        user_id: id,
        operations,
        if_version,
    } = request.into_inner();
    let (tenant, id) = (tenant(&tenant_id)?, user_id(&id)?);
    let ops = patch_operations(operations)?;
    let rt = api.types(&tenant).await?.user;
    let change = move |current: &crate::store::UserRecord| {
        let mut doc = parse_json(&current.resource)?;
        scim::resource::drop_unknown_extensions(rt, &mut doc);
        let patched = scim::patch::apply_patch(rt, &doc, &ops, &current.id)?;
        UserColumns::from_canonical(&patched)
    };
    let record = api
        .store
        .modify_user(&tenant, &id, if_version, &change)
        .await?;
    Ok(Response::new(pb::PatchUserResponse {
        user: api.user_with_groups(&tenant, record).await?,
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
pub(super) async fn delete_user(
    api: &IdentityApi,
    request: Request<pb::DeleteUserRequest>,
) -> Result<Response<pb::DeleteUserResponse>, Status> {
    let pb::DeleteUserRequest {
        tenant_id,
        user_id: id,
        if_version,
    } = request.into_inner();
    api.store
        .delete_user(&tenant(&tenant_id)?, &user_id(&id)?, if_version)
        .await?;
    tracing::info!("user deleted");
    Ok(Response::new(pb::DeleteUserResponse {}))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn list_users(
    api: &IdentityApi,
    request: Request<pb::ListUsersRequest>,
) -> Result<Response<pb::ListUsersResponse>, Status> {
    let pb::ListUsersRequest {
        tenant_id,
        filter,
        start_index,
        count,
        sort_by,
        sort_order,
        keyset,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let mut query = list_query(&filter, start_index, count, &sort_by, sort_order, keyset)?;
    query.rt = TenantTypes::custom(api.types(&tenant).await?.user);
    let mut page = api.store.list_users(&tenant, &query).await?;
    let (first_key, last_key, more) = page_edges(&mut page);
    Ok(Response::new(pb::ListUsersResponse {
        total_results: page.total,
        users: api.users_with_groups(&tenant, page.items).await?,
        first_key,
        last_key,
        more,
    }))
}
