//! The end-to-end harness: starts identity, the gateway and policy
//! in-process on ephemeral ports (real TCP, real gRPC, real HTTP) against
//! fresh databases per test: new Postgres databases on 127.0.0.1:5432, or
//! new SQLite files. policy follows identity over real gRPC, on a database
//! of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod envdoc;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use proto::identity::v1 as pb;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use proto::policy::v1::policy_service_client::PolicyServiceClient;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// Where the Postgres server for tests is (`TEST_POSTGRES_URL` to override).
pub use storekit::testing::postgres_admin_url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A running system under test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    /// `http://127.0.0.1:<port>` of the identity gRPC server.
    pub identity_url: String,
    pub identity: IdentityServiceClient<Channel>,
    /// `http://127.0.0.1:<port>` of the policy gRPC server.
    pub policy_url: String,
    pub policy: PolicyServiceClient<Channel>,
    pub http: reqwest::Client,
    pub backend: Backend,
    /// A handle on identity's database (for maintenance such as pruning
    /// the provisioning log).
    pub identity_store: identity::SqlStore,
    identity_database_url: String,
    /// policy's database as its owner (the service may connect as a role).
    policy_owner_url: String,
    identity_server: IdentityServer,
    policy_server: PolicyServer,
    /// The test PKI when the system runs over mutual TLS.
    pub pki: Option<std::sync::Arc<Pki>>,
    _database: Database,
    _policy_database: Database,
}

