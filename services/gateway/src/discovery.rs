//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes,
//! Schemas. Documents come from the `scim` crate's schema definitions, so
//! they say exactly what the gateway accepts.

use axum::extract::{Path, State};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::listing::MAX_COUNT;
use crate::render;
use crate::response::ScimResponse;

pub async fn service_provider_config(
    State(state): State<AppState>,
    caller: Caller,
) -> ScimResponse {
    let options = scim::discovery::ServiceProviderOptions {
        documentation_uri: None,
        max_results: MAX_COUNT,
        max_payload_bytes: state.max_body_bytes as u64,
        etag: true,
        sort: true,
        change_password: false,
        bulk: false,
        filter: true,
        patch: true,
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

pub async fn resource_types(State(state): State<AppState>, caller: Caller) -> ScimResponse {
    list_of(scim::discovery::resource_types(
        &state.tenant_base(&caller.tenant_id),
    ))
}

pub async fn resource_type(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<ScimResponse, ApiError> {
    one_of(
        scim::discovery::resource_types(&state.tenant_base(&caller.tenant_id)),
        &id,
    )
}

pub async fn schemas(State(state): State<AppState>, caller: Caller) -> ScimResponse {
    list_of(scim::discovery::schemas(
        &state.tenant_base(&caller.tenant_id),
    ))
}

pub async fn schema(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<ScimResponse, ApiError> {
    one_of(
        scim::discovery::schemas(&state.tenant_base(&caller.tenant_id)),
        &id,
    )
}
