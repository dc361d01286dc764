//! JSON log lines that carry the current span's `trace_id` and `span_id`,
//! so a log line leads to its trace (and back).

use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt;
use tracing::Subscriber;
use tracing::dispatcher::WeakDispatch;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Wraps a JSON event format (one object per line) and appends
/// `"trace_id"` and `"span_id"` when the event happens in a traced span.
///
/// The OpenTelemetry context of a span is reached through the subscriber
/// that holds it, which a formatter cannot look up while that subscriber is
/// dispatching the event: hand it over through [`WithTraceIds::slot`] once
/// built.
pub struct WithTraceIds<F> {
    inner: F,
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl<F> WithTraceIds<F> {
    pub fn new(inner: F) -> Self {
        Self {
            inner,
            dispatch: Arc::default(),
        }
    }

    /// Where the built subscriber goes (`slot.set(dispatch.downgrade())`).
    pub fn slot(&self) -> Arc<OnceLock<WeakDispatch>> {
        self.dispatch.clone()
    }

    /// The ids of the event's span, when the OpenTelemetry layer traces it.
    fn ids<S, N>(&self, ctx: &FmtContext<'_, S, N>) -> Option<(String, String)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let span = ctx.lookup_current()?;
        let dispatch = self.dispatch.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
        let otel_span = cx.span();
        let sc = otel_span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let Some((trace_id, span_id)) = self.ids(ctx) else {
            return writer.write_str(&line);
        };
        // The inner format ends each object with `}` and a newline.
        let Some(open) = line.trim_end().strip_suffix('}') else {
            return writer.write_str(&line);
        };
        let sep = if open.ends_with('{') { "" } else { "," };
        writeln!(
            writer,
            "{open}{sep}\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::layer::SubscriberExt;

    use super::WithTraceIds;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_the_ids_of_the_current_span_only() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let format =
            WithTraceIds::new(tracing_subscriber::fmt::format().json().flatten_event(true));
        let slot = format.slot();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
                .with(
                    tracing_subscriber::fmt::layer()
                        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                        .event_format(format)
                        .with_writer(move || writer.clone()),
                ),
        );
        slot.set(dispatch.downgrade()).unwrap();
        let (trace_id, span_id) = tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(user_id = "u1", "outside");
            let span = tracing::info_span!("request", tenant_id = "acme");
            let _entered = span.enter();
            tracing::info!(user_id = "u2", "inside");
            let cx = span.context();
            let sc = cx.span().span_context().clone();
            (sc.trace_id().to_string(), sc.span_id().to_string())
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "outside");
        assert!(lines[0].get("trace_id").is_none(), "{text}");
        assert_eq!(lines[1]["message"], "inside");
        assert_eq!(lines[1]["user_id"], "u2");
        assert_eq!(lines[1]["trace_id"], trace_id.as_str());
        assert_eq!(lines[1]["span_id"], span_id.as_str());
        assert_ne!(trace_id, "00000000000000000000000000000000");
    }
}
