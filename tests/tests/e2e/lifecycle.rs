//! Readiness: `/readyz` follows identity's database through identity's gRPC
//! health, reports Redis without depending on it, and identity's and
//! policy's `grpc.health.v1` answer for their services.

use std::time::Duration;

use e2e::{Backend, postgres_admin_url, spawn_app, spawn_app_with};
use serde_json::Value;
use sqlx::{AnyConnection, Connection};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn readyz(base: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn grpc_health(url: &str, service: &str) -> i32 {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Waits until `/readyz` answers `status` (the health probes run every 2 s).
async fn wait_readyz(base: &str, status: u16) -> Value {
    e2e::wait_until(
        "/readyz answers as expected",
        Duration::from_secs(15),
        || async {
            let (s, body) = readyz(base).await;
            if s == status {
                Ok(body)
            } else {
                Err(format!("/readyz {s}: {body}"))
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_while_the_database_answers_and_not_after() {
    let app = spawn_app(Backend::Postgres).await;
    let body = wait_readyz(&app.base_url, 200).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["identity"], "ok");
    assert_eq!(
        body["checks"]["redis"],
        "not configured (in-process limiter)"
    );
    let serving = ServingStatus::Serving as i32;
    assert_eq!(grpc_health(&app.identity_url, "").await, serving);
    assert_eq!(
        grpc_health(&app.identity_url, "identity.v1.IdentityService").await,
        serving
    );
    assert_eq!(
        grpc_health(&app.policy_url, "policy.v1.PolicyService").await,
        serving
    );

    // identity loses its database: NOT_SERVING, and the gateway not ready.
    let name = app.identity_database().unwrap().to_owned();
    let mut admin = AnyConnection::connect(&postgres_admin_url()).await.unwrap();
    let sql = format!("DROP DATABASE \"{name}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .unwrap();
    let body = wait_readyz(&app.base_url, 503).await;
    assert_eq!(body["status"], "not ready");
    assert_eq!(
        body["checks"]["identity"],
        "not serving (its database is unreachable)"
    );
    assert_eq!(
        grpc_health(&app.identity_url, "").await,
        ServingStatus::NotServing as i32
    );
    // policy's own database is fine: it stays ready.
    assert_eq!(
        grpc_health(&app.policy_url, "policy.v1.PolicyService").await,
        serving
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_reported_but_does_not_make_the_gateway_unready() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = e2e::Options::default();
    options.protection.redis_url = Some(format!("redis://127.0.0.1:{port}").into());
    let app = spawn_app_with(Backend::Sqlite, options).await;
    let body = wait_readyz(&app.base_url, 200).await;
    assert_eq!(body["checks"]["identity"], "ok");
    assert_eq!(
        body["checks"]["redis"],
        "unreachable (in-process limiter per replica)"
    );
}
