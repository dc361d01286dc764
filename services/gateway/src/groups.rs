//! `/Groups`: SCIM requests turned into `identity.v1` calls. Members are
//! loaded only when the response will show them, so
//! `excludedAttributes=members` costs the same for any group size.

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
use crate::provlog;
use crate::render::{self, Projection, ProjectionParams};
use crate::resource::Listing;
use crate::response::{ScimJson, ScimResponse};
use crate::tolerance::{self, Kind};
use crate::users::patch_summary;

const MEMBERS: &str = "members";

async fn respond(
    state: &AppState,
    group: &pb::Group,
    projection: &Projection,
) -> Result<ScimResponse, ApiError> {
    let rt = state.types(&group.tenant_id).await?.group;
    let body = render::group(group, rt, &state.tenant_base(&group.tenant_id), projection)?;
    Ok(ScimResponse::ok(body).etag(&render::etag(group.version)))
}

/// `/Groups` as a [`Listing`]: the list and `.search` endpoints.
pub struct Groups;

/// Names the group a request touched, with what happened to it.
fn note_group(group: &pb::Group, what: impl Into<String>) {
    let what = what.into();
    provlog::note(|n| {
        n.resource_type = Some("Group");
        n.resource_id = Some(group.id.clone());
        n.resource_name = Some(group.display_name.clone());
        n.summary = Some(what);
    });
}

impl Listing for Groups {
    const ENDPOINT: &'static str = "Groups";
    const KIND: &'static str = "Group";

    /// One page of groups as rendered SCIM documents, with the total (and
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
            .list_groups(pb::ListGroupsRequest {
                tenant_id: caller.tenant_id.clone(),
                filter,
                start_index: params.start_index,
                count: params.count,
                sort_by,
                sort_order,
                include_members: params.projection.wants(MEMBERS),
                keyset: paging.keyset.clone(),
            })
            .await?
            .into_inner();
        let base = state.tenant_base(&caller.tenant_id);
        let rt = state.types(&caller.tenant_id).await?.group;
        let resources = response
            .groups
            .iter()
            .map(|g| render::group(g, rt, &base, &params.projection))
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
    if let Some(name) = body.get("displayName").and_then(Value::as_str) {
        provlog::note(|n| n.resource_name = Some(name.to_owned()));
    }
    let body = tolerance::resource(&state, &caller, Kind::Group, body).await?;
    let members = body
        .get("members")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let response = state
        .identity
        .clone()
        .create_group(pb::CreateGroupRequest {
            tenant_id: caller.tenant_id.clone(),
            resource_json: body.to_string(),
        })
        .await?
        .into_inner();
    let group = required(response.group)?;
    match members {
        0 => note_group(&group, "created"),
        n => note_group(&group, format!("created with {n} members")),
    }
    let base = state.tenant_base(&caller.tenant_id);
    let location = format!("{base}/Groups/{}", group.id);
    let rt = state.types(&caller.tenant_id).await?.group;
    let body = render::group(&group, rt, &base, &projection)?;
    Ok(ScimResponse::created(body, &location).etag(&render::etag(group.version)))
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, group_id = %id))]
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
        .get_group(pb::GetGroupRequest {
            tenant_id: caller.tenant_id.clone(),
            group_id: id,
            include_members: projection.wants(MEMBERS),
        })
        .await?
        .into_inner();
    let group = required(response.group)?;
    note_group(&group, "read");
    let etag = render::etag(group.version);
    if if_none_match(&headers, &etag) {
        return Ok(ScimResponse::not_modified(&etag));
    }
    respond(&state, &group, &projection).await
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, group_id = %id))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    Query(params): Query<ProjectionParams>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let projection = Projection::from_params(&params, caller.behaviours())?;
    let body = tolerance::resource(&state, &caller, Kind::Group, body).await?;
    let response = state
        .identity
        .clone()
        .replace_group(pb::ReplaceGroupRequest {
            tenant_id: caller.tenant_id.clone(),
            group_id: id,
            resource_json: body.to_string(),
            if_version: if_match(&headers),
            include_members: projection.wants(MEMBERS),
        })
        .await?
        .into_inner();
    let group = required(response.group)?;
    note_group(&group, "replaced");
    respond(&state, &group, &projection).await
}

/// A membership PATCH answers 204 (RFC 7644 §3.5.2 allows it, Entra and Okta
/// accept it), so adding one member never ships the whole member list back.
/// With `attributes` or `excludedAttributes` it answers 200 with the group.
#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, group_id = %id))]
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
    let operations = tolerance::patch(&state, &caller, Kind::Group, &body).await?;
    let wants_body = !projection.is_empty();
    if operations.is_empty() {
        // Every operation was on an attribute the profile ignores.
        let group = state
            .identity
            .clone()
            .get_group(pb::GetGroupRequest {
                tenant_id: caller.tenant_id.clone(),
                group_id: id,
                include_members: wants_body && projection.wants(MEMBERS),
            })
            .await?
            .into_inner()
            .group;
        let group = required(group)?;
        note_group(&group, "patched: nothing it knows");
        return if wants_body {
            respond(&state, &group, &projection).await
        } else {
            Ok(ScimResponse::no_content().etag(&render::etag(group.version)))
        };
    }
    let response = state
        .identity
        .clone()
        .patch_group(pb::PatchGroupRequest {
            tenant_id: caller.tenant_id.clone(),
            group_id: id,
            operations,
            if_version: if_match(&headers),
            include_members: wants_body && projection.wants(MEMBERS),
        })
        .await?
        .into_inner();
    let group = required(response.group)?;
    note_group(&group, what);
    if wants_body {
        respond(&state, &group, &projection).await
    } else {
        Ok(ScimResponse::no_content().etag(&render::etag(group.version)))
    }
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id, group_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<ScimResponse, ApiError> {
    state
        .identity
        .clone()
        .delete_group(pb::DeleteGroupRequest {
            tenant_id: caller.tenant_id.clone(),
            group_id: id,
            if_version: if_match(&headers),
        })
        .await?;
    provlog::note(|n| n.summary = Some("deleted".into()));
    Ok(ScimResponse::no_content())
}
