//! Opening a console link and signing out.
//!
//! `GET /login?code=…` redeems the one-time code with identity (which marks
//! it used), sets the session cookie and answers a small page that moves on
//! to `/setup` by a meta refresh. A redirect would not do: a `SameSite=Strict`
//! cookie set while following a link from the product (another site) is not
//! sent on a redirect in the same navigation, while the refresh is a new,
//! same-site navigation; it also drops the code from the address bar.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::html;
use proto::identity::v1 as pb;
use serde::Deserialize;
use tonic::Code;

use crate::AppState;
use crate::error::PageError;
use crate::layout;
use crate::session::SessionKeys;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    code: String,
}

pub async fn login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let code = query.code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(PageError::BadLink);
    }
    let redeemed = state
        .identity
        .clone()
        .redeem_console_link(pb::RedeemConsoleLinkRequest {
            code: code.to_owned(),
        })
        .await;
    let tenant = match redeemed {
        Ok(r) => r.into_inner().tenant_id,
        Err(s) if s.code() == Code::Unauthenticated => return Err(PageError::BadLink),
        Err(s) => return Err(s.into()),
    };
    let session = state
        .sessions
        .start(&tenant)
        .map_err(|_| PageError::Upstream(tonic::Status::unavailable("random source")))?;
    tracing::info!(tenant = %tenant, "console session started");
    let body = layout::bare(
        "Signed in",
        html! {
            p { "You are signed in to the console of tenant " strong { (tenant) } "." }
            p { a href="/setup" { "Continue to SCIM setup" } }
        },
    );
    Ok((
        [
            (header::SET_COOKIE, state.sessions.set_cookie(&session)),
            (header::REFRESH, "0;url=/setup".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// Ends the session in this browser (behind the CSRF gate, like every POST).
pub async fn logout() -> Response {
    let body = layout::bare(
        "Signed out",
        html! { p { "You are signed out. Open a new console link from the product to come back." } },
    );
    ([(header::SET_COOKIE, SessionKeys::clear_cookie())], body).into_response()
}
