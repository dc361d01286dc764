//! The rate limiter against a Redis Cluster of three masters: each
//! decision's single key carries a hash tag, so it lives in one slot, and
//! the script is loaded on whichever node owns it.

use std::process::Command;
use std::time::Duration;

use e2e::{Backend, spawn_app_with};

use super::support::{OwnRedis, keys, prefix, redis_options, set_limits};

async fn cluster() -> Vec<OwnRedis> {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(OwnRedis::start_with(&["--cluster-enabled", "yes"]).await);
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let status = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("redis-cli on PATH");
    assert!(status.success());
    // Wait until every node agrees the cluster is up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for node in &nodes {
        let client = redis::Client::open(node.url()).unwrap();
        loop {
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await
                .unwrap();
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the cluster did not form"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_on_a_redis_cluster() {
    let nodes = cluster().await;
    let urls: Vec<String> = nodes.iter().map(OwnRedis::url).collect();
    let prefix = prefix();
    let mut options = redis_options(&urls.join(","), &prefix);
    options.protection.redis_cluster = true;
    // Generous while the cluster client learns the slots; the limits below decide.
    options.protection.redis_timeout_ms = 1_000;
    let app = spawn_app_with(Backend::Sqlite, options).await;
    // Several tokens, so that their keys fall in different slots and nodes.
    for i in 0..4 {
        let t = app.tenant(&format!("cl{i}")).await;
        set_limits(&app, &t.id, 1, 2).await;
        // The burst of 2 plus one per second passed, no more.
        let started = std::time::Instant::now();
        let mut admitted = 0;
        for _ in 0..6 {
            let r = t.get("/Users?count=0").await;
            assert!(r.header("ratelimit-policy").is_some(), "{}", r.body);
            match r.status.as_u16() {
                200 => admitted += 1,
                429 => {}
                other => panic!("{other}: {}", r.body),
            }
        }
        let elapsed = started.elapsed().as_secs() + 1;
        assert!(admitted >= 2 && admitted <= 2 + elapsed, "{admitted}");
        // The decision was the cluster's: the tenant's key is on one node.
        let key = format!("{prefix}{{{}}}", t.id);
        let mut found = 0;
        for url in &urls {
            found += keys(url, &key).await.len();
        }
        assert_eq!(found, 1, "{key}");
    }
    drop(app);
    drop(nodes);
}
