//! The router against an identity that is never reached: every request
//! here is answered from the gateway's own state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Method, Request};
use tonic::transport::Endpoint;
use tower::ServiceExt;

use super::*;

fn app_state(config: &Config) -> AppState {
    let nowhere = Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (state, log_entries) = state(config, nowhere, "http://scim.test", draining).unwrap();
    // Entries queue up unread; the queue drops what it cannot hold.
    std::mem::forget(log_entries);
    state
}

async fn send(app: &Router, request: Request<Body>) -> Response {
    app.clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {})
}

#[tokio::test]
async fn invented_methods_make_no_new_metric_series() {
    let metrics = telemetry::metrics::handle();
    let app = router(app_state(&Config::default()));
    for i in 0..100 {
        for path in ["/scim/v2/t/Me", "/scim/v2/t/Users", "/scim/v2/t/Bulk"] {
            let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            send(&app, request).await;
        }
    }
    let rendered = metrics.render();
    assert!(!rendered.contains("INVENTED"), "{rendered}");
    assert!(rendered.contains(r#"method="other""#), "{rendered}");
}

/// A body that notes when it is read, and never ends.
fn watched_body(polled: Arc<std::sync::atomic::AtomicBool>) -> Body {
    let stream = futures::stream::poll_fn(move |_| {
        polled.store(true, std::sync::atomic::Ordering::SeqCst);
        std::task::Poll::<Option<Result<bytes::Bytes, std::io::Error>>>::Pending
    });
    Body::from_stream(stream)
}

async fn known_caller(state: &AppState, rate_per_second: u32, burst: u32) {
    let caller = auth::Caller {
        tenant_id: "t".into(),
        token_id: format!("token-{rate_per_second}-{burst}"),
        rate_per_second,
        burst,
        profile: scim::IdpProfile::default(),
    };
    state.auth.remember("secret", caller).await;
}

fn bulk(body: Body) -> Request<Body> {
    Request::post("/scim/v2/t/Bulk")
        .header("authorization", "Bearer secret")
        .header("content-type", "application/scim+json")
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn a_token_over_its_rate_limit_is_refused_before_its_body_is_read() {
    let mut config = Config::default();
    config.protection.request_timeout_seconds = 2;
    let state = app_state(&config);
    known_caller(&state, 1, 1).await;
    let app = router(state);
    let empty =
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}"#;
    let first = send(&app, bulk(Body::from(empty))).await;
    assert_ne!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    // A deletion draws on the reserve: now the token has nothing left at all.
    let delete = Request::delete("/scim/v2/t/Users/u1")
        .header("authorization", "Bearer secret")
        .body(Body::empty())
        .unwrap();
    assert_ne!(
        send(&app, delete).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let polled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let second = send(&app, bulk(watched_body(polled.clone()))).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().contains_key("retry-after"));
    assert!(!polled.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn a_tenant_without_a_free_slot_is_refused_before_its_body_is_read() {
    let mut config = Config::default();
    config.protection.rate_limit_enabled = false;
    config.protection.tenant_max_concurrency = 1;
    config.protection.tenant_queue_wait_ms = 50;
    config.protection.request_timeout_seconds = 2;
    let state = app_state(&config);
    known_caller(&state, 0, 0).await;
    let app = router(state);
    // Two requests whose bodies never end hold the tenant's only slot and
    // its only reserved one (either might have been a deactivation).
    let mut holders = Vec::new();
    for _ in 0..2 {
        let hold = Arc::new(std::sync::atomic::AtomicBool::new(false));
        holders.push(tokio::spawn({
            let app = app.clone();
            let hold = hold.clone();
            async move { send(&app, bulk(watched_body(hold))).await }
        }));
        while !hold.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
    }
    let polled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused = send(&app, bulk(watched_body(polled.clone()))).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!polled.load(std::sync::atomic::Ordering::SeqCst));
    for holder in holders {
        holder.abort();
    }
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_when_short_and_plain() {
    let app = router(app_state(&Config::default()));
    let id_of = |request_id: &str| {
        Request::builder()
            .uri("/livez")
            .header("x-request-id", request_id)
            .body(Body::empty())
            .unwrap()
    };
    let kept = send(&app, id_of("ingress-42.a_b:c")).await;
    assert_eq!(kept.headers()["x-request-id"], "ingress-42.a_b:c");
    for hostile in ["x".repeat(2000), "a\"} forged".to_owned(), String::new()] {
        let r = send(&app, id_of(&hostile)).await;
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id:?} for {hostile:?}");
    }
}

#[tokio::test]
async fn trace_context_from_clients_is_dropped_unless_followed() {
    use axum::http::HeaderMap;
    async fn echo(headers: HeaderMap) -> String {
        format!("{}", headers.contains_key("traceparent"))
    }
    let context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (follow, expected) in [(false, "false"), (true, "true")] {
        let inbound = Arc::new(protect::inbound::Inbound {
            trace_context_from_clients: follow,
            ..Default::default()
        });
        let app = Router::new()
            .route("/", get(echo))
            .layer(middleware::from_fn_with_state(
                inbound,
                protect::inbound::sanitize,
            ));
        let request = Request::builder()
            .uri("/")
            .header("traceparent", context)
            .body(Body::empty())
            .unwrap();
        let body = axum::body::to_bytes(send(&app, request).await.into_body(), 64)
            .await
            .unwrap();
        assert_eq!(body, expected);
    }
}
