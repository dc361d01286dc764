//! SCIM setup: the Tenant URL, tokens (issue, rotate, revoke; a secret is
//! shown once, on the page that issued it), the connection status and the
//! steps for Microsoft Entra ID and Okta.

use axum::extract::{Path, State};
use maud::{Markup, html};
use proto::identity::v1 as pb;
use serde::Deserialize;
use tonic::Code;

use super::{PageForm, plain_id, text};
use crate::AppState;
use crate::error::PageError;
use crate::layout::{self, Nav, Notice, Page, when};
use crate::session::Session;

/// The IdP profiles an administrator may choose, with what each means.
const PROFILES: &[(pb::IdpProfile, &str, &str)] = &[
    (
        pb::IdpProfile::Entra,
        "entra",
        "Microsoft Entra ID (default): unknown attributes ignored, \"True\"/\"False\" read as booleans, filtered attribute lists and bare member ids accepted",
    ),
    (
        pb::IdpProfile::Okta,
        "okta",
        "Okta: the same tolerances as Entra ID",
    ),
    (
        pb::IdpProfile::Generic,
        "generic",
        "Any other client: RFC 7643/7644 read strictly (each of those is a 400 naming its rule)",
    ),
];

#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    profile: String,
}

/// Sets the tenant's IdP profile.
pub async fn set_profile(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<ProfileForm>,
) -> Result<Page, PageError> {
    let result = async {
        let (profile, name, _) = PROFILES
            .iter()
            .find(|(_, name, _)| *name == form.profile)
            .ok_or(PageError::NotFound("That profile"))?;
        state
            .identity
            .clone()
            .set_tenant_profile(pb::SetTenantProfileRequest {
                tenant_id: session.tenant.clone(),
                profile: *profile as i32,
            })
            .await?;
        tracing::info!(tenant = %session.tenant, profile = %name, "profile set in the console");
        Ok(format!(
            "Profile set to {name}. Requests follow it within 10 seconds."
        ))
    }
    .await;
    render(&state, &session, &Notice::from_result(result)?, None).await
}

async fn profile(state: &AppState, session: &Session) -> Result<i32, PageError> {
    Ok(state
        .identity
        .clone()
        .get_tenant_profile(pb::GetTenantProfileRequest {
            tenant_id: session.tenant.clone(),
        })
        .await?
        .into_inner()
        .profile)
}

fn profile_section(session: &Session, current: i32) -> Markup {
    let current = match pb::IdpProfile::try_from(current) {
        Ok(pb::IdpProfile::Unspecified) | Err(_) => pb::IdpProfile::Entra,
        Ok(p) => p,
    };
    html! {
        section aria-labelledby="profile-h" {
            h2 #profile-h { "Identity provider profile" }
            p { "Which identity provider provisions this tenant: it decides which documented deviations from the SCIM standard are accepted." }
            form method="post" action="/setup/profile" {
                (layout::csrf(session))
                fieldset {
                    legend { "Profile" }
                    @for (p, name, what) in PROFILES {
                        div {
                            input type="radio" name="profile" id={ "profile-" (name) } value=(name) checked[*p == current];
                            label for={ "profile-" (name) } { code { (name) } " — " (what) }
                        }
                    }
                }
                button.primary type="submit" { "Save profile" }
            }
        }
    }
}

/// A token just issued: its metadata and the secret, shown this once.
struct Issued {
    token: pb::TokenInfo,
    secret: String,
}

pub async fn show(State(state): State<AppState>, session: Session) -> Result<Page, PageError> {
    render(&state, &session, &Notice::None, None).await
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    description: String,
}

pub async fn issue(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<IssueForm>,
) -> Result<Page, PageError> {
    let description = match text(&form.description, "The description", 200) {
        Ok(d) if d.is_empty() => "issued in the console".to_owned(),
        Ok(d) => d,
        Err(e) => return render(&state, &session, &Notice::from_result(Err(e))?, None).await,
    };
    let issued = issue_token(&state, &session, &description).await;
    match issued {
        Ok(issued) => {
            let notice = Notice::Done("Token issued. Copy it now: it is shown only once.".into());
            render(&state, &session, &notice, Some(issued)).await
        }
        Err(e) => render(&state, &session, &Notice::from_result(Err(e))?, None).await,
    }
}

async fn issue_token(
    state: &AppState,
    session: &Session,
    description: &str,
) -> Result<Issued, PageError> {
    let r = state
        .identity
        .clone()
        .issue_token(pb::IssueTokenRequest {
            tenant_id: session.tenant.clone(),
            description: description.to_owned(),
            ttl_seconds: 0,
            secret: String::new(),
        })
        .await?
        .into_inner();
    tracing::info!(tenant = %session.tenant, "token issued in the console");
    Ok(Issued {
        token: r.token.unwrap_or_default(),
        secret: r.secret,
    })
}

pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Page, PageError> {
    let result = async {
        let id = plain_id(&id, "That token")?;
        let r = state
            .identity
            .clone()
            .revoke_token(pb::RevokeTokenRequest {
                tenant_id: session.tenant.clone(),
                token_id: id,
            })
            .await?
            .into_inner();
        let hint = r.token.map(|t| t.hint).unwrap_or_default();
        Ok(format!(
            "Token {hint}… revoked. It stops working within 10 seconds."
        ))
    }
    .await;
    render(&state, &session, &Notice::from_result(result)?, None).await
}

/// Issues a new token next to a live one; the old one stays valid until the
/// administrator revokes it (rotation without downtime).
pub async fn rotate(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Page, PageError> {
    let result = async {
        let id = plain_id(&id, "That token")?;
        let old = list_tokens(&state, &session)
            .await?
            .into_iter()
            .find(|t| t.id == id && t.revoked.is_none())
            .ok_or(PageError::NotFound("That live token"))?;
        let description = format!("{} (rotated)", old.description);
        let issued = issue_token(&state, &session, &description).await?;
        Ok((old.hint, issued))
    }
    .await;
    match result {
        Ok((hint, issued)) => {
            let notice = Notice::Done(format!(
                "New token issued. Paste it into your identity provider, press Test Connection, then revoke the old token {hint}…"
            ));
            render(&state, &session, &notice, Some(issued)).await
        }
        Err(e) => render(&state, &session, &Notice::from_result(Err(e))?, None).await,
    }
}

async fn list_tokens(state: &AppState, session: &Session) -> Result<Vec<pb::TokenInfo>, PageError> {
    Ok(state
        .identity
        .clone()
        .list_tokens(pb::ListTokensRequest {
            tenant_id: session.tenant.clone(),
        })
        .await?
        .into_inner()
        .tokens)
}

/// The tenant's connection health, or why there is none.
async fn health(state: &AppState, session: &Session) -> Result<pb::TenantHealth, String> {
    let answer = state
        .identity
        .clone()
        .get_tenant_health(pb::GetTenantHealthRequest {
            tenant_id: session.tenant.clone(),
            window_seconds: 86_400,
        })
        .await;
    match answer {
        Ok(r) => r
            .into_inner()
            .health
            .ok_or_else(|| "No connection data yet.".to_owned()),
        Err(s) if s.code() == Code::Unimplemented => {
            Err("Connection status is not available on this server yet.".into())
        }
        Err(s) => Err(PageError::from(s).to_string()),
    }
}

async fn render(
    state: &AppState,
    session: &Session,
    notice: &Notice,
    issued: Option<Issued>,
) -> Result<Page, PageError> {
    let (tokens, health, current) = tokio::join!(
        list_tokens(state, session),
        health(state, session),
        profile(state, session)
    );
    let tokens = tokens?;
    let current = current?;
    let tenant_url = state.tenant_url(&session.tenant);
    let body = html! {
        section aria-labelledby="conn-h" {
            h2 #conn-h { "Connection details" }
            p { "Paste these two values into your identity provider's provisioning settings." }
            div.field {
                span.label #tenant-url-label { "Tenant URL" }
                div.copyable {
                    code #tenant-url aria-labelledby="tenant-url-label" { (tenant_url) }
                    button.copy type="button" data-copy="tenant-url" { "Copy Tenant URL" }
                }
            }
            @if let Some(issued) = &issued {
                div.secret role="region" aria-labelledby="new-token-label" {
                    span.label #new-token-label { "Secret token (" (issued.token.description) ")" }
                    div.copyable {
                        code #new-token { (issued.secret) }
                        button.copy type="button" data-copy="new-token" { "Copy token" }
                    }
                    p.hint { "This token is shown only now. Store it in your identity provider; it cannot be displayed again." }
                }
            }
        }
        (tokens_section(session, &tokens))
        (profile_section(session, current))
        (status_section(health))
        (instructions(&tenant_url))
    };
    Ok(layout::page(
        session,
        Nav::Setup,
        "SCIM setup",
        notice,
        body,
    ))
}

fn tokens_section(session: &Session, tokens: &[pb::TokenInfo]) -> Markup {
    let now = crate::session::now_seconds();
    html! {
        section aria-labelledby="tokens-h" {
            h2 #tokens-h { "Secret tokens" }
            p { "A tenant may hold several tokens: to rotate, issue a new one, paste it into the identity provider, then revoke the old one." }
            @if tokens.is_empty() {
                p { "No tokens yet." }
            } @else {
                div.table-wrap {
                    table {
                        caption.sr-only { "Secret tokens of this tenant" }
                        thead { tr { th scope="col" { "Token" } th scope="col" { "Description" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                        tbody {
                            @for t in tokens {
                                @let expired = t.expires.as_ref().is_some_and(|e| u64::try_from(e.seconds).unwrap_or(0) <= now);
                                tr {
                                    td { code { (t.hint) "…" } }
                                    td { (t.description) }
                                    td { (when(t.created.as_ref())) }
                                    td { (when(t.last_used.as_ref())) }
                                    td {
                                        @if t.revoked.is_some() { span.badge.off { "Revoked " (when(t.revoked.as_ref())) } }
                                        @else if expired { span.badge.off { "Expired" } }
                                        @else { span.badge.on { "Active" } }
                                    }
                                    td.actions {
                                        @if t.revoked.is_none() && !expired {
                                            form method="post" action={ "/setup/tokens/" (t.id) "/rotate" } {
                                                (layout::csrf(session))
                                                button type="submit" aria-label={ "Rotate token " (t.hint) } { "Rotate" }
                                            }
                                            form method="post" action={ "/setup/tokens/" (t.id) "/revoke" } data-confirm="Revoke this token? Provisioning with it stops within 10 seconds." {
                                                (layout::csrf(session))
                                                button.danger type="submit" aria-label={ "Revoke token " (t.hint) } { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.inline method="post" action="/setup/tokens" {
                (layout::csrf(session))
                label for="description" { "Description of a new token" }
                input #description name="description" type="text" maxlength="200" placeholder="Entra ID production";
                button.primary type="submit" { "Issue token" }
            }
        }
    }
}

fn status_section(health: Result<pb::TenantHealth, String>) -> Markup {
    html! {
        section aria-labelledby="status-h" {
            h2 #status-h { "Connection status" }
            @match health {
                Err(why) => p.muted { (why) },
                Ok(h) => {
                    @let (risk_class, risk) = match h.quarantine_risk.as_str() {
                        "ok" => ("on", "Low"),
                        "warning" => ("warn", "Elevated"),
                        "quarantine_risk" => ("off", "High: the identity provider may quarantine the job"),
                        _ => ("warn", "Unknown"),
                    };
                    dl.status {
                        dt { "Last request" } dd { (when(h.last_request.as_ref())) }
                        dt { "Last Test Connection" } dd { (when(h.last_test_connection.as_ref())) }
                        dt { "Errors in the last 24 hours" }
                        dd { (h.errors) " of " (h.requests) " requests (" (format!("{:.1}", h.error_rate * 100.0)) "%)" }
                        dt { "Quarantine risk" } dd { span class={ "badge " (risk_class) } { (risk) } }
                    }
                    @if !h.summary.is_empty() { p { (h.summary) } }
                }
            }
        }
    }
}

fn instructions(tenant_url: &str) -> Markup {
    html! {
        section aria-labelledby="steps-h" {
            h2 #steps-h { "Step by step" }
            details open {
                summary { "Microsoft Entra ID" }
                ol {
                    li { "In the Microsoft Entra admin center, open " em { "Enterprise applications" } " → " em { "New application" } " → " em { "Create your own application" } " (integrate any other application you don't find in the gallery)." }
                    li { "Open " em { "Provisioning" } ", choose " em { "Get started" } " and set " em { "Provisioning Mode" } " to " em { "Automatic" } "." }
                    li { "Under " em { "Admin Credentials" } ", paste the Tenant URL " code { (tenant_url) } " and a secret token from above." }
                    li { "Press " em { "Test Connection" } ". Entra looks up a random user and expects an empty list; the status above shows when the test arrived." }
                    li { "Keep the default attribute mappings (users are matched on " code { "userName" } "), assign users and groups, then set " em { "Provisioning Status" } " to " em { "On" } " and save." }
                    li { "Entra syncs every 20 to 40 minutes. Map the groups it provisions to roles on " a href="/roles" { "Role assignments" } "." }
                }
            }
            details {
                summary { "Okta" }
                ol {
                    li { "In the Okta Admin Console, create an app integration (SAML 2.0 or SWA) for the product and open its " em { "General" } " tab: enable " em { "SCIM provisioning" } "." }
                    li { "On the " em { "Provisioning" } " tab, set " em { "SCIM connector base URL" } " to " code { (tenant_url) } " and " em { "Unique identifier field for users" } " to " code { "userName" } "." }
                    li { "Tick " em { "Push New Users" } ", " em { "Push Profile Updates" } " and " em { "Push Groups" } "; set " em { "Authentication Mode" } " to " em { "HTTP Header" } " and paste a secret token as the bearer token." }
                    li { "Press " em { "Test Connector Configuration" } ", save, then enable " em { "Create Users" } ", " em { "Update User Attributes" } " and " em { "Deactivate Users" } " under " em { "To App" } "." }
                    li { "Assign people and push groups; map the pushed groups to roles on " a href="/roles" { "Role assignments" } "." }
                }
            }
        }
    }
}
