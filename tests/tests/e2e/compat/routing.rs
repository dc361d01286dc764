//! Tolerant routing: resource-type segments in any case and one trailing
//! slash, on every route; the tenant in the URL stays exact.

use e2e::{TestApp, assert_scim_error, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    every_route_takes_any_case_and_a_trailing_slash,
    the_tenant_stays_exact
);

async fn every_route_takes_any_case_and_a_trailing_slash(app: &TestApp) {
    let t = app.tenant("routing").await;
    let id = t
        .create_user(json!({"userName": "ann@x.com", "externalId": "A1"}))
        .await;
    let group = t
        .post(
            "/groups/",
            json!({"displayName": "G1", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_owned();

    for path in [
        "/users".to_owned(),
        "/Users/".to_owned(),
        "/USERS/?filter=userName%20eq%20%22ann@x.com%22".to_owned(),
        "/users?filter=userName%20eq%20%22ann@x.com%22".to_owned(),
        format!("/users/{id}"),
        format!("/Users/{id}/"),
        "/groups".to_owned(),
        "/Groups/".to_owned(),
        format!("/groups/{gid}/"),
        "/serviceproviderconfig".to_owned(),
        "/ServiceProviderConfig/".to_owned(),
        "/resourcetypes/".to_owned(),
        "/ResourceTypes/User/".to_owned(),
        "/schemas".to_owned(),
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User/".to_owned(),
    ] {
        let r = t.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
    }
    let listed = t
        .get("/users/?filter=userName%20eq%20%22ann@x.com%22")
        .await;
    assert_eq!(listed.body["totalResults"], 1, "{}", listed.body);
    assert_eq!(listed.body["Resources"][0]["id"], id.as_str());

    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"ann@x.com\""
    });
    for path in ["/users/.search", "/Users/.SEARCH/", "/.Search/"] {
        let r = t.post(path, search.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "POST {path}: {}", r.body);
        assert_eq!(r.body["totalResults"], 1, "POST {path}: {}", r.body);
    }

    let r = t
        .patch(
            &format!("/users/{id}/"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "displayName", "value": "Ann"}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Ann");

    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b1",
                        "data": {"userName": "bulk@x.com"}}]
    });
    let r = t.post("/bulk/", bulk).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Operations"][0]["status"], "201", "{}", r.body);

    let r = t
        .send(Method::DELETE, &format!("/groups/{gid}/"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = t.delete(&format!("/USERS/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

async fn the_tenant_stays_exact(app: &TestApp) {
    let t = app.tenant("routing").await;
    // The tenant in another case is another tenant: the token is not its.
    let other = t.base.replace(&t.id, &t.id.to_uppercase());
    let r = reqwest::Client::new()
        .get(format!("{other}/Users"))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(r.status().as_u16(), 401 | 403 | 404),
        "{}",
        r.status()
    );
    // Not a resource type in any spelling; two slashes are not one.
    assert_scim_error(&t.get("/Userz").await, 404, None);
    assert_scim_error(&t.get("/Users//").await, 404, None);
}
