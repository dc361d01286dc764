//! Cursor pagination (RFC 9865) beside index pagination: walking forwards
//! and backwards, stability under concurrent writes, sorting, and cursors
//! that cannot be forged or carried to another tenant or query.

use e2e::{Tenant, TestApp, assert_scim_error, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    cursor_walks_forwards_and_backwards,
    cursor_pages_are_stable_under_writes,
    cursors_are_bound_to_tenant_and_query,
);

fn names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["userName"]
                .as_str()
                .or(r["displayName"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

async fn users(t: &Tenant, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            t.create_user(json!({"userName": format!("{prefix}{i}@x.com")}))
                .await,
        );
    }
    ids
}

/// Follows nextCursor from the first page; returns the names seen.
async fn walk(t: &Tenant, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut page = t.get(&format!("{query}&cursor=")).await;
    loop {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(names(&page.body));
        match page.body["nextCursor"].as_str() {
            // Cursors are base64url and '.': safe in a query string as they are.
            Some(next) => page = t.get(&format!("{query}&cursor={next}")).await,
            None => return seen,
        }
    }
}

async fn cursor_walks_forwards_and_backwards(app: &TestApp) {
    let t = app.tenant("cursor").await;
    users(&t, 7, "u").await;
    let first = t.get("/Users?cursor=&count=3").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(names(&first.body), ["u0@x.com", "u1@x.com", "u2@x.com"]);
    assert_eq!(first.body["totalResults"], 7);
    assert_eq!(first.body["itemsPerPage"], 3);
    assert!(first.body.get("startIndex").is_none());
    assert!(first.body.get("previousCursor").is_none());
    let next = first.body["nextCursor"].as_str().unwrap();
    let second = t.get(&format!("/Users?count=3&cursor={next}")).await;
    assert_eq!(names(&second.body), ["u3@x.com", "u4@x.com", "u5@x.com"]);
    let third = t
        .get(&format!(
            "/Users?count=3&cursor={}",
            second.body["nextCursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&third.body), ["u6@x.com"]);
    assert!(third.body.get("nextCursor").is_none());
    // Back from the last page.
    let back = t
        .get(&format!(
            "/Users?count=3&cursor={}",
            third.body["previousCursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&back.body), names(&second.body));
    let back = t
        .get(&format!(
            "/Users?count=3&cursor={}",
            back.body["previousCursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&back.body), names(&first.body));
    assert!(back.body.get("previousCursor").is_none());
    assert!(back.body["nextCursor"].is_string());

    // Sorted, descending, filtered; and the same through POST .search.
    let sorted = walk(
        &t,
        "/Users?count=2&sortBy=userName&sortOrder=descending&filter=userName%20ne%20%22u3@x.com%22",
    )
    .await;
    assert_eq!(
        sorted,
        [
            "u6@x.com", "u5@x.com", "u4@x.com", "u2@x.com", "u1@x.com", "u0@x.com"
        ]
    );
    let searched = t
        .post("/Users/.search", json!({"cursor": "", "count": 5}))
        .await;
    assert_eq!(searched.body["Resources"].as_array().unwrap().len(), 5);
    assert!(searched.body["nextCursor"].is_string());
    let totals = t.get("/Users?cursor=&count=0").await;
    assert_eq!(totals.body["totalResults"], 7);
    assert_eq!(totals.body["Resources"], json!([]));

    // Index pagination stays the default; both at once is an error.
    let indexed = t.get("/Users?count=3").await;
    assert_eq!(indexed.body["startIndex"], 1);
    assert!(indexed.body.get("nextCursor").is_none());
    let both = t.get("/Users?startIndex=1&cursor=").await;
    assert_scim_error(&both, 400, Some("invalidValue"));
    let by_bool = t.get("/Users?cursor=&sortBy=active").await;
    assert_scim_error(&by_bool, 400, Some("invalidValue"));

    // Groups too, without members.
    for name in ["g0", "g1", "g2"] {
        t.post("/Groups", json!({"displayName": name})).await;
    }
    assert_eq!(
        walk(&t, "/Groups?count=2&excludedAttributes=members").await,
        ["g0", "g1", "g2"]
    );

    let spc = t.get("/ServiceProviderConfig").await;
    let pagination = &spc.body["pagination"];
    assert_eq!(pagination["cursor"], true);
    assert_eq!(pagination["index"], true);
    assert_eq!(pagination["defaultPaginationMethod"], "index");
    assert!(pagination["cursorTimeout"].as_u64().unwrap() > 0);
}

async fn cursor_pages_are_stable_under_writes(app: &TestApp) {
    let t = app.tenant("cursor").await;
    let ids = users(&t, 6, "a").await;
    let first = t.get("/Users?cursor=&count=3").await;
    let mut seen = names(&first.body);
    // Meanwhile: a seen user and an unseen one go, two users arrive.
    assert_eq!(
        t.delete(&format!("/Users/{}", ids[0])).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.delete(&format!("/Users/{}", ids[4])).await.status,
        StatusCode::NO_CONTENT
    );
    users(&t, 2, "b").await;
    let mut cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    loop {
        let page = t.get(&format!("/Users?count=3&cursor={cursor}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(names(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    // Nothing twice, nothing that existed throughout missed; no OFFSET shift.
    assert_eq!(
        seen,
        [
            "a0@x.com", "a1@x.com", "a2@x.com", "a3@x.com", "a5@x.com", "b0@x.com", "b1@x.com"
        ]
    );
}

async fn cursors_are_bound_to_tenant_and_query(app: &TestApp) {
    let t = app.tenant("cursor").await;
    let other = app.tenant("other").await;
    users(&t, 3, "c").await;
    users(&other, 3, "d").await;
    let page = t.get("/Users?cursor=&count=1").await;
    let next = page.body["nextCursor"].as_str().unwrap().to_owned();
    let stolen = other.get(&format!("/Users?count=1&cursor={next}")).await;
    assert_scim_error(&stolen, 400, Some("invalidCursor"));
    let other_filter = t
        .get(&format!(
            "/Users?count=1&filter=active%20eq%20true&cursor={next}"
        ))
        .await;
    assert_scim_error(&other_filter, 400, Some("invalidCursor"));
    let other_type = t.get(&format!("/Groups?count=1&cursor={next}")).await;
    assert_scim_error(&other_type, 400, Some("invalidCursor"));
    let (body, tag) = next.split_once('.').unwrap();
    let mut forged = body.to_owned();
    forged.replace_range(..1, if body.starts_with('e') { "f" } else { "e" });
    for bad in [
        format!("{forged}.{tag}"),
        "garbage".to_owned(),
        format!("{body}."),
    ] {
        let r = t.get(&format!("/Users?count=1&cursor={bad}")).await;
        assert_scim_error(&r, 400, Some("invalidCursor"));
    }
    // The genuine cursor still works, and the count may change between pages.
    let ok = t.get(&format!("/Users?count=5&cursor={next}")).await;
    assert_eq!(names(&ok.body), ["c1@x.com", "c2@x.com"]);
}
