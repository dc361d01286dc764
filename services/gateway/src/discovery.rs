//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes,
//! Schemas. Documents come from the `scim` crate's schema definitions, so
//! they say exactly what the gateway accepts.

use axum::extract::{Path, State};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::listing::{DEFAULT_COUNT, MAX_COUNT};
use crate::render;
use crate::response::ScimResponse;

pub async fn service_provider_config(
    State(state): State<AppState>,
    caller: Caller,
) -> ScimResponse {
    // A connection check (the contract of identity.v1 counts it as one).
    crate::provlog::note(|n| {
        n.summary = Some("Test Connection: ServiceProviderConfig".into());
        n.test_connection = true;
    });
    let options = scim::discovery::ServiceProviderOptions {
        documentation_uri: None,
        max_results: MAX_COUNT,
        max_payload_bytes: state.protocol.bulk_max_payload_bytes as u64,
        max_operations: state
            .protection
            .bulk_max_operations(&caller, state.protocol.bulk_max_operations),
        etag: true,
        sort: true,
        change_password: false,
        bulk: true,
        filter: true,
        patch: true,
        pagination: Some(scim::discovery::PaginationOptions {
            cursor: true,
            index: true,
            default_method: "index",
            default_page_size: DEFAULT_COUNT,
            max_page_size: MAX_COUNT,
            cursor_timeout: state.cursors.timeout_seconds(),
        }),
    };
    ScimResponse::ok(scim::discovery::service_provider_config(
        &options,
        &state.tenant_base(&caller.tenant_id),
    ))
}

fn list_of(items: Vec<Value>) -> ScimResponse {
    ScimResponse::ok(render::list(items.len() as u64, 1, items))
}

fn one_of(items: Vec<Value>, id: &str) -> Result<ScimResponse, ApiError> {
    items
        .into_iter()
        .find(|item| {
            item.get("id")
                .and_then(Value::as_str)
                .is_some_and(|i| i.eq_ignore_ascii_case(id))
        })
        .map(ScimResponse::ok)
        .ok_or_else(ApiError::not_found)
}

pub async fn resource_types(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ScimResponse, ApiError> {
    let types = state.types(&caller.tenant_id).await?;
    Ok(list_of(scim::discovery::resource_types_of(
        &state.tenant_base(&caller.tenant_id),
        &types.all(),
    )))
}

pub async fn resource_type(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<ScimResponse, ApiError> {
    let types = state.types(&caller.tenant_id).await?;
    one_of(
        scim::discovery::resource_types_of(&state.tenant_base(&caller.tenant_id), &types.all()),
        &id,
    )
}

/// The tenant's schemas: the static ones and its own extensions (a tenant
/// never sees another tenant's).
pub async fn schemas(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ScimResponse, ApiError> {
    let types = state.types(&caller.tenant_id).await?;
    Ok(list_of(scim::discovery::schemas_of(
        &state.tenant_base(&caller.tenant_id),
        &types.all(),
    )))
}

pub async fn schema(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<ScimResponse, ApiError> {
    let types = state.types(&caller.tenant_id).await?;
    one_of(
        scim::discovery::schemas_of(&state.tenant_base(&caller.tenant_id), &types.all()),
        &id,
    )
}
