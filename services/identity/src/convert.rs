//! Conversions between storage records and `identity.v1` messages. Each
//! destructures its source, so a new field cannot be dropped silently.

use prost_types::Timestamp;
use proto::identity::v1 as pb;

use crate::domain::Micros;
use crate::error::IdentityError;
use crate::store::{
    AdoptionPolicy, ChangeRecord, GroupRecord, ImportedAccount, Keyset, MemberRecord,
    RequestLogRecord, RowKey, SortValue, TenantLimits, TenantRecord, TokenRecord, UserRecord,
};

pub fn timestamp(micros: Micros) -> Timestamp {
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    }
}

pub fn tenant(record: TenantRecord) -> pb::Tenant {
    let TenantRecord {
        id,
        display_name,
        created,
    } = record;
    pb::Tenant {
        id,
        display_name,
        created: Some(timestamp(created)),
    }
}

/// Limits as sent: absent ones are 0 ("the gateway's default").
pub fn limits(limits: TenantLimits) -> pb::TenantLimits {
    let TenantLimits {
        rate_per_second,
        burst,
    } = limits;
    pb::TenantLimits {
        rate_per_second: rate_per_second.unwrap_or(0),
        burst: burst.unwrap_or(0),
    }
}

/// Limits as stored: 0 means "the gateway's default".
pub fn limits_from(message: pb::TenantLimits) -> TenantLimits {
    let pb::TenantLimits {
        rate_per_second,
        burst,
    } = message;
    TenantLimits {
        rate_per_second: Some(rate_per_second).filter(|v| *v > 0),
        burst: Some(burst).filter(|v| *v > 0),
    }
}

pub fn token(record: TokenRecord) -> pb::TokenInfo {
    let TokenRecord {
        id,
        tenant_id,
        description,
        hint,
        created,
        last_used,
        revoked,
        expires,
    } = record;
    pb::TokenInfo {
        id,
        tenant_id,
        description,
        hint,
        created: Some(timestamp(created)),
        last_used: last_used.map(timestamp),
        revoked: revoked.map(timestamp),
        expires: expires.map(timestamp),
    }
}

/// `groups` are the user's `(group id, displayName)` pairs.
pub fn user(record: UserRecord, groups: Vec<(String, String)>) -> pb::User {
    let UserRecord {
        id,
        tenant_id,
        user_name,
        external_id,
        active,
        version,
        created,
        last_modified,
        resource,
    } = record;
    pb::User {
        id,
        tenant_id,
        user_name,
        external_id,
        active,
        version,
        created: Some(timestamp(created)),
        last_modified: Some(timestamp(last_modified)),
        resource_json: resource,
        groups: groups
            .into_iter()
            .map(|(id, display_name)| pb::GroupRef { id, display_name })
            .collect(),
    }
}

pub fn group(record: GroupRecord) -> pb::Group {
    let GroupRecord {
        id,
        tenant_id,
        display_name,
        external_id,
        version,
        created,
        last_modified,
        resource,
        members,
    } = record;
    let members_included = members.is_some();
    pb::Group {
        id,
        tenant_id,
        display_name,
        external_id,
        version,
        created: Some(timestamp(created)),
        last_modified: Some(timestamp(last_modified)),
        resource_json: resource,
        members: members
            .unwrap_or_default()
            .into_iter()
            .map(|MemberRecord { user_id, display }| pb::MemberRef { user_id, display })
            .collect(),
        members_included,
    }
}

