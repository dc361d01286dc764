//! Group requests: SCIM documents in, membership rows out. PATCH operations
//! on `members` become row operations (in their order); every other
//! operation goes through the SCIM PATCH engine on the group document.

use proto::identity::v1 as pb;
use scim::{CompValue, CompareOp, Filter, PatchOpKind, PatchOperation, ScimError};
use serde_json::Value;

use crate::convert;
use crate::domain::{GroupColumns, MemberOp, NewMember, ResourceId, TenantId, members};
use crate::error::IdentityError;
use crate::store::{GroupRecord, Store};

fn is_members(name: &str) -> bool {
    name.eq_ignore_ascii_case("members")
}

/// The ids named by `members[value eq "a" or value eq "b"]`.
fn filter_ids(filter: &Filter, out: &mut Vec<ResourceId>) -> Result<(), IdentityError> {
    match filter {
        Filter::Or(a, b) => {
            filter_ids(a, out)?;
            filter_ids(b, out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() => {
            // An id that is no UUID names no member: removing it changes nothing.
            if let Some(id) = ResourceId::parse(id) {
                out.push(id);
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_path(
            "members can be selected only by value eq \"id\" (joined with or)",
        )
        .into()),
    }
}

/// Splits PATCH operations into document operations and membership changes.
pub fn split_patch(
    ops: Vec<PatchOperation>,
) -> Result<(Vec<PatchOperation>, Vec<MemberOp>), IdentityError> {
    let mut doc_ops = Vec::new();
    let mut member_ops = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) if is_members(&path.attr.name) => {
                member_ops.push(member_op_with_path(&op)?);
            }
            Some(_) => doc_ops.push(op),
            None => {
                let PatchOperation {
                    op: kind,
                    path,
                    value,
                } = op;
                let Some(Value::Object(mut fields)) = value else {
                    doc_ops.push(PatchOperation {
                        op: kind,
                        path,
                        value,
                    });
                    continue;
                };
                let key = fields.keys().find(|k| is_members(k)).cloned();
                if let Some(list) = key.and_then(|k| fields.remove(&k)) {
                    let ids = members(&list)?;
                    member_ops.push(match kind {
                        PatchOpKind::Replace => MemberOp::ReplaceAll(ids),
                        PatchOpKind::Add | PatchOpKind::Remove => MemberOp::Add(ids),
                    });
                }
                if !fields.is_empty() {
                    doc_ops.push(PatchOperation {
                        op: kind,
                        path,
                        value: Some(Value::Object(fields)),
                    });
                }
            }
        }
    }
    Ok((doc_ops, member_ops))
}

fn member_op_with_path(op: &PatchOperation) -> Result<MemberOp, IdentityError> {
    let Some(path) = &op.path else {
        return Err(ScimError::no_target("a members operation needs a path").into());
    };
    if path.sub.is_some() || path.attr.sub.is_some() {
        return Err(ScimError::invalid_path("members sub-attributes cannot be changed").into());
    }
    if let Some(filter) = &path.filter {
        if op.op != PatchOpKind::Remove {
            return Err(ScimError::invalid_path("only remove can take members[...]").into());
        }
        let mut ids = Vec::new();
        filter_ids(filter, &mut ids)?;
        return Ok(MemberOp::Remove(ids));
    }
    let ids = || members(op.value.as_ref().unwrap_or(&Value::Null));
    Ok(match op.op {
        PatchOpKind::Add => MemberOp::Add(ids()?),
        PatchOpKind::Replace => MemberOp::ReplaceAll(ids()?),
        // Entra sends the members to remove as the value: remove only those.
        PatchOpKind::Remove if op.value.is_some() => {
            MemberOp::Remove(ids()?.into_iter().map(|m| m.id).collect())
        }
        PatchOpKind::Remove => MemberOp::RemoveAll,
    })
}

