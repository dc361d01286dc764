//! `scimctl tenant limits`: shown, set, kept field by field, reset, and
//! carried to the gateway with the token's authentication.

use ::scimctl::{Cli, Parser as _};
use e2e::{Backend, TestApp, spawn_app};
use serde_json::Value;

async fn limits(app: &TestApp, args: &[&str]) -> Value {
    let argv = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--json",
        "tenant",
        "limits",
    ];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    ::scimctl::run(cli, &mut out).await.unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_set_kept_and_reset_with_scimctl() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.tenant("cli").await;
    let shown = limits(&app, &[&t.id]).await;
    assert_eq!(shown["ratePerSecond"], Value::Null);
    assert_eq!(shown["burst"], Value::Null);

    let set = limits(&app, &[&t.id, "--rate", "3", "--burst", "7"]).await;
    assert_eq!(
        (set["ratePerSecond"].as_u64(), set["burst"].as_u64()),
        (Some(3), Some(7))
    );
    // One flag changes one limit and keeps the other.
    let kept = limits(&app, &[&t.id, "--burst", "9"]).await;
    assert_eq!(
        (kept["ratePerSecond"].as_u64(), kept["burst"].as_u64()),
        (Some(3), Some(9))
    );

    // The gateway applies them (first use of the token: no cached answer).
    let r = t.get("/Users?count=0").await;
    assert_eq!(r.header("ratelimit-policy"), Some("\"tenant\";q=9;w=3"));

    let reset = limits(&app, &[&t.id, "--rate", "0", "--burst", "0"]).await;
    assert_eq!(reset["ratePerSecond"], Value::Null);
    assert_eq!(reset["burst"], Value::Null);
}
