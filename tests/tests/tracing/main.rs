//! Distributed tracing end to end: gateway, identity and policy each in a
//! process of its own (`scim-service`, OpenTelemetry's pipeline being per
//! process), exporting over OTLP/gRPC to a receiver this test runs. One SCIM
//! request that creates a user must give one trace holding spans of all
//! three services, linked parent to child across the gRPC calls and across
//! identity's change stream, with the tenant and without the token; JSON
//! logs carry its trace id, and a caller's `traceparent` is continued.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod otlp;
mod process;

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;

use otlp::{Received, Receiver, Trace, start_receiver};
use process::System;

const DEADLINE: Duration = Duration::from_secs(30);

const USER_NAME: &str = "trace.person@contoso.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scim_request_is_one_trace_across_all_three_services() {
    // reqwest is built without a default TLS provider (plain http here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (otlp, receiver) = start_receiver().await;
    let mut system = System::start(&otlp).await;
    let request_id = create_user(&system).await;

    // The request's trace, once policy's part of it has arrived too.
    receiver
        .wait_for("the request's spans from all three services", |spans| {
            let Some(request) = spans.iter().find(|r| is_create_request(r)) else {
                return false;
            };
            let trace = Trace::of(spans, &request.trace_id());
            let has = |service: &str, name: &str| {
                trace
                    .spans
                    .iter()
                    .any(|r| r.service == service && r.span.name == name)
            };
            has("identity", "db.create_user")
                && has("policy", "policy.apply_changes")
                && has("policy", "db.apply_changes")
        })
        .await;
    let spans = receiver.spans.lock().unwrap().clone();
    let request = check_request_trace(&spans, &system.tenant, &request_id);
    check_no_transport_spans(&spans);

    // JSON logs carry the trace id of the span they were written in.
    let finished = system
        .gateway
        .log_line(|l| l["message"] == "finished processing request" && l["status"] == 201)
        .await;
    assert_eq!(finished["trace_id"], request.trace_id().as_str());
    assert_eq!(finished["span_id"], request.span_id().as_str());

    check_caller_context_continued(&system, &receiver).await;
    check_nothing_leaked(&receiver, &system.token);
}

