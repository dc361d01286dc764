//! `make run`: identity, the SCIM gateway and policy in one process on
//! embedded SQLite databases (`identity.db`, `policy.db`), no Redis. On first start it creates the tenant `demo`
//! with a token and prints the two lines to paste into Entra ID or Okta:
//!
//! ```text
//! Tenant URL: http://127.0.0.1:8080/scim/v2/demo
//! Secret token: scim_…
//! ```
//!
//! With `SCIM_DEV_TOKEN` set, that value is the demo token (on every start).
//!
//! It also serves the tenant administrator's console on
//! `http://127.0.0.1:8081` and prints a single-use link into it for `demo`
//! (valid for 15 minutes) on every start. The session cookie is `Secure`:
//! browsers accept that on `http://127.0.0.1` and `http://localhost`, which
//! they treat as secure origins, so the local mode needs no TLS.

use std::net::SocketAddr;

use all_in_one::Cli;
use clap::Parser;
use identity::{SqlStore, StoreOptions};
use proto::identity::v1 as pb;
use tokio::net::TcpListener;

const DEMO_TENANT: &str = "demo";

type IdentityClient = pb::identity_service_client::IdentityServiceClient<tonic::transport::Channel>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces = telemetry::init("scim-platform");
    let cli = Cli::parse();
    std::fs::create_dir_all(&cli.data_dir)?;
    let db = cli.data_dir.join("identity.db");
    let store = SqlStore::connect(&StoreOptions {
        url: format!("sqlite:{}", db.display()),
        max_connections: 4,
        ..Default::default()
    })
    .await?;
    store.migrate().await?;

    mtls::check_plaintext("identity", cli.identity_listen, cli.grpc_allow_plaintext)?;
    mtls::check_plaintext("policy", cli.policy_listen, cli.grpc_allow_plaintext)?;
    telemetry::metrics::spawn(cli.metrics_listen, std::future::pending()).await?;
    let identity_listener = TcpListener::bind(cli.identity_listen).await?;
    // A chosen dev token is not in the minted format: identity must accept it.
    let chosen = cli.dev_token.is_some();
    let identity = identity::Application::with_store(store, identity_listener, chosen)?;
    let identity_addr = identity.local_addr();

    let scim_listener = TcpListener::bind(cli.scim_listen).await?;
    let gateway_config = gateway::Config {
        listen: cli.scim_listen,
        identity_url: format!("http://{identity_addr}"),
        public_base_url: cli.public_base_url.clone(),
        auth_cache_ttl_seconds: 10,
        max_body_bytes: 1 << 20,
        protection: cli.protection.clone(),
        // One process on a laptop: nothing to drain from.
        shutdown_delay_seconds: 0,
        ..gateway::Config::default()
    };
    let gateway = gateway::Application::build(&gateway_config, scim_listener)?;
    let base = cli
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", gateway.local_addr()));

    println!("identity gRPC: http://{identity_addr}");
    let policy = start_policy(&cli, identity_addr).await?;
    println!("policy gRPC: http://{}", policy.local_addr());
    let console = start_console(&cli, identity_addr, policy.local_addr(), &base).await?;
    let console_addr = console.local_addr();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut identity_stop = stop_rx.clone();
    let identity_task = tokio::spawn(identity.run_until_stopped(async move {
        let _ = identity_stop.wait_for(|s| *s).await;
    }));
    let mut policy_stop = stop_rx.clone();
    let policy_task = tokio::spawn(policy.run_until_stopped(async move {
        let _ = policy_stop.wait_for(|s| *s).await;
    }));
    let mut console_stop = stop_rx.clone();
    let console_task = tokio::spawn(console.run_until_stopped(async move {
        let _ = console_stop.wait_for(|s| *s).await;
    }));
    let mut gateway_stop = stop_rx;
    let gateway_task = tokio::spawn(gateway.run_until_stopped(async move {
        let _ = gateway_stop.wait_for(|s| *s).await;
    }));
    // Seeded through identity's API once it serves (its task runs now).
    let mut identity_client =
        proto::identity::v1::identity_service_client::IdentityServiceClient::connect(format!(
            "http://{identity_addr}"
        ))
        .await?;
    let secret = ensure_demo(&mut identity_client, cli.dev_token.clone()).await?;
    println!(
        "Tenant URL: {}/scim/v2/{DEMO_TENANT}",
        base.trim_end_matches('/')
    );
    match secret {
        Some(s) => println!("Secret token: {s}"),
        None => println!(
            "Secret token: (shown on first start only; issue another with `scimctl token issue {DEMO_TENANT}`)"
        ),
    }
    let link = console_link(&mut identity_client).await?;
    println!(
        "Console link (single use, 15 minutes; `scimctl console-link {DEMO_TENANT}` for another): http://{console_addr}/login?code={link}"
    );
    telemetry::shutdown_signal().await;
    let _ = stop_tx.send(true);
    gateway_task.await??;
    console_task.await??;
    policy_task.await??;
    identity_task.await??;
    traces.shutdown().await;
    Ok(())
}

