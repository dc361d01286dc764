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
