//! A known Entra-style sequence, recorded exactly and redacted; filters,
//! paging and health over it.

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{list, logged, micros};

on_both_backends!(a_known_sequence_is_recorded_exactly_and_redacted);

/// `(method, path, status, scimType, resource type, resource id, summary)`.
type Expected<'a> = (&'a str, String, u32, &'a str, &'a str, String, String);

const PASSWORD: &str = "Pa55-w0rd-never-logged!";
const USER_AGENT: &str = "Microsoft.Identity.Provisioning";

async fn a_known_sequence_is_recorded_exactly_and_redacted(app: &TestApp) {
    let t = app.tenant("provlog").await;
    let entra = [("user-agent", USER_AGENT)];

    // 1. Entra's Test Connection: a random GUID as userName.
    let guid = uuid::Uuid::new_v4().to_string();
    let r = t
        .send_with(
            Method::GET,
            &format!("/Users?filter=userName%20eq%20%22{guid}%22"),
            None,
            &entra,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // 2. A user with a password and values that must never be logged.
    let alice = t
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "alice@contoso.example",
            "externalId": "ext-4711-secret",
            "name": {"givenName": "Alicia-Private", "familyName": "Privatova"},
            "title": "Confidential Title",
            "emails": [{"value": "alice.private@mail.example", "type": "work", "primary": true}],
            "password": PASSWORD,
            "active": true,
        }))
        .await;
    let bob = t
        .create_user(json!({"userName": "bob@contoso.example"}))
        .await;
    let carol = t
        .create_user(json!({"userName": "carol@contoso.example"}))
        .await;
    // 3. Entra's deactivation.
    let r = t
        .patch(
            &format!("/Users/{alice}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 4. A group, then three members in and one out.
    let r = t
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineers"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let group = r.body["id"].as_str().unwrap().to_owned();
    let r = t
        .patch(
            &format!("/Groups/{group}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Add", "path": "members", "value": [{"value": alice}, {"value": bob}, {"value": carol}]},
                    {"op": "Remove", "path": format!("members[value eq \"{carol}\"]")},
                ],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // 5. A duplicate userName (case differs) and an invalid filter.
    let r = t
        .post(
            "/Users",
            json!({"userName": "ALICE@contoso.example", "password": PASSWORD}),
        )
        .await;
    e2e::assert_scim_error(&r, 409, Some("uniqueness"));
    let r = t
        .get("/Users?filter=userName%20zz%20%22leaky-filter-value%22")
        .await;
    e2e::assert_scim_error(&r, 400, Some("invalidFilter"));

    let entries = logged(app, &t.id, 9).await;
    let expected: Vec<Expected> = vec![
        (
            "GET",
            "/Users".into(),
            200,
            "",
            "User",
            String::new(),
            "Test Connection: filter userName eq, 0 found".into(),
        ),
        (
            "POST",
            "/Users".into(),
            201,
            "",
            "User",
            alice.clone(),
            "created".into(),
        ),
        (
            "POST",
            "/Users".into(),
            201,
            "",
            "User",
            bob.clone(),
            "created".into(),
        ),
        (
            "POST",
            "/Users".into(),
            201,
            "",
            "User",
            carol.clone(),
            "created".into(),
        ),
        (
            "PATCH",
            format!("/Users/{alice}"),
            200,
            "",
            "User",
            alice.clone(),
            "deactivated".into(),
        ),
        (
            "POST",
            "/Groups".into(),
            201,
            "",
            "Group",
            group.clone(),
            "created".into(),
        ),
        (
            "PATCH",
            format!("/Groups/{group}"),
            204,
            "",
            "Group",
            group.clone(),
            "members +3 \u{2212}1".into(),
        ),
        (
            "POST",
            "/Users".into(),
            409,
            "uniqueness",
            "User",
            String::new(),
            "uniqueness: userName is already in use in this tenant".into(),
        ),
        (
            "GET",
            "/Users".into(),
            400,
            "invalidFilter",
            "User",
            String::new(),
            String::new(),
        ),
    ];
    for (i, (entry, want)) in entries.iter().zip(&expected).enumerate() {
        let (method, path, status, scim_type, kind, id, summary) = want;
        let at = format!("entry {i}: {entry:#?}");
        assert_eq!(entry.tenant_id, t.id, "{at}");
        assert_eq!(&entry.method, method, "{at}");
        assert_eq!(&entry.path, path, "{at}");
        assert_eq!(entry.status, *status, "{at}");
        assert_eq!(&entry.scim_type, scim_type, "{at}");
        assert_eq!(&entry.resource_type, kind, "{at}");
        assert_eq!(&entry.resource_id, id, "{at}");
        if summary.is_empty() {
            assert!(entry.summary.starts_with("invalidFilter: "), "{at}");
        } else {
            assert_eq!(&entry.summary, summary, "{at}");
        }
        assert_eq!(entry.token_id, t.token_id, "{at}");
        assert!(!entry.request_id.is_empty(), "{at}");
        assert!(entry.time.is_some(), "{at}");
        assert_eq!(entry.test_connection, i == 0, "{at}");
    }
    // Names: the looked-up GUID, userNames, the group's displayName.
    let names: Vec<&str> = entries.iter().map(|e| e.resource_name.as_str()).collect();
    assert_eq!(
        names,
        [
            guid.as_str(),
            "alice@contoso.example",
            "bob@contoso.example",
            "carol@contoso.example",
            "alice@contoso.example",
            "Engineers",
            "Engineers",
            "ALICE@contoso.example",
            "",
        ]
    );
    assert_eq!(entries[0].client, USER_AGENT);
    // Newest first, ids increasing with time.
    assert!(entries.windows(2).all(|w| w[0].id < w[1].id));

    // Redacted: no body value, password, token or header anywhere.
    let dump = format!("{entries:?}");
    for secret in [
        PASSWORD,
        t.token.as_str(),
        "ext-4711-secret",
        "Alicia-Private",
        "Privatova",
        "Confidential Title",
        "alice.private@mail.example",
        "leaky-filter-value",
        "Bearer",
        "filter=",
    ] {
        assert!(!dump.contains(secret), "{secret:?} leaked into the log");
    }

    // Filters: by user id, by userName (any case), by status, by time.
    let by = |resource: &str, status: &[&str]| pb::ListRequestLogRequest {
        resource: resource.to_owned(),
        status: status.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    };
    let ids = |page: pb::ListRequestLogResponse| -> Vec<i64> {
        page.entries.iter().map(|e| e.id).collect()
    };
    assert_eq!(
        ids(list(app, &t.id, by(&alice, &[])).await),
        [entries[4].id, entries[1].id]
    );
    assert_eq!(
        ids(list(app, &t.id, by("Alice@Contoso.Example", &[])).await),
        [entries[7].id, entries[4].id, entries[1].id]
    );
    assert_eq!(
        ids(list(app, &t.id, by("", &["409"])).await),
        [entries[7].id]
    );
    assert_eq!(
        ids(list(app, &t.id, by("", &["4xx"])).await),
        [entries[8].id, entries[7].id]
    );
    assert_eq!(
        ids(list(app, &t.id, by("", &["error"])).await),
        [entries[8].id, entries[7].id]
    );
    assert_eq!(list(app, &t.id, by("", &["2xx"])).await.entries.len(), 7);
    assert_eq!(
        ids(list(app, &t.id, by(&alice, &["error"])).await),
        Vec::<i64>::new()
    );
    let since = entries[7].time;
    let page = list(
        app,
        &t.id,
        pb::ListRequestLogRequest {
            since,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(page), [entries[8].id, entries[7].id]);
    let page = list(
        app,
        &t.id,
        pb::ListRequestLogRequest {
            until: entries[1].time,
            ..Default::default()
        },
    )
    .await;
    assert!(micros(entries[0].time.as_ref().unwrap()) < micros(entries[1].time.as_ref().unwrap()));
    assert_eq!(ids(page), [entries[0].id]);
    // Pages: 4 newest, then the next 4, then the last one.
    let first = list(
        app,
        &t.id,
        pb::ListRequestLogRequest {
            limit: 4,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first.entries.len(), 4);
    assert_eq!(first.next_before_id, entries[5].id);
    let second = list(
        app,
        &t.id,
        pb::ListRequestLogRequest {
            limit: 4,
            before_id: first.next_before_id,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(second.clone()),
        [entries[4].id, entries[3].id, entries[2].id, entries[1].id]
    );
    let last = list(
        app,
        &t.id,
        pb::ListRequestLogRequest {
            limit: 4,
            before_id: second.next_before_id,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(last.clone()), [entries[0].id]);
    assert_eq!(last.next_before_id, 0);

    // Health over the default window (24 hours).
    let health = app
        .identity
        .clone()
        .get_tenant_health(pb::GetTenantHealthRequest {
            tenant_id: t.id.clone(),
            window_seconds: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .health
        .unwrap();
    assert_eq!(health.window_seconds, 86_400);
    assert_eq!(health.requests, 9);
    assert_eq!(health.errors, 2);
    assert_eq!(health.server_errors, 0);
    assert_eq!(health.throttled, 0);
    assert!((health.error_rate - 2.0 / 9.0).abs() < 1e-9);
    // The 409 is a conflict Entra retries, not a quarantine failure.
    assert_eq!(health.quarantine_failures, 1);
    assert_eq!(health.quarantine_risk, "warning");
    assert_eq!(health.last_request, entries[8].time);
    assert_eq!(health.last_success, entries[6].time);
    assert_eq!(health.last_error, entries[8].time);
    assert_eq!(health.last_test_connection, entries[0].time);
    let kinds: Vec<(u32, &str, u64)> = health
        .top_errors
        .iter()
        .map(|e| (e.status, e.scim_type.as_str(), e.count))
        .collect();
    assert_eq!(kinds, [(400, "invalidFilter", 1), (409, "uniqueness", 1)]);
    assert!(
        health.summary.starts_with(
            "9 requests in the last 24 hours, 2 failed (22%), mostly 400 invalidFilter"
        ),
        "{}",
        health.summary
    );
}
