//! Accounts that exist before SCIM: imported (`imported_accounts`, not
//! SCIM-managed, read by no SCIM query) and taken over by the SCIM create
//! that the tenant's adoption policy matches, which keeps the account's id.
//! Every statement carries the tenant: an import is never adopted from
//! another tenant.

use sqlx::{AnyConnection, Row};

use super::limits::TenantSetting;
use super::scope::Scope;
use super::sql::{SqlStore, unique_violation};
use crate::domain::{ResourceId, TenantId, UserColumns, fold_case, now_micros};
use crate::error::IdentityError;

/// Which imported account a SCIM create takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdoptionPolicy {
    /// None: an imported userName is taken, a create with it is a 409.
    #[default]
    Off,
    ExternalId,
    /// A verified email equal to one of the create's emails.
    VerifiedEmail,
    UserName,
}

impl AdoptionPolicy {
    /// The stored name, which is also the rule the provisioning log names.
    pub fn as_str(self) -> &'static str {
        match self {
            AdoptionPolicy::Off => "off",
            AdoptionPolicy::ExternalId => "externalId",
            AdoptionPolicy::VerifiedEmail => "email",
            AdoptionPolicy::UserName => "userName",
        }
    }

    fn parse(s: &str) -> Self {
        [Self::ExternalId, Self::VerifiedEmail, Self::UserName]
            .into_iter()
            .find(|p| p.as_str() == s)
            .unwrap_or(Self::Off)
    }
}

/// An account as the product knew it before SCIM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportedAccount {
    pub user_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub external_id: Option<String>,
}

/// The imported account a create takes over, and by which rule.
pub(super) struct Adoption {
    pub id: String,
    pub rule: &'static str,
}

/// Within a create's transaction: the account it adopts, if any; a 409
/// when it would take an imported userName it may not adopt.
pub(super) async fn adoption_for(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    cols: &UserColumns,
) -> Result<Option<Adoption>, IdentityError> {
    let policy: String = sqlx::query("SELECT adoption_policy FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("adoption_policy"))
        .transpose()?
        .unwrap_or_default();
    let policy = AdoptionPolicy::parse(&policy);
    let found =
        match policy {
            AdoptionPolicy::Off => None,
            AdoptionPolicy::ExternalId => match &cols.external_id {
                Some(x) => sqlx::query(
                    "SELECT id FROM imported_accounts WHERE tenant_id = $1 AND external_id = $2 \
                     AND adopted IS NULL LIMIT 1",
                )
                .bind(tenant.as_str())
                .bind(x)
                .fetch_optional(&mut *conn)
                .await?,
                None => None,
            },
            AdoptionPolicy::VerifiedEmail => {
                let mut row = None;
                for email in &cols.emails {
                    row = sqlx::query(
                        "SELECT id FROM imported_accounts WHERE tenant_id = $1 AND email_ci = $2 \
                     AND email_verified = $3 AND adopted IS NULL LIMIT 1",
                    )
                    .bind(tenant.as_str())
                    .bind(fold_case(&email.value))
                    .bind(true)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if row.is_some() {
                        break;
                    }
                }
                row
            }
            AdoptionPolicy::UserName => {
                sqlx::query(
                    "SELECT id FROM imported_accounts WHERE tenant_id = $1 AND user_name_ci = $2 \
                 AND adopted IS NULL",
                )
                .bind(tenant.as_str())
                .bind(fold_case(&cols.user_name))
                .fetch_optional(&mut *conn)
                .await?
            }
        };
    if let Some(row) = found {
        return Ok(Some(Adoption {
            id: row.try_get("id")?,
            rule: policy.as_str(),
        }));
    }
    // Not adopted: an imported userName is taken all the same.
    let taken = sqlx::query(
        "SELECT id FROM imported_accounts WHERE tenant_id = $1 AND user_name_ci = $2 \
         AND adopted IS NULL",
    )
    .bind(tenant.as_str())
    .bind(fold_case(&cols.user_name))
    .fetch_optional(&mut *conn)
    .await?;
    match taken {
        Some(_) => Err(IdentityError::UserNameTaken),
        None => Ok(None),
    }
}

/// Marks an imported account adopted (its row stays: when, by which rule).
pub(super) async fn mark_adopted(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    adoption: &Adoption,
    now: i64,
) -> Result<(), IdentityError> {
    sqlx::query(
        "UPDATE imported_accounts SET adopted = $3, adopted_by = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(&adoption.id)
    .bind(now)
    .bind(adoption.rule)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn import_accounts_tx(
        &self,
        tenant: &TenantId,
        accounts: &[ImportedAccount],
    ) -> Result<Vec<String>, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let exists = sqlx::query("SELECT id FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(IdentityError::NotFound("tenant"));
        }
        let now = now_micros();
        let mut ids = Vec::with_capacity(accounts.len());
        for a in accounts {
            let in_use = sqlx::query(
                "SELECT id FROM users WHERE tenant_id = $1 AND user_name_ci = $2 AND deleted IS NULL",
            )
            .bind(tenant.as_str())
            .bind(fold_case(&a.user_name))
            .fetch_optional(&mut *tx)
            .await?;
            if in_use.is_some() {
                return Err(IdentityError::UserNameTaken);
            }
            let id = ResourceId::new().as_str().to_owned();
            sqlx::query(
                "INSERT INTO imported_accounts (tenant_id, id, user_name, user_name_ci, email_ci, \
                 email_verified, external_id, imported) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(tenant.as_str())
            .bind(&id)
            .bind(&a.user_name)
            .bind(fold_case(&a.user_name))
            .bind(a.email.as_deref().map(fold_case))
            .bind(a.email_verified)
            .bind(&a.external_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_violation(e, IdentityError::UserNameTaken))?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub(super) async fn set_adoption_policy_tx(
        &self,
        tenant: &TenantId,
        policy: AdoptionPolicy,
    ) -> Result<(), IdentityError> {
        self.set_tenant_setting(tenant, TenantSetting::AdoptionPolicy, policy.as_str())
            .await
    }

    pub(super) async fn get_adoption_policy_tx(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<AdoptionPolicy>, IdentityError> {
        let name = self
            .tenant_setting(tenant, TenantSetting::AdoptionPolicy)
            .await?;
        Ok(name.map(|s| AdoptionPolicy::parse(&s)))
    }
}
