//! The provisioning log: the SCIM requests the gateway answered for this
//! tenant, newest first, with their one-line summaries; filtered by user or
//! group (id or name) and by status.

use axum::extract::State;
use maud::html;
use proto::identity::v1 as pb;
use serde::Deserialize;
use tonic::Code;

use super::{PageQuery, text};
use crate::AppState;
use crate::error::PageError;
use crate::layout::{self, Nav, Notice, Page, when};
use crate::session::Session;

const STATUSES: [(&str, &str); 6] = [
    ("", "All statuses"),
    ("error", "Errors (400 and above)"),
    ("2xx", "Successes (2xx)"),
    ("4xx", "Client errors (4xx)"),
    ("429", "Throttled (429)"),
    ("5xx", "Server errors (5xx)"),
];

#[derive(Debug, Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    before: String,
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    PageQuery(query): PageQuery<LogQuery>,
) -> Result<Page, PageError> {
    let resource = text(&query.resource, "The user or group filter", 256)?;
    let resource = resource.as_str();
    if !STATUSES.iter().any(|(v, _)| *v == query.status) {
        return Err(PageError::BadRequest("Unknown status filter.".into()));
    }
    let before_id = match query.before.trim() {
        "" => 0,
        b => b.parse::<i64>().map_err(|_| {
            PageError::BadRequest("The page position in the address is malformed.".into())
        })?,
    };
    let answer = state
        .identity
        .clone()
        .list_request_log(pb::ListRequestLogRequest {
            tenant_id: session.tenant.clone(),
            resource: resource.to_owned(),
            status: if query.status.is_empty() {
                vec![]
            } else {
                vec![query.status.clone()]
            },
            since: None,
            until: None,
            limit: 100,
            before_id,
        })
        .await;
    let log = match answer {
        Ok(r) => Ok(r.into_inner()),
        Err(s) if s.code() == Code::Unimplemented => {
            Err("The provisioning log is not available on this server yet.")
        }
        Err(s) => return Err(s.into()),
    };
    let older = |id: i64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !resource.is_empty() {
            s.append_pair("resource", resource);
        }
        if !query.status.is_empty() {
            s.append_pair("status", &query.status);
        }
        s.append_pair("before", &id.to_string());
        format!("/log?{}", s.finish())
    };
    let body = html! {
        form.inline method="get" action="/log" role="search" {
            label for="log-resource" { "User or group (name or id)" }
            input #log-resource type="search" name="resource" value=(resource) maxlength="256";
            label for="log-status" { "Status" }
            select #log-status name="status" {
                @for (v, label) in STATUSES { option value=(v) selected[v == query.status] { (label) } }
            }
            button type="submit" { "Filter" }
            a.button href="/log" { "Reset" }
        }
        @match &log {
            Err(why) => p.muted { (why) },
            Ok(log) if log.entries.is_empty() => p #log-empty { "No requests match." },
            Ok(log) => {
                div.table-wrap {
                    table #log {
                        caption.sr-only { "Recent SCIM requests, newest first" }
                        thead { tr { th scope="col" { "Time" } th scope="col" { "Request" } th scope="col" { "Status" } th scope="col" { "Resource" } th scope="col" { "Summary" } th scope="col" { "Profile" } th scope="col" { "Client" } } }
                        tbody {
                            @for e in &log.entries {
                                tr {
                                    td { (when(e.time.as_ref())) }
                                    td { code { (e.method) " " (e.path) } }
                                    td { span class={ "badge " (if e.status >= 400 { "off" } else { "on" }) } { (e.status) } @if !e.scim_type.is_empty() { " " (e.scim_type) } }
                                    td { (e.resource_name) }
                                    td { (e.summary) }
                                    td.muted { (e.idp_profile) }
                                    td.muted { (e.client) }
                                }
                            }
                        }
                    }
                }
                @if log.next_before_id > 0 {
                    nav.pager aria-label="Older requests" { a href=(older(log.next_before_id)) rel="next" { "Older requests →" } }
                }
            }
        }
    };
    Ok(layout::page(
        &session,
        Nav::Log,
        "Provisioning log",
        &Notice::None,
        body,
    ))
}
