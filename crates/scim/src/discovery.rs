//! Discovery documents: `/Schemas` (RFC 7643 §7), `/ResourceTypes` (§6) and
//! `/ServiceProviderConfig` (§5), rendered from the static schema definitions.

use serde_json::{Map, Value, json};

use crate::schema::{
    AttrType, AttributeDef, GROUP, RESOURCE_TYPE_SCHEMA, ResourceTypeDef, SCHEMA_SCHEMA,
    SERVICE_PROVIDER_CONFIG_SCHEMA, SchemaDef, USER,
};

/// RFC 7643 §3.1: `id`, `externalId` and `meta` are common attributes, not part of any schema's
/// attribute list (the §8.7.1 representations omit them). Our definitions carry them so that
/// paths resolve; discovery leaves them out.
const COMMON_ATTRIBUTES: &[&str] = &["id", "externalId", "meta"];

/// RFC 7643 §7 representation of every schema (User, EnterpriseUser, Group), each with meta {resourceType: "Schema", location: "{base}/Schemas/{urn}"}
///
/// `base` is the service's base URL (a trailing `/` is ignored).
pub fn schemas(base: &str) -> Vec<Value> {
    schemas_of(base, &[&USER, &GROUP])
}

/// The schemas of `types` (a tenant's User and Group, with its own
/// extensions): each type's core schema, then its extensions, each once.
pub fn schemas_of(base: &str, types: &[&ResourceTypeDef]) -> Vec<Value> {
    let base = base.trim_end_matches('/');
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for s in types.iter().flat_map(|rt| rt.schemas()) {
        if !seen.contains(&s.id) {
            seen.push(s.id);
            out.push(schema_document(s, base));
        }
    }
    out
}

/// RFC 7643 §6 ResourceType documents for User and Group, meta.location "{base}/ResourceTypes/{id}"
pub fn resource_types(base: &str) -> Vec<Value> {
    resource_types_of(base, &[&USER, &GROUP])
}

/// The ResourceType documents of `types`.
pub fn resource_types_of(base: &str, types: &[&ResourceTypeDef]) -> Vec<Value> {
    let base = base.trim_end_matches('/');
    types
        .iter()
        .map(|rt| resource_type_document(rt, base))
        .collect()
}

/// Capabilities advertised in `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderOptions {
    pub documentation_uri: Option<String>,
    /// `filter.maxResults`.
    pub max_results: u32,
    /// `bulk.maxPayloadSize`, in bytes.
    pub max_payload_bytes: u64,
    /// `bulk.maxOperations`.
    pub max_operations: u32,
    pub etag: bool,
    pub sort: bool,
    pub change_password: bool,
    pub bulk: bool,
    pub filter: bool,
    pub patch: bool,
    /// The RFC 9865 `pagination` object; `None` leaves it out.
    pub pagination: Option<PaginationOptions>,
}

/// Pagination capabilities (RFC 9865 §4, `pagination` in ServiceProviderConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaginationOptions {
    pub cursor: bool,
    pub index: bool,
    /// `"index"` or `"cursor"`: what a request that names neither gets.
    pub default_method: &'static str,
    pub default_page_size: u32,
    pub max_page_size: u32,
    /// Seconds a cursor stays valid.
    pub cursor_timeout: u64,
}

impl Default for ServiceProviderOptions {
    /// PATCH and filtering supported (Entra needs both); no bulk, sort, ETag or password
    /// change; 200 results per page; 1 MiB payloads.
    fn default() -> Self {
        Self {
            documentation_uri: None,
            max_results: 200,
            max_payload_bytes: 1024 * 1024,
            max_operations: 0,
            etag: false,
            sort: false,
            change_password: false,
            bulk: false,
            filter: true,
            patch: true,
            pagination: None,
        }
    }
}

/// RFC 7643 §5 document with `authenticationSchemes` [oauthbearertoken, primary true], meta.location "{base}/ServiceProviderConfig"
pub fn service_provider_config(opts: &ServiceProviderOptions, base: &str) -> Value {
    let base = base.trim_end_matches('/');
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
    if let Some(uri) = &opts.documentation_uri {
        doc.insert("documentationUri".into(), json!(uri));
    }
    doc.insert("patch".into(), json!({ "supported": opts.patch }));
    doc.insert(
        "bulk".into(),
        json!({
            "supported": opts.bulk,
            "maxOperations": if opts.bulk { opts.max_operations } else { 0 },
            "maxPayloadSize": opts.max_payload_bytes,
        }),
    );
    doc.insert(
        "filter".into(),
        json!({ "supported": opts.filter, "maxResults": opts.max_results }),
    );
    doc.insert(
        "changePassword".into(),
        json!({ "supported": opts.change_password }),
    );
    doc.insert("sort".into(), json!({ "supported": opts.sort }));
    doc.insert("etag".into(), json!({ "supported": opts.etag }));
    if let Some(p) = &opts.pagination {
        doc.insert(
            "pagination".into(),
            json!({
                "cursor": p.cursor,
                "index": p.index,
                "defaultPaginationMethod": p.default_method,
                "defaultPageSize": p.default_page_size,
                "maxPageSize": p.max_page_size,
                "cursorTimeout": p.cursor_timeout,
            }),
        );
    }
    doc.insert(
        "authenticationSchemes".into(),
        json!([{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }]),
    );
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        }),
    );
    Value::Object(doc)
}

