//! `scimctl role`, `assignment`, `default-role` and `reconcile`: a tenant's
//! policy.

use std::io::Write;

use proto::policy::v1 as pb;
use serde::Serialize;

use super::Client;
use super::args::{AssignmentCommand, DefaultRoleCommand, RoleCommand, UserArgs};
use super::view::{self, AssignmentView, RoleView};
use crate::CliError;
use crate::output::{self, Format};
use crate::table::Table;

/// `role list --json`.
#[derive(Debug, Serialize)]
struct RoleList {
    roles: Vec<RoleView>,
}

/// `assignment list --json`.
#[derive(Debug, Serialize)]
struct AssignmentList {
    assignments: Vec<AssignmentView>,
}

/// What a change to the policy did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Changed<T: Serialize> {
    #[serde(flatten)]
    what: T,
    users_changed: u32,
}

/// `default-role … --json`: `role` is `null` when none is set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DefaultRoleView {
    tenant_id: String,
    role: Option<String>,
}

pub async fn role(
    mut client: Client,
    command: RoleCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        RoleCommand::Create {
            tenant,
            name,
            description,
        } => {
            let request = pb::CreateRoleRequest {
                tenant_id: tenant,
                name,
                description,
            };
            let role = client.create_role(request).await?.into_inner().role;
            let role = RoleView::from(role.ok_or(CliError::Missing("role"))?);
            match format {
                Format::Json => output::json(out, &role),
                Format::Human => view::roles_table(&[role], out),
            }
        }
        RoleCommand::List { tenant } => {
            let request = pb::ListRolesRequest { tenant_id: tenant };
            let roles = client.list_roles(request).await?.into_inner().roles;
            let roles: Vec<RoleView> = roles.into_iter().map(RoleView::from).collect();
            match format {
                Format::Json => output::json(out, &RoleList { roles }),
                Format::Human => view::roles_table(&roles, out),
            }
        }
        RoleCommand::Delete { tenant, name } => {
            let request = pb::DeleteRoleRequest {
                tenant_id: tenant,
                name: name.clone(),
            };
            client.delete_role(request).await?;
            match format {
                Format::Json => output::json(out, &serde_json::json!({"deleted": name})),
                Format::Human => Ok(writeln!(out, "deleted role {name}")?),
            }
        }
        RoleCommand::Get(UserArgs { tenant, user_id }) => {
            super::users::effective(client, tenant, user_id, format, out).await
        }
    }
}

pub async fn assignment(
    mut client: Client,
    command: AssignmentCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        AssignmentCommand::Set {
            tenant,
            group_id,
            role,
            priority,
        } => {
            let assignment = pb::Assignment {
                group_id,
                role,
                priority,
            };
            let request = pb::SetAssignmentRequest {
                tenant_id: tenant,
                assignment: Some(assignment),
            };
            let response = client.set_assignment(request).await?.into_inner();
            let what = response.assignment.ok_or(CliError::Missing("assignment"))?;
            let changed = Changed {
                what: AssignmentView::from(what),
                users_changed: response.users_changed,
            };
            match format {
                Format::Json => output::json(out, &changed),
                Format::Human => {
                    view::assignments_table(std::slice::from_ref(&changed.what), out)?;
                    users_changed(changed.users_changed, out)
                }
            }
        }
        AssignmentCommand::Remove { tenant, group_id } => {
            let request = pb::RemoveAssignmentRequest {
                tenant_id: tenant,
                group_id: group_id.clone(),
            };
            let response = client.remove_assignment(request).await?.into_inner();
            let changed = Changed {
                what: serde_json::json!({"removed": group_id}),
                users_changed: response.users_changed,
            };
            match format {
                Format::Json => output::json(out, &changed),
                Format::Human => {
                    writeln!(out, "removed the assignment of group {group_id}")?;
                    users_changed(changed.users_changed, out)
                }
            }
        }
        AssignmentCommand::List { tenant } => {
            let request = pb::ListAssignmentsRequest { tenant_id: tenant };
            let list = client.list_assignments(request).await?.into_inner();
            let assignments: Vec<AssignmentView> =
                list.assignments.into_iter().map(Into::into).collect();
            match format {
                Format::Json => output::json(out, &AssignmentList { assignments }),
                Format::Human => view::assignments_table(&assignments, out),
            }
        }
    }
}

pub async fn default_role(
    mut client: Client,
    command: DefaultRoleCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let (tenant_id, role) = match command {
        DefaultRoleCommand::Get { tenant } => {
            let request = pb::GetDefaultRoleRequest {
                tenant_id: tenant.clone(),
            };
            let role = client.get_default_role(request).await?.into_inner().role;
            let shown = DefaultRoleView {
                tenant_id: tenant,
                role: Some(role).filter(|r| !r.is_empty()),
            };
            return match format {
                Format::Json => output::json(out, &shown),
                Format::Human => default_line(shown.role.as_deref(), out),
            };
        }
        DefaultRoleCommand::Set { tenant, role } => (tenant, role),
        DefaultRoleCommand::Clear { tenant } => (tenant, String::new()),
    };
    let request = pb::SetDefaultRoleRequest {
        tenant_id: tenant_id.clone(),
        role: role.clone(),
    };
    let response = client.set_default_role(request).await?.into_inner();
    let changed = Changed {
        what: DefaultRoleView {
            tenant_id,
            role: Some(role).filter(|r| !r.is_empty()),
        },
        users_changed: response.users_changed,
    };
    match format {
        Format::Json => output::json(out, &changed),
        Format::Human => {
            default_line(changed.what.role.as_deref(), out)?;
            users_changed(changed.users_changed, out)
        }
    }
}

pub async fn reconcile(
    mut client: Client,
    tenant: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let request = pb::ReconcileRequest { tenant_id: tenant };
    let r = client.reconcile(request).await?.into_inner();
    match format {
        Format::Json => output::json(
            out,
            &serde_json::json!({"usersChecked": r.users_checked, "usersChanged": r.users_changed}),
        ),
        Format::Human => {
            let mut table = Table::new(&["USERS CHECKED", "USERS CHANGED"]);
            table.row(vec![
                r.users_checked.to_string(),
                r.users_changed.to_string(),
            ]);
            Ok(table.write(out)?)
        }
    }
}

fn default_line(role: Option<&str>, out: &mut impl Write) -> Result<(), CliError> {
    let role = role.map_or_else(|| "none".to_owned(), crate::table::sanitize);
    Ok(writeln!(out, "default role: {role}")?)
}

fn users_changed(n: u32, out: &mut impl Write) -> Result<(), CliError> {
    Ok(writeln!(out, "users changed: {n}")?)
}
