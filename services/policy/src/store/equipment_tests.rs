//! Holdings, the report, the outbox and the digest schedule on a temporary
//! SQLite database, with the clock injected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use crate::alerts::schedule::Frequency;
use crate::alerts::settings::SettingsChange;
use crate::alerts::worker::Worker;
use crate::alerts::{AlertOptions, Clock};
use crate::domain::{Micros, ReplicaChange as C};
use crate::equipment::Checkout;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

fn utc(s: &str) -> Micros {
    s.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

async fn db() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("policy.db").display());
    let options = StoreOptions {
        url,
        max_connections: 2,
        ..Default::default()
    };
    let store = SqlStore::connect(&options).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

async fn users(s: &SqlStore, tenant: &str, changes: &[(&str, bool)]) {
    let from = s.cursors().await.unwrap().get(tenant).copied().unwrap_or(0);
    let batch: Vec<StreamChange> = changes
        .iter()
        .enumerate()
        .map(|(i, (id, active))| StreamChange {
            seq: from + 1 + i64::try_from(i).unwrap(),
            tenant_id: tenant.into(),
            change: C::UserChanged {
                user_id: (*id).into(),
                active: *active,
            },
        })
        .collect();
    s.apply_changes(&self::tenant(tenant), from, &batch, None)
        .await
        .unwrap();
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

fn checkout(user: &str, asset: &str) -> Checkout {
    Checkout::parse(user, asset, "Laptop", 1).unwrap()
}

#[tokio::test]
async fn checkouts_and_returns_are_idempotent_by_asset() {
    let (s, _dir) = db().await;
    let acme = tenant("acme");
    users(&s, "acme", &[("u1", true), ("u2", true)]).await;
    let first = s
        .record_checkout(&acme, &checkout("u1", "a1"), None, 5)
        .await
        .unwrap();
    assert!(first.changed && first.moved_from.is_none() && !first.user_disabled);
    let again = s
        .record_checkout(&acme, &checkout("u1", "a1"), None, 6)
        .await
        .unwrap();
    assert!(!again.changed);
    let moved = s
        .record_checkout(&acme, &checkout("u2", "a1"), None, 7)
        .await
        .unwrap();
    assert_eq!(moved.moved_from.as_deref(), Some("u1"));
    assert!(s.holdings(&acme, Some("u1")).await.unwrap().is_empty());
    assert_eq!(s.holdings(&acme, None).await.unwrap().len(), 1);
    let unknown = s
        .record_checkout(&acme, &checkout("nobody", "a2"), None, 8)
        .await;
    assert!(matches!(unknown, Err(PolicyError::UnknownHolder(_))));
    // A return by the wrong user, then the right one, then a retry.
    assert_eq!(
        s.record_return(&acme, "a1", Some("u1"), 9).await.unwrap(),
        None
    );
    assert_eq!(
        s.record_return(&acme, "a1", None, 9)
            .await
            .unwrap()
            .as_deref(),
        Some("u2")
    );
    assert_eq!(s.record_return(&acme, "a1", None, 9).await.unwrap(), None);
    // Another tenant sees nothing and cannot hand out to acme's users.
    let other = tenant("other");
    s.record_checkout(&acme, &checkout("u1", "a3"), None, 10)
        .await
        .unwrap();
    assert!(s.holdings(&other, None).await.unwrap().is_empty());
    assert!(
        s.record_checkout(&other, &checkout("u1", "a4"), None, 10)
            .await
            .is_err()
    );
    assert_eq!(s.record_return(&other, "a3", None, 11).await.unwrap(), None);
}

#[tokio::test]
async fn the_digest_runs_at_the_tenant_hour_only_when_there_is_something() {
    let (s, _dir) = db().await;
    let acme = tenant("acme");
    users(&s, "acme", &[("u1", true)]).await;
    // 07:00 in Berlin (winter): the 09:00 digest is at 08:00 UTC.
    let clock = Arc::new(FakeClock(AtomicI64::new(utc("2025-01-15T06:00:00Z"))));
    let change = SettingsChange::parse(
        "http://127.0.0.1:9/",
        "",
        false,
        Frequency::Daily,
        9,
        "Europe/Berlin",
        &"127.0.0.0/8".parse().unwrap(),
    )
    .unwrap();
    let (settings, secret) = s
        .set_alert_settings(&acme, &change, clock.now())
        .await
        .unwrap();
    assert!(secret.is_some());
    assert_eq!(settings.next_digest, Some(utc("2025-01-15T08:00:00Z")));
    let store: Arc<dyn EquipmentStore> = Arc::new(s.clone());
    let worker = Worker::new(store, AlertOptions::default(), clock.clone()).unwrap();
    let pending = || async { s.deliveries(&acme, 10).await.unwrap().1 };

    clock.0.store(utc("2025-01-15T07:59:59Z"), Ordering::SeqCst);
    worker.queue_digests().await.unwrap();
    assert_eq!(pending().await, 0);
    // Due, but the report is empty: nothing is sent, the next run is tomorrow.
    clock.0.store(utc("2025-01-15T08:00:00Z"), Ordering::SeqCst);
    worker.queue_digests().await.unwrap();
    assert_eq!(pending().await, 0);
    let next = s.alert_settings(&acme).await.unwrap().unwrap().next_digest;
    assert_eq!(next, Some(utc("2025-01-16T08:00:00Z")));

    // A holder is disabled: one event now, and the digest at the next run.
    s.record_checkout(&acme, &checkout("u1", "a1"), None, clock.now())
        .await
        .unwrap();
    users(&s, "acme", &[("u1", false)]).await;
    assert_eq!(pending().await, 1);
    clock.0.store(utc("2025-01-16T08:00:01Z"), Ordering::SeqCst);
    worker.queue_digests().await.unwrap();
    worker.queue_digests().await.unwrap();
    assert_eq!(pending().await, 2, "one digest per run");
    let report = s.report(&acme, clock.now()).await.unwrap();
    assert_eq!(report.disabled.len(), 1);
    assert!(
        s.report(&tenant("other"), clock.now())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A tenant whose webhook is `url`, with one test event queued.
async fn hooked(s: &SqlStore, url: &str, now: Micros) -> TenantId {
    use crate::alerts::events::{Event, EventKind};
    use crate::alerts::schedule::Schedule;
    use crate::alerts::settings::SecretChange;
    let acme = tenant("acme");
    let change = SettingsChange {
        webhook_url: url.into(),
        secret: SecretChange::Generate,
        schedule: Schedule::parse(Frequency::Off, 0, "").unwrap(),
    };
    s.set_alert_settings(&acme, &change, now).await.unwrap();
    let event = Event::new("acme", EventKind::Test, now, serde_json::json!({}));
    assert!(s.enqueue(&acme, &event, now).await.unwrap());
    acme
}

/// One delivery round with `egress`; the attempt logged.
async fn attempt(s: &SqlStore, acme: &TenantId, options: AlertOptions) -> Delivery {
    let clock = Arc::new(FakeClock(AtomicI64::new(crate::domain::now_micros())));
    let store: Arc<dyn EquipmentStore> = Arc::new(s.clone());
    let worker = Worker::new(store, options, clock).unwrap();
    worker.round().await.unwrap();
    let (mut log, _) = s.deliveries(acme, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    log.remove(0)
}

/// A receiver on loopback that counts connections and answers each with
/// `response` (then keeps the connection open).
async fn receiver(response: Vec<u8>) -> (String, Arc<AtomicI64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicI64::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(&response).await;
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}/hook"), hits)
}

fn ok_response() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
}

#[tokio::test]
async fn a_webhook_on_an_internal_address_is_refused_without_a_connection() {
    let (s, _dir) = db().await;
    let (url, hits) = receiver(ok_response()).await;
    let acme = hooked(&s, &url, crate::domain::now_micros()).await;
    let d = attempt(&s, &acme, AlertOptions::default()).await;
    assert_eq!(d.outcome, Outcome::Failed, "not retried");
    assert_eq!(d.http_status, 0);
    assert!(d.detail.contains("internal address"), "{}", d.detail);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the receiver"
    );
    assert_eq!(
        s.deliveries(&acme, 10).await.unwrap().1,
        0,
        "nothing pending"
    );
}

#[tokio::test]
async fn a_name_resolving_to_an_internal_address_is_refused_after_resolution() {
    let (s, _dir) = db().await;
    let (url, hits) = receiver(ok_response()).await;
    let url = url.replace("127.0.0.1", "localhost");
    let acme = hooked(&s, &url, crate::domain::now_micros()).await;
    let d = attempt(&s, &acme, AlertOptions::default()).await;
    assert_eq!(d.outcome, Outcome::Failed);
    assert_eq!(d.http_status, 0);
    assert!(
        d.detail.contains("resolves only to internal"),
        "{}",
        d.detail
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_operator_allows_an_internal_receiver() {
    let (s, _dir) = db().await;
    let (url, hits) = receiver(ok_response()).await;
    let url = url.replace("127.0.0.1", "localhost");
    let acme = hooked(&s, &url, crate::domain::now_micros()).await;
    let options = AlertOptions {
        egress: "127.0.0.0/8,::1".parse().unwrap(),
        ..AlertOptions::default()
    };
    let d = attempt(&s, &acme, options).await;
    assert_eq!(d.outcome, Outcome::Delivered, "{}", d.detail);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn at_most_64_kib_of_a_response_is_read() {
    let (s, _dir) = db().await;
    // A body announced as 10 MB of which 70 KiB arrive, then nothing.
    let mut response =
        b"HTTP/1.1 500 Oops\r\ncontent-length: 10000000\r\n\r\nfirst words ".to_vec();
    response.resize(response.len() + 70 * 1024, b'x');
    let (url, _) = receiver(response).await;
    let acme = hooked(&s, &url, crate::domain::now_micros()).await;
    let options = AlertOptions {
        egress: "127.0.0.0/8".parse().unwrap(),
        request_timeout: std::time::Duration::from_secs(5),
        ..AlertOptions::default()
    };
    let started = std::time::Instant::now();
    let d = attempt(&s, &acme, options).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(d.http_status, 500);
    assert!(d.detail.starts_with("first words xxx"), "{}", d.detail);
    assert!(matches!(d.outcome, Outcome::Retry(_)));
}

#[tokio::test]
async fn a_flood_of_one_tenant_does_not_hold_back_another() {
    use crate::alerts::events::{Event, EventKind};
    let (s, _dir) = db().await;
    let now = crate::domain::now_micros();
    let acme = hooked(&s, "https://hooks.example.com/a", now).await;
    for i in 0..100 {
        let e = Event::new("acme", EventKind::Test, now + i, serde_json::json!({}));
        s.enqueue(&acme, &e, now + i).await.unwrap();
    }
    let other = tenant("other");
    let change = SettingsChange::parse(
        "https://hooks.example.com/b",
        "",
        false,
        Frequency::Off,
        0,
        "",
        &Default::default(),
    )
    .unwrap();
    s.set_alert_settings(&other, &change, now).await.unwrap();
    let late = Event::new("other", EventKind::Test, now + 200, serde_json::json!({}));
    s.enqueue(&other, &late, now + 200).await.unwrap();
    let claimed = s.claim_due(now + 1000, now + 2000, 32).await.unwrap();
    assert!(
        claimed.iter().any(|c| c.tenant_id == "other"),
        "the other tenant's event is in the first round"
    );
    let acme_claimed = claimed.iter().filter(|c| c.tenant_id == "acme").count();
    assert!(
        acme_claimed <= 8,
        "{acme_claimed} of acme's events in one round"
    );
}
