//! The tenant administrator's console ("Configure SCIM"): server-rendered
//! pages over identity and policy gRPC. It holds no state: a session is a
//! signed cookie ([`session`]) checked against the tenant's session epoch
//! in identity ([`epochs`]), a console link's one-time code lives in
//! identity ([`login`]).

pub mod cli;
pub mod config;
pub mod epochs;
pub mod error;
pub mod guard;
pub mod http_metrics;
pub mod layout;
pub mod login;
pub mod pages;
pub mod serve;
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
use epochs::Epochs;
use error::PageError;
use session::SessionKeys;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub identity: IdentityServiceClient<telemetry::grpc::Client<Channel>>,
    pub policy: PolicyServiceClient<telemetry::grpc::Client<Channel>>,
    pub sessions: SessionKeys,
    /// The tenants' session epochs, cached briefly.
    pub epochs: Epochs,
    /// The longest a request may take (`CONSOLE_REQUEST_TIMEOUT_SECONDS`).
    pub request_timeout: Duration,
    /// The channels of the two clients, for health checks.
    pub identity_channel: Channel,
    pub policy_channel: Channel,
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
    #[error("gRPC TLS: {0}")]
    Tls(#[from] mtls::Error),
}

pub fn router(state: AppState) -> Router {
    // Every route that shows or changes a tenant's data needs its session.
    let tenant_routes = pages::routes()
        .route("/logout", post(login::logout))
        .route("/logout/everywhere", post(login::logout_everywhere))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::session_gate,
        ));
    Router::new()
        .route("/", get(|| async { Redirect::to("/setup") }))
        .route("/login", get(login::show).post(login::redeem))
        .merge(tenant_routes)
        .route("/static/console.css", get(css))
        .route("/static/console.js", get(js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { PageError::NotFound("That page") })
        .layer(middleware::from_fn(guard::guard))
        .layer(middleware::from_fn_with_state(
            state.request_timeout,
            serve::deadline,
        ))
        .layer(middleware::from_fn(http_metrics::track))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(CatchPanicLayer::custom(|_| {
            PageError::Upstream(tonic::Status::internal("panic")).into_response()
        }))
        // The span names the path only: a query string may hold a console
        // link's code, which never reaches a log.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Ready when identity and policy both answer their gRPC health checks.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let check = |channel: Channel| async move {
        let mut client = HealthClient::new(channel);
        let call = client.check(HealthCheckRequest {
            service: String::new(),
        });
        let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
        matches!(
            tokio::time::timeout(Duration::from_secs(2), call).await,
            Ok(Ok(r)) if r.get_ref().status == serving
        )
    };
    let (identity, policy) = tokio::join!(
        check(state.identity_channel.clone()),
        check(state.policy_channel.clone())
    );
    match (identity, policy) {
        (true, true) => (StatusCode::OK, "ready").into_response(),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "identity unavailable").into_response(),
        (true, false) => (StatusCode::SERVICE_UNAVAILABLE, "policy unavailable").into_response(),
    }
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
    header_read_timeout: Duration,
}

impl Application {
    pub fn build(config: &Config, listener: TcpListener) -> Result<Self, StartupError> {
        config.validate()?;
        let addr = listener.local_addr()?;
        let tls = config.tls.client()?;
        let channel = |url: &str| {
            Endpoint::from_shared(url.to_owned())
                .map(|e| mtls::channel(tls.as_ref(), e.connect_timeout(Duration::from_secs(5))))
                .map_err(StartupError::Url)
        };
        let identity_channel = channel(&config.identity_url)?;
        let policy_channel = channel(&config.policy_url)?;
        let state = AppState {
            identity: IdentityServiceClient::new(telemetry::grpc::client(identity_channel.clone()))
                .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
            policy: PolicyServiceClient::new(telemetry::grpc::client(policy_channel.clone()))
                .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
            identity_channel,
            policy_channel,
            sessions: SessionKeys::new(
                config.key()?,
                config.session_ttl_seconds,
                config.session_idle_seconds,
            ),
            epochs: Epochs::new(Duration::from_secs(config.session_check_seconds)),
            request_timeout: Duration::from_secs(config.request_timeout_seconds),
            scim_public_url: config.scim_public_url.trim_end_matches('/').into(),
        };
        Ok(Self {
            listener,
            addr,
            router: router(state),
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
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
        serve::run(
            self.listener,
            self.router,
            self.header_read_timeout,
            shutdown,
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use super::*;

    /// The router against services that are never reached: these requests
    /// are answered before any call.
    fn app() -> Router {
        let config = Config::with_key("k".repeat(32).into());
        let nowhere = || Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        router(AppState {
            identity: IdentityServiceClient::new(telemetry::grpc::client(nowhere())),
            policy: PolicyServiceClient::new(telemetry::grpc::client(nowhere())),
            identity_channel: nowhere(),
            policy_channel: nowhere(),
            sessions: SessionKeys::new(config.key().unwrap_or_default(), 600, 300),
            epochs: Epochs::new(Duration::from_secs(5)),
            request_timeout: Duration::from_secs(30),
            scim_public_url: "http://scim.test".into(),
        })
    }

    async fn send(request: Request<Body>) -> axum::response::Response {
        app().oneshot(request).await.unwrap_or_else(|e| match e {})
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path)
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn every_page_needs_a_session_and_carries_the_security_headers() {
        for path in [
            "/setup",
            "/roles",
            "/users",
            "/users/abc",
            "/log",
            "/report",
            "/report.csv",
        ] {
            let r = send(get(path)).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap_or("");
            assert_eq!(csp, guard::CONTENT_SECURITY_POLICY, "{path}");
            assert_eq!(r.headers()["x-frame-options"], "DENY");
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        }
        assert_eq!(send(get("/nowhere")).await.status(), StatusCode::NOT_FOUND);
        let css = send(get("/static/console.css")).await;
        assert_eq!(css.status(), StatusCode::OK);
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }

    #[tokio::test]
    async fn invented_methods_make_no_new_metric_series() {
        let metrics = telemetry::metrics::handle();
        for i in 0..100 {
            let method = axum::http::Method::from_bytes(format!("INVENTED{i}").as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            let request = Request::builder()
                .method(method)
                .uri("/login")
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}"));
            send(request).await;
        }
        let rendered = metrics.render();
        assert!(!rendered.contains("INVENTED"), "{rendered}");
        assert!(
            rendered.contains(r#"method="other""#),
            "invented methods count as other"
        );
    }

    #[tokio::test]
    async fn posts_are_refused_before_any_handler() {
        let post = |site: &'static str| {
            Request::post("/setup/tokens")
                .header("sec-fetch-site", site)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("csrf=x&description=y"))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(
            send(post("cross-site")).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(post("same-origin")).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let login = send(get("/login")).await;
        assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
        assert!(login.headers().get(header::SET_COOKIE).is_none());
    }
}
