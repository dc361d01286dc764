//! List parameters (RFC 7644 §3.4.2) from a query string or a `.search` body.

use std::collections::HashMap;

use scim::{AttrPath, Filter, ScimError};
use serde_json::Value;

use crate::error::ApiError;
use crate::render::Projection;

/// Page size when the client names none.
pub const DEFAULT_COUNT: u32 = 100;
/// The largest page (advertised as `filter.maxResults`).
pub const MAX_COUNT: u32 = 1000;

/// The parameters of a list or search request.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<Filter>,
    pub start_index: u32,
    pub count: u32,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub projection: Projection,
    /// RFC 9865 cursor pagination: `Some("")` asks for the first page,
    /// `None` (no `cursor` parameter) means index pagination.
    pub cursor: Option<String>,
}

/// A parameter as a string, whatever JSON type a `.search` body used.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

impl ListParams {
    /// Filter, sortBy and sortOrder as `identity.v1` takes them.
    pub fn wire(&self) -> (String, String, i32) {
        let order = if self.descending {
            proto::identity::v1::SortOrder::Descending
        } else {
            proto::identity::v1::SortOrder::Ascending
        };
        (
            self.filter
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            self.sort_by
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            order as i32,
        )
    }

    /// Parameter names are matched case-insensitively.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        Self::from_query_with(query, scim::IdpProfile::default().behaviours())
    }

    /// [`Self::from_query`] as a profile with behaviours `b` reads it.
    pub fn from_query_with(
        query: &HashMap<String, String>,
        b: scim::Behaviours,
    ) -> Result<Self, ApiError> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Self::from_getter(get, b)
    }

    /// A `SearchRequest` body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Self, ApiError> {
        Self::from_search_with(body, scim::IdpProfile::default().behaviours())
    }

    /// [`Self::from_search`] as a profile with behaviours `b` reads it.
    pub fn from_search_with(body: &Value, b: scim::Behaviours) -> Result<Self, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a search request must be a JSON object"))?;
        let get = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| text(v))
        };
        Self::from_getter(get, b)
    }

    fn from_getter(
        get: impl Fn(&str) -> Option<String>,
        b: scim::Behaviours,
    ) -> Result<Self, ApiError> {
        let integer = |name: &str| -> Result<Option<i64>, ApiError> {
            get(name)
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        ApiError(ScimError::invalid_value(format!(
                            "{name} must be an integer"
                        )))
                    })
                })
                .transpose()
        };
        let cursor = get("cursor").map(|c| c.trim().to_owned());
        if cursor.is_some() && get("startIndex").is_some() {
            return Err(ApiError(ScimError::invalid_value(
                "send either startIndex (index pagination) or cursor (cursor pagination), not both",
            )));
        }
        // RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0.
        let start_index = integer("startIndex")?
            .unwrap_or(1)
            .clamp(1, i64::from(u32::MAX));
        let count = integer("count")?
            .unwrap_or(i64::from(DEFAULT_COUNT))
            .clamp(0, i64::from(MAX_COUNT));
        let filter = match get("filter").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(scim::filter::parse_filter(f)?),
        };
        let sort_by = match get("sortBy").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(scim::filter::parse_attr_path(s)?),
        };
        let descending = match get("sortOrder").as_deref().map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(_) => {
                return Err(ApiError(ScimError::invalid_value(
                    "sortOrder must be ascending or descending",
                )));
            }
        };
        let projection = Projection::parse_with(
            get("attributes").as_deref(),
            get("excludedAttributes").as_deref(),
            b,
        )?;
        Ok(Self {
            filter,
            start_index: u32::try_from(start_index).unwrap_or(1),
            count: u32::try_from(count).unwrap_or(DEFAULT_COUNT),
            sort_by,
            descending,
            projection,
            cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn paging_follows_rfc_7644() {
        let p = ListParams::from_query(&q(&[("startIndex", "0"), ("count", "-5")])).unwrap();
        assert_eq!((p.start_index, p.count), (1, 0));
        let p = ListParams::from_query(&q(&[("COUNT", "5000")])).unwrap();
        assert_eq!(p.count, MAX_COUNT);
        assert!(ListParams::from_query(&q(&[("count", "ten")])).is_err());
    }

    #[test]
    fn bad_filters_and_sort_orders_are_rejected() {
        let e = ListParams::from_query(&q(&[("filter", "userName eq")])).unwrap_err();
        assert_eq!(e.0.scim_type, Some(scim::ScimType::InvalidFilter));
        assert!(ListParams::from_query(&q(&[("sortOrder", "sideways")])).is_err());
    }

    #[test]
    fn search_bodies_use_json_types() {
        let body = serde_json::json!({"startIndex": 2, "count": 3, "attributes": ["userName"]});
        let p = ListParams::from_search(&body).unwrap();
        assert_eq!((p.start_index, p.count), (2, 3));
        assert_eq!(p.projection.attributes.len(), 1);
    }
}
