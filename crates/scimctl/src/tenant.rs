//! `scimctl tenant`: create, list and show tenants.

use std::io::Write;

use proto::identity::v1 as pb;
use serde::Serialize;

use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client, TenantCommand};

/// A tenant as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantView {
    id: String,
    display_name: String,
    created: Option<String>,
}

/// `tenant list --json`.
#[derive(Debug, Serialize)]
struct TenantList {
    tenants: Vec<TenantView>,
}

impl From<pb::Tenant> for TenantView {
    fn from(tenant: pb::Tenant) -> Self {
        let pb::Tenant {
            id,
            display_name,
            created,
        } = tenant;
        Self {
            id,
            display_name,
            created: output::rfc3339(created.as_ref()),
        }
    }
}

/// Runs one `tenant` subcommand.
pub async fn run(
    mut client: Client,
    command: TenantCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        TenantCommand::Create { id, name } => {
            let request = pb::CreateTenantRequest {
                id,
                display_name: name.unwrap_or_default(),
            };
            let response = client.create_tenant(request).await?.into_inner();
            one(response.tenant, format, out)
        }
        TenantCommand::Get { id } => {
            let response = client.get_tenant(pb::GetTenantRequest { id }).await?;
            one(response.into_inner().tenant, format, out)
        }
        TenantCommand::Limits {
            tenant,
            rate,
            burst,
        } => crate::limits::run(client, tenant, rate, burst, format, out).await,
        TenantCommand::Profile { tenant, set } => {
            crate::profile::run(client, tenant, set, format, out).await
        }
        TenantCommand::Adoption { tenant, set } => {
            crate::profile::adoption(client, tenant, set, format, out).await
        }
        TenantCommand::List => {
            let response = client.list_tenants(pb::ListTenantsRequest {}).await?;
            let tenants = response.into_inner().tenants;
            match format {
                Format::Json => {
                    let tenants = tenants.into_iter().map(TenantView::from).collect();
                    output::json(out, &TenantList { tenants })
                }
                Format::Human => table(&tenants, out),
            }
        }
    }
}

fn one(tenant: Option<pb::Tenant>, format: Format, out: &mut impl Write) -> Result<(), CliError> {
    let tenant = tenant.ok_or(CliError::Missing("tenant"))?;
    match format {
        Format::Json => output::json(out, &TenantView::from(tenant)),
        Format::Human => table(std::slice::from_ref(&tenant), out),
    }
}

fn table(tenants: &[pb::Tenant], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["ID", "NAME", "CREATED"]);
    for t in tenants {
        table.row(vec![
            t.id.clone(),
            t.display_name.clone(),
            output::short(t.created.as_ref()),
        ]);
    }
    Ok(table.write(out)?)
}
