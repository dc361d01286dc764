//! The policy service: a tenant's roles, group-to-role assignments with
//! priorities, default role, role locks and every user's effective role,
//! served over gRPC (`policy.v1`). A follower task keeps the effective roles
//! up to date from identity's change stream (see [`follower`]).
//!
//! Where `policy.v1` leaves room, this implementation decides:
//!
//! - Priority ties go to the assignment whose group id sorts first (byte
//!   order), as the proto says; the role function is [`role::decide`].
//! - `Disabled` is built in: it cannot be created (ALREADY_EXISTS, in any
//!   letter case), deleted (FAILED_PRECONDITION) or made the default role
//!   (INVALID_ARGUMENT), but it may be assigned to a group (a "blocked"
//!   group), where it competes by priority like any role.
//! - An assignment or default role naming a role that does not exist is
//!   FAILED_PRECONDITION (create the role first); so is a DryRun of one.
//!   RemoveAssignment of a group without an assignment is NOT_FOUND.
//! - DeleteRole is FAILED_PRECONDITION while an assignment, the default role
//!   or a lock (a frozen role) uses the role.
//! - Group ids are not checked against identity (policy may be set up before
//!   the groups are provisioned); an assignment outlives its group and goes
//!   only with RemoveAssignment.
//! - LockUser of a locked user keeps the first frozen role (idempotent);
//!   UnlockUser of an unlocked user only recomputes. Both are NOT_FOUND for a
//!   user policy has never seen, as are GetEffectiveRole, Explain and
//!   ListRoleHistory.
//! - A role change is logged when the role or the lock state changes (lock
//!   and unlock are logged even when the role stays); a user's first role is
//!   logged as a change from "" (none). A batch logs one net change per user.
//! - A user first seen in a membership change is recorded as active.
//! - All writes are serialised (a Postgres advisory lock; SQLite's single
//!   writer): no lost update between the follower and administrators, and
//!   role-change order is commit order. Several replicas are safe (each batch
//!   checks the cursor it started from) but do not share the stream's work.
//!
//! Equipment and alerts (see [`equipment`], [`alerts`]):
//!
//! - RecordCheckout and RecordReturn are idempotent by asset id. A checkout
//!   of an asset held by someone else moves it (the asset service is the
//!   source of truth; the lost return is implied, with its closing event).
//!   A checkout to a user policy has never seen is NOT_FOUND; to a Disabled
//!   user it is accepted and queues an alert. A return of an asset not held
//!   (or, with `user_id`, not held by that user) changes nothing.
//! - Names and emails come from identity's `GetUser` (see [`profile`]),
//!   cached for deleted users; identity is unchanged.
//! - Events are queued only while the tenant has alerts configured, in the
//!   transaction of the change that causes them; removing the settings
//!   drops the queued events.
//! - Webhooks go to `https` (rustls, the platform's CA bundle) or `http`
//!   receivers at public addresses only, unless an operator allows internal
//!   ranges (see [`alerts::egress`]).

pub mod alerts;
pub mod cli;
pub mod config;
pub mod convert;
pub mod domain;
pub mod equipment;
pub mod error;
pub mod follower;
pub mod grpc;
mod grpc_equipment;
pub mod profile;
pub mod reconcile;
pub mod request;
pub mod retention;
pub mod role;
pub mod store;
pub mod text;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use proto::identity::v1::identity_service_client::IdentityServiceClient;
use proto::policy::v1::policy_service_server::PolicyServiceServer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

pub use alerts::egress::{Cidr, Egress};
pub use alerts::{AlertOptions, Clock, SystemClock};
pub use config::Config;
pub use error::PolicyError;
pub use follower::FollowerOptions;
pub use grpc::PolicyApi;
pub use store::{EquipmentStore, SqlStore, Store, StoreOptions};