/// Validates a POST/PUT body into columns and members.
pub fn group_document(
    rt: &scim::ResourceTypeDef,
    resource_json: &str,
    mode: scim::WriteMode,
) -> Result<(GroupColumns, Vec<NewMember>), IdentityError> {
    let body: Value = serde_json::from_str(resource_json)
        .map_err(|e| ScimError::invalid_syntax(format!("body is not valid JSON: {e}")))?;
    let doc = scim::resource::normalize(rt, &body, mode)?;
    GroupColumns::from_canonical(&doc)
}

/// Applies document operations to a stored group.
pub fn patch_document(
    rt: &scim::ResourceTypeDef,
    current: &GroupRecord,
    ops: &[PatchOperation],
) -> Result<GroupColumns, IdentityError> {
    let mut doc: Value = serde_json::from_str(&current.resource)
        .map_err(|_| ScimError::new(500, None, "stored group is unreadable"))?;
    let patched = if ops.is_empty() {
        doc
    } else {
        scim::resource::drop_unknown_extensions(rt, &mut doc);
        scim::patch::apply_patch(rt, &doc, ops, &current.id)?
    };
    let (cols, _) = GroupColumns::from_canonical(&patched)?;
    Ok(cols)
}

/// The group as a response: re-read with members when they were asked for.
pub async fn respond(
    store: &dyn Store,
    tenant: &TenantId,
    group: GroupRecord,
    include_members: bool,
) -> Result<pb::Group, IdentityError> {
    if !include_members {
        return Ok(convert::group(group));
    }
    let id = ResourceId::parse(&group.id).ok_or(IdentityError::NotFound("group"))?;
    let full = store
        .get_group(tenant, &id, true)
        .await?
        .ok_or(IdentityError::NotFound("group"))?;
    Ok(convert::group(full))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ops(body: Value) -> Vec<PatchOperation> {
        scim::patch::parse_patch_request(&body).unwrap()
    }

    const A: &str = "6f1f7f2e-0000-4000-8000-000000000001";
    const B: &str = "6f1f7f2e-0000-4000-8000-000000000002";

    #[test]
    fn entra_remove_with_value_list_removes_only_those() {
        let (doc, members) = split_patch(ops(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"value": A}]}]
        })))
        .unwrap();
        assert!(doc.is_empty());
        assert_eq!(
            members,
            vec![MemberOp::Remove(vec![ResourceId::parse(A).unwrap()])]
        );
    }

    #[test]
    fn value_filter_and_plain_remove() {
        let path = format!("members[value eq \"{A}\" or value eq \"{B}\"]");
        let (_, members) = split_patch(ops(serde_json::json!({
            "Operations": [{"op": "remove", "path": path}, {"op": "remove", "path": "members"}]
        })))
        .unwrap();
        assert_eq!(members.len(), 2);
        assert!(matches!(&members[0], MemberOp::Remove(ids) if ids.len() == 2));
        assert_eq!(members[1], MemberOp::RemoveAll);
    }

    #[test]
    fn no_path_values_split_members_from_other_attributes() {
        let (doc, members) = split_patch(ops(serde_json::json!({
            "Operations": [{"op": "replace", "value": {"displayName": "x", "members": [{"value": A}]}}]
        })))
        .unwrap();
        assert_eq!(doc.len(), 1);
        assert_eq!(doc[0].value, Some(serde_json::json!({"displayName": "x"})));
        assert_eq!(
            members,
            vec![MemberOp::ReplaceAll(vec![NewMember {
                id: ResourceId::parse(A).unwrap(),
                display: None
            }])]
        );
    }

    #[test]
    fn bad_member_values_are_invalid_value() {
        let err = split_patch(ops(serde_json::json!({
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "not-an-id"}]}]
        })))
        .unwrap_err();
        assert!(
            matches!(err, IdentityError::Scim(e) if e.scim_type == Some(scim::ScimType::InvalidValue))
        );
    }
}
