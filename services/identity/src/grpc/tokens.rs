//! Bearer tokens: `IssueToken`, `ListTokens`, `RevokeToken`, `AuthenticateToken`.

use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::*;

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn issue_token(
    api: &IdentityApi,
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
    } else if !api.allow_chosen_secrets {
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
    let record = api.store.insert_token(&tenant, &new).await?;
    tracing::info!(token_id = %record.id, "token issued");
    Ok(Response::new(pb::IssueTokenResponse {
        token: Some(convert::token(record)),
        secret: minted.secret,
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
pub(super) async fn list_tokens(
    api: &IdentityApi,
    request: Request<pb::ListTokensRequest>,
) -> Result<Response<pb::ListTokensResponse>, Status> {
    let tenant = tenant(&request.into_inner().tenant_id)?;
    let tokens = api.store.list_tokens(&tenant).await?;
    Ok(Response::new(pb::ListTokensResponse {
        tokens: tokens.into_iter().map(convert::token).collect(),
    }))
}

#[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id, token_id = %request.get_ref().token_id))]
pub(super) async fn revoke_token(
    api: &IdentityApi,
    request: Request<pb::RevokeTokenRequest>,
) -> Result<Response<pb::RevokeTokenResponse>, Status> {
    let pb::RevokeTokenRequest {
        tenant_id,
        token_id,
    } = request.into_inner();
    let record = api
        .store
        .revoke_token(&tenant(&tenant_id)?, &token_id)
        .await?;
    tracing::info!("token revoked");
    Ok(Response::new(pb::RevokeTokenResponse {
        token: Some(convert::token(record)),
    }))
}

#[instrument(skip_all)]
pub(super) async fn authenticate_token(
    api: &IdentityApi,
    request: Request<pb::AuthenticateTokenRequest>,
) -> Result<Response<pb::AuthenticateTokenResponse>, Status> {
    let secret = request.into_inner().secret;
    // Malformed secrets cost no database work (unless chosen secrets are on).
    if !api.allow_chosen_secrets && !token::well_formed(&secret) {
        return Err(IdentityError::Unauthenticated.into());
    }
    let owner = api
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
