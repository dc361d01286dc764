//! One Bulk operation, run through the same handler (and so the same
//! validation and the same identity gRPC call) as the single-resource
//! request it stands for.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::render::ProjectionParams;
use crate::response::{ScimJson, ScimResponse};
use crate::{groups, users};

/// The resource endpoint an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Users,
    Groups,
}

/// What an operation asks for, its path already resolved.
#[derive(Debug)]
pub struct Target {
    pub endpoint: Endpoint,
    /// `None` for a POST to the collection.
    pub id: Option<String>,
}

impl Target {
    /// `/Users`, `/Groups/{id}`…; `None` for any other path.
    pub fn parse(path: &str) -> Option<Self> {
        let mut parts = path.strip_prefix('/')?.split('/');
        let endpoint = match parts.next()? {
            p if p.eq_ignore_ascii_case("Users") => Endpoint::Users,
            p if p.eq_ignore_ascii_case("Groups") => Endpoint::Groups,
            _ => return None,
        };
        let id = match parts.next() {
            None => None,
            Some(id) if !id.is_empty() && !id.starts_with('.') => Some(id.to_owned()),
            Some(_) => return None,
        };
        parts.next().is_none().then_some(Self { endpoint, id })
    }

    fn collection(&self) -> &'static str {
        match self.endpoint {
            Endpoint::Users => "Users",
            Endpoint::Groups => "Groups",
        }
    }
}

/// The outcome of a successful operation.
#[derive(Debug)]
pub struct Done {
    pub status: StatusCode,
    /// The resource's URL (a new resource's `Location`).
    pub location: String,
    pub version: Option<String>,
    /// The id of a resource a POST created.
    pub id: String,
}

/// Runs one operation. `data` is present for POST, PUT and PATCH.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    method: &Method,
    target: &Target,
    version: Option<&str>,
    data: Option<Value>,
) -> Result<Done, ApiError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MATCH, v);
    }
    let st = || State(state.clone());
    let who = || caller.clone();
    let none = || Query(ProjectionParams::default());
    let body = || ScimJson(data.clone().unwrap_or(Value::Null));
    let id = target.id.clone().unwrap_or_default();
    let path = || Path((caller.tenant_id.clone(), id.clone()));
    let response: ScimResponse = match (method, target.endpoint, target.id.is_some()) {
        (&Method::POST, Endpoint::Users, false) => {
            users::create(st(), who(), none(), body()).await?
        }
        (&Method::POST, Endpoint::Groups, false) => {
            groups::create(st(), who(), none(), body()).await?
        }
        (&Method::PUT, Endpoint::Users, true) => {
            users::replace(st(), who(), path(), none(), headers, body()).await?
        }
        (&Method::PUT, Endpoint::Groups, true) => {
            groups::replace(st(), who(), path(), none(), headers, body()).await?
        }
        (&Method::PATCH, Endpoint::Users, true) => {
            users::patch(st(), who(), path(), none(), headers, body()).await?
        }
        (&Method::PATCH, Endpoint::Groups, true) => {
            groups::patch(st(), who(), path(), none(), headers, body()).await?
        }
        (&Method::DELETE, Endpoint::Users, true) => {
            users::delete(st(), who(), path(), headers).await?
        }
        (&Method::DELETE, Endpoint::Groups, true) => {
            groups::delete(st(), who(), path(), headers).await?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                Some(scim::ScimType::InvalidPath),
                format!("{method} is not allowed on this path"),
            ));
        }
    };
    let base = state.tenant_base(&caller.tenant_id);
    let location = response.header(header::LOCATION).map_or_else(
        || format!("{base}/{}/{id}", target.collection()),
        str::to_owned,
    );
    let id = match &target.id {
        Some(id) => id.clone(),
        None => location.rsplit('/').next().unwrap_or_default().to_owned(),
    };
    Ok(Done {
        status: response.status(),
        version: response.header(header::ETAG).map(str::to_owned),
        location,
        id,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_name_a_collection_or_one_resource() {
        let t = Target::parse("/Users").unwrap();
        assert_eq!((t.endpoint, t.id), (Endpoint::Users, None));
        let t = Target::parse("/groups/abc").unwrap();
        assert_eq!(
            (t.endpoint, t.id.as_deref()),
            (Endpoint::Groups, Some("abc"))
        );
        for bad in [
            "Users",
            "/Bulk",
            "/Users/",
            "/Users/a/b",
            "/Users/.search",
            "/Me",
        ] {
            assert!(Target::parse(bad).is_none(), "{bad}");
        }
    }
}
