//! `scimctl tenant limits`: a tenant's rate limits (shared by all its tokens).

use std::io::Write;

use proto::identity::v1 as pb;
use serde::Serialize;

use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client};

/// Limits as printed with `--json`; `null` means the gateway's default.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LimitsView {
    tenant_id: String,
    rate_per_second: Option<u32>,
    burst: Option<u32>,
}

/// Shows the limits, after setting the given ones (the others are kept).
pub async fn run(
    mut client: Client,
    tenant_id: String,
    rate: Option<u32>,
    burst: Option<u32>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let current = client
        .get_tenant_limits(pb::GetTenantLimitsRequest {
            tenant_id: tenant_id.clone(),
        })
        .await?
        .into_inner()
        .limits
        .unwrap_or_default();
    let limits = if rate.is_none() && burst.is_none() {
        current
    } else {
        let wanted = pb::TenantLimits {
            rate_per_second: rate.unwrap_or(current.rate_per_second),
            burst: burst.unwrap_or(current.burst),
        };
        client
            .set_tenant_limits(pb::SetTenantLimitsRequest {
                tenant_id: tenant_id.clone(),
                limits: Some(wanted),
            })
            .await?
            .into_inner()
            .limits
            .ok_or(CliError::Missing("limits"))?
    };
    let pb::TenantLimits {
        rate_per_second,
        burst,
    } = limits;
    let view = LimitsView {
        tenant_id,
        rate_per_second: Some(rate_per_second).filter(|v| *v > 0),
        burst: Some(burst).filter(|v| *v > 0),
    };
    match format {
        Format::Json => output::json(out, &view),
        Format::Human => {
            let shown = |v: Option<u32>| v.map_or_else(|| "default".to_owned(), |v| v.to_string());
            let mut table = Table::new(&["TENANT", "RATE/S", "BURST"]);
            table.row(vec![
                view.tenant_id.clone(),
                shown(view.rate_per_second),
                shown(view.burst),
            ]);
            Ok(table.write(out)?)
        }
    }
}
