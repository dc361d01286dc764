//! The SCIM 2.0 gateway: authenticates bearer tokens, validates SCIM
//! requests, calls identity over gRPC and renders SCIM responses. It owns no
//! data and opens no database connection.

pub mod auth;
pub mod bulk;
pub mod cli;
pub mod config;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod groups;
pub mod http_metrics;
pub mod listing;
pub mod paging;
pub mod preconditions;
pub mod protect;
pub mod protocol;
pub mod provlog;
pub mod render;
pub mod resource;
pub mod response;
pub mod search;
pub mod tolerance;
pub mod tolerant;
pub mod types;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::Config;
use error::{ApiError, ServerFault};

/// identity's client: every call traced, propagated and measured
/// ([`telemetry::grpc::ClientLayer`]).
pub type IdentityClient = IdentityServiceClient<telemetry::grpc::Client<Channel>>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub identity: IdentityClient,
    /// The same channel, for health checks.
    pub identity_channel: Channel,
    pub auth: auth::AuthCache,
    pub public_base_url: Arc<str>,
    pub max_body_bytes: usize,
    /// Bulk limits and cursor settings.
    pub protocol: Arc<protocol::ProtocolConfig>,
    /// Signs and checks pagination cursors.
    pub cursors: Arc<cursor::Cursors>,
    /// Each tenant's resource types, with its own extension schemas.
    pub types: types::TypesCache,
    /// Rate limits, concurrency slots (see [`protect`]).
    pub protection: Arc<protect::Protection>,
    /// Longest time a request may take (408 after).
    pub request_timeout: Duration,
    /// Set on SIGTERM: `/readyz` answers 503 while requests are still served.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Queues provisioning-log entries for identity (see [`provlog`]).
    pub recorder: provlog::Recorder,
}

impl AppState {
    /// The SCIM base URL of a tenant, as Entra's "Tenant URL".
    pub fn tenant_base(&self, tenant: &str) -> String {
        format!("{}/scim/v2/{tenant}", self.public_base_url)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid IDENTITY_URL")]
    IdentityUrl(#[source] tonic::transport::Error),
    #[error("cannot read CURSOR_SECRET_FILE")]
    CursorSecret(#[source] std::io::Error),
    #[error(
        "CURSOR_SECRET must be at least {0} bytes (a random 32-byte key, e.g. `openssl rand -base64 32`)"
    )]
    CursorSecretTooShort(usize),
    #[error("invalid protection settings")]
    Protection(#[from] protect::ProtectionError),
    #[error("server failed")]
    Io(#[from] std::io::Error),
    #[error("gRPC TLS: {0}")]
    Tls(#[from] mtls::Error),
}

/// The SCIM routes under `/scim/v2/{tenant}` and the probes.
pub fn router(state: AppState) -> Router {
    let scim = Router::new()
        .route(
            "/Users",
            get(resource::list::<users::Users>).post(users::create),
        )
        .route("/Users/.search", post(resource::search::<users::Users>))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/.search", post(search::search_all_types))
        .route(
            "/Bulk",
            post(bulk::bulk).layer(DefaultBodyLimit::max(state.protocol.bulk_max_payload_bytes)),
        )
        .route("/Me", any(search::me))
        .route("/Me/{*rest}", any(search::me))
        .route(
            "/Groups",
            get(resource::list::<groups::Groups>).post(groups::create),
        )
        .route("/Groups/.search", post(resource::search::<groups::Groups>))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            protect::protect,
        ))
        // Outside `protect`, so 429s are counted too (see `http_metrics`).
        .route_layer(middleware::from_fn(http_metrics::track))
        // Outermost: its latency covers authentication and rate limiting.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            provlog::record,
        ));
    let routes = Router::new()
        .nest("/scim/v2/{tenant}", scim)
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "method not allowed here",
            )
        })
        .with_state(state.clone());
    // A layer on a router runs after its routing: the path is made
    // canonical in a service wrapped around the routes instead.
    let routes = tower::Layer::layer(&middleware::from_fn(tolerant::normalise_path), routes);
    Router::new()
        .fallback_service(routes)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        .layer(middleware::from_fn(protect::hygiene::scim_error_bodies))
        .layer(middleware::from_fn(protect::hygiene::reject_bad_urls))
        .layer(middleware::from_fn(request_id_in_errors))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(record_status),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost: what a client may not choose is gone before anything reads it.
        .layer(middleware::from_fn_with_state(
            state.protection.inbound.clone(),
            protect::inbound::sanitize,
        ))
        .with_state(state)
}

