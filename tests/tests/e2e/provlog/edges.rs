//! The edges of recording: timeouts, throttling, shutdown, and bad input to
//! the log's RPCs.

use std::time::Duration;

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;

use super::{DELIVERY, code, entry, list, logged};

on_both_backends!(
    graceful_shutdown_flushes_the_queue,
    bad_log_requests_are_precise_errors,
    a_bad_entry_is_refused_alone,
);

/// One entry identity refuses costs that entry only, not the batch (of
/// every tenant) it came in.
async fn a_bad_entry_is_refused_alone(app: &TestApp) {
    let a = app.tenant("provlog-mixed-a").await;
    let b = app.tenant("provlog-mixed-b").await;
    let entries = vec![
        entry(&a.id, Duration::ZERO, "a kept"),
        pb::RequestLogEntry {
            method: "get".into(),
            ..entry(&a.id, Duration::ZERO, "lowercase method")
        },
        pb::RequestLogEntry {
            method: "G".repeat(17),
            ..entry(&b.id, Duration::ZERO, "long method")
        },
        pb::RequestLogEntry {
            status: 42,
            ..entry(&b.id, Duration::ZERO, "bad status")
        },
        entry("no-such-tenant", Duration::ZERO, "unknown tenant"),
        entry(&b.id, Duration::ZERO, "b kept"),
    ];
    let answer = app
        .identity
        .clone()
        .record_requests(pb::RecordRequestsRequest { entries })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((answer.recorded, answer.refused), (2, 4));
    assert_eq!(logged(app, &a.id, 1).await[0].summary, "a kept");
    assert_eq!(logged(app, &b.id, 1).await[0].summary, "b kept");
}

/// A request that runs into the request timeout (the 408 is answered
/// outside the recording layer) is still in its tenant's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_is_recorded_as_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut options = e2e::Options::default();
    options.protection.request_timeout_seconds = 1;
    let app = e2e::spawn_app_with(e2e::Backend::Sqlite, options).await;
    let t = app.tenant("slow").await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /scim/v2/{}/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"userName\"",
        t.id, t.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DELIVERY, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 408"));
    let entries = logged(&app, &t.id, 1).await;
    let e = &entries[0];
    assert_eq!(
        (e.method.as_str(), e.path.as_str(), e.status),
        ("POST", "/Users", 408)
    );
    assert_eq!(e.summary, "408: request timed out");
    assert!(e.latency_ms >= 1_000, "{e:?}");
}

/// Throttled requests are recorded (after authentication) and counted as
/// 429s in the tenant's health.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_show_in_the_log_and_in_health() {
    let mut options = e2e::Options::default();
    options.protection.default_rate = 1;
    options.protection.default_burst = 1;
    let app = e2e::spawn_app_with(e2e::Backend::Sqlite, options).await;
    let t = app.tenant("throttled").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(t.get("/Users").await.status.as_u16());
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 1, "{statuses:?}");
    let entries = logged(&app, &t.id, 3).await;
    let logged_statuses: Vec<u16> = entries.iter().map(|e| e.status as u16).collect();
    assert_eq!(logged_statuses, statuses);
    let throttled = entries.iter().find(|e| e.status == 429).unwrap();
    assert!(
        throttled
            .summary
            .starts_with("429: this tenant is over its rate limit"),
        "{throttled:?}"
    );
    let health = app
        .identity
        .clone()
        .get_tenant_health(pb::GetTenantHealthRequest {
            tenant_id: t.id.clone(),
            window_seconds: 600,
        })
        .await
        .unwrap()
        .into_inner()
        .health
        .unwrap();
    assert_eq!(health.throttled, limited as u64);
    assert_eq!(health.errors, limited as u64);
    assert_eq!(health.quarantine_failures, limited as u64);
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
        shutdown_delay_seconds: 0,
        tls: Default::default(),
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
