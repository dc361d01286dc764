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
use crate::{console_link, convert, groups, watch};

mod log;

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

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    #[instrument(skip_all, fields(tenant_id = %request.get_ref().id))]
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        let pb::CreateTenantRequest { id, display_name } = request.into_inner();
        let id = tenant(&id)?;
        let name = if display_name.is_empty() {
            id.to_string()
        } else {
            display_name
        };
        let record = self.store.create_tenant(&id, &name).await?;
        Ok(Response::new(pb::CreateTenantResponse {
            tenant: Some(convert::tenant(record)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().id))]
    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        let id = tenant(&request.into_inner().id)?;
        let record = self
            .store
            .get_tenant(&id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))?;
        Ok(Response::new(pb::GetTenantResponse {
            tenant: Some(convert::tenant(record)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_tenants(
        &self,
        _request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let tenants = self.store.list_tenants().await?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.into_iter().map(convert::tenant).collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn set_tenant_limits(
        &self,
        request: Request<pb::SetTenantLimitsRequest>,
    ) -> Result<Response<pb::SetTenantLimitsResponse>, Status> {
        let pb::SetTenantLimitsRequest { tenant_id, limits } = request.into_inner();
        let limits = convert::limits_from(limits.unwrap_or_default());
        let stored = self
            .store
            .set_tenant_limits(&tenant(&tenant_id)?, limits)
            .await?;
        tracing::info!(?stored, "tenant limits set");
        Ok(Response::new(pb::SetTenantLimitsResponse {
            limits: Some(convert::limits(stored)),
        }))
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

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_tenant_limits(
        &self,
        request: Request<pb::GetTenantLimitsRequest>,
    ) -> Result<Response<pb::GetTenantLimitsResponse>, Status> {
        let id = tenant(&request.into_inner().tenant_id)?;
        let limits = self
            .store
            .get_tenant_limits(&id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))?;
        Ok(Response::new(pb::GetTenantLimitsResponse {
            limits: Some(convert::limits(limits)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn set_tenant_profile(
        &self,
        request: Request<pb::SetTenantProfileRequest>,
    ) -> Result<Response<pb::SetTenantProfileResponse>, Status> {
        let pb::SetTenantProfileRequest { tenant_id, profile } = request.into_inner();
        let profile = convert::profile_from(profile).ok_or_else(|| {
            IdentityError::InvalidArgument("profile must be entra, okta or generic".into())
        })?;
        self.store
            .set_tenant_profile(&tenant(&tenant_id)?, profile)
            .await?;
        tracing::info!(%profile, "tenant profile set");
        Ok(Response::new(pb::SetTenantProfileResponse {
            profile: convert::profile(profile) as i32,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_tenant_profile(
        &self,
        request: Request<pb::GetTenantProfileRequest>,
    ) -> Result<Response<pb::GetTenantProfileResponse>, Status> {
        let id = tenant(&request.into_inner().tenant_id)?;
        let profile = self
            .store
            .get_tenant_profile(&id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))?;
        Ok(Response::new(pb::GetTenantProfileResponse {
            profile: convert::profile(profile) as i32,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn issue_token(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        let pb::IssueTokenRequest {
            tenant_id,
            description,
            ttl_seconds,
            secret,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        // Storage refuses a NUL in text (Postgres): say so instead of failing.
        if description.chars().any(char::is_control) || description.chars().count() > 1000 {
            return Err(IdentityError::InvalidArgument(
                "a token description has at most 1000 characters and no control characters".into(),
            )
            .into());
        }
        let minted = if secret.is_empty() {
            token::mint().map_err(IdentityError::from)?
        } else if !self.allow_chosen_secrets {
            return Err(IdentityError::ChosenSecretRefused.into());
        } else if secret.len() < 16 || secret.chars().any(char::is_whitespace) {
            return Err(IdentityError::InvalidArgument(
                "a chosen secret needs at least 16 characters and no spaces".into(),
            )
            .into());
        } else {
            token::from_secret(secret)
        };
        let expires = match ttl_seconds {
            0 => None,
            ttl => {
                let ttl = i64::try_from(ttl).unwrap_or(i64::MAX / 2_000_000);
                Some(crate::domain::now_micros().saturating_add(ttl.saturating_mul(1_000_000)))
            }
        };
        let new = NewToken {
            hash: minted.hash,
            hint: minted.hint,
            description,
            expires,
        };
        let record = self.store.insert_token(&tenant, &new).await?;
        tracing::info!(token_id = %record.id, "token issued");
        Ok(Response::new(pb::IssueTokenResponse {
            token: Some(convert::token(record)),
            secret: minted.secret,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let tenant = tenant(&request.into_inner().tenant_id)?;
        let tokens = self.store.list_tokens(&tenant).await?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: tokens.into_iter().map(convert::token).collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, token_id = %request.get_ref().token_id))]
    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        let pb::RevokeTokenRequest {
            tenant_id,
            token_id,
        } = request.into_inner();
        let record = self
            .store
            .revoke_token(&tenant(&tenant_id)?, &token_id)
            .await?;
        tracing::info!("token revoked");
        Ok(Response::new(pb::RevokeTokenResponse {
            token: Some(convert::token(record)),
        }))
    }

    #[instrument(skip_all)]
    async fn authenticate_token(
        &self,
        request: Request<pb::AuthenticateTokenRequest>,
    ) -> Result<Response<pb::AuthenticateTokenResponse>, Status> {
        let secret = request.into_inner().secret;
        // Malformed secrets cost no database work (unless chosen secrets are on).
        if !self.allow_chosen_secrets && !token::well_formed(&secret) {
            return Err(IdentityError::Unauthenticated.into());
        }
        let owner = self
            .store
            .authenticate(&token::hash(&secret))
            .await?
            .ok_or(IdentityError::Unauthenticated)?;
        let crate::store::TokenOwner {
            tenant_id,
            token_id,
            limits,
            profile,
        } = owner;
        Ok(Response::new(pb::AuthenticateTokenResponse {
            tenant_id,
            token_id,
            limits: Some(convert::limits(limits)),
            profile: convert::profile(profile) as i32,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn issue_console_link(
        &self,
        request: Request<pb::IssueConsoleLinkRequest>,
    ) -> Result<Response<pb::IssueConsoleLinkResponse>, Status> {
        let pb::IssueConsoleLinkRequest {
            tenant_id,
            ttl_seconds,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let link = console_link::mint(ttl_seconds)?;
        self.store
            .insert_console_link(&tenant, &link.hash, link.expires)
            .await?;
        tracing::info!("console link issued");
        Ok(Response::new(pb::IssueConsoleLinkResponse {
            code: link.code,
            expires: Some(convert::timestamp(link.expires)),
        }))
    }

    #[instrument(skip_all)]
    async fn redeem_console_link(
        &self,
        request: Request<pb::RedeemConsoleLinkRequest>,
    ) -> Result<Response<pb::RedeemConsoleLinkResponse>, Status> {
        let code = request.into_inner().code;
        if !console_link::well_formed(&code) {
            return Err(IdentityError::ConsoleLinkInvalid.into());
        }
        let (tenant_id, epoch) = self
            .store
            .redeem_console_link(&console_link::hash(&code))
            .await?
            .ok_or(IdentityError::ConsoleLinkInvalid)?;
        tracing::info!(tenant_id = %tenant_id, "console link redeemed");
        Ok(Response::new(pb::RedeemConsoleLinkResponse {
            tenant_id,
            session_epoch: epoch_out(epoch),
        }))
    }

    #[instrument(skip_all)]
    async fn inspect_console_link(
        &self,
        request: Request<pb::InspectConsoleLinkRequest>,
    ) -> Result<Response<pb::InspectConsoleLinkResponse>, Status> {
        let code = request.into_inner().code;
        if !console_link::well_formed(&code) {
            return Err(IdentityError::ConsoleLinkInvalid.into());
        }
        let tenant_id = self
            .store
            .inspect_console_link(&console_link::hash(&code))
            .await?
            .ok_or(IdentityError::ConsoleLinkInvalid)?;
        Ok(Response::new(pb::InspectConsoleLinkResponse { tenant_id }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_console_session_epoch(
        &self,
        request: Request<pb::GetConsoleSessionEpochRequest>,
    ) -> Result<Response<pb::GetConsoleSessionEpochResponse>, Status> {
        let id = tenant(&request.into_inner().tenant_id)?;
        let epoch = self
            .store
            .console_session_epoch(&id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))?;
        Ok(Response::new(pb::GetConsoleSessionEpochResponse {
            session_epoch: epoch_out(epoch),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn end_console_sessions(
        &self,
        request: Request<pb::EndConsoleSessionsRequest>,
    ) -> Result<Response<pb::EndConsoleSessionsResponse>, Status> {
        let id = tenant(&request.into_inner().tenant_id)?;
        let epoch = self
            .store
            .end_console_sessions(&id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))?;
        tracing::info!(epoch, "console sessions ended");
        Ok(Response::new(pb::EndConsoleSessionsResponse {
            session_epoch: epoch_out(epoch),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let pb::CreateUserRequest {
            tenant_id,
            resource_json,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let cols = new_user_columns(self.types(&tenant).await?.user, &resource_json)?;
        let (record, created) = self.store.create_user_adopting(&tenant, &cols).await?;
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

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn import_accounts(
        &self,
        request: Request<pb::ImportAccountsRequest>,
    ) -> Result<Response<pb::ImportAccountsResponse>, Status> {
        let pb::ImportAccountsRequest {
            tenant_id,
            accounts,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let accounts = accounts
            .into_iter()
            .map(convert::imported_account)
            .collect::<Result<Vec<_>, _>>()?;
        let ids = self.store.import_accounts(&tenant, &accounts).await?;
        tracing::info!(accounts = ids.len(), "accounts imported");
        Ok(Response::new(pb::ImportAccountsResponse { ids }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn set_adoption_policy(
        &self,
        request: Request<pb::SetAdoptionPolicyRequest>,
    ) -> Result<Response<pb::SetAdoptionPolicyResponse>, Status> {
        let pb::SetAdoptionPolicyRequest { tenant_id, policy } = request.into_inner();
        let policy = convert::adoption_policy_from(policy).ok_or_else(|| {
            IdentityError::InvalidArgument(
                "policy must be off, externalId, verified email or userName".into(),
            )
        })?;
        self.store
            .set_adoption_policy(&tenant(&tenant_id)?, policy)
            .await?;
        tracing::info!(policy = policy.as_str(), "adoption policy set");
        Ok(Response::new(pb::SetAdoptionPolicyResponse {
            policy: convert::adoption_policy(policy) as i32,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_adoption_policy(
        &self,
        request: Request<pb::GetAdoptionPolicyRequest>,
    ) -> Result<Response<pb::GetAdoptionPolicyResponse>, Status> {
        let id = tenant(&request.into_inner().tenant_id)?;
        let policy = self
            .store
            .get_adoption_policy(&id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))?;
        Ok(Response::new(pb::GetAdoptionPolicyResponse {
            policy: convert::adoption_policy(policy) as i32,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let pb::GetUserRequest {
            tenant_id,
            user_id: id,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let record = self
            .store
            .get_user(&tenant, &user_id(&id)?)
            .await?
            .ok_or(IdentityError::NotFound("user"))?;
        Ok(Response::new(pb::GetUserResponse {
            user: self.user_with_groups(&tenant, record).await?,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
    async fn replace_user(
        &self,
        request: Request<pb::ReplaceUserRequest>,
    ) -> Result<Response<pb::ReplaceUserResponse>, Status> {
        let pb::ReplaceUserRequest {
            tenant_id,
            user_id: id,
            resource_json,
            if_version,
        } = request.into_inner();
        let (tenant, id) = (tenant(&tenant_id)?, user_id(&id)?);
        let rt = self.types(&tenant).await?.user;
        let doc =
            scim::resource::normalize(rt, &parse_json(&resource_json)?, scim::WriteMode::Replace)
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
        let record = self
            .store
            .modify_user(&tenant, &id, if_version, &change)
            .await?;
        Ok(Response::new(pb::ReplaceUserResponse {
            user: self.user_with_groups(&tenant, record).await?,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
    async fn patch_user(
        &self,
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
        let rt = self.types(&tenant).await?.user;
        let change = move |current: &crate::store::UserRecord| {
            let mut doc = parse_json(&current.resource)?;
            scim::resource::drop_unknown_extensions(rt, &mut doc);
            let patched = scim::patch::apply_patch(rt, &doc, &ops, &current.id)?;
            UserColumns::from_canonical(&patched)
        };
        let record = self
            .store
            .modify_user(&tenant, &id, if_version, &change)
            .await?;
        Ok(Response::new(pb::PatchUserResponse {
            user: self.user_with_groups(&tenant, record).await?,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, user_id = %request.get_ref().user_id))]
    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let pb::DeleteUserRequest {
            tenant_id,
            user_id: id,
            if_version,
        } = request.into_inner();
        self.store
            .delete_user(&tenant(&tenant_id)?, &user_id(&id)?, if_version)
            .await?;
        tracing::info!("user deleted");
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_users(
        &self,
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
        query.rt = TenantTypes::custom(self.types(&tenant).await?.user);
        let mut page = self.store.list_users(&tenant, &query).await?;
        let (first_key, last_key, more) = page_edges(&mut page);
        Ok(Response::new(pb::ListUsersResponse {
            total_results: page.total,
            users: self.users_with_groups(&tenant, page.items).await?,
            first_key,
            last_key,
            more,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::CreateGroupResponse>, Status> {
        let pb::CreateGroupRequest {
            tenant_id,
            resource_json,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let rt = self.types(&tenant).await?.group;
        let (cols, members) = groups::group_document(rt, &resource_json, scim::WriteMode::Create)?;
        let record = self.store.create_group(&tenant, &cols, &members).await?;
        tracing::info!(group_id = %record.id, members = members.len(), "group created");
        let group = groups::respond(self.store.as_ref(), &tenant, record, true).await?;
        Ok(Response::new(pb::CreateGroupResponse {
            group: Some(group),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::GetGroupResponse>, Status> {
        let pb::GetGroupRequest {
            tenant_id,
            group_id: id,
            include_members,
        } = request.into_inner();
        let record = self
            .store
            .get_group(&tenant(&tenant_id)?, &group_id(&id)?, include_members)
            .await?
            .ok_or(IdentityError::NotFound("group"))?;
        Ok(Response::new(pb::GetGroupResponse {
            group: Some(convert::group(record)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
    async fn replace_group(
        &self,
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
        let rt = self.types(&tenant).await?.group;
        let (cols, members) = groups::group_document(rt, &resource_json, scim::WriteMode::Replace)?;
        let change = move |_: &crate::store::GroupRecord| {
            Ok((cols.clone(), vec![MemberOp::ReplaceAll(members.clone())]))
        };
        let record = self
            .store
            .modify_group(&tenant, &id, if_version, &change)
            .await?;
        let group = groups::respond(self.store.as_ref(), &tenant, record, include_members).await?;
        Ok(Response::new(pb::ReplaceGroupResponse {
            group: Some(group),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
    async fn patch_group(
        &self,
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
        let (doc_ops, member_ops) = groups::split_patch(patch_operations(operations)?)?;
        let rt = self.types(&tenant).await?.group;
        let change = move |current: &crate::store::GroupRecord| {
            Ok((
                groups::patch_document(rt, current, &doc_ops)?,
                member_ops.clone(),
            ))
        };
        let record = self
            .store
            .modify_group(&tenant, &id, if_version, &change)
            .await?;
        let group = groups::respond(self.store.as_ref(), &tenant, record, include_members).await?;
        Ok(Response::new(pb::PatchGroupResponse { group: Some(group) }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, group_id = %request.get_ref().group_id))]
    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let pb::DeleteGroupRequest {
            tenant_id,
            group_id: id,
            if_version,
        } = request.into_inner();
        self.store
            .delete_group(&tenant(&tenant_id)?, &group_id(&id)?, if_version)
            .await?;
        tracing::info!("group deleted");
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_groups(
        &self,
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
        query.rt = TenantTypes::custom(self.types(&tenant).await?.group);
        let mut page = self
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

    type WatchStream = watch::WatchStream;

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, after_seq = request.get_ref().after_seq))]
    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
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
            self.store.clone(),
            tenants,
            cursors,
            from_now,
        )))
    }

    #[instrument(skip_all, fields(partitions = request.get_ref().partitions.len()))]
    async fn list_stream_heads(
        &self,
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
        let heads = watch::heads_after(self.store.as_ref(), &tenants, &known, wait).await?;
        Ok(Response::new(pb::ListStreamHeadsResponse {
            heads: heads
                .into_iter()
                .map(|(tenant_id, seq)| pb::StreamPosition { tenant_id, seq })
                .collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, after_seq = request.get_ref().after_seq))]
    async fn read_changes(
        &self,
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
        let rows = self
            .store
            .changes_after(&tenant, after_seq.max(0), limit, watch::MAX_BYTES)
            .await?;
        watch::contiguous(&tenant, after_seq.max(0), &rows)?;
        Ok(Response::new(pb::ReadChangesResponse {
            changes: rows.into_iter().map(convert::change).collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn snapshot(
        &self,
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
        let (as_of_seq, users) = self.store.snapshot(&tenant, &after_user_id, limit).await?;
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
