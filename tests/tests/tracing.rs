//! Distributed tracing end to end: gateway, identity and policy each in a
//! process of its own (`scim-service`, OpenTelemetry's pipeline being per
//! process), exporting over OTLP/gRPC to a receiver this test runs. One SCIM
//! request that creates a user must give one trace holding spans of all
//! three services, linked parent to child across the gRPC calls and across
//! identity's change stream, with the tenant and without the token; JSON
//! logs carry its trace id, and a caller's `traceparent` is continued.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use proto::identity::v1 as pb;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

const DEADLINE: Duration = Duration::from_secs(30);

// === the OTLP receiver ===

/// A span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: opentelemetry_proto::tonic::trace::v1::Span,
}

impl Received {
    fn attr(&self, key: &str) -> Option<String> {
        attr(&self.span.attributes, key)
    }
    fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }
    fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }
    fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

#[derive(Clone)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
    /// Every export request as text, to search for what must never be there.
    raw: Arc<Mutex<String>>,
    arrived: Arc<watch::Sender<usize>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        self.raw.lock().unwrap().push_str(&format!("{request:?}\n"));
        let mut received = Vec::new();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        self.spans.lock().unwrap().extend(received);
        self.arrived.send_modify(|n| *n += 1);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn start_receiver() -> (String, Receiver) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = Receiver {
        spans: Arc::default(),
        raw: Arc::default(),
        arrived: Arc::new(watch::channel(0).0),
    };
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (format!("http://{addr}"), receiver)
}

impl Receiver {
    /// Waits until `done` holds for the spans received so far.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) {
        let mut arrived = self.arrived.subscribe();
        let wait = async {
            loop {
                if done(&self.spans.lock().unwrap()) {
                    return;
                }
                arrived.changed().await.unwrap();
            }
        };
        if tokio::time::timeout(DEADLINE, wait).await.is_err() {
            let seen: Vec<_> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .map(|r| format!("{} {} {}", r.service, r.span.name, r.trace_id()))
                .collect();
            panic!(
                "timed out waiting for {what}; received:\n{}",
                seen.join("\n")
            );
        }
    }
}

// === the services, one process each ===

/// A running service process; killed when dropped.
struct Service {
    _child: Child,
    addr: String,
    /// Its log lines (JSON) so far.
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    logged: watch::Receiver<usize>,
}

impl Service {
    /// Waits for a log line that `wanted` accepts, and returns it.
    async fn log_line(&mut self, wanted: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let wait = async {
            loop {
                let found = self
                    .logs
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|l| wanted(l))
                    .cloned();
                if let Some(line) = found {
                    return line;
                }
                self.logged.changed().await.unwrap();
            }
        };
        let logs = self.logs.clone();
        tokio::time::timeout(DEADLINE, wait)
            .await
            .unwrap_or_else(|_| panic!("no such log line in {:#?}", logs.lock().unwrap()))
    }
}

/// Starts `scim-service <name>` with `env` and JSON logs, exporting to
/// `otlp`, and waits for its log line `ready` to learn the bound address.
async fn start(name: &str, otlp: &str, env: &[(&str, String)], ready: &str) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-service"));
    command.arg(name);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key == "REDIS_URL" || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
        .env("LOG_FORMAT", "json")
        // The transport's own spans are at `trace`: let them through, to
        // see that they are not exported.
        .env(
            "RUST_LOG",
            "debug,h2=trace,hyper=trace,tonic=trace,tower=trace",
        )
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        // Export every 50 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("scim-service starts");
    let stdout = child.stdout.take().unwrap();
    let logs: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let (addr_tx, addr_rx) = oneshot::channel();
    let (logged_tx, logged) = watch::channel(0);
    let lines = logs.clone();
    let wanted = ready.to_owned();
    tokio::spawn(async move {
        let mut addr_tx = Some(addr_tx);
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("a log line that is not JSON: {line}");
            };
            if value["message"] == wanted.as_str()
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(value["addr"].as_str().unwrap_or_default().to_owned());
            }
            lines.lock().unwrap().push(value);
            logged_tx.send_modify(|n| *n += 1);
        }
    });
    let addr = tokio::time::timeout(DEADLINE, addr_rx)
        .await
        .unwrap_or_else(|_| panic!("{name} did not log {ready:?}"))
        .unwrap_or_else(|_| panic!("{name} exited before logging {ready:?}"));
    Service {
        _child: child,
        addr: format!("http://{addr}"),
        logs,
        logged,
    }
}

