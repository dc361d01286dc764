//! `WatchRoleChanges`: role changes in each tenant's commit order from
//! per-tenant cursors. Each stream is a task that reads the heads of the
//! role-change log, serves each tenant behind its head one bounded message
//! in turn, and sleeps until this process commits a write or the poll
//! interval passes (writes of other replicas are seen at the next poll).
//! Streams end when the server stops.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use proto::policy::v1 as pb;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::convert;
use crate::domain::TenantId;
use crate::error::PolicyError;
use crate::store::Store;

/// How often a stream looks for other replicas' writes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
const BATCH: u32 = 500;

/// The response stream of `WatchRoleChanges`.
pub type RoleChangeStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchRoleChangesResponse, Status>> + Send>>;

/// The heads of `tenant`, or of every tenant.
async fn heads(
    store: &dyn Store,
    tenant: Option<&TenantId>,
) -> Result<Vec<(String, i64)>, PolicyError> {
    let mut heads = store.role_heads().await?;
    if let Some(t) = tenant {
        heads.retain(|(id, _)| id == t.as_str());
    }
    Ok(heads)
}

/// Streams role changes of `tenant` (or every tenant) after `cursors` until
/// the client goes away or `stopping` turns true; with `from_now`, tenants
/// without a cursor start at their head of this moment.
pub fn watch(
    store: Arc<dyn Store>,
    tenant: Option<TenantId>,
    mut cursors: HashMap<String, i64>,
    from_now: bool,
    mut stopping: watch::Receiver<bool>,
) -> RoleChangeStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut signal = store.change_signal();
        if from_now {
            match heads(store.as_ref(), tenant.as_ref()).await {
                Ok(heads) => {
                    for (t, seq) in heads {
                        cursors.entry(t).or_insert(seq);
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            }
        }
        loop {
            signal.borrow_and_update();
            match serve_round(store.as_ref(), tenant.as_ref(), &mut cursors, &tx).await {
                Ok(Some(true)) => continue,
                Ok(Some(false)) => {}
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            }
            tokio::select! {
                _ = signal.changed() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = tx.closed() => return,
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// One message to each tenant behind its head: whether any was sent, or
/// `None` when the client is gone.
async fn serve_round(
    store: &dyn Store,
    tenant: Option<&TenantId>,
    cursors: &mut HashMap<String, i64>,
    tx: &mpsc::Sender<Result<pb::WatchRoleChangesResponse, Status>>,
) -> Result<Option<bool>, PolicyError> {
    let mut served = false;
    for (id, head) in heads(store, tenant).await? {
        let cursor = cursors.get(&id).copied().unwrap_or(0);
        if head <= cursor {
            continue;
        }
        let Ok(t) = TenantId::parse(&id) else {
            continue;
        };
        let rows = store.role_changes_after(&t, cursor, BATCH).await?;
        // Positions are dense: a gap after the cursor is pruned history,
        // which the consumer must not skip unknowingly.
        if let Some(first) = rows.first().map(|r| r.seq)
            && first > cursor.saturating_add(1)
        {
            return Err(PolicyError::HistoryPruned {
                tenant: id,
                cursor,
                first,
            });
        }
        let Some(last) = rows.last().map(|r| r.seq) else {
            continue;
        };
        cursors.insert(id, last);
        let changes = rows.into_iter().map(convert::role_change).collect();
        if tx
            .send(Ok(pb::WatchRoleChangesResponse { changes }))
            .await
            .is_err()
        {
            return Ok(None);
        }
        served = true;
    }
    Ok(Some(served))
}