fn schema_document(s: &SchemaDef, base: &str) -> Value {
    let attributes: Vec<Value> = s
        .attributes
        .iter()
        .filter(|a| !COMMON_ATTRIBUTES.contains(&a.name))
        .map(attribute_document)
        .collect();
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{}", s.id),
        },
    })
}

fn attribute_document(a: &AttributeDef) -> Value {
    let mut doc = Map::new();
    doc.insert("name".into(), json!(a.name));
    doc.insert("type".into(), json!(a.ty.as_str()));
    doc.insert("multiValued".into(), json!(a.multi_valued));
    doc.insert("description".into(), json!(a.description));
    doc.insert("required".into(), json!(a.required));
    doc.insert("caseExact".into(), json!(a.case_exact));
    if !a.canonical_values.is_empty() {
        doc.insert("canonicalValues".into(), json!(a.canonical_values));
    }
    if a.ty == AttrType::Reference {
        doc.insert("referenceTypes".into(), json!(a.reference_types));
    }
    if a.ty == AttrType::Complex {
        let subs: Vec<Value> = a.sub_attributes.iter().map(attribute_document).collect();
        doc.insert("subAttributes".into(), Value::Array(subs));
    }
    doc.insert("mutability".into(), json!(a.mutability.as_str()));
    doc.insert("returned".into(), json!(a.returned.as_str()));
    doc.insert("uniqueness".into(), json!(a.uniqueness.as_str()));
    Value::Object(doc)
}

fn resource_type_document(rt: &ResourceTypeDef, base: &str) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    doc.insert("id".into(), json!(rt.id));
    doc.insert("name".into(), json!(rt.name));
    doc.insert("endpoint".into(), json!(rt.endpoint));
    doc.insert("description".into(), json!(rt.description));
    doc.insert("schema".into(), json!(rt.schema.id));
    if !rt.extensions.is_empty() {
        let exts: Vec<Value> = rt
            .extensions
            .iter()
            .map(|e| json!({ "schema": e.schema.id, "required": e.required }))
            .collect();
        doc.insert("schemaExtensions".into(), Value::Array(exts));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", rt.id),
        }),
    );
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn schemas_are_listed_with_locations_and_metadata() {
        let docs = schemas("https://h/scim/v2/t1/");
        let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                crate::schema::USER_SCHEMA,
                crate::schema::ENTERPRISE_USER_SCHEMA,
                crate::schema::GROUP_SCHEMA
            ]
        );
        let user = &docs[0];
        assert_eq!(
            user["meta"]["location"],
            format!(
                "https://h/scim/v2/t1/Schemas/{}",
                crate::schema::USER_SCHEMA
            )
        );
        assert_eq!(user["meta"]["resourceType"], "Schema");
        let attrs = user["attributes"].as_array().unwrap();
        assert!(
            attrs
                .iter()
                .all(|a| a["name"] != "id" && a["name"] != "meta")
        );
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
        assert_eq!(
            (
                password["mutability"].as_str(),
                password["returned"].as_str()
            ),
            (Some("writeOnly"), Some("never"))
        );
        let groups = attrs.iter().find(|a| a["name"] == "groups").unwrap();
        assert_eq!(groups["mutability"], "readOnly");
        let refs = &groups["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "$ref")
            .unwrap()["referenceTypes"];
        assert_eq!(refs, &json!(["User", "Group"]));
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        let ty = emails["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "type")
            .unwrap();
        assert_eq!(ty["canonicalValues"], json!(["work", "home", "other"]));
    }

    #[test]
    fn resource_types_reference_their_schemas() {
        let docs = resource_types("https://h/v2");
        assert_eq!(docs[0]["endpoint"], "/Users");
        assert_eq!(docs[0]["schemaExtensions"][0]["required"], false);
        assert_eq!(
            docs[0]["meta"]["location"],
            "https://h/v2/ResourceTypes/User"
        );
        assert_eq!(docs[1]["schema"], crate::schema::GROUP_SCHEMA);
        assert!(docs[1].get("schemaExtensions").is_none());
    }

    #[test]
    fn service_provider_config_reflects_options() {
        let opts = ServiceProviderOptions {
            etag: true,
            max_results: 50,
            ..Default::default()
        };
        let doc = service_provider_config(&opts, "https://h/v2");
        assert_eq!(doc["etag"]["supported"], true);
        assert_eq!(doc["filter"]["maxResults"], 50);
        assert_eq!(doc["patch"]["supported"], true);
        assert_eq!(doc["bulk"]["supported"], false);
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(doc["authenticationSchemes"][0]["primary"], true);
        assert_eq!(
            doc["meta"]["location"],
            "https://h/v2/ServiceProviderConfig"
        );
        assert!(doc.get("documentationUri").is_none());
        assert!(doc.get("pagination").is_none());
        let opts = ServiceProviderOptions {
            bulk: true,
            max_operations: 10,
            pagination: Some(PaginationOptions {
                cursor: true,
                index: true,
                default_method: "index",
                default_page_size: 100,
                max_page_size: 1000,
                cursor_timeout: 60,
            }),
            ..Default::default()
        };
        let doc = service_provider_config(&opts, "https://h/v2");
        assert_eq!(doc["bulk"]["maxOperations"], 10);
        assert_eq!(doc["pagination"]["defaultPaginationMethod"], "index");
        assert_eq!(doc["pagination"]["cursorTimeout"], 60);
    }
}
