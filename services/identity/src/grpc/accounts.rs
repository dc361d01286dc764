//! Accounts that exist before SCIM and their adoption: `ImportAccounts`, `SetAdoptionPolicy`, `GetAdoptionPolicy`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn import_accounts(
    api: &IdentityApi,
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
    let ids = api.store.import_accounts(&tenant, &accounts).await?;
    tracing::info!(accounts = ids.len(), "accounts imported");
    Ok(Response::new(pb::ImportAccountsResponse { ids }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn set_adoption_policy(
    api: &IdentityApi,
    request: Request<pb::SetAdoptionPolicyRequest>,
) -> Result<Response<pb::SetAdoptionPolicyResponse>, Status> {
    let pb::SetAdoptionPolicyRequest { tenant_id, policy } = request.into_inner();
    let policy = convert::adoption_policy_from(policy).ok_or_else(|| {
        IdentityError::InvalidArgument(
            "policy must be off, externalId, verified email or userName".into(),
        )
    })?;
    api.store
        .set_adoption_policy(&tenant(&tenant_id)?, policy)
        .await?;
    tracing::info!(policy = policy.as_str(), "adoption policy set");
    Ok(Response::new(pb::SetAdoptionPolicyResponse {
        policy: convert::adoption_policy(policy) as i32,
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn get_adoption_policy(
    api: &IdentityApi,
    request: Request<pb::GetAdoptionPolicyRequest>,
) -> Result<Response<pb::GetAdoptionPolicyResponse>, Status> {
    let id = tenant(&request.into_inner().tenant_id)?;
    let policy = api
        .store
        .get_adoption_policy(&id)
        .await?
        .ok_or(IdentityError::NotFound("tenant"))?;
    Ok(Response::new(pb::GetAdoptionPolicyResponse {
        policy: convert::adoption_policy(policy) as i32,
    }))
}
