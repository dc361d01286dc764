//! `POST /.search` at the root (RFC 7644 §3.4.3): Users and Groups in one
//! ListResponse. The filter is restricted to each type first
//! ([`scim::filter::restrict`]): an attribute a type does not have matches
//! nothing of that type instead of failing the whole search, and a type the
//! filter excludes is not asked at all.
//!
//! Paging is stable: Users come first (in their usual order, or by `sortBy`
//! where Users have that attribute), then Groups; `startIndex`/`count` run
//! over that concatenation, so each page costs at most one list call per type.

use axum::extract::State;
use scim::filter::{Restricted, restrict};
use tracing::instrument;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::paging::Paging;
use crate::render;
use crate::resource::Listing;
use crate::response::{ScimJson, ScimResponse};
use crate::{groups, users};

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id))]
pub async fn search_all_types(
    State(state): State<AppState>,
    caller: Caller,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let params = ListParams::from_search_with(&body, caller.behaviours())?;
    if params.cursor.is_some() {
        return Err(ApiError(scim::ScimError::invalid_value(
            "a search across resource types is paged with startIndex, not cursor",
        )));
    }
    let types = state.types(&caller.tenant_id).await?;
    let user_params = for_type(&params, types.user);
    let group_params = for_type(&params, types.group);
    // Rows to skip over the concatenation Users ++ Groups.
    let skip = u64::from(params.start_index) - 1;
    let count = u64::from(params.count);

    let (user_total, mut resources) = match &user_params {
        Some(p) => {
            let paging = Paging::new(&state, &caller, "Users", p)?;
            let listed = <users::Users as Listing>::page(&state, &caller, p, &paging).await?;
            (listed.total, listed.resources)
        }
        None => (0, Vec::new()),
    };
    let group_total = match group_params {
        Some(mut p) => {
            let wanted = count.saturating_sub(resources.len() as u64);
            let group_skip = skip.saturating_sub(user_total);
            p.start_index = u32::try_from(group_skip + 1).unwrap_or(u32::MAX);
            p.count = u32::try_from(wanted).unwrap_or(0);
            let paging = Paging::new(&state, &caller, "Groups", &p)?;
            let listed = <groups::Groups as Listing>::page(&state, &caller, &p, &paging).await?;
            resources.extend(listed.resources);
            listed.total
        }
        None => 0,
    };
    Ok(ScimResponse::ok(render::list(
        user_total + group_total,
        params.start_index,
        resources,
    )))
}

/// The parameters for one resource type, or `None` when its part of the
/// filter can match nothing.
fn for_type(params: &ListParams, rt: &scim::ResourceTypeDef) -> Option<ListParams> {
    let filter = match &params.filter {
        None => None,
        Some(f) => match restrict(f, rt) {
            Restricted::Never => return None,
            r => r.into_filter(),
        },
    };
    // A sort key the type does not have leaves it in its usual order.
    let sort_by = params
        .sort_by
        .clone()
        .filter(|path| rt.resolve(path).is_some());
    Some(ListParams {
        filter,
        sort_by,
        ..params.clone()
    })
}

/// `/Me` (RFC 7644 §3.11) names the authenticated subject's own resource; a
/// provisioning token belongs to a tenant, not to a user, so there is none.
#[instrument(skip_all, fields(tenant_id = %caller.tenant_id))]
pub async fn me(caller: Caller) -> ApiError {
    let _ = caller;
    ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not supported: a provisioning token authenticates a tenant, not a user",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Value;

    fn params(filter: &str, sort: Option<&str>) -> ListParams {
        let mut body = serde_json::json!({"filter": filter});
        if let Some(s) = sort {
            body["sortBy"] = Value::from(s);
        }
        ListParams::from_search(&body).unwrap()
    }

    #[test]
    fn each_type_gets_its_part_of_the_filter() {
        let p = params("userName sw \"a\"", Some("userName"));
        let users = for_type(&p, &scim::USER).unwrap();
        assert!(users.filter.is_some() && users.sort_by.is_some());
        assert!(for_type(&p, &scim::GROUP).is_none());
        let p = params("not (members pr)", Some("displayName"));
        let users = for_type(&p, &scim::USER).unwrap();
        assert!(
            users.filter.is_none(),
            "not (unknown pr) matches every user"
        );
        assert!(for_type(&p, &scim::GROUP).unwrap().filter.is_some());
    }
}
