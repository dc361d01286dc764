//! `scimctl holdings`, `report disabled-with-equipment` and `alerts`
//! against the real services, run in-process.

use ::scimctl::{Cli, Parser as _};
use e2e::TestApp;
use serde_json::Value;

use super::receiver::Receiver;
use super::{DEADLINE, deactivate, provision};

async fn scimctl(app: &TestApp, args: &[&str]) -> String {
    let urls = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--policy-url",
        &app.policy_url,
    ];
    let cli = Cli::try_parse_from(urls.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    ::scimctl::run(cli, &mut out)
        .await
        .unwrap_or_else(|e| panic!("scimctl {args:?}: {e}"));
    String::from_utf8(out).unwrap()
}

async fn report_lists_holders_as_table_csv_and_json(app: &TestApp) {
    let t = app.tenant("cli-eq").await;
    let hook = Receiver::start().await;
    let set = scimctl(
        app,
        &[
            "alerts",
            "set",
            &t.id,
            "--url",
            &hook.url(),
            "--digest",
            "daily",
            "--hour",
            "9",
            "--time-zone",
            "Europe/Berlin",
        ],
    )
    .await;
    let secret = set
        .lines()
        .find_map(|l| l.strip_prefix("Signing secret (shown once): "))
        .expect("a generated secret is shown once")
        .to_owned();
    let shown = scimctl(app, &["alerts", "show", &t.id]).await;
    assert!(
        !shown.contains(&secret) && shown.contains("daily at 09:00 Europe/Berlin"),
        "{shown}"
    );

    let (carol, dave) = (provision(&t, "carol").await, provision(&t, "dave").await);
    app.policy_caught_up().await;
    scimctl(
        app,
        &[
            "holdings",
            "checkout",
            &t.id,
            &carol,
            "C-1",
            "--name",
            "Laptop, 14\"",
        ],
    )
    .await;
    scimctl(
        app,
        &[
            "holdings", "checkout", &t.id, &dave, "D-1", "--name", "Phone",
        ],
    )
    .await;
    deactivate(&t, &carol).await;
    deactivate(&t, &dave).await;
    let got = hook.wait_for(2, DEADLINE).await;
    got[0].assert_signed_with(&secret);

    let table = scimctl(
        app,
        &["report", "disabled-with-equipment", &t.id, "--sort", "name"],
    )
    .await;
    assert!(
        table.starts_with("Disabled users with equipment: 2"),
        "{table}"
    );
    let carol_line = table.find("carol@contoso.com").unwrap();
    assert!(
        carol_line < table.find("dave@contoso.com").unwrap(),
        "sorted by name: {table}"
    );
    let csv = scimctl(
        app,
        &[
            "report",
            "disabled-with-equipment",
            &t.id,
            "--format",
            "csv",
        ],
    )
    .await;
    assert!(
        csv.starts_with("section,user_id,name,email,disabled_at,days_since_disabled"),
        "{csv}"
    );
    assert!(csv.contains(",C-1,\"Laptop, 14\"\"\","), "{csv}");
    let json = scimctl(
        app,
        &[
            "report",
            "disabled-with-equipment",
            &t.id,
            "--format",
            "json",
        ],
    )
    .await;
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["disabledUsers"].as_array().unwrap().len(), 2);
    assert_eq!(v["disabledUsers"][0]["daysSinceDisabled"], 0);

    let test = scimctl(app, &["--json", "alerts", "test", &t.id]).await;
    let key: Value = serde_json::from_str(&test).unwrap();
    hook.wait_for(3, DEADLINE).await;
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let log = scimctl(app, &["alerts", "log", &t.id]).await;
        if log.contains(key["eventId"].as_str().unwrap()) && log.contains("delivered") {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "{log}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let listed = scimctl(app, &["holdings", "list", &t.id, "--user", &carol]).await;
    assert!(
        listed.contains("C-1") && !listed.contains("D-1"),
        "{listed}"
    );
}

e2e::on_both_backends!(report_lists_holders_as_table_csv_and_json);
