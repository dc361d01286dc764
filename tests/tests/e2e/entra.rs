//! Microsoft Entra ID's provisioning sequence, with the request bodies Entra ID
//! sends (both PATCH dialects, with and without `aadOptscim062020`).

use e2e::{TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    test_connection_gets_an_empty_list,
    provisioning_cycle_default_dialect,
    provisioning_cycle_with_aad_opt_flag,
    manager_in_three_shapes,
    roles_as_json_strings_are_a_clean_400,
);

async fn test_connection_gets_an_empty_list(app: &TestApp) {
    let t = app.tenant("contoso").await;
    let guid = uuid::Uuid::new_v4();
    // Both encodings of the filter's space and quotes.
    for query in [
        format!("/Users?filter=userName%20eq%20%22{guid}%22"),
        format!("/Users?filter=userName+eq+\"{guid}\""),
    ] {
        let r = t.get(&query).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(r.body["totalResults"], 0);
        assert_eq!(r.body["Resources"], json!([]));
        assert_eq!(r.body["startIndex"], 1);
    }
}

fn entra_create() -> serde_json::Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
        }],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    })
}

async fn provisioning_cycle_default_dialect(app: &TestApp) {
    let t = app.tenant("contoso").await;
    // Match by userName: nothing, then create.
    let q = "/Users?filter=userName%20eq%20%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22";
    assert_eq!(t.get(q).await.body["totalResults"], 0);
    let id = t.create_user(entra_create()).await;
    let found = t.get(q).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let path = format!("/Users/{id}");

    // Replace multiple attributes, without the flag.
    let r = t
        .patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Pvlo"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
                {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
                {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
            ]
        }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Pvlo");
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["emails"][0]["value"],
        "TestBcwqnm@test.microsoft.com"
    );
    assert_eq!(r.body["name"]["givenName"], "Gtfd");
    assert_eq!(r.body["externalId"], "Eqpj");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "Eqpj"
    );
    // The new email is what filters see.
    let by_email = t
        .get("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22testbcwqnm@test.microsoft.com%22")
        .await;
    assert_eq!(by_email.status, StatusCode::OK, "{}", by_email.body);

    // Upsert through a value path with no matching element (Entra deviation).
    let r = t
        .patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"},
                {"op": "Add", "path": "nickName", "value": "Babs"}
            ]
        }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["addresses"][0]["type"], "work");
    assert_eq!(r.body["addresses"][0]["formatted"], "18/2111");
    assert_eq!(r.body["nickName"], "Babs");

    // Rename.
    let r = t
        .patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]
        }))
        .await;
    assert_eq!(
        r.body["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );

    // Disable with the string "False" (default job).
    let r = t
        .patch(
            &path,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let inactive = t.get("/Users?filter=active%20eq%20false").await;
    assert_eq!(inactive.body["totalResults"], 1);

    // Hard delete, then the same user is provisioned again.
    assert_eq!(t.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get(q).await.body["totalResults"], 0);
    let again = t.post("/Users", entra_create()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

async fn provisioning_cycle_with_aad_opt_flag(app: &TestApp) {
    let t = app.tenant("contoso").await;
    let id = t.create_user(entra_create()).await;
    let path = format!("/Users/{id}");
    let r = t
        .patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
                {"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                }}
            ]
        }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Bjfe");
    assert_eq!(r.body["name"]["givenName"], "Kkom");
    assert_eq!(r.body["name"]["familyName"], "Unua");
    assert_eq!(
        r.body["emails"][0]["value"],
        "TestMhvaes@test.microsoft.com"
    );
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "Aklq"
    );
    let r = t
        .patch(
            &path,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]
            }),
        )
        .await;
    assert_eq!(r.body["active"], false);
    // Reactivation.
    let r = t
        .patch(
            &path,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "True"}]
            }),
        )
        .await;
    assert_eq!(r.body["active"], true);
}

async fn manager_in_three_shapes(app: &TestApp) {
    let t = app.tenant("contoso").await;
    let boss = t.create_user(json!({"userName": "boss@contoso.com"})).await;
    let other = t
        .create_user(json!({"userName": "other@contoso.com"}))
        .await;
    let id = t.create_user(entra_create()).await;
    let path = format!("/Users/{id}");
    let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let manager_path = format!("{ext}:manager");
    let op = |op: &str, p: &str, v: serde_json::Value| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": op, "path": p, "value": v}]
        })
    };
    let r = t.patch(&path, op("Add", &manager_path, json!(boss))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ext]["manager"]["value"], boss.as_str());
    let r = t
        .patch(
            &path,
            op(
                "Add",
                "manager",
                json!([{"$ref": format!("../Users/{other}"), "value": other}]),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ext]["manager"]["value"], other.as_str());
    let r = t
        .patch(&path, op("replace", &manager_path, json!("")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let manager = r.body.get(ext).and_then(|e| e.get("manager"));
    assert!(manager.is_none(), "manager cleared: {}", r.body);
}

async fn roles_as_json_strings_are_a_clean_400(app: &TestApp) {
    let t = app.tenant("contoso").await;
    let id = t.create_user(entra_create()).await;
    let r = t
        .patch(&format!("/Users/{id}"), json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "roles", "value": [
                {"value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}
            ]}]
        }))
        .await;
    assert!(
        r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
        "{}",
        r.body
    );
    assert!(r.status.as_u16() < 500);
}
