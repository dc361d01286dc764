//! How console sessions end and begin: "Sign out" and "Sign out
//! everywhere" (the tenant's session epoch, across two consoles, and
//! `scimctl console-logout`), a link into another tenant that asks before
//! switching, links that a GET never uses up, the idle timeout, and the
//! request and header timeouts.

use std::time::Duration;

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as idpb;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

use super::{Browser, signed_in};

on_both_backends!(
    sign_out_everywhere_ends_every_copy,
    scimctl_ends_a_tenants_sessions,
    a_link_into_another_tenant_asks_before_switching,
    opening_a_link_does_not_use_it,
);

/// A browser holding a copy of `browser`'s cookie.
fn copy_of(browser: &Browser, base: &str) -> Browser {
    let mut copy = Browser::new(base);
    copy.cookie.clone_from(&browser.cookie);
    copy.csrf.clone_from(&browser.csrf);
    copy
}

/// The tenant's console session epoch, as identity keeps it.
async fn epoch(app: &TestApp, tenant: &str) -> u64 {
    app.identity
        .clone()
        .get_console_session_epoch(idpb::GetConsoleSessionEpochRequest {
            tenant_id: tenant.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .session_epoch
}

/// Polls `path` with `browser`'s cookie (never renewing it) until it is
/// refused; panics if it still opens after `within`.
async fn until_refused(browser: &mut Browser, path: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let kept = browser.cookie.clone();
    loop {
        let r = browser.get(path).await;
        browser.cookie.clone_from(&kept);
        if r.status == StatusCode::UNAUTHORIZED {
            assert!(r.body.contains("session has ended"), "{}", r.body);
            return;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "{path} still opens after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_out_everywhere_ends_every_copy(app: &TestApp) {
    let first = app.spawn_console().await;
    // A second replica that trusts a read epoch for one second.
    let second = app
        .spawn_console_with(|c| c.session_check_seconds = 1)
        .await;
    let t = app.tenant("everywhere").await;
    assert_eq!(epoch(app, &t.id).await, 0);
    let mut browser = signed_in(app, &first, &t.id).await;
    let page = browser.get("/setup").await;
    assert!(page.body.contains("Sign out everywhere"), "{}", page.body);
    let mut copy = copy_of(&browser, &first);
    let mut copy_elsewhere = copy_of(&browser, &second);
    let mut colleague = signed_in(app, &second, &t.id).await;
    assert_eq!(copy_elsewhere.get("/setup").await.status, StatusCode::OK);

    // "Sign out" ends this browser's session only (the documented choice):
    // the cookie is cleared, a copy still opens.
    let out = browser.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(browser.cookie.is_none());
    assert_eq!(copy.get("/setup").await.status, StatusCode::OK);
    assert_eq!(epoch(app, &t.id).await, 0);

    // "Sign out everywhere" from the copy ends every session of the tenant.
    let everywhere = copy.post("/logout/everywhere", &[]).await;
    assert_eq!(everywhere.status, StatusCode::OK, "{}", everywhere.body);
    assert!(everywhere.body.contains("has ended, in every browser"));
    assert!(copy.cookie.is_none());
    assert_eq!(epoch(app, &t.id).await, 1);
    // On the replica that did it, at once: a copy of the cookie is refused.
    let mut copy_again = copy_of(&copy_elsewhere, &first);
    let refused = copy_again.get("/setup").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let forms = copy_again
        .post("/setup/tokens", &[("description", "x")])
        .await;
    assert_eq!(forms.status, StatusCode::UNAUTHORIZED);
    // On the other replica within its check interval, another session too.
    until_refused(&mut copy_elsewhere, "/setup", Duration::from_secs(10)).await;
    assert_eq!(
        colleague.get("/roles").await.status,
        StatusCode::UNAUTHORIZED
    );

    // A new link opens a session under the new epoch, on either replica.
    let mut again = signed_in(app, &second, &t.id).await;
    assert_eq!(again.get("/users").await.status, StatusCode::OK);
    let mut identity = app.identity.clone();
    let unknown = identity
        .end_console_sessions(idpb::EndConsoleSessionsRequest {
            tenant_id: "no-such-tenant".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let bad = identity
        .get_console_session_epoch(idpb::GetConsoleSessionEpochRequest {
            tenant_id: "Not A Tenant".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
}

async fn scimctl_ends_a_tenants_sessions(app: &TestApp) {
    use ::scimctl::Parser as _;
    let console = app
        .spawn_console_with(|c| c.session_check_seconds = 0)
        .await;
    let t = app.tenant("opslogout").await;
    let other = app.tenant("bystander").await;
    let mut browser = signed_in(app, &console, &t.id).await;
    let mut bystander = signed_in(app, &console, &other.id).await;
    let argv = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--json",
        "console-logout",
        &t.id,
    ];
    let mut out = Vec::new();
    ::scimctl::run(::scimctl::Cli::try_parse_from(argv).unwrap(), &mut out)
        .await
        .unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(printed["tenantId"], t.id.as_str());
    assert_eq!(printed["sessionEpoch"], 1);
    assert_eq!(browser.get("/setup").await.status, StatusCode::UNAUTHORIZED);
    // Another tenant's sessions are untouched.
    assert_eq!(bystander.get("/setup").await.status, StatusCode::OK);
    assert_eq!(epoch(app, &other.id).await, 0);
}

async fn a_link_into_another_tenant_asks_before_switching(app: &TestApp) {
    let console = app.spawn_console().await;
    let a = app.tenant("home").await;
    let b = app.tenant("elsewhere").await;
    let mut browser = signed_in(app, &console, &a.id).await;
    let code = app.console_code(&b.id, 0).await;
    let cookie = browser.cookie.clone();

    // The GET asks and switches nothing.
    let asked = browser.show_link(&code).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.headers.get("set-cookie").is_none());
    assert!(
        asked.body.contains(&format!(
            "You are signed in to <strong>{}</strong>; switch to <strong>{}</strong>?",
            a.id, b.id
        )),
        "{}",
        asked.body
    );
    assert_eq!(browser.cookie, cookie);
    let setup = browser.get("/setup").await;
    assert!(setup.body.contains(&format!("/scim/v2/{}", a.id)));
    // The sign-in button alone (no confirmation) asks again, and uses nothing.
    let pressed = browser.press_link(&code, None).await;
    assert_eq!(pressed.status, StatusCode::OK, "{}", pressed.body);
    assert!(pressed.body.contains("switch to"), "{}", pressed.body);
    assert_eq!(browser.cookie, cookie);
    // Confirmed for another tenant than the link's: still asks.
    let wrong = browser.press_link(&code, Some(&a.id)).await;
    assert!(wrong.body.contains("switch to"), "{}", wrong.body);
    assert_eq!(browser.cookie, cookie);
    // A post from another site never gets to the code.
    let forged = browser
        .post_raw(
            "/login",
            &[("code", code.as_str()), ("switch", b.id.as_str())],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.cookie, cookie);

    // The confirmation's post switches.
    let switched = browser.press_link(&code, Some(&b.id)).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.body);
    assert_ne!(browser.cookie, cookie);
    let setup = browser.get("/setup").await;
    assert!(
        setup.body.contains(&format!("/scim/v2/{}", b.id)),
        "{}",
        setup.body
    );

    // A link of the tenant already signed in to just signs in again.
    let same = app.console_code(&b.id, 0).await;
    let shown = browser.show_link(&same).await;
    assert!(!shown.body.contains("switch to"), "{}", shown.body);
    assert_eq!(browser.open_link(&same).await.status, StatusCode::SEE_OTHER);
}

async fn opening_a_link_does_not_use_it(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("scanned").await;
    let code = app.console_code(&t.id, 0).await;

    // A scanner's GET (and HEAD), then the administrator's: buttons only.
    let mut scanner = Browser::new(&console);
    for _ in 0..2 {
        let shown = scanner.show_link(&code).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        assert!(shown.headers.get("set-cookie").is_none());
        assert!(shown.body.contains("<form"), "{}", shown.body);
        assert!(shown.body.contains(&format!("value=\"{code}\"")));
        assert!(shown.body.contains(&format!("Sign in to {}", t.id)));
    }
    let head = reqwest::Client::new()
        .head(format!("{console}/login?code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().get("set-cookie").is_none());
    // The button's post still redeems it.
    let mut browser = Browser::new(&console);
    let opened = browser.open_link(&code).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    assert_eq!(browser.get("/setup").await.status, StatusCode::OK);

    // Used: the GET says so; a post of a page shown before it was used too.
    let shown = Browser::new(&console).show_link(&code).await;
    assert_eq!(shown.status, StatusCode::UNAUTHORIZED);
    assert!(shown.body.contains("already been used"), "{}", shown.body);
    let other = app.console_code(&t.id, 0).await;
    let mut late = Browser::new(&console);
    assert_eq!(late.show_link(&other).await.status, StatusCode::OK);
    app.identity
        .clone()
        .redeem_console_link(idpb::RedeemConsoleLinkRequest {
            code: other.clone(),
        })
        .await
        .unwrap();
    let refused = late.press_link(&other, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(refused.body.contains("already been used"));
    assert!(refused.headers.get("set-cookie").is_none());

    // Expired between the page and the button: the same error page.
    let short = app.console_code(&t.id, 1).await;
    let mut slow = Browser::new(&console);
    assert_eq!(slow.show_link(&short).await.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut identity = app.identity.clone();
    while identity
        .inspect_console_link(idpb::InspectConsoleLinkRequest {
            code: short.clone(),
        })
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "a 1 s link lived 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expired = slow.press_link(&short, None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.body);
    for bad in ["", "ccl_00", "scim_123"] {
        let r = Browser::new(&console).press_link(bad, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_session_ends_after_the_idle_time() {
    let app = e2e::spawn_app(e2e::Backend::Sqlite).await;
    let console = app.spawn_console_with(|c| c.session_idle_seconds = 2).await;
    let t = app.tenant("idle").await;
    let mut active = signed_in(&app, &console, &t.id).await;
    let started = Instant::now();
    let mut idle = copy_of(&active, &console);

    // Used every 300 ms, the session outlives the idle time: its cookie is
    // re-issued with a new last use (at most once a second here).
    let mut renewed = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let before = active.cookie.clone();
        let r = active.get("/setup").await;
        assert_eq!(r.status, StatusCode::OK, "after {:?}", started.elapsed());
        if active.cookie != before {
            let set = r.headers["set-cookie"].to_str().unwrap();
            assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
            renewed += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(renewed >= 2, "renewed {renewed} times in 4 s");
    // The copy that was never used again has ended meanwhile.
    let r = idle.get("/setup").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // And the active one ends once left alone.
    until_refused(&mut active, "/setup", Duration::from_secs(10)).await;
}

/// Sends `head` (and nothing more) on a fresh connection and returns what
/// comes back until the server closes it or has sent a whole page (at
/// most `within`).
async fn stall(console: &str, head: &str, within: Duration) -> String {
    let addr = console.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&answer).contains("</html>") {
                break;
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .expect("the server kept a stalled connection open without an answer");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_are_cut_off() {
    let app = e2e::spawn_app(e2e::Backend::Sqlite).await;
    let console = app
        .spawn_console_with(|c| {
            c.request_timeout_seconds = 1;
            c.header_read_timeout_seconds = 1;
        })
        .await;
    let host = console.trim_start_matches("http://");
    // A form whose body never arrives: an error page, then the close.
    let slow_body = format!(
        "POST /login HTTP/1.1\r\nHost: {host}\r\nOrigin: {console}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncode=ccl_"
    );
    let answer = stall(&console, &slow_body, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("took too long"), "{answer}");
    assert!(answer.contains("content-security-policy"), "{answer}");
    // Headers that never end: the connection is closed.
    let slow_head = format!("GET /setup HTTP/1.1\r\nHost: {host}\r\nX-Slow: 1");
    let answer = stall(&console, &slow_head, Duration::from_secs(20)).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // The console still serves everyone else.
    assert_eq!(
        Browser::new(&console).get("/livez").await.status,
        StatusCode::OK
    );
}
