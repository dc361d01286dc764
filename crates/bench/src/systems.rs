//! The systems under test, each started by the bench on loopback ports:
//! the production topology (one process per service on Postgres), `make
//! run`'s single binary (SQLite), the bare gateway hop (gateway in front of
//! a stub identity), and the peers (`scim2-server`, Ory Polis on its
//! in-memory and Postgres engines), installed into `/var/tmp` on demand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::identity::v1 as idpb;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use proto::policy::v1 as polpb;
use proto::policy::v1::policy_service_client::PolicyServiceClient;
use serde_json::json;

use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::pg;
use crate::procs::{Service, Watched, free_port, loopback, wait_for_port};

/// What every system start needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Where the release binaries are (`target/release`).
    pub bins: PathBuf,
    /// This run's scratch directory (logs, SQLite files, pgbench output).
    pub work: PathBuf,
    /// Where results, charts and profiles go (`bench/`).
    pub out: PathBuf,
    /// Where peers are installed (kept between runs).
    pub peers: PathBuf,
    pub run_id: String,
    pub ticks: f64,
    /// Extra environment per service: (service, key, value).
    pub env: Vec<(String, String, String)>,
    pub redis_url: Option<String>,
}

impl Ctx {
    fn env_for(
        &self,
        service: &str,
        mut base: Vec<(&'static str, String)>,
    ) -> Vec<(String, String)> {
        base.push(("RUST_LOG", "info".to_owned()));
        base.push(("LOG_FORMAT", "json".to_owned()));
        base.push(("METRICS_LISTEN", metrics_listen()));
        let mut env: Vec<(String, String)> =
            base.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        for (svc, k, v) in &self.env {
            if svc == service {
                env.retain(|(key, _)| key != k);
                env.push((k.clone(), v.clone()));
            }
        }
        env
    }

    fn spawn(
        &self,
        name: &str,
        program: &Path,
        args: &[&str],
        env: Vec<(&'static str, String)>,
        cwd: Option<&Path>,
    ) -> Result<Service, Error> {
        let env = self.env_for(name, env);
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        Service::spawn(name, program, args, &env, &self.work, cwd)
    }
}

/// A started system and the tenants provisioned on it.
pub struct System {
    pub name: String,
    pub services: Vec<Service>,
    pub watched: Watched,
    pub endpoints: Vec<Endpoint>,
    pub identity_url: Option<String>,
    pub policy_url: Option<String>,
    /// (database name, URL) of identity and policy, production only.
    pub identity_db: Option<(String, String)>,
    pub policy_db: Option<(String, String)>,
    pub extra_dbs: Vec<String>,
    pub gateway_port: Option<u16>,
}

impl System {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            services: Vec::new(),
            watched: Watched::default(),
            endpoints: Vec::new(),
            identity_url: None,
            policy_url: None,
            identity_db: None,
            policy_db: None,
            extra_dbs: Vec::new(),
            gateway_port: None,
        }
    }

    fn add(&mut self, svc: Service) {
        self.watched.groups.push((svc.name.clone(), vec![svc.pid]));
        self.services.push(svc);
    }

    pub fn pid(&self, name: &str) -> Option<u32> {
        self.services.iter().find(|s| s.name == name).map(|s| s.pid)
    }

    /// Fails when any process has died.
    pub fn check(&mut self) -> Result<(), Error> {
        for s in &mut self.services {
            s.check_alive()?;
        }
        Ok(())
    }

    /// Stops the processes and drops the databases it created.
    pub async fn stop(self, keep_dbs: bool) {
        for s in self.services {
            s.stop().await;
        }
        if !keep_dbs {
            for (name, _) in self.identity_db.iter().chain(self.policy_db.iter()) {
                pg::drop_db(name).await;
            }
            for name in &self.extra_dbs {
                pg::drop_db(name).await;
            }
        }
    }
}

/// One service of the production topology.
struct Spec {
    name: &'static str,
    /// Its own database (`identity migrate` / `policy migrate` first, as
    /// the owner; served as [`pg::SERVICE_ROLE`]).
    database: bool,
    listen_env: &'static str,
    /// Follows or calls identity (`IDENTITY_URL`).
    uses_identity: bool,
}

