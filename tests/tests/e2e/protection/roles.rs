//! The database role identity and policy serve as: started from their
//! configuration on Postgres, each refuses a role that row-level security
//! does not bind (a superuser, a `BYPASSRLS` role, the tables' owner) with
//! an error that names the problem and the fix, starts as a plain role with
//! a service's grants, and starts as a superuser only when
//! `DATABASE_ALLOW_PRIVILEGED_ROLE` says so.

use clap::Parser;
use e2e::{Backend, Database, fresh_database, role_url};
use storekit::roles::{Privileges, RoleProblem};
use tokio::net::TcpListener;

use super::rls::{Role, admin};

#[derive(Parser)]
struct IdentityCli {
    #[command(flatten)]
    config: identity::Config,
}

#[derive(Parser)]
struct PolicyCli {
    #[command(flatten)]
    config: policy::Config,
}

#[derive(Clone, Copy, Debug)]
enum Service {
    Identity,
    Policy,
}

const BOTH: [Service; 2] = [Service::Identity, Service::Policy];

impl Service {
    /// A fresh database, migrated by the superuser (its owner).
    async fn migrated_database(self) -> (String, Database) {
        let (url, db) = fresh_database(Backend::Postgres, "unused.db").await;
        match self {
            Self::Identity => {
                let store = identity::SqlStore::connect(&store_options(&url))
                    .await
                    .unwrap();
                store.migrate().await.unwrap();
            }
            Self::Policy => e2e::migrate_policy_database(&url).await,
        }
        (url, db)
    }

    /// `Application::build` from a configuration, as `serve` does: the
    /// role check's answer.
    async fn start(self, url: &str, migrate: bool, allow: bool) -> Result<(), RoleProblem> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        match self {
            Self::Identity => {
                let mut config = IdentityCli::parse_from(["identity"]).config;
                config.database_url = url.to_owned();
                config.max_connections = 2;
                config.migrate = migrate;
                config.allow_privileged_role = allow;
                config.tls = mtls::TlsSettings::default();
                match identity::Application::build(&config, listener).await {
                    Ok(app) => {
                        assert!(app.store().ping().await);
                        Ok(())
                    }
                    Err(identity::StartupError::Role(problem)) => Err(problem),
                    Err(e) => panic!("identity: {e:?}"),
                }
            }
            Self::Policy => {
                let mut config = PolicyCli::parse_from(["policy"]).config;
                config.database_url = url.to_owned();
                config.max_connections = 2;
                config.migrate = migrate;
                config.allow_privileged_role = allow;
                config.tls = mtls::TlsSettings::default();
                match policy::Application::build(&config, listener).await {
                    Ok(_) => Ok(()),
                    Err(policy::StartupError::Role(problem)) => Err(problem),
                    Err(e) => panic!("policy: {e:?}"),
                }
            }
        }
    }
}

fn store_options(url: &str) -> identity::StoreOptions {
    identity::StoreOptions {
        url: url.to_owned(),
        max_connections: 1,
        ..Default::default()
    }
}

/// The privileges a refusal names; its message names the fix too.
fn refused(service: Service, result: Result<(), RoleProblem>) -> Privileges {
    let problem = match result {
        Err(problem) => problem,
        Ok(()) => panic!("{service:?} started as a privileged role"),
    };
    let message = problem.to_string();
    assert!(
        message.contains("row-level security does not bind it"),
        "{message}"
    );
    assert!(message.contains("migrate` as the owner"), "{message}");
    assert!(
        message.contains("DATABASE_ALLOW_PRIVILEGED_ROLE=true"),
        "{message}"
    );
    match problem {
        RoleProblem::Privileged(p) => p,
        RoleProblem::Unchecked(e) => panic!("{service:?}: the check failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superuser_is_refused() {
    for service in BOTH {
        let (url, _db) = service.migrated_database().await;
        let p = refused(service, service.start(&url, false, false).await);
        assert!(p.superuser, "{service:?}: {p:?}");
        assert_eq!(p.role, "postgres");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bypassrls_role_is_refused() {
    let role = Role::create_with("NOSUPERUSER BYPASSRLS").await;
    for service in BOTH {
        let (url, _db) = service.migrated_database().await;
        let as_role = role_url(&url, &role.0).await;
        let p = refused(service, service.start(&as_role, false, false).await);
        assert!(p.bypass_rls && !p.superuser, "{service:?}: {p:?}");
        assert!(p.owned_tables.is_empty(), "{service:?}: {p:?}");
        assert!(
            format!("{}", RoleProblem::Privileged(p)).contains("has BYPASSRLS"),
            "{service:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tables_owner_is_refused_even_after_migrating_on_start() {
    for service in BOTH {
        // A role that owns the database (so may create in `public`) and
        // migrates it at start: it then owns every table.
        let role = Role::create().await;
        let (url, _db) = fresh_database(Backend::Postgres, "unused.db").await;
        let name = url.rsplit_once('/').unwrap().1;
        admin(&format!(
            "ALTER DATABASE \"{name}\" OWNER TO \"{}\"",
            role.0
        ))
        .await;
        let as_owner = role_url(&url, &role.0).await;
        let p = refused(service, service.start(&as_owner, true, false).await);
        assert!(!p.superuser && !p.bypass_rls, "{service:?}: {p:?}");
        assert!(
            p.owned_tables
                .iter()
                .any(|t| t == "tenants" || t == "roles"),
            "{service:?}: {p:?}"
        );
        // The database goes before the role that owns it.
        drop(_db);
        drop(role);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_role_with_grants_starts() {
    let role = Role::create().await;
    for service in BOTH {
        let (url, _db) = service.migrated_database().await;
        let as_role = role_url(&url, &role.0).await;
        service
            .start(&as_role, false, false)
            .await
            .unwrap_or_else(|p| panic!("{service:?}: {p}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superuser_starts_when_explicitly_allowed() {
    for service in BOTH {
        let (url, _db) = service.migrated_database().await;
        service
            .start(&url, false, true)
            .await
            .unwrap_or_else(|p| panic!("{service:?}: {p}"));
    }
}
