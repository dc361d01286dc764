//! Tolerant routing: IdPs send `/users` for `/Users` and `/Users/` for
//! `/Users`, and a 404 there quarantines their provisioning job. Before
//! routing, the path under `/scim/v2/{tenant}` is rewritten to the
//! canonical spelling: resource-type and endpoint segments (`Users`,
//! `Groups`, `ServiceProviderConfig`, `ResourceTypes`, `Schemas`, `Bulk`,
//! `Me`, `.search`) compared case-insensitively, one trailing slash
//! dropped. The tenant and resource ids are never changed (both are exact).

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use axum::middleware::Next;
use axum::response::Response;

const PREFIX: &str = "/scim/v2/";

/// Endpoints directly under the tenant's base URL.
const TOP: &[&str] = &[
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    "Bulk",
    "Me",
    ".search",
];

/// The canonical form of `path`, or `None` when it is already canonical
/// (or not a SCIM path at all).
pub fn canonical_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(PREFIX)?;
    let (tenant, after) = rest.split_once('/')?;
    // `/scim/v2/t/` and `/scim/v2/t//x` are left to answer 404.
    let after = after.strip_suffix('/').unwrap_or(after);
    if after.is_empty() {
        return None;
    }
    let mut segments: Vec<&str> = after.split('/').collect();
    if let Some(top) = canonical(segments[0], TOP) {
        segments[0] = top;
        // `.search` under Users or Groups; everything else below is an id.
        if segments.len() == 2
            && matches!(top, "Users" | "Groups")
            && let Some(search) = canonical(segments[1], &[".search"])
        {
            segments[1] = search;
        }
    }
    let fixed = format!("{PREFIX}{tenant}/{}", segments.join("/"));
    (fixed != path).then_some(fixed)
}

fn canonical(segment: &str, names: &[&'static str]) -> Option<&'static str> {
    names
        .iter()
        .copied()
        .find(|name| name.eq_ignore_ascii_case(segment))
}

/// Rewrites the request's path to its canonical form (see the module
/// documentation); must run before the router.
pub async fn normalise_path(mut request: Request, next: Next) -> Response {
    if let Some(path) = canonical_path(request.uri().path()) {
        let path_and_query = match request.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(pq) = path_and_query.parse::<PathAndQuery>() {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn resource_segments_are_case_insensitive_and_one_slash_is_dropped() {
        let cases = [
            ("/scim/v2/acme/users", Some("/scim/v2/acme/Users")),
            ("/scim/v2/acme/Users/", Some("/scim/v2/acme/Users")),
            ("/scim/v2/acme/USERS/", Some("/scim/v2/acme/Users")),
            (
                "/scim/v2/acme/groups/.SEARCH",
                Some("/scim/v2/acme/Groups/.search"),
            ),
            (
                "/scim/v2/acme/serviceproviderconfig",
                Some("/scim/v2/acme/ServiceProviderConfig"),
            ),
            (
                "/scim/v2/acme/resourcetypes/User/",
                Some("/scim/v2/acme/ResourceTypes/User"),
            ),
            ("/scim/v2/acme/schemas", Some("/scim/v2/acme/Schemas")),
            ("/scim/v2/acme/bulk/", Some("/scim/v2/acme/Bulk")),
            ("/scim/v2/acme/.Search", Some("/scim/v2/acme/.search")),
            (
                "/scim/v2/acme/users/AbC-1",
                Some("/scim/v2/acme/Users/AbC-1"),
            ),
        ];
        for (path, want) in cases {
            assert_eq!(canonical_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn tenant_ids_and_canonical_paths_are_left_alone() {
        for path in [
            "/scim/v2/Acme/Users",
            "/scim/v2/acme/Users/AbC-1",
            "/scim/v2/acme/",
            "/scim/v2/acme",
            "/livez",
            "/scim/v2/acme/Userz",
        ] {
            assert_eq!(canonical_path(path), None, "{path}");
        }
        // The id keeps its case even under a lower-case resource type.
        assert_eq!(
            canonical_path("/scim/v2/Acme/users/AbC").as_deref(),
            Some("/scim/v2/Acme/Users/AbC")
        );
    }
}
