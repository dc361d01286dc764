//! Sub-accounts: search (userName prefix) and keyset paging, so a page
//! costs the same at user 100,000 as at user 1; each user's role, active
//! state and lock; a user's page with the explanation of the role and its
//! history.

use axum::extract::{Path, State};
use futures::future::join_all;
use maud::{Markup, html};
use proto::identity::v1 as idpb;
use proto::policy::v1 as pb;
use serde::Deserialize;

use super::{PageForm, PageQuery, plain_id, scim_string, text};
use crate::AppState;
use crate::error::PageError;
use crate::layout::{self, Nav, Notice, Page, plural, when};
use crate::session::Session;

const PAGE_SIZE: u32 = 25;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// `<created micros>.<id>` of the last row of the previous page.
    #[serde(default)]
    after: String,
    /// `<created micros>.<id>` of the first row of the next page.
    #[serde(default)]
    before: String,
}

fn parse_key(key: &str) -> Result<Option<idpb::ListKey>, PageError> {
    if key.is_empty() {
        return Ok(None);
    }
    let bad = || PageError::BadRequest("The page position in the address is malformed.".into());
    let (micros, id) = key.split_once('.').ok_or_else(bad)?;
    Ok(Some(idpb::ListKey {
        sort: None,
        created_micros: micros.parse().map_err(|_| bad())?,
        id: plain_id(id, "That user").map_err(|_| bad())?,
    }))
}

