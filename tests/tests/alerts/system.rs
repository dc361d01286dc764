//! The system under test as it is deployed: identity, policy and the
//! gateway each in a process of its own (`scim-service`), over mutual TLS,
//! on fresh Postgres databases, the gateway's limiter in a Redis of its
//! own, and policy reaching identity through a TCP relay the test can cut.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use e2e::{Backend, Database, Pki};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::{DEADLINE, eventually};

/// A running service process; killed when dropped.
pub struct Service {
    _child: Child,
    /// `host:port` of its gRPC or HTTP listener.
    pub addr: String,
    /// `host:port` of its `/metrics`.
    pub metrics: String,
}

/// The log lines a service writes once it listens, with the address.
const METRICS_LINE: &str = "serving Prometheus metrics on /metrics";

/// Starts `scim-service <name>` with `env` and waits for the log lines
/// that give its metrics address and, `ready`, its listener's address.
async fn start(name: &str, env: &[(&str, String)], ready: &str) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-service"));
    command.arg(name);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("GRPC_") || key.ends_with("_URL") {
            command.env_remove(key);
        }
    }
    command
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("scim-service starts");
    let stdout = child.stdout.take().unwrap();
    let found: Arc<Mutex<(Option<String>, Option<String>)>> = Arc::default();
    let (seen_tx, mut seen) = watch::channel(());
    let lines = found.clone();
    let wanted = ready.to_owned();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let addr = value["addr"].as_str().map(str::to_owned);
            let mut found = lines.lock().unwrap();
            if value["message"] == METRICS_LINE {
                found.0 = addr;
            } else if value["message"] == wanted.as_str() {
                found.1 = addr;
            }
            drop(found);
            let _ = seen_tx.send(());
        }
    });
    let wait = async {
        loop {
            if let (Some(metrics), Some(addr)) = found.lock().unwrap().clone() {
                return (metrics, addr);
            }
            if seen.changed().await.is_err() {
                panic!("{name} exited before logging {ready:?} and {METRICS_LINE:?}");
            }
        }
    };
    let (metrics, addr) = tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{name} did not log {ready:?} and {METRICS_LINE:?}"));
    Service {
        _child: child,
        addr,
        metrics,
    }
}

/// The TLS settings of `files`, as environment variables.
fn tls_env(files: &mtls::TlsFiles) -> [(&'static str, String); 3] {
    [
        ("GRPC_TLS_CA", files.ca.display().to_string()),
        ("GRPC_TLS_CERT", files.cert.display().to_string()),
        ("GRPC_TLS_KEY", files.key.display().to_string()),
    ]
}

// === The relay between policy and identity ===

/// Relays TCP connections to `upstream` while open; cutting it drops the
/// relayed connections and refuses new ones (accepted, then closed), as a
/// network partition between policy and identity would.
pub struct Relay {
    pub addr: String,
    open: watch::Sender<bool>,
}

impl Relay {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (open, state) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*state.borrow() {
                    continue; // dropped: closed at once
                }
                let upstream = upstream.clone();
                let mut state = state.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = state.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Self { addr, open }
    }

    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

// === Redis ===

/// A Redis server of the test's own, on a free port; killed when dropped.
pub struct Redis {
    child: Option<Child>,
    pub url: String,
}

impl Redis {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server on PATH");
        let addr = format!("127.0.0.1:{port}");
        eventually("redis-server answering", DEADLINE, || async {
            TcpStream::connect(&addr).await.ok().map(|_| ())
        })
        .await;
        Self {
            child: Some(child),
            url: format!("redis://{addr}"),
        }
    }

    /// Stops the server: the gateway falls back to its in-process limiter.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

// === The system ===

pub struct System {
    pub identity: Service,
    pub policy: Service,
    pub gateway: Service,
    /// Between policy and identity.
    pub relay: Relay,
    pub redis: Redis,
    /// `http://…/scim/v2/<tenant>` and its token.
    pub base: String,
    pub token: String,
    _pki: Pki,
    _databases: (Database, Database),
}

impl System {
    pub async fn start() -> Self {
        let pki = Pki::new();
        let (identity_db, identity_database) = e2e::fresh_database(Backend::Postgres, "").await;
        let (policy_db, policy_database) = e2e::fresh_database(Backend::Postgres, "").await;
        let redis = Redis::start().await;
        // The tests' Postgres user is a superuser.
        let privileged = ("DATABASE_ALLOW_PRIVILEGED_ROLE", "true".to_owned());
        let mut env = vec![
            ("IDENTITY_LISTEN", "127.0.0.1:0".to_owned()),
            ("DATABASE_URL", identity_db),
            ("MIGRATE_ON_START", "true".into()),
            privileged.clone(),
        ];
        env.extend(tls_env(&pki.identity));
        let identity = start("identity", &env, "identity serving gRPC").await;
        let relay = Relay::start(identity.addr.clone()).await;
        let mut env = vec![
            ("POLICY_LISTEN", "127.0.0.1:0".to_owned()),
            ("DATABASE_URL", policy_db),
            ("MIGRATE_ON_START", "true".into()),
            ("IDENTITY_URL", format!("https://{}", relay.addr)),
            privileged,
        ];
        env.extend(tls_env(&pki.policy));
        let policy = start("policy", &env, "policy serving gRPC").await;
        let mut env = vec![
            ("GATEWAY_LISTEN", "127.0.0.1:0".to_owned()),
            ("IDENTITY_URL", format!("https://{}", identity.addr)),
            ("REDIS_URL", redis.url.clone()),
            ("SHUTDOWN_DELAY_SECONDS", "0".into()),
            // No rate limit in the way; a small concurrency, refused at
            // once, which the test provokes on purpose.
            ("RATE_LIMIT_DEFAULT_RATE", "10000".into()),
            ("RATE_LIMIT_DEFAULT_BURST", "10000".into()),
            ("TENANT_MAX_CONCURRENCY", "4".into()),
            ("TENANT_QUEUE_WAIT_MS", "0".into()),
        ];
        env.extend(tls_env(&pki.gateway));
        let gateway = start("gateway", &env, "gateway serving SCIM").await;

        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("https://{}", identity.addr)).unwrap();
        let channel = pki.client(&pki.operator).connect(endpoint).await.unwrap();
        let mut admin =
            proto::identity::v1::identity_service_client::IdentityServiceClient::new(channel);
        let (tenant, issued) = e2e::create_tenant(&mut admin, "alerts").await;
        let token = issued.secret;
        Self {
            base: format!("http://{}/scim/v2/{tenant}", gateway.addr),
            token,
            identity,
            policy,
            gateway,
            relay,
            redis,
            _pki: pki,
            _databases: (identity_database, policy_database),
        }
    }

    /// The scrape targets: job name and `/metrics` address of each process.
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        vec![
            ("identity", self.identity.metrics.clone()),
            ("policy", self.policy.metrics.clone()),
            ("gateway", self.gateway.metrics.clone()),
        ]
    }
}
