//! A corpus of hostile input sent end to end: never a 5xx, always a SCIM
//! error body with the expected `scimType`, and the tenant's data unchanged.

use e2e::{Reply, Tenant, TestApp, assert_scim_error, on_both_backends, reply};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(the_bad_input_corpus_changes_nothing);

/// One hostile request: method, path (under the tenant), raw body, status,
/// scimType.
struct Case {
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    status: u16,
    scim_type: Option<&'static str>,
}

fn case(
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    status: u16,
    t: Option<&'static str>,
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        body,
        status,
        scim_type: t,
    }
}

fn corpus(user: &str, group: &str) -> Vec<Case> {
    let user_path = format!("/Users/{user}");
    let group_path = format!("/Groups/{group}");
    let syntax = Some("invalidSyntax");
    let value = Some("invalidValue");
    let filter = Some("invalidFilter");
    let body = |s: &str| Some(s.as_bytes().to_vec());
    let deep = format!(
        "{{\"userName\": \"d@x.com\", \"x\": {}1{}}}",
        "[".repeat(40),
        "]".repeat(40)
    );
    let many_ops: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "replace", "path": "nickName", "value": "n"}))
        .collect();
    let many_members: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": format!("{i}")}))
        .collect();
    let long_filter = format!("userName eq \"{}\"", "a".repeat(5000));
    let deep_filter = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    vec![
        case(Method::POST, "/Users", body(r#"{"userName": "x@x.com", "userName": "y@x.com"}"#), 400, syntax),
        case(Method::POST, "/Users", body(r#"{"userName": "x@x.com", "USERNAME": "y@x.com"}"#), 400, syntax),
        case(Method::PUT, &user_path, body(r#"{"userName": "x@x.com", "name": {"givenName": "a", "givenName": "b"}}"#), 400, syntax),
        case(Method::POST, "/Users", Some(deep.into_bytes()), 400, syntax),
        case(Method::POST, "/Users", Some(b"{\"userName\": \"\xff\xfe@x.com\"}".to_vec()), 400, syntax),
        case(Method::POST, "/Users", body(r#"{"userName": "\ud800@x.com"}"#), 400, syntax),
        case(Method::POST, "/Users", body(r#"{"userName": "n@x.com", "x": 1e400}"#), 400, syntax),
        case(Method::POST, "/Users", body(r#"{"userName": "n@x.com"} trailing"#), 400, syntax),
        case(Method::POST, "/Users", body(""), 400, syntax),
        case(Method::PATCH, &user_path, Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": many_ops}).to_string().into_bytes()), 400, value),
        case(Method::POST, "/Groups", Some(json!({"displayName": "big", "members": many_members}).to_string().into_bytes()), 400, value),
        case(Method::PATCH, &group_path, Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": many_members}]}).to_string().into_bytes()), 400, value),
        case(Method::GET, "/Users/%FF%FE", None, 400, syntax),
        case(Method::GET, "/Users?filter=userName%20eq%20%22%C3%22", None, 400, syntax),
        case(Method::GET, &format!("/Users?filter={}", urlencode(&long_filter)), None, 400, filter),
        case(Method::GET, &format!("/Users?filter={}", urlencode(&deep_filter)), None, 400, filter),
        case(Method::POST, "/Users/.search", Some(json!({"filter": "userName eq"}).to_string().into_bytes()), 400, filter),
        case(Method::PATCH, &user_path, Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}).to_string().into_bytes()), 400, Some("invalidPath")),
        case(Method::POST, "/Users", body(r#"{"userName": "nul\u0000@x.com"}"#), 400, syntax),
        case(Method::GET, "/Users?filter=userName%20eq%20%22a%00b%22", None, 400, syntax),
        case(Method::PUT, &user_path, body(r#"{"userName": ["not", "a", "string"]}"#), 400, value),
    ]
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn send(app: &TestApp, t: &Tenant, c: &Case) -> Reply {
    let mut request = app
        .http
        .request(c.method.clone(), format!("{}{}", t.base, c.path))
        .bearer_auth(&t.token);
    if let Some(body) = &c.body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.clone());
    }
    reply(request.send().await.unwrap()).await
}

async fn state(t: &Tenant, user: &str, group: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("/Users/{user}"),
        format!("/Groups/{group}"),
        "/Users".into(),
        "/Groups".into(),
    ] {
        out.push(t.get(&path).await.body);
    }
    out
}

async fn the_bad_input_corpus_changes_nothing(app: &TestApp) {
    let t = app.tenant("hostile").await;
    let user = t
        .create_user(json!({"userName": "keep@x.com", "name": {"givenName": "K"}}))
        .await;
    let r = t
        .post(
            "/Groups",
            json!({"displayName": "keepers", "members": [{"value": user}]}),
        )
        .await;
    let group = r.body["id"].as_str().unwrap().to_owned();
    let before = state(&t, &user, &group).await;
    for c in corpus(&user, &group) {
        let r = send(app, &t, &c).await;
        assert!(
            r.status.as_u16() < 500,
            "{} {}: {}",
            c.method,
            c.path,
            r.body
        );
        let context = format!("{} {}", c.method, &c.path[..c.path.len().min(80)]);
        assert_eq!(r.status.as_u16(), c.status, "{context}: {}", r.body);
        assert_scim_error(&r, c.status, c.scim_type);
    }
    assert_eq!(state(&t, &user, &group).await, before);
}

/// A deactivation's body is read before the handler (to classify it): over
/// the size limit it is still a 413, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_user_patch_is_413() {
    let app = e2e::spawn_app_with(
        e2e::Backend::Sqlite,
        e2e::Options {
            max_body_bytes: 1024,
            ..e2e::Options::default()
        },
    )
    .await;
    let t = app.tenant("big").await;
    let id = t.create_user(json!({"userName": "big@x.com"})).await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false},
                       {"op": "replace", "path": "nickName", "value": "x".repeat(4096)}]});
    assert_scim_error(&t.patch(&format!("/Users/{id}"), patch).await, 413, None);
    assert_eq!(t.get(&format!("/Users/{id}")).await.body["active"], true);
}
