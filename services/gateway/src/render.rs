//! Turns stored resources into SCIM documents: `id` and `meta` added to the
//! canonical document, then `attributes`/`excludedAttributes` applied.

use prost_types::Timestamp;
use proto::identity::v1 as pb;
use scim::{AttrPath, ResourceTypeDef};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5) as given in a
/// query string or a `.search` body.
#[derive(Debug, Default, Clone)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

/// Query parameters that shape a returned resource.
#[derive(Debug, Default, Deserialize)]
pub struct ProjectionParams {
    pub attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    pub excluded_attributes: Option<String>,
}

impl Projection {
    /// The lists as the default profile reads them.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ApiError> {
        Self::parse_with(
            attributes,
            excluded,
            scim::IdpProfile::default().behaviours(),
        )
    }

    /// The lists as a profile with behaviours `b` reads them: a filtered
    /// path (`emails[type eq "work"]`) is its attribute (`emails`) where the
    /// profile honours one, else 400 naming rule `filteredProjection`.
    pub fn parse_with(
        attributes: Option<&str>,
        excluded: Option<&str>,
        b: scim::Behaviours,
    ) -> Result<Self, ApiError> {
        let list = |s: Option<&str>| match s.map(str::trim) {
            None | Some("") => Ok(Vec::new()),
            Some(s) => {
                let s = unfiltered(s, b)?;
                scim::filter::parse_attribute_list(&s).map_err(ApiError::from)
            }
        };
        Ok(Self {
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    pub fn from_params(p: &ProjectionParams, b: scim::Behaviours) -> Result<Self, ApiError> {
        Self::parse_with(p.attributes.as_deref(), p.excluded_attributes.as_deref(), b)
    }
}

/// An attribute list with every `[…]` filter (quotes respected) removed.
fn unfiltered(list: &str, b: scim::Behaviours) -> Result<String, ApiError> {
    if !list.contains('[') {
        return Ok(list.to_owned());
    }
    if !b.filtered_projection_paths {
        let path = list
            .split(',')
            .find(|p| p.contains('['))
            .unwrap_or(list)
            .trim();
        let shown: String = path.chars().take(64).collect();
        return Err(ApiError(
            scim::ScimError::invalid_value(
                "attributes and excludedAttributes take attribute paths without filters",
            )
            .with_rule(scim::profile::rules::FILTERED_PROJECTION, shown),
        ));
    }
    let (mut out, mut depth, mut quoted) = (String::with_capacity(list.len()), 0u32, false);
    for c in list.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    // Unbalanced: left for the parser to refuse with its own error.
    if depth != 0 || quoted {
        return Ok(list.to_owned());
    }
    Ok(out)
}

pub fn rfc3339(ts: Option<&Timestamp>) -> String {
    let (seconds, nanos) = ts.map_or((0, 0), |t| (t.seconds, t.nanos));
    let nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// `base` is the tenant's SCIM base URL (`…/scim/v2/{tenant}`); `rt` the
/// tenant's User type (extensions it no longer has are not shown).
pub fn user(
    user: &pb::User,
    rt: &ResourceTypeDef,
    base: &str,
    projection: &Projection,
) -> Result<Value, ApiError> {
    let doc: Map<String, Value> = serde_json::from_str(&user.resource_json).map_err(|e| {
        tracing::error!(error = %e, user_id = %user.id, "stored user is not a JSON object");
        ApiError::internal()
    })?;
    let mut out = Map::with_capacity(doc.len() + 2);
    out.insert(
        "schemas".into(),
        doc.get("schemas")
            .cloned()
            .unwrap_or_else(|| Value::from(vec![scim::schema::USER_SCHEMA])),
    );
    out.insert("id".into(), user.id.clone().into());
    out.extend(doc.into_iter().filter(|(k, _)| k != "schemas"));
    if !user.groups.is_empty() {
        let groups: Vec<Value> = user
            .groups
            .iter()
            .map(|g| {
                serde_json::json!({
                    "value": g.id,
                    "$ref": format!("{base}/Groups/{}", g.id),
                    "display": g.display_name,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), groups.into());
    }
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": "User",
            "created": rfc3339(user.created.as_ref()),
            "lastModified": rfc3339(user.last_modified.as_ref()),
            "location": format!("{base}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    let mut full = Value::Object(out);
    scim::resource::drop_unknown_extensions(rt, &mut full);
    if projection.attributes.is_empty() && projection.excluded.is_empty() {
        return Ok(full);
    }
    Ok(scim::projection::project(
        rt,
        &full,
        &projection.attributes,
        &projection.excluded,
    ))
}

impl Projection {
    /// Whether a group's members are to be returned (and so loaded).
    pub fn wants(&self, attribute: &str) -> bool {
        let named = |list: &[AttrPath]| list.iter().any(|p| p.name.eq_ignore_ascii_case(attribute));
        if self.attributes.is_empty() {
            !named(&self.excluded)
        } else {
            named(&self.attributes)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }
}

/// Like [`user`], with the tenant's Group type.
pub fn group(
    group: &pb::Group,
    rt: &ResourceTypeDef,
    base: &str,
    projection: &Projection,
) -> Result<Value, ApiError> {
    let doc: Map<String, Value> = serde_json::from_str(&group.resource_json).map_err(|e| {
        tracing::error!(error = %e, group_id = %group.id, "stored group is not a JSON object");
        ApiError::internal()
    })?;
    let mut out = Map::with_capacity(doc.len() + 3);
    out.insert(
        "schemas".into(),
        doc.get("schemas")
            .cloned()
            .unwrap_or_else(|| Value::from(vec![scim::schema::GROUP_SCHEMA])),
    );
    out.insert("id".into(), group.id.clone().into());
    out.extend(doc.into_iter().filter(|(k, _)| k != "schemas"));
    if group.members_included {
        let members: Vec<Value> = group
            .members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "value": m.user_id,
                    "$ref": format!("{base}/Users/{}", m.user_id),
                    "display": m.display,
                    "type": "User",
                })
            })
            .collect();
        out.insert("members".into(), members.into());
    }
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": "Group",
            "created": rfc3339(group.created.as_ref()),
            "lastModified": rfc3339(group.last_modified.as_ref()),
            "location": format!("{base}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    let mut full = Value::Object(out);
    scim::resource::drop_unknown_extensions(rt, &mut full);
    if projection.is_empty() {
        return Ok(full);
    }
    Ok(scim::projection::project(
        rt,
        &full,
        &projection.attributes,
        &projection.excluded,
    ))
}

/// An RFC 7644 §3.4.2 ListResponse.
pub fn list(total: u64, start_index: u32, resources: Vec<Value>) -> Value {
    let items = resources.len();
    serde_json::json!({
        "schemas": [scim::schema::LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "Resources": resources,
        "startIndex": start_index,
        "itemsPerPage": items,
    })
}
