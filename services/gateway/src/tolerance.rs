//! The tenant's IdP profile applied to a write before identity sees it
//! (see [`scim::tolerance`]): unknown attributes dropped and named in the
//! provisioning log, or refused; boolean strings and bare member ids as the
//! profile says. Refusals are SCIM errors naming their rule.

use proto::identity::v1 as pb;
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::provlog;

/// Which resource type a write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

async fn resource_type(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
) -> Result<&'static scim::ResourceTypeDef, ApiError> {
    let types = state.types(&caller.tenant_id).await?;
    Ok(match kind {
        Kind::User => types.user,
        Kind::Group => types.group,
    })
}

fn noted(done: scim::tolerance::Tolerated) {
    if !done.ignored.is_empty() {
        provlog::note(|n| n.ignored.extend(done.ignored));
    }
}

/// A POST or PUT body as the caller's profile reads it.
pub async fn resource(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    mut body: Value,
) -> Result<Value, ApiError> {
    let rt = resource_type(state, caller, kind).await?;
    noted(scim::tolerance::resource(
        rt,
        &mut body,
        caller.behaviours(),
    )?);
    Ok(body)
}

/// A PATCH body's operations as the caller's profile reads them, checked
/// (400 before any write) and typed; empty when the profile dropped every
/// one of them (each on an unknown attribute).
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    body: &Value,
) -> Result<Vec<pb::PatchOperation>, ApiError> {
    let mut ops = scim::patch::parse_patch_request(body)?;
    let rt = resource_type(state, caller, kind).await?;
    noted(scim::tolerance::patch(rt, &mut ops, caller.behaviours())?);
    Ok(ops
        .into_iter()
        .map(
            |scim::PatchOperation { op, path, value }| pb::PatchOperation {
                op: match op {
                    scim::PatchOpKind::Add => pb::PatchOp::Add,
                    scim::PatchOpKind::Replace => pb::PatchOp::Replace,
                    scim::PatchOpKind::Remove => pb::PatchOp::Remove,
                } as i32,
                path: path.map(|p| p.to_string()).unwrap_or_default(),
                value_json: value.map(|v| v.to_string()).unwrap_or_default(),
            },
        )
        .collect())
}
