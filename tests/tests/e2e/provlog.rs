//! The provisioning log: a known Entra-style sequence recorded exactly
//! (statuses, scimTypes, resources, summaries), redacted, filtered by user,
//! status and time, summed up as tenant health, pruned by retention, and
//! kept apart per tenant.

use std::time::Duration;

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    a_known_sequence_is_recorded_exactly_and_redacted,
    one_tenant_never_sees_another_tenants_requests,
    retention_prunes_old_and_excess_entries,
    bad_log_requests_are_precise_errors,
    graceful_shutdown_flushes_the_queue,
);

/// On Postgres with identity as a plain role, row-level security binds
/// every provisioning-log path: recording, listing, health and pruning
/// (which walks the tenants on the named cross-tenant path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_works_under_row_level_security() {
    let role = crate::protection::rls::Role::create().await;
    let app = e2e::spawn_app_with(
        e2e::Backend::Postgres,
        e2e::Options {
            identity_role: Some(role.0.clone()),
            ..e2e::Options::default()
        },
    )
    .await;
    one_tenant_never_sees_another_tenants_requests(&app).await;
    retention_prunes_old_and_excess_entries(&app).await;
    drop(app);
}

const PASSWORD: &str = "Pa55-w0rd-never-logged!";
const USER_AGENT: &str = "Microsoft.Identity.Provisioning";

/// How long the gateway may take to deliver its batch (it sends within 1 s).
const DELIVERY: Duration = Duration::from_secs(15);

