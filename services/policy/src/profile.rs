//! Names and emails for the report and the alerts, from identity: policy
//! asks identity's `GetUser` for the users it reports (and for a holder at
//! checkout) and keeps the last answer, because identity no longer shows
//! deleted users. This needs no change to identity or its change stream.

use std::time::Duration;

use proto::identity::v1 as idpb;
use serde_json::Value;

use crate::domain::TenantId;
use crate::equipment::Profile;

/// How long one look-up may take; a slow identity only leaves names stale.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The user's profile as identity shows it now; `None` when identity does
/// not show the user (deleted) or cannot be reached.
pub async fn fetch(
    mut identity: crate::IdentityClient,
    tenant: &TenantId,
    user_id: &str,
) -> Option<Profile> {
    let call = identity.get_user(idpb::GetUserRequest {
        tenant_id: tenant.as_str().to_owned(),
        user_id: user_id.to_owned(),
    });
    let user = match tokio::time::timeout(LOOKUP_TIMEOUT, call).await {
        Ok(Ok(response)) => response.into_inner().user?,
        Ok(Err(status)) => {
            tracing::debug!(code = ?status.code(), "identity has no profile for the user");
            return None;
        }
        Err(_) => {
            tracing::warn!("identity look-up timed out");
            return None;
        }
    };
    let doc: Value = serde_json::from_str(&user.resource_json).unwrap_or(Value::Null);
    Some(from_scim(&user.user_name, &doc))
}

/// Name and email from a SCIM User: `displayName`, else `name.formatted`,
/// else given and family name; the primary email, else the first.
pub fn from_scim(user_name: &str, doc: &Value) -> Profile {
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let name = &doc["name"];
    let joined = [&name["givenName"], &name["familyName"]]
        .iter()
        .filter_map(|v| text(v))
        .collect::<Vec<_>>()
        .join(" ");
    let display_name = text(&doc["displayName"])
        .or_else(|| text(&name["formatted"]))
        .unwrap_or(joined);
    let emails = doc["emails"].as_array().cloned().unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e["primary"].as_bool() == Some(true))
        .or_else(|| emails.first())
        .and_then(|e| text(&e["value"]))
        .unwrap_or_default();
    Profile {
        user_name: user_name.to_owned(),
        display_name,
        email,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_emails_come_from_the_scim_document() {
        let doc = json!({
            "name": {"givenName": "Alice", "familyName": "Example"},
            "emails": [{"value": "a@x.com"}, {"value": "alice@x.com", "primary": true}]
        });
        let p = from_scim("alice", &doc);
        assert_eq!(p.display_name, "Alice Example");
        assert_eq!(p.email, "alice@x.com");
        let p = from_scim(
            "bob",
            &json!({"displayName": "Bob", "emails": [{"value": "b@x.com"}]}),
        );
        assert_eq!(
            (p.display_name.as_str(), p.email.as_str()),
            ("Bob", "b@x.com")
        );
        assert_eq!(
            from_scim("c", &Value::Null),
            Profile {
                user_name: "c".into(),
                ..Profile::default()
            }
        );
    }
}
