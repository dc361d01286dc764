//! identity's change stream: every write in its tenant's commit order,
//! resumable.

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;
use proto::identity::v1::change::Kind;
use serde_json::json;
use std::time::Duration;
use tokio_stream::StreamExt;

on_both_backends!(
    watch_delivers_every_write_in_order_and_resumes,
    snapshot_pages_users_with_groups
);

async fn next_changes(
    stream: &mut tonic::Streaming<pb::WatchResponse>,
    n: usize,
) -> Vec<pb::Change> {
    let mut out = Vec::new();
    while out.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a change within 10 s")
            .expect("stream open")
            .expect("no error");
        out.extend(batch.changes);
    }
    out
}

async fn watch_delivers_every_write_in_order_and_resumes(app: &TestApp) {
    let t = app.tenant("w").await;
    let mut identity = app.identity.clone();
    let mut stream = identity
        .watch(pb::WatchRequest {
            after_seq: 0,
            tenant_id: t.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let user = t.create_user(json!({"userName": "w@x.com"})).await;
    let group = t
        .post(
            "/Groups",
            json!({"displayName": "G", "members": [{"value": user}]}),
        )
        .await;
    let group = group.body["id"].as_str().unwrap().to_owned();
    t.patch(
        &format!("/Users/{user}"),
        json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await;
    let changes = next_changes(&mut stream, 4).await;
    // The tenant's positions: 1, 2, 3, … without gaps.
    assert!(
        changes.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "dense and increasing: {changes:?}"
    );
    assert_eq!(changes[0].seq, 1);
    assert!(
        matches!(&changes[0].kind, Some(Kind::UserChanged(c)) if c.user_id == user && c.active)
    );
    assert!(matches!(&changes[1].kind, Some(Kind::GroupChanged(c)) if c.group_id == group));
    assert!(
        matches!(&changes[2].kind, Some(Kind::MembersAdded(c)) if c.user_ids == vec![user.clone()])
    );
    assert!(matches!(&changes[3].kind, Some(Kind::UserChanged(c)) if !c.active));
    drop(stream);

    // Resume from the last seq after "a disconnect": only newer changes.
    let last = changes[3].seq;
    t.delete(&format!("/Groups/{group}")).await;
    let mut resumed = identity
        .watch(pb::WatchRequest {
            after_seq: last,
            tenant_id: t.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // A deletion is its members' removal, then the group's (no ids).
    let more = next_changes(&mut resumed, 2).await;
    assert_eq!(more[0].seq, last + 1);
    assert!(
        matches!(&more[0].kind, Some(Kind::MembersRemoved(c)) if c.group_id == group && c.user_ids == vec![user.clone()])
    );
    assert!(
        matches!(&more[1].kind, Some(Kind::GroupDeleted(c)) if c.group_id == group && c.user_ids.is_empty())
    );

    // Another tenant's writes are not in this tenant's stream.
    let other = app.tenant("other").await;
    other.create_user(json!({"userName": "o@x.com"})).await;
    t.create_user(json!({"userName": "w2@x.com"})).await;
    let next = next_changes(&mut resumed, 1).await;
    assert!(next.iter().all(|c| c.tenant_id == t.id));
}

async fn snapshot_pages_users_with_groups(app: &TestApp) {
    let t = app.tenant("s").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            t.create_user(json!({"userName": format!("s{i}@x.com")}))
                .await,
        );
    }
    t.post(
        "/Groups",
        json!({"displayName": "G", "members": [{"value": ids[0]}]}),
    )
    .await;
    t.delete(&format!("/Users/{}", ids[4])).await;
    let mut identity = app.identity.clone();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = identity
            .snapshot(pb::SnapshotRequest {
                tenant_id: t.id.clone(),
                after_user_id: after.clone(),
                page_size: 2,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.as_of_seq > 0);
        seen.extend(page.users);
        if page.next_after_user_id.is_empty() {
            break;
        }
        after = page.next_after_user_id;
    }
    assert_eq!(seen.len(), 5);
    let first = seen.iter().find(|u| u.user_id == ids[0]).unwrap();
    assert_eq!(first.group_ids.len(), 1);
    let gone = seen.iter().find(|u| u.user_id == ids[4]).unwrap();
    assert!(gone.deleted && !gone.active);
}
