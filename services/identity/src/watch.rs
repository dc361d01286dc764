//! Reading the change stream: `Watch` (a server stream), `ListStreamHeads`
//! and `ReadChanges` (the pull calls policy's replicas use).
//!
//! Positions are per tenant (see `store/changes.rs`), so a reader of several
//! tenants keeps a cursor per tenant. A `Watch` stream reads the heads,
//! then serves each tenant that has new changes one bounded message in
//! turn before it reads the heads again: a tenant's 150,000-member group
//! deletion is many messages, and another tenant's deactivation is served
//! between two of them. Streams sleep until this process commits a write
//! or the poll interval passes (writes of other replicas are seen at the
//! next poll).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use proto::identity::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::convert;
use crate::domain::TenantId;
use crate::error::IdentityError;
use crate::store::{ChangeRecord, Store};

/// How often a stream looks for other replicas' writes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The most changes in one message.
pub const BATCH: u32 = 500;
/// About the most payload in one message (a membership record of 1,000 ids
/// is about 40 KB), well under the gRPC message limit.
pub const MAX_BYTES: usize = 1 << 20;
/// The longest `ListStreamHeads` wait.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

/// Which tenants a reader covers.
#[derive(Debug, Clone)]
pub enum Tenants {
    One(TenantId),
    /// Tenants of these partitions out of `count` (every tenant when empty).
    Partitions {
        count: u32,
        partitions: Vec<u32>,
    },
}

impl Tenants {
    pub fn from_request(count: u32, partitions: Vec<u32>) -> Result<Self, Status> {
        if !partitions.is_empty() && (count == 0 || partitions.iter().any(|p| *p >= count)) {
            return Err(Status::invalid_argument(
                "partitions must be below partition_count",
            ));
        }
        Ok(Self::Partitions { count, partitions })
    }

    fn covers(&self, tenant: &str) -> bool {
        match self {
            Self::One(t) => t.as_str() == tenant,
            Self::Partitions { partitions, .. } if partitions.is_empty() => true,
            Self::Partitions { count, partitions } => {
                partitions.contains(&storekit::partition_of(tenant, *count))
            }
        }
    }
}

/// Refuses a page of `tenant`'s changes read after `after_seq` that does
/// not start right after it. Positions are dense and commit-ordered, so a
/// gap is never a write in flight: the records between were pruned by
/// retention (or removed by hand), and a reader that went on would skip
/// them silently. `OUT_OF_RANGE` tells it to resynchronise the tenant.
pub fn contiguous(
    tenant: &TenantId,
    after_seq: i64,
    rows: &[ChangeRecord],
) -> Result<(), IdentityError> {
    match rows.first() {
        Some(first) if first.seq > after_seq.saturating_add(1) => {
            Err(IdentityError::ChangesPruned {
                tenant: tenant.as_str().to_owned(),
                cursor: after_seq,
                first: first.seq,
            })
        }
        _ => Ok(()),
    }
}

/// The heads of the tenants `tenants` covers.
pub async fn heads(
    store: &dyn Store,
    tenants: &Tenants,
) -> Result<Vec<(String, i64)>, IdentityError> {
    if let Tenants::One(t) = tenants {
        let (seq, _) = store.snapshot(t, "\u{10ffff}", 1).await?;
        return Ok(if seq > 0 {
            vec![(t.as_str().to_owned(), seq)]
        } else {
            Vec::new()
        });
    }
    let mut heads = store.stream_heads().await?;
    heads.retain(|(t, _)| tenants.covers(t));
    Ok(heads)
}

/// The heads, once they differ from `known` or `wait` has passed.
pub async fn heads_after(
    store: &dyn Store,
    tenants: &Tenants,
    known: &HashMap<String, i64>,
    wait: Duration,
) -> Result<Vec<(String, i64)>, IdentityError> {
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    let mut signal = store.change_signal();
    loop {
        signal.borrow_and_update();
        let heads = heads(store, tenants).await?;
        let moved =
            heads.len() != known.len() || heads.iter().any(|(t, s)| known.get(t) != Some(s));
        if moved || tokio::time::Instant::now() >= deadline {
            return Ok(heads);
        }
        tokio::select! {
            _ = signal.changed() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// A stream of the changes of `tenants` after `cursors`; with `from_now`,
/// tenants without a cursor start at their head of this moment.
pub fn watch(
    store: Arc<dyn Store>,
    tenants: Tenants,
    mut cursors: HashMap<String, i64>,
    from_now: bool,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut signal = store.change_signal();
        if from_now {
            match heads(store.as_ref(), &tenants).await {
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
            match serve_round(store.as_ref(), &tenants, &mut cursors, &tx).await {
                Ok(Round::Served) => continue,
                Ok(Round::Idle) => {}
                Ok(Round::Closed) => return,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            }
            tokio::select! {
                _ = signal.changed() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = tx.closed() => return,
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

enum Round {
    Served,
    Idle,
    Closed,
}

/// One message to each tenant behind its head.
async fn serve_round(
    store: &dyn Store,
    tenants: &Tenants,
    cursors: &mut HashMap<String, i64>,
    tx: &mpsc::Sender<Result<pb::WatchResponse, Status>>,
) -> Result<Round, IdentityError> {
    let mut served = false;
    for (tenant, head) in heads(store, tenants).await? {
        let cursor = cursors.get(&tenant).copied().unwrap_or(0);
        if head <= cursor {
            continue;
        }
        let Ok(id) = TenantId::parse(&tenant) else {
            continue;
        };
        let rows = store.changes_after(&id, cursor, BATCH, MAX_BYTES).await?;
        contiguous(&id, cursor, &rows)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            continue;
        };
        cursors.insert(tenant, last);
        let changes = rows.into_iter().map(convert::change).collect();
        if tx.send(Ok(pb::WatchResponse { changes })).await.is_err() {
            return Ok(Round::Closed);
        }
        served = true;
    }
    Ok(if served { Round::Served } else { Round::Idle })
}
