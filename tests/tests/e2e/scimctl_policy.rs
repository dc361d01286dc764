//! `scimctl`'s role-policy commands against the real policy service: users
//! and groups provisioned over SCIM, policy set and read through the CLI run
//! in-process, its tables and JSON checked. Waits poll with a deadline
//! (`policy_caught_up`); no sleep is an assertion.

use std::time::Duration;

use ::scimctl::{Cli, CliError, Parser as _};
use e2e::{POLICY_DEADLINE, Tenant, TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    roles_assignments_and_the_default_role,
    why_a_user_has_a_role,
    locks_and_the_live_tail,
    policy_failures_are_errors_with_a_grpc_code
);

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Runs `scimctl --identity-url … --policy-url … <args…>`; the output, or the error.
async fn scimctl(app: &TestApp, args: &[&str]) -> Result<String, CliError> {
    let urls = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--policy-url",
        &app.policy_url,
    ];
    let cli = Cli::try_parse_from(urls.iter().chain(args)).unwrap();
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

/// The error text (`<CODE>: <message>`) of a command that must fail.
async fn err(app: &TestApp, args: &[&str]) -> String {
    match scimctl(app, args).await {
        Ok(out) => panic!("scimctl {args:?} succeeded: {out}"),
        Err(e) => e.to_string(),
    }
}

/// The rows of a table, split on runs of two or more spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()))
        .map(|cells| cells.map(str::to_owned).collect())
        .collect()
}

async fn user(tenant: &Tenant, name: &str) -> String {
    tenant
        .create_user(json!({"userName": format!("{name}@contoso.com")}))
        .await
}

