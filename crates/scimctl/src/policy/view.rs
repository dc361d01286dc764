//! How policy values print: JSON views (camelCase, `null` for "none") and
//! the table rows shared by several commands. A user without a role shows
//! as `-` in tables and `null` in JSON.

use std::io::Write;

use proto::policy::v1::{self as pb, RoleRule};
use serde::Serialize;

use crate::CliError;
use crate::output;
use crate::table::Table;

/// The stable name of a rule of the role table, in tables and JSON alike.
pub fn rule_name(rule: i32) -> &'static str {
    match RoleRule::try_from(rule).unwrap_or(RoleRule::Unspecified) {
        RoleRule::Locked => "locked",
        RoleRule::Inactive => "inactive",
        RoleRule::Deleted => "deleted",
        RoleRule::GroupAssignment => "group-assignment",
        RoleRule::DefaultRole => "default-role",
        RoleRule::NoDefaultRole => "no-default-role",
        RoleRule::Unspecified => "unspecified",
    }
}

/// `Some(role)`, or `None` for "no role".
fn role(name: String) -> Option<String> {
    Some(name).filter(|n| !n.is_empty())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    pub name: String,
    pub description: String,
    pub built_in: bool,
}

impl From<pb::Role> for RoleView {
    fn from(r: pb::Role) -> Self {
        Self {
            name: r.name,
            description: r.description,
            built_in: r.built_in,
        }
    }
}

pub fn roles_table(roles: &[RoleView], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["NAME", "BUILT-IN", "DESCRIPTION"]);
    for r in roles {
        let built_in = yes_no(r.built_in);
        table.row(vec![r.name.clone(), built_in, r.description.clone()]);
    }
    Ok(table.write(out)?)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentView {
    pub group_id: String,
    pub role: String,
    pub priority: i32,
}

impl From<pb::Assignment> for AssignmentView {
    fn from(a: pb::Assignment) -> Self {
        Self {
            group_id: a.group_id,
            role: a.role,
            priority: a.priority,
        }
    }
}

pub fn assignments_table(list: &[AssignmentView], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["GROUP", "ROLE", "PRIORITY"]);
    for a in list {
        let priority = a.priority.to_string();
        table.row(vec![a.group_id.clone(), a.role.clone(), priority]);
    }
    Ok(table.write(out)?)
}

/// Why a user has a role; `groupId` and `priority` only for `group-assignment`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonView {
    pub rule: &'static str,
    pub group_id: Option<String>,
    pub priority: Option<i32>,
    pub summary: String,
}

impl From<Option<pb::RoleReason>> for ReasonView {
    fn from(r: Option<pb::RoleReason>) -> Self {
        let r = r.unwrap_or_default();
        let group_id = role(r.group_id);
        Self {
            rule: rule_name(r.rule),
            priority: group_id.as_ref().map(|_| r.priority),
            group_id,
            summary: r.summary,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveView {
    pub tenant_id: String,
    pub user_id: String,
    pub role: Option<String>,
    pub reason: ReasonView,
    pub locked: bool,
    /// Deactivated or deleted in the IdP (shown even while locked).
    pub upstream_disabled: bool,
    pub since: Option<String>,
}

impl EffectiveView {
    pub fn of(e: Option<pb::EffectiveRole>) -> Result<Self, CliError> {
        let e = e.ok_or(CliError::Missing("role"))?;
        Ok(Self {
            tenant_id: e.tenant_id,
            user_id: e.user_id,
            role: role(e.role),
            reason: e.reason.into(),
            locked: e.locked,
            upstream_disabled: e.upstream_disabled,
            since: output::rfc3339(e.since.as_ref()),
        })
    }
}

/// One row per user: `USER ROLE RULE LOCKED SINCE REASON`.
pub fn effective_table(users: &[EffectiveView], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["USER", "ROLE", "RULE", "LOCKED", "SINCE", "REASON"]);
    for u in users {
        let mut reason = u.reason.summary.clone();
        if u.locked && u.upstream_disabled {
            reason.push_str(" (deactivated or deleted upstream)");
        }
        table.row(vec![
            u.user_id.clone(),
            u.role.clone().unwrap_or_default(),
            u.reason.rule.to_owned(),
            yes_no(u.locked),
            short(u.since.as_deref()),
            reason,
        ]);
    }
    Ok(table.write(out)?)
}

/// An RFC 3339 instant cut to the second, for tables.
fn short(at: Option<&str>) -> String {
    let at = at.unwrap_or_default();
    match at.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => at.to_owned(),
    }
}

/// One entry of the role-change stream or of a user's history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    pub seq: i64,
    pub tenant_id: String,
    pub user_id: String,
    pub from_role: Option<String>,
    pub to_role: Option<String>,
    pub reason: ReasonView,
    pub at: Option<String>,
}

impl From<pb::RoleChange> for ChangeView {
    fn from(c: pb::RoleChange) -> Self {
        Self {
            seq: c.seq,
            tenant_id: c.tenant_id,
            user_id: c.user_id,
            from_role: role(c.from_role),
            to_role: role(c.to_role),
            reason: c.reason.into(),
            at: output::rfc3339(c.at.as_ref()),
        }
    }
}

impl ChangeView {
    /// `<at> #<seq> <tenant> <user> <from> -> <to> [<rule>] <summary>`,
    /// control characters escaped.
    pub fn line(&self) -> String {
        let none = || "-".to_owned();
        let at = Some(short(self.at.as_deref())).filter(|a| !a.is_empty());
        let text = format!(
            "{} #{} {} {} {} -> {} [{}] {}",
            at.unwrap_or_else(none),
            self.seq,
            self.tenant_id,
            self.user_id,
            self.from_role.clone().unwrap_or_else(none),
            self.to_role.clone().unwrap_or_else(none),
            self.reason.rule,
            self.reason.summary,
        );
        crate::table::sanitize(&text)
    }
}

pub fn changes_table(changes: &[ChangeView], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["SEQ", "AT", "FROM", "TO", "RULE", "REASON"]);
    for c in changes {
        table.row(vec![
            c.seq.to_string(),
            short(c.at.as_deref()),
            c.from_role.clone().unwrap_or_default(),
            c.to_role.clone().unwrap_or_default(),
            c.reason.rule.to_owned(),
            c.reason.summary.clone(),
        ]);
    }
    Ok(table.write(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_cut_to_the_second() {
        assert_eq!(
            short(Some("2025-01-02T03:04:05.123Z")),
            "2025-01-02T03:04:05Z"
        );
        assert_eq!(short(Some("2025-01-02T03:04:05Z")), "2025-01-02T03:04:05Z");
        assert_eq!(short(None), "");
    }

    #[test]
    fn a_change_is_one_line() {
        let change = ChangeView::from(pb::RoleChange {
            seq: 7,
            tenant_id: "acme".into(),
            user_id: "u1".into(),
            from_role: "Admin".into(),
            to_role: String::new(),
            reason: Some(pb::RoleReason {
                rule: RoleRule::NoDefaultRole.into(),
                summary: "no\nrole".into(),
                ..Default::default()
            }),
            at: None,
        });
        assert_eq!(
            change.line(),
            "- #7 acme u1 Admin -> - [no-default-role] no\\nrole"
        );
        assert_eq!(change.reason.group_id, None);
        assert_eq!(change.reason.priority, None);
    }
}