/// A stored change record as a stream message. Unknown kinds (from a newer
/// writer) travel without a kind rather than failing the stream.
pub fn change(record: ChangeRecord) -> pb::Change {
    use pb::change::Kind;
    let ChangeRecord {
        seq,
        tenant_id,
        kind,
        resource_id,
        version,
        at,
        payload,
        trace_context,
    } = record;
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
    let user_ids = || -> Vec<String> {
        payload["userIds"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = match kind.as_str() {
        "user.created" | "user.updated" | "user.restored" => {
            Some(Kind::UserChanged(pb::UserChanged {
                user_id: resource_id,
                active: payload["active"].as_bool().unwrap_or(true),
                version,
            }))
        }
        "user.deleted" => Some(Kind::UserDeleted(pb::UserDeleted {
            user_id: resource_id,
        })),
        "group.created" | "group.updated" => Some(Kind::GroupChanged(pb::GroupChanged {
            group_id: resource_id,
            display_name: payload["displayName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })),
        "group.deleted" => Some(Kind::GroupDeleted(pb::GroupDeleted {
            group_id: resource_id,
            user_ids: user_ids(),
        })),
        "members.added" => Some(Kind::MembersAdded(pb::MembersAdded {
            group_id: resource_id,
            user_ids: user_ids(),
        })),
        "members.removed" => Some(Kind::MembersRemoved(pb::MembersRemoved {
            group_id: resource_id,
            user_ids: user_ids(),
        })),
        _ => None,
    };
    pb::Change {
        seq,
        tenant_id,
        at: Some(timestamp(at)),
        kind,
        traceparent: trace_context.unwrap_or_default(),
    }
}

/// A keyset from a list request.
pub fn keyset(message: pb::Keyset) -> Keyset {
    let pb::Keyset { after, backwards } = message;
    Keyset {
        after: after.map(row_key_from),
        backwards,
    }
}

fn row_key_from(message: pb::ListKey) -> RowKey {
    let pb::ListKey {
        sort,
        created_micros,
        id,
    } = message;
    RowKey {
        sort: sort.map(|s| match s {
            pb::list_key::Sort::SortText(t) => SortValue::Text(t),
            pb::list_key::Sort::SortInt(i) => SortValue::Int(i),
        }),
        created: created_micros,
        id,
    }
}

/// A row key for a list response.
pub fn row_key(key: RowKey) -> pb::ListKey {
    let RowKey { sort, created, id } = key;
    pb::ListKey {
        sort: sort.map(|s| match s {
            SortValue::Text(t) => pb::list_key::Sort::SortText(t),
            SortValue::Int(i) => pb::list_key::Sort::SortInt(i),
        }),
        created_micros: created,
        id,
    }
}

/// A log entry as sent to readers.
pub fn request_log_entry(record: RequestLogRecord) -> pb::RequestLogEntry {
    let RequestLogRecord {
        id,
        tenant_id,
        at,
        request_id,
        method,
        path,
        status,
        scim_type,
        latency_ms,
        resource_type,
        resource_id,
        resource_name,
        summary,
        client,
        token_id,
        test_connection,
        idp_profile,
    } = record;
    pb::RequestLogEntry {
        id,
        tenant_id,
        time: Some(timestamp(at)),
        request_id,
        method,
        path,
        status: u32::from(status),
        scim_type,
        latency_ms,
        resource_type,
        resource_id,
        resource_name,
        summary,
        client,
        token_id,
        test_connection,
        idp_profile,
    }
}

/// A log entry as the gateway recorded it, before validation; `time`
/// defaults to `now`.
pub fn request_log_record(entry: pb::RequestLogEntry, now: Micros) -> RequestLogRecord {
    let pb::RequestLogEntry {
        id: _,
        tenant_id,
        time,
        request_id,
        method,
        path,
        status,
        scim_type,
        latency_ms,
        resource_type,
        resource_id,
        resource_name,
        summary,
        client,
        token_id,
        test_connection,
        idp_profile,
    } = entry;
    RequestLogRecord {
        id: 0,
        tenant_id,
        at: time.map_or(now, |t| micros(&t)),
        request_id,
        method,
        path,
        status: u16::try_from(status).unwrap_or(u16::MAX),
        scim_type,
        latency_ms,
        resource_type,
        resource_id,
        resource_name,
        summary,
        client,
        token_id,
        test_connection,
        idp_profile,
    }
}

/// Microseconds of a timestamp (saturating).
pub fn micros(t: &Timestamp) -> Micros {
    t.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(t.nanos) / 1_000)
}

/// A tenant's profile as sent on the wire.
pub fn profile(p: scim::IdpProfile) -> pb::IdpProfile {
    match p {
        scim::IdpProfile::Entra => pb::IdpProfile::Entra,
        scim::IdpProfile::Okta => pb::IdpProfile::Okta,
        scim::IdpProfile::Generic => pb::IdpProfile::Generic,
    }
}

/// A profile from the wire; UNSPECIFIED (or an unknown number) is None.
pub fn profile_from(p: i32) -> Option<scim::IdpProfile> {
    match pb::IdpProfile::try_from(p) {
        Ok(pb::IdpProfile::Entra) => Some(scim::IdpProfile::Entra),
        Ok(pb::IdpProfile::Okta) => Some(scim::IdpProfile::Okta),
        Ok(pb::IdpProfile::Generic) => Some(scim::IdpProfile::Generic),
        Ok(pb::IdpProfile::Unspecified) | Err(_) => None,
    }
}

/// An imported account from the wire: a userName is required.
pub fn imported_account(a: pb::ImportedAccount) -> Result<ImportedAccount, IdentityError> {
    let pb::ImportedAccount {
        user_name,
        email,
        email_verified,
        external_id,
    } = a;
    if user_name.trim().is_empty() {
        return Err(IdentityError::InvalidArgument(
            "an imported account needs a userName".into(),
        ));
    }
    Ok(ImportedAccount {
        user_name,
        email: Some(email).filter(|e| !e.is_empty()),
        email_verified,
        external_id: Some(external_id).filter(|e| !e.is_empty()),
    })
}

/// An adoption policy as sent on the wire.
pub fn adoption_policy(p: AdoptionPolicy) -> pb::AdoptionPolicy {
    match p {
        AdoptionPolicy::Off => pb::AdoptionPolicy::Off,
        AdoptionPolicy::ExternalId => pb::AdoptionPolicy::ExternalId,
        AdoptionPolicy::VerifiedEmail => pb::AdoptionPolicy::VerifiedEmail,
        AdoptionPolicy::UserName => pb::AdoptionPolicy::UserName,
    }
}

/// An adoption policy from the wire; UNSPECIFIED is None.
pub fn adoption_policy_from(p: i32) -> Option<AdoptionPolicy> {
    match pb::AdoptionPolicy::try_from(p) {
        Ok(pb::AdoptionPolicy::Off) => Some(AdoptionPolicy::Off),
        Ok(pb::AdoptionPolicy::ExternalId) => Some(AdoptionPolicy::ExternalId),
        Ok(pb::AdoptionPolicy::VerifiedEmail) => Some(AdoptionPolicy::VerifiedEmail),
        Ok(pb::AdoptionPolicy::UserName) => Some(AdoptionPolicy::UserName),
        Ok(pb::AdoptionPolicy::Unspecified) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_microseconds() {
        let t = timestamp(1_700_000_000_123_456);
        assert_eq!(t.seconds, 1_700_000_000);
        assert_eq!(t.nanos, 123_456_000);
        let before_epoch = timestamp(-1);
        assert_eq!(
            (before_epoch.seconds, before_epoch.nanos),
            (-1, 999_999_000)
        );
    }
}