/// identity's client: every call traced, propagated and measured
/// ([`telemetry::grpc::ClientLayer`]).
pub type IdentityClient = IdentityServiceClient<telemetry::grpc::Client<Channel>>;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database")]
    Database(#[source] PolicyError),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("refusing to start: {0}")]
    Role(storekit::roles::RoleProblem),
    #[error("invalid IDENTITY_URL")]
    IdentityUrl(#[source] tonic::transport::Error),
    #[error("cannot build gRPC reflection")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("cannot read the listener address")]
    Io(#[from] std::io::Error),
    #[error("gRPC security: {0}")]
    Security(#[from] mtls::Error),
    #[error("webhook client: {0}")]
    Webhooks(#[from] reqwest::Error),
}

/// A built policy server on an already-bound listener, with its follower.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    store: SqlStore,
    identity: IdentityClient,
    alerts: AlertOptions,
    follower: FollowerOptions,
    retention: retention::Retention,
    clock: Arc<dyn Clock>,
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
        let security = mtls::secure("policy", addr, &config.tls, &config.access)?;
        let identity_tls = config.tls.client()?;
        Ok(Self::with_store(store, listener, &config.identity_url)?
            .with_identity_tls(&config.identity_url, identity_tls.as_ref())?
            .with_security(security)
            .with_alert_options(config.alert_options())
            .with_follower_options(config.follower_options())
            .with_retention(config.retention()))
    }

    /// Prepares the server on `listener` over a connected, migrated store,
    /// following identity at `identity_url` (connected lazily).
    pub fn with_store(
        store: SqlStore,
        listener: TcpListener,
        identity_url: &str,
    ) -> Result<Self, StartupError> {
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            store,
            identity: identity_client(identity_url, None)?,
            alerts: AlertOptions::default(),
            follower: FollowerOptions::default(),
            retention: retention::Retention::default(),
            clock: Arc::new(SystemClock),
            security: None,
        })
    }

    /// Reaches identity at `identity_url` over TLS with this client
    /// certificate (`None`: plain gRPC).
    pub fn with_identity_tls(
        mut self,
        identity_url: &str,
        tls: Option<&mtls::ClientTls>,
    ) -> Result<Self, StartupError> {
        self.identity = identity_client(identity_url, tls)?;
        Ok(self)
    }

    /// Serves over mutual TLS with per-caller authorisation (`Some`), or
    /// plain gRPC to every caller (`None`, the default: local mode).
    pub fn with_security(mut self, security: Option<mtls::Secured>) -> Self {
        self.security = security;
        self
    }

    /// Replaces how this replica shares the change stream (its name and
    /// lease TTL).
    pub fn with_follower_options(mut self, options: FollowerOptions) -> Self {
        self.follower = options;
        self
    }

    /// How long the role history and the alert delivery log are kept
    /// (defaults in [`retention::Retention`]).
    pub fn with_retention(mut self, retention: retention::Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Replaces the alert worker's retry and polling options.
    pub fn with_alert_options(mut self, options: AlertOptions) -> Self {
        self.alerts = options;
        self
    }

    /// Replaces the clock of the alert worker and the equipment API.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store the server runs on.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Follows identity and serves until `shutdown` resolves; then ends the
    /// open role-change streams, finishes in-flight calls and stops the
    /// follower. Dropping the returned future (aborting its task) also stops
    /// the follower, as a crash would.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let signal = self.store.change_signal();
        let pool_metrics = AbortOnDrop(tokio::spawn(pool_metrics(self.store.clone())));
        let health_store = self.store.clone();
        let equipment: Arc<dyn EquipmentStore> = Arc::new(self.store.clone());
        let store: Arc<dyn Store> = Arc::new(self.store);
        let pruning = AbortOnDrop(tokio::spawn(retention::run(store.clone(), self.retention)));
        let follower = AbortOnDrop(tokio::spawn(follower::run(
            store.clone(),
            self.identity.clone(),
            self.follower,
            stopping.clone(),
        )));
        let egress = Arc::new(self.alerts.egress.clone());
        let worker =
            alerts::worker::Worker::new(equipment.clone(), self.alerts, self.clock.clone())?;
        let worker = AbortOnDrop(tokio::spawn(worker.run(signal, stopping.clone())));
        let api = PolicyApi::new(store, equipment, self.identity, self.clock, stopping)
            .with_egress(egress);

        let (health, health_service) = tonic_health::server::health_reporter();
        let health = AbortOnDrop(tokio::spawn(telemetry::health::track(
            health,
            <PolicyServiceServer<PolicyApi> as tonic::server::NamedService>::NAME,
            move || {
                let store = health_store.clone();
                async move { store.ping().await }
            },
        )));
        let (reflection, reflection_alpha) =
            storekit::server::reflection(proto::FILE_DESCRIPTOR_SET)?;
        tracing::info!(addr = %self.addr, "policy serving gRPC");
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
                PolicyServiceServer::new(api)
                    .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
            );
        let stopped = async {
            shutdown.await;
            // Open streams would keep the drain waiting forever.
            stop.send_replace(true);
        };
        let served = match tls {
            Some(tls) => {
                router
                    .serve_with_incoming_shutdown(tls.incoming(self.listener), stopped)
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(storekit::server::nodelay(self.listener), stopped)
                    .await
            }
        };
        stop.send_replace(true);
        follower.join().await;
        worker.join().await;
        drop(pool_metrics);
        drop(pruning);
        drop(health);
        served.map_err(|e| StartupError::Io(std::io::Error::other(e)))
    }
}

/// identity's client at `url`, over TLS when `tls` is set.
fn identity_client(
    url: &str,
    tls: Option<&mtls::ClientTls>,
) -> Result<IdentityClient, StartupError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(StartupError::IdentityUrl)?;
    let channel = mtls::channel(tls, endpoint);
    Ok(IdentityServiceClient::new(telemetry::grpc::client(channel))
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES))
}

/// Refreshes the `db_pool_*` gauges every few seconds.
async fn pool_metrics(store: SqlStore) {
    loop {
        store.record_pool_metrics();
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    /// Waits for the task to end by itself.
    async fn join(mut self) {
        let _ = (&mut self.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
