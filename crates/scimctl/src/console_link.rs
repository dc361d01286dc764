//! `scimctl console-link TENANT`: a single-use link into the tenant
//! administrator's console. The code in it is printed once; identity keeps
//! only its hash. `scimctl console-logout TENANT`: ends every console
//! session of the tenant.

use std::io::Write;

use proto::identity::v1 as pb;
use serde::Serialize;

use crate::output::{self, Format};
use crate::{CliError, Client};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Link {
    tenant_id: String,
    url: String,
    code: String,
    expires: Option<String>,
}

pub async fn run(
    mut client: Client,
    tenant: String,
    ttl_seconds: u64,
    console_url: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let issued = client
        .issue_console_link(pb::IssueConsoleLinkRequest {
            tenant_id: tenant.clone(),
            ttl_seconds,
        })
        .await?
        .into_inner();
    let link = Link {
        url: format!(
            "{}/login?code={}",
            console_url.trim_end_matches('/'),
            issued.code
        ),
        tenant_id: tenant,
        code: issued.code,
        expires: output::rfc3339(issued.expires.as_ref()),
    };
    match format {
        Format::Json => output::json(out, &link),
        Format::Human => {
            writeln!(out, "{}", link.url)?;
            writeln!(
                out,
                "single use, expires {}",
                link.expires.as_deref().unwrap_or("-")
            )?;
            Ok(())
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ended {
    tenant_id: String,
    session_epoch: u64,
}

/// Advances the tenant's console session epoch: every session cookie
/// issued before is refused from then on.
pub async fn logout(
    mut client: Client,
    tenant: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let ended = client
        .end_console_sessions(pb::EndConsoleSessionsRequest {
            tenant_id: tenant.clone(),
        })
        .await?
        .into_inner();
    let ended = Ended {
        tenant_id: tenant,
        session_epoch: ended.session_epoch,
    };
    match format {
        Format::Json => output::json(out, &ended),
        Format::Human => {
            writeln!(
                out,
                "ended every console session of {} (session epoch {})",
                ended.tenant_id, ended.session_epoch
            )?;
            Ok(())
        }
    }
}
