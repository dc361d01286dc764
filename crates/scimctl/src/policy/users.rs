//! `scimctl role get`/`effective`, `lock`, `unlock`, `users-by-role` and
//! `history`: users' roles.

use std::io::Write;

use proto::policy::v1 as pb;
use serde::Serialize;

use super::Client;
use super::view::{self, ChangeView, EffectiveView};
use crate::CliError;
use crate::output::{self, Format};

/// `users-by-role --json`.
#[derive(Debug, Serialize)]
struct UserList {
    users: Vec<EffectiveView>,
}

/// `history --json`, newest first.
#[derive(Debug, Serialize)]
struct History {
    changes: Vec<ChangeView>,
}

fn one(role: EffectiveView, format: Format, out: &mut impl Write) -> Result<(), CliError> {
    match format {
        Format::Json => output::json(out, &role),
        Format::Human => view::effective_table(&[role], out),
    }
}

pub async fn effective(
    mut client: Client,
    tenant_id: String,
    user_id: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let request = pb::GetEffectiveRoleRequest { tenant_id, user_id };
    let role = client.get_effective_role(request).await?.into_inner().role;
    one(EffectiveView::of(role)?, format, out)
}

/// Locks with `Some(note)`, unlocks with `None`; shows the role after.
pub async fn lock(
    mut client: Client,
    tenant_id: String,
    user_id: String,
    note: Option<String>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let role = match note {
        Some(note) => {
            let request = pb::LockUserRequest {
                tenant_id,
                user_id,
                note,
            };
            client.lock_user(request).await?.into_inner().role
        }
        None => {
            let request = pb::UnlockUserRequest { tenant_id, user_id };
            client.unlock_user(request).await?.into_inner().role
        }
    };
    one(EffectiveView::of(role)?, format, out)
}

/// Every user holding `role`, read page by page.
pub async fn by_role(
    mut client: Client,
    tenant_id: String,
    role: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut users = Vec::new();
    let mut after_user_id = String::new();
    loop {
        let request = pb::ListUsersByRoleRequest {
            tenant_id: tenant_id.clone(),
            role: role.clone(),
            after_user_id,
            page_size: 1000,
        };
        let page = client.list_users_by_role(request).await?.into_inner();
        for user in page.users {
            users.push(EffectiveView::of(Some(user))?);
        }
        if page.next_after_user_id.is_empty() {
            break;
        }
        after_user_id = page.next_after_user_id;
    }
    match format {
        Format::Json => output::json(out, &UserList { users }),
        Format::Human => {
            view::effective_table(&users, out)?;
            Ok(writeln!(out, "total: {}", users.len())?)
        }
    }
}

pub async fn history(
    mut client: Client,
    tenant_id: String,
    user_id: String,
    limit: u32,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let request = pb::ListRoleHistoryRequest {
        tenant_id,
        user_id,
        limit,
    };
    let changes = client
        .list_role_history(request)
        .await?
        .into_inner()
        .changes;
    let changes: Vec<ChangeView> = changes.into_iter().map(ChangeView::from).collect();
    match format {
        Format::Json => output::json(out, &History { changes }),
        Format::Human => view::changes_table(&changes, out),
    }
}
