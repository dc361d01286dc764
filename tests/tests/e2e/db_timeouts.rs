//! identity's database lock timeout through the gateway, on Postgres: a
//! PATCH that waits for a user row another transaction holds is a SCIM 503
//! with `Retry-After` within the lock timeout (not a 500, not a hang), while
//! a PATCH of another tenant's user goes through at once.

use std::time::{Duration, Instant};

use e2e::{Backend, Options, assert_scim_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};

const LOCK_TIMEOUT_MS: u64 = 300;

fn user(name: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
    })
}

fn rename() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_of_a_locked_user_is_503_while_another_tenant_patches() {
    let options = Options {
        identity_lock_timeout_ms: LOCK_TIMEOUT_MS,
        ..Options::default()
    };
    let app = spawn_app_with(Backend::Postgres, options).await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let held = acme.create_user(user("alice")).await;
    let free = globex.create_user(user("bob")).await;

    // Another transaction holds acme's user row.
    let mut holder = AnyConnection::connect(app.identity_database_url())
        .await
        .unwrap();
    holder.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT id FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(&acme.id)
        .bind(&held)
        .fetch_one(&mut holder)
        .await
        .unwrap();

    let started = Instant::now();
    let (blocked, other) = tokio::join!(
        async {
            let r = acme.patch(&format!("/Users/{held}"), rename()).await;
            (r, started.elapsed())
        },
        async {
            let r = globex.patch(&format!("/Users/{free}"), rename()).await;
            (r, started.elapsed())
        },
    );
    let (reply, blocked_for) = blocked;
    assert_scim_error(&reply, 503, None);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("users") && !detail.contains("lock timeout"),
        "{detail}"
    );
    assert!(blocked_for >= Duration::from_millis(LOCK_TIMEOUT_MS));
    assert!(blocked_for < Duration::from_secs(3), "{blocked_for:?}");
    let (reply, other_took) = other;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["displayName"], "Renamed");
    assert!(
        other_took < blocked_for,
        "{other_took:?} vs {blocked_for:?}"
    );

    // Released, the retry goes through.
    holder.execute("ROLLBACK").await.unwrap();
    let reply = acme.patch(&format!("/Users/{held}"), rename()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
