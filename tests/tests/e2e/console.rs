//! The tenant administrator's console over real HTTP against the real
//! services: console links, sessions, CSRF and same-origin checks, tenant
//! isolation, and the pages' actions (tokens, default role and group
//! mappings with their preview, locks, the report's CSV), on both backends.

use e2e::{Tenant, TestApp, on_both_backends};
use proto::identity::v1 as idpb;
use proto::policy::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;

mod sessions;

/// A browser-like client of the console: keeps the session cookie and
/// the CSRF secret of the last page it read.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    csrf: Option<String>,
}

struct PageReply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

fn csrf_of(body: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            csrf: None,
        }
    }

    async fn read(&mut self, response: reqwest::Response) -> PageReply {
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap().to_owned();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        let body = response.text().await.unwrap();
        if let Some(csrf) = csrf_of(&body) {
            self.csrf = Some(csrf);
        }
        PageReply {
            status,
            headers,
            body,
        }
    }

    /// Opens a console link the way an administrator does: the GET shows
    /// a button, pressing it posts the code. The GET's answer when it shows
    /// no button (a bad link), else the post's.
    async fn open_link(&mut self, code: &str) -> PageReply {
        let shown = self.show_link(code).await;
        if shown.status != StatusCode::OK {
            return shown;
        }
        assert!(shown.body.contains("name=\"code\""), "{}", shown.body);
        self.press_link(code, None).await
    }

    /// The GET of a console link (what a link scanner does too).
    async fn show_link(&mut self, code: &str) -> PageReply {
        self.get(&format!("/login?code={code}")).await
    }

    /// The sign-in form's post, with the tenant a switch was confirmed for.
    async fn press_link(&mut self, code: &str, switch: Option<&str>) -> PageReply {
        let mut fields = vec![("code", code)];
        fields.extend(switch.map(|t| ("switch", t)));
        let origin = self.base.clone();
        self.post_raw(
            "/login",
            &fields,
            &[
                ("origin", origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await
    }

    async fn get(&mut self, path: &str) -> PageReply {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        let r = request.send().await.unwrap();
        self.read(r).await
    }

    /// A same-origin form post with the session's CSRF field.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> PageReply {
        let csrf = self.csrf.clone().expect("a page was read first");
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let origin = self.base.clone();
        self.post_raw(
            path,
            &all,
            &[
                ("origin", origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await
    }

    /// A form post exactly as given: fields, extra headers, the cookie.
    async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> PageReply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let r = request.send().await.unwrap();
        self.read(r).await
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A browser signed in to `tenant`'s console.
async fn signed_in(app: &TestApp, console: &str, tenant: &str) -> Browser {
    let mut browser = Browser::new(console);
    let code = app.console_code(tenant, 0).await;
    let r = browser.open_link(&code).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/setup");
    let r = browser.get("/setup").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    browser
}

async fn tokens(app: &TestApp, tenant: &str) -> Vec<idpb::TokenInfo> {
    let mut identity = app.identity.clone();
    identity
        .list_tokens(idpb::ListTokensRequest {
            tenant_id: tenant.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
}

async fn role_of(app: &TestApp, tenant: &str, user: &str) -> pb::EffectiveRole {
    let mut policy = app.policy.clone();
    policy
        .get_effective_role(pb::GetEffectiveRoleRequest {
            tenant_id: tenant.to_owned(),
            user_id: user.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap()
}

async fn create_role(app: &TestApp, tenant: &str, name: &str) {
    let mut policy = app.policy.clone();
    policy
        .create_role(pb::CreateRoleRequest {
            tenant_id: tenant.to_owned(),
            name: name.to_owned(),
            description: String::new(),
        })
        .await
        .unwrap();
}

async fn user(t: &Tenant, name: &str) -> String {
    t.create_user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name, "active": true
    }))
    .await
}

async fn group(t: &Tenant, name: &str, members: &[&str]) -> String {
    let members: Vec<_> = members.iter().map(|m| json!({"value": m})).collect();
    let r = t
        .post(
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name, "members": members
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn console_link_opens_once(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("links").await;
    let code = app.console_code(&t.id, 0).await;

    let mut browser = Browser::new(&console);
    let r = browser.open_link(&code).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    for attribute in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=3600",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert_eq!(r.headers["referrer-policy"], "same-origin");
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));

    let page = browser.get("/setup").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("{}/scim/v2/{}", app.base_url, t.id))
    );

    // The same code again: refused, whoever presents it.
    let mut other = Browser::new(&console);
    let again = other.open_link(&code).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.headers.get("set-cookie").is_none());
    assert!(again.body.contains("already been used"));
    assert_eq!(other.get("/setup").await.status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        Browser::new(&console).get("/readyz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        Browser::new(&console).get("/livez").await.status,
        StatusCode::OK
    );
    for bad in ["", "ccl_00", "scim_123", &code.replace("ccl_", "ccl_f")] {
        let r = Browser::new(&console).open_link(bad).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // A link for a tenant that does not exist cannot be issued.
    let mut identity = app.identity.clone();
    let missing = identity
        .issue_console_link(idpb::IssueConsoleLinkRequest {
            tenant_id: "no-such-tenant".into(),
            ttl_seconds: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

async fn a_link_opens_once_under_concurrent_redeems(app: &TestApp) {
    let t = app.tenant("race").await;
    let code = app.console_code(&t.id, 0).await;
    // Spawned all at once, then awaited.
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let mut identity = app.identity.clone();
            let code = code.clone();
            tokio::spawn(async move {
                identity
                    .redeem_console_link(idpb::RedeemConsoleLinkRequest { code })
                    .await
            })
        })
        .collect();
    let mut opened = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.into_inner().tenant_id, t.id);
                opened += 1;
            }
            Err(s) => assert_eq!(s.code(), tonic::Code::Unauthenticated, "{s:?}"),
        }
    }
    assert_eq!(opened, 1);
}

async fn expired_link_is_refused(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("expiry").await;
    let code = app.console_code(&t.id, 1).await;
    // The shortest expiry is one second: wait it out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = Browser::new(&console).open_link(&code).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let mut identity = app.identity.clone();
    let long = identity
        .issue_console_link(idpb::IssueConsoleLinkRequest {
            tenant_id: t.id.clone(),
            ttl_seconds: 3601,
        })
        .await
        .unwrap_err();
    assert_eq!(long.code(), tonic::Code::InvalidArgument);
}

async fn a_session_sees_one_tenant(app: &TestApp) {
    let console = app.spawn_console().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("bravo").await;
    create_role(app, &a.id, "Staff").await;
    create_role(app, &b.id, "Staff").await;
    let b_user = user(&b, "bob@bravo.example").await;
    let b_group = group(&b, "Bravo admins", &[&b_user]).await;
    app.policy_caught_up().await;
    let mut browser = signed_in(app, &console, &a.id).await;

    let r = browser
        .post(&format!("/setup/tokens/{}/revoke", b.token_id), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(tokens(app, &b.id).await[0].revoked.is_none());
    assert_eq!(b.get("/Users").await.status, StatusCode::OK);

    assert_eq!(
        browser.get(&format!("/users/{b_user}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = browser.post(&format!("/users/{b_user}/lock"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(!role_of(app, &b.id, &b_user).await.locked);

    for path in ["/roles/preview", "/roles/apply"] {
        let r = browser
            .post(
                path,
                &[
                    ("kind", "assign"),
                    ("group_id", &b_group),
                    ("role", "Staff"),
                    ("priority", "5"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let mut policy = app.policy.clone();
    for tenant in [&a.id, &b.id] {
        let assignments = policy
            .list_assignments(pb::ListAssignmentsRequest {
                tenant_id: tenant.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .assignments;
        assert!(assignments.is_empty(), "{tenant}: {assignments:?}");
    }
    // A cookie rewritten for the other tenant fails its signature.
    let forged = browser.cookie.clone().unwrap().replacen(&a.id, &b.id, 1);
    browser.cookie = Some(forged);
    assert_eq!(browser.get("/setup").await.status, StatusCode::UNAUTHORIZED);
}

async fn forms_need_csrf_and_the_same_origin(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("csrf").await;
    let mut browser = signed_in(app, &console, &t.id).await;
    let csrf = browser.csrf.clone().unwrap();
    let origin = console.clone();
    let issue = [("description", "forged")];

    let no_token = browser
        .post_raw("/setup/tokens", &issue, &[("origin", &origin)])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "{}", no_token.body);
    assert!(no_token.body.contains("security token"));
    let wrong = browser
        .post_raw(
            "/setup/tokens",
            &[("csrf", "x"), ("description", "forged")],
            &[],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let with = [("csrf", csrf.as_str()), ("description", "forged")];
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "null")],
    ] {
        let r = browser.post_raw("/setup/tokens", &with, &headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.body.contains("Cross-site request refused"), "{}", r.body);
    }
    let mut stranger = Browser::new(&console);
    let r = stranger.post_raw("/setup/tokens", &with, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(tokens(app, &t.id).await.len(), 1, "nothing was issued");
    let metrics = reqwest::get(e2e::spawn_metrics().await)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("console_access_refusals_total{reason=\"forbidden\"}"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "console_http_requests_total{route=\"/setup/tokens\",method=\"POST\",status=\"403\"}"
    ));

    // The same form, done right, works: the refusals above were the checks.
    let ok = browser
        .post("/setup/tokens", &[("description", "genuine")])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(tokens(app, &t.id).await.len(), 2);

    // Signing out clears the cookie.
    let out = browser.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(browser.cookie.is_none());
}

async fn the_idp_profile_is_set_on_the_setup_page(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("profile").await;
    let mut browser = signed_in(app, &console, &t.id).await;
    let page = browser.get("/setup").await;
    assert!(
        page.body.contains(r#"value="entra" checked"#),
        "entra is the default: {}",
        page.body
    );
    let r = browser
        .post("/setup/profile", &[("profile", "generic")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Profile set to generic"), "{}", r.body);
    assert!(r.body.contains(r#"value="generic" checked"#), "{}", r.body);
    let stored = app
        .identity
        .clone()
        .get_tenant_profile(idpb::GetTenantProfileRequest {
            tenant_id: t.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .profile;
    assert_eq!(stored, idpb::IdpProfile::Generic as i32);
    // The gateway reads it with its next authentication: this tenant's
    // token was never used yet, so at once.
    let r = t
        .post(
            "/Users",
            json!({"userName": "a@x.com", "favouriteColour": "teal"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A name that is no profile changes nothing.
    let r = browser
        .post("/setup/profile", &[("profile", "azure")])
        .await;
    assert!(
        r.status.is_client_error() || r.body.contains("not found"),
        "{}",
        r.status
    );
}

async fn tokens_are_issued_once_and_revoked(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("tokens").await;
    let mut browser = signed_in(app, &console, &t.id).await;
    let r = browser
        .post("/setup/tokens", &[("description", "Entra prod")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let start = r.body.find("<code id=\"new-token\">").unwrap() + "<code id=\"new-token\">".len();
    let secret = r.body[start..start + 77].to_owned();
    assert!(secret.starts_with("scim_"), "{secret}");
    let listed = reqwest::Client::new()
        .get(format!("{}/Users", t.base))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let again = browser.get("/setup").await;
    assert!(!again.body.contains(&secret), "a secret is shown once only");
    assert!(again.body.contains("Entra prod"));

    let id = tokens(app, &t.id)
        .await
        .into_iter()
        .find(|k| k.description == "Entra prod")
        .unwrap()
        .id;
    let r = browser
        .post(&format!("/setup/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("revoked"));
    let revoked = tokens(app, &t.id)
        .await
        .into_iter()
        .find(|k| k.id == id)
        .unwrap();
    assert!(revoked.revoked.is_some());

    let mut identity = app.identity.clone();
    let nul = identity
        .issue_token(idpb::IssueTokenRequest {
            tenant_id: t.id.clone(),
            description: "a\u{0}b".into(),
            ttl_seconds: 0,
            secret: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(nul.code(), tonic::Code::InvalidArgument);
    let nul = browser
        .post("/setup/tokens", &[("description", "a\u{0}b")])
        .await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST);
    assert!(nul.body.contains("control characters"), "{}", nul.body);

    let rotated = browser
        .post(&format!("/setup/tokens/{}/rotate", t.token_id), &[])
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert!(rotated.body.contains("new-token"));
    assert_eq!(tokens(app, &t.id).await.len(), 3);
}

async fn role_changes_are_previewed_then_applied(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("roles").await;
    create_role(app, &t.id, "Employee").await;
    create_role(app, &t.id, "Manager").await;
    let alice = user(&t, "alice@roles.example").await;
    let bob = user(&t, "bob@roles.example").await;
    let managers = group(&t, "Managers", &[&alice]).await;
    app.policy_caught_up().await;
    let mut browser = signed_in(app, &console, &t.id).await;

    let page = browser.get("/roles").await;
    assert!(page.body.contains("Managers"), "{}", page.body);
    let preview = browser
        .post(
            "/roles/preview",
            &[("kind", "default"), ("role", "Employee")],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("2 users will change role"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("alice@roles.example"));
    assert_eq!(
        role_of(app, &t.id, &alice).await.role,
        "",
        "a preview changes nothing"
    );
    let applied = browser
        .post("/roles/apply", &[("kind", "default"), ("role", "Employee")])
        .await;
    assert!(
        applied.body.contains("2 users changed role"),
        "{}",
        applied.body
    );
    assert_eq!(role_of(app, &t.id, &bob).await.role, "Employee");

    let fields = [
        ("kind", "assign"),
        ("group_id", managers.as_str()),
        ("role", "Manager"),
        ("priority", "10"),
    ];
    let preview = browser.post("/roles/preview", &fields).await;
    assert!(
        preview.body.contains("1 user will change role"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("Employee → Manager"));
    let applied = browser.post("/roles/apply", &fields).await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(role_of(app, &t.id, &alice).await.role, "Manager");
    assert_eq!(role_of(app, &t.id, &bob).await.role, "Employee");

    let bad = browser
        .post(
            "/roles/preview",
            &[
                ("kind", "assign"),
                ("group_id", &managers),
                ("role", "Manager"),
                ("priority", "ten"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("whole number"), "{}", bad.body);
    let unknown_role = browser
        .post("/roles/apply", &[("kind", "default"), ("role", "Nope")])
        .await;
    assert!(
        unknown_role.status.is_client_error(),
        "{}",
        unknown_role.status
    );
    assert!(unknown_role.body.contains("role=\"alert\""));
    assert_eq!(role_of(app, &t.id, &bob).await.role, "Employee");
}

async fn users_are_locked_and_explained(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("locks").await;
    create_role(app, &t.id, "Employee").await;
    let mut policy = app.policy.clone();
    policy
        .set_default_role(pb::SetDefaultRoleRequest {
            tenant_id: t.id.clone(),
            role: "Employee".into(),
        })
        .await
        .unwrap();
    let carol = user(&t, "carol@locks.example").await;
    user(&t, "dave@locks.example").await;
    app.policy_caught_up().await;
    let mut browser = signed_in(app, &console, &t.id).await;

    let list = browser.get("/users?q=car").await;
    assert!(list.body.contains("carol@locks.example"), "{}", list.body);
    assert!(!list.body.contains("dave@locks.example"));
    let r = browser
        .post(&format!("/users/{carol}/lock"), &[("note", "audit")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(role_of(app, &t.id, &carol).await.locked);
    let detail = browser.get(&format!("/users/{carol}")).await;
    assert!(detail.body.contains("Role lock"), "{}", detail.body);
    assert!(detail.body.contains("Unlock role"));
    let r = browser.post(&format!("/users/{carol}/unlock"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!role_of(app, &t.id, &carol).await.locked);

    assert_eq!(
        browser.get("/users?after=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        browser.get("/users/not%20an%20id").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser.get("/log?status=weird").await.status,
        StatusCode::BAD_REQUEST
    );
    let missing = browser.get("/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("role=\"alert\""));
}

async fn the_report_downloads_as_csv(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("report").await;
    let erin = user(&t, "erin@report.example").await;
    app.policy_caught_up().await;
    let mut policy = app.policy.clone();
    policy
        .record_checkout(pb::RecordCheckoutRequest {
            tenant_id: t.id.clone(),
            user_id: erin.clone(),
            asset_id: "A-17".into(),
            asset_name: "=Laptop, 14\"".into(),
            checked_out_at: None,
        })
        .await
        .unwrap();
    let r = t
        .patch(
            &format!("/Users/{erin}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "Replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.policy_caught_up().await;
    let mut browser = signed_in(app, &console, &t.id).await;
    let page = browser.get("/report").await;
    assert!(page.body.contains("erin@report.example"), "{}", page.body);
    let csv = browser.get("/report.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert!(
        csv.body.starts_with("section,user_id,user_name"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("disabled,"), "{}", csv.body);
    assert!(csv.body.contains("erin@report.example"));
    assert!(csv.body.contains("\"'=Laptop, 14\"\"\""), "{}", csv.body);

    let bad = browser
        .post(
            "/report/alerts",
            &[("webhook_url", "not a url"), ("digest", "daily")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("role=\"alert\""));
    let bad_hour = browser
        .post(
            "/report/alerts",
            &[
                ("webhook_url", "https://hooks.example/x"),
                ("digest_hour", "25"),
            ],
        )
        .await;
    assert!(bad_hour.body.contains("from 0 to 23"), "{}", bad_hour.body);
    let saved = browser
        .post(
            "/report/alerts",
            &[
                ("webhook_url", "https://hooks.example/x"),
                ("generate_secret", "on"),
                ("digest", "weekly"),
                ("digest_hour", "7"),
                ("digest_weekday", "1"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(
        saved.body.contains("alert-secret"),
        "a generated secret is shown once"
    );
    let settings = policy
        .get_alert_settings(pb::GetAlertSettingsRequest {
            tenant_id: t.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(settings.webhook_url, "https://hooks.example/x");
    assert_eq!(settings.digest, pb::DigestFrequency::Weekly as i32);
    let test = browser.post("/report/alerts/test", &[]).await;
    assert_eq!(test.status, StatusCode::OK, "{}", test.body);
    assert!(test.body.contains("queued"));
}

async fn scimctl_prints_a_working_link(app: &TestApp) {
    use ::scimctl::Parser as _;
    let console = app.spawn_console().await;
    let t = app.tenant("cli").await;
    let argv = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--json",
        "console-link",
        &t.id,
        "--ttl-seconds",
        "120",
        "--console-url",
        &console,
    ];
    let cli = ::scimctl::Cli::try_parse_from(argv).unwrap();
    let mut out = Vec::new();
    ::scimctl::run(cli, &mut out).await.unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let url = printed["url"].as_str().unwrap();
    assert_eq!(printed["tenantId"], t.id.as_str());
    assert!(
        url.starts_with(&format!("{console}/login?code=ccl_")),
        "{url}"
    );
    let code = url.rsplit_once("code=").unwrap().1;
    let mut browser = Browser::new(&console);
    assert_eq!(browser.open_link(code).await.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/setup").await.status, StatusCode::OK);
}

/// Whatever a form or address holds, the answer is a page with a 4xx or a
/// 2xx, never a 5xx.
async fn no_input_makes_a_server_error(app: &TestApp) {
    let console = app.spawn_console().await;
    let t = app.tenant("garbage").await;
    let mut browser = signed_in(app, &console, &t.id).await;
    let junk = [
        "",
        " ",
        "\u{0}",
        "%",
        "'; DROP TABLE users; --",
        "<script>x</script>",
        "\"",
        "999999999999999999999",
        "-1",
        "../../etc",
        &"x".repeat(5000),
    ];
    let posts = [
        "/setup/tokens",
        "/setup/tokens/abc/revoke",
        "/setup/tokens/abc/rotate",
        "/roles/preview",
        "/roles/apply",
        "/users/abc/lock",
        "/users/abc/unlock",
        "/report/alerts",
        "/report/alerts/test",
        "/login",
    ];
    let fields = [
        "code",
        "switch",
        "description",
        "kind",
        "group_id",
        "role",
        "priority",
        "note",
        "webhook_url",
        "signing_secret",
        "digest",
        "digest_hour",
        "digest_weekday",
        "time_zone",
    ];
    for path in posts {
        for value in junk {
            let mut form: Vec<(&str, &str)> = fields.iter().map(|f| (*f, value)).collect();
            form.push(("kind", "assign"));
            let r = browser.post(path, &form).await;
            assert!(
                !r.status.is_server_error(),
                "{path} with {value:?}: {}",
                r.status
            );
            assert!(
                !r.body.contains("<script>x</script>"),
                "{path}: unescaped input"
            );
        }
    }
    for path in [
        "/users?q=%22%5C",
        "/users?after=1.x%20y",
        "/users?before=-5.abc",
        "/users/%00",
        "/log?resource=%25&before=x",
        "/log?before=99999999999999999999",
        "/roles?q=%22)%20or%20(",
        "/login?code=%00",
    ] {
        let r = browser.get(path).await;
        assert!(!r.status.is_server_error(), "{path}: {}", r.status);
    }
}

on_both_backends!(
    no_input_makes_a_server_error,
    scimctl_prints_a_working_link,
    console_link_opens_once,
    a_link_opens_once_under_concurrent_redeems,
    expired_link_is_refused,
    a_session_sees_one_tenant,
    forms_need_csrf_and_the_same_origin,
    tokens_are_issued_once_and_revoked,
    the_idp_profile_is_set_on_the_setup_page,
    role_changes_are_previewed_then_applied,
    users_are_locked_and_explained,
    the_report_downloads_as_csv,
);
