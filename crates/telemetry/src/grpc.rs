//! Tower layers for gRPC: a span per call on both sides, W3C trace context
//! carried in the request metadata, and the client-side call figures.
//!
//! - [`ClientLayer`] wraps a client `Channel`: a `grpc.client` span per call
//!   whose context goes out as `traceparent`/`tracestate`, and
//!   `grpc_client_requests_total{grpc_service, grpc_method, grpc_code}` and
//!   `grpc_client_request_duration_seconds{grpc_service, grpc_method}`.
//! - [`ServerTraceLayer`] wraps a server: a `grpc.server` span per call,
//!   child of the caller's context when the metadata carries one.
//!
//! Span attributes follow the OpenTelemetry RPC conventions (`rpc.system`,
//! `rpc.service`, `rpc.method`, `rpc.grpc.status_code`); never metadata
//! values or message contents. The status is read from the response headers
//! (a failed unary call answers "trailers-only"), as in
//! [`crate::metrics::GrpcMetricsLayer`]: a call without one is `OK`, and a
//! streaming call's span and duration end with its first headers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;

use crate::metrics::{code_name, split_path};
use crate::otel;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The gRPC code of a response, from its headers.
fn response_code<R, E>(result: &Result<http::Response<R>, E>) -> (&'static str, i64) {
    match result {
        Ok(resp) => resp
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(("OK", 0), |c| (code_name(c), i64::from(c))),
        // A transport failure: no answer at all.
        Err(_) => ("UNAVAILABLE", 14),
    }
}

/// Records the outcome on the call's span.
fn record_outcome(span: &tracing::Span, code: i64) {
    span.record("rpc.grpc.status_code", code);
    if code != 0 {
        span.record("otel.status_code", "ERROR");
    }
}

// === impl ClientLayer ===

/// Traces, propagates and measures every call through a client channel.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientLayer;

impl<S> tower::Layer<S> for ClientLayer {
    type Service = Client<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Client { inner }
    }
}

/// `channel` with [`ClientLayer`] around it.
pub fn client<S>(channel: S) -> Client<S> {
    Client { inner: channel }
}

/// A client channel wrapped by [`ClientLayer`].
#[derive(Clone, Debug)]
pub struct Client<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Client<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let (service, method) = split_path(req.uri().path());
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        otel::inject(&span, req.headers_mut());
        let started = Instant::now();
        let fut = span.in_scope(|| self.inner.call(req));
        Box::pin(
            async move {
                let result = fut.await;
                let (code, number) = response_code(&result);
                record_outcome(&tracing::Span::current(), number);
                metrics::counter!("grpc_client_requests_total",
                    "grpc_service" => service.clone(), "grpc_method" => method.clone(), "grpc_code" => code)
                .increment(1);
                metrics::histogram!("grpc_client_request_duration_seconds",
                    "grpc_service" => service, "grpc_method" => method)
                .record(started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}

// === impl ServerTraceLayer ===

/// A span per served call, continuing the caller's trace. The standard
/// health and reflection services are not traced (probes would fill the
/// trace store).
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerTraceLayer;

impl<S> tower::Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ServerTrace { inner }
    }
}

/// A server wrapped by [`ServerTraceLayer`].
#[derive(Clone, Debug)]
pub struct ServerTrace<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for ServerTrace<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (service, method) = split_path(req.uri().path());
        if service.starts_with("grpc.") {
            return Box::pin(self.inner.call(req));
        }
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        otel::set_parent_from(&span, req.headers());
        let fut = span.in_scope(|| self.inner.call(req));
        Box::pin(
            async move {
                let result = fut.await;
                record_outcome(&tracing::Span::current(), response_code(&result).1);
                result
            }
            .instrument(span),
        )
    }
}
