//! `WatchRoleChanges`: role changes in commit order from a cursor. Each
//! stream is a task that reads the log in batches and sleeps until this
//! process commits a write or the poll interval passes (writes of other
//! replicas are seen at the next poll). Streams end when the server stops.

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
use crate::store::Store;

/// How often a stream looks for other replicas' writes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
const BATCH: u32 = 500;

/// The response stream of `WatchRoleChanges`.
pub type RoleChangeStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchRoleChangesResponse, Status>> + Send>>;

/// Streams role changes after `after_seq` until the client goes away or
/// `stopping` turns true.
pub fn watch(
    store: Arc<dyn Store>,
    after_seq: i64,
    tenant: Option<TenantId>,
    mut stopping: watch::Receiver<bool>,
) -> RoleChangeStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut signal = store.change_signal();
        let mut cursor = after_seq;
        loop {
            signal.borrow_and_update();
            match store
                .role_changes_after(cursor, tenant.as_ref(), BATCH)
                .await
            {
                Ok(rows) if !rows.is_empty() => {
                    cursor = rows.last().map_or(cursor, |r| r.seq);
                    let changes = rows.into_iter().map(convert::role_change).collect();
                    let response = pb::WatchRoleChangesResponse { changes };
                    if tx.send(Ok(response)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Ok(_) => {}
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
