//! Opening a console link, switching tenants, signing out.
//!
//! - `GET /login?code=…` never uses the code (mail and chat link scanners
//!   open links before the administrator does): it asks identity whose
//!   code it is (`InspectConsoleLink`) and shows a page with a button, a
//!   form that posts the code. An unknown, used or expired code gets the
//!   error page at once.
//! - `POST /login` (same-origin only, like every POST) redeems the code
//!   (`RedeemConsoleLink`, which marks it used), sets the session cookie
//!   and redirects to `/setup`. The redirect follows a same-site form post,
//!   so the `SameSite=Strict` cookie travels with it.
//! - Login CSRF: when the browser holds a live session of another tenant,
//!   both show a confirmation ("You are signed in to A; switch to B?")
//!   instead, and only its post, which names the tenant switched to,
//!   redeems the code. A link cannot silently move an administrator into
//!   another tenant's console.
//! - `POST /logout` ends the session in this browser; `POST
//!   /logout/everywhere` ends every session of the tenant, in every
//!   browser, copies of the cookie included (`EndConsoleSessions` advances
//!   the tenant's epoch).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use proto::identity::v1 as pb;
use serde::Deserialize;
use tonic::Code;

use crate::AppState;
use crate::error::PageError;
use crate::layout;
use crate::pages::{PageForm, PageQuery};
use crate::session::{Session, SessionKeys, now_seconds};

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    code: String,
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    code: String,
    /// The tenant the administrator agreed to switch to, from the
    /// confirmation page.
    #[serde(default)]
    switch: String,
}

/// A code as presented, refused early when it cannot be one.
fn presented(code: &str) -> Result<&str, PageError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(PageError::BadLink);
    }
    Ok(code)
}

fn link_error(status: tonic::Status) -> PageError {
    if status.code() == Code::Unauthenticated {
        PageError::BadLink
    } else {
        status.into()
    }
}

/// The tenant of a code identity would still redeem, leaving it unused.
async fn link_tenant(state: &AppState, code: &str) -> Result<String, PageError> {
    let inspected = state
        .identity
        .clone()
        .inspect_console_link(pb::InspectConsoleLinkRequest {
            code: code.to_owned(),
        })
        .await
        .map_err(link_error)?;
    Ok(inspected.into_inner().tenant_id)
}

/// The tenant of the link `code`, or the confirmation page when signing
/// in would replace this browser's live session of another tenant and
/// `confirmed` does not name the link's tenant.
async fn admit_link(
    state: &AppState,
    headers: &HeaderMap,
    code: &str,
    confirmed: &str,
) -> Result<Result<String, Markup>, PageError> {
    let tenant = link_tenant(state, code).await?;
    match state.session(headers).await? {
        Some(current) if current.tenant != tenant && confirmed != tenant => {
            Ok(Err(switch_page(&current.tenant, &tenant, code)))
        }
        _ => Ok(Ok(tenant)),
    }
}

/// `GET /login?code=…`: the sign-in button, or the switch confirmation.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<LinkQuery>,
) -> Result<Response, PageError> {
    let code = presented(&query.code)?;
    let page = match admit_link(&state, &headers, code, "").await? {
        Ok(tenant) => sign_in_page(&tenant, code),
        Err(confirmation) => confirmation,
    };
    Ok(page.into_response())
}

/// `POST /login`: redeems the code and starts the session, unless it would
/// switch tenants without the confirmation.
pub async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<LinkForm>,
) -> Result<Response, PageError> {
    let code = presented(&form.code)?;
    if let Err(confirmation) = admit_link(&state, &headers, code, &form.switch).await? {
        return Ok(confirmation.into_response());
    }
    let redeemed = state
        .identity
        .clone()
        .redeem_console_link(pb::RedeemConsoleLinkRequest {
            code: code.to_owned(),
        })
        .await
        .map_err(link_error)?
        .into_inner();
    state
        .epochs
        .remember(&redeemed.tenant_id, redeemed.session_epoch);
    let now = now_seconds();
    let session = state
        .sessions
        .start(&redeemed.tenant_id, redeemed.session_epoch, now)
        .map_err(|_| PageError::Upstream(tonic::Status::unavailable("random source")))?;
    tracing::info!(tenant = %session.tenant, "console session started");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, state.sessions.set_cookie(&session, now)),
            (header::LOCATION, "/setup".to_owned()),
        ],
        layout::bare(
            "Signed in",
            html! { p { a href="/setup" { "Continue to SCIM setup" } } },
        ),
    )
        .into_response())
}

/// The form that redeems `code`, optionally confirming a switch.
fn redeem_form(code: &str, switch: Option<&str>, label: Markup) -> Markup {
    html! {
        form.inline method="post" action="/login" {
            input type="hidden" name="code" value=(code);
            @if let Some(tenant) = switch {
                input type="hidden" name="switch" value=(tenant);
            }
            button type="submit" { (label) }
        }
    }
}

fn sign_in_page(tenant: &str, code: &str) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            p { "This link signs you in to the SCIM console of tenant " strong { (tenant) } "." }
            (redeem_form(code, None, html! { "Sign in to " (tenant) }))
            p.muted { "The link works once: after signing in, open a new one from the product to come back." }
        },
    )
}

fn switch_page(current: &str, tenant: &str, code: &str) -> Markup {
    layout::bare(
        "Switch tenant?",
        html! {
            div.notice role="alert" {
                "You are signed in to " strong { (current) } "; switch to " strong { (tenant) } "?"
            }
            p {
                "This link signs in to the console of tenant " strong { (tenant) }
                ". Switch only if you opened it yourself: it ends your session of "
                (current) " in this browser."
            }
            (redeem_form(code, Some(tenant), html! { "Switch to " (tenant) }))
            p { a href="/setup" { "Stay signed in to " (current) } }
        },
    )
}

/// `POST /logout`: ends the session in this browser (behind the session
/// gate, like every tenant page). A copy of the cookie elsewhere stays
/// valid until it idles out or expires; `POST /logout/everywhere` ends
/// copies too.
pub async fn logout(session: Session) -> Response {
    tracing::info!(tenant = %session.tenant, "console session signed out");
    signed_out(html! {
        p { "You are signed out in this browser. Open a new console link from the product to come back." }
    })
}

/// `POST /logout/everywhere`: ends every session of the tenant, this one
/// included, in every browser and on every replica.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let ended = state
        .identity
        .clone()
        .end_console_sessions(pb::EndConsoleSessionsRequest {
            tenant_id: session.tenant.clone(),
        })
        .await?
        .into_inner();
    state.epochs.remember(&session.tenant, ended.session_epoch);
    tracing::info!(tenant = %session.tenant, "console sessions of the tenant ended");
    Ok(signed_out(html! {
        p {
            "Every console session of tenant " strong { (session.tenant) }
            " has ended, in every browser. Open a new console link from the product to come back."
        }
    }))
}

fn signed_out(body: Markup) -> Response {
    (
        [(header::SET_COOKIE, SessionKeys::clear_cookie())],
        layout::bare("Signed out", body),
    )
        .into_response()
}