/// The running identity service and what it takes to start it again.
struct IdentityServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IdentityServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The running policy service and what it takes to start it again.
struct PolicyServer {
    database_url: String,
    addr: SocketAddr,
    /// A second handle on its database, for reading the cursor.
    store: policy::SqlStore,
    task: tokio::task::JoinHandle<()>,
    pki: Option<std::sync::Arc<Pki>>,
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A database made for one test, dropped with it.
pub enum Database {
    Postgres { name: String },
    Sqlite { _dir: tempfile::TempDir },
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { name } = self {
            let name = name.clone();
            // Drop runs outside async context: a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    sqlx::any::install_default_drivers();
                    if let Ok(mut conn) =
                        <sqlx::AnyConnection as sqlx::Connection>::connect(&postgres_admin_url())
                            .await
                    {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A fresh database; `file` names the SQLite file.
pub async fn fresh_database(backend: Backend, file: &str) -> (String, Database) {
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Postgres => {
            let name = format!("scim_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&postgres_admin_url())
                    .await
                    .expect("Postgres on 127.0.0.1:5432 (see README)");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .unwrap();
            let admin = postgres_admin_url();
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned();
            (format!("{base}/{name}"), Database::Postgres { name })
        }
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join(file).display());
            (url, Database::Sqlite { _dir: dir })
        }
    }
}

/// Options for [`spawn_app_with`].
#[derive(Debug, Clone)]
pub struct Options {
    pub auth_cache_ttl_seconds: u64,
    pub max_body_bytes: usize,
    /// Rate limits, Redis, concurrency and timeouts of the gateway. The
    /// default: in-process limiter with limits high enough for any scenario.
    pub protection: gateway::protect::ProtectionConfig,
    /// Bulk limits and cursor settings of the gateway.
    pub protocol: gateway::protocol::ProtocolConfig,
    /// On Postgres, identity connects as this role (made when missing,
    /// given table privileges here) instead of the superuser, so that
    /// row-level security binds it, as in production: by default
    /// [`IDENTITY_SERVICE_ROLE`]; `None` connects as the superuser. Ignored
    /// on SQLite.
    pub identity_role: Option<String>,
    /// The same for policy: its database is migrated by the owner first.
    pub policy_role: Option<String>,
    /// identity's `statement_timeout` and `lock_timeout` (ms, Postgres).
    pub identity_statement_timeout_ms: u64,
    pub identity_lock_timeout_ms: u64,
    /// identity's per-tenant quotas (the service's defaults unless set).
    pub identity_quotas: identity::quota::Quotas,
    /// Every gRPC connection over mutual TLS with the default allowlist:
    /// each service presents a certificate of a test CA named for its role,
    /// and the harness's own clients present the operator's.
    pub mtls: bool,
}

/// The role identity connects as on Postgres unless a test chooses another:
/// a plain login role (no superuser, no `BYPASSRLS`, owns nothing), as the
/// service runs in production.
pub const IDENTITY_SERVICE_ROLE: &str = "e2e_identity_service";
/// The same for policy.
pub const POLICY_SERVICE_ROLE: &str = "e2e_policy_service";

impl Default for Options {
    fn default() -> Self {
        Self {
            auth_cache_ttl_seconds: 10,
            max_body_bytes: 1 << 20,
            protection: gateway::protect::ProtectionConfig {
                default_rate: 10_000,
                default_burst: 10_000,
                tenant_queue_wait_ms: 5_000,
                ..Default::default()
            },
            protocol: gateway::protocol::ProtocolConfig::default(),
            identity_role: Some(IDENTITY_SERVICE_ROLE.to_owned()),
            policy_role: Some(POLICY_SERVICE_ROLE.to_owned()),
            identity_statement_timeout_ms: identity::StoreOptions::default().statement_timeout_ms,
            identity_lock_timeout_ms: identity::StoreOptions::default().lock_timeout_ms,
            identity_quotas: identity::quota::Quotas::default(),
            mtls: false,
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    // `TEST_LOG=1` shows the services' logs while debugging a test.
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = telemetry::init("e2e");
    }
    // The process-wide metrics recorder, before the services record anything.
    telemetry::metrics::handle();
    let (url, database) = fresh_database(backend, "identity.db").await;
    let (policy_database_url, policy_database) = fresh_database(backend, "policy.db").await;
    let store = identity::SqlStore::connect(&identity_options(url.clone(), &options))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let store = match (&options.identity_role, backend) {
        (Some(role), Backend::Postgres) => as_role(&url, role, &options).await,
        _ => store,
    };
    let store = store.with_quotas(options.identity_quotas);

    let pki = options.mtls.then(|| std::sync::Arc::new(Pki::new()));
    let identity_store = store.clone();
    let identity_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity_server = start_identity(store, identity_listener, pki.as_deref());
    let identity_url = grpc_url(identity_server.addr, pki.as_deref());

    let addr = start_gateway(&identity_url, &options, pki.as_deref()).await;

    let policy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let policy_owner_url = policy_database_url.clone();
    let (policy_database_url, migrate_policy) = match (&options.policy_role, backend) {
        (Some(role), Backend::Postgres) => {
            migrate_policy_database(&policy_database_url).await;
            (role_url(&policy_database_url, role).await, false)
        }
        _ => (policy_database_url, true),
    };
    let policy_server = start_policy(
        policy_database_url,
        policy_listener,
        &identity_url,
        migrate_policy,
        pki.clone(),
    )
    .await;
    let policy_url = grpc_url(policy_server.addr, pki.as_deref());
    let operator = pki.as_deref().map(|p| p.client(&p.operator));

    TestApp {
        base_url: format!("http://{addr}"),
        identity: IdentityServiceClient::new(channel(&identity_url, operator.as_ref()).await)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
        identity_url,
        policy: PolicyServiceClient::new(channel(&policy_url, operator.as_ref()).await),
        policy_url,
        pki,
        http: reqwest::Client::new(),
        backend,
        identity_store,
        identity_database_url: url,
        policy_owner_url,
        identity_server,
        policy_server,
        _database: database,
        _policy_database: policy_database,
    }
}

/// The certificates of a system under test: a CA, and a certificate for
/// each service and for the operator, named for their roles (the servers'
/// also for `localhost` and `127.0.0.1`, which the harness connects to).
pub struct Pki {
    pub ca: mtls::testing::TestCa,
    pub identity: mtls::TlsFiles,
    pub policy: mtls::TlsFiles,
    pub gateway: mtls::TlsFiles,
    pub console: mtls::TlsFiles,
    pub operator: mtls::TlsFiles,
}

impl Pki {
    pub fn new() -> Self {
        let ca = mtls::testing::TestCa::new("e2e");
        Self {
            identity: ca.issue("identity", &["identity", "localhost", "127.0.0.1"]),
            policy: ca.issue("policy", &["policy", "localhost", "127.0.0.1"]),
            gateway: ca.issue("gateway", &["gateway"]),
            console: ca.issue("console", &["console"]),
            operator: ca.issue("operator", &["operator"]),
            ca,
        }
    }

    /// The settings that name `files`.
    pub fn settings(files: &mtls::TlsFiles) -> mtls::TlsSettings {
        mtls::TlsSettings {
            ca: Some(files.ca.clone()),
            cert: Some(files.cert.clone()),
            key: Some(files.key.clone()),
        }
    }

    /// A client presenting `files`.
    pub fn client(&self, files: &mtls::TlsFiles) -> mtls::ClientTls {
        mtls::ClientTls::load(files.clone()).unwrap()
    }

