//! `scimctl tenant profile`: the IdP a tenant is provisioned by (`entra`,
//! `okta`, `generic`), which decides the documented deviations from
//! RFC 7643/7644 its requests get.

use std::io::Write;

use proto::identity::v1 as pb;
use serde::Serialize;

use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client};

/// The profile as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProfileView {
    tenant_id: String,
    profile: &'static str,
}

fn name(p: i32) -> &'static str {
    match pb::IdpProfile::try_from(p) {
        Ok(pb::IdpProfile::Okta) => "okta",
        Ok(pb::IdpProfile::Generic) => "generic",
        Ok(pb::IdpProfile::Entra | pb::IdpProfile::Unspecified) | Err(_) => "entra",
    }
}

/// The wire value of a profile name (clap has checked it is one of three).
fn wire(name: &str) -> pb::IdpProfile {
    match name {
        "okta" => pb::IdpProfile::Okta,
        "generic" => pb::IdpProfile::Generic,
        _ => pb::IdpProfile::Entra,
    }
}

/// Shows the tenant's profile, after setting it when `set` is given.
pub async fn run(
    mut client: Client,
    tenant_id: String,
    set: Option<String>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let profile = match set {
        Some(p) => {
            client
                .set_tenant_profile(pb::SetTenantProfileRequest {
                    tenant_id: tenant_id.clone(),
                    profile: wire(&p) as i32,
                })
                .await?
                .into_inner()
                .profile
        }
        None => {
            client
                .get_tenant_profile(pb::GetTenantProfileRequest {
                    tenant_id: tenant_id.clone(),
                })
                .await?
                .into_inner()
                .profile
        }
    };
    let view = ProfileView {
        tenant_id,
        profile: name(profile),
    };
    match format {
        Format::Json => output::json(out, &view),
        Format::Human => {
            let mut table = Table::new(&["TENANT", "PROFILE"]);
            table.row(vec![view.tenant_id.clone(), view.profile.to_owned()]);
            Ok(table.write(out)?)
        }
    }
}
