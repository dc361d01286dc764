//! identity and policy over mutual TLS: every real path (SCIM through the
//! gateway, policy following identity, the console, scimctl) works with
//! the services' certificates, and callers without the right certificate
//! are refused without changing anything.

use std::time::Duration;

use ::scimctl::{Cli, Parser as _};
use e2e::{Backend, Options, TestApp};
use proto::identity::v1 as id;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use proto::policy::v1 as pol;
use proto::policy::v1::policy_service_client::PolicyServiceClient;
use reqwest::StatusCode;
use serde_json::json;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

async fn spawn(backend: Backend) -> TestApp {
    e2e::spawn_app_with(
        backend,
        Options {
            mtls: true,
            ..Options::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_works_over_mutual_tls_on_postgres() {
    every_path_works(&spawn(Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_works_over_mutual_tls_on_sqlite() {
    every_path_works(&spawn(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_the_right_certificate_are_refused() {
    refusals(&spawn(Backend::Postgres).await).await;
}

async fn channel(url: &str, tls: &mtls::ClientTls) -> Result<Channel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(5));
    tls.connect(endpoint).await
}

async fn scimctl(app: &TestApp, args: &[&str]) -> Result<String, ::scimctl::CliError> {
    let pki = app.pki.as_ref().unwrap();
    let (ca, cert, key) = (
        pki.operator.ca.display().to_string(),
        pki.operator.cert.display().to_string(),
        pki.operator.key.display().to_string(),
    );
    let mut argv = vec![
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--policy-url",
        &app.policy_url,
        "--ca",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
    ];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    ::scimctl::run(Cli::try_parse_from(argv).unwrap(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

async fn every_path_works(app: &TestApp) {
    // SCIM: the gateway authenticates the token and writes through identity.
    let t = app.tenant("mtls").await;
    let id = t
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@contoso.com",
            "active": true,
        }))
        .await;
    assert_eq!(t.get(&format!("/Users/{id}")).await.status, StatusCode::OK);
    let patched = t
        .patch(
            &format!("/Users/{id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            }),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);

    // policy follows identity over its own certificate: the deactivation
    // arrives as Disabled.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let role = app
            .policy
            .clone()
            .get_effective_role(pol::GetEffectiveRoleRequest {
                tenant_id: t.id.clone(),
                user_id: id.clone(),
            })
            .await
            .ok()
            .and_then(|r| r.into_inner().role)
            .map(|r| r.role);
        if role.as_deref() == Some("Disabled") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {role:?} after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The console redeems a link and renders pages from identity and policy.
    let console = app.spawn_console().await;
    let code = app.console_code(&t.id, 0).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = app.console_sign_in(&console, &code).await;
    for page in ["/setup", "/roles", "/users"] {
        let r = http
            .get(format!("{console}{page}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{page}");
    }

    // scimctl with the operator's certificate reaches both services.
    let tenants = scimctl(app, &["tenant", "list"]).await.unwrap();
    assert!(tenants.contains(&t.id), "{tenants}");
    let roles = scimctl(app, &["role", "list", &t.id]).await.unwrap();
    assert!(roles.contains("Disabled"), "{roles}");
    // Without certificates it does not get in.
    let argv = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "tenant",
        "list",
    ];
    let mut out = Vec::new();
    assert!(
        ::scimctl::run(Cli::try_parse_from(argv).unwrap(), &mut out)
            .await
            .is_err()
    );
}

async fn token_count(app: &TestApp, tenant: &str) -> usize {
    app.identity
        .clone()
        .list_tokens(id::ListTokensRequest {
            tenant_id: tenant.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .len()
}

fn issue(tenant: &str) -> id::IssueTokenRequest {
    id::IssueTokenRequest {
        tenant_id: tenant.to_owned(),
        description: "stolen".into(),
        ttl_seconds: 0,
        secret: String::new(),
    }
}

async fn refusals(app: &TestApp) {
    let pki = app.pki.as_ref().unwrap();
    let t = app.tenant("guarded").await;
    let tokens = token_count(app, &t.id).await;

    // No certificate: the handshake completes, every call but health is
    // UNAUTHENTICATED.
    let anonymous = mtls::ClientTls::anonymous(&pki.ca.ca_file()).unwrap();
    let ch = channel(&app.identity_url, &anonymous).await.unwrap();
    let status = IdentityServiceClient::new(ch.clone())
        .issue_token(issue(&t.id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = IdentityServiceClient::new(ch.clone())
        .list_users(id::ListUsersRequest {
            tenant_id: t.id.clone(),
            count: 10,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let health = tonic_health::pb::health_client::HealthClient::new(ch)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // A certificate of another CA, even with a trusted name: no connection.
    let rogue_ca = mtls::testing::TestCa::new("rogue");
    let rogue_files = rogue_ca.issue("operator", &["operator"]);
    let rogue = mtls::ClientTls::load_once(&mtls::TlsFiles {
        ca: pki.ca.ca_file(),
        ..rogue_files
    })
    .unwrap();
    let refused = match channel(&app.identity_url, &rogue).await {
        Err(_) => true,
        Ok(ch) => IdentityServiceClient::new(ch)
            .issue_token(issue(&t.id))
            .await
            .is_err(),
    };
    assert!(refused, "a certificate of another CA was accepted");

    // Plain gRPC to a TLS port gets nowhere.
    let plain = Endpoint::from_shared(app.identity_url.replace("https://", "http://"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(ch) = plain {
        assert!(
            IdentityServiceClient::new(ch)
                .issue_token(issue(&t.id))
                .await
                .is_err()
        );
    }

    // The gateway's certificate: its own calls, nothing else.
    let gateway = pki.client(&pki.gateway);
    let ch = channel(&app.identity_url, &gateway).await.unwrap();
    let status = IdentityServiceClient::new(ch.clone())
        .issue_token(issue(&t.id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = IdentityServiceClient::new(ch.clone())
        .issue_console_link(id::IssueConsoleLinkRequest {
            tenant_id: t.id.clone(),
            ttl_seconds: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    IdentityServiceClient::new(ch)
        .list_users(id::ListUsersRequest {
            tenant_id: t.id.clone(),
            count: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let ch = channel(&app.policy_url, &gateway).await.unwrap();
    let status = PolicyServiceClient::new(ch)
        .set_alert_settings(pol::SetAlertSettingsRequest {
            tenant_id: t.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // The asset service records equipment, and may not reconcile.
    let asset_files = pki.ca.issue("asset", &["asset-service"]);
    let asset = mtls::ClientTls::load_once(&asset_files).unwrap();
    let ch = channel(&app.policy_url, &asset).await.unwrap();
    let status = PolicyServiceClient::new(ch.clone())
        .reconcile(pol::ReconcileRequest {
            tenant_id: t.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = PolicyServiceClient::new(ch)
        .list_holdings(pol::ListHoldingsRequest {
            tenant_id: t.id.clone(),
            ..Default::default()
        })
        .await;
    assert!(
        !matches!(&status, Err(s) if s.code() == Code::PermissionDenied),
        "{status:?}"
    );

    // Accounts from before SCIM: the product imports them, the gateway may
    // not; the adoption policy is the operators'.
    let import = || id::ImportAccountsRequest {
        tenant_id: t.id.clone(),
        accounts: vec![id::ImportedAccount {
            user_name: format!("pre-{}@x.com", uuid::Uuid::new_v4()),
            ..Default::default()
        }],
    };
    let ch = channel(&app.identity_url, &gateway).await.unwrap();
    let status = IdentityServiceClient::new(ch.clone())
        .import_accounts(import())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let product = mtls::ClientTls::load_once(&pki.ca.issue("product", &["product"])).unwrap();
    let ch = channel(&app.identity_url, &product).await.unwrap();
    let ids = IdentityServiceClient::new(ch.clone())
        .import_accounts(import())
        .await
        .unwrap()
        .into_inner()
        .ids;
    assert_eq!(ids.len(), 1);
    let status = IdentityServiceClient::new(ch)
        .set_adoption_policy(id::SetAdoptionPolicyRequest {
            tenant_id: t.id.clone(),
            policy: id::AdoptionPolicy::UserName as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Nothing any refused caller sent changed anything.
    assert_eq!(token_count(app, &t.id).await, tokens);
    let metrics = telemetry::metrics::handle().render();
    for reason in ["unauthenticated", "permission_denied", "handshake"] {
        assert!(
            metrics.contains(&format!(
                "grpc_server_auth_refusals_total{{reason=\"{reason}\"}}"
            )),
            "no {reason} refusal counted"
        );
    }
}