/// The production topology in start order: a new service is one line here.
const PRODUCTION: &[Spec] = &[
    Spec {
        name: "identity",
        database: true,
        listen_env: "IDENTITY_LISTEN",
        uses_identity: false,
    },
    Spec {
        name: "policy",
        database: true,
        listen_env: "POLICY_LISTEN",
        uses_identity: true,
    },
    Spec {
        name: "gateway",
        database: false,
        listen_env: "GATEWAY_LISTEN",
        uses_identity: true,
    },
];

/// Starts gateway, identity and policy as separate processes, each on a
/// fresh Postgres database, and provisions `tenants`.
pub async fn production(ctx: &Ctx, tenants: &[String]) -> Result<System, Error> {
    let mut sys = System::new("prod");
    sys.watched.postgres = true;
    let mut identity_url = String::new();
    for spec in PRODUCTION {
        let bin = ctx.bins.join(spec.name);
        if !bin.exists() {
            eprintln!("bench: {} not built, production runs without it", spec.name);
            continue;
        }
        let port = free_port()?;
        let mut env = vec![(spec.listen_env, loopback(port).to_string())];
        if spec.database {
            let db = format!("bench_{}_{}", ctx.run_id, spec.name);
            let url = pg::create_db(&db).await?;
            // Migrated as the owner, served as a plain role (as in production).
            migrate(&bin, &url).await?;
            env.push(("DATABASE_URL", pg::service_role_url(&db).await?));
            match spec.name {
                "identity" => sys.identity_db = Some((db, url)),
                "policy" => sys.policy_db = Some((db, url)),
                _ => sys.extra_dbs.push(db),
            }
        }
        if spec.uses_identity {
            env.push(("IDENTITY_URL", identity_url.clone()));
        }
        if spec.name == "gateway" {
            // The limiter runs (its cost is part of the path) with limits far
            // above the load: the throughput figures measure the system, not
            // the per-token budget. The rate-limit scenarios set their own.
            env.extend(high_limits());
            if let Some(r) = &ctx.redis_url {
                env.push(("REDIS_URL", r.clone()));
                env.push((
                    "RATE_LIMIT_KEY_PREFIX",
                    format!("bench:{}:main:", ctx.run_id),
                ));
            }
        }
        let mut svc = ctx.spawn(spec.name, &bin, &[], env, None)?;
        wait_for_port(&mut svc, loopback(port), Duration::from_secs(30)).await?;
        let url = format!("http://{}", loopback(port));
        match spec.name {
            "identity" => {
                identity_url = url.clone();
                sys.identity_url = Some(url);
            }
            "policy" => sys.policy_url = Some(url),
            "gateway" => sys.gateway_port = Some(port),
            _ => {}
        }
        sys.add(svc);
    }
    let gw = sys.gateway_port.ok_or("the gateway did not start")?;
    sys.endpoints = provision(&identity_url, gw, tenants).await?;
    if let Some(p) = &sys.policy_url {
        for t in tenants {
            if let Err(e) = default_role(p, t).await {
                eprintln!("bench: policy setup for {t} failed: {e}");
            }
        }
    }
    Ok(sys)
}

/// A free loopback address for a service's Prometheus endpoint (its
/// default binds a fixed port on every interface, which two processes of
/// one kind cannot share).
pub fn metrics_listen() -> String {
    free_port()
        .map(|p| loopback(p).to_string())
        .unwrap_or_else(|_| "127.0.0.1:0".to_owned())
}

/// Per-token limits far above any load the bench makes (ignored by a
/// gateway without rate limiting).
fn high_limits() -> Vec<(&'static str, String)> {
    vec![
        ("RATE_LIMIT_DEFAULT_RATE", "1000000".to_owned()),
        ("RATE_LIMIT_DEFAULT_BURST", "1000000".to_owned()),
    ]
}