/// The tenant's log as `ListRequestLog` answers `request` (tenant filled in).
async fn list(
    app: &TestApp,
    tenant: &str,
    request: pb::ListRequestLogRequest,
) -> pb::ListRequestLogResponse {
    app.identity
        .clone()
        .list_request_log(pb::ListRequestLogRequest {
            tenant_id: tenant.to_owned(),
            ..request
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits until the tenant's log holds `n` entries; returns them oldest first.
async fn logged(app: &TestApp, tenant: &str, n: usize) -> Vec<pb::RequestLogEntry> {
    let deadline = tokio::time::Instant::now() + DELIVERY;
    loop {
        let page = list(
            app,
            tenant,
            pb::ListRequestLogRequest {
                limit: 1000,
                ..Default::default()
            },
        )
        .await;
        if page.entries.len() >= n {
            assert_eq!(page.entries.len(), n, "{:#?}", page.entries);
            let mut entries = page.entries;
            entries.reverse();
            return entries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} entries after {DELIVERY:?}",
            page.entries.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn micros(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000
}

/// `(method, path, status, scimType, resource type, resource id, summary)`.
type Expected<'a> = (&'a str, String, u32, &'a str, &'a str, String, String);

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

async fn one_tenant_never_sees_another_tenants_requests(app: &TestApp) {
    let a = app.tenant("provlog-a").await;
    let b = app.tenant("provlog-b").await;
    let a_user = a.create_user(json!({"userName": "shared@x.example"})).await;
    let b_user = b.create_user(json!({"userName": "shared@x.example"})).await;
    assert_eq!(
        b.get(&format!("/Users/{b_user}")).await.status,
        StatusCode::OK
    );
    // A's token on B's URL: refused, and written to no tenant's log.
    let stray = app
        .http
        .get(format!("{}/Users", b.base))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), StatusCode::UNAUTHORIZED);
    // A last request on A, so both logs are complete once it shows.
    assert_eq!(a.get("/Users").await.status, StatusCode::OK);

    // A's last request is sent after everything else: once it is in, so
    // is every earlier entry.
    let a_entries = logged(app, &a.id, 2).await;
    let b_entries = logged(app, &b.id, 2).await;
    assert!(
        a_entries
            .iter()
            .all(|e| e.tenant_id == a.id && e.token_id == a.token_id)
    );
    assert!(
        b_entries
            .iter()
            .all(|e| e.tenant_id == b.id && e.token_id == b.token_id)
    );
    assert_eq!(a_entries[0].resource_id, a_user);
    assert_eq!(b_entries[1].resource_id, b_user);
    // A's user id in B's log finds nothing; the shared userName finds B's own.
    let page = list(
        app,
        &b.id,
        pb::ListRequestLogRequest {
            resource: a_user.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(page.entries.is_empty());
    let page = list(
        app,
        &b.id,
        pb::ListRequestLogRequest {
            resource: "shared@x.example".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(page.entries.len(), 2);
    assert!(page.entries.iter().all(|e| e.resource_id == b_user));
    let health = app
        .identity
        .clone()
        .get_tenant_health(pb::GetTenantHealthRequest {
            tenant_id: b.id.clone(),
            window_seconds: 3_600,
        })
        .await
        .unwrap()
        .into_inner()
        .health
        .unwrap();
    assert_eq!((health.requests, health.errors), (2, 0));
    assert_eq!(health.quarantine_risk, "ok");
}

/// A gateway stopped right after a request has delivered its entry by the
/// time it returns: no waiting for the batch interval, nothing lost.
async fn graceful_shutdown_flushes_the_queue(app: &TestApp) {
    let t = app.tenant("flush").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = gateway::Config {
        listen: addr,
        identity_url: app.identity_url.clone(),
        public_base_url: None,
        auth_cache_ttl_seconds: 10,
        max_body_bytes: 1 << 20,
        protection: e2e::Options::default().protection,
        protocol: gateway::protocol::ProtocolConfig::default(),
    };
    let gateway = gateway::Application::build(&config, listener).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let reply = reqwest::Client::new()
        .get(format!("http://{addr}/scim/v2/{}/Users", t.id))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    drop(reply);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let entries = list(app, &t.id, Default::default()).await.entries;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0].summary, "list 0 of 0");
}

/// The code of a call that must fail.
fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> tonic::Code {
    r.unwrap_err().code()
}

fn entry(tenant: &str, age: Duration, summary: &str) -> pb::RequestLogEntry {
    let at = std::time::SystemTime::now() - age;
    pb::RequestLogEntry {
        tenant_id: tenant.to_owned(),
        time: Some(prost_types::Timestamp::from(at)),
        method: "GET".into(),
        path: "/Users".into(),
        status: 200,
        summary: summary.to_owned(),
        ..Default::default()
    }
}

async fn retention_prunes_old_and_excess_entries(app: &TestApp) {
    let a = app.tenant("retain-a").await;
    let b = app.tenant("retain-b").await;
    let day = Duration::from_secs(86_400);
    let mut entries = Vec::new();
    for i in 0..3 {
        entries.push(entry(&a.id, day * 40 + Duration::from_secs(i), "old"));
    }
    for i in 0..6u64 {
        entries.push(entry(
            &a.id,
            Duration::from_secs(60 - i),
            &format!("new {i}"),
        ));
    }
    entries.push(entry(&b.id, day * 40, "old"));
    entries.push(entry(&b.id, Duration::from_secs(5), "new"));
    let recorded = app
        .identity
        .clone()
        .record_requests(pb::RecordRequestsRequest { entries })
        .await
        .unwrap()
        .into_inner()
        .recorded;
    assert_eq!(recorded, 11);

    let retention = identity::request_log::Retention {
        max_age: day * 30,
        max_per_tenant: 4,
        interval: Duration::from_secs(600),
    };
    let deleted = identity::request_log::prune_all(&app.identity_store, &retention)
        .await
        .unwrap();
    // A: 3 too old, then 2 beyond the cap of 4; B: 1 too old.
    assert_eq!(deleted, 6);
    let a_left: Vec<String> = list(app, &a.id, Default::default())
        .await
        .entries
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert_eq!(a_left, ["new 5", "new 4", "new 3", "new 2"]);
    let b_left = list(app, &b.id, Default::default()).await.entries;
    assert_eq!(b_left.len(), 1);
    assert_eq!(b_left[0].summary, "new");
}

async fn bad_log_requests_are_precise_errors(app: &TestApp) {
    let t = app.tenant("provlog-bad").await;
    let mut identity = app.identity.clone();
    let record = |e: pb::RequestLogEntry| pb::RecordRequestsRequest { entries: vec![e] };
    let good = entry(&t.id, Duration::ZERO, "x");
    assert_eq!(
        code(
            identity
                .record_requests(record(pb::RequestLogEntry {
                    status: 42,
                    ..good.clone()
                }))
                .await
        ),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(
            identity
                .record_requests(record(pb::RequestLogEntry {
                    tenant_id: "no-such-tenant".into(),
                    ..good.clone()
                }))
                .await
        ),
        tonic::Code::NotFound
    );
    let listing = |status: &str| pb::ListRequestLogRequest {
        tenant_id: t.id.clone(),
        status: vec![status.to_owned()],
        ..Default::default()
    };
    assert_eq!(
        code(identity.list_request_log(listing("6xx")).await),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(
            identity
                .list_request_log(pb::ListRequestLogRequest {
                    tenant_id: "Not A Tenant".into(),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(
            identity
                .get_tenant_health(pb::GetTenantHealthRequest {
                    tenant_id: t.id.clone(),
                    window_seconds: 365 * 86_400,
                })
                .await
        ),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(
            identity
                .get_tenant_health(pb::GetTenantHealthRequest {
                    tenant_id: "no-such-tenant".into(),
                    window_seconds: 0,
                })
                .await
        ),
        tonic::Code::NotFound
    );
    // Nothing of the refused batches was written.
    assert!(
        list(app, &t.id, Default::default())
            .await
            .entries
            .is_empty()
    );
}
