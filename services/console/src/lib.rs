//! The tenant administrator's console ("Configure SCIM"): server-rendered
//! pages over identity and policy gRPC. It holds no state: a session is a
//! signed cookie ([`session`]), a console link's one-time code lives in
//! identity ([`login`]).

pub mod config;
pub mod error;
pub mod guard;
pub mod layout;
pub mod login;
pub mod pages;
pub mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use proto::policy::v1::policy_service_client::PolicyServiceClient;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use config::Config;
use error::PageError;
use session::SessionKeys;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub identity: IdentityServiceClient<Channel>,
    pub policy: PolicyServiceClient<Channel>,
    pub sessions: SessionKeys,
    /// The SCIM gateway's public base URL (no trailing slash).
    pub scim_public_url: Arc<str>,
}

impl AppState {
    /// The Tenant URL an administrator pastes into the identity provider.
    pub fn tenant_url(&self, tenant: &str) -> String {
        format!("{}/scim/v2/{tenant}", self.scim_public_url)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid configuration")]
    Config(#[from] config::ConfigError),
    #[error("invalid IDENTITY_URL or POLICY_URL")]
    Url(#[source] tonic::transport::Error),
    #[error("server failed")]
    Io(#[from] std::io::Error),
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/setup") }))
        .route("/login", get(login::login))
        .route("/logout", post(login::logout))
        .merge(pages::routes())
        .route("/static/console.css", get(css))
        .route("/static/console.js", get(js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { PageError::NotFound("That page") })
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(CatchPanicLayer::custom(|_| {
            PageError::Upstream(tonic::Status::internal("panic")).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn css() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../static/console.css"),
    )
}

async fn js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/console.js"),
    )
}

async fn favicon() -> Response {
    static_file("image/svg+xml", include_str!("../static/favicon.svg"))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// A built console on an already-bound listener.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
}

impl Application {
    pub fn build(config: &Config, listener: TcpListener) -> Result<Self, StartupError> {
        config.validate()?;
        let addr = listener.local_addr()?;
        let channel = |url: &str| {
            Endpoint::from_shared(url.to_owned())
                .map(|e| e.connect_timeout(Duration::from_secs(5)).connect_lazy())
                .map_err(StartupError::Url)
        };
        let state = AppState {
            identity: IdentityServiceClient::new(channel(&config.identity_url)?),
            policy: PolicyServiceClient::new(channel(&config.policy_url)?),
            sessions: SessionKeys::new(config.key()?, config.session_ttl_seconds),
            scim_public_url: config.scim_public_url.trim_end_matches('/').into(),
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
        tracing::info!(addr = %self.addr, "console serving");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
