//! `scimctl schema`: a tenant's own extension schemas.

use std::io::{Read, Write};
use std::path::Path;

use proto::identity::v1 as pb;
use serde::Serialize;
use serde_json::Value;

use crate::cli::SchemaCommand;
use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client};

/// A schema as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SchemaView {
    urn: String,
    resource_type: String,
    schema: Value,
    updated: Option<String>,
}

fn view(schema: pb::TenantSchema) -> Result<SchemaView, CliError> {
    let pb::TenantSchema {
        urn,
        resource_type,
        schema_json,
        updated,
    } = schema;
    let schema = serde_json::from_str(&schema_json).map_err(|source| CliError::Document {
        id: urn.clone(),
        source,
    })?;
    Ok(SchemaView {
        urn,
        resource_type,
        schema,
        updated: output::rfc3339(updated.as_ref()),
    })
}

fn read(path: &Path) -> Result<String, CliError> {
    let input = |source| CliError::Input {
        path: path.display().to_string(),
        source,
    };
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(input)?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(input)
}

fn table(views: &[SchemaView], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["URN", "TYPE", "ATTRIBUTES", "UPDATED"]);
    for v in views {
        let attributes = v.schema["attributes"].as_array().map_or(0, Vec::len);
        table.row(vec![
            v.urn.clone(),
            v.resource_type.clone(),
            attributes.to_string(),
            v.updated.clone().unwrap_or_default(),
        ]);
    }
    Ok(table.write(out)?)
}

pub async fn run(
    mut client: Client,
    command: SchemaCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        SchemaCommand::Put {
            tenant,
            file,
            resource_type,
        } => {
            let response = client
                .put_tenant_schema(pb::PutTenantSchemaRequest {
                    tenant_id: tenant,
                    resource_type,
                    schema_json: read(&file)?,
                })
                .await?
                .into_inner();
            let schema = view(response.schema.ok_or(CliError::Missing("schema"))?)?;
            match format {
                Format::Json => output::json(out, &schema),
                Format::Human => {
                    let verb = if response.created {
                        "registered"
                    } else {
                        "replaced"
                    };
                    writeln!(out, "{verb} {}", schema.urn)?;
                    table(&[schema], out)
                }
            }
        }
        SchemaCommand::List { tenant } => {
            let schemas = client
                .list_tenant_schemas(pb::ListTenantSchemasRequest { tenant_id: tenant })
                .await?
                .into_inner()
                .schemas;
            let views = schemas
                .into_iter()
                .map(view)
                .collect::<Result<Vec<_>, _>>()?;
            match format {
                Format::Json => output::json(out, &views),
                Format::Human => table(&views, out),
            }
        }
        SchemaCommand::Get { tenant, urn } => {
            let found = client
                .list_tenant_schemas(pb::ListTenantSchemasRequest { tenant_id: tenant })
                .await?
                .into_inner()
                .schemas
                .into_iter()
                .find(|s| s.urn.eq_ignore_ascii_case(&urn))
                .ok_or_else(|| tonic::Status::not_found("schema not found"))?;
            let schema = view(found)?;
            match format {
                Format::Json => output::json(out, &schema),
                Format::Human => {
                    let text = serde_json::to_string_pretty(&schema.schema)
                        .map_err(std::io::Error::from)?;
                    Ok(writeln!(out, "{text}")?)
                }
            }
        }
        SchemaCommand::Delete { tenant, urn } => {
            client
                .delete_tenant_schema(pb::DeleteTenantSchemaRequest {
                    tenant_id: tenant,
                    urn: urn.clone(),
                })
                .await?;
            match format {
                Format::Json => output::json(out, &serde_json::json!({"deleted": urn})),
                Format::Human => Ok(writeln!(out, "deleted {urn}")?),
            }
        }
    }
}
