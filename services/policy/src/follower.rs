//! The follower: a background task that reads identity's change stream from
//! the stored cursor and applies each batch in one transaction
//! ([`Store::apply_changes`]). On a stream error or disconnect it reconnects
//! with capped exponential backoff and resumes from the stored cursor, so no
//! change is lost or applied twice, also after a crash.
//!
//! Each batch is applied under a `policy.apply_changes` span that continues
//! the trace of the request that wrote its first traced change (identity
//! stores that request's context with the change), so a SCIM request's
//! trace shows the role recomputation it caused. A batch may mix changes of
//! several requests: the span then links to the other writers' contexts,
//! and each of those traces gets a `policy.change_applied` span of its own
//! that links back to the batch.

use std::sync::Arc;
use std::time::Duration;

use proto::identity::v1 as idpb;
use tokio::sync::watch;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::convert;
use crate::error::PolicyError;
use crate::store::{Applied, Store};

/// The first reconnect delay; it doubles on each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why one subscription ended.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("identity stream failed")]
    Identity(#[from] tonic::Status),
    #[error("applying changes failed")]
    Store(#[from] PolicyError),
}

/// Follows identity until `stop` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    identity: crate::IdentityClient,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let outcome = tokio::select! {
            r = follow(store.as_ref(), identity.clone(), &mut backoff) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match outcome {
            Ok(()) => tracing::debug!("identity stream ended, resubscribing"),
            Err(FollowError::Identity(status)) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "identity stream failed");
            }
            Err(FollowError::Store(e)) => tracing::warn!(error = ?e, "applying changes failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One subscription: from the stored cursor until the stream ends or the
/// cursor moves under it (a reconcile rewound it).
async fn follow(
    store: &dyn Store,
    mut identity: crate::IdentityClient,
    backoff: &mut Duration,
) -> Result<(), FollowError> {
    let mut cursor = store.cursor().await?;
    let mut stream = identity
        .watch(idpb::WatchRequest {
            after_seq: cursor,
            tenant_id: String::new(),
        })
        .await?
        .into_inner();
    tracing::info!(cursor, "following identity's change stream");
    while let Some(batch) = stream.message().await? {
        let timings = BatchTimings::of(&batch.changes);
        let trace = BatchTrace::of(&batch.changes);
        let changes: Vec<_> = batch
            .changes
            .into_iter()
            .map(convert::stream_change)
            .collect();
        let applied = store
            .apply_changes(cursor, &changes)
            .instrument(trace.span.clone())
            .await;
        trace.finish(&applied);
        match applied? {
            Applied::Applied {
                cursor: next,
                role_changes,
            } => {
                tracing::debug!(cursor = next, role_changes, "changes applied");
                timings.record(next, changes.len());
                cursor = next;
                *backoff = MIN_BACKOFF;
            }
            Applied::Moved { cursor: stored } => {
                tracing::info!(stored, "cursor moved, resubscribing");
                *backoff = MIN_BACKOFF;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The spans of one batch (see the module documentation).
struct BatchTrace {
    span: tracing::Span,
    /// The writers' contexts other than the batch span's parent.
    others: Vec<opentelemetry::Context>,
}

impl BatchTrace {
    fn of(changes: &[idpb::Change]) -> Self {
        let mut contexts: Vec<(String, opentelemetry::Context)> = Vec::new();
        for c in changes {
            if contexts.iter().any(|(tp, _)| *tp == c.traceparent) {
                continue;
            }
            if let Some(cx) = telemetry::otel::context_from_traceparent(&c.traceparent) {
                contexts.push((c.traceparent.clone(), cx));
            }
        }
        let first_tenant = changes.first().map(|c| c.tenant_id.as_str());
        let tenant = first_tenant.filter(|t| changes.iter().all(|c| c.tenant_id == *t));
        let span = tracing::info_span!(
            "policy.apply_changes",
            changes = changes.len(),
            first_seq = changes.first().map_or(0, |c| c.seq),
            last_seq = changes.last().map_or(0, |c| c.seq),
            tenant_id = tenant,
            role_changes = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let mut contexts = contexts.into_iter().map(|(_, cx)| cx);
        if let Some(parent) = contexts.next() {
            let _ = span.set_parent(parent);
        }
        let others: Vec<_> = contexts.collect();
        for cx in &others {
            use opentelemetry::trace::TraceContextExt;
            span.add_link(cx.span().span_context().clone());
        }
        Self { span, others }
    }

    /// Records the outcome, and marks it in every other writer's trace.
    fn finish(self, applied: &Result<Applied, PolicyError>) {
        use opentelemetry::trace::TraceContextExt;
        match applied {
            Ok(Applied::Applied { role_changes, .. }) => {
                self.span.record("role_changes", role_changes);
            }
            Ok(Applied::Moved { .. }) => {}
            Err(_) => {
                self.span.record("otel.status_code", "ERROR");
            }
        }
        let batch = self.span.context().span().span_context().clone();
        for cx in self.others {
            let marker = tracing::info_span!("policy.change_applied");
            let _ = marker.set_parent(cx);
            marker.add_link(batch.clone());
        }
    }
}

/// Commit times of a batch, for the change-stream metrics:
/// `policy_change_stream_cursor` (last applied seq),
/// `policy_change_stream_lag_seconds` (age of the last applied change when
/// it was applied), `policy_changes_applied_total` and
/// `policy_deprovisioning_latency_seconds` (identity's commit of a
/// deactivation → policy's commit of its role change, i.e. `Disabled`
/// published; every `active: false` user change counts, also an update of a
/// user already inactive).
struct BatchTimings {
    last: Option<std::time::SystemTime>,
    deactivations: Vec<std::time::SystemTime>,
}

impl BatchTimings {
    fn of(changes: &[idpb::Change]) -> Self {
        let time = |c: &idpb::Change| c.at.and_then(|t| std::time::SystemTime::try_from(t).ok());
        let deactivations = changes
            .iter()
            .filter(|c| matches!(&c.kind, Some(idpb::change::Kind::UserChanged(u)) if !u.active))
            .filter_map(time)
            .collect();
        Self {
            last: changes.last().and_then(time),
            deactivations,
        }
    }

    fn record(&self, cursor: i64, applied: usize) {
        let age = |t: &std::time::SystemTime| t.elapsed().map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!("policy_change_stream_cursor").set(cursor as f64);
        metrics::counter!("policy_changes_applied_total").increment(applied as u64);
        if let Some(last) = &self.last {
            metrics::gauge!("policy_change_stream_lag_seconds").set(age(last));
        }
        for t in &self.deactivations {
            metrics::histogram!("policy_deprovisioning_latency_seconds").record(age(t));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Debug, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    fn change(seq: i64, tenant: &str, traceparent: &str) -> idpb::Change {
        idpb::Change {
            seq,
            tenant_id: tenant.into(),
            at: None,
            kind: None,
            traceparent: traceparent.into(),
        }
    }

    const A: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const B: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// The spans a batch of `changes` gives when it is applied.
    fn spans_of(changes: &[idpb::Change]) -> Vec<SpanData> {
        spans_with(
            changes,
            Ok(Applied::Applied {
                cursor: 3,
                role_changes: 1,
            }),
        )
    }

    /// The spans a batch of `changes` gives with `outcome`.
    fn spans_with(
        changes: &[idpb::Change],
        outcome: Result<Applied, PolicyError>,
    ) -> Vec<SpanData> {
        let collect = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(collect.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            BatchTrace::of(changes).finish(&outcome);
        });
        provider.force_flush().unwrap();
        collect.0.lock().unwrap().clone()
    }

    fn ids(traceparent: &str) -> (TraceId, SpanId) {
        let cx = telemetry::otel::context_from_traceparent(traceparent).unwrap();
        let sc = cx.span().span_context().clone();
        (sc.trace_id(), sc.span_id())
    }

    #[test]
    fn a_batch_continues_its_writer_trace() {
        let spans = spans_of(&[change(1, "acme", A), change(2, "acme", A)]);
        assert_eq!(spans.len(), 1, "{spans:#?}");
        let (trace, parent) = ids(A);
        assert_eq!(spans[0].name, "policy.apply_changes");
        assert_eq!(spans[0].span_context.trace_id(), trace);
        assert_eq!(spans[0].parent_span_id, parent);
        assert!(spans[0].links.links.is_empty());
        let tenant = spans[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "tenant_id");
        assert_eq!(
            tenant.map(|kv| kv.value.to_string()).as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn a_batch_of_several_writers_appears_in_each_trace() {
        let spans = spans_of(&[
            change(1, "acme", A),
            change(2, "globex", ""),
            change(3, "acme", B),
        ]);
        let batch = spans
            .iter()
            .find(|s| s.name == "policy.apply_changes")
            .unwrap();
        let (trace_a, parent_a) = ids(A);
        let (trace_b, parent_b) = ids(B);
        assert_eq!(batch.span_context.trace_id(), trace_a);
        assert_eq!(batch.parent_span_id, parent_a);
        // Two tenants: no single tenant attribute.
        assert!(
            !batch
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "tenant_id")
        );
        let linked: Vec<_> = batch
            .links
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(linked, [parent_b]);
        let marker = spans
            .iter()
            .find(|s| s.name == "policy.change_applied")
            .unwrap();
        assert_eq!(marker.span_context.trace_id(), trace_b);
        assert_eq!(marker.parent_span_id, parent_b);
        let back: Vec<_> = marker
            .links
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(back, [batch.span_context.span_id()]);
        assert_eq!(spans.len(), 2, "{spans:#?}");
    }

    #[test]
    fn a_failed_batch_is_an_error_span() {
        let failed = Err(PolicyError::InvalidArgument("broken".into()));
        let spans = spans_with(&[change(1, "acme", A)], failed);
        assert_eq!(spans.len(), 1);
        assert!(
            matches!(spans[0].status, opentelemetry::trace::Status::Error { .. }),
            "{:?}",
            spans[0].status
        );
        let ok = spans_of(&[change(1, "acme", A)]);
        assert!(!matches!(
            ok[0].status,
            opentelemetry::trace::Status::Error { .. }
        ));
    }

    #[test]
    fn untraced_changes_give_a_root_span() {
        let spans = spans_of(&[change(1, "acme", ""), change(2, "acme", "garbage")]);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].parent_span_id, SpanId::INVALID);
    }
}
