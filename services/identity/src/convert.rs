//! Conversions between storage records and `identity.v1` messages. Each
//! destructures its source, so a new field cannot be dropped silently.

use prost_types::Timestamp;
use proto::identity::v1 as pb;

use crate::domain::Micros;
use crate::store::{TenantRecord, TokenRecord, UserRecord};

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

pub fn user(record: UserRecord) -> pb::User {
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
