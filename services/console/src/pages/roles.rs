//! Role assignments: the groups the identity provider provisioned, each with
//! its role and priority (higher wins), and the default role for users in no
//! mapped group. Every change goes through a preview (policy's dry run: who
//! would change role, from what to what) before it is applied.

use std::collections::HashMap;

use axum::extract::State;
use futures::future::join_all;
use maud::{Markup, html};
use proto::identity::v1 as idpb;
use proto::policy::v1 as pb;
use serde::Deserialize;

use super::{PageForm, PageQuery, plain_id, scim_string, text};
use crate::AppState;
use crate::error::PageError;
use crate::layout::{self, Nav, Notice, Page, plural};
use crate::session::Session;

/// Users named in a preview; the rest are counted.
const PREVIEW_NAMES: usize = 50;
/// Groups listed at once (filter by name for more).
const GROUP_PAGE: u32 = 200;

/// One change of the role table, as a form carries it.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ChangeForm {
    /// `assign`, `remove` or `default`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    priority: String,
}

/// A validated change.
#[derive(Debug, Clone)]
enum Change {
    Assign {
        group_id: String,
        group_name: String,
        role: String,
        priority: i32,
    },
    Remove {
        group_id: String,
        group_name: String,
    },
    Default {
        role: String,
    },
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Self::Assign {
                group_name,
                role,
                priority,
                ..
            } => format!("Map group “{group_name}” to role {role} with priority {priority}"),
            Self::Remove { group_name, .. } => {
                format!("Remove the role assignment of group “{group_name}”")
            }
            Self::Default { role } if role.is_empty() => "Clear the default role".into(),
            Self::Default { role } => format!("Set the default role to {role}"),
        }
    }

    fn dry_run(&self) -> pb::dry_run_request::Change {
        use pb::dry_run_request::Change as C;
        match self {
            Self::Assign {
                group_id,
                role,
                priority,
                ..
            } => C::SetAssignment(pb::Assignment {
                group_id: group_id.clone(),
                role: role.clone(),
                priority: *priority,
            }),
            Self::Remove { group_id, .. } => C::RemoveAssignmentGroupId(group_id.clone()),
            Self::Default { role } => C::SetDefaultRole(role.clone()),
        }
    }

    /// The hidden fields that carry this change from the preview to apply.
    fn hidden(&self) -> Markup {
        let (kind, group, role, priority) = match self {
            Self::Assign {
                group_id,
                role,
                priority,
                ..
            } => (
                "assign",
                group_id.as_str(),
                role.as_str(),
                priority.to_string(),
            ),
            Self::Remove { group_id, .. } => ("remove", group_id.as_str(), "", String::new()),
            Self::Default { role } => ("default", "", role.as_str(), String::new()),
        };
        html! {
            input type="hidden" name="kind" value=(kind);
            input type="hidden" name="group_id" value=(group);
            input type="hidden" name="role" value=(role);
            input type="hidden" name="priority" value=(priority);
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RolesQuery {
    #[serde(default)]
    q: String,
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    PageQuery(query): PageQuery<RolesQuery>,
) -> Result<Page, PageError> {
    let q = text(&query.q, "The search text", 200)?;
    render(&state, &session, &Notice::None, &q).await
}

/// Checks a change against the session's tenant: the group must be one of
/// its groups (a group id of another tenant is not found).
async fn validate(
    state: &AppState,
    session: &Session,
    form: ChangeForm,
) -> Result<Change, PageError> {
    let role = text(&form.role, "The role", 200)?;
    match form.kind.as_str() {
        "default" => Ok(Change::Default { role }),
        "assign" | "remove" => {
            let group_id = plain_id(form.group_id.trim(), "That group")?;
            let group = state
                .identity
                .clone()
                .get_group(idpb::GetGroupRequest {
                    tenant_id: session.tenant.clone(),
                    group_id: group_id.clone(),
                    include_members: false,
                })
                .await?
                .into_inner()
                .group
                .ok_or(PageError::NotFound("That group"))?;
            if form.kind == "remove" {
                return Ok(Change::Remove {
                    group_id,
                    group_name: group.display_name,
                });
            }
            if role.is_empty() {
                return Err(PageError::BadRequest("Choose a role for the group.".into()));
            }
            let priority = form.priority.trim().parse::<i32>().map_err(|_| {
                PageError::BadRequest(format!(
                    "The priority must be a whole number (got “{}”).",
                    form.priority.trim()
                ))
            })?;
            Ok(Change::Assign {
                group_id,
                group_name: group.display_name,
                role,
                priority,
            })
        }
        _ => Err(PageError::BadRequest("Unknown kind of change.".into())),
    }
}

pub async fn preview(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Page, PageError> {
    let change = match validate(&state, &session, form).await {
        Ok(c) => c,
        Err(e) => return render(&state, &session, &Notice::from_result(Err(e))?, "").await,
    };
    let diff = state
        .policy
        .clone()
        .dry_run(pb::DryRunRequest {
            tenant_id: session.tenant.clone(),
            change: Some(change.dry_run()),
        })
        .await;
    let diff = match diff {
        Ok(d) => d.into_inner().changes,
        Err(s) => {
            return render(&state, &session, &Notice::from_result(Err(s.into()))?, "").await;
        }
    };
    let names = user_names(&state, &session, diff.iter().take(PREVIEW_NAMES)).await;
    let body = html! {
        section aria-labelledby="preview-h" {
            h2 #preview-h { (change.describe()) }
            @if diff.is_empty() {
                p #preview-summary { "No user will change role." }
            } @else {
                p #preview-summary { (plural(diff.len(), "user will change role", "users will change role")) ":" }
                ul.diff {
                    @for d in diff.iter().take(PREVIEW_NAMES) {
                        li {
                            strong { (names.get(&d.user_id).cloned().unwrap_or_else(|| d.user_id.clone())) } ": "
                            (role_name(&d.from_role)) " → " (role_name(&d.to_role))
                        }
                    }
                }
                @if diff.len() > PREVIEW_NAMES { p { "… and " (diff.len() - PREVIEW_NAMES) " more." } }
            }
            form.inline method="post" action="/roles/apply" {
                (layout::csrf(&session))
                (change.hidden())
                button.primary type="submit" { "Apply change" }
                a.button href="/roles" { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        &session,
        Nav::Roles,
        "Preview a role change",
        &Notice::None,
        body,
    ))
}

fn role_name(role: &str) -> &str {
    if role.is_empty() { "(no role)" } else { role }
}

/// userNames of the users in `diffs` (ids of users that vanished stay ids).
async fn user_names<'a>(
    state: &AppState,
    session: &Session,
    diffs: impl Iterator<Item = &'a pb::RoleDiff>,
) -> HashMap<String, String> {
    let lookups = diffs.map(|d| {
        let mut identity = state.identity.clone();
        let request = idpb::GetUserRequest {
            tenant_id: session.tenant.clone(),
            user_id: d.user_id.clone(),
        };
        async move {
            let user = identity.get_user(request).await.ok()?.into_inner().user?;
            Some((user.id, user.user_name))
        }
    });
    join_all(lookups).await.into_iter().flatten().collect()
}

pub async fn apply(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Page, PageError> {
    let result = async {
        let change = validate(&state, &session, form).await?;
        let tenant_id = session.tenant.clone();
        let mut policy = state.policy.clone();
        let changed = match &change {
            Change::Assign {
                group_id,
                role,
                priority,
                ..
            } => {
                policy
                    .set_assignment(pb::SetAssignmentRequest {
                        tenant_id,
                        assignment: Some(pb::Assignment {
                            group_id: group_id.clone(),
                            role: role.clone(),
                            priority: *priority,
                        }),
                    })
                    .await?
                    .into_inner()
                    .users_changed
            }
            Change::Remove { group_id, .. } => {
                policy
                    .remove_assignment(pb::RemoveAssignmentRequest {
                        tenant_id,
                        group_id: group_id.clone(),
                    })
                    .await?
                    .into_inner()
                    .users_changed
            }
            Change::Default { role } => {
                policy
                    .set_default_role(pb::SetDefaultRoleRequest {
                        tenant_id,
                        role: role.clone(),
                    })
                    .await?
                    .into_inner()
                    .users_changed
            }
        };
        tracing::info!(tenant = %session.tenant, users_changed = changed, "role table changed in the console");
        Ok(format!(
            "{}: done. {} changed role.",
            change.describe(),
            plural(changed as usize, "user", "users")
        ))
    }
    .await;
    render(&state, &session, &Notice::from_result(result)?, "").await
}

struct Table {
    roles: Vec<pb::Role>,
    default_role: String,
    assignments: Vec<pb::Assignment>,
    groups: Vec<idpb::Group>,
    total_groups: u64,
    names: HashMap<String, String>,
}

async fn load(state: &AppState, session: &Session, q: &str) -> Result<Table, PageError> {
    let tenant_id = session.tenant.clone();
    let mut policy = state.policy.clone();
    let mut policy2 = state.policy.clone();
    let mut policy3 = state.policy.clone();
    let mut identity = state.identity.clone();
    let filter = match q.trim() {
        "" => String::new(),
        q => format!("displayName sw {}", scim_string(q)),
    };
    let (roles, default_role, assignments, groups) = tokio::join!(
        policy.list_roles(pb::ListRolesRequest {
            tenant_id: tenant_id.clone()
        }),
        policy2.get_default_role(pb::GetDefaultRoleRequest {
            tenant_id: tenant_id.clone()
        }),
        policy3.list_assignments(pb::ListAssignmentsRequest {
            tenant_id: tenant_id.clone()
        }),
        identity.list_groups(idpb::ListGroupsRequest {
            tenant_id: tenant_id.clone(),
            filter,
            start_index: 1,
            count: GROUP_PAGE,
            sort_by: "displayName".into(),
            sort_order: idpb::SortOrder::Ascending as i32,
            include_members: false,
            keyset: None,
        }),
    );
    let mut assignments = assignments?.into_inner().assignments;
    assignments.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.group_id.cmp(&b.group_id))
    });
    let groups = groups?.into_inner();
    let mut names: HashMap<String, String> = groups
        .groups
        .iter()
        .map(|g| (g.id.clone(), g.display_name.clone()))
        .collect();
    let missing = assignments
        .iter()
        .filter(|a| !names.contains_key(&a.group_id))
        .map(|a| {
            let mut identity = state.identity.clone();
            let request = idpb::GetGroupRequest {
                tenant_id: tenant_id.clone(),
                group_id: a.group_id.clone(),
                include_members: false,
            };
            async move {
                let g = identity.get_group(request).await.ok()?.into_inner().group?;
                Some((g.id, g.display_name))
            }
        });
    names.extend(join_all(missing).await.into_iter().flatten());
    Ok(Table {
        roles: roles?.into_inner().roles,
        default_role: default_role?.into_inner().role,
        assignments,
        total_groups: groups.total_results,
        groups: groups.groups,
        names,
    })
}

async fn render(
    state: &AppState,
    session: &Session,
    notice: &Notice,
    q: &str,
) -> Result<Page, PageError> {
    let t = load(state, session, q).await?;
    let assignable: Vec<&pb::Role> = t.roles.iter().filter(|r| r.name != "Disabled").collect();
    let mapped: HashMap<&str, &pb::Assignment> = t
        .assignments
        .iter()
        .map(|a| (a.group_id.as_str(), a))
        .collect();
    let body = html! {
        section aria-labelledby="default-h" {
            h2 #default-h { "Default role for SCIM users without groups" }
            p { "Users who are in no group mapped below get this role." }
            form.inline method="post" action="/roles/preview" {
                (layout::csrf(session))
                input type="hidden" name="kind" value="default";
                label for="default-role" { "Default role" }
                select #default-role name="role" {
                    option value="" selected[t.default_role.is_empty()] { "(no default role)" }
                    @for r in &assignable {
                        option value=(r.name) selected[r.name == t.default_role] { (r.name) }
                    }
                }
                button.primary type="submit" { "Preview change" }
            }
        }
        section aria-labelledby="mapped-h" {
            h2 #mapped-h { "Groups mapped to roles" }
            p { "A user in several mapped groups gets the role of the group with the highest priority. Move a group up to let it win." }
            @if t.assignments.is_empty() {
                p { "No group is mapped to a role yet." }
            } @else {
                div.table-wrap {
                    table #mapped {
                        caption.sr-only { "Groups mapped to roles, highest priority first" }
                        thead { tr { th scope="col" { "Group" } th scope="col" { "Role" } th scope="col" { "Priority" } th scope="col" { "Order" } th scope="col" { "Change" } } }
                        tbody {
                            @for (i, a) in t.assignments.iter().enumerate() {
                                @let name = t.names.get(&a.group_id).cloned().unwrap_or_else(|| format!("(deleted group {})", a.group_id));
                                tr {
                                    td { (name) }
                                    td { (a.role) }
                                    td { (a.priority) }
                                    td.actions {
                                        @if i > 0 {
                                            (move_form(session, a, t.assignments[i - 1].priority.saturating_add(1), "Move up", &name))
                                        }
                                        @if i + 1 < t.assignments.len() {
                                            (move_form(session, a, t.assignments[i + 1].priority.saturating_sub(1), "Move down", &name))
                                        }
                                    }
                                    td.actions {
                                        (assign_form(session, &a.group_id, &name, &assignable, Some(a)))
                                        form method="post" action="/roles/preview" {
                                            (layout::csrf(session))
                                            input type="hidden" name="kind" value="remove";
                                            input type="hidden" name="group_id" value=(a.group_id);
                                            button.danger type="submit" aria-label={ "Remove the mapping of " (name) } { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="groups-h" {
            h2 #groups-h { "Provisioned groups" }
            form.inline method="get" action="/roles" role="search" {
                label for="group-q" { "Find groups whose name starts with" }
                input #group-q type="search" name="q" value=(q);
                button type="submit" { "Search" }
            }
            p.muted { (plural(t.total_groups as usize, "group", "groups")) @if t.total_groups > u64::from(GROUP_PAGE) { ", the first " (GROUP_PAGE) " shown" } "." }
            div.table-wrap {
                table #groups {
                    caption.sr-only { "Groups provisioned by the identity provider" }
                    thead { tr { th scope="col" { "Group" } th scope="col" { "Role" } th scope="col" { "Map to a role" } } }
                    tbody {
                        @for g in &t.groups {
                            tr {
                                td { (g.display_name) }
                                td { @if let Some(a) = mapped.get(g.id.as_str()) { (a.role) " (priority " (a.priority) ")" } @else { span.muted { "not mapped" } } }
                                td.actions { (assign_form(session, &g.id, &g.display_name, &assignable, mapped.get(g.id.as_str()).copied())) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        session,
        Nav::Roles,
        "Role assignments",
        notice,
        body,
    ))
}

fn move_form(
    session: &Session,
    a: &pb::Assignment,
    priority: i32,
    label: &str,
    name: &str,
) -> Markup {
    html! {
        form method="post" action="/roles/preview" {
            (layout::csrf(session))
            input type="hidden" name="kind" value="assign";
            input type="hidden" name="group_id" value=(a.group_id);
            input type="hidden" name="role" value=(a.role);
            input type="hidden" name="priority" value=(priority);
            button type="submit" aria-label={ (label) ": " (name) } { (label) }
        }
    }
}

fn assign_form(
    session: &Session,
    group_id: &str,
    name: &str,
    roles: &[&pb::Role],
    current: Option<&pb::Assignment>,
) -> Markup {
    let role_id = format!("role-{group_id}");
    let prio_id = format!("prio-{group_id}");
    html! {
        form.assign method="post" action="/roles/preview" {
            (layout::csrf(session))
            input type="hidden" name="kind" value="assign";
            input type="hidden" name="group_id" value=(group_id);
            label.sr-only for=(role_id) { "Role for " (name) }
            select id=(role_id) name="role" {
                @for r in roles {
                    option value=(r.name) selected[current.is_some_and(|a| a.role == r.name)] { (r.name) }
                }
            }
            label.sr-only for=(prio_id) { "Priority for " (name) }
            input id=(prio_id) name="priority" type="number" step="1" value=(current.map_or(0, |a| a.priority)) size="4";
            button type="submit" aria-label={ "Preview mapping " (name) } { "Preview" }
        }
    }
}
