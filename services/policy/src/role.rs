//! The role function: the role table below (rules examined in order, the first that applies
//! decides) as one pure function.
//!
//! | order | rule            | role                                   |
//! | ----- | --------------- | -------------------------------------- |
//! | 1     | locked          | the role frozen at lock time           |
//! | 2     | deleted         | `Disabled`                             |
//! | 3     | inactive        | `Disabled`                             |
//! | 4     | group assignment| highest priority; ties: smallest group id |
//! | 5     | default role    | the tenant's default role              |
//! | 6     | no default role | none (empty)                           |

use std::cmp::Ordering;

use crate::domain::DISABLED;

/// Which row of the role table decided a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Locked,
    Deleted,
    Inactive,
    GroupAssignment,
    DefaultRole,
    NoDefaultRole,
}

impl Rule {
    /// Every rule in the order the table examines them.
    pub const ORDER: [Rule; 6] = [
        Rule::Locked,
        Rule::Deleted,
        Rule::Inactive,
        Rule::GroupAssignment,
        Rule::DefaultRole,
        Rule::NoDefaultRole,
    ];

    /// The stored form.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Locked => "locked",
            Rule::Deleted => "deleted",
            Rule::Inactive => "inactive",
            Rule::GroupAssignment => "group",
            Rule::DefaultRole => "default",
            Rule::NoDefaultRole => "none",
        }
    }

    /// Reads the stored form back.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ORDER.into_iter().find(|r| r.code() == code)
    }
}

/// A group of the user that has a role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub group_id: String,
    pub role: String,
    pub priority: i32,
}

/// Why a user has their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub rule: Rule,
    /// The deciding group, for [`Rule::GroupAssignment`].
    pub group_id: Option<String>,
    /// The deciding assignment's priority (0 otherwise).
    pub priority: i32,
}

impl Reason {
    /// A reason without a deciding group.
    pub fn of(rule: Rule) -> Self {
        Self {
            rule,
            group_id: None,
            priority: 0,
        }
    }

    /// One human sentence.
    pub fn summary(&self) -> String {
        match self.rule {
            Rule::Locked => "role locked by an administrator".into(),
            Rule::Deleted => "user deleted in the identity provider".into(),
            Rule::Inactive => "user deactivated in the identity provider".into(),
            Rule::GroupAssignment => format!(
                "assigned through group {} (priority {})",
                self.group_id.as_deref().unwrap_or("?"),
                self.priority
            ),
            Rule::DefaultRole => "the tenant's default role for users in no mapped group".into(),
            Rule::NoDefaultRole => "in no mapped group, and the tenant has no default role".into(),
        }
    }
}

/// Everything the role of one user depends on.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The frozen role, when the user is locked.
    pub locked_role: Option<&'a str>,
    pub deleted: bool,
    pub active: bool,
    /// The user's groups that have an assignment, in any order.
    pub candidates: &'a [Candidate],
    /// The tenant's default role, when one is set.
    pub default_role: Option<&'a str>,
}

/// A role and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Empty when the user has no role.
    pub role: String,
    pub reason: Reason,
}

/// One rule of the table as [`explain`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rule: Rule,
    /// True for the one rule that decided the role.
    pub applies: bool,
    pub detail: String,
}

/// Higher priority first; ties: the smaller group id first.
pub fn precedence(a: &Candidate, b: &Candidate) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| a.group_id.cmp(&b.group_id))
}

/// The deciding assignment among `candidates`.
pub fn winner(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates.iter().min_by(|a, b| precedence(a, b))
}

/// The role table.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let fixed = |role: &str, rule| Decision {
        role: role.to_owned(),
        reason: Reason::of(rule),
    };
    if let Some(frozen) = inputs.locked_role {
        return fixed(frozen, Rule::Locked);
    }
    if inputs.deleted {
        return fixed(DISABLED, Rule::Deleted);
    }
    if !inputs.active {
        return fixed(DISABLED, Rule::Inactive);
    }
    if let Some(best) = winner(inputs.candidates) {
        return Decision {
            role: best.role.clone(),
            reason: Reason {
                rule: Rule::GroupAssignment,
                group_id: Some(best.group_id.clone()),
                priority: best.priority,
            },
        };
    }
    match inputs.default_role {
        Some(role) => fixed(role, Rule::DefaultRole),
        None => fixed("", Rule::NoDefaultRole),
    }
}

/// Every rule of the table in order, saying whether its condition holds and
/// marking the one that decided (the same one [`decide`] picks).
pub fn explain(inputs: &Inputs<'_>) -> Vec<Step> {
    let decided = decide(inputs).reason.rule;
    Rule::ORDER
        .into_iter()
        .map(|rule| Step {
            rule,
            applies: rule == decided,
            detail: detail(rule, inputs),
        })
        .collect()
}

fn detail(rule: Rule, inputs: &Inputs<'_>) -> String {
    match rule {
        Rule::Locked => match inputs.locked_role {
            Some(r) => format!("locked: the role frozen at lock time is '{r}'"),
            None => "not locked".into(),
        },
        Rule::Deleted if inputs.deleted => "deleted in the identity provider".into(),
        Rule::Deleted => "not deleted".into(),
        Rule::Inactive if !inputs.active => "inactive in the identity provider".into(),
        Rule::Inactive => "active".into(),
        Rule::GroupAssignment => match winner(inputs.candidates) {
            Some(best) => format!(
                "{} of the user's groups have an assignment; group {} (priority {}) gives '{}'",
                inputs.candidates.len(),
                best.group_id,
                best.priority,
                best.role
            ),
            None => "none of the user's groups has an assignment".into(),
        },
        Rule::DefaultRole => match inputs.default_role {
            Some(r) => format!("the tenant's default role is '{r}'"),
            None => "the tenant has no default role".into(),
        },
        Rule::NoDefaultRole => match inputs.default_role {
            Some(_) => "a default role is set".into(),
            None => "no default role: the user has no role".into(),
        },
    }
}

#[cfg(test)]
#[path = "role_tests.rs"]
mod tests;
