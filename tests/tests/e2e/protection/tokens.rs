//! Token rotation and revocation across two gateway replicas: two tokens
//! work side by side during a rotation, and a revoked or expired token is
//! refused by every replica within the auth cache's TTL.

use std::time::Duration;

use e2e::{Backend, Options, Tenant, spawn_app_with};
use proto::identity::v1 as pb;
use reqwest::StatusCode;

const TTL_SECONDS: u64 = 1;
/// The TTL plus generous slack for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(TTL_SECONDS + 5);

/// Polls until the tenant's token is refused; panics after [`DEADLINE`].
async fn refused_within_deadline(t: &Tenant) {
    e2e::wait_until("the token refused", DEADLINE, || async {
        let status = t.get("/Users?count=0").await.status;
        if status == StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        assert_eq!(status, StatusCode::OK);
        Err(format!("token still accepted at {}", t.base))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_then_revocation_seen_by_every_replica() {
    let options = Options {
        auth_cache_ttl_seconds: TTL_SECONDS,
        ..Options::default()
    };
    let app = spawn_app_with(Backend::Sqlite, options.clone()).await;
    let second = app.spawn_gateway(&options).await;
    let old = app.tenant("rotate").await;
    let new = super::support::second_token(&app, &old).await;
    // During the rotation both tokens work on both replicas (and are cached there).
    for t in [&old, &new, &old.via(&second), &new.via(&second)] {
        assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
    }
    app.identity
        .clone()
        .revoke_token(pb::RevokeTokenRequest {
            tenant_id: old.id.clone(),
            token_id: old.token_id.clone(),
        })
        .await
        .unwrap();
    refused_within_deadline(&old).await;
    refused_within_deadline(&old.via(&second)).await;
    for t in [&new, &new.via(&second)] {
        assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_by_every_replica() {
    let options = Options {
        auth_cache_ttl_seconds: TTL_SECONDS,
        ..Options::default()
    };
    let app = spawn_app_with(Backend::Sqlite, options.clone()).await;
    let second = app.spawn_gateway(&options).await;
    let t = app.tenant("expiry").await;
    let issued = app
        .identity
        .clone()
        .issue_token(pb::IssueTokenRequest {
            tenant_id: t.id.clone(),
            description: "short".into(),
            ttl_seconds: 1,
            secret: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut short = t.clone();
    short.token = issued.secret;
    refused_within_deadline(&short).await;
    refused_within_deadline(&short.via(&second)).await;
    assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
}
