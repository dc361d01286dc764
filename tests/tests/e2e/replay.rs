//! Replays the recorded IdP sequences of `tests/corpus` (request bodies as
//! Entra ID and Okta send them, expected responses as subsets) against the
//! real services, on both backends. Each scenario file runs in a fresh
//! tenant; ids the server assigns are captured into placeholders.

mod format;
mod matcher;

use e2e::{Reply, Tenant, TestApp, on_both_backends};
use serde_json::Value;

use format::{Auth, Scenario, Step, Vars};

on_both_backends!(entra_default, entra_aadoptscim062020, okta_oin, okta_aiw,);

async fn entra_default(app: &TestApp) {
    replay_dir(app, "entra-default").await;
}

async fn entra_aadoptscim062020(app: &TestApp) {
    replay_dir(app, "entra-aadoptscim062020").await;
}

async fn okta_oin(app: &TestApp) {
    replay_dir(app, "okta-oin").await;
}

async fn okta_aiw(app: &TestApp) {
    replay_dir(app, "okta-aiw").await;
}

/// The corpus directories the tests above replay.
const REPLAYED: &[&str] = &[
    "entra-aadoptscim062020",
    "entra-default",
    "okta-aiw",
    "okta-oin",
];

/// A directory added to the corpus without a test would silently not run.
#[test]
fn every_corpus_directory_is_replayed_and_well_formed() {
    let mut dirs: Vec<String> = std::fs::read_dir(format::corpus_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, REPLAYED);
    for dir in REPLAYED {
        for scenario in format::load_dir(dir) {
            assert!(!scenario.steps.is_empty(), "{}", scenario.file.display());
        }
    }
}

async fn replay_dir(app: &TestApp, dir: &str) {
    for scenario in format::load_dir(dir) {
        let tenant = app.tenant("replay").await;
        replay(&tenant, &scenario).await;
    }
}

async fn replay(t: &Tenant, scenario: &Scenario) {
    let mut vars = Vars::default();
    vars.0.insert("base".into(), t.base.clone().into());
    vars.0
        .insert("uuid".into(), uuid::Uuid::new_v4().to_string().into());
    for (i, step) in scenario.steps.iter().enumerate() {
        let reply = send(t, step, &vars).await;
        // Captured first: an expectation may name the id just assigned.
        for (name, pointer) in &step.capture {
            if let Some(value) = reply.body.pointer(pointer) {
                vars.0.insert(name.clone(), value.clone());
            }
        }
        let mut problems = check(step, &reply, &vars);
        for (name, pointer) in &step.capture {
            if reply.body.pointer(pointer).is_none() {
                problems.push(format!("nothing at {pointer} to capture as {name}"));
            }
        }
        assert!(
            problems.is_empty(),
            "{} step {i} ({}): {} {}\n  {}\n  response {}: {}",
            scenario.file.display(),
            step.name,
            step.method,
            vars.text(&step.path),
            problems.join("\n  "),
            reply.status,
            reply.body
        );
    }
}

async fn send(t: &Tenant, step: &Step, vars: &Vars) -> Reply {
    let body = step.body.as_ref().map(|b| vars.apply(b));
    let path = vars.text(&step.path);
    match step.auth {
        Auth::Token => t.send(step.method.clone(), &path, body).await,
        Auth::Invalid | Auth::None => {
            let mut request =
                reqwest::Client::new().request(step.method.clone(), format!("{}{path}", t.base));
            if step.auth == Auth::Invalid {
                request = request.bearer_auth(format!("scim_{}", "0".repeat(72)));
            }
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/scim+json")
                    .body(body.to_string());
            }
            e2e::reply(request.send().await.unwrap()).await
        }
    }
}

fn check(step: &Step, reply: &Reply, vars: &Vars) -> Vec<String> {
    let mut problems = Vec::new();
    if reply.status.as_u16() != step.status {
        problems.push(format!("status {}, expected {}", reply.status, step.status));
    }
    for (name, expected) in &step.headers {
        let actual = reply.header(name).map(|v| Value::String(v.to_owned()));
        for p in matcher::differences(&vars.apply(expected), actual.as_ref()) {
            problems.push(format!("header {name}{p}"));
        }
    }
    match &step.expect_body {
        None => {}
        Some(Value::Null) if reply.body.is_null() => {}
        Some(Value::Null) => problems.push("expected an empty body".into()),
        Some(expected) => {
            problems.extend(matcher::differences(
                &vars.apply(expected),
                Some(&reply.body),
            ));
        }
    }
    problems
}
