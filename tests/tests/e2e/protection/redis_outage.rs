//! Redis stopped and started during a run: the gateway keeps serving on its
//! in-process limiter (no request fails because of it) and goes back to
//! Redis by itself.

use std::time::Duration;

use e2e::{Backend, spawn_app_with};
use reqwest::StatusCode;

use super::support::{OwnRedis, keys, prefix, redis_options, set_limits};

/// How long the gateway may take to use Redis again after it is back
/// (it probes once a second).
const BACK_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_and_up_again_fails_no_request() {
    let mut redis = OwnRedis::start().await;
    let prefix = prefix();
    let app = spawn_app_with(Backend::Sqlite, redis_options(&redis.url(), &prefix)).await;
    let t = app.tenant("outage").await;
    // One second per request, a deep burst: every decision leaves a key
    // that lives for seconds, and none is refused.
    set_limits(&app, &t.id, 1, 1000).await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(t.get("/Users?count=0").await.status);
    }
    assert_eq!(keys(&redis.url(), &prefix).await.len(), 1);

    redis.stop();
    for _ in 0..30 {
        statuses.push(t.get("/Users?count=0").await.status);
    }

    redis.start_again().await;
    // The restarted Redis is empty (no script, no keys): the gateway loads
    // the script again and its decisions reappear there.
    let deadline = tokio::time::Instant::now() + BACK_WITHIN;
    loop {
        statuses.push(t.get("/Users?count=0").await.status);
        if !keys(&redis.url(), &prefix).await.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway did not return to Redis within {BACK_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
}