/// policy on `<data dir>/policy.db`, following the in-process identity.
async fn start_policy(
    cli: &Cli,
    identity_addr: SocketAddr,
) -> Result<policy::Application, Box<dyn std::error::Error>> {
    let db = cli.data_dir.join("policy.db");
    let store = policy::SqlStore::connect(&policy::StoreOptions {
        url: format!("sqlite:{}", db.display()),
        max_connections: 4,
        ..Default::default()
    })
    .await
    .map_err(policy::StartupError::Database)?;
    store.migrate().await?;
    let listener = TcpListener::bind(cli.policy_listen).await?;
    let identity_url = format!("http://{identity_addr}");
    Ok(policy::Application::with_store(
        store,
        listener,
        &identity_url,
    )?)
}

/// The console, against the in-process identity and policy.
async fn start_console(
    cli: &Cli,
    identity_addr: SocketAddr,
    policy_addr: SocketAddr,
    scim_base: &str,
) -> Result<console::Application, Box<dyn std::error::Error>> {
    let key = match &cli.console_session_key {
        Some(k) => k.clone(),
        None => {
            let mut random = [0u8; 32];
            getrandom::fill(&mut random)?;
            random.iter().map(|b| format!("{b:02x}")).collect()
        }
    };
    let mut config = console::Config::with_key(key.into());
    config.listen = cli.console_listen;
    config.identity_url = format!("http://{identity_addr}");
    config.policy_url = format!("http://{policy_addr}");
    config.scim_public_url = scim_base.trim_end_matches('/').to_owned();
    let listener = TcpListener::bind(cli.console_listen).await?;
    Ok(console::Application::build(&config, listener)?)
}

/// A fresh single-use console link code for the demo tenant.
async fn console_link(client: &mut IdentityClient) -> Result<String, Box<dyn std::error::Error>> {
    let issued = client
        .issue_console_link(pb::IssueConsoleLinkRequest {
            tenant_id: DEMO_TENANT.into(),
            ttl_seconds: 900,
        })
        .await?
        .into_inner();
    Ok(issued.code)
}

/// Creates the demo tenant and its token when missing, through identity's
/// API; returns a secret to print when one was issued now (or chosen
/// through `SCIM_DEV_TOKEN`).
async fn ensure_demo(
    client: &mut IdentityClient,
    dev_token: Option<String>,
) -> Result<Option<String>, tonic::Status> {
    let fresh = match client
        .get_tenant(pb::GetTenantRequest {
            id: DEMO_TENANT.into(),
        })
        .await
    {
        Ok(_) => false,
        Err(status) if status.code() == tonic::Code::NotFound => {
            client
                .create_tenant(pb::CreateTenantRequest {
                    id: DEMO_TENANT.into(),
                    display_name: "Demo".into(),
                })
                .await?;
            true
        }
        Err(status) => return Err(status),
    };
    let chosen = match dev_token {
        Some(secret) => {
            let known = client
                .authenticate_token(pb::AuthenticateTokenRequest {
                    secret: secret.clone(),
                })
                .await
                .is_ok_and(|r| r.get_ref().tenant_id == DEMO_TENANT);
            if known {
                return Ok(Some(secret));
            }
            secret
        }
        None if fresh => String::new(),
        None => return Ok(None),
    };
    let issued = client
        .issue_token(pb::IssueTokenRequest {
            tenant_id: DEMO_TENANT.into(),
            description: "demo token".into(),
            ttl_seconds: 0,
            secret: chosen,
        })
        .await?
        .into_inner();
    Ok(Some(issued.secret))
}
