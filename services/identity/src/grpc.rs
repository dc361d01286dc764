//! The `identity.v1.IdentityService` gRPC server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proto::identity::v1 as pb;
use proto::identity::v1::identity_service_server::IdentityService;
use serde_json::Value;
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::domain::{MemberOp, ResourceId, TenantId, UserColumns};
use crate::error::IdentityError;
use crate::store::{ListQuery, NewToken, Page, SortKey, Store};
use crate::token;
use crate::types::{TenantTypes, TypesCache};
use crate::{console_link, convert, watch};

mod accounts;
mod console;
mod groups;
mod log;
mod stream;
mod tenants;
mod tokens;
mod users;

fn group_id(id: &str) -> Result<ResourceId, Status> {
    ResourceId::parse(id).ok_or_else(|| IdentityError::NotFound("group").into())
}

fn list_query(
    filter: &str,
    start_index: u32,
    count: u32,
    sort_by: &str,
    sort_order: i32,
    keyset: Option<pb::Keyset>,
) -> Result<ListQuery, IdentityError> {
    let filter = match filter.trim() {
        "" => None,
        f => Some(scim::filter::parse_filter(f)?),
    };
    let sort = match sort_by.trim() {
        "" => None,
        s => Some(SortKey {
            path: scim::filter::parse_attr_path(s)?,
            descending: sort_order == pb::SortOrder::Descending as i32,
        }),
    };
    Ok(ListQuery {
        filter,
        offset: u64::from(start_index.max(1) - 1),
        limit: u64::from(count.min(MAX_PAGE_SIZE)),
        sort,
        keyset: keyset.map(convert::keyset),
        rt: None,
    })
}

/// The keyset fields of a list response: edge keys and `more`.
fn page_edges<T>(page: &mut Page<T>) -> (Option<pb::ListKey>, Option<pb::ListKey>, bool) {
    match page.edges.take() {
        Some((first, last)) => (
            Some(convert::row_key(first)),
            Some(convert::row_key(last)),
            page.more,
        ),
        None => (None, None, false),
    }
}

/// The largest page a list returns (advertised as `filter.maxResults`).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The gRPC API over a [`Store`].
#[derive(Clone)]
pub struct IdentityApi {
    pub(crate) store: Arc<dyn Store>,
    allow_chosen_secrets: bool,
    /// Each tenant's User and Group with its own extension schemas.
    pub(crate) types: TypesCache,
}

impl IdentityApi {
    /// Users as messages, with their groups (one query for all of them).
    async fn users_with_groups(
        &self,
        tenant: &TenantId,
        records: Vec<crate::store::UserRecord>,
    ) -> Result<Vec<pb::User>, IdentityError> {
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut groups = self.store.groups_of_users(tenant, &ids).await?;
        Ok(records
            .into_iter()
            .map(|r| {
                let g = groups.remove(&r.id).unwrap_or_default();
                convert::user(r, g)
            })
            .collect())
    }

    async fn user_with_groups(
        &self,
        tenant: &TenantId,
        record: crate::store::UserRecord,
    ) -> Result<Option<pb::User>, IdentityError> {
        Ok(self.users_with_groups(tenant, vec![record]).await?.pop())
    }

    /// `allow_chosen_secrets` lets `IssueToken` take a caller-chosen secret
    /// (the local one-process mode's fixed demo token); off in production.
    pub fn new(store: Arc<dyn Store>, allow_chosen_secrets: bool) -> Self {
        Self {
            store,
            allow_chosen_secrets,
            types: TypesCache::default(),
        }
    }

    /// The tenant's resource types (cached briefly).
    async fn types(&self, tenant: &TenantId) -> Result<TenantTypes, IdentityError> {
        self.types.get(self.store.as_ref(), tenant).await
    }
}

fn tenant(id: &str) -> Result<TenantId, Status> {
    TenantId::parse(id).map_err(Status::from)
}

/// An id that is not a UUID names nothing: the same 404 as an unknown id.
fn user_id(id: &str) -> Result<ResourceId, Status> {
    ResourceId::parse(id).ok_or_else(|| IdentityError::NotFound("user").into())
}

fn parse_json(text: &str) -> Result<Value, IdentityError> {
    serde_json::from_str(text)
        .map_err(|e| scim::ScimError::invalid_syntax(format!("body is not valid JSON: {e}")).into())
}

/// A new user's columns; a user created without `active` is active, and
/// says so in its document.
fn new_user_columns(
    rt: &scim::ResourceTypeDef,
    resource_json: &str,
) -> Result<UserColumns, IdentityError> {
    let mut doc =
        scim::resource::normalize(rt, &parse_json(resource_json)?, scim::WriteMode::Create)?;
    if let Some(object) = doc.as_object_mut() {
        object.entry("active").or_insert(Value::Bool(true));
    }
    UserColumns::from_canonical(&doc)
}

