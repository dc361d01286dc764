//! The database role a service connects as. Row-level security binds only a
//! role that is not a superuser, has no `BYPASSRLS` and cannot act as the
//! tables' owner (an owner can turn the policies off), so a service on
//! Postgres refuses to serve as any other: migrations run as the owner
//! (`identity migrate`, `policy migrate`), the service as a role that owns
//! nothing (docs/sre.md, "Row-level security (Postgres)").

use std::fmt;

use sqlx::{AnyConnection, Row};

/// The setting that lets a service start as a privileged role anyway.
pub const ALLOW_ENV: &str = "DATABASE_ALLOW_PRIVILEGED_ROLE";

/// Why the current role may not serve.
#[derive(Debug)]
pub enum RoleProblem {
    /// The role's attributes could not be read.
    Unchecked(sqlx::Error),
    /// Row-level security does not bind this role.
    Privileged(Privileges),
}

/// What makes a role privileged; at least one of these holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privileges {
    pub role: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    /// Tables of schema `public` the role owns, or whose owner it is a
    /// member of (it may act as that owner), by name.
    pub owned_tables: Vec<String>,
}

impl Privileges {
    fn any(&self) -> bool {
        self.superuser || self.bypass_rls || !self.owned_tables.is_empty()
    }
}

impl fmt::Display for RoleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchecked(e) => write!(f, "cannot read the database role's attributes: {e}"),
            Self::Privileged(p) => {
                let mut what = Vec::new();
                if p.superuser {
                    what.push("is a superuser".to_owned());
                }
                if p.bypass_rls {
                    what.push("has BYPASSRLS".to_owned());
                }
                if !p.owned_tables.is_empty() {
                    const SHOWN: usize = 5;
                    let mut tables = p.owned_tables[..p.owned_tables.len().min(SHOWN)].join(", ");
                    if p.owned_tables.len() > SHOWN {
                        tables.push_str(&format!(" and {} more", p.owned_tables.len() - SHOWN));
                    }
                    what.push(format!(
                        "owns (or may act as the owner of) the tables {tables}"
                    ));
                }
                write!(
                    f,
                    "the database role \"{}\" {}, so row-level security does not bind it. \
                     Connect the service as a role that is neither superuser nor BYPASSRLS and \
                     owns no table, with SELECT, INSERT, UPDATE, DELETE on the tables and USAGE, \
                     SELECT on the sequences, and run `migrate` as the owner (docs/sre.md, \
                     \"Row-level security (Postgres)\"). For local use only, \
                     {ALLOW_ENV}=true starts anyway",
                    p.role,
                    what.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for RoleProblem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unchecked(e) => Some(e),
            Self::Privileged(_) => None,
        }
    }
}

/// The privileges of the role `conn` is connected as (Postgres only).
pub async fn privileges(conn: &mut AnyConnection) -> Result<Privileges, sqlx::Error> {
    let row = sqlx::query(
        "SELECT current_user::text AS role, r.rolsuper AS superuser, \
         r.rolbypassrls AS bypass_rls, \
         (SELECT string_agg(t.tablename::text, ',' ORDER BY t.tablename) \
          FROM pg_tables t WHERE t.schemaname = 'public' \
          AND pg_has_role(current_user, t.tableowner, 'MEMBER')) AS owned \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await?;
    let owned: Option<String> = row.try_get("owned")?;
    Ok(Privileges {
        role: row.try_get("role")?,
        superuser: row.try_get("superuser")?,
        bypass_rls: row.try_get("bypass_rls")?,
        owned_tables: owned
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

/// `Ok` when row-level security binds the role `conn` is connected as
/// (Postgres only): not a superuser, no `BYPASSRLS`, and no table of
/// schema `public` that it owns or whose owner it is a member of.
pub async fn check_unprivileged(conn: &mut AnyConnection) -> Result<(), RoleProblem> {
    let found = privileges(conn).await.map_err(RoleProblem::Unchecked)?;
    if found.any() {
        return Err(RoleProblem::Privileged(found));
    }
    Ok(())
}

/// [`check_unprivileged`], unless `allow` (the service's
/// `DATABASE_ALLOW_PRIVILEGED_ROLE`): then a problem is logged and the
/// service starts anyway.
pub async fn enforce_unprivileged(
    conn: &mut AnyConnection,
    service: &str,
    allow: bool,
) -> Result<(), RoleProblem> {
    match check_unprivileged(conn).await {
        Err(problem) if allow => {
            tracing::warn!(
                service,
                %problem,
                "starting on a privileged database role: {ALLOW_ENV}=true (local use only)"
            );
            Ok(())
        }
        other => other,
    }
}
