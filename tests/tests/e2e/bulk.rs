//! `POST /Bulk` (RFC 7644 §3.7): bulkId references, dependency order,
//! failOnErrors, per-operation validation, and the advertised limits.

use e2e::{Backend, Options, Tenant, TestApp, assert_scim_error, on_both_backends, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    bulk_resolves_references_in_any_order,
    bulk_errors_and_fail_on_errors
);

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk(ops: Value) -> Value {
    json!({"schemas": [BULK], "Operations": ops})
}

async fn members(t: &Tenant, group: &str) -> Vec<String> {
    let r = t.get(&format!("/Groups/{group}")).await;
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn bulk_resolves_references_in_any_order(app: &TestApp) {
    let t = app.tenant("bulk").await;
    let r = t
        .post("/Bulk", bulk(json!([
            // Refers to a group and a user created further down.
            {"method": "PATCH", "path": "/Groups/bulkId:g1", "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u2"}]}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "alice@x.com"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
                "displayName": "Eng", "members": [{"value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {
                "userName": "bob@x.com",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "bulkId:u1"}}}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "version": "W/\"1\"", "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]}}
        ])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["204", "201", "201", "201", "200"], "{}", r.body);
    assert_eq!(ops[1]["bulkId"], "u1");
    assert_eq!(ops[1]["method"], "POST");
    let location = |i: usize| ops[i]["location"].as_str().unwrap().to_owned();
    let id = |i: usize| location(i).rsplit('/').next().unwrap().to_owned();
    assert_eq!(location(1), format!("{}/Users/{}", t.base, id(1)));
    assert_eq!(location(2), format!("{}/Groups/{}", t.base, id(2)));
    assert_eq!(location(0), location(2));
    assert_eq!(ops[4]["version"], "W/\"2\"");

    let mut expected = vec![id(1), id(3)];
    expected.sort();
    assert_eq!(members(&t, &id(2)).await, expected);
    let bob = t.get(&format!("/Users/{}", id(3))).await;
    assert_eq!(
        bob.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        id(1).as_str()
    );
    assert_eq!(
        t.get(&format!("/Users/{}", id(1))).await.body["active"],
        false
    );

    // PUT and DELETE by id.
    let r = t
        .post("/Bulk", bulk(json!([
            {"method": "PUT", "path": format!("/Users/{}", id(3)), "data": {"userName": "robert@x.com"}},
            {"method": "DELETE", "path": format!("/Groups/{}", id(2))},
            {"method": "DELETE", "path": format!("/Groups/{}", id(2))}
        ])))
        .await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "200");
    assert_eq!(ops[1]["status"], "204");
    assert_eq!(ops[2]["status"], "404");
    assert_eq!(ops[2]["response"]["status"], "404");
    assert_eq!(
        t.get(&format!("/Users/{}", id(3))).await.body["userName"],
        "robert@x.com"
    );
}

async fn bulk_errors_and_fail_on_errors(app: &TestApp) {
    let t = app.tenant("bulk").await;
    let ops = json!([
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"displayName": "no userName"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "b@x.com"}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "B@x.com"}},
        {"method": "POST", "path": "/Groups", "data": {"displayName": "G", "members": [{"value": "bulkId:a"}]}},
        {"method": "POST", "path": "/Groups", "data": {"displayName": "H", "members": [{"value": "bulkId:nope"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x@x.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "bulkId:y"}}},
        {"method": "POST", "path": "/Users", "bulkId": "y", "data": {"userName": "y@x.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "bulkId:x"}}},
        {"method": "GET", "path": "/Users"},
        {"method": "POST", "path": "/Bulk", "data": {}},
        {"method": "PATCH", "path": "/Users/bulkId:b", "data": {"Operations": []}}
    ]);
    let r = t.post("/Bulk", bulk(ops.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "400", "201", "409", "400", "400", "400", "400", "400", "400", "400"
        ],
        "{}",
        r.body
    );
    let scim_type = |i: usize| results[i]["response"]["scimType"].as_str().unwrap_or("");
    assert_eq!(scim_type(0), "invalidValue");
    assert_eq!(scim_type(2), "uniqueness");
    assert_eq!(scim_type(3), "invalidValue", "refers to a failed POST");
    assert_eq!(scim_type(4), "invalidValue", "unknown bulkId");
    assert!(
        results[5]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("circular")
    );
    assert_eq!(scim_type(8), "invalidPath");
    assert_eq!(results[9]["response"]["scimType"], "invalidSyntax");

    // failOnErrors: 2 stops after the second error; the rest is not run.
    let t = app.tenant("bulk").await;
    let r = t
        .post(
            "/Bulk",
            json!({"schemas": [BULK], "failOnErrors": 2, "Operations": ops}),
        )
        .await;
    let results = r.body["Operations"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{}", r.body);
    assert_eq!(results[2]["status"], "409");
    let listed = t.get("/Users").await;
    assert_eq!(listed.body["totalResults"], 1);

    let bad = t
        .post("/Bulk", json!({"schemas": ["urn:x"], "Operations": []}))
        .await;
    assert_scim_error(&bad, 400, Some("invalidSyntax"));
    let bad = t
        .post("/Bulk", json!({"failOnErrors": 0, "Operations": []}))
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    assert_scim_error(&t.get("/Bulk").await, 405, None);
}

#[tokio::test]
async fn bulk_limits_are_advertised_and_enforced() {
    let mut options = Options::default();
    options.protocol.bulk_max_operations = 2;
    options.protocol.bulk_max_payload_bytes = 2048;
    let app = spawn_app_with(Backend::Sqlite, options).await;
    let t = app.tenant("bulk").await;
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(
        spc.body["bulk"],
        json!({"supported": true, "maxOperations": 2, "maxPayloadSize": 2048})
    );
    let op = json!({"method": "POST", "path": "/Users", "data": {"userName": "a@x.com"}});
    let r = t.post("/Bulk", bulk(json!([op, op, op]))).await;
    assert_scim_error(&r, 413, None);
    let big = json!({"method": "POST", "path": "/Users", "data": {"userName": "a".repeat(3000)}});
    let r = t.post("/Bulk", bulk(json!([big]))).await;
    assert_scim_error(&r, 413, None);
    // Within the limits; the single-resource body limit does not apply.
    let r = t.post("/Bulk", bulk(json!([op]))).await;
    assert_eq!(r.body["Operations"][0]["status"], "201", "{}", r.body);
}