/// Creates a user through the gateway; returns the request id it answered.
async fn create_user(system: &System) -> String {
    let created = reqwest::Client::new()
        .post(format!(
            "{}/scim/v2/{}/Users",
            system.gateway.addr, system.tenant
        ))
        .bearer_auth(&system.token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": USER_NAME,
                "active": true
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_create_request(r: &Received) -> bool {
    r.service == "gateway"
        && r.span.name == "POST /scim/v2/{tenant}/Users"
        && r.attr("http.request.method").as_deref() == Some("POST")
        && r.attr("http.route").as_deref() == Some("/scim/v2/{tenant}/Users")
}

/// The shape of the user creation's trace; returns its request span.
fn check_request_trace(spans: &[Received], tenant: &str, request_id: &str) -> Received {
    let requests: Vec<_> = spans.iter().filter(|r| is_create_request(r)).collect();
    assert_eq!(requests.len(), 1, "one SCIM request, one request span");
    let request = requests[0];
    let trace = Trace::of(spans, &request.trace_id());

    // The gateway's request span is the root; the client sent no context.
    assert!(request.span.parent_span_id.is_empty(), "{request:#?}");
    assert_eq!(request.span.kind, SpanKind::Server as i32);
    assert_eq!(request.attr("tenant_id").as_deref(), Some(tenant));
    let status = request.attr("http.response.status_code");
    assert_eq!(status.as_deref(), Some("201"));
    let path = request.attr("url.path");
    assert_eq!(path, Some(format!("/scim/v2/{tenant}/Users")));
    assert_eq!(request.attr("request_id").as_deref(), Some(request_id));
    assert_eq!(trace.roots().len(), 1, "one root: {:#?}", trace.roots());
    assert_eq!(trace.services(), ["gateway", "identity", "policy"]);

    // gateway → identity: the client span's context went in the metadata.
    let method = |m: &'static str| move |r: &Received| r.attr("rpc.method").as_deref() == Some(m);
    let create = "identity.v1.IdentityService/CreateUser";
    let client = trace.one("gateway", create, method("CreateUser"));
    assert_eq!(client.span.kind, SpanKind::Client as i32);
    assert!(trace.descends(client, request));
    assert_eq!(client.attr("rpc.system").as_deref(), Some("grpc"));
    let service = client.attr("rpc.service");
    assert_eq!(service.as_deref(), Some("identity.v1.IdentityService"));
    let server = trace.one("identity", create, method("CreateUser"));
    assert_eq!(server.span.kind, SpanKind::Server as i32);
    assert_eq!(server.parent_id(), client.span_id());
    assert_eq!(server.attr("rpc.grpc.status_code").as_deref(), Some("0"));
    // The token check is a call of the same trace too.
    let authenticate = "identity.v1.IdentityService/AuthenticateToken";
    let auth = trace.one("identity", authenticate, |r| {
        r.span.kind == SpanKind::Server as i32
    });
    assert!(trace.descends(auth, request));

    // identity's database work is a child of its call.
    let insert = trace.one("identity", "db.create_user", |_| true);
    assert!(trace.descends(insert, server));
    assert_eq!(insert.span.kind, SpanKind::Client as i32);
    assert_eq!(insert.attr("db.system").as_deref(), Some("sqlite"));
    assert_eq!(insert.attr("db.operation").as_deref(), Some("create_user"));
    assert_eq!(insert.attr("tenant_id").as_deref(), Some(tenant));

    // identity → policy through the change stream: the change record
    // carried the writer's context.
    let apply = trace.one("policy", "policy.apply_changes", |_| true);
    assert_eq!(apply.parent_id(), insert.span_id());
    assert_eq!(apply.attr("tenant_id").as_deref(), Some(tenant));
    let recompute = trace.one("policy", "db.apply_changes", |_| true);
    assert_eq!(recompute.parent_id(), apply.span_id());
    request.clone()
}

/// Even with the transport at `trace` level, none of its own spans.
fn check_no_transport_spans(spans: &[Received]) {
    let transport: Vec<_> = spans
        .iter()
        .filter_map(|r| r.attr("code.namespace").or_else(|| r.attr("target")))
        .filter(|t| {
            ["h2", "hyper", "tonic", "tower", "opentelemetry"]
                .iter()
                .any(|p| t.starts_with(p))
        })
        .collect();
    assert!(
        transport.is_empty(),
        "transport spans exported: {transport:?}"
    );
}

/// A caller's trace context (an ingress that traces) is continued.
async fn check_caller_context_continued(system: &System, receiver: &Receiver) {
    let caller_trace = "5b8efff798038103d269b633813fc60c";
    let caller_span = "eee19b7ec3c1b174";
    let read = reqwest::Client::new()
        .get(format!(
            "{}/scim/v2/{}/Users?count=1",
            system.gateway.addr, system.tenant
        ))
        .bearer_auth(&system.token)
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), reqwest::StatusCode::OK);
    receiver
        .wait_for("the gateway span of the caller's trace", |spans| {
            spans.iter().any(|r| {
                r.service == "gateway"
                    && r.trace_id() == caller_trace
                    && r.parent_id() == caller_span
            })
        })
        .await;
}

/// Never the token, the header it came in, query strings, or the request's
/// personal data, in anything exported so far.
fn check_nothing_leaked(receiver: &Receiver, token: &str) {
    let raw = receiver.raw.lock().unwrap().clone();
    assert!(!raw.contains(token), "the token was exported");
    let tail = &token[token.len() - 16..];
    assert!(!raw.contains(tail), "part of the token was exported");
    let bearer = raw.to_ascii_lowercase().contains("bearer");
    assert!(!bearer, "an authorization header was exported");
    assert!(!raw.contains(USER_NAME), "the userName was exported");
    assert!(!raw.contains("count=1"), "a query string was exported");
}