fn patch_operations(
    ops: Vec<pb::PatchOperation>,
) -> Result<Vec<scim::PatchOperation>, IdentityError> {
    if ops.is_empty() {
        return Err(scim::ScimError::invalid_syntax("a PATCH needs at least one operation").into());
    }
    ops.into_iter()
        .map(
            |pb::PatchOperation {
                 op,
                 path,
                 value_json,
             }| {
                let op = match pb::PatchOp::try_from(op) {
                    Ok(pb::PatchOp::Add) => scim::PatchOpKind::Add,
                    Ok(pb::PatchOp::Replace) => scim::PatchOpKind::Replace,
                    Ok(pb::PatchOp::Remove) => scim::PatchOpKind::Remove,
                    Ok(pb::PatchOp::Unspecified) | Err(_) => {
                        return Err(scim::ScimError::invalid_syntax("unknown PATCH op").into());
                    }
                };
                let path = match path.as_str() {
                    "" => None,
                    p => Some(scim::path::parse_patch_path(p)?),
                };
                let value = match value_json.as_str() {
                    "" => None,
                    v => Some(parse_json(v)?),
                };
                Ok(scim::PatchOperation { op, path, value })
            },
        )
        .collect()
}

/// A stored console session epoch (never negative: it starts at 0 and only
/// grows) as the API's unsigned number.
fn epoch_out(epoch: i64) -> u64 {
    u64::try_from(epoch).unwrap_or(0)
}