/// The span of one HTTP request, continuing the caller's W3C trace context
/// when it sends one (an ingress that traces, say). The path only: query strings may carry personal data
/// in filters, and headers the token. [`http_metrics::track`] adds the route
/// template and the tenant once routing has chosen them.
fn request_span(req: &Request) -> tracing::Span {
    let span = tracing::info_span!(
        "scim",
        otel.name = telemetry::metrics::http_method_label(req.method()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = telemetry::metrics::http_method_label(req.method()),
        url.path = %req.uri().path(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        // The id 5xx bodies quote (set by the outer `SetRequestIdLayer`).
        request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    );
    telemetry::otel::set_parent_from(&span, req.headers());
    span
}

fn record_status(response: &Response, latency: Duration, span: &tracing::Span) {
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(
        status,
        latency_ms = latency.as_millis(),
        "finished processing request"
    );
}

/// Gives every 5xx body the request id, so support can find its logs.
async fn request_id_in_errors(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let response = next.run(req).await;
    if response.extensions().get::<ServerFault>().is_none() {
        return response;
    }
    let status = response.status();
    let detail = match status {
        StatusCode::SERVICE_UNAVAILABLE => "service temporarily unavailable",
        StatusCode::GATEWAY_TIMEOUT => "the request took longer than the service allows",
        _ => "internal error",
    };
    let mut rebuilt =
        ApiError::new(status, None, format!("{detail} (request id {id})")).into_response();
    rebuilt.extensions_mut().remove::<ServerFault>();
    rebuilt
}

/// Ready when identity is SERVING (it is not while its database is
/// unreachable). Redis is reported but does not decide: without it the
/// gateway keeps serving on its in-process limiter, and taking every
/// replica out of rotation for a Redis outage would turn it into a full one.
async fn readyz(State(state): State<AppState>) -> Response {
    use tonic_health::pb::health_check_response::ServingStatus;
    if state.draining.load(std::sync::atomic::Ordering::Acquire) {
        let body = serde_json::json!({"status": "draining"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(state.identity_channel.clone());
    let check = health.check(tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    });
    let identity = match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32 => Ok("ok"),
        Ok(Ok(_)) => Err("not serving (its database is unreachable)"),
        Ok(Err(_)) | Err(_) => Err("unreachable"),
    };
    let redis = match &state.protection.limiter {
        None => "rate limiting disabled",
        Some(limiter) => match limiter.redis_answers().await {
            None => "not configured (in-process limiter)",
            Some(true) => "ok",
            Some(false) => "unreachable (in-process limiter per replica)",
        },
    };
    let ready = identity.is_ok();
    // Set on each probe (the kubelet's, every few seconds), for the
    // readiness alert: the same gauge identity and policy export.
    metrics::gauge!("service_ready", "service" => "gateway").set(if ready { 1.0 } else { 0.0 });
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {
            "identity": identity.unwrap_or_else(|e| e),
            "redis": redis,
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// What the handlers share, over `channel` to identity, and the receiving
/// end of the provisioning log's queue.
pub fn state(
    config: &Config,
    channel: Channel,
    public_base_url: &str,
    draining: Arc<std::sync::atomic::AtomicBool>,
) -> Result<
    (
        AppState,
        tokio::sync::mpsc::Receiver<proto::identity::v1::RequestLogEntry>,
    ),
    StartupError,
> {
    let traced = telemetry::grpc::client(channel.clone());
    let (recorder, log_entries) = provlog::Recorder::new(config.protection.keepalive_fold_window());
    let state = AppState {
        identity: IdentityServiceClient::new(traced)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
        identity_channel: channel,
        auth: auth::AuthCache::new(config.auth_cache_ttl()),
        public_base_url: public_base_url.trim_end_matches('/').into(),
        max_body_bytes: config.max_body_bytes,
        protocol: Arc::new(config.protocol.clone()),
        cursors: Arc::new(cursor::Cursors::from_config(&config.protocol)?),
        types: types::TypesCache::new(config.auth_cache_ttl()),
        protection: Arc::new(protect::Protection::new(&config.protection)?),
        request_timeout: config.protection.request_timeout(),
        draining,
        recorder,
    };
    Ok((state, log_entries))
}

/// A built gateway on an already-bound listener.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    idle_timeout: Duration,
    draining: Arc<std::sync::atomic::AtomicBool>,
    shutdown_delay: Duration,
    identity: IdentityServiceClient<Channel>,
    log_entries: tokio::sync::mpsc::Receiver<proto::identity::v1::RequestLogEntry>,
    recorder: provlog::Recorder,
}

impl Application {
    pub fn build(config: &Config, listener: TcpListener) -> Result<Self, StartupError> {
        let addr = listener.local_addr()?;
        let endpoint = Endpoint::from_shared(config.identity_url.clone())
            .map_err(StartupError::IdentityUrl)?
            .connect_timeout(Duration::from_secs(5));
        let channel = mtls::channel(config.tls.client()?.as_ref(), endpoint);
        let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let public = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let (state, log_entries) = state(config, channel, &public, draining.clone())?;
        // The provisioning log's sender: untraced (a flush belongs to no request).
        let identity = IdentityServiceClient::new(state.identity_channel.clone())
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES);
        let recorder = state.recorder.clone();
        Ok(Self {
            listener,
            addr,
            recorder,
            router: router(state),
            idle_timeout: config.protection.idle_timeout(),
            draining,
            shutdown_delay: Duration::from_secs(config.shutdown_delay_seconds),
            identity,
            log_entries,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests and
    /// flushes the provisioning log's buffered entries.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!(addr = %self.addr, "gateway serving SCIM");
        let listener = protect::idle::IdleTimeoutListener::new(self.listener, self.idle_timeout);
        let (draining, delay) = (self.draining, self.shutdown_delay);
        let drain = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::Release);
            if !delay.is_zero() {
                tracing::info!(
                    delay_seconds = delay.as_secs(),
                    "draining: /readyz answers 503, requests are still served"
                );
                tokio::time::sleep(delay).await;
            }
            tracing::info!("no longer accepting connections; finishing requests in flight");
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let log_sender = tokio::spawn(provlog::run(
            self.log_entries,
            self.identity,
            self.recorder,
            stopped,
        ));
        let app = self
            .router
            .into_make_service_with_connect_info::<protect::idle::Peer>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(drain)
            .await;
        // After the last request: what it recorded is flushed too.
        let _ = stop.send(());
        if tokio::time::timeout(Duration::from_secs(10), log_sender)
            .await
            .is_err()
        {
            tracing::warn!("provisioning log not flushed within 10 s");
        }
        served?;
        tracing::info!("gateway stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
