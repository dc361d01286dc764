//! Custom extension schemas per tenant: registered over gRPC, shown in
//! discovery to that tenant only, and validated, stored, returned,
//! filtered, sorted and patched like core attributes.

use e2e::{Backend, Options, Tenant, TestApp, assert_scim_error, on_both_backends, spawn_app_with};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    tenant_extensions_work_like_core_attributes,
    extension_registration_is_checked,
);

const URN: &str = "urn:contoso:scim:schemas:extension:asset:1.0:User";
const GROUP_URN: &str = "urn:contoso:scim:schemas:extension:asset:1.0:Group";

fn user_schema() -> Value {
    json!({
        "id": URN,
        "name": "AssetUser",
        "description": "Asset management attributes",
        "attributes": [
            {"name": "badgeNumber", "type": "string", "caseExact": true, "required": true},
            {"name": "clearance", "type": "integer"},
            {"name": "onSite", "type": "boolean"},
            {"name": "skills", "type": "string", "multiValued": true},
            {"name": "desk", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"},
                {"name": "floor", "type": "integer"}
            ]}
        ]
    })
}

async fn register(
    app: &TestApp,
    tenant: &str,
    resource_type: &str,
    schema: &Value,
) -> Result<pb::PutTenantSchemaResponse, tonic::Status> {
    app.identity
        .clone()
        .put_tenant_schema(pb::PutTenantSchemaRequest {
            tenant_id: tenant.to_owned(),
            resource_type: resource_type.to_owned(),
            schema_json: schema.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn filter(t: &Tenant, path: &str, f: &str) -> Value {
    let r = t
        .post(&format!("{path}/.search"), json!({"filter": f}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{f}: {}", r.body);
    r.body
}

async fn tenant_extensions_work_like_core_attributes(app: &TestApp) {
    let t = app.tenant("ext").await;
    let other = app.tenant("plain").await;
    // Refusing unknown attributes is the generic profile's.
    app.set_profile(&other.id, "generic").await;
    let created = register(app, &t.id, "User", &user_schema()).await.unwrap();
    assert!(created.created);
    register(
        app,
        &t.id,
        "Group",
        &json!({"id": GROUP_URN, "attributes": [{"name": "costCode"}]}),
    )
    .await
    .unwrap();

    // Discovery: this tenant only.
    let schemas = t.get("/Schemas").await;
    let listed: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&URN) && listed.contains(&GROUP_URN),
        "{listed:?}"
    );
    let one = t.get(&format!("/Schemas/{URN}")).await;
    assert_eq!(one.body["attributes"][0]["caseExact"], true);
    assert_eq!(
        one.body["attributes"][4]["subAttributes"][1]["type"],
        "integer"
    );
    let user_type = t.get("/ResourceTypes/User").await;
    assert_eq!(
        user_type.body["schemaExtensions"][1],
        json!({"schema": URN, "required": false})
    );
    let theirs = other.get("/Schemas").await;
    assert!(!theirs.body.to_string().contains(URN));
    assert_scim_error(&other.get(&format!("/Schemas/{URN}")).await, 404, None);

    // Validated and stored.
    let alice = t
        .post("/Users", json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", URN],
            "userName": "alice@contoso.com",
            URN: {"badgeNumber": "B-7", "clearance": 3, "onSite": "True", "skills": ["rust", "go"], "desk": {"building": "HQ", "floor": 2}}
        }))
        .await;
    assert_eq!(alice.status, StatusCode::CREATED, "{}", alice.body);
    assert_eq!(alice.body["schemas"][1], URN);
    assert_eq!(alice.body[URN]["onSite"], true);
    let alice = alice.body["id"].as_str().unwrap().to_owned();
    let bob = t
        .create_user(json!({"userName": "bob@contoso.com", URN: {"badgeNumber": "B-9", "clearance": 1, "skills": "go"}}))
        .await;
    let carol = t
        .create_user(json!({"userName": "carol@contoso.com"}))
        .await;
    for (body, scim_type) in [
        (
            json!({"userName": "x1", URN: {"badgeNumber": "B", "clearance": "high"}}),
            "invalidValue",
        ),
        (
            json!({"userName": "x2", URN: {"clearance": 1}}),
            "invalidValue",
        ),
    ] {
        assert_scim_error(&t.post("/Users", body).await, 400, Some(scim_type));
    }
    // An attribute the extension does not define: ignored by the default
    // profile (refused by the generic one, below).
    let x3 = t
        .post(
            "/Users",
            json!({"userName": "x3", URN: {"badgeNumber": "B", "nope": 1}}),
        )
        .await;
    assert_eq!(x3.status, StatusCode::CREATED, "{}", x3.body);
    assert!(x3.body[URN].get("nope").is_none(), "{}", x3.body);
    let x3 = x3.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.delete(&format!("/Users/{x3}")).await.status,
        StatusCode::NO_CONTENT
    );
    // Another tenant does not know the extension.
    let foreign = other
        .post(
            "/Users",
            json!({"userName": "a", URN: {"badgeNumber": "B"}}),
        )
        .await;
    assert_scim_error(&foreign, 400, Some("invalidSyntax"));

    // Filterable through the JSON document, with the attribute's case-exactness and type.
    let cases = [
        (format!("{URN}:badgeNumber eq \"B-7\""), vec![alice.clone()]),
        (format!("{URN}:badgeNumber eq \"b-7\""), vec![]),
        (format!("{URN}:clearance gt 1"), vec![alice.clone()]),
        (
            format!("{URN}:clearance le 3 and {URN}:onSite eq true"),
            vec![alice.clone()],
        ),
        (
            format!("{URN}:skills eq \"GO\""),
            vec![alice.clone(), bob.clone()],
        ),
        (format!("{URN}:desk.building sw \"h\""), vec![alice.clone()]),
        (format!("{URN}:desk.floor eq 2"), vec![alice.clone()]),
        (format!("not ({URN}:badgeNumber pr)"), vec![carol.clone()]),
    ];
    for (f, expected) in cases {
        assert_eq!(ids(&filter(&t, "/Users", &f).await), expected, "{f}");
    }
    let sorted = t
        .get(&format!(
            "/Users?sortBy={URN}:clearance&sortOrder=descending&filter={URN}:clearance%20pr"
        ))
        .await;
    assert_eq!(ids(&sorted.body), vec![alice.clone(), bob.clone()]);
    let by_cursor = t
        .get(&format!("/Users?cursor=&count=1&sortBy={URN}:badgeNumber"))
        .await;
    assert_eq!(by_cursor.status, StatusCode::OK, "{}", by_cursor.body);
    // Across resource types: Groups lack the attribute and match nothing.
    let root = t
        .post(
            "/.search",
            json!({"filter": format!("{URN}:skills eq \"rust\"")}),
        )
        .await;
    assert_eq!(ids(&root.body), vec![alice.clone()]);

    // Projection.
    let only = t
        .get(&format!("/Users/{alice}?attributes={URN}:badgeNumber"))
        .await;
    assert_eq!(only.body[URN], json!({"badgeNumber": "B-7"}));
    assert!(only.body.get("userName").is_none());
    let without = t
        .get(&format!("/Users/{alice}?excludedAttributes={URN}"))
        .await;
    assert!(without.body.get(URN).is_none());

    // Patchable, by path and by the no-path URN keys Entra sends.
    let patched = t
        .patch(&format!("/Users/{alice}"), json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": format!("{URN}:clearance"), "value": 4},
                {"op": "Add", "path": format!("{URN}:skills"), "value": ["c"]},
                {"op": "replace", "value": {format!("{URN}:desk.floor"): 5, format!("{URN}:badgeNumber"): "B-8"}},
                {"op": "Remove", "path": format!("{URN}:onSite")}
            ]
        }))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body[URN],
        json!({"badgeNumber": "B-8", "clearance": 4, "skills": ["rust", "go", "c"], "desk": {"building": "HQ", "floor": 5}})
    );
    let bad = t
        .patch(&format!("/Users/{alice}"), json!({"Operations": [{"op": "replace", "path": format!("{URN}:clearance"), "value": "four"}]}))
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));

    // Groups have theirs.
    let group = t
        .post(
            "/Groups",
            json!({"displayName": "Ops", GROUP_URN: {"costCode": "CC-1"}}),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let found = filter(&t, "/Groups", &format!("{GROUP_URN}:costCode eq \"cc-1\"")).await;
    assert_eq!(found["totalResults"], 1);
}

