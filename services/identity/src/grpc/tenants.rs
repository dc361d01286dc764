//! Tenants, their limits and IdP profiles: `CreateTenant`, `GetTenant`, `ListTenants`, `SetTenantLimits`, `GetTenantLimits`, `SetTenantProfile`, `GetTenantProfile`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().id))]
pub(super) async fn create_tenant(
    api: &IdentityApi,
    request: Request<pb::CreateTenantRequest>,
) -> Result<Response<pb::CreateTenantResponse>, Status> {
    let pb::CreateTenantRequest { id, display_name } = request.into_inner();
    let id = tenant(&id)?;
    let name = if display_name.is_empty() {
        id.to_string()
    } else {
        display_name
    };
    let record = api.store.create_tenant(&id, &name).await?;
    Ok(Response::new(pb::CreateTenantResponse {
        tenant: Some(convert::tenant(record)),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().id))]
pub(super) async fn get_tenant(
    api: &IdentityApi,
    request: Request<pb::GetTenantRequest>,
) -> Result<Response<pb::GetTenantResponse>, Status> {
    let id = tenant(&request.into_inner().id)?;
    let record = api
        .store
        .get_tenant(&id)
        .await?
        .ok_or(IdentityError::NotFound("tenant"))?;
    Ok(Response::new(pb::GetTenantResponse {
        tenant: Some(convert::tenant(record)),
    }))
}

#[instrument(skip_all)]
pub(super) async fn list_tenants(
    api: &IdentityApi,
    _request: Request<pb::ListTenantsRequest>,
) -> Result<Response<pb::ListTenantsResponse>, Status> {
    let tenants = api.store.list_tenants().await?;
    Ok(Response::new(pb::ListTenantsResponse {
        tenants: tenants.into_iter().map(convert::tenant).collect(),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn set_tenant_limits(
    api: &IdentityApi,
    request: Request<pb::SetTenantLimitsRequest>,
) -> Result<Response<pb::SetTenantLimitsResponse>, Status> {
    let pb::SetTenantLimitsRequest { tenant_id, limits } = request.into_inner();
    let limits = convert::limits_from(limits.unwrap_or_default());
    let stored = api
        .store
        .set_tenant_limits(&tenant(&tenant_id)?, limits)
        .await?;
    tracing::info!(?stored, "tenant limits set");
    Ok(Response::new(pb::SetTenantLimitsResponse {
        limits: Some(convert::limits(stored)),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn get_tenant_limits(
    api: &IdentityApi,
    request: Request<pb::GetTenantLimitsRequest>,
) -> Result<Response<pb::GetTenantLimitsResponse>, Status> {
    let id = tenant(&request.into_inner().tenant_id)?;
    let limits = api
        .store
        .get_tenant_limits(&id)
        .await?
        .ok_or(IdentityError::NotFound("tenant"))?;
    Ok(Response::new(pb::GetTenantLimitsResponse {
        limits: Some(convert::limits(limits)),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn set_tenant_profile(
    api: &IdentityApi,
    request: Request<pb::SetTenantProfileRequest>,
) -> Result<Response<pb::SetTenantProfileResponse>, Status> {
    let pb::SetTenantProfileRequest { tenant_id, profile } = request.into_inner();
    let profile = convert::profile_from(profile).ok_or_else(|| {
        IdentityError::InvalidArgument("profile must be entra, okta or generic".into())
    })?;
    api.store
        .set_tenant_profile(&tenant(&tenant_id)?, profile)
        .await?;
    tracing::info!(%profile, "tenant profile set");
    Ok(Response::new(pb::SetTenantProfileResponse {
        profile: convert::profile(profile) as i32,
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn get_tenant_profile(
    api: &IdentityApi,
    request: Request<pb::GetTenantProfileRequest>,
) -> Result<Response<pb::GetTenantProfileResponse>, Status> {
    let id = tenant(&request.into_inner().tenant_id)?;
    let profile = api
        .store
        .get_tenant_profile(&id)
        .await?
        .ok_or(IdentityError::NotFound("tenant"))?;
    Ok(Response::new(pb::GetTenantProfileResponse {
        profile: convert::profile(profile) as i32,
    }))
}