/// The service: each RPC is served by the function of the same name in its
/// resource's module (`tenants`, `tokens`, `console`, `users`, `accounts`,
/// `groups`, `stream`), or by `schemas.rs` and `log` for the tenant schemas
/// and the provisioning log.
#[tonic::async_trait]
impl IdentityService for IdentityApi {
    type WatchStream = watch::WatchStream;

    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        tenants::create_tenant(self, request).await
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        tenants::get_tenant(self, request).await
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        tenants::list_tenants(self, request).await
    }

    async fn set_tenant_limits(
        &self,
        request: Request<pb::SetTenantLimitsRequest>,
    ) -> Result<Response<pb::SetTenantLimitsResponse>, Status> {
        tenants::set_tenant_limits(self, request).await
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn put_tenant_schema(
        &self,
        request: Request<pb::PutTenantSchemaRequest>,
    ) -> Result<Response<pb::PutTenantSchemaResponse>, Status> {
        self.put_schema(request).await
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_tenant_schemas(
        &self,
        request: Request<pb::ListTenantSchemasRequest>,
    ) -> Result<Response<pb::ListTenantSchemasResponse>, Status> {
        self.list_schemas(request).await
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn delete_tenant_schema(
        &self,
        request: Request<pb::DeleteTenantSchemaRequest>,
    ) -> Result<Response<pb::DeleteTenantSchemaResponse>, Status> {
        self.delete_schema(request).await
    }

    async fn get_tenant_limits(
        &self,
        request: Request<pb::GetTenantLimitsRequest>,
    ) -> Result<Response<pb::GetTenantLimitsResponse>, Status> {
        tenants::get_tenant_limits(self, request).await
    }

    async fn set_tenant_profile(
        &self,
        request: Request<pb::SetTenantProfileRequest>,
    ) -> Result<Response<pb::SetTenantProfileResponse>, Status> {
        tenants::set_tenant_profile(self, request).await
    }

    async fn get_tenant_profile(
        &self,
        request: Request<pb::GetTenantProfileRequest>,
    ) -> Result<Response<pb::GetTenantProfileResponse>, Status> {
        tenants::get_tenant_profile(self, request).await
    }

    async fn issue_token(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        tokens::issue_token(self, request).await
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        tokens::list_tokens(self, request).await
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        tokens::revoke_token(self, request).await
    }

    async fn authenticate_token(
        &self,
        request: Request<pb::AuthenticateTokenRequest>,
    ) -> Result<Response<pb::AuthenticateTokenResponse>, Status> {
        tokens::authenticate_token(self, request).await
    }

    async fn issue_console_link(
        &self,
        request: Request<pb::IssueConsoleLinkRequest>,
    ) -> Result<Response<pb::IssueConsoleLinkResponse>, Status> {
        console::issue_console_link(self, request).await
    }

    async fn redeem_console_link(
        &self,
        request: Request<pb::RedeemConsoleLinkRequest>,
    ) -> Result<Response<pb::RedeemConsoleLinkResponse>, Status> {
        console::redeem_console_link(self, request).await
    }

    async fn inspect_console_link(
        &self,
        request: Request<pb::InspectConsoleLinkRequest>,
    ) -> Result<Response<pb::InspectConsoleLinkResponse>, Status> {
        console::inspect_console_link(self, request).await
    }

    async fn get_console_session_epoch(
        &self,
        request: Request<pb::GetConsoleSessionEpochRequest>,
    ) -> Result<Response<pb::GetConsoleSessionEpochResponse>, Status> {
        console::get_console_session_epoch(self, request).await
    }

    async fn end_console_sessions(
        &self,
        request: Request<pb::EndConsoleSessionsRequest>,
    ) -> Result<Response<pb::EndConsoleSessionsResponse>, Status> {
        console::end_console_sessions(self, request).await
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        users::create_user(self, request).await
    }

    async fn import_accounts(
        &self,
        request: Request<pb::ImportAccountsRequest>,
    ) -> Result<Response<pb::ImportAccountsResponse>, Status> {
        accounts::import_accounts(self, request).await
    }

    async fn set_adoption_policy(
        &self,
        request: Request<pb::SetAdoptionPolicyRequest>,
    ) -> Result<Response<pb::SetAdoptionPolicyResponse>, Status> {
        accounts::set_adoption_policy(self, request).await
    }

    async fn get_adoption_policy(
        &self,
        request: Request<pb::GetAdoptionPolicyRequest>,
    ) -> Result<Response<pb::GetAdoptionPolicyResponse>, Status> {
        accounts::get_adoption_policy(self, request).await
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        users::get_user(self, request).await
    }

    async fn replace_user(
        &self,
        request: Request<pb::ReplaceUserRequest>,
    ) -> Result<Response<pb::ReplaceUserResponse>, Status> {
        users::replace_user(self, request).await
    }

    async fn patch_user(
        &self,
        request: Request<pb::PatchUserRequest>,
    ) -> Result<Response<pb::PatchUserResponse>, Status> {
        users::patch_user(self, request).await
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        users::delete_user(self, request).await
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        users::list_users(self, request).await
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::CreateGroupResponse>, Status> {
        groups::create_group(self, request).await
    }

    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::GetGroupResponse>, Status> {
        groups::get_group(self, request).await
    }

    async fn replace_group(
        &self,
        request: Request<pb::ReplaceGroupRequest>,
    ) -> Result<Response<pb::ReplaceGroupResponse>, Status> {
        groups::replace_group(self, request).await
    }

    async fn patch_group(
        &self,
        request: Request<pb::PatchGroupRequest>,
    ) -> Result<Response<pb::PatchGroupResponse>, Status> {
        groups::patch_group(self, request).await
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        groups::delete_group(self, request).await
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        groups::list_groups(self, request).await
    }

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        stream::watch(self, request).await
    }

    async fn list_stream_heads(
        &self,
        request: Request<pb::ListStreamHeadsRequest>,
    ) -> Result<Response<pb::ListStreamHeadsResponse>, Status> {
        stream::list_stream_heads(self, request).await
    }

    async fn read_changes(
        &self,
        request: Request<pb::ReadChangesRequest>,
    ) -> Result<Response<pb::ReadChangesResponse>, Status> {
        stream::read_changes(self, request).await
    }

    async fn snapshot(
        &self,
        request: Request<pb::SnapshotRequest>,
    ) -> Result<Response<pb::SnapshotResponse>, Status> {
        stream::snapshot(self, request).await
    }

    async fn record_requests(
        &self,
        request: Request<pb::RecordRequestsRequest>,
    ) -> Result<Response<pb::RecordRequestsResponse>, Status> {
        self.record(request.into_inner()).await.map(Response::new)
    }

    async fn list_request_log(
        &self,
        request: Request<pb::ListRequestLogRequest>,
    ) -> Result<Response<pb::ListRequestLogResponse>, Status> {
        self.list_log(request.into_inner()).await.map(Response::new)
    }

    async fn get_tenant_health(
        &self,
        request: Request<pb::GetTenantHealthRequest>,
    ) -> Result<Response<pb::GetTenantHealthResponse>, Status> {
        self.health(request.into_inner()).await.map(Response::new)
    }
}

/// Stream positions from a request, by tenant.
fn positions(list: Vec<pb::StreamPosition>) -> Result<HashMap<String, i64>, Status> {
    let mut at = HashMap::with_capacity(list.len());
    for p in list {
        let id = tenant(&p.tenant_id)?;
        if p.seq < 0 {
            return Err(Status::invalid_argument(
                "a stream position is not negative",
            ));
        }
        at.insert(id.as_str().to_owned(), p.seq);
    }
    Ok(at)
}
