//! OpenTelemetry: the OTLP trace pipeline, and W3C trace context carried in
//! gRPC metadata and in stored change records.
//!
//! The pipeline exists only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is
//! not `true`); without it no span leaves the process and no context is
//! propagated. The SDK reads the other standard variables itself:
//! `OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_*_{HEADERS,TIMEOUT,COMPRESSION}`,
//! `OTEL_BSP_*`.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;

const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// Why the trace pipeline could not be built.
#[derive(Debug)]
pub struct PipelineError(opentelemetry_otlp::ExporterBuildError);

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the OTLP span exporter: {}", self.0)
    }
}

impl std::error::Error for PipelineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// True when the environment asks for trace export.
pub fn export_configured() -> bool {
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.trim().is_empty());
    let disabled =
        std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && ENDPOINT_VARS.iter().any(|v| set(v))
}

/// The batch OTLP/gRPC pipeline and a tracer of it. Must run inside a Tokio
/// runtime: the exporter's channel lives on it.
pub fn pipeline(service: &'static str) -> Result<(SdkTracerProvider, SdkTracer), PipelineError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(PipelineError)?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(service))
        .build();
    let tracer = provider.tracer(service);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok((provider, tracer))
}

/// The SDK's resource (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`,
/// SDK attributes), with `service.name` = `service` unless the environment
/// names the service itself.
fn resource(service: &'static str) -> Resource {
    let named_by_env = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
            v.split(',')
                .any(|kv| kv.trim().starts_with("service.name="))
        });
    let builder = Resource::builder();
    if named_by_env {
        builder.build()
    } else {
        builder
            .with_attribute(KeyValue::new("service.name", service))
            .build()
    }
}

/// Renames `span` in the exported trace (its `otel.name`), also after it
/// started, when the name is known only later (an HTTP route, say).
pub fn rename(span: &tracing::Span, name: String) {
    let cx = span.context();
    let otel_span = cx.span();
    if otel_span.span_context().is_valid() {
        otel_span.update_name(name);
    }
}

// === W3C trace context in headers ===

/// Writes the context of `span` into `headers` (`traceparent`,
/// `tracestate`) with the global propagator; nothing when tracing is off.
pub fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers));
    });
}

/// Makes the W3C context in `headers`, if any, the parent of `span`.
pub fn set_parent_from(span: &tracing::Span, headers: &http::HeaderMap) {
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

// === W3C trace context in stored records ===

/// The W3C `traceparent` of the current span, to store with a record that
/// another service processes later; `None` when tracing is off.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// The remote context a stored `traceparent` names; `None` for an empty or
/// malformed one.
pub fn context_from_traceparent(traceparent: &str) -> Option<Context> {
    if traceparent.is_empty() {
        return None;
    }
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_traceparents_round_trip_and_reject_garbage() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = context_from_traceparent(tp).map(|c| c.span().span_context().clone());
        assert_eq!(
            cx.map(|s| s.trace_id().to_string()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert!(context_from_traceparent("").is_none());
        assert!(context_from_traceparent("00-zz-00f067aa0ba902b7-01").is_none());
    }

    #[test]
    fn no_context_without_a_pipeline() {
        assert!(current_traceparent().is_none());
        let mut headers = http::HeaderMap::new();
        inject(&tracing::Span::current(), &mut headers);
        assert!(headers.is_empty());
    }
}
