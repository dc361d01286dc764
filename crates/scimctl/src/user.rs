//! `scimctl user`: list users a page at a time and show one user's SCIM
//! document, read straight from the identity service.

use std::io::Write;

use proto::identity::v1 as pb;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client, UserCommand, UserListArgs};

/// Used when a stored document carries no `schemas` (RFC 7643 §4.1).
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// One row of `user list --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserSummary {
    id: String,
    user_name: String,
    external_id: Option<String>,
    active: bool,
    version: i64,
    created: Option<String>,
    last_modified: Option<String>,
}

/// `user list --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserList {
    total_results: u64,
    start_index: u32,
    users: Vec<UserSummary>,
}

impl From<&pb::User> for UserSummary {
    fn from(user: &pb::User) -> Self {
        Self {
            id: user.id.clone(),
            user_name: user.user_name.clone(),
            external_id: user.external_id.clone(),
            active: user.active,
            version: user.version,
            created: output::rfc3339(user.created.as_ref()),
            last_modified: output::rfc3339(user.last_modified.as_ref()),
        }
    }
}

/// Runs one `user` subcommand.
pub async fn run(
    mut client: Client,
    command: UserCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        UserCommand::List(args) => list(client, args, format, out).await,
        UserCommand::Get { tenant, user_id } => {
            let request = pb::GetUserRequest {
                tenant_id: tenant,
                user_id,
            };
            let user = client.get_user(request).await?.into_inner().user;
            let document = document(&user.ok_or(CliError::Missing("user"))?)?;
            match format {
                Format::Json => output::json(out, &document),
                Format::Human => {
                    serde_json::to_writer_pretty(&mut *out, &document)
                        .map_err(std::io::Error::from)?;
                    Ok(writeln!(out)?)
                }
            }
        }
    }
}

async fn list(
    mut client: Client,
    args: UserListArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let UserListArgs {
        tenant,
        filter,
        start_index,
        count,
        sort_by,
        descending,
    } = args;
    let sort_order = match (&sort_by, descending) {
        (None, _) => pb::SortOrder::Unspecified,
        (Some(_), false) => pb::SortOrder::Ascending,
        (Some(_), true) => pb::SortOrder::Descending,
    };
    let request = pb::ListUsersRequest {
        tenant_id: tenant,
        filter: filter.unwrap_or_default(),
        start_index,
        count,
        sort_by: sort_by.unwrap_or_default(),
        sort_order: sort_order.into(),
        keyset: None,
    };
    let response = client.list_users(request).await?.into_inner();
    if format == Format::Json {
        let list = UserList {
            total_results: response.total_results,
            start_index: start_index.max(1),
            users: response.users.iter().map(UserSummary::from).collect(),
        };
        return output::json(out, &list);
    }
    let mut table = Table::new(&[
        "ID",
        "USER NAME",
        "EXTERNAL ID",
        "ACTIVE",
        "VERSION",
        "LAST MODIFIED",
    ]);
    for u in &response.users {
        table.row(vec![
            u.id.clone(),
            u.user_name.clone(),
            u.external_id.clone().unwrap_or_default(),
            u.active.to_string(),
            u.version.to_string(),
            output::short(u.last_modified.as_ref()),
        ]);
    }
    table.write(out)?;
    Ok(writeln!(out, "total: {}", response.total_results)?)
}

/// A `groups` entry (RFC 7643 §4.1.2); `$ref` needs the gateway's URL, so it is left out.
fn group(group: &pb::GroupRef) -> Value {
    let pb::GroupRef { id, display_name } = group;
    json!({"value": id, "display": display_name, "type": "direct"})
}

/// The SCIM document as the gateway serves it: `schemas`, `id`, the stored
/// attributes, `groups`, then `meta` (without `location`, which only the gateway knows).
fn document(user: &pb::User) -> Result<Value, CliError> {
    let stored: Map<String, Value> =
        serde_json::from_str(&user.resource_json).map_err(|source| CliError::Document {
            id: user.id.clone(),
            source,
        })?;
    let mut doc = Map::with_capacity(stored.len() + 2);
    let schemas = stored.get("schemas").cloned();
    doc.insert(
        "schemas".into(),
        schemas.unwrap_or_else(|| json!([USER_SCHEMA])),
    );
    doc.insert("id".into(), user.id.clone().into());
    doc.extend(stored.into_iter().filter(|(k, _)| k != "schemas"));
    if !user.groups.is_empty() {
        doc.insert("groups".into(), user.groups.iter().map(group).collect());
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": output::rfc3339(user.created.as_ref()),
            "lastModified": output::rfc3339(user.last_modified.as_ref()),
            "version": format!("W/\"{}\"", user.version),
        }),
    );
    Ok(Value::Object(doc))
}
