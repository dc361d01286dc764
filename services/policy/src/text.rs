//! NUL in text: Postgres refuses it in `text` columns, so a request
//! carrying one anywhere (a role name, a description, a lock note, a
//! webhook URL, an asset id, a nested or repeated field) is refused on
//! arrival with INVALID_ARGUMENT naming the field, before any store call.
//!
//! The check walks the request's protobuf encoding with the types of
//! `policy.v1` from the descriptor set, so every string field of every
//! request is covered, those added later included.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

use crate::error::PolicyError;

/// A field: its name, whether it is a string, and its message type.
struct Field {
    name: String,
    string: bool,
    message: Option<String>,
}

/// Message types by full name (`.policy.v1.CreateRoleRequest`), their
/// fields by number.
type Types = HashMap<String, HashMap<i32, Field>>;

fn types() -> &'static Types {
    static TYPES: OnceLock<Types> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types = Types::new();
        if let Ok(set) = FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET) {
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for m in &file.message_type {
                    add(&mut types, &format!(".{package}"), m);
                }
            }
        }
        types
    })
}

fn add(types: &mut Types, scope: &str, m: &DescriptorProto) {
    let name = format!("{scope}.{}", m.name());
    let fields = m
        .field
        .iter()
        .map(|f| {
            let field = Field {
                name: f.name().to_owned(),
                string: f.r#type() == Type::String,
                message: (f.r#type() == Type::Message).then(|| f.type_name().to_owned()),
            };
            (f.number(), field)
        })
        .collect();
    types.insert(name.clone(), fields);
    for nested in &m.nested_type {
        add(types, &name, nested);
    }
}

/// INVALID_ARGUMENT when a string field of the `policy.v1` request `m`
/// holds a NUL character.
pub fn no_nul<M: Message>(m: &M) -> Result<(), PolicyError> {
    let rust = std::any::type_name::<M>();
    let short = rust.rsplit("::").next().unwrap_or(rust);
    let bytes = m.encode_to_vec();
    match find_nul(&bytes, &format!(".policy.v1.{short}"), "") {
        Some(field) => Err(PolicyError::InvalidArgument(format!(
            "{field} must not contain NUL characters"
        ))),
        None => Ok(()),
    }
}

/// The path of the first string field holding a NUL in `bytes`, a message
/// of type `name`.
fn find_nul(mut bytes: &[u8], name: &str, path: &str) -> Option<String> {
    let fields = types().get(name);
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let number = i32::try_from(key >> 3).ok()?;
        match key & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            5 => bytes = bytes.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let value = bytes.get(..len)?;
                bytes = bytes.get(len..)?;
                let Some(field) = fields.and_then(|f| f.get(&number)) else {
                    continue;
                };
                let here = if path.is_empty() {
                    field.name.clone()
                } else {
                    format!("{path}.{}", field.name)
                };
                if field.string && value.contains(&0) {
                    return Some(here);
                }
                if let Some(found) = field
                    .message
                    .as_deref()
                    .and_then(|m| find_nul(value, m, &here))
                {
                    return Some(found);
                }
            }
            _ => return None,
        }
    }
    None
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use proto::policy::v1 as pb;

    use super::*;

    fn refused<M: Message>(m: &M) -> String {
        match no_nul(m) {
            Err(PolicyError::InvalidArgument(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_nul_anywhere_is_refused_naming_the_field() {
        let mut role = pb::CreateRoleRequest {
            tenant_id: "acme".into(),
            name: "Guest".into(),
            description: "a guest, ü".into(),
        };
        assert!(no_nul(&role).is_ok());
        role.description = "a\0b".into();
        assert_eq!(
            refused(&role),
            "description must not contain NUL characters"
        );
        role.tenant_id = "ac\0me".into();
        assert!(refused(&role).starts_with("tenant_id "));
        let lock = pb::LockUserRequest {
            tenant_id: "acme".into(),
            user_id: "u1".into(),
            note: "\0".into(),
        };
        assert!(refused(&lock).starts_with("note "));
        let hook = pb::SetAlertSettingsRequest {
            webhook_url: "https://x/\0".into(),
            ..Default::default()
        };
        assert!(refused(&hook).starts_with("webhook_url "));
        let checkout = pb::RecordCheckoutRequest {
            asset_id: "a\0".into(),
            checked_out_at: Some(prost_types::Timestamp {
                seconds: 5,
                nanos: 0,
            }),
            ..Default::default()
        };
        assert!(refused(&checkout).starts_with("asset_id "));
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let m = pb::SetAssignmentRequest {
            tenant_id: "acme".into(),
            assignment: Some(pb::Assignment {
                group_id: "g\0".into(),
                ..Default::default()
            }),
        };
        assert!(
            refused(&m).starts_with("assignment.group_id "),
            "{}",
            refused(&m)
        );
    }

    #[test]
    fn every_request_type_is_known() {
        let types = types();
        for name in [
            "CreateRoleRequest",
            "SetAlertSettingsRequest",
            "DryRunRequest",
        ] {
            assert!(types.contains_key(&format!(".policy.v1.{name}")), "{name}");
        }
    }
}
