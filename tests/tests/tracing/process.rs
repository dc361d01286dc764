//! The services under test, each in a process of its own.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

use crate::DEADLINE;

/// A running service process; killed when dropped.
pub struct Service {
    _child: Child,
    pub addr: String,
    /// Its log lines (JSON) so far.
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    logged: watch::Receiver<usize>,
}

impl Service {
    /// Waits for a log line that `wanted` accepts, and returns it.
    pub async fn log_line(
        &mut self,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let wait = async {
            loop {
                let found = self
                    .logs
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|l| wanted(l))
                    .cloned();
                if let Some(line) = found {
                    return line;
                }
                self.logged.changed().await.unwrap();
            }
        };
        let logs = self.logs.clone();
        tokio::time::timeout(DEADLINE, wait)
            .await
            .unwrap_or_else(|_| panic!("no such log line in {:#?}", logs.lock().unwrap()))
    }
}

/// Starts `scim-service <name>` with `env` and JSON logs, exporting to
/// `otlp`, and waits for its log line `ready` to learn the bound address.
async fn start(name: &str, otlp: &str, env: &[(&str, String)], ready: &str) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-service"));
    command.arg(name);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key == "REDIS_URL" || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
        .env("LOG_FORMAT", "json")
        // The transport's own spans are at `trace`: let them through, to
        // see that they are not exported.
        .env(
            "RUST_LOG",
            "debug,h2=trace,hyper=trace,tonic=trace,tower=trace",
        )
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        // Export every 50 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("scim-service starts");
    let stdout = child.stdout.take().unwrap();
    let logs: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let (addr_tx, addr_rx) = oneshot::channel();
    let (logged_tx, logged) = watch::channel(0);
    let lines = logs.clone();
    let wanted = ready.to_owned();
    tokio::spawn(async move {
        let mut addr_tx = Some(addr_tx);
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("a log line that is not JSON: {line}");
            };
            if value["message"] == wanted.as_str()
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(value["addr"].as_str().unwrap_or_default().to_owned());
            }
            lines.lock().unwrap().push(value);
            logged_tx.send_modify(|n| *n += 1);
        }
    });
    let addr = tokio::time::timeout(DEADLINE, addr_rx)
        .await
        .unwrap_or_else(|_| panic!("{name} did not log {ready:?}"))
        .unwrap_or_else(|_| panic!("{name} exited before logging {ready:?}"));
    Service {
        _child: child,
        addr: format!("http://{addr}"),
        logs,
        logged,
    }
}

/// identity, policy and the gateway, exporting to `otlp`, with a tenant
/// and its token made straight at identity (an untraced caller).
pub struct System {
    pub gateway: Service,
    pub tenant: String,
    pub token: String,
    _identity: Service,
    _policy: Service,
    _dir: tempfile::TempDir,
}

impl System {
    pub async fn start(otlp: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = |file: &str| format!("sqlite:{}", dir.path().join(file).display());
        let identity = start(
            "identity",
            otlp,
            &[
                ("IDENTITY_LISTEN", "127.0.0.1:0".into()),
                ("DATABASE_URL", db("identity.db")),
                ("MIGRATE_ON_START", "true".into()),
            ],
            "identity serving gRPC",
        )
        .await;
        let policy = start(
            "policy",
            otlp,
            &[
                ("POLICY_LISTEN", "127.0.0.1:0".into()),
                ("DATABASE_URL", db("policy.db")),
                ("MIGRATE_ON_START", "true".into()),
                ("IDENTITY_URL", identity.addr.clone()),
            ],
            "policy serving gRPC",
        )
        .await;
        let gateway = start(
            "gateway",
            otlp,
            &[
                ("GATEWAY_LISTEN", "127.0.0.1:0".into()),
                ("IDENTITY_URL", identity.addr.clone()),
                // The caller stands for an ingress that traces.
                ("TRACE_CONTEXT_FROM_CLIENTS", "true".into()),
            ],
            "gateway serving SCIM",
        )
        .await;

        let mut admin =
            proto::identity::v1::identity_service_client::IdentityServiceClient::connect(
                identity.addr.clone(),
            )
            .await
            .unwrap();
        let (tenant, issued) = e2e::create_tenant(&mut admin, "trace").await;
        let token = issued.secret;
        Self {
            gateway,
            tenant,
            token,
            _identity: identity,
            _policy: policy,
            _dir: dir,
        }
    }
}
