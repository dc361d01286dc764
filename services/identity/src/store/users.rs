//! User statements of the SQL store. Every write runs in one transaction that
//! also appends its change record to the outbox (`changes`).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use super::adoption;
use super::changes::{self, Change};
use super::filter_sql::{Bind, Dialect, SqlBuf, Table, USERS, compile};
use super::paging::total_in;
use super::scope::Scope;
use super::sql::{SqlStore, unique_violation};
use super::{Created, ListQuery, Page, UserChange, UserRecord};
use crate::domain::{Micros, ResourceId, TenantId, UserColumns, fold_case, now_micros};
use crate::error::IdentityError;
use crate::quota::Counted;

pub(super) const USER_COLUMNS: &str = "u.id, u.tenant_id, u.user_name, u.external_id, u.active, u.version, u.created, u.last_modified, u.resource";

// The statements of the hot paths are named here so that the plan tests
// (`store/plans.rs`) explain the very text the store runs.

/// A live user by id: `$1` tenant, `$2` id.
pub(super) fn get_user_sql() -> String {
    format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2 AND u.deleted IS NULL"
    )
}

/// The restore probe of every create: the newest tombstone or inactive
/// account of the tenant (`$1`) with the externalId (`$2`; `$3` false).
/// Served by `users_external_id_modified` (migration 0012), filter and order.
pub(super) fn restore_probe_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {USER_COLUMNS}, u.deleted FROM users u WHERE u.tenant_id = $1 AND u.external_id = $2 \
         AND (u.deleted IS NOT NULL OR u.active = $3) \
         ORDER BY u.last_modified DESC LIMIT 1{}",
        dialect.for_update()
    )
}

/// A new user's row; its uniqueness checks are the primary key and
/// `users_user_name` (tenant_id, user_name_ci) of live rows.
pub(super) const INSERT_USER: &str = "INSERT INTO users (tenant_id, id, user_name, user_name_ci, external_id, \
     display_name, display_name_ci, active, version, created, last_modified, resource) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// `FROM users u WHERE …` of a list (the tenant, live rows, the filter),
/// with the table the filter resolved against.
pub(super) fn users_condition(
    dialect: Dialect,
    tenant: &TenantId,
    query: &ListQuery,
) -> Result<(Table, SqlBuf), IdentityError> {
    let mut buf = SqlBuf::new(dialect);
    let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
    buf.push(&format!(
        " FROM users u WHERE u.tenant_id = {t} AND u.deleted IS NULL"
    ));
    let table = USERS.with_type(query.rt);
    if let Some(filter) = &query.filter {
        buf.push(" AND ");
        compile(&table, filter, &mut buf)?;
    }
    Ok((table, buf))
}

fn user_from_row(row: &AnyRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        user_name: row.try_get("user_name")?,
        external_id: row.try_get("external_id")?,
        active: flag(row, "active")?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        resource: row.try_get("resource")?,
    })
}

/// A boolean column: Postgres BOOLEAN, SQLite INTEGER 0/1 through `Any`.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

pub(super) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments>,
    binds: &[Bind],
) -> Query<'q, Any, AnyArguments> {
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s.clone()),
            Bind::Int(i) => query.bind(*i),
            Bind::Float(f) => query.bind(*f),
            Bind::Bool(v) => query.bind(*v),
        };
    }
    query
}

