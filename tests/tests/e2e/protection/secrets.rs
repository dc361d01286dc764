//! Tokens, `Authorization` headers and passwords never reach the logs or an
//! error body: a run with every service logging at DEBUG (TRACE for our own
//! crates) into a buffer, then a search of that buffer and of every answer.

use std::io::Write;
use std::sync::{Arc, Mutex};

use e2e::{Backend, Reply, spawn_app};
use reqwest::Method;
use serde_json::json;
use tracing_subscriber::EnvFilter;

/// Everything the services log, in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PASSWORD: &str = "Corr3ct-Horse-Battery-Staple";

// A current-thread runtime: every service task runs on this thread, under
// the subscriber set here for this thread only.
#[tokio::test]
async fn no_token_or_password_in_logs_or_error_bodies() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(
            "debug,gateway=trace,identity=trace,scim=trace,e2e=trace,console=trace",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app(Backend::Sqlite).await;
    // Another test's thread may have registered a callsite while this
    // subscriber was being set (and cached "never" for it): ask again.
    tracing::callsite::rebuild_interest_cache();
    let t = app.tenant("secrets").await;
    let other = app.tenant("other").await;
    let mut replies: Vec<Reply> = Vec::new();

    let user = json!({"userName": "pw@x.com", "password": PASSWORD});
    let r = t.post("/Users", user).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    replies.push(r);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "password", "value": PASSWORD}]});
    replies.push(t.patch(&format!("/Users/{id}"), patch).await);
    replies.push(
        t.put(
            &format!("/Users/{id}"),
            json!({"userName": "pw@x.com", "password": PASSWORD}),
        )
        .await,
    );
    replies.push(
        t.post("/Users", json!({"userName": 5, "password": PASSWORD}))
            .await,
    );
    replies.push(t.get(&format!("/Users/{id}")).await);
    // The wrong tenant, an unknown token, a malformed header.
    let mut wrong = other.clone();
    wrong.token = t.token.clone();
    replies.push(wrong.get("/Users").await);
    let bogus = format!("scim_{}", "ab".repeat(36));
    let mut guess = t.clone();
    guess.token = bogus.clone();
    replies.push(guess.get("/Users").await);
    replies.push(
        t.send_with(
            Method::GET,
            "/Users",
            None,
            &[("authorization", &format!("Basic {}", t.token))],
        )
        .await,
    );

    // The console: a link's code, the session cookie, a token it issues.
    let console = app.spawn_console().await;
    let code = app.console_code(&t.id, 0).await;
    let http = reqwest::Client::new();
    let cookie = app.console_sign_in(&console, &code).await;
    let setup = http
        .get(format!("{console}/setup"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = setup.find(marker).unwrap() + marker.len();
    let csrf = setup[start..start + setup[start..].find('"').unwrap()].to_owned();
    let issued = http
        .post(format!("{console}/setup/tokens"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&description=console"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = issued.find("<code id=\"new-token\">").unwrap() + "<code id=\"new-token\">".len();
    let console_token = issued[start..start + 77].to_owned();
    assert!(console_token.starts_with("scim_"));
    let session = cookie.split_once('=').unwrap().1.to_owned();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("console session started"),
        "the capture saw the console"
    );
    for secret in [
        code.as_str(),
        session.as_str(),
        csrf.as_str(),
        console_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a console secret reached the logs");
    }
    assert!(logs.contains(&t.id), "the capture saw the run");
    let hex = t.token.trim_start_matches("scim_");
    for secret in [
        t.token.as_str(),
        hex,
        other.token.as_str(),
        bogus.as_str(),
        PASSWORD,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
        for r in &replies {
            assert!(
                !r.body.to_string().contains(secret),
                "a secret reached a response: {}",
                r.body
            );
        }
    }
    assert!(!logs.to_ascii_lowercase().contains("bearer scim_"));
    // A user's password is neither kept nor shown.
    assert!(replies.iter().all(|r| r.body.get("password").is_none()));
}
