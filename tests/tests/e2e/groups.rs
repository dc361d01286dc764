//! SCIM Groups: the Entra ID group sequence and Okta's Push Groups,
//! membership as rows, the users' derived `groups`, isolation.

use e2e::{Tenant, TestApp, assert_scim_error, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    entra_group_sequence,
    okta_push_groups,
    group_filters_and_user_groups,
    members_must_be_users_of_the_tenant,
);

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn users(t: &Tenant, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            t.create_user(json!({"userName": format!("member{i}@contoso.com")}))
                .await,
        );
    }
    ids
}

async fn member_ids(t: &Tenant, group: &str) -> Vec<String> {
    let r = t.get(&format!("/Groups/{group}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn entra_group_sequence(app: &TestApp) {
    let t = app.tenant("contoso").await;
    let u = users(&t, 4).await;
    let created = t
        .post("/Groups", json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["members"], json!([]));
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location").unwrap(),
        format!("{}/Groups/{id}", t.base)
    );
    let path = format!("/Groups/{id}");

    let without = t.get(&format!("{path}?excludedAttributes=members")).await;
    assert_eq!(without.status, StatusCode::OK);
    assert!(without.body.get("members").is_none());
    let by_name = t
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22")
        .await;
    assert_eq!(by_name.body["totalResults"], 1);
    assert!(by_name.body["Resources"][0].get("members").is_none());

    // Add members in batches, twice (the second time idempotent).
    for _ in 0..2 {
        for batch in u.chunks(2) {
            let value: Vec<Value> = batch
                .iter()
                .map(|m| json!({"$ref": null, "value": m}))
                .collect();
            let r = t
                .patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": value}]}))
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        }
    }
    assert_eq!(member_ids(&t, &id).await, sorted(u.clone()));

    // Remove one, default dialect: only the listed member goes.
    let r = t
        .patch(
            &path,
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u[0]}]}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&t, &id).await, sorted(u[1..].to_vec()));
    // Remove one, aadOptscim062020 dialect; then a non-member, idempotently.
    for victim in [&u[1], &u[1]] {
        let r = t
            .patch(
                &path,
                json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "remove", "path": format!("members[value eq \"{victim}\"]")}
                ]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
    assert_eq!(member_ids(&t, &id).await, sorted(u[2..].to_vec()));

    // Rename.
    let r = t
        .patch(&path, json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}
        ]}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let renamed = t.get(&format!("{path}?attributes=displayName")).await;
    assert_eq!(
        renamed.body["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert!(renamed.body.get("members").is_none());

    // A PATCH that asks for attributes gets the group back.
    let r = t
        .send_with(
            reqwest::Method::PATCH,
            &format!("{path}?attributes=members"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": u[0]}]}
            ]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 3);

    // Delete.
    assert_eq!(t.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_scim_error(&t.get(&path).await, 404, None);
    let user = t.get(&format!("/Users/{}", u[2])).await;
    assert!(user.body.get("groups").is_none(), "{}", user.body);
}

async fn okta_push_groups(app: &TestApp) {
    let t = app.tenant("okta").await;
    let u = users(&t, 3).await;
    let created = t
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2", "members": []}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{id}");
    // Rename with a no-path value carrying the read-only id.
    let r = t
        .patch(
            &path,
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "value": {"id": id, "displayName": "Test SCIMv2 renamed"}}
            ]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // Replace the whole list, then remove by filter and add in one request.
    let r = t
        .patch(
            &path,
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}]}
            ]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(
        member_ids(&t, &id).await,
        sorted(vec![u[0].clone(), u[1].clone()])
    );
    let r = t
        .patch(&path, json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
            {"op": "add", "path": "members", "value": [{"value": u[2], "display": "member2@contoso.com"}]}
        ]}))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(
        member_ids(&t, &id).await,
        sorted(vec![u[1].clone(), u[2].clone()])
    );
    // Paged read, and PUT (AIW apps) replacing name and members.
    let page = t.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(page.body["totalResults"], 1);
    let r = t
        .put(&path, json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Put name", "members": [{"value": u[0]}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Put name");
    assert_eq!(member_ids(&t, &id).await, vec![u[0].clone()]);
    assert_eq!(t.delete(&path).await.status, StatusCode::NO_CONTENT);
}

async fn group_filters_and_user_groups(app: &TestApp) {
    let t = app.tenant("f").await;
    let u = users(&t, 2).await;
    let a = t
        .post(
            "/Groups",
            json!({"displayName": "Alpha", "externalId": "ext-a", "members": [{"value": u[0]}]}),
        )
        .await;
    let a = a.body["id"].as_str().unwrap().to_owned();
    let b = t
        .post(
            "/Groups",
            json!({"displayName": "Beta", "members": [{"value": u[0]}, {"value": u[1]}]}),
        )
        .await;
    let b = b.body["id"].as_str().unwrap().to_owned();
    let names = |r: &e2e::Reply| -> Vec<String> {
        let mut v: Vec<String> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["displayName"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&t.get("/Groups?filter=displayName%20eq%20%22alpha%22").await),
        ["Alpha"]
    );
    assert_eq!(
        names(&t.get("/Groups?filter=externalId%20eq%20%22ext-a%22").await),
        ["Alpha"]
    );
    let q = format!("/Groups?filter=members%5Bvalue%20eq%20%22{}%22%5D", u[1]);
    assert_eq!(names(&t.get(&q).await), ["Beta"]);
    let q = format!("/Groups?filter=members.value%20eq%20%22{}%22", u[0]);
    assert_eq!(names(&t.get(&q).await), ["Alpha", "Beta"]);
    // The user's read-only groups attribute comes from memberships.
    let user = t.get(&format!("/Users/{}", u[0])).await;
    let groups: Vec<&str> = user.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(groups.len(), 2);
    assert!(groups.contains(&a.as_str()) && groups.contains(&b.as_str()));
    assert_eq!(user.body["groups"][0]["display"], "Alpha");
    let q = format!("/Users?filter=groups%20eq%20%22{a}%22");
    assert_eq!(t.get(&q).await.body["totalResults"], 1);
    // Deleting a user removes it from its groups.
    assert_eq!(
        t.delete(&format!("/Users/{}", u[0])).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(member_ids(&t, &b).await, vec![u[1].clone()]);
}

async fn members_must_be_users_of_the_tenant(app: &TestApp) {
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    let foreign = a.create_user(json!({"userName": "a@a.com"})).await;
    let mine = b.create_user(json!({"userName": "b@b.com"})).await;
    // Another tenant's user, an unknown id and a non-id: 400 invalidValue, nothing written.
    for bad in [
        foreign.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-an-id",
    ] {
        let r = b
            .post(
                "/Groups",
                json!({"displayName": "G", "members": [{"value": mine}, {"value": bad}]}),
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    assert_eq!(b.get("/Groups").await.body["totalResults"], 0);
    let g = b.post("/Groups", json!({"displayName": "G"})).await;
    let g = g.body["id"].as_str().unwrap().to_owned();
    let r = b
        .patch(
            &format!("/Groups/{g}"),
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": mine}, {"value": foreign}]}
            ]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(member_ids(&b, &g).await.is_empty(), "all or nothing");
    // Tenant A cannot see or touch tenant B's group.
    assert_scim_error(&a.get(&format!("/Groups/{g}")).await, 404, None);
    assert_scim_error(&a.delete(&format!("/Groups/{g}")).await, 404, None);
    assert_eq!(a.get("/Groups").await.body["totalResults"], 0);
}
