//! Helpers of the protection tests: gateway options with a Redis of one's
//! own key prefix, tenant limits, and a Redis server a test controls.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{Options, Tenant, TestApp};
use proto::identity::v1 as pb;

/// The machine's shared Redis (tests use a unique key prefix each).
pub const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

/// Gateway options limiting through `redis_url` under a fresh key prefix
/// (so that tests can run in parallel against one Redis).
pub fn redis_options(redis_url: &str, prefix: &str) -> Options {
    let mut options = Options::default();
    options.protection.redis_url = Some(redis_url.into());
    options.protection.rate_limit_key_prefix = prefix.to_owned();
    options
}

/// A fresh key prefix.
pub fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// Sets a tenant's per-token limits through identity.
pub async fn set_limits(app: &TestApp, tenant: &str, rate_per_second: u32, burst: u32) {
    app.identity
        .clone()
        .set_tenant_limits(pb::SetTenantLimitsRequest {
            tenant_id: tenant.to_owned(),
            limits: Some(pb::TenantLimits {
                rate_per_second,
                burst,
            }),
        })
        .await
        .unwrap();
}

/// `t` with a second token of its tenant.
pub async fn second_token(app: &TestApp, t: &Tenant) -> Tenant {
    let issued = app
        .identity
        .clone()
        .issue_token(pb::IssueTokenRequest {
            tenant_id: t.id.clone(),
            description: "second".into(),
            ttl_seconds: 0,
            secret: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut other = t.clone();
    other.token = issued.secret;
    other.token_id = issued.token.unwrap().id;
    other
}

/// A `redis-server` of the test's own on a free port; killed on drop.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// With extra `redis-server` arguments (run in a directory of its own).
    pub async fn start_with(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        extra.extend(["--dir".to_owned(), dir.path().display().to_string()]);
        let mut redis = Self {
            port,
            child: None,
            extra,
            _dir: dir,
        };
        redis.start_again().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub async fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let client = redis::Client::open(self.url()).unwrap();
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (as a crash would) and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The keys under `prefix` in the Redis at `url`.
pub async fn keys(url: &str, prefix: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap()
}
