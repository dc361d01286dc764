//! `scimctl explain` and `dry-run`: why a user has a role, and what a
//! change would do.

use std::io::Write;

use proto::policy::v1 as pb;
use proto::policy::v1::dry_run_request::Change;
use serde::Serialize;

use super::Client;
use super::args::DryRunArgs;
use super::view::{self, AssignmentView, EffectiveView, rule_name};
use crate::CliError;
use crate::output::{self, Format};
use crate::table::Table;

/// `explain --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Explanation {
    role: EffectiveView,
    /// The rules of the role table in order; the one deciding `applies`.
    steps: Vec<StepView>,
    /// The user's groups with an assignment, highest priority first.
    candidate_assignments: Vec<AssignmentView>,
}

#[derive(Debug, Serialize)]
struct StepView {
    rule: &'static str,
    applies: bool,
    detail: String,
}

/// `dry-run --json`.
#[derive(Debug, Serialize)]
struct DryRun {
    changes: Vec<DiffView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DiffView {
    user_id: String,
    from_role: Option<String>,
    to_role: Option<String>,
}

pub async fn explain(
    mut client: Client,
    tenant_id: String,
    user_id: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let request = pb::ExplainRequest { tenant_id, user_id };
    let response = client.explain(request).await?.into_inner();
    let explanation = Explanation {
        role: EffectiveView::of(response.role)?,
        steps: (response.steps.into_iter())
            .map(|s| StepView {
                rule: rule_name(s.rule),
                applies: s.applies,
                detail: s.detail,
            })
            .collect(),
        candidate_assignments: (response.candidate_assignments.into_iter())
            .map(AssignmentView::from)
            .collect(),
    };
    match format {
        Format::Json => output::json(out, &explanation),
        Format::Human => {
            view::effective_table(std::slice::from_ref(&explanation.role), out)?;
            writeln!(out)?;
            let mut steps = Table::new(&["STEP", "RULE", "APPLIES", "DETAIL"]);
            for (i, s) in explanation.steps.iter().enumerate() {
                let applies = if s.applies { "yes" } else { "no" };
                steps.row(vec![
                    (i + 1).to_string(),
                    s.rule.to_owned(),
                    applies.to_owned(),
                    s.detail.clone(),
                ]);
            }
            steps.write(out)?;
            writeln!(out)?;
            writeln!(out, "candidate assignments (highest priority first):")?;
            view::assignments_table(&explanation.candidate_assignments, out)
        }
    }
}

pub async fn dry_run(
    mut client: Client,
    args: DryRunArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let DryRunArgs {
        tenant,
        set_assignment,
        remove_assignment,
        set_default_role,
    } = args;
    // clap lets exactly one through; the order here is only for the compiler.
    let change = match (set_assignment, remove_assignment, set_default_role) {
        (Some((group_id, role, priority)), _, _) => Change::SetAssignment(pb::Assignment {
            group_id,
            role,
            priority,
        }),
        (None, Some(group), _) => Change::RemoveAssignmentGroupId(group),
        (None, None, role) => Change::SetDefaultRole(role.unwrap_or_default()),
    };
    let request = pb::DryRunRequest {
        tenant_id: tenant,
        change: Some(change),
    };
    let diffs = client.dry_run(request).await?.into_inner().changes;
    let changes: Vec<DiffView> = (diffs.into_iter())
        .map(|d| DiffView {
            user_id: d.user_id,
            from_role: Some(d.from_role).filter(|r| !r.is_empty()),
            to_role: Some(d.to_role).filter(|r| !r.is_empty()),
        })
        .collect();
    match format {
        Format::Json => output::json(out, &DryRun { changes }),
        Format::Human => {
            let mut table = Table::new(&["USER", "FROM", "TO"]);
            for c in &changes {
                table.row(vec![
                    c.user_id.clone(),
                    c.from_role.clone().unwrap_or_default(),
                    c.to_role.clone().unwrap_or_default(),
                ]);
            }
            table.write(out)?;
            let n = changes.len();
            Ok(writeln!(
                out,
                "{n} user(s) would change role; nothing was changed"
            )?)
        }
    }
}