async fn migrate(bin: &Path, url: &str) -> Result<(), Error> {
    let out = tokio::process::Command::new(bin)
        .arg("migrate")
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    if !out.status.success() {
        return Err(format!(
            "{} migrate failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Creates the tenants through identity's gRPC API, one token each.
pub async fn provision(
    identity_url: &str,
    gateway_port: u16,
    tenants: &[String],
) -> Result<Vec<Endpoint>, Error> {
    let mut client = connect_identity(identity_url).await?;
    let mut out = Vec::new();
    for t in tenants {
        client
            .create_tenant(idpb::CreateTenantRequest {
                id: t.clone(),
                display_name: format!("bench {t}"),
                ..Default::default()
            })
            .await?;
        let token = client
            .issue_token(idpb::IssueTokenRequest {
                tenant_id: t.clone(),
                description: "bench".into(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .secret;
        out.push(Endpoint {
            base: format!("http://127.0.0.1:{gateway_port}/scim/v2/{t}"),
            token,
            tenant: t.clone(),
        });
    }
    Ok(out)
}

pub async fn connect_identity(
    url: &str,
) -> Result<IdentityServiceClient<tonic::transport::Channel>, Error> {
    for _ in 0..100 {
        if let Ok(c) = IdentityServiceClient::connect(url.to_owned()).await {
            return Ok(c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("cannot reach identity at {url}").into())
}

pub async fn connect_policy(
    url: &str,
) -> Result<PolicyServiceClient<tonic::transport::Channel>, Error> {
    for _ in 0..100 {
        if let Ok(c) = PolicyServiceClient::connect(url.to_owned()).await {
            return Ok(c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("cannot reach policy at {url}").into())
}

/// A role `Member` that is the tenant's default, so that a deactivation is
/// a visible role change (Member → Disabled).
pub async fn default_role(policy_url: &str, tenant: &str) -> Result<(), Error> {
    let mut p = connect_policy(policy_url).await?;
    p.create_role(polpb::CreateRoleRequest {
        tenant_id: tenant.to_owned(),
        name: "Member".into(),
        description: "bench default".into(),
        ..Default::default()
    })
    .await?;
    p.set_default_role(polpb::SetDefaultRoleRequest {
        tenant_id: tenant.to_owned(),
        role: "Member".into(),
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// `make run`'s binary (every service in one process, SQLite).
pub async fn local(ctx: &Ctx, tenants: &[String]) -> Result<System, Error> {
    let mut sys = System::new("local");
    let bin = ctx.bins.join("scim-local");
    let data = ctx.work.join("local-data");
    std::fs::create_dir_all(&data)?;
    let (gw, id, pol) = (free_port()?, free_port()?, free_port()?);
    let mut env = high_limits();
    env.extend([
        ("DATA_DIR", data.display().to_string()),
        ("GATEWAY_LISTEN", loopback(gw).to_string()),
        ("IDENTITY_LISTEN", loopback(id).to_string()),
        // For when `make run` serves policy too; ignored before.
        ("POLICY_LISTEN", loopback(pol).to_string()),
        ("CONSOLE_LISTEN", loopback(free_port()?).to_string()),
    ]);
    let mut svc = ctx.spawn("scim-local", &bin, &[], env, None)?;
    wait_for_port(&mut svc, loopback(gw), Duration::from_secs(30)).await?;
    sys.add(svc);
    let identity_url = format!("http://{}", loopback(id));
    sys.endpoints = provision(&identity_url, gw, tenants).await?;
    sys.identity_url = Some(identity_url);
    sys.gateway_port = Some(gw);
    if tokio::net::TcpStream::connect(loopback(pol)).await.is_ok() {
        let url = format!("http://{}", loopback(pol));
        for t in tenants {
            let _ = default_role(&url, t).await;
        }
        sys.policy_url = Some(url);
    }
    Ok(sys)
}

/// The real gateway in front of the stub identity (`bench stub-identity`).
pub async fn hop(ctx: &Ctx, tenants: usize) -> Result<System, Error> {
    let mut sys = System::new("hop");
    let me = std::env::current_exe()?;
    let (stub_port, gw) = (free_port()?, free_port()?);
    let listen = loopback(stub_port).to_string();
    let mut stub = ctx.spawn(
        "stub-identity",
        &me,
        &["stub-identity", "--listen", &listen],
        vec![],
        None,
    )?;
    wait_for_port(&mut stub, loopback(stub_port), Duration::from_secs(10)).await?;
    sys.add(stub);
    let mut env = high_limits();
    env.extend([
        ("GATEWAY_LISTEN", loopback(gw).to_string()),
        ("IDENTITY_URL", format!("http://{listen}")),
    ]);
    let mut gateway = ctx.spawn("gateway", &ctx.bins.join("gateway"), &[], env, None)?;
    wait_for_port(&mut gateway, loopback(gw), Duration::from_secs(30)).await?;
    sys.add(gateway);
    sys.gateway_port = Some(gw);
    sys.endpoints = (0..tenants)
        .map(|i| Endpoint {
            base: format!("http://127.0.0.1:{gw}/scim/v2/{}", crate::stub::TENANT),
            token: format!("hop-token-{i}"),
            tenant: crate::stub::TENANT.to_owned(),
        })
        .collect();
    Ok(sys)
}

/// Runs a setup command, failing with its output.
async fn sh(program: &str, args: &[&str], cwd: &Path) -> Result<(), Error> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Version pins of the peers (installed by the bench, never committed).
pub const SCIM2_SERVER: &str = "scim2-server";
pub const POLIS: &str = "@boxyhq/saml-jackson@26.2.0";

/// `scim2-server` (PyPI) in a virtualenv under `ctx.peers`, in memory.
pub async fn scim2_server(ctx: &Ctx, tenants: usize) -> Result<System, Error> {
    let dir = ctx.peers.join("scim2");
    let exe = dir.join("venv/bin/scim2-server");
    if !exe.exists() {
        std::fs::create_dir_all(&dir)?;
        sh("python3", &["-m", "venv", "venv"], &dir).await?;
        sh("venv/bin/pip", &["install", "-q", SCIM2_SERVER], &dir).await?;
    }
    let port = free_port()?;
    let token = "bench-scim2-token".to_owned();
    let p = port.to_string();
    let mut svc = ctx.spawn(
        "scim2-server",
        &exe,
        &[
            "--hostname",
            "127.0.0.1",
            "--port",
            &p,
            "--bearer-token",
            &token,
        ],
        vec![],
        None,
    )?;
    wait_for_port(&mut svc, loopback(port), Duration::from_secs(60)).await?;
    let mut sys = System::new("scim2-server");
    sys.add(svc);
    sys.endpoints = (0..tenants)
        .map(|i| Endpoint {
            base: format!("http://127.0.0.1:{port}/v2"),
            token: token.clone(),
            tenant: format!("t{i}"),
        })
        .collect();
    Ok(sys)
}

const POLIS_WRAPPER: &str = include_str!("../peers/polis-wrapper.js");

/// Ory Polis directory sync behind a minimal wrapper; `postgres` picks the
/// SQL engine on a fresh database, else the in-memory engine.
pub async fn polis(ctx: &Ctx, tenants: usize, postgres: bool) -> Result<System, Error> {
    let dir = ctx.peers.join("polis");
    if !dir.join("node_modules/@boxyhq/saml-jackson").exists() {
        std::fs::create_dir_all(&dir)?;
        // Scripts skipped: they only build native drivers (SQLite) not used here.
        sh(
            "npm",
            &[
                "install",
                "--prefix",
                ".",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                POLIS,
            ],
            &dir,
        )
        .await?;
    }
    std::fs::write(dir.join("polis-wrapper.js"), POLIS_WRAPPER)?;
    let name = if postgres { "polis-pg" } else { "polis-mem" };
    let mut sys = System::new(name);
    let port = free_port()?;
    let mut args = vec!["polis-wrapper.js".to_owned(), port.to_string()];
    if postgres {
        let db = format!("bench_{}_polis", ctx.run_id);
        let url = pg::create_db(&db).await?;
        sys.extra_dbs.push(db);
        sys.watched.postgres = true;
        args.push("sql".into());
        args.push(url);
    } else {
        args.push("mem".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut svc = ctx.spawn(name, Path::new("node"), &args, vec![], Some(&dir))?;
    wait_for_port(&mut svc, loopback(port), Duration::from_secs(90)).await?;
    sys.add(svc);
    let admin = Scim::new(crate::stats::Recorder::new())?;
    for i in 0..tenants {
        let d = admin
            .post_json(
                &format!("http://127.0.0.1:{port}/admin/directories"),
                &json!({ "tenant": format!("t{i}") }),
            )
            .await?;
        let id = d["id"].as_str().ok_or("no directory id")?;
        sys.endpoints.push(Endpoint {
            base: format!("http://127.0.0.1:{port}/api/scim/v2.0/{id}"),
            token: d["secret"].as_str().unwrap_or_default().to_owned(),
            tenant: format!("t{i}"),
        });
    }
    Ok(sys)
}
