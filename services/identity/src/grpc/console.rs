//! Console links and sessions: `IssueConsoleLink`, `RedeemConsoleLink`, `InspectConsoleLink`, `GetConsoleSessionEpoch`, `EndConsoleSessions`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn issue_console_link(
    api: &IdentityApi,
    request: Request<pb::IssueConsoleLinkRequest>,
) -> Result<Response<pb::IssueConsoleLinkResponse>, Status> {
    let pb::IssueConsoleLinkRequest {
        tenant_id,
        ttl_seconds,
    } = request.into_inner();
    let tenant = tenant(&tenant_id)?;
    let link = console_link::mint(ttl_seconds)?;
    api.store
        .insert_console_link(&tenant, &link.hash, link.expires)
        .await?;
    tracing::info!("console link issued");
    Ok(Response::new(pb::IssueConsoleLinkResponse {
        code: link.code,
        expires: Some(convert::timestamp(link.expires)),
    }))
}

#[instrument(skip_all)]
pub(super) async fn redeem_console_link(
    api: &IdentityApi,
    request: Request<pb::RedeemConsoleLinkRequest>,
) -> Result<Response<pb::RedeemConsoleLinkResponse>, Status> {
    let code = request.into_inner().code;
    if !console_link::well_formed(&code) {
        return Err(IdentityError::ConsoleLinkInvalid.into());
    }
    let (tenant_id, epoch) = api
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
pub(super) async fn inspect_console_link(
    api: &IdentityApi,
    request: Request<pb::InspectConsoleLinkRequest>,
) -> Result<Response<pb::InspectConsoleLinkResponse>, Status> {
    let code = request.into_inner().code;
    if !console_link::well_formed(&code) {
        return Err(IdentityError::ConsoleLinkInvalid.into());
    }
    let tenant_id = api
        .store
        .inspect_console_link(&console_link::hash(&code))
        .await?
        .ok_or(IdentityError::ConsoleLinkInvalid)?;
    Ok(Response::new(pb::InspectConsoleLinkResponse { tenant_id }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn get_console_session_epoch(
    api: &IdentityApi,
    request: Request<pb::GetConsoleSessionEpochRequest>,
) -> Result<Response<pb::GetConsoleSessionEpochResponse>, Status> {
    let id = tenant(&request.into_inner().tenant_id)?;
    let epoch = api
        .store
        .console_session_epoch(&id)
        .await?
        .ok_or(IdentityError::NotFound("tenant"))?;
    Ok(Response::new(pb::GetConsoleSessionEpochResponse {
        session_epoch: epoch_out(epoch),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn end_console_sessions(
    api: &IdentityApi,
    request: Request<pb::EndConsoleSessionsRequest>,
) -> Result<Response<pb::EndConsoleSessionsResponse>, Status> {
    let id = tenant(&request.into_inner().tenant_id)?;
    let epoch = api
        .store
        .end_console_sessions(&id)
        .await?
        .ok_or(IdentityError::NotFound("tenant"))?;
    tracing::info!(epoch, "console sessions ended");
    Ok(Response::new(pb::EndConsoleSessionsResponse {
        session_epoch: epoch_out(epoch),
    }))
}