    /// A server presenting `files`, with the default allowlist.
    fn secured(files: &mtls::TlsFiles, addr: SocketAddr) -> mtls::Secured {
        mtls::secure(
            "test server",
            addr,
            &Self::settings(files),
            &mtls::AccessSettings::default(),
        )
        .unwrap()
        .unwrap()
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL of a gRPC server on `addr`.
fn grpc_url(addr: SocketAddr, pki: Option<&Pki>) -> String {
    match pki {
        Some(_) => format!("https://{addr}"),
        None => format!("http://{addr}"),
    }
}

fn start_identity(
    store: identity::SqlStore,
    listener: TcpListener,
    pki: Option<&Pki>,
) -> IdentityServer {
    let security = pki.map(|p| Pki::secured(&p.identity, listener.local_addr().unwrap()));
    let app = identity::Application::with_store(store, listener, false)
        .unwrap()
        .with_security(security);
    let addr = app.local_addr();
    let task = tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    IdentityServer { addr, task }
}

/// Grants `role` the rights production grants its identity role
/// (docs/sre.md, "Row-level security (Postgres)") and connects as it.
async fn as_role(url: &str, role: &str, options: &Options) -> identity::SqlStore {
    identity::SqlStore::connect(&identity_options(role_url(url, role).await, options))
        .await
        .unwrap()
}

fn identity_options(url: String, options: &Options) -> identity::StoreOptions {
    identity::StoreOptions {
        url,
        max_connections: 4,
        statement_timeout_ms: options.identity_statement_timeout_ms,
        lock_timeout_ms: options.identity_lock_timeout_ms,
    }
}

/// Grants `role` (made as a plain login role when it does not exist) the
/// table privileges of a service on the (migrated) database at `url`;
/// returns the URL that connects as `role`.
pub async fn role_url(url: &str, role: &str) -> String {
    storekit::testing::service_role_url(url, role).await
}

/// Starts a gateway against identity at `identity_url`; returns its address.
async fn start_gateway(identity_url: &str, options: &Options, pki: Option<&Pki>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = gateway::Config {
        listen: addr,
        identity_url: identity_url.to_owned(),
        public_base_url: None,
        auth_cache_ttl_seconds: options.auth_cache_ttl_seconds,
        max_body_bytes: options.max_body_bytes,
        protection: options.protection.clone(),
        protocol: options.protocol.clone(),
        shutdown_delay_seconds: 0,
        tls: pki.map(|p| Pki::settings(&p.gateway)).unwrap_or_default(),
    };
    let gateway_app = gateway::Application::build(&config, listener).unwrap();
    tokio::spawn(gateway_app.run_until_stopped(std::future::pending()));
    addr
}

impl TestApp {
    /// Starts one more gateway replica against the same identity and returns
    /// its base URL (`http://127.0.0.1:<port>`); see [`Tenant::via`].
    pub async fn spawn_gateway(&self, options: &Options) -> String {
        format!(
            "http://{}",
            start_gateway(&self.identity_url, options, self.pki.as_deref()).await
        )
    }
}

/// The session key of consoles started by [`TestApp::spawn_console`].
pub const CONSOLE_SESSION_KEY: &str = "e2e console session key, 32+ bytes long";

impl TestApp {
    /// Starts a console against this system's identity and policy; returns
    /// its base URL (`http://127.0.0.1:<port>`).
    pub async fn spawn_console(&self) -> String {
        self.spawn_console_with(|_| {}).await
    }

    /// [`TestApp::spawn_console`] with settings changed by `adjust` (short
    /// timeouts, say); every console shares [`CONSOLE_SESSION_KEY`].
    pub async fn spawn_console_with(&self, adjust: impl FnOnce(&mut console::Config)) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = console::Config::with_key(CONSOLE_SESSION_KEY.into());
        config.identity_url = self.identity_url.clone();
        config.policy_url = self.policy_url.clone();
        config.scim_public_url = self.base_url.clone();
        if let Some(pki) = &self.pki {
            config.tls = Pki::settings(&pki.console);
        }
        adjust(&mut config);
        let app = console::Application::build(&config, listener).unwrap();
        let url = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        url
    }

    /// Opens the console link of `code` on the console at `console` as a
    /// browser does (the link's page, then its button) and returns the
    /// session cookie (`console_session=…`).
    pub async fn console_sign_in(&self, console: &str, code: &str) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let shown = http
            .get(format!("{console}/login?code={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(shown.status(), StatusCode::OK);
        let pressed = http
            .post(format!("{console}/login"))
            .header("origin", console)
            .header("content-type", "application/x-www-form-urlencoded")
            // A code is `ccl_` and hex digits: nothing to escape.
            .body(format!("code={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
        pressed.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// A console link's one-time code for `tenant`, valid `ttl_seconds` (0: the default).
    pub async fn console_code(&self, tenant: &str, ttl_seconds: u64) -> String {
        let mut identity = self.identity.clone();
        identity
            .issue_console_link(pb::IssueConsoleLinkRequest {
                tenant_id: tenant.to_owned(),
                ttl_seconds,
            })
            .await
            .unwrap()
            .into_inner()
            .code
    }
}

impl Tenant {
    /// The same tenant and token, talking to the gateway at `base_url`.
    pub fn via(&self, base_url: &str) -> Tenant {
        Tenant {
            base: format!("{base_url}/scim/v2/{}", self.id),
            ..self.clone()
        }
    }
}

// The listeners are bound already: connecting cannot race the servers.
async fn channel(url: &str, tls: Option<&mtls::ClientTls>) -> Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(5));
    match tls {
        Some(tls) => tls.connect(endpoint).await.unwrap(),
        None => endpoint.connect().await.unwrap(),
    }
}

/// Applies policy's migrations as the database's owner.
pub async fn migrate_policy_database(url: &str) {
    let store = policy::SqlStore::connect(&policy::StoreOptions {
        url: url.to_owned(),
        max_connections: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
}

/// Starts policy on `listener`, migrating its database first when `migrate`.
/// The replica name of the harness's policy service.
pub const POLICY_REPLICA: &str = "e2e-policy";

/// A further policy replica (see [`TestApp::spawn_policy_replica`]).
pub struct PolicyReplica {
    pub client: PolicyServiceClient<Channel>,
    server: PolicyServer,
}

impl PolicyReplica {
    /// Stops it as a crash would: no lease is given back.
    pub async fn kill(mut self) {
        self.server.task.abort();
        let _ = (&mut self.server.task).await;
    }
}

async fn start_policy(
    database_url: String,
    listener: TcpListener,
    identity_url: &str,
    migrate: bool,
    pki: Option<std::sync::Arc<Pki>>,
) -> PolicyServer {
    start_policy_named(
        database_url,
        listener,
        identity_url,
        migrate,
        POLICY_REPLICA,
        pki,
    )
    .await
}

async fn start_policy_named(
    database_url: String,
    listener: TcpListener,
    identity_url: &str,
    migrate: bool,
    replica: &str,
    pki: Option<std::sync::Arc<Pki>>,
) -> PolicyServer {
    let options = policy::StoreOptions {
        url: database_url.clone(),
        max_connections: 4,
        ..Default::default()
    };
    let store = policy::SqlStore::connect(&options).await.unwrap();
    if migrate {
        store.migrate().await.unwrap();
    }
    // Fast webhook retries, so delivery tests wait milliseconds, not minutes.
    let alerts = policy::AlertOptions {
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(500),
        poll_interval: Duration::from_millis(100),
        request_timeout: Duration::from_secs(2),
        // The tests' receivers listen on loopback, an internal address.
        egress: "127.0.0.0/8,::1".parse().unwrap(),
        ..policy::AlertOptions::default()
    };
    // One name for the harness's policy, so a restarted one takes its own
    // leases back at once; a short TTL for the tests of failover.
    let follower = policy::FollowerOptions::new(replica.into(), Duration::from_secs(2));
    let security = pki
        .as_deref()
        .map(|p| Pki::secured(&p.policy, listener.local_addr().unwrap()));
    let identity_tls = pki.as_deref().map(|p| p.client(&p.policy));
    let app = policy::Application::with_store(store, listener, identity_url)
        .unwrap()
        .with_identity_tls(identity_url, identity_tls.as_ref())
        .unwrap()
        .with_security(security)
        .with_alert_options(alerts)
        .with_follower_options(follower);
    let addr = app.local_addr();
    let task = tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    PolicyServer {
        store: policy::SqlStore::connect(&options).await.unwrap(),
        database_url,
        addr,
        task,
        pki,
    }
}

/// A tenant with a token, ready for SCIM calls.
#[derive(Clone)]
pub struct Tenant {
    pub id: String,
    pub token: String,
    pub token_id: String,
    pub base: String,
    http: reqwest::Client,
}

/// A SCIM response: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Creates a tenant `<prefix>-<8 hex digits>` at `identity` and issues it a
/// token: the tenant's id and identity's answer (the secret and its record).
pub async fn create_tenant(
    identity: &mut IdentityServiceClient<Channel>,
    prefix: &str,
) -> (String, pb::IssueTokenResponse) {
    let id = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    identity
        .create_tenant(pb::CreateTenantRequest {
            id: id.clone(),
            display_name: prefix.into(),
        })
        .await
        .unwrap();
    let issued = identity
        .issue_token(pb::IssueTokenRequest {
            tenant_id: id.clone(),
            description: "test".into(),
            ttl_seconds: 0,
            secret: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    (id, issued)
}

impl TestApp {
    /// Sets a tenant's IdP profile (`entra`, `okta`, `generic`); before
    /// the tenant's first request, or the gateway's cached authentication
    /// keeps the old one for its TTL.
    pub async fn set_profile(&self, tenant: &str, profile: &str) {
        let profile = match profile {
            "okta" => pb::IdpProfile::Okta,
            "generic" => pb::IdpProfile::Generic,
            _ => pb::IdpProfile::Entra,
        };
        self.identity
            .clone()
            .set_tenant_profile(pb::SetTenantProfileRequest {
                tenant_id: tenant.to_owned(),
                profile: profile as i32,
            })
            .await
            .unwrap();
    }

    /// Creates a tenant with a unique id and issues a token for it.
    pub async fn tenant(&self, prefix: &str) -> Tenant {
        let (id, issued) = create_tenant(&mut self.identity.clone(), prefix).await;
        Tenant {
            base: format!("{}/scim/v2/{id}", self.base_url),
            id,
            token: issued.secret,
            token_id: issued.token.unwrap().id,
            http: self.http.clone(),
        }
    }
}

/// How long [`TestApp::policy_caught_up`] waits.
pub const POLICY_DEADLINE: Duration = Duration::from_secs(10);

impl TestApp {
    /// The URL of identity's database (as its owner), for fixtures.
    pub fn identity_database_url(&self) -> &str {
        &self.identity_database_url
    }

    /// The URL of policy's database as its owner (which row-level security
    /// does not bind), for fixtures.
    pub fn policy_database_url(&self) -> &str {
        &self.policy_owner_url
    }

    /// A handle on policy's database (for maintenance such as pruning).
    pub fn policy_store(&self) -> &policy::SqlStore {
        &self.policy_server.store
    }

    /// The name of identity's Postgres database (None on SQLite).
    pub fn identity_database(&self) -> Option<&str> {
        match &self._database {
            Database::Postgres { name } => Some(name),
            Database::Sqlite { .. } => None,
        }
    }

    /// Stops policy as a crash would (its tasks are aborted wherever they
    /// are, an open transaction is rolled back) and starts it again on the
    /// same database, on the same port when it is still free.
    pub async fn restart_policy(&mut self) {
        let old = &mut self.policy_server;
        // Already stopped by [`TestApp::kill_policy`], it is not awaited twice.
        if !old.task.is_finished() {
            old.task.abort();
            let _ = (&mut old.task).await;
        }
        old.store.close().await;
        let listener = match TcpListener::bind(old.addr).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let url = old.database_url.clone();
        // Already migrated (as the owner when policy runs as a plain role).
        let pki = old.pki.clone();
        self.policy_server =
            start_policy(url, listener, &self.identity_url, false, pki.clone()).await;
        self.policy_url = grpc_url(self.policy_server.addr, pki.as_deref());
        let operator = pki.as_deref().map(|p| p.client(&p.operator));
        self.policy = PolicyServiceClient::new(channel(&self.policy_url, operator.as_ref()).await);
    }

    /// Stops identity as a crash would (its tasks are aborted wherever they
    /// are: open transactions roll back, streams break) and starts it again
    /// on the same database and port; the gateway and policy reconnect.
    pub async fn restart_identity(&mut self) {
        let old = &mut self.identity_server;
        old.task.abort();
        let _ = (&mut old.task).await;
        let addr = old.addr;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.identity_server =
            start_identity(self.identity_store.clone(), listener, self.pki.as_deref());
    }

    /// Starts another policy replica named `replica` on the same databases
    /// (its lease TTL is the harness's: 2 s). Dropping the handle, or
    /// [`PolicyReplica::kill`], stops it as a crash would.
    pub async fn spawn_policy_replica(&self, replica: &str) -> PolicyReplica {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = start_policy_named(
            self.policy_server.database_url.clone(),
            listener,
            &self.identity_url,
            false,
            replica,
            self.pki.clone(),
        )
        .await;
        let url = grpc_url(server.addr, self.pki.as_deref());
        let operator = self.pki.as_deref().map(|p| p.client(&p.operator));
        PolicyReplica {
            client: PolicyServiceClient::new(channel(&url, operator.as_ref()).await),
            server,
        }
    }

    /// Stops the harness's own policy replica as a crash would (until
    /// [`TestApp::restart_policy`]).
    pub async fn kill_policy(&mut self) {
        self.policy_server.task.abort();
        let _ = (&mut self.policy_server.task).await;
    }

    /// Each tenant's position in identity's change stream up to which
    /// policy has applied every change.
    pub async fn policy_cursors(&self) -> HashMap<String, i64> {
        use policy::Store;
        self.policy_server.store.cursors().await.unwrap()
    }

    /// The holder of each partition's lease (empty when unheld or expired).
    pub async fn policy_leases(&self) -> Vec<String> {
        use policy::Store;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let leases = self.policy_server.store.leases().await.unwrap();
        leases
            .into_iter()
            .map(|(_, holder, expires)| if expires > now { holder } else { String::new() })
            .collect()
    }

    /// Each tenant's newest position in identity's change stream (retried
    /// for a while after a restart of identity broke the connection).
    pub async fn identity_heads(&self) -> HashMap<String, i64> {
        let mut identity = self.identity.clone();
        let mut attempts = 0;
        loop {
            match identity
                .list_stream_heads(pb::ListStreamHeadsRequest::default())
                .await
            {
                Ok(r) => {
                    return r
                        .into_inner()
                        .heads
                        .into_iter()
                        .map(|p| (p.tenant_id, p.seq))
                        .collect();
                }
                Err(e)
                    if attempts < 50
                        && matches!(
                            e.code(),
                            tonic::Code::Unavailable | tonic::Code::Cancelled
                        ) =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("ListStreamHeads: {e}"),
            }
        }
    }

    /// Waits until policy has applied every change identity committed so
    /// far; panics after [`POLICY_DEADLINE`].
    pub async fn policy_caught_up(&self) {
        let target = self.identity_heads().await;
        let deadline = tokio::time::Instant::now() + POLICY_DEADLINE;
        loop {
            let cursors = self.policy_cursors().await;
            let behind: Vec<_> = target
                .iter()
                .filter(|(t, seq)| cursors.get(*t).copied().unwrap_or(0) < **seq)
                .collect();
            if behind.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "policy did not catch up with identity within {POLICY_DEADLINE:?} (behind: {behind:?}, cursors {cursors:?})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Tenant {
    /// Sends a request to `{tenant base}{path}` with the tenant's token.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        reply(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id (asserting 201).
    pub async fn create_user(&self, body: Value) -> String {
        let r = self.post("/Users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

/// Reads any response into a [`Reply`].
pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Asserts a SCIM error body with `status` and, when given, `scimType`.
pub fn assert_scim_error(reply: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(
        reply.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "body: {}",
        reply.body
    );
    assert_eq!(
        reply.body["status"],
        status.to_string(),
        "body: {}",
        reply.body
    );
    if let Some(t) = scim_type {
        assert_eq!(reply.body["scimType"], t, "body: {}", reply.body);
    }
    assert!(reply.body["detail"].is_string());
}

/// Declares one test per backend for an `async fn(&TestApp)` scenario.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::spawn_app($crate::Backend::Postgres).await;
                    super::$name(&app).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::spawn_app($crate::Backend::Sqlite).await;
                    super::$name(&app).await;
                }
            )+
        }
    };
}

/// Serves the process-wide Prometheus metrics (every in-process service's
/// series, as in `make run`) on an ephemeral port; returns its
/// `http://127.0.0.1:<port>/metrics` URL.
pub async fn spawn_metrics() -> String {
    let addr = telemetry::metrics::spawn(([127, 0, 0, 1], 0).into(), std::future::pending())
        .await
        .expect("metrics listener");
    format!("http://{addr}/metrics")
}

/// Polls `check` (every 20 ms) until it gives `Some`, and returns that; after
/// `within` the test fails with `what` and the last state `check` reported
/// through `Err`. Tests wait on a condition this way, never for a fixed time.
pub async fn wait_until<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(found) => return found,
            Err(state) => assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within {within:?} ({state})"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
