//! The identity service: tenants, SCIM tokens and users, served over gRPC
//! (`identity.v1`). It is the only writer of identity data; every write also
//! commits a change record (transactional outbox).

pub mod cli;
pub mod config;
pub mod console_link;
pub mod convert;
pub mod domain;
pub mod error;
pub mod groups;
pub mod grpc;
pub mod quota;
pub mod request_log;
pub mod retention;
pub mod schemas;
pub mod store;
pub mod token;
pub mod types;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use proto::identity::v1::identity_service_server::IdentityServiceServer;
use tokio::net::TcpListener;

pub use config::Config;
pub use error::IdentityError;
pub use grpc::IdentityApi;
pub use store::{SqlStore, StoreOptions};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database")]
    Database(#[source] IdentityError),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("refusing to start: {0}")]
    Role(storekit::roles::RoleProblem),
    #[error("cannot build gRPC reflection")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("cannot read the listener address")]
    Io(#[from] std::io::Error),
    #[error("gRPC security: {0}")]
    Security(#[from] mtls::Error),
}

/// A built identity server on an already-bound listener.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    api: IdentityApi,
    store: SqlStore,
    retention: retention::Retention,
    security: Option<mtls::Secured>,
}

impl Application {
    /// Connects the store (migrating it when `config.migrate` is set),
    /// refuses a Postgres role that row-level security does not bind
    /// (superuser, `BYPASSRLS`, the tables' owner) unless
    /// `config.allow_privileged_role`, and prepares the server on
    /// `listener`. [`Self::with_store`] takes a store as it is.
    pub async fn build(config: &Config, listener: TcpListener) -> Result<Self, StartupError> {
        let store = SqlStore::connect(&config.store_options())
            .await
            .map_err(StartupError::Database)?;
        if config.migrate {
            store.migrate().await?;
        }
        // After migrating: a role that has just created the tables owns them.
        store
            .check_role(config.allow_privileged_role)
            .await
            .map_err(StartupError::Role)?;
        let addr = listener.local_addr()?;
        let security = mtls::secure("identity", addr, &config.tls, &config.access)?;
        Ok(Self::with_store(
            store.with_quotas(config.quotas()),
            listener,
            config.allow_chosen_secrets,
        )?
        .with_retention(config.retention())
        .with_security(security))
    }

    pub fn with_store(
        store: SqlStore,
        listener: TcpListener,
        allow_chosen_secrets: bool,
    ) -> Result<Self, StartupError> {
        let addr = listener.local_addr()?;
        let api = IdentityApi::new(Arc::new(store.clone()), allow_chosen_secrets);
        Ok(Self {
            listener,
            addr,
            api,
            store,
            retention: retention::Retention::default(),
            security: None,
        })
    }

    /// Serves over mutual TLS with per-caller authorisation (`Some`), or
    /// plain gRPC to every caller (`None`, the default: local mode).
    pub fn with_security(mut self, security: Option<mtls::Secured>) -> Self {
        self.security = security;
        self
    }

    /// How long the change stream and the provisioning log are kept
    /// (defaults in [`retention::Retention`]).
    pub fn with_retention(mut self, retention: retention::Retention) -> Self {
        self.retention = retention;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Serves until `shutdown` resolves, then finishes in-flight calls.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        let health_store = self.store.clone();
        let health = tokio::spawn(telemetry::health::track(
            health,
            <IdentityServiceServer<IdentityApi> as tonic::server::NamedService>::NAME,
            move || {
                let store = health_store.clone();
                async move { store.ping().await }
            },
        ));
        let (reflection, reflection_alpha) =
            storekit::server::reflection(proto::FILE_DESCRIPTOR_SET)?;
        let pool_store = self.store.clone();
        let pool_metrics = tokio::spawn(async move {
            loop {
                pool_store.record_pool_metrics();
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        });
        let pruning = tokio::spawn(retention::prune_periodically(
            Arc::new(self.store.clone()),
            self.retention,
        ));
        tracing::info!(addr = %self.addr, "identity serving gRPC");
        let (tls, authorize) = match self.security {
            Some(s) => (Some(s.tls), Some(s.authorize)),
            None => (None, None),
        };
        let router = tonic::transport::Server::builder()
            .layer(telemetry::metrics::GrpcMetricsLayer)
            .layer(telemetry::grpc::ServerTraceLayer)
            .layer(tower::util::option_layer(authorize))
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_alpha)
            .add_service(
                IdentityServiceServer::new(self.api)
                    .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
            );
        let served = match tls {
            Some(tls) => {
                router
                    .serve_with_incoming_shutdown(tls.incoming(self.listener), shutdown)
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(
                        storekit::server::nodelay(self.listener),
                        shutdown,
                    )
                    .await
            }
        };
        pool_metrics.abort();
        pruning.abort();
        health.abort();
        served.map_err(|e| StartupError::Io(std::io::Error::other(e)))
    }
}
