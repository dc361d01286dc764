//! `/Users`: SCIM requests turned into `identity.v1` calls.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use proto::identity::v1 as pb;
use serde_json::Value;
use tracing::instrument;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, required};
use crate::listing::ListParams;
use crate::paging::{Listed, Paging};
use crate::preconditions::{if_match, if_none_match};
use crate::provlog::{self, summary};
use crate::render::{self, Projection, ProjectionParams};
use crate::resource::Listing;
use crate::response::{ScimJson, ScimResponse};
use crate::tolerance::{self, Kind};

async fn respond(
    state: &AppState,
    user: &pb::User,
    projection: &Projection,
) -> Result<ScimResponse, ApiError> {
    let rt = state.types(&user.tenant_id).await?.user;
    let body = render::user(user, rt, &state.tenant_base(&user.tenant_id), projection)?;
    Ok(ScimResponse::ok(body).etag(&render::etag(user.version)))
}

/// `/Users` as a [`Listing`]: the list and `.search` endpoints.
pub struct Users;

/// Names the user a request touched, with what happened to it.
fn note_user(user: &pb::User, what: impl Into<String>) {
    let what = what.into();
    provlog::note(|n| {
        n.resource_type = Some("User");
        n.resource_id = Some(user.id.clone());
        n.resource_name = Some(user.user_name.clone());
        n.summary = Some(what);
    });
}

impl Listing for Users {
    const ENDPOINT: &'static str = "Users";
    const KIND: &'static str = "User";

    /// One page of users as rendered SCIM documents, with the total (and
    /// the keys of its edges, in cursor pagination).
    async fn page(
        state: &AppState,
        caller: &Caller,
        params: &ListParams,
        paging: &Paging<'_>,
    ) -> Result<Listed, ApiError> {
        let (filter, sort_by, sort_order) = paging.wire();
        let response = state
            .identity
            .clone()
            .list_users(pb::ListUsersRequest {
                tenant_id: caller.tenant_id.clone(),
                filter,
                start_index: params.start_index,
                count: params.count,
                sort_by,
                sort_order,
                keyset: paging.keyset.clone(),
            })
            .await?
            .into_inner();
        let base = state.tenant_base(&caller.tenant_id);
        let rt = state.types(&caller.tenant_id).await?.user;
        let resources = response
            .users
            .iter()
            .map(|u| render::user(u, rt, &base, &params.projection))
            .collect::<Result<Vec<Value>, _>>()?;
        Ok(Listed {
            total: response.total_results,
            resources,
            first_key: response.first_key,
            last_key: response.last_key,
            more: response.more,
        })
    }
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ProjectionParams>,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let projection = Projection::from_params(&params, caller.behaviours())?;
    // Named before the call, so a refused create (409) shows whom it was for.
    if let Some(name) = body.get("userName").and_then(Value::as_str) {
        provlog::note(|n| n.resource_name = Some(name.to_owned()));
    }
    let body = tolerance::resource(&state, &caller, Kind::User, body).await?;
    let response = state
        .identity
        .clone()
        .create_user(pb::CreateUserRequest {
            tenant_id: caller.tenant_id.clone(),
            resource_json: body.to_string(),
        })
        .await?
        .into_inner();
    let adopted_by = response.adopted_by;
    let user = required(response.user)?;
    if adopted_by.is_empty() {
        note_user(&user, "created");
    } else {
        // The audit entry of a takeover: which account, by which rule.
        note_user(
            &user,
            format!("created: adopted the account that existed before SCIM (rule {adopted_by})"),
        );
    }
    let base = state.tenant_base(&caller.tenant_id);
    let location = format!("{base}/Users/{}", user.id);
    let rt = state.types(&caller.tenant_id).await?.user;
    let body = render::user(&user, rt, &base, &projection)?;
    Ok(ScimResponse::created(body, &location).etag(&render::etag(user.version)))
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, user_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    Query(params): Query<ProjectionParams>,
    headers: HeaderMap,
) -> Result<ScimResponse, ApiError> {
    let projection = Projection::from_params(&params, caller.behaviours())?;
    let response = state
        .identity
        .clone()
        .get_user(pb::GetUserRequest {
            tenant_id: caller.tenant_id.clone(),
            user_id: id,
        })
        .await?
        .into_inner();
    let user = required(response.user)?;
    note_user(&user, "read");
    let etag = render::etag(user.version);
    if if_none_match(&headers, &etag) {
        return Ok(ScimResponse::not_modified(&etag));
    }
    respond(&state, &user, &projection).await
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, user_id = %id))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    Query(params): Query<ProjectionParams>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let projection = Projection::from_params(&params, caller.behaviours())?;
    let body = tolerance::resource(&state, &caller, Kind::User, body).await?;
    let response = state
        .identity
        .clone()
        .replace_user(pb::ReplaceUserRequest {
            tenant_id: caller.tenant_id.clone(),
            user_id: id,
            resource_json: body.to_string(),
            if_version: if_match(&headers),
        })
        .await?
        .into_inner();
    let user = required(response.user)?;
    note_user(&user, "replaced");
    respond(&state, &user, &projection).await
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, user_id = %id))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    Query(params): Query<ProjectionParams>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let projection = Projection::from_params(&params, caller.behaviours())?;
    let what = patch_summary(&body);
    let operations = tolerance::patch(&state, &caller, Kind::User, &body).await?;
    if operations.is_empty() {
        // Every operation was on an attribute the profile ignores.
        let user = state
            .identity
            .clone()
            .get_user(pb::GetUserRequest {
                tenant_id: caller.tenant_id.clone(),
                user_id: id,
            })
            .await?
            .into_inner()
            .user;
        let user = required(user)?;
        note_user(&user, "patched: nothing it knows");
        return respond(&state, &user, &projection).await;
    }
    let response = state
        .identity
        .clone()
        .patch_user(pb::PatchUserRequest {
            tenant_id: caller.tenant_id.clone(),
            user_id: id,
            operations,
            if_version: if_match(&headers),
        })
        .await?
        .into_inner();
    let user = required(response.user)?;
    note_user(&user, what);
    respond(&state, &user, &projection).await
}

/// The provisioning log's summary of a PATCH body ("patched" when it does
/// not parse; the parse error is the response then).
pub fn patch_summary(body: &Value) -> String {
    scim::patch::parse_patch_request(body)
        .map(|ops| summary::patch(&ops))
        .unwrap_or_else(|_| "patched".to_owned())
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, user_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<ScimResponse, ApiError> {
    state
        .identity
        .clone()
        .delete_user(pb::DeleteUserRequest {
            tenant_id: caller.tenant_id.clone(),
            user_id: id,
            if_version: if_match(&headers),
        })
        .await?;
    provlog::note(|n| n.summary = Some("deleted".into()));
    Ok(ScimResponse::no_content())
}
