//! Conversions between domain records and `policy.v1` messages, and from
//! identity's change messages. Each destructures its source, so a new field
//! cannot be dropped silently.

use prost_types::Timestamp;
use proto::identity::v1 as idpb;
use proto::policy::v1 as pb;

use crate::domain::{
    EffectiveRecord, Micros, ReplicaChange, RoleChangeRecord, RoleDiff, RoleRecord, SnapshotUser,
    StreamChange,
};
use crate::role::{Candidate, Reason, Rule, Step};

/// Micros as a protobuf timestamp.
pub fn timestamp(micros: Micros) -> Timestamp {
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    }
}

pub fn rule(rule: Rule) -> pb::RoleRule {
    match rule {
        Rule::Locked => pb::RoleRule::Locked,
        Rule::Deleted => pb::RoleRule::Deleted,
        Rule::Inactive => pb::RoleRule::Inactive,
        Rule::GroupAssignment => pb::RoleRule::GroupAssignment,
        Rule::DefaultRole => pb::RoleRule::DefaultRole,
        Rule::NoDefaultRole => pb::RoleRule::NoDefaultRole,
    }
}

pub fn reason(reason: Reason) -> pb::RoleReason {
    let summary = reason.summary();
    let Reason {
        rule: r,
        group_id,
        priority,
    } = reason;
    pb::RoleReason {
        rule: rule(r) as i32,
        group_id: group_id.unwrap_or_default(),
        priority,
        summary,
    }
}

pub fn effective(record: EffectiveRecord) -> pb::EffectiveRole {
    let EffectiveRecord {
        tenant_id,
        user_id,
        role,
        reason: why,
        locked,
        upstream_disabled,
        since,
    } = record;
    pb::EffectiveRole {
        tenant_id,
        user_id,
        role,
        reason: Some(reason(why)),
        locked,
        upstream_disabled,
        since: Some(timestamp(since)),
    }
}

pub fn role_change(record: RoleChangeRecord) -> pb::RoleChange {
    let RoleChangeRecord {
        seq,
        tenant_id,
        user_id,
        from_role,
        to_role,
        reason: why,
        at,
    } = record;
    pb::RoleChange {
        seq,
        tenant_id,
        user_id,
        from_role,
        to_role,
        reason: Some(reason(why)),
        at: Some(timestamp(at)),
    }
}

pub fn role(record: RoleRecord) -> pb::Role {
    let RoleRecord {
        name,
        description,
        built_in,
    } = record;
    pb::Role {
        name,
        description,
        built_in,
    }
}

pub fn assignment(candidate: Candidate) -> pb::Assignment {
    let Candidate {
        group_id,
        role,
        priority,
    } = candidate;
    pb::Assignment {
        group_id,
        role,
        priority,
    }
}

pub fn step(step: Step) -> pb::ExplainStep {
    let Step {
        rule: r,
        applies,
        detail,
    } = step;
    pb::ExplainStep {
        rule: rule(r) as i32,
        applies,
        detail,
    }
}

pub fn diff(diff: RoleDiff) -> pb::RoleDiff {
    let RoleDiff {
        user_id,
        from_role,
        to_role,
    } = diff;
    pb::RoleDiff {
        user_id,
        from_role,
        to_role,
    }
}

/// identity's change as policy replicates it. Kinds unknown to this version
/// (sent without a kind) only move the cursor.
pub fn stream_change(change: idpb::Change) -> StreamChange {
    use idpb::change::Kind;
    let idpb::Change {
        seq,
        tenant_id,
        at: _,
        kind,
        // The follower reads it from the batch (see `follower::BatchTrace`).
        traceparent: _,
    } = change;
    let change = match kind {
        Some(Kind::UserChanged(idpb::UserChanged {
            user_id,
            active,
            version: _,
        })) => ReplicaChange::UserChanged { user_id, active },
        Some(Kind::UserDeleted(idpb::UserDeleted { user_id })) => {
            ReplicaChange::UserDeleted { user_id }
        }
        Some(Kind::GroupChanged(idpb::GroupChanged { .. })) | None => ReplicaChange::Other,
        Some(Kind::GroupDeleted(idpb::GroupDeleted { group_id, user_ids })) => {
            ReplicaChange::GroupDeleted { group_id, user_ids }
        }
        Some(Kind::MembersAdded(idpb::MembersAdded { group_id, user_ids })) => {
            ReplicaChange::MembersAdded { group_id, user_ids }
        }
        Some(Kind::MembersRemoved(idpb::MembersRemoved { group_id, user_ids })) => {
            ReplicaChange::MembersRemoved { group_id, user_ids }
        }
    };
    StreamChange {
        seq,
        tenant_id,
        change,
    }
}

pub fn snapshot_user(user: idpb::SnapshotUser) -> SnapshotUser {
    let idpb::SnapshotUser {
        user_id,
        active,
        deleted,
        group_ids,
    } = user;
    SnapshotUser {
        user_id,
        active,
        deleted,
        group_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_carry_their_summary_and_group() {
        let r = reason(Reason {
            rule: Rule::GroupAssignment,
            group_id: Some("g".into()),
            priority: 3,
        });
        assert_eq!(r.rule, pb::RoleRule::GroupAssignment as i32);
        assert_eq!((r.group_id.as_str(), r.priority), ("g", 3));
        assert!(r.summary.contains("group g"));
    }

    #[test]
    fn unknown_change_kinds_only_move_the_cursor() {
        let c = stream_change(idpb::Change {
            seq: 9,
            tenant_id: "t".into(),
            at: None,
            kind: None,
            traceparent: String::new(),
        });
        assert_eq!(c.change, ReplicaChange::Other);
        assert_eq!(c.seq, 9);
    }

    #[test]
    fn timestamps_keep_microseconds() {
        let t = timestamp(1_700_000_000_123_456);
        assert_eq!((t.seconds, t.nanos), (1_700_000_000, 123_456_000));
    }
}