// === the test ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scim_request_is_one_trace_across_all_three_services() {
    let (otlp, receiver) = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = |file: &str| format!("sqlite:{}", dir.path().join(file).display());

    let identity = start(
        "identity",
        &otlp,
        &[
            ("IDENTITY_LISTEN", "127.0.0.1:0".into()),
            ("DATABASE_URL", db("identity.db")),
            ("MIGRATE_ON_START", "true".into()),
        ],
        "identity serving gRPC",
    )
    .await;
    let policy = start(
        "policy",
        &otlp,
        &[
            ("POLICY_LISTEN", "127.0.0.1:0".into()),
            ("DATABASE_URL", db("policy.db")),
            ("MIGRATE_ON_START", "true".into()),
            ("IDENTITY_URL", identity.addr.clone()),
        ],
        "policy serving gRPC",
    )
    .await;
    let mut gateway = start(
        "gateway",
        &otlp,
        &[
            ("GATEWAY_LISTEN", "127.0.0.1:0".into()),
            ("IDENTITY_URL", identity.addr.clone()),
        ],
        "gateway serving SCIM",
    )
    .await;

    // A tenant and its token, straight from identity (an untraced caller).
    let tenant = format!("trace-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut admin = IdentityServiceClient::connect(identity.addr.clone())
        .await
        .unwrap();
    admin
        .create_tenant(pb::CreateTenantRequest {
            id: tenant.clone(),
            display_name: "Trace".into(),
        })
        .await
        .unwrap();
    let token = admin
        .issue_token(pb::IssueTokenRequest {
            tenant_id: tenant.clone(),
            description: "trace test".into(),
            ttl_seconds: 0,
            secret: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .secret;

    let user_name = "trace.person@contoso.com";
    // reqwest is built without a default TLS provider (plain http here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let created = reqwest::Client::new()
        .post(format!("{}/scim/v2/{tenant}/Users", gateway.addr))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "active": true
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let request_id = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    // The request's trace, once policy's part of it has arrived too.
    let is_request = |r: &Received| {
        r.service == "gateway"
            && r.span.name == "POST /scim/v2/{tenant}/Users"
            && r.attr("http.request.method").as_deref() == Some("POST")
            && r.attr("http.route").as_deref() == Some("/scim/v2/{tenant}/Users")
    };
    receiver
        .wait_for("the request's spans from all three services", |spans| {
            let Some(request) = spans.iter().find(|r| is_request(r)) else {
                return false;
            };
            let trace = request.trace_id();
            let in_trace = |service: &str, name: &str| {
                spans
                    .iter()
                    .any(|r| r.trace_id() == trace && r.service == service && r.span.name == name)
            };
            in_trace("identity", "db.create_user")
                && in_trace("policy", "policy.apply_changes")
                && in_trace("policy", "db.apply_changes")
        })
        .await;

    let spans = receiver.spans.lock().unwrap().clone();
    let requests: Vec<_> = spans.iter().filter(|r| is_request(r)).collect();
    assert_eq!(requests.len(), 1, "one SCIM request, one request span");
    let request = requests[0];
    let trace_id = request.trace_id();
    let trace: Vec<&Received> = spans.iter().filter(|r| r.trace_id() == trace_id).collect();
    let by_id: HashMap<String, &Received> = trace.iter().map(|r| (r.span_id(), *r)).collect();
    let one = |service: &str, name: &str, pick: &dyn Fn(&Received) -> bool| -> &Received {
        let found: Vec<_> = trace
            .iter()
            .filter(|r| r.service == service && r.span.name == name && pick(r))
            .collect();
        assert_eq!(found.len(), 1, "{service} {name}: {found:#?}");
        found[0]
    };
    let descends = |child: &Received, ancestor: &Received| {
        let mut at = child.parent_id();
        while let Some(parent) = by_id.get(&at) {
            if parent.span_id() == ancestor.span_id() {
                return true;
            }
            at = parent.parent_id();
        }
        false
    };

    // The gateway's request span is the root; the client attempted no context.
    assert!(request.span.parent_span_id.is_empty(), "{request:#?}");
    assert_eq!(request.span.kind, SpanKind::Server as i32);
    assert_eq!(request.attr("tenant_id").as_deref(), Some(tenant.as_str()));
    assert_eq!(
        request.attr("http.response.status_code").as_deref(),
        Some("201")
    );
    assert_eq!(
        request.attr("url.path"),
        Some(format!("/scim/v2/{tenant}/Users"))
    );
    assert_eq!(request.attr("request_id"), Some(request_id));
    let roots: Vec<_> = trace
        .iter()
        .filter(|r| r.span.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    let services: std::collections::BTreeSet<_> =
        trace.iter().map(|r| r.service.as_str()).collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["gateway", "identity", "policy"]
    );

    // gateway → identity: the client span's context went in the metadata.
    let method = |m: &'static str| move |r: &Received| r.attr("rpc.method").as_deref() == Some(m);
    let create = "identity.v1.IdentityService/CreateUser";
    let client = one("gateway", create, &method("CreateUser"));
    assert_eq!(client.span.kind, SpanKind::Client as i32);
    assert!(descends(client, request));
    assert_eq!(client.attr("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        client.attr("rpc.service").as_deref(),
        Some("identity.v1.IdentityService")
    );
    let server = one("identity", create, &method("CreateUser"));
    assert_eq!(server.span.kind, SpanKind::Server as i32);
    assert_eq!(server.parent_id(), client.span_id());
    assert_eq!(server.attr("rpc.grpc.status_code").as_deref(), Some("0"));
    // The token check is a call of the same trace too.
    let auth = one(
        "identity",
        "identity.v1.IdentityService/AuthenticateToken",
        &|r| r.span.kind == SpanKind::Server as i32,
    );
    assert!(descends(auth, request));

    // identity's database work is a child of its call.
    let insert = one("identity", "db.create_user", &|_| true);
    assert!(descends(insert, server));
    assert_eq!(insert.span.kind, SpanKind::Client as i32);
    assert_eq!(insert.attr("db.system").as_deref(), Some("sqlite"));
    assert_eq!(insert.attr("db.operation").as_deref(), Some("create_user"));
    assert_eq!(insert.attr("tenant_id").as_deref(), Some(tenant.as_str()));

    // identity → policy through the change stream: the change record
    // carried the writer's context.
    let apply = one("policy", "policy.apply_changes", &|_| true);
    assert_eq!(apply.parent_id(), insert.span_id());
    assert_eq!(apply.attr("tenant_id").as_deref(), Some(tenant.as_str()));
    let recompute = one("policy", "db.apply_changes", &|_| true);
    assert_eq!(recompute.parent_id(), apply.span_id());

    // Even at `trace`, none of the transport's own spans.
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

    // JSON logs carry the trace id of the span they were written in.
    let finished = gateway
        .log_line(|l| l["message"] == "finished processing request" && l["status"] == 201)
        .await;
    assert_eq!(finished["trace_id"], trace_id.as_str());
    assert_eq!(finished["span_id"], request.span_id().as_str());

    // A caller's trace context (an ingress that traces) is continued.
    let caller_trace = "5b8efff798038103d269b633813fc60c";
    let caller_span = "eee19b7ec3c1b174";
    let read = reqwest::Client::new()
        .get(format!("{}/scim/v2/{tenant}/Users?count=1", gateway.addr))
        .bearer_auth(&token)
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

    // Never the token, the header it came in, query strings, or the
    // request's personal data.
    let raw = receiver.raw.lock().unwrap().clone();
    assert!(!raw.contains(&token), "the token was exported");
    assert!(
        !raw.contains(&token[token.len() - 16..]),
        "part of the token was exported"
    );
    assert!(
        !raw.to_ascii_lowercase().contains("bearer"),
        "an authorization header was exported"
    );
    assert!(!raw.contains(user_name), "the userName was exported");
    assert!(!raw.contains("count=1"), "a query string was exported");
    drop((policy, identity));
}
