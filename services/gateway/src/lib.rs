//! The SCIM 2.0 gateway: authenticates bearer tokens, validates SCIM
//! requests, calls identity over gRPC and renders SCIM responses. It owns no
//! data and opens no database connection.

pub mod auth;
pub mod config;
pub mod discovery;
pub mod error;
pub mod groups;
pub mod listing;
pub mod preconditions;
pub mod render;
pub mod response;
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
use axum::routing::{get, post};
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use config::Config;
use error::{ApiError, ServerFault};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub identity: IdentityServiceClient<Channel>,
    /// The same channel, for health checks.
    pub identity_channel: Channel,
    pub auth: auth::AuthCache,
    pub public_base_url: Arc<str>,
    pub max_body_bytes: usize,
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
    #[error("server failed")]
    Io(#[from] std::io::Error),
}

/// The SCIM routes under `/scim/v2/{tenant}` and the probes.
pub fn router(state: AppState) -> Router {
    let scim = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/.search", post(search_all_types))
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
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
        .route("/Schemas/{id}", get(discovery::schema));
    Router::new()
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
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn(request_id_in_errors))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The path only: query strings may carry personal data in filters.
            tracing::info_span!("scim", method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// RFC 7644 §3.4.3 allows a search across resource types at the root; this
/// server searches one type at a time (`/Users/.search`, `/Groups/.search`)
/// and says so with 501, as §3.12 prescribes for unsupported operations.
async fn search_all_types() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "search /Users/.search or /Groups/.search; a search across resource types is not supported",
    )
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
        _ => "internal error",
    };
    let mut rebuilt =
        ApiError::new(status, None, format!("{detail} (request id {id})")).into_response();
    rebuilt.extensions_mut().remove::<ServerFault>();
    rebuilt
}

async fn readyz(State(state): State<AppState>) -> Response {
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(state.identity_channel.clone());
    let check = health.check(tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "identity unavailable").into_response(),
    }
}

/// A built gateway on an already-bound listener.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
}

impl Application {
    pub fn build(config: &Config, listener: TcpListener) -> Result<Self, StartupError> {
        let addr = listener.local_addr()?;
        let channel = Endpoint::from_shared(config.identity_url.clone())
            .map_err(StartupError::IdentityUrl)?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        let public = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let state = AppState {
            identity: IdentityServiceClient::new(channel.clone()),
            identity_channel: channel,
            auth: auth::AuthCache::new(config.auth_cache_ttl()),
            public_base_url: public.trim_end_matches('/').into(),
            max_body_bytes: config.max_body_bytes,
        };
        Ok(Self {
            listener,
            addr,
            router: router(state),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!(addr = %self.addr, "gateway serving SCIM");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