async fn extension_registration_is_checked(app: &TestApp) {
    let t = app.tenant("ext").await;
    let code = |r: Result<pb::PutTenantSchemaResponse, tonic::Status>| r.unwrap_err().code();
    assert_eq!(
        code(
            register(
                app,
                &t.id,
                "User",
                &json!({"id": "not a urn", "attributes": [{"name": "a"}]})
            )
            .await
        ),
        tonic::Code::InvalidArgument
    );
    let enterprise = json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": [{"name": "a"}]});
    assert_eq!(
        code(register(app, &t.id, "User", &enterprise).await),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(register(app, &t.id, "Device", &user_schema()).await),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(register(app, "no-such-tenant", "User", &user_schema()).await),
        tonic::Code::NotFound
    );
    register(app, &t.id, "User", &user_schema()).await.unwrap();
    let prefix = json!({"id": "urn:contoso:scim:schemas:extension:asset:1.0", "attributes": [{"name": "a"}]});
    assert_eq!(
        code(register(app, &t.id, "User", &prefix).await),
        tonic::Code::InvalidArgument
    );
    // Same URN again replaces (case-insensitively).
    let mut changed = user_schema();
    changed["id"] = json!(URN.to_uppercase());
    let replaced = register(app, &t.id, "User", &changed).await.unwrap();
    assert!(!replaced.created);
    let listed = app
        .identity
        .clone()
        .list_tenant_schemas(pb::ListTenantSchemasRequest {
            tenant_id: t.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .schemas;
    assert_eq!(listed.len(), 1);
}

/// Removing a schema hides its stored values; writes go on. (The gateway
/// caches a tenant's types for the auth cache TTL: 0 here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_extensions_disappear_postgres() {
    removed_extensions_disappear(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_extensions_disappear_sqlite() {
    removed_extensions_disappear(Backend::Sqlite).await;
}

async fn removed_extensions_disappear(backend: Backend) {
    let options = Options {
        auth_cache_ttl_seconds: 0,
        ..Options::default()
    };
    let app = spawn_app_with(backend, options).await;
    let t = app.tenant("ext").await;
    register(&app, &t.id, "User", &user_schema()).await.unwrap();
    let id = t
        .create_user(json!({"userName": "a@x.com", URN: {"badgeNumber": "B-1"}}))
        .await;
    app.identity
        .clone()
        .delete_tenant_schema(pb::DeleteTenantSchemaRequest {
            tenant_id: t.id.clone(),
            urn: URN.into(),
        })
        .await
        .unwrap();
    let got = t.get(&format!("/Users/{id}")).await;
    assert!(got.body.get(URN).is_none(), "{}", got.body);
    assert_eq!(
        got.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    assert!(!t.get("/Schemas").await.body.to_string().contains(URN));
    let patched = t
        .patch(
            &format!("/Users/{id}"),
            json!({"Operations": [{"op": "replace", "path": "displayName", "value": "A"}]}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let filtered = t
        .get(&format!("/Users?filter={URN}:badgeNumber%20pr"))
        .await;
    assert_scim_error(&filtered, 400, Some("invalidFilter"));
}
