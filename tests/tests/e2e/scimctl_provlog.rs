//! `scimctl log` and `scimctl health` against the real services: SCIM
//! requests through the gateway, then the operator's view of them.

use std::time::Duration;

use ::scimctl::{Cli, CliError, Parser as _};
use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(support_reads_the_log_and_the_health_of_a_tenant);

async fn scimctl(app: &TestApp, args: &[&str]) -> Result<String, CliError> {
    let argv = ["scimctl", "--identity-url", &app.identity_url];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    let outcome = ::scimctl::run(cli, &mut out).await;
    outcome.map(|()| String::from_utf8(out).unwrap())
}

async fn ok(app: &TestApp, args: &[&str]) -> String {
    scimctl(app, args)
        .await
        .unwrap_or_else(|e| panic!("scimctl {args:?}: {e}"))
}

async fn json_of(app: &TestApp, args: &[&str]) -> Value {
    let args: Vec<&str> = ["--json"].iter().chain(args).copied().collect();
    let out = ok(app, &args).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn summaries(log: &Value) -> Vec<&str> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect()
}

/// Waits until identity holds `n` entries for the tenant.
async fn delivered(app: &TestApp, tenant: &str, n: usize) {
    let got = e2e::wait_until(
        "the log's entries delivered",
        Duration::from_secs(15),
        || async {
            let got = app
                .identity
                .clone()
                .list_request_log(pb::ListRequestLogRequest {
                    tenant_id: tenant.to_owned(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .entries
                .len();
            if got >= n {
                Ok(got)
            } else {
                Err(format!("{got} of {n}"))
            }
        },
    )
    .await;
    assert_eq!(got, n);
}

async fn support_reads_the_log_and_the_health_of_a_tenant(app: &TestApp) {
    let metrics = e2e::spawn_metrics().await;
    let t = app.tenant("support").await;
    let guid = uuid::Uuid::new_v4();
    let r = t
        .get(&format!("/Users?filter=userName%20eq%20%22{guid}%22"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let id = t
        .create_user(json!({"userName": "dana@contoso.example"}))
        .await;
    let r = t
        .post("/Users", json!({"userName": "Dana@Contoso.example"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    delivered(app, &t.id, 3).await;
    // The recorder is process-wide (other tests run alongside): a lower bound.
    let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
    let recorded: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("gateway_request_log_recorded_total "))
        .unwrap_or_else(|| panic!("no gateway_request_log_recorded_total in {text}"))
        .parse()
        .unwrap();
    assert!(recorded >= 3.0, "{recorded}");

    // The table, newest first.
    let out = ok(app, &["log", &t.id]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for column in [
        "TIME", "METHOD", "PATH", "STATUS", "MS", "RESOURCE", "SUMMARY",
    ] {
        assert!(lines[0].contains(column), "{out}");
    }
    assert!(
        lines[1].contains("409") && lines[1].contains("uniqueness: "),
        "{out}"
    );
    assert!(
        lines[2].contains("201") && lines[2].contains("dana@contoso.example"),
        "{out}"
    );
    assert!(lines[3].contains("Test Connection"), "{out}");

    // "Why did this user not arrive?": by userName, any case.
    let log = json_of(app, &["log", &t.id, "--user", "DANA@contoso.example"]).await;
    assert_eq!(
        summaries(&log),
        [
            "uniqueness: userName is already in use in this tenant",
            "created"
        ]
    );
    assert_eq!(log["entries"][1]["resourceId"], id.as_str());
    assert_eq!(log["entries"][1]["status"], 201);
    assert_eq!(log["entries"][0]["scimType"], "uniqueness");
    assert!(log["nextBeforeId"].is_null());
    let log = json_of(app, &["log", &t.id, "--user", &id]).await;
    assert_eq!(summaries(&log), ["created"]);

    let log = json_of(app, &["log", &t.id, "--status", "409"]).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 1);
    let log = json_of(app, &["log", &t.id, "--status", "4xx,5xx"]).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 1);
    let log = json_of(app, &["log", &t.id, "--status", "2xx"]).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 2);
    let log = json_of(app, &["log", &t.id, "--since", "1h"]).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 3);
    let log = json_of(app, &["log", &t.id, "--until", "2001-01-01T00:00:00Z"]).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 0);
    let page = json_of(app, &["log", &t.id, "--limit", "2"]).await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let next = page["nextBeforeId"].as_i64().unwrap().to_string();
    let rest = json_of(app, &["log", &t.id, "--limit", "2", "--before-id", &next]).await;
    assert_eq!(rest["entries"][0]["testConnection"], true);
    assert_eq!(rest["entries"].as_array().unwrap().len(), 1);

    // Health.
    let health = json_of(app, &["health", &t.id, "--window", "1h"]).await;
    assert_eq!(health["windowSeconds"], 3_600);
    assert_eq!(health["requests"], 3);
    assert_eq!(health["errors"], 1);
    assert_eq!(health["quarantineFailures"], 0);
    assert_eq!(health["quarantineRisk"], "ok");
    assert!(health["lastTestConnection"].is_string(), "{health}");
    assert!(health["lastSuccess"].is_string(), "{health}");
    assert_eq!(health["topErrors"][0]["scimType"], "uniqueness");
    let out = ok(app, &["health", &t.id]).await;
    assert!(
        out.starts_with("3 requests in the last 24 hours, 1 failed (33%), mostly 409 uniqueness."),
        "{out}"
    );
    assert!(
        out.contains("quarantine risk") && out.contains("ok"),
        "{out}"
    );

    // Mistakes are precise.
    let e = scimctl(app, &["log", &t.id, "--status", "6xx"])
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("INVALID_ARGUMENT: "), "{e}");
    let e = scimctl(app, &["health", "no-such-tenant"])
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("NOT_FOUND: "), "{e}");
    assert!(Cli::try_parse_from(["scimctl", "log", &t.id, "--since", "yesterday"]).is_err());
    assert!(Cli::try_parse_from(["scimctl", "health", &t.id, "--window", "1w"]).is_err());
}