fn key_param(key: &idpb::ListKey) -> String {
    format!("{}.{}", key.created_micros, key.id)
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    PageQuery(query): PageQuery<ListQuery>,
) -> Result<Page, PageError> {
    let keyset = match (parse_key(&query.after)?, parse_key(&query.before)?) {
        (Some(after), _) => idpb::Keyset {
            after: Some(after),
            backwards: false,
        },
        (None, Some(before)) => idpb::Keyset {
            after: Some(before),
            backwards: true,
        },
        (None, None) => idpb::Keyset::default(),
    };
    let q = text(&query.q, "The search text", 200)?;
    let q = q.as_str();
    let filter = if q.is_empty() {
        String::new()
    } else {
        format!("userName sw {}", scim_string(q))
    };
    let backwards = keyset.backwards;
    let paged = keyset.after.is_some();
    let page = state
        .identity
        .clone()
        .list_users(idpb::ListUsersRequest {
            tenant_id: session.tenant.clone(),
            filter,
            start_index: 1,
            count: PAGE_SIZE,
            sort_by: String::new(),
            sort_order: 0,
            keyset: Some(keyset),
        })
        .await?
        .into_inner();
    let roles = effective_roles(&state, &session, &page.users).await;
    // Reading forwards, `more` says whether a next page exists; a previous
    // one exists when this page was reached by paging. Backwards, the reverse.
    let (has_prev, has_next) = if backwards {
        (page.more, true)
    } else {
        (paged, page.more)
    };
    let q_param = |k: &str, v: String| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            s.append_pair("q", q);
        }
        s.append_pair(k, &v);
        format!("/users?{}", s.finish())
    };
    let body = html! {
        form.inline method="get" action="/users" role="search" {
            label for="user-q" { "Find users whose userName starts with" }
            input #user-q type="search" name="q" value=(q) maxlength="200";
            button type="submit" { "Search" }
        }
        p.muted #user-total { (plural(page.total_results as usize, "user", "users")) }
        div.table-wrap {
            table #users {
                caption.sr-only { "Sub-accounts" }
                thead { tr { th scope="col" { "userName" } th scope="col" { "Active" } th scope="col" { "Role" } th scope="col" { "Why" } th scope="col" { "Role lock" } } }
                tbody {
                    @for (u, role) in page.users.iter().zip(&roles) {
                        tr {
                            td { a href={ "/users/" (u.id) } { (u.user_name) } }
                            td { @if u.active { span.badge.on { "Active" } } @else { span.badge.off { "Inactive" } } }
                            td { @match role { Some(r) => { (role_label(&r.role)) }, None => span.muted { "—" } } }
                            td.muted { (named(role.as_ref().and_then(|r| r.reason.as_ref()).map_or("", |r| r.summary.as_str()), &u.groups)) }
                            td.actions { @if let Some(r) = role { (lock_form(&session, &u.id, &u.user_name, r.locked)) } }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages of users" {
            @if has_prev { @if let Some(first) = &page.first_key { a href=(q_param("before", key_param(first))) rel="prev" { "← Previous" } } }
            @if has_next { @if let Some(last) = &page.last_key { a href=(q_param("after", key_param(last))) rel="next" { "Next →" } } }
        }
    };
    Ok(layout::page(
        &session,
        Nav::Users,
        "Sub-accounts",
        &Notice::None,
        body,
    ))
}

fn role_label(role: &str) -> &str {
    if role.is_empty() { "(no role)" } else { role }
}

async fn effective_roles(
    state: &AppState,
    session: &Session,
    users: &[idpb::User],
) -> Vec<Option<pb::EffectiveRole>> {
    join_all(users.iter().map(|u| {
        let mut policy = state.policy.clone();
        let request = pb::GetEffectiveRoleRequest {
            tenant_id: session.tenant.clone(),
            user_id: u.id.clone(),
        };
        async move {
            policy
                .get_effective_role(request)
                .await
                .ok()?
                .into_inner()
                .role
        }
    }))
    .await
}

fn lock_form(session: &Session, user_id: &str, name: &str, locked: bool) -> Markup {
    html! {
        @if locked {
            form method="post" action={ "/users/" (user_id) "/unlock" } {
                (layout::csrf(session))
                button type="submit" aria-label={ "Unlock the role of " (name) } { "🔒 Unlock" }
            }
        } @else {
            form method="post" action={ "/users/" (user_id) "/lock" } {
                (layout::csrf(session))
                button type="submit" aria-label={ "Lock the role of " (name) } { "Lock role" }
            }
        }
    }
}

/// The user of the session's tenant (another tenant's id is not found).
async fn user(state: &AppState, session: &Session, id: &str) -> Result<idpb::User, PageError> {
    let id = plain_id(id, "That user")?;
    state
        .identity
        .clone()
        .get_user(idpb::GetUserRequest {
            tenant_id: session.tenant.clone(),
            user_id: id,
        })
        .await?
        .into_inner()
        .user
        .ok_or(PageError::NotFound("That user"))
}

pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Page, PageError> {
    render_detail(&state, &session, &id, &Notice::None).await
}

#[derive(Debug, Deserialize)]
pub struct LockForm {
    #[serde(default)]
    note: String,
}

pub async fn lock(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    PageForm(form): PageForm<LockForm>,
) -> Result<Page, PageError> {
    let result = async {
        let u = user(&state, &session, &id).await?;
        let note = text(&form.note, "The note", 500)?;
        let role = state
            .policy
            .clone()
            .lock_user(pb::LockUserRequest {
                tenant_id: session.tenant.clone(),
                user_id: u.id.clone(),
                note: if note.is_empty() {
                    "locked in the console".into()
                } else {
                    note
                },
            })
            .await?
            .into_inner()
            .role
            .unwrap_or_default();
        Ok(format!(
            "The role of {} is locked at {}.",
            u.user_name,
            role_label(&role.role)
        ))
    }
    .await;
    render_detail(&state, &session, &id, &Notice::from_result(result)?).await
}

pub async fn unlock(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Page, PageError> {
    let result = async {
        let u = user(&state, &session, &id).await?;
        let role = state
            .policy
            .clone()
            .unlock_user(pb::UnlockUserRequest {
                tenant_id: session.tenant.clone(),
                user_id: u.id.clone(),
            })
            .await?
            .into_inner()
            .role
            .unwrap_or_default();
        Ok(format!(
            "The role of {} is unlocked; it is now {}.",
            u.user_name,
            role_label(&role.role)
        ))
    }
    .await;
    render_detail(&state, &session, &id, &Notice::from_result(result)?).await
}

async fn render_detail(
    state: &AppState,
    session: &Session,
    id: &str,
    notice: &Notice,
) -> Result<Page, PageError> {
    let u = user(state, session, id).await?;
    let mut policy = state.policy.clone();
    let mut policy2 = state.policy.clone();
    let (explain, history) = tokio::join!(
        policy.explain(pb::ExplainRequest {
            tenant_id: session.tenant.clone(),
            user_id: u.id.clone(),
        }),
        policy2.list_role_history(pb::ListRoleHistoryRequest {
            tenant_id: session.tenant.clone(),
            user_id: u.id.clone(),
            limit: 50,
        }),
    );
    // A user policy has not seen yet (just provisioned) has no role so far.
    let not_yet = |s: &tonic::Status| s.code() == tonic::Code::NotFound;
    let explain = match explain {
        Ok(e) => e.into_inner(),
        Err(s) if not_yet(&s) => pb::ExplainResponse::default(),
        Err(s) => return Err(s.into()),
    };
    let history = match history {
        Ok(h) => h.into_inner().changes,
        Err(s) if not_yet(&s) => Vec::new(),
        Err(s) => return Err(s.into()),
    };
    let computed = explain.role.is_some();
    let role = explain.role.clone().unwrap_or_default();
    let summary = role
        .reason
        .as_ref()
        .map(|r| r.summary.clone())
        .unwrap_or_default();
    let body = html! {
        p { a href="/users" { "← All sub-accounts" } }
        dl.status {
            dt { "Active" } dd { @if u.active { "yes" } @else { "no" } }
            dt { "Role" } dd #user-role { (role_label(&role.role)) }
            dt { "Why" } dd { (summary) }
            dt { "Role lock" } dd { @if role.locked { "locked" } @else { "not locked" } }
            dt { "Groups" } dd { @if u.groups.is_empty() { "none" } @else { @for (i, g) in u.groups.iter().enumerate() { @if i > 0 { ", " } (g.display_name) } } }
        }
        section aria-labelledby="lock-h" {
            h2 #lock-h { "Role lock" }
            p { "A locked role stays as it is, whatever the identity provider sends." }
            @if role.locked {
                form method="post" action={ "/users/" (u.id) "/unlock" } {
                    (layout::csrf(session))
                    button.primary type="submit" { "Unlock role" }
                }
            } @else {
                form.inline method="post" action={ "/users/" (u.id) "/lock" } {
                    (layout::csrf(session))
                    label for="lock-note" { "Note (why)" }
                    input #lock-note name="note" type="text" maxlength="500";
                    button.primary type="submit" { "Lock role" }
                }
            }
        }
        @if !computed {
            p.notice.error role="status" { "The role of this user is not computed yet: it was provisioned moments ago. Reload the page in a few seconds." }
        }
        section aria-labelledby="explain-h" {
            h2 #explain-h { "How the role is decided" }
            ol.steps {
                @for s in &explain.steps {
                    li class=(if s.applies { "applies" } else { "skipped" }) {
                        strong { (rule_name(s.rule)) } ": " (named(&s.detail, &u.groups))
                        @if s.applies { " " span.badge.on { "decides" } }
                    }
                }
            }
            @if !explain.candidate_assignments.is_empty() {
                p { "Mapped groups of this user, highest priority first: "
                    @for (i, a) in explain.candidate_assignments.iter().enumerate() {
                        @if i > 0 { ", " }
                        (group_name(&u, &a.group_id)) " → " (a.role) " (" (a.priority) ")"
                    }
                }
            }
        }
        section aria-labelledby="history-h" {
            h2 #history-h { "Role history" }
            @if history.is_empty() { p { "No role change recorded." } } @else {
                div.table-wrap {
                    table {
                        caption.sr-only { "Role changes of this user, newest first" }
                        thead { tr { th scope="col" { "When" } th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Why" } } }
                        tbody {
                            @for c in &history {
                                tr {
                                    td { (when(c.at.as_ref())) }
                                    td { (role_label(&c.from_role)) }
                                    td { (role_label(&c.to_role)) }
                                    td { (named(c.reason.as_ref().map_or("", |r| r.summary.as_str()), &u.groups)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = format!("Sub-account {}", u.user_name);
    Ok(layout::page(session, Nav::Users, &title, notice, body))
}

/// Policy's sentences name groups by id: show the user's groups by name.
fn named(text: &str, groups: &[idpb::GroupRef]) -> String {
    groups.iter().fold(text.to_owned(), |t, g| {
        t.replace(
            &format!("group {}", g.id),
            &format!("group “{}”", g.display_name),
        )
    })
}

fn group_name(u: &idpb::User, id: &str) -> String {
    u.groups
        .iter()
        .find(|g| g.id == id)
        .map_or_else(|| id.to_owned(), |g| g.display_name.clone())
}

fn rule_name(rule: i32) -> &'static str {
    match pb::RoleRule::try_from(rule) {
        Ok(pb::RoleRule::Locked) => "Role lock",
        Ok(pb::RoleRule::Inactive) => "Inactive account",
        Ok(pb::RoleRule::Deleted) => "Deleted account",
        Ok(pb::RoleRule::GroupAssignment) => "Group assignment",
        Ok(pb::RoleRule::DefaultRole) => "Default role",
        Ok(pb::RoleRule::NoDefaultRole) => "No default role",
        Ok(pb::RoleRule::Unspecified) | Err(_) => "Rule",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_in_sentences_become_names() {
        let groups = vec![idpb::GroupRef {
            id: "g-1".into(),
            display_name: "Managers".into(),
        }];
        assert_eq!(
            named("assigned through group g-1 (priority 10)", &groups),
            "assigned through group “Managers” (priority 10)"
        );
        assert_eq!(named("group g-2 gives X", &groups), "group g-2 gives X");
    }
}
