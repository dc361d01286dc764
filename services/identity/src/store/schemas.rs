//! Tenants' extension schemas: one row per (tenant, folded URN) holding the
//! normalised RFC 7643 §7 definition.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::TenantSchemaRecord;
use super::scope::Scope;
use super::sql::SqlStore;
use crate::domain::{TenantId, fold_case, now_micros};
use crate::error::IdentityError;

const COLUMNS: &str = "urn, resource_type, definition, updated";

fn from_row(row: &AnyRow) -> Result<TenantSchemaRecord, sqlx::Error> {
    Ok(TenantSchemaRecord {
        urn: row.try_get("urn")?,
        resource_type: row.try_get("resource_type")?,
        definition: row.try_get("definition")?,
        updated: row.try_get("updated")?,
    })
}

impl SqlStore {
    pub(super) async fn put_schema_query(
        &self,
        tenant: &TenantId,
        schema: &TenantSchemaRecord,
    ) -> Result<bool, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let known = sqlx::query("SELECT id FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(IdentityError::NotFound("tenant"));
        }
        let now = now_micros();
        let updated = sqlx::query(
            "UPDATE tenant_schemas SET urn = $3, resource_type = $4, definition = $5, updated = $6 \
             WHERE tenant_id = $1 AND urn_ci = $2",
        )
        .bind(tenant.as_str())
        .bind(fold_case(&schema.urn))
        .bind(&schema.urn)
        .bind(&schema.resource_type)
        .bind(&schema.definition)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let created = updated.rows_affected() == 0;
        if created {
            sqlx::query(
                "INSERT INTO tenant_schemas (tenant_id, urn_ci, urn, resource_type, definition, created, updated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(tenant.as_str())
            .bind(fold_case(&schema.urn))
            .bind(&schema.urn)
            .bind(&schema.resource_type)
            .bind(&schema.definition)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    pub(super) async fn list_schemas_query(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<TenantSchemaRecord>, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM tenant_schemas WHERE tenant_id = $1 ORDER BY created, urn_ci"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    pub(super) async fn delete_schema_query(
        &self,
        tenant: &TenantId,
        urn: &str,
    ) -> Result<(), IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let done = sqlx::query("DELETE FROM tenant_schemas WHERE tenant_id = $1 AND urn_ci = $2")
            .bind(tenant.as_str())
            .bind(fold_case(urn))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(IdentityError::NotFound("schema"));
        }
        Ok(())
    }
}
