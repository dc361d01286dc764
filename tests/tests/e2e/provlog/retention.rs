//! Retention: entries beyond the age limit and the per-tenant cap are pruned.

use std::time::Duration;

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;

use super::{entry, list};

on_both_backends!(retention_prunes_old_and_excess_entries);

pub(super) async fn retention_prunes_old_and_excess_entries(app: &TestApp) {
    let a = app.tenant("retain-a").await;
    let b = app.tenant("retain-b").await;
    let day = Duration::from_secs(86_400);
    let mut entries = Vec::new();
    for i in 0..3 {
        entries.push(entry(&a.id, day * 40 + Duration::from_secs(i), "old"));
    }
    for i in 0..6u64 {
        entries.push(entry(
            &a.id,
            Duration::from_secs(60 - i),
            &format!("new {i}"),
        ));
    }
    entries.push(entry(&b.id, day * 40, "old"));
    entries.push(entry(&b.id, Duration::from_secs(5), "new"));
    let recorded = app
        .identity
        .clone()
        .record_requests(pb::RecordRequestsRequest { entries })
        .await
        .unwrap()
        .into_inner()
        .recorded;
    assert_eq!(recorded, 11);

    let retention = identity::retention::Retention {
        request_log: storekit::retention::Rule {
            max_age: day * 30,
            max_per_tenant: 4,
        },
        ..Default::default()
    };
    let deleted = identity::retention::prune_all(&app.identity_store, &retention)
        .await
        .unwrap()
        .request_log;
    // A: 3 too old, then 2 beyond the cap of 4; B: 1 too old.
    assert_eq!(deleted, 6);
    let a_left: Vec<String> = list(app, &a.id, Default::default())
        .await
        .entries
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert_eq!(a_left, ["new 5", "new 4", "new 3", "new 2"]);
    let b_left = list(app, &b.id, Default::default()).await.entries;
    assert_eq!(b_left.len(), 1);
    assert_eq!(b_left[0].summary, "new");
}
