//! Each tenant's console session epoch, as identity keeps it
//! (`GetConsoleSessionEpoch`), cached per replica for
//! `CONSOLE_SESSION_CHECK_SECONDS` (default 5) so that a page view does
//! not cost a gRPC call. Every replica reads the same epoch, so "Sign out
//! everywhere" on one replica ends the tenant's sessions on the others
//! within that time, and at once on the replica that did it (which
//! [`Epochs::remember`]s the new epoch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proto::identity::v1 as pb;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::Code;
use tonic::transport::Channel;

/// Tenants remembered at most; past it, stale entries are dropped first.
const MAX_TENANTS: usize = 10_000;

type Client = IdentityServiceClient<telemetry::grpc::Client<Channel>>;

/// The cache; clones share it.
#[derive(Clone)]
pub struct Epochs {
    fresh_for: Duration,
    known: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
}

impl Epochs {
    /// A cache whose entries are trusted for `fresh_for` (zero: never).
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            known: Arc::default(),
        }
    }

    /// The tenant's current epoch; `None` when identity knows no such
    /// tenant (its sessions are then refused).
    pub async fn current(
        &self,
        identity: &mut Client,
        tenant: &str,
    ) -> Result<Option<u64>, tonic::Status> {
        if let Some(epoch) = self.cached(tenant) {
            return Ok(Some(epoch));
        }
        let answer = identity
            .get_console_session_epoch(pb::GetConsoleSessionEpochRequest {
                tenant_id: tenant.to_owned(),
            })
            .await;
        match answer {
            Ok(r) => {
                let epoch = r.into_inner().session_epoch;
                self.remember(tenant, epoch);
                Ok(Some(epoch))
            }
            Err(s) if matches!(s.code(), Code::NotFound | Code::InvalidArgument) => Ok(None),
            Err(s) => Err(s),
        }
    }

    /// Records an epoch this replica has just learnt (a redeemed link, or
    /// the new epoch after ending the tenant's sessions).
    pub fn remember(&self, tenant: &str, epoch: u64) {
        let now = Instant::now();
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= MAX_TENANTS && !known.contains_key(tenant) {
            known.retain(|_, (_, at)| now.duration_since(*at) < self.fresh_for);
            if known.len() >= MAX_TENANTS {
                known.clear();
            }
        }
        known.insert(tenant.to_owned(), (epoch, now));
    }

    fn cached(&self, tenant: &str) -> Option<u64> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known
            .get(tenant)
            .filter(|(_, at)| at.elapsed() < self.fresh_for)
            .map(|(epoch, _)| *epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_epoch_is_trusted_only_while_fresh() {
        let cache = Epochs::new(Duration::from_secs(60));
        cache.remember("acme", 3);
        assert_eq!(cache.cached("acme"), Some(3));
        cache.remember("acme", 4);
        assert_eq!(cache.cached("acme"), Some(4));
        assert_eq!(cache.cached("other"), None);
        let never = Epochs::new(Duration::ZERO);
        never.remember("acme", 3);
        assert_eq!(never.cached("acme"), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = Epochs::new(Duration::ZERO);
        for i in 0..(MAX_TENANTS + 5) {
            cache.remember(&format!("t{i}"), 1);
        }
        let len = cache.known.lock().map(|k| k.len()).unwrap_or(0);
        assert!(len <= MAX_TENANTS, "{len}");
    }
}
