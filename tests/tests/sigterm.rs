//! SIGTERM during a burst of SCIM requests, as a rolling update sends it:
//! the gateway keeps serving through its shutdown delay while `/readyz`
//! answers 503, then stops accepting and finishes what is in flight. Every
//! request of the burst gets a complete answer and every user it created
//! exists.
//!
//! A test binary of its own: the signal goes to this process, where the
//! only server listening for it is the gateway under test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use e2e::{Backend, spawn_app};
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_loses_no_request() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.tenant("drain").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = gateway::Config {
        listen: addr,
        identity_url: app.identity_url.clone(),
        protection: e2e::Options::default().protection,
        shutdown_delay_seconds: 2,
        ..gateway::Config::default()
    };
    let gateway = gateway::Application::build(&config, listener).unwrap();
    let server = tokio::spawn(gateway.run_until_stopped(telemetry::shutdown_signal()));

    let client = reqwest::Client::new();
    let readyz = format!("http://{addr}/readyz");
    let ready = client.get(&readyz).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    const BURST: usize = 150;
    let answered = Arc::new(AtomicUsize::new(0));
    let slots = Arc::new(tokio::sync::Semaphore::new(16));
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let (client, answered, slots) = (client.clone(), answered.clone(), slots.clone());
        let url = format!("http://{addr}/scim/v2/{}/Users", t.id);
        let token = t.token.clone();
        burst.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let body = json!({"userName": format!("drain{i}@example.com")});
            let result = async {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .json(&body)
                    .send()
                    .await?;
                let status = r.status().as_u16();
                Ok::<_, reqwest::Error>((status, r.text().await?))
            }
            .await;
            answered.fetch_add(1, Ordering::AcqRel);
            (i, result)
        });
    }

    // SIGTERM with most of the burst still to come.
    while answered.load(Ordering::Acquire) < BURST / 5 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        answered.load(Ordering::Acquire) < BURST,
        "the burst ended before the signal"
    );

    // Draining: not ready, still serving.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let r = client.get(&readyz).send().await.unwrap();
        if r.status().as_u16() == 503 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["status"], "draining");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every request of the burst: a complete 201 with the created user.
    while let Some(joined) = burst.join_next().await {
        let (i, result) = joined.unwrap();
        let (status, text) = result.unwrap_or_else(|e| panic!("request {i} got no answer: {e}"));
        assert_eq!(status, 201, "request {i}: {text}");
        let user: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(user["userName"], format!("drain{i}@example.com"));
    }

    // The gateway stops by itself after the delay, and accepts no more.
    let stopped = tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("the gateway did not stop after its shutdown delay");
    stopped.unwrap().unwrap();
    assert!(client.get(&readyz).send().await.is_err());

    // Nothing lost: every user is stored.
    let r = t.get("/Users?count=0").await;
    assert_eq!(r.body["totalResults"], BURST, "{}", r.body);
}
