//! The console in a real browser: headless Chromium (Debian's `chromium`)
//! driven by playwright-core (`tests/browser/console.mjs`, Node.js) against
//! the real services. This test starts the services, seeds a tenant, issues
//! a console link and runs the script; screenshots land in
//! `tests/browser/artifacts/` (git-ignored).
//!
//! Without Node.js, `tests/browser/node_modules` (`npm ci` there) or
//! Chromium the test says what is missing and passes, unless
//! `CONSOLE_BROWSER_TESTS=require` (set by `.ci/run`), where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{Backend, Tenant, TestApp, spawn_app};
use proto::policy::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser test, if anything.
fn missing(dir: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("Node.js (`node`) is not installed".into());
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Some(format!(
            "playwright-core is not installed: run `npm ci` in {}",
            dir.display()
        ));
    }
    let browser = chromium();
    if !browser.is_file() {
        return Some(format!(
            "Chromium is not installed at {} (apt-get install -y chromium chromium-driver, or set CHROMIUM)",
            browser.display()
        ));
    }
    None
}

async fn user(t: &Tenant, name: &str) -> String {
    t.create_user(json!({"userName": name, "active": true}))
        .await
}

async fn seed(app: &TestApp) -> Tenant {
    let t = app.tenant("browser").await;
    let mut policy = app.policy.clone();
    for role in ["Employee", "Manager"] {
        policy
            .create_role(pb::CreateRoleRequest {
                tenant_id: t.id.clone(),
                name: role.into(),
                description: String::new(),
            })
            .await
            .unwrap();
    }
    let alice = user(&t, "alice@browser.example").await;
    user(&t, "bob@browser.example").await;
    user(&t, "dave@browser.example").await;
    let carol = user(&t, "carol@browser.example").await;
    let r = t
        .post(
            "/Groups",
            json!({"displayName": "Managers", "members": [{"value": alice}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = t
        .post("/Groups", json!({"displayName": "Contractors"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.policy_caught_up().await;
    policy
        .record_checkout(pb::RecordCheckoutRequest {
            tenant_id: t.id.clone(),
            user_id: carol.clone(),
            asset_id: "LT-0042".into(),
            asset_name: "Laptop 14\"".into(),
            checked_out_at: None,
        })
        .await
        .unwrap();
    let r = t
        .patch(
            &format!("/Users/{carol}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.policy_caught_up().await;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    if let Some(what) = missing(&dir) {
        let required = std::env::var("CONSOLE_BROWSER_TESTS").is_ok_and(|v| v == "require");
        assert!(!required, "browser test cannot run: {what}");
        eprintln!(
            "SKIPPED console_in_chromium: {what} (CONSOLE_BROWSER_TESTS=require makes this fail)"
        );
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let console = app.spawn_console().await;
    let t = seed(&app).await;
    let code = app.console_code(&t.id, 0).await;
    let artifacts = dir.join("artifacts");
    let script = dir.join("console.mjs");
    let envs = [
        ("CONSOLE_LINK", format!("{console}/login?code={code}")),
        ("SCIM_BASE", t.base.clone()),
        ("SCIM_TOKEN", t.token.clone()),
        ("ARTIFACTS_DIR", artifacts.display().to_string()),
        ("CHROMIUM", chromium().display().to_string()),
    ];
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .current_dir(&dir)
            .envs(envs)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed:\n{stdout}\n{stderr}\n(screenshots in tests/browser/artifacts)"
    );
}