async fn group(tenant: &Tenant, name: &str, members: &[impl AsRef<str>]) -> String {
    let members: Vec<_> = members
        .iter()
        .map(|m| json!({"value": m.as_ref()}))
        .collect();
    let body = json!({"displayName": name, "members": members});
    let r = tenant.post("/Groups", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// An Entra membership PATCH (`Add` or `Remove`).
async fn members(tenant: &Tenant, op: &str, group: &str, users: &[impl AsRef<str>]) {
    let value: Vec<_> = users.iter().map(|u| json!({"value": u.as_ref()})).collect();
    let ops = json!([{"op": op, "path": "members", "value": value}]);
    let body = json!({"schemas": [PATCH_OP], "Operations": ops});
    let r = tenant.patch(&format!("/Groups/{group}"), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

/// Entra's deactivation, with the string boolean it sends.
async fn deactivate(tenant: &Tenant, user: &str) {
    let ops = json!([{"op": "Replace", "path": "active", "value": "False"}]);
    let body = json!({"schemas": [PATCH_OP], "Operations": ops});
    let r = tenant.patch(&format!("/Users/{user}"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn roles_assignments_and_the_default_role(app: &TestApp) {
    let tenant = app.tenant("roles").await;
    let t = tenant.id.as_str();
    let alice = user(&tenant, "alice").await;
    let bob = user(&tenant, "bob").await;
    let admins = group(&tenant, "Admins", &[&alice]).await;
    let staff = group(&tenant, "Staff", &[&alice, &bob]).await;

    let out = ok(app, &["role", "create", t, "Admin", "--description", "all"]).await;
    assert_eq!(
        rows(&out),
        [["NAME", "BUILT-IN", "DESCRIPTION"], ["Admin", "no", "all"]]
    );
    let created = json_of(app, &["role", "create", t, "Staff"]).await;
    assert_eq!(
        created,
        json!({"name": "Staff", "description": "", "builtIn": false})
    );
    ok(app, &["role", "create", t, "Guest"]).await;
    let out = ok(app, &["role", "list", t]).await;
    let listed = rows(&out);
    assert_eq!(listed.len(), 5, "header, Disabled and three roles: {out}");
    assert!(
        listed.iter().any(|r| r[..2] == ["Disabled", "yes"]),
        "{out}"
    );
    let list = json_of(app, &["role", "list", t]).await;
    let mut names: Vec<&str> = (list["roles"].as_array().unwrap().iter())
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Admin", "Disabled", "Guest", "Staff"]);

    app.policy_caught_up().await;
    assert_eq!(
        ok(app, &["default-role", "get", t]).await,
        "default role: none\n"
    );
    let out = ok(app, &["default-role", "set", t, "Guest"]).await;
    assert_eq!(out, "default role: Guest\nusers changed: 2\n");
    let shown = json_of(app, &["default-role", "get", t]).await;
    assert_eq!(shown, json!({"tenantId": t, "role": "Guest"}));

    let out = ok(
        app,
        &["assignment", "set", t, &staff, "Staff", "--priority", "10"],
    )
    .await;
    let table = rows(&out);
    assert_eq!(table[0], ["GROUP", "ROLE", "PRIORITY"], "{out}");
    assert_eq!(table[1], [staff.as_str(), "Staff", "10"], "{out}");
    assert_eq!(out.lines().last(), Some("users changed: 2"), "{out}");
    let set = json_of(
        app,
        &["assignment", "set", t, &admins, "Admin", "--priority", "20"],
    )
    .await;
    let expected = json!({"groupId": admins, "role": "Admin", "priority": 20, "usersChanged": 1});
    assert_eq!(set, expected);
    let out = ok(app, &["assignment", "list", t]).await;
    assert_eq!(rows(&out).len(), 3, "{out}");
    let list = json_of(app, &["assignment", "list", t]).await;
    let mut groups: Vec<&str> = (list["assignments"].as_array().unwrap().iter())
        .map(|a| a["groupId"].as_str().unwrap())
        .collect();
    groups.sort_unstable();
    let mut both = [admins.as_str(), staff.as_str()];
    both.sort_unstable();
    assert_eq!(groups, both);

    let out = ok(app, &["role", "get", t, &alice]).await;
    let table = rows(&out);
    assert_eq!(
        table[0],
        ["USER", "ROLE", "RULE", "LOCKED", "SINCE", "REASON"]
    );
    assert_eq!(
        table[1][..4],
        [&alice, "Admin", "group-assignment", "no"],
        "{out}"
    );
    assert!(table[1][5].contains(&admins), "the deciding group: {out}");
    let got = json_of(app, &["effective", t, &bob]).await;
    assert_eq!((&got["tenantId"], &got["userId"]), (&json!(t), &json!(bob)));
    assert_eq!(got["role"], "Staff");
    assert_eq!(got["reason"]["rule"], "group-assignment");
    assert_eq!(got["reason"]["groupId"], staff.as_str());
    assert_eq!(got["reason"]["priority"], 10);
    assert_eq!(
        (&got["locked"], &got["upstreamDisabled"]),
        (&json!(false), &json!(false))
    );
    assert!(got["since"].as_str().unwrap().ends_with('Z'), "{got}");

    let out = ok(app, &["users-by-role", t, "Staff"]).await;
    let table = rows(&out);
    assert_eq!(
        (table.len(), table[1][0].as_str()),
        (3, bob.as_str()),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("total: 1"), "{out}");
    let admins_now = json_of(app, &["users-by-role", t, "Admin"]).await;
    assert_eq!(admins_now["users"].as_array().unwrap().len(), 1);
    assert_eq!(admins_now["users"][0]["userId"], alice.as_str());

    // Still in use: FAILED_PRECONDITION; then removed, and deletable.
    let e = err(app, &["role", "delete", t, "Admin"]).await;
    assert!(e.starts_with("FAILED_PRECONDITION: "), "{e}");
    let out = ok(app, &["assignment", "remove", t, &admins]).await;
    let removed = format!("removed the assignment of group {admins}\nusers changed: 1\n");
    assert_eq!(out, removed);
    assert_eq!(
        ok(app, &["role", "delete", t, "Admin"]).await,
        "deleted role Admin\n"
    );
    assert_eq!(
        json_of(app, &["role", "get", t, &alice]).await["role"],
        "Staff"
    );
    let list = json_of(app, &["role", "list", t]).await;
    assert_eq!(list["roles"].as_array().unwrap().len(), 3, "{list}");

    let cleared = json_of(app, &["default-role", "clear", t]).await;
    assert_eq!(
        cleared,
        json!({"tenantId": t, "role": null, "usersChanged": 0})
    );
    let out = ok(app, &["reconcile", t]).await;
    assert_eq!(rows(&out), [["USERS CHECKED", "USERS CHANGED"], ["2", "0"]]);
    let healed = json_of(app, &["reconcile", t]).await;
    assert_eq!(healed, json!({"usersChecked": 2, "usersChanged": 0}));
}

async fn why_a_user_has_a_role(app: &TestApp) {
    let tenant = app.tenant("why").await;
    let t = tenant.id.as_str();
    let alice = user(&tenant, "alice").await;
    let bob = user(&tenant, "bob").await;
    let admins = group(&tenant, "Admins", &[&alice]).await;
    let staff = group(&tenant, "Staff", &[&alice, &bob]).await;
    for role in ["Admin", "Staff", "Guest"] {
        ok(app, &["role", "create", t, role]).await;
    }
    app.policy_caught_up().await;
    ok(app, &["default-role", "set", t, "Guest"]).await;
    ok(
        app,
        &["assignment", "set", t, &staff, "Staff", "--priority", "10"],
    )
    .await;
    ok(
        app,
        &["assignment", "set", t, &admins, "Admin", "--priority", "20"],
    )
    .await;

    let out = ok(app, &["explain", t, &alice]).await;
    let table = rows(&out);
    assert_eq!(
        table[1][..3],
        [&alice, "Admin", "group-assignment"],
        "{out}"
    );
    let steps_at = table
        .iter()
        .position(|r| r.first().is_some_and(|c| c == "STEP"))
        .unwrap();
    assert_eq!(
        table[steps_at],
        ["STEP", "RULE", "APPLIES", "DETAIL"],
        "{out}"
    );
    let steps: Vec<(&str, &str)> = table[steps_at + 1..steps_at + 7]
        .iter()
        .map(|r| (r[1].as_str(), r[2].as_str()))
        .collect();
    let expected = [
        ("locked", "no"),
        ("deleted", "no"),
        ("inactive", "no"),
        ("group-assignment", "yes"),
        ("default-role", "no"),
        ("no-default-role", "no"),
    ];
    assert_eq!(steps, expected, "{out}");
    assert!(
        out.contains("candidate assignments (highest priority first):"),
        "{out}"
    );
    let tail: Vec<&Vec<String>> = table.iter().rev().take(2).collect();
    assert_eq!(tail[1][..3], [admins.as_str(), "Admin", "20"], "{out}");
    assert_eq!(tail[0][..3], [staff.as_str(), "Staff", "10"], "{out}");

    let explained = json_of(app, &["explain", t, &bob]).await;
    assert_eq!(explained["role"]["role"], "Staff");
    let steps = explained["steps"].as_array().unwrap();
    let applying: Vec<&Value> = steps.iter().filter(|s| s["applies"] == true).collect();
    assert_eq!(applying.len(), 1, "{explained}");
    assert_eq!(applying[0]["rule"], "group-assignment");
    assert!(
        steps
            .iter()
            .all(|s| s["detail"].as_str().is_some_and(|d| !d.is_empty()))
    );
    let candidates = json!([{"groupId": staff, "role": "Staff", "priority": 10}]);
    assert_eq!(explained["candidateAssignments"], candidates);

    // A dry run shows who would change, and changes nothing.
    let out = ok(app, &["dry-run", t, "--remove-assignment", &admins]).await;
    let expected = [["USER", "FROM", "TO"], [alice.as_str(), "Admin", "Staff"]];
    assert_eq!(rows(&out)[..2], expected, "{out}");
    let summary = "1 user(s) would change role; nothing was changed";
    assert_eq!(out.lines().last(), Some(summary), "{out}");
    let change = format!("{staff}:Admin:30");
    let dry = json_of(app, &["dry-run", t, "--set-assignment", &change]).await;
    let would = json!([{"userId": bob, "fromRole": "Staff", "toRole": "Admin"}]);
    assert_eq!(dry["changes"], would);
    let dry = json_of(app, &["dry-run", t, "--set-default-role", ""]).await;
    assert_eq!(dry["changes"], json!([]), "everyone is in a mapped group");
    assert_eq!(
        json_of(app, &["role", "get", t, &alice]).await["role"],
        "Admin"
    );
    assert_eq!(
        json_of(app, &["role", "get", t, &bob]).await["role"],
        "Staff"
    );
    let e = err(app, &["dry-run", t, "--set-default-role", "Nope"]).await;
    assert!(e.starts_with("FAILED_PRECONDITION: "), "{e}");

    // History, newest first: Admin, then Staff, then the default Guest.
    let out = ok(app, &["history", t, &alice]).await;
    let table = rows(&out);
    assert_eq!(
        table[0],
        ["SEQ", "AT", "FROM", "TO", "RULE", "REASON"],
        "{out}"
    );
    assert_eq!(
        table[1][2..5],
        ["Staff", "Admin", "group-assignment"],
        "{out}"
    );
    assert_eq!(
        table[2][2..5],
        ["Guest", "Staff", "group-assignment"],
        "{out}"
    );
    assert_eq!(table[3][3..5], ["Guest", "default-role"], "{out}");
    let history = json_of(app, &["history", t, &alice]).await;
    let changes = history["changes"].as_array().unwrap();
    assert_eq!(changes.len(), table.len() - 1, "{history}");
    let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert_eq!(changes[0]["reason"]["groupId"], admins.as_str());
    assert_eq!(
        (&changes[0]["tenantId"], &changes[0]["userId"]),
        (&json!(t), &json!(alice))
    );
    let limited = json_of(app, &["history", t, &alice, "--limit", "1"]).await;
    assert_eq!(limited["changes"].as_array().unwrap().len(), 1);
}

async fn locks_and_the_live_tail(app: &TestApp) {
    let tenant = app.tenant("lock").await;
    let t = tenant.id.as_str();
    let carol = user(&tenant, "carol").await;
    let team = group(&tenant, "Team", &[&carol]).await;
    ok(app, &["role", "create", t, "Staff"]).await;
    ok(
        app,
        &["assignment", "set", t, &team, "Staff", "--priority", "1"],
    )
    .await;
    app.policy_caught_up().await;
    assert_eq!(
        json_of(app, &["role", "get", t, &carol]).await["role"],
        "Staff"
    );

    let out = ok(app, &["lock", t, &carol, "--note", "audit"]).await;
    assert_eq!(
        rows(&out)[1][..4],
        [&carol, "Staff", "locked", "yes"],
        "{out}"
    );
    // The lock holds through a membership change.
    members(&tenant, "Remove", &team, &[&carol]).await;
    app.policy_caught_up().await;
    let locked = json_of(app, &["role", "get", t, &carol]).await;
    assert_eq!(
        (&locked["role"], &locked["locked"]),
        (&json!("Staff"), &json!(true))
    );
    assert_eq!(locked["reason"]["rule"], "locked");

    // Unlocked: recomputed; no group and no default role means no role.
    let unlocked = json_of(app, &["unlock", t, &carol]).await;
    assert_eq!(unlocked["role"], Value::Null, "{unlocked}");
    assert_eq!(unlocked["reason"]["rule"], "no-default-role");
    assert_eq!(unlocked["locked"], false);
    let out = ok(app, &["role", "get", t, &carol]).await;
    assert_eq!(
        rows(&out)[1][..4],
        [&carol, "-", "no-default-role", "no"],
        "{out}"
    );

    members(&tenant, "Add", &team, &[&carol]).await;
    app.policy_caught_up().await;
    let history = json_of(app, &["history", t, &carol, "--limit", "1"]).await;
    assert_eq!(history["changes"][0]["toRole"], "Staff", "{history}");
    let after = history["changes"][0]["seq"].as_i64().unwrap().to_string();

    // A live tail receives the deactivation made over SCIM.
    let tail = ["tail", "--tenant", t, "--after-seq", &after, "--max", "1"];
    let (out, ()) = tokio::join!(
        tokio::time::timeout(POLICY_DEADLINE, ok(app, &tail)),
        deactivate(&tenant, &carol)
    );
    let out = out.expect("the deactivation reached the tail in time");
    assert_eq!(out.lines().count(), 1, "{out}");
    let expected = format!(" {t} {carol} Staff -> Disabled [inactive] ");
    assert!(out.contains(&expected), "{out}");
    let mut json_tail = vec!["--json"];
    json_tail.extend(tail);
    let out = tokio::time::timeout(Duration::from_secs(5), ok(app, &json_tail))
        .await
        .expect("a stored change is replayed at once");
    let change: Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(change["userId"], carol.as_str());
    assert_eq!(
        (&change["fromRole"], &change["toRole"]),
        (&json!("Staff"), &json!("Disabled"))
    );
    assert_eq!(change["reason"]["rule"], "inactive");
    assert!(change["seq"].as_i64().unwrap() > after.parse::<i64>().unwrap());

    // Without a tenant: every tenant's changes, one JSON object per line.
    let out = ok(app, &["--json", "tail", "--max", "3"]).await;
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );
}

async fn policy_failures_are_errors_with_a_grpc_code(app: &TestApp) {
    let tenant = app.tenant("perr").await;
    let t = tenant.id.as_str();
    let dave = user(&tenant, "dave").await;
    app.policy_caught_up().await;
    let unknown = "00000000-0000-4000-8000-000000000000";

    for args in [
        &["role", "get", "no-such-tenant", dave.as_str()][..],
        &["role", "get", t, unknown],
        &["explain", t, unknown],
        &["history", t, unknown],
        &["lock", t, unknown],
    ] {
        let e = err(app, args).await;
        assert!(e.starts_with("NOT_FOUND: "), "{args:?}: {e}");
    }
    let e = err(
        app,
        &["assignment", "set", t, "g1", "Nope", "--priority", "1"],
    )
    .await;
    assert!(e.starts_with("FAILED_PRECONDITION: "), "{e}");
    let e = err(app, &["role", "create", t, "disabled"]).await;
    assert!(e.starts_with("ALREADY_EXISTS: "), "{e}");
    let e = err(app, &["default-role", "set", t, "Disabled"]).await;
    assert!(e.starts_with("INVALID_ARGUMENT: "), "{e}");
    let e = err(app, &["assignment", "remove", t, "never-assigned"]).await;
    assert!(e.starts_with("NOT_FOUND: "), "{e}");
    let e = err(app, &["--json", "role", "delete", t, "Disabled"]).await;
    assert!(e.starts_with("FAILED_PRECONDITION: "), "{e}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let cli = Cli::try_parse_from(["scimctl", "--policy-url", &closed, "role", "list", t]).unwrap();
    let e = ::scimctl::run(cli, &mut Vec::new()).await.unwrap_err();
    let expected = format!("UNAVAILABLE: cannot reach the policy service at {closed}");
    assert_eq!(e.to_string(), expected);
}
