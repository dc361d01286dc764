//! `scimctl` against the real identity service: commands parsed from argument
//! vectors and run in-process, their output captured and checked.

use ::scimctl::{Cli, CliError, Parser as _};
use e2e::{TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    tenants_are_created_listed_and_shown,
    tokens_are_issued_listed_and_revoked,
    users_are_listed_and_shown,
    failures_are_errors_with_a_grpc_code
);

/// Runs `scimctl --identity-url <app> <args…>`; the output, or the error.
async fn scimctl(app: &TestApp, args: &[&str]) -> Result<String, CliError> {
    let argv = ["scimctl", "--identity-url", &app.identity_url];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    let outcome = ::scimctl::run(cli, &mut out).await;
    let out = String::from_utf8(out).unwrap();
    match outcome {
        Ok(()) => Ok(out),
        Err(e) => {
            assert_eq!(out, "", "a failed command prints nothing on stdout");
            Err(e)
        }
    }
}

async fn ok(app: &TestApp, args: &[&str]) -> String {
    scimctl(app, args)
        .await
        .unwrap_or_else(|e| panic!("scimctl {args:?}: {e}"))
}

/// Runs with `--json` and parses the one document printed, on one line.
async fn json_of(app: &TestApp, args: &[&str]) -> Value {
    let args: Vec<&str> = ["--json"].iter().chain(args).copied().collect();
    let out = ok(app, &args).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Asserts an RFC 3339 UTC timestamp (what the services produce).
fn assert_rfc3339(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    assert!(
        s.len() >= 20 && s.ends_with('Z') && &s[10..11] == "T",
        "{s}"
    );
}

/// The rows of a table, split on runs of two or more spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()))
        .map(|cells| cells.map(str::to_owned).collect())
        .collect()
}

async fn tenants_are_created_listed_and_shown(app: &TestApp) {
    let out = ok(app, &["tenant", "create", "acme", "--name", "Acme Corp"]).await;
    let t = rows(&out);
    assert_eq!(t[0], ["ID", "NAME", "CREATED"], "{out}");
    assert_eq!(t[1][..2], ["acme", "Acme Corp"], "{out}");
    assert_eq!(t.len(), 2, "{out}");
    ok(app, &["tenant", "create", "b"]).await;

    let out = ok(app, &["tenant", "list"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Aligned: each column starts at the same offset on every line.
    let name_at = lines[0].find("NAME").unwrap();
    let created_at = lines[0].find("CREATED").unwrap();
    // The display name defaults to the id.
    for (line, name) in lines[1..].iter().zip(["Acme Corp", "b"]) {
        assert!(line[name_at..].starts_with(name), "{out}");
        assert!(line[created_at..].starts_with("20"), "{out}");
        assert_eq!(&line[created_at - 2..created_at], "  ", "{out}");
    }

    let out = ok(app, &["tenant", "get", "acme"]).await;
    assert_eq!(rows(&out)[1][..2], ["acme", "Acme Corp"], "{out}");

    let created = json_of(app, &["tenant", "create", "gamma", "--name", "G"]).await;
    assert_eq!(created["id"], "gamma");
    assert_eq!(created["displayName"], "G");
    assert_rfc3339(&created["created"]);
    let got = json_of(app, &["tenant", "get", "gamma"]).await;
    assert_eq!(got, created);
    let list = json_of(app, &["tenant", "list"]).await;
    let mut ids: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["acme", "b", "gamma"]);
}

async fn tokens_are_issued_listed_and_revoked(app: &TestApp) {
    let tenant = app.tenant("ops").await;
    let out = ok(
        app,
        &[
            "token",
            "issue",
            &tenant.id,
            "--description",
            "okta",
            "--ttl-seconds",
            "3600",
        ],
    )
    .await;
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("no secret line: {out}"))
        .to_owned();
    assert!(out.contains("will not be shown again"), "{out}");
    let issued = &rows(&out)[1];
    let (okta_id, hint) = (issued[0].clone(), issued[2].clone());
    assert!(
        secret.starts_with(&hint) && secret.len() > hint.len(),
        "{out}"
    );

    let issued = json_of(
        app,
        &["token", "issue", &tenant.id, "--description", "entra"],
    )
    .await;
    let entra_secret = issued["secret"].as_str().unwrap().to_owned();
    assert_eq!(issued["token"]["description"], "entra");
    assert_eq!(issued["token"]["tenantId"], tenant.id.as_str());
    assert_eq!(issued["token"]["expires"], Value::Null);
    assert_rfc3339(&issued["token"]["created"]);
    // The printed secret is a working SCIM credential.
    let mut scim = tenant.clone();
    scim.token = entra_secret.clone();
    assert_eq!(scim.get("/Users").await.status, StatusCode::OK);

    let out = ok(app, &["token", "list", &tenant.id]).await;
    assert!(
        !out.contains(&secret) && !out.contains(&entra_secret),
        "{out}"
    );
    let table = rows(&out);
    assert_eq!(
        table[0],
        [
            "ID",
            "DESCRIPTION",
            "HINT",
            "CREATED",
            "LAST USED",
            "REVOKED",
            "EXPIRES"
        ]
    );
    let okta = table.iter().find(|r| r[0] == okta_id).unwrap();
    assert_eq!(okta[1..3], ["okta", hint.as_str()], "{out}");
    assert_eq!(okta[5], "-", "not revoked yet: {out}");
    assert_ne!(okta[6], "-", "expires: {out}");
    assert_eq!(table.len(), 4, "header and three tokens: {out}");

    let out = ok(app, &["token", "revoke", &tenant.id, &okta_id]).await;
    assert_ne!(rows(&out)[1][5], "-", "revoked: {out}");
    let list = json_of(app, &["token", "list", &tenant.id]).await;
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    for t in tokens {
        assert!(t.get("secret").is_none(), "{t}");
        if t["id"] == okta_id.as_str() {
            assert_rfc3339(&t["revoked"]);
            assert_rfc3339(&t["expires"]);
        } else {
            assert_eq!(t["revoked"], Value::Null, "{t}");
        }
    }
    let mut revoked = tenant.clone();
    revoked.token = secret;
    assert_eq!(revoked.get("/Users").await.status, StatusCode::UNAUTHORIZED);
}