/// Writes the user's email rows (`fresh`: a new user, who has none to
/// delete first), all of them in one statement.
async fn replace_emails(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
    cols: &UserColumns,
    fresh: bool,
) -> Result<(), sqlx::Error> {
    if !fresh {
        sqlx::query("DELETE FROM user_emails WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    // 500 rows (2,002 parameters) a statement, far below either backend's cap.
    for chunk in cols.emails.chunks(500) {
        let values = (0..chunk.len())
            .map(|i| {
                let b = 3 + i * 4;
                format!("($1, $2, ${b}, ${}, ${}, ${})", b + 1, b + 2, b + 3)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO user_emails (tenant_id, user_id, value, value_ci, type, is_primary) \
             VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(user_id);
        for email in chunk {
            query = query
                .bind(&email.value)
                .bind(fold_case(&email.value))
                .bind(email.kind.as_deref().map(fold_case))
                .bind(email.primary);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

fn user_changed(kind: &'static str, user: &UserRecord) -> Change {
    Change::UserChanged {
        kind,
        user_id: user.id.clone(),
        active: user.active,
        version: user.version,
    }
}

fn record(
    tenant: &TenantId,
    id: &str,
    cols: &UserColumns,
    version: i64,
    created: Micros,
    now: Micros,
) -> UserRecord {
    UserRecord {
        id: id.to_owned(),
        tenant_id: tenant.as_str().to_owned(),
        user_name: cols.user_name.clone(),
        external_id: cols.external_id.clone(),
        active: cols.active,
        version,
        created,
        last_modified: now,
        resource: cols.resource.clone(),
    }
}

/// Writes `cols` over an existing row (live or tombstone), reviving it.
async fn overwrite(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user: &UserRecord,
    cols: &UserColumns,
) -> Result<(), IdentityError> {
    sqlx::query(
        "UPDATE users SET user_name = $3, user_name_ci = $4, external_id = $5, display_name = $6, \
         display_name_ci = $7, active = $8, version = $9, last_modified = $10, deleted = NULL, \
         resource = $11 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(&user.id)
    .bind(&cols.user_name)
    .bind(fold_case(&cols.user_name))
    .bind(&cols.external_id)
    .bind(&cols.display_name)
    .bind(cols.display_name.as_deref().map(fold_case))
    .bind(cols.active)
    .bind(user.version)
    .bind(user.last_modified)
    .bind(&cols.resource)
    .execute(&mut *conn)
    .await
    .map_err(|e| unique_violation(e, IdentityError::UserNameTaken))?;
    replace_emails(conn, tenant, &user.id, cols, false).await?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn get_user_row(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
    ) -> Result<Option<UserRecord>, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(get_user_sql()))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    pub(super) async fn create_user_tx(
        &self,
        tenant: &TenantId,
        cols: &UserColumns,
    ) -> Result<(UserRecord, Created), IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let now = now_micros();
        // Restore rather than duplicate: an IdP that deleted or deactivated a
        // user and provisions it again sends the same externalId.
        let restorable = match &cols.external_id {
            Some(external_id) => {
                sqlx::query(sqlx::AssertSqlSafe(restore_probe_sql(self.dialect)))
                    .bind(tenant.as_str())
                    .bind(external_id)
                    .bind(false)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let (user, restored) = match restorable {
            Some(row) => {
                let old = user_from_row(&row)?;
                let tombstone: Option<Micros> = row.try_get("deleted")?;
                let user = record(tenant, &old.id, cols, old.version + 1, old.created, now);
                overwrite(&mut tx, tenant, &user, cols).await?;
                // A deleted account comes back as a live user: it counts.
                if tombstone.is_some() {
                    self.check_quota(&mut tx, tenant, Counted::Users).await?;
                }
                let change = user_changed("user.restored", &user);
                changes::record(&mut tx, self.dialect, tenant, &change, now).await?;
                (user, Created::Restored)
            }
            None => {
                // An account from before SCIM the tenant's policy lets this
                // create take over keeps its id.
                let adoption = adoption::adoption_for(&mut tx, tenant, cols).await?;
                let id = match &adoption {
                    Some(a) => a.id.clone(),
                    None => ResourceId::new().as_str().to_owned(),
                };
                let user = record(tenant, &id, cols, 1, now, now);
                sqlx::query(INSERT_USER)
                    .bind(tenant.as_str())
                    .bind(&user.id)
                    .bind(&cols.user_name)
                    .bind(fold_case(&cols.user_name))
                    .bind(&cols.external_id)
                    .bind(&cols.display_name)
                    .bind(cols.display_name.as_deref().map(fold_case))
                    .bind(cols.active)
                    .bind(user.version)
                    .bind(user.created)
                    .bind(user.last_modified)
                    .bind(&cols.resource)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_violation(e, IdentityError::UserNameTaken))?;
                self.check_quota(&mut tx, tenant, Counted::Users).await?;
                replace_emails(&mut tx, tenant, &user.id, cols, true).await?;
                let change = user_changed("user.created", &user);
                changes::record(&mut tx, self.dialect, tenant, &change, now).await?;
                match adoption {
                    Some(a) => {
                        adoption::mark_adopted(&mut tx, tenant, &a, now).await?;
                        (user, Created::Adopted(a.rule))
                    }
                    None => (user, Created::New),
                }
            }
        };
        tx.commit().await?;
        Ok((user, restored))
    }

    async fn lock_live_user(
        &self,
        conn: &mut AnyConnection,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<UserRecord, IdentityError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2 \
             AND u.deleted IS NULL{}",
            self.dialect.for_update()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(conn)
            .await?
            .ok_or(IdentityError::NotFound("user"))?;
        let current = user_from_row(&row)?;
        match if_version {
            Some(v) if v != current.version => Err(IdentityError::VersionMismatch {
                current: current.version,
            }),
            _ => Ok(current),
        }
    }

    pub(super) async fn modify_user_tx(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
        change: UserChange<'_>,
    ) -> Result<UserRecord, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let current = self.lock_live_user(&mut tx, tenant, id, if_version).await?;
        let cols = change(&current)?;
        if cols.resource == current.resource {
            return Ok(current);
        }
        let user = record(
            tenant,
            &current.id,
            &cols,
            current.version + 1,
            current.created,
            now_micros(),
        );
        overwrite(&mut tx, tenant, &user, &cols).await?;
        let change = user_changed("user.updated", &user);
        changes::record(&mut tx, self.dialect, tenant, &change, user.last_modified).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub(super) async fn delete_user_tx(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let current = self.lock_live_user(&mut tx, tenant, id, if_version).await?;
        let now = now_micros();
        let tombstone = UserRecord {
            active: false,
            version: current.version + 1,
            last_modified: now,
            ..current
        };
        sqlx::query(
            "UPDATE users SET deleted = $3, active = $4, version = $5, last_modified = $3 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(now)
        .bind(false)
        .bind(tombstone.version)
        .execute(&mut *tx)
        .await?;
        // A deleted user leaves its groups; the change record says so.
        sqlx::query("DELETE FROM group_members WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let change = Change::UserDeleted {
            user_id: tombstone.id.clone(),
            version: tombstone.version,
        };
        changes::record(&mut tx, self.dialect, tenant, &change, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn list_users_query(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<UserRecord>, IdentityError> {
        let (table, buf) = users_condition(self.dialect, tenant, query)?;
        if let Some(keyset) = &query.keyset {
            return self
                .keyset_page(
                    tenant,
                    &table,
                    USER_COLUMNS,
                    buf,
                    query,
                    keyset,
                    user_from_row,
                )
                .await;
        }
        self.index_page(tenant, &table, USER_COLUMNS, buf, query, user_from_row)
            .await
    }

    /// Runs an offset page query (`sql` with `binds`) and finds the total:
    /// from the page itself when it is the last one (not full), else as
    /// [`total_in`] finds it, in the same transaction. (A `count(*) OVER ()`
    /// in the page query made Postgres read and number every matching row
    /// for every page: 1.5 s a page in a 1M-user tenant. A filter that
    /// matches one user, Entra's lookup, now needs no count at all.)
    pub(super) async fn offset_page(
        &self,
        tenant: &TenantId,
        sql: String,
        binds: &[Bind],
        table: &Table,
        condition: SqlBuf,
        query: &ListQuery,
    ) -> Result<(Vec<AnyRow>, u64), IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds)
            .fetch_all(&mut *tx)
            .await?;
        let n = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let last_page = n < query.limit && (n > 0 || query.offset == 0);
        let total = if last_page {
            query.offset + n
        } else {
            total_in(&mut tx, tenant, table, query, condition).await?
        };
        tx.commit().await?;
        Ok((rows, total))
    }
}
