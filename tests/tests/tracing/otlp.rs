//! An OTLP trace receiver: `opentelemetry.proto.collector.trace.v1.TraceService`
//! on port 0, keeping every span it is sent.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::DEADLINE;

/// A span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub span: opentelemetry_proto::tonic::trace::v1::Span,
}

impl Received {
    pub fn attr(&self, key: &str) -> Option<String> {
        attr(&self.span.attributes, key)
    }
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub spans: Arc<Mutex<Vec<Received>>>,
    /// Every export request as text, to search for what must never be there.
    pub raw: Arc<Mutex<String>>,
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

pub async fn start_receiver() -> (String, Receiver) {
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
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) {
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

/// The spans of one trace, for assertions on its shape.
pub struct Trace<'a> {
    pub spans: Vec<&'a Received>,
}

impl<'a> Trace<'a> {
    pub fn of(all: &'a [Received], trace_id: &str) -> Self {
        let spans = all.iter().filter(|r| r.trace_id() == trace_id).collect();
        Self { spans }
    }

    /// The one span of `service` named `name` that `pick` accepts.
    pub fn one(&self, service: &str, name: &str, pick: impl Fn(&Received) -> bool) -> &'a Received {
        let found: Vec<_> = self
            .spans
            .iter()
            .filter(|r| r.service == service && r.span.name == name && pick(r))
            .collect();
        assert_eq!(found.len(), 1, "{service} {name}: {found:#?}");
        found[0]
    }

    /// True when `ancestor` is on the path from `child` to the root.
    pub fn descends(&self, child: &Received, ancestor: &Received) -> bool {
        let mut at = child.parent_id();
        while let Some(parent) = self.spans.iter().find(|r| r.span_id() == at) {
            if parent.span_id() == ancestor.span_id() {
                return true;
            }
            at = parent.parent_id();
        }
        false
    }

    pub fn roots(&self) -> Vec<&'a Received> {
        let roots = self
            .spans
            .iter()
            .filter(|r| r.span.parent_span_id.is_empty());
        roots.copied().collect()
    }

    /// The services with spans in it, sorted.
    pub fn services(&self) -> Vec<&'a str> {
        let set: std::collections::BTreeSet<_> =
            self.spans.iter().map(|r| r.service.as_str()).collect();
        set.into_iter().collect()
    }
}
