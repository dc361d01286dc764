//! What `/Users` and `/Groups` share: the list and `.search` endpoints over
//! a resource type's page function, and the provisioning-log note of a
//! list.

use std::collections::HashMap;
use std::future::Future;

use axum::extract::{Query, State};
use serde_json::Value;
use tracing::instrument;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::paging::{Listed, Paging};
use crate::provlog::{self, summary};
use crate::response::{ScimJson, ScimResponse};

/// A resource type's list endpoints.
pub trait Listing: Send + Sync + 'static {
    /// The endpoint below the tenant's base URL (`Users`).
    const ENDPOINT: &'static str;
    /// The resource type the provisioning log names (`User`).
    const KIND: &'static str;

    /// One page as rendered SCIM documents, with the total (and the keys of
    /// its edges, in cursor pagination).
    fn page(
        state: &AppState,
        caller: &Caller,
        params: &ListParams,
        paging: &Paging<'_>,
    ) -> impl Future<Output = Result<Listed, ApiError>> + Send;
}

/// `GET /{Users,Groups}`.
#[instrument(skip_all, fields(tenant_id = %caller.tenant_id))]
pub async fn list<R: Listing>(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<ScimResponse, ApiError> {
    let params = ListParams::from_query_with(&query, caller.behaviours())?;
    list_with::<R>(&state, &caller, params).await
}

/// `POST /{Users,Groups}/.search`.
#[instrument(skip_all, fields(tenant_id = %caller.tenant_id))]
pub async fn search<R: Listing>(
    State(state): State<AppState>,
    caller: Caller,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let params = ListParams::from_search_with(&body, caller.behaviours())?;
    list_with::<R>(&state, &caller, params).await
}

async fn list_with<R: Listing>(
    state: &AppState,
    caller: &Caller,
    params: ListParams,
) -> Result<ScimResponse, ApiError> {
    let paging = Paging::new(state, caller, R::ENDPOINT, &params)?;
    let listed = R::page(state, caller, &params, &paging).await?;
    note_list(&params, &listed, R::KIND);
    Ok(ScimResponse::ok(paging.response(&params, listed)))
}

/// Describes a list or search of users or groups for the provisioning log:
/// a lookup by userName/displayName names its resource (and its id when
/// exactly one matched); a lookup of a random GUID is a Test Connection.
pub fn note_list(params: &ListParams, listed: &Listed, kind: &'static str) {
    let filter = params.filter.as_ref();
    let probe = filter.is_some_and(summary::is_probe);
    let text = summary::list(filter, listed.resources.len(), listed.total, probe);
    let name = filter.and_then(summary::looked_up_name).map(str::to_owned);
    let id = match (&name, listed.resources.as_slice()) {
        (Some(_), [one]) => one.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    provlog::note(|n| {
        n.resource_type = Some(kind);
        n.resource_name = name;
        n.resource_id = id;
        n.summary = Some(text);
        n.test_connection = probe;
    });
}
