//! The end-to-end harness: starts identity and the gateway in-process on
//! ephemeral ports (real TCP, real gRPC, real HTTP) against a fresh database
//! per test: a new Postgres database on 127.0.0.1:5432, or a new SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use proto::identity::v1 as pb;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// Where the Postgres server for tests is (`TEST_POSTGRES_URL` to override).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

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
    pub http: reqwest::Client,
    pub backend: Backend,
    _database: Database,
}

enum Database {
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

async fn fresh_database(backend: Backend) -> (String, Database) {
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
            let url = format!("sqlite:{}", dir.path().join("identity.db").display());
            (url, Database::Sqlite { _dir: dir })
        }
    }
}

/// Options for [`spawn_app_with`].
#[derive(Debug, Clone)]
pub struct Options {
    pub auth_cache_ttl_seconds: u64,
    pub max_body_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auth_cache_ttl_seconds: 10,
            max_body_bytes: 1 << 20,
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    // `TEST_LOG=1` shows the services' logs while debugging a test.
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init();
    }
    let (url, database) = fresh_database(backend).await;
    let store = identity::SqlStore::connect(&identity::StoreOptions {
        url,
        max_connections: 4,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();

    let identity_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity_app = identity::Application::with_store(store, identity_listener, false).unwrap();
    let identity_url = format!("http://{}", identity_app.local_addr());
    tokio::spawn(identity_app.run_until_stopped(std::future::pending()));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = gateway::Config {
        listen: addr,
        identity_url: identity_url.clone(),
        public_base_url: None,
        auth_cache_ttl_seconds: options.auth_cache_ttl_seconds,
        max_body_bytes: options.max_body_bytes,
    };
    let gateway_app = gateway::Application::build(&config, listener).unwrap();
    tokio::spawn(gateway_app.run_until_stopped(std::future::pending()));

    // The listeners are bound already: connecting cannot race the servers.
    let channel = tonic::transport::Endpoint::from_shared(identity_url.clone())
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    TestApp {
        base_url: format!("http://{addr}"),
        identity_url,
        identity: IdentityServiceClient::new(channel),
        http: reqwest::Client::new(),
        backend,
        _database: database,
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

impl TestApp {
    /// Creates a tenant with a unique id and issues a token for it.
    pub async fn tenant(&self, prefix: &str) -> Tenant {
        let id = format!(
            "{prefix}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mut identity = self.identity.clone();
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
        Tenant {
            base: format!("{}/scim/v2/{id}", self.base_url),
            id,
            token: issued.secret,
            token_id: issued.token.unwrap().id,
            http: self.http.clone(),
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
