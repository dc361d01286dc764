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
    show(out, format, &view, "PROFILE", &view.tenant_id, view.profile)
}

/// A tenant's setting as one table row, or `view` as JSON.
fn show(
    out: &mut impl Write,
    format: Format,
    view: &impl Serialize,
    column: &str,
    tenant_id: &str,
    value: &str,
) -> Result<(), CliError> {
    match format {
        Format::Json => output::json(out, view),
        Format::Human => {
            let mut table = Table::new(&["TENANT", column]);
            table.row(vec![tenant_id.to_owned(), value.to_owned()]);
            Ok(table.write(out)?)
        }
    }
}

/// The adoption policy as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AdoptionView {
    tenant_id: String,
    adoption: &'static str,
}

fn policy_name(p: i32) -> &'static str {
    match pb::AdoptionPolicy::try_from(p) {
        Ok(pb::AdoptionPolicy::ExternalId) => "externalId",
        Ok(pb::AdoptionPolicy::VerifiedEmail) => "email",
        Ok(pb::AdoptionPolicy::UserName) => "userName",
        Ok(pb::AdoptionPolicy::Off | pb::AdoptionPolicy::Unspecified) | Err(_) => "off",
    }
}

fn policy_wire(name: &str) -> pb::AdoptionPolicy {
    match name {
        "externalId" => pb::AdoptionPolicy::ExternalId,
        "email" => pb::AdoptionPolicy::VerifiedEmail,
        "userName" => pb::AdoptionPolicy::UserName,
        _ => pb::AdoptionPolicy::Off,
    }
}

/// `scimctl tenant adoption`: shows the tenant's adoption policy, after
/// setting it when `set` is given.
pub async fn adoption(
    mut client: Client,
    tenant_id: String,
    set: Option<String>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let policy = match set {
        Some(p) => {
            client
                .set_adoption_policy(pb::SetAdoptionPolicyRequest {
                    tenant_id: tenant_id.clone(),
                    policy: policy_wire(&p) as i32,
                })
                .await?
                .into_inner()
                .policy
        }
        None => {
            client
                .get_adoption_policy(pb::GetAdoptionPolicyRequest {
                    tenant_id: tenant_id.clone(),
                })
                .await?
                .into_inner()
                .policy
        }
    };
    let view = AdoptionView {
        tenant_id,
        adoption: policy_name(policy),
    };
    show(
        out,
        format,
        &view,
        "ADOPTION",
        &view.tenant_id,
        view.adoption,
    )
}