async fn users_are_listed_and_shown(app: &TestApp) {
    let tenant = app.tenant("people").await;
    let alice = tenant
        .create_user(json!({"userName": "alice@example.com", "externalId": "a-1",
            "name": {"givenName": "Alice"}}))
        .await;
    let bob = tenant
        .create_user(json!({"userName": "bob@example.com", "active": false}))
        .await;

    let out = ok(app, &["user", "list", &tenant.id]).await;
    let table = rows(&out);
    let header = [
        "ID",
        "USER NAME",
        "EXTERNAL ID",
        "ACTIVE",
        "VERSION",
        "LAST MODIFIED",
    ];
    assert_eq!(table[0], header, "{out}");
    assert_eq!(
        table[1][..5],
        [&alice, "alice@example.com", "a-1", "true", "1"],
        "{out}"
    );
    assert_eq!(
        table[2][..5],
        [&bob, "bob@example.com", "-", "false", "1"],
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("total: 2"), "{out}");

    let filter = r#"userName eq "bob@example.com""#;
    let out = ok(app, &["user", "list", &tenant.id, "--filter", filter]).await;
    assert_eq!(rows(&out).len(), 3, "header, bob, total: {out}");
    assert!(out.contains(&bob) && !out.contains(&alice) && out.ends_with("total: 1\n"));
    let page = ["--count", "1", "--sort-by", "userName"];
    let out = ok(
        app,
        &[&["user", "list", &tenant.id][..], &page, &["--descending"]].concat(),
    )
    .await;
    assert!(out.contains(&bob) && !out.contains(&alice) && out.ends_with("total: 2\n"));
    let out = ok(
        app,
        &[
            &["user", "list", &tenant.id][..],
            &page,
            &["--start-index", "2"],
        ]
        .concat(),
    )
    .await;
    assert!(out.contains(&bob) && !out.contains(&alice), "{out}");

    let list = json_of(app, &["user", "list", &tenant.id]).await;
    assert_eq!(list["totalResults"], 2);
    assert_eq!(list["startIndex"], 1);
    let first = &list["users"][0];
    assert_eq!(first["id"], alice.as_str());
    assert_eq!(first["userName"], "alice@example.com");
    assert_eq!(first["externalId"], "a-1");
    assert_eq!(
        (&first["active"], &first["version"]),
        (&json!(true), &json!(1))
    );
    assert_rfc3339(&first["lastModified"]);
    assert_eq!(list["users"][1]["externalId"], Value::Null);

    // `user get` prints the document the gateway serves, less meta.location.
    let mut served = tenant.get(&format!("/Users/{alice}")).await.body;
    served["meta"].as_object_mut().unwrap().remove("location");
    if served["groups"] == json!([]) {
        // scimctl leaves out an empty `groups`, as SCIM leaves out empty multi-valued attributes.
        served.as_object_mut().unwrap().remove("groups");
    }
    let out = ok(app, &["user", "get", &tenant.id, &alice]).await;
    assert!(out.lines().count() > 5, "pretty-printed: {out}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown, served);
    assert_eq!(shown["meta"]["version"], "W/\"1\"");
    assert_eq!(shown["name"]["givenName"], "Alice");
    assert_eq!(
        json_of(app, &["user", "get", &tenant.id, &alice]).await,
        served
    );
}

async fn failures_are_errors_with_a_grpc_code(app: &TestApp) {
    let code = |e: CliError| e.to_string();
    let e = scimctl(app, &["tenant", "get", "no-such-tenant"])
        .await
        .unwrap_err();
    assert!(code(e).starts_with("NOT_FOUND: "));
    let e = scimctl(app, &["--json", "token", "issue", "no-such-tenant"])
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Status(_)), "{e}");
    let e = scimctl(app, &["tenant", "create", "Not A Slug"])
        .await
        .unwrap_err();
    assert!(code(e).starts_with("INVALID_ARGUMENT: "));

    let tenant = app.tenant("err").await;
    let e = scimctl(app, &["tenant", "create", &tenant.id])
        .await
        .unwrap_err();
    assert!(code(e).starts_with("ALREADY_EXISTS: "));
    let unknown = "00000000-0000-4000-8000-000000000000";
    let e = scimctl(app, &["user", "get", &tenant.id, unknown])
        .await
        .unwrap_err();
    assert!(code(e).starts_with("NOT_FOUND: "));
    let e = scimctl(app, &["token", "revoke", &tenant.id, unknown])
        .await
        .unwrap_err();
    assert!(code(e).starts_with("NOT_FOUND: "));
    let e = scimctl(
        app,
        &["user", "list", &tenant.id, "--filter", "userName eq"],
    )
    .await
    .unwrap_err();
    assert!(code(e).starts_with("INVALID_ARGUMENT: "));
}
