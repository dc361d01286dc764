//! The provisioning log's RPCs: `RecordRequests`, `ListRequestLog` and
//! `GetTenantHealth` (rules in [`crate::request_log`]).

use std::collections::BTreeMap;

use proto::identity::v1 as pb;
use tonic::Status;
use tracing::instrument;

use super::{IdentityApi, tenant};
use crate::convert;
use crate::domain::{TenantId, now_micros};
use crate::error::IdentityError;
use crate::request_log;
use crate::store::{RequestLogQuery, RequestLogRecord};

impl IdentityApi {
    /// NotFound unless the tenant exists.
    async fn known_tenant(&self, tenant: &TenantId) -> Result<(), Status> {
        match self.store.get_tenant(tenant).await? {
            Some(_) => Ok(()),
            None => Err(IdentityError::NotFound("tenant").into()),
        }
    }

    /// `RecordRequests`: every entry checked before anything is written;
    /// refused entries are counted and the others recorded.
    #[instrument(skip_all, fields(entries = request.entries.len()))]
    pub(super) async fn record(
        &self,
        request: pb::RecordRequestsRequest,
    ) -> Result<pb::RecordRequestsResponse, Status> {
        let pb::RecordRequestsRequest { entries } = request;
        if entries.len() > request_log::MAX_RECORD_BATCH {
            return Err(Status::invalid_argument(format!(
                "at most {} entries per call",
                request_log::MAX_RECORD_BATCH
            )));
        }
        // Each entry is checked on its own: one bad entry (or one of a
        // tenant that no longer exists) costs that entry, not the batch of
        // every tenant it came in. One INSERT per tenant.
        let now = now_micros();
        let total = entries.len();
        let mut first_refusal: Option<Status> = None;
        let mut refuse = |why: Status| {
            tracing::warn!(code = ?why.code(), reason = why.message(), "provisioning log entry refused");
            first_refusal.get_or_insert(why);
        };
        let mut by_tenant: BTreeMap<String, (TenantId, Vec<RequestLogRecord>)> = BTreeMap::new();
        for entry in entries {
            match request_log::validate(convert::request_log_record(entry, now)) {
                Ok((tenant, record)) => by_tenant
                    .entry(tenant.as_str().to_owned())
                    .or_insert_with(|| (tenant, Vec::new()))
                    .1
                    .push(record),
                Err(e) => refuse(e.into()),
            }
        }
        let mut known = Vec::with_capacity(by_tenant.len());
        for (tenant, records) in by_tenant.into_values() {
            match self.known_tenant(&tenant).await {
                Ok(()) => known.push((tenant, records)),
                Err(e) if e.code() == tonic::Code::NotFound => {
                    for _ in &records {
                        refuse(e.clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let kept: usize = known.iter().map(|(_, r)| r.len()).sum();
        let refused = total - kept;
        if kept == 0
            && let Some(first) = first_refusal
        {
            return Err(first);
        }
        if refused > 0 {
            metrics::counter!("identity_request_log_refused_total").increment(refused as u64);
        }
        let mut recorded = 0u64;
        for (tenant, records) in &known {
            recorded += self.store.record_requests(tenant, records).await?;
        }
        Ok(pb::RecordRequestsResponse {
            recorded: u32::try_from(recorded).unwrap_or(u32::MAX),
            refused: u32::try_from(refused).unwrap_or(u32::MAX),
        })
    }

    /// `ListRequestLog`.
    #[instrument(skip_all, fields(tenant_id = %request.tenant_id))]
    pub(super) async fn list_log(
        &self,
        request: pb::ListRequestLogRequest,
    ) -> Result<pb::ListRequestLogResponse, Status> {
        let pb::ListRequestLogRequest {
            tenant_id,
            resource,
            status,
            since,
            until,
            limit,
            before_id,
        } = request;
        let tenant = tenant(&tenant_id)?;
        let statuses = status
            .iter()
            .map(|s| request_log::status_range(s))
            .collect::<Result<Vec<_>, _>>()?;
        let since = since.as_ref().map(convert::micros);
        let until = until.as_ref().map(convert::micros);
        if let (Some(s), Some(u)) = (since, until)
            && s >= u
        {
            return Err(Status::invalid_argument("since must be before until"));
        }
        if before_id < 0 {
            return Err(Status::invalid_argument("before_id must not be negative"));
        }
        let limit = match limit {
            0 => request_log::DEFAULT_LIST_LIMIT,
            n => n.min(request_log::MAX_LIST_LIMIT),
        };
        self.known_tenant(&tenant).await?;
        let resource = resource.trim();
        let query = RequestLogQuery {
            resource: (!resource.is_empty()).then(|| resource.to_owned()),
            statuses,
            since,
            until,
            before_id: (before_id > 0).then_some(before_id),
            // One more than asked, to know whether an older page exists.
            limit: limit + 1,
        };
        let mut records = self.store.list_request_log(&tenant, &query).await?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let next_before_id = match records.last() {
            Some(last) if more => last.id,
            _ => 0,
        };
        Ok(pb::ListRequestLogResponse {
            entries: records
                .into_iter()
                .map(convert::request_log_entry)
                .collect(),
            next_before_id,
        })
    }

    /// `GetTenantHealth`.
    #[instrument(skip_all, fields(tenant_id = %request.tenant_id))]
    pub(super) async fn health(
        &self,
        request: pb::GetTenantHealthRequest,
    ) -> Result<pb::GetTenantHealthResponse, Status> {
        let pb::GetTenantHealthRequest {
            tenant_id,
            window_seconds,
        } = request;
        let tenant = tenant(&tenant_id)?;
        let window = match window_seconds {
            0 => request_log::DEFAULT_HEALTH_WINDOW,
            w if w > request_log::MAX_HEALTH_WINDOW => {
                return Err(Status::invalid_argument(format!(
                    "window_seconds may be at most {}",
                    request_log::MAX_HEALTH_WINDOW
                )));
            }
            w => w,
        };
        self.known_tenant(&tenant).await?;
        let window_micros = i64::try_from(window).unwrap_or(i64::MAX) * 1_000_000;
        let counts = self
            .store
            .request_health(&tenant, now_micros() - window_micros)
            .await?;
        let rate = |part: u64| {
            if counts.requests == 0 {
                0.0
            } else {
                part as f64 / counts.requests as f64
            }
        };
        let health = pb::TenantHealth {
            tenant_id: tenant.as_str().to_owned(),
            window_seconds: window,
            requests: counts.requests,
            errors: counts.errors,
            server_errors: counts.server_errors,
            throttled: counts.throttled,
            error_rate: rate(counts.errors),
            last_request: counts.last_request.map(convert::timestamp),
            last_success: counts.last_success.map(convert::timestamp),
            last_test_connection: counts.last_test_connection.map(convert::timestamp),
            last_error: counts.last_error.map(convert::timestamp),
            quarantine_risk: request_log::quarantine_risk(
                counts.requests,
                counts.quarantine_failures,
            )
            .to_owned(),
            summary: request_log::summary(&counts, window),
            quarantine_failures: counts.quarantine_failures,
            quarantine_failure_rate: rate(counts.quarantine_failures),
            top_errors: counts
                .top_errors
                .iter()
                .map(|(status, scim_type, count)| pb::TenantHealthErrorCount {
                    status: u32::from(*status),
                    scim_type: scim_type.clone(),
                    count: *count,
                })
                .collect(),
        };
        Ok(pb::GetTenantHealthResponse {
            health: Some(health),
        })
    }
}
