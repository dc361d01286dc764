//! The page shell (header, navigation, notices) and small rendering helpers.
//! Pages carry no inline script or style: the Content-Security-Policy allows
//! only the console's own `/static/` files.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use prost_types::Timestamp;
use time::OffsetDateTime;

use crate::error::PageError;
use crate::session::Session;

/// The section a page belongs to (highlighted in the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Setup,
    Roles,
    Users,
    Log,
    Report,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Setup, "/setup", "SCIM setup"),
    (Nav::Roles, "/roles", "Role assignments"),
    (Nav::Users, "/users", "Sub-accounts"),
    (Nav::Log, "/log", "Provisioning log"),
    (Nav::Report, "/report", "Disabled with equipment"),
];

/// The outcome of an action, shown at the top of the page it returns to.
#[derive(Debug, Clone, Default)]
pub enum Notice {
    #[default]
    None,
    Done(String),
    Failed(StatusCode, String),
}

impl Notice {
    /// A result as a notice; access errors (session, CSRF, cross-site) are
    /// not shown on a tenant's page but refused outright.
    pub fn from_result(result: Result<String, PageError>) -> Result<Self, PageError> {
        match result {
            Ok(text) => Ok(Self::Done(text)),
            Err(e) if e.is_access_error() => Err(e),
            Err(e) => Ok(Self::Failed(e.status(), e.to_string())),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Failed(status, _) => *status,
            Self::None | Self::Done(_) => StatusCode::OK,
        }
    }
}

/// A rendered page with its status.
pub struct Page {
    pub status: StatusCode,
    pub html: Markup,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        (self.status, self.html).into_response()
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · SCIM console" }
            link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href="/static/console.css";
            script src="/static/console.js" defer {}
        }
    }
}

/// A tenant page: navigation, the notice, then `body`.
pub fn page(session: &Session, nav: Nav, title: &str, notice: &Notice, body: Markup) -> Page {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.brand { "Configure SCIM" span.tenant { "Tenant: " strong { (session.tenant) } } }
                    nav aria-label="Console sections" {
                        ul {
                            @for (item, href, label) in NAV {
                                li {
                                    @if item == nav {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        (csrf(session))
                        span.muted.session { "Session ends " (until(session.expires)) }
                        button.link type="submit" { "Sign out" }
                        button.link type="submit" formaction="/logout/everywhere" { "Sign out everywhere" }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (notice_box(notice))
                    (body)
                }
            }
        }
    };
    Page {
        status: notice.status(),
        html,
    }
}

fn notice_box(notice: &Notice) -> Markup {
    html! {
        @match notice {
            Notice::None => {},
            Notice::Done(text) => div.notice.ok role="status" { (text) },
            Notice::Failed(_, text) => div.notice.error role="alert" { strong { "Error: " } (text) },
        }
    }
}

/// A page outside any session (errors, sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main #main.bare {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = match status {
        StatusCode::UNAUTHORIZED => "Sign-in needed",
        StatusCode::FORBIDDEN => "Request refused",
        StatusCode::NOT_FOUND => "Not found",
        _ if status.is_client_error() => "Cannot do that",
        _ => "Something went wrong",
    };
    bare(
        title,
        html! {
            div.notice.error role="alert" { (message) }
            p { a href="/setup" { "Back to the console" } }
        },
    )
}

/// The hidden CSRF field every form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A timestamp as `2026-11-29 12:40 UTC`, or a dash.
pub fn when(ts: Option<&Timestamp>) -> String {
    ts.and_then(|t| {
        OffsetDateTime::from_unix_timestamp(t.seconds)
            .ok()
            .map(|d| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                    d.year(),
                    u8::from(d.month()),
                    d.day(),
                    d.hour(),
                    d.minute()
                )
            })
    })
    .unwrap_or_else(|| "—".into())
}

/// A Unix time as `HH:MM UTC`.
fn until(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map_or_else(String::new, |d| {
            format!("{:02}:{:02} UTC", d.hour(), d.minute())
        })
}

/// `n thing` or `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
