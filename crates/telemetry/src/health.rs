//! gRPC health that follows the service's dependencies: the status of the
//! server (`""`) and of its service is SERVING while a probe (the database
//! answering `SELECT 1`) succeeds and NOT_SERVING while it fails, so a
//! Kubernetes gRPC probe, the gateway's `/readyz` and `grpcurl` all see a
//! service that cannot reach its database as not ready.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often the probe runs, and how long one may take before it counts as
/// failed.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The last probe outcome of every tracked service of this process.
static READY: Mutex<Option<HashMap<&'static str, bool>>> = Mutex::new(None);

fn set_ready(service: &'static str, ok: bool) {
    let mut ready = READY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ready.get_or_insert_with(HashMap::new).insert(service, ok);
}

/// True when this process tracks at least one service and every one is
/// serving: what `/readyz` of the metrics endpoint answers (for probes that
/// cannot speak gRPC over TLS, such as the kubelet's).
pub fn ready() -> bool {
    let ready = READY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ready
        .as_ref()
        .is_some_and(|r| !r.is_empty() && r.values().all(|ok| *ok))
}

/// Runs `probe` every [`PROBE_EVERY`] forever, setting the health of `""`
/// and `service` from it; logs each transition once and exports
/// `service_ready{service}` (1 or 0).
pub async fn track<F, Fut>(reporter: HealthReporter, service: &'static str, probe: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut last: Option<bool> = None;
    loop {
        let ok = tokio::time::timeout(PROBE_EVERY, probe())
            .await
            .unwrap_or(false);
        if last != Some(ok) {
            let status = if ok {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            reporter.set_service_status(service, status).await;
            metrics::gauge!("service_ready", "service" => service).set(if ok { 1.0 } else { 0.0 });
            set_ready(service, ok);
            match (last, ok) {
                (_, false) => tracing::warn!(service, "database unreachable: not serving"),
                (Some(false), true) => tracing::info!(service, "database reachable again: serving"),
                (_, true) => {}
            }
            last = Some(ok);
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_every_tracked_service_is() {
        assert!(!ready(), "nothing tracked yet");
        set_ready("a", true);
        set_ready("b", false);
        assert!(!ready());
        set_ready("b", true);
        assert!(ready());
    }
}
