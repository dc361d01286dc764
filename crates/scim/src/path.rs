//! PATCH paths, RFC 7644 §3.5.2: `PATH = attrPath / valuePath [subAttr]`.

use std::fmt::{self, Display, Formatter};

use crate::error::ScimError;
use crate::filter::{AttrPath, Filter, parse_patch_path_parts};

/// A parsed PATCH `path`.
///
/// * `name.familyName` → `attr = {name, sub: familyName}`, no filter, no `sub`;
/// * `emails[type eq "work"].value` → `attr = emails`, `filter = Some(type eq "work")`,
///   `sub = Some("value")` (`attr.sub` is always `None` when a filter is present).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl PatchPath {
    /// A path naming `attr` without filter.
    pub fn attr(attr: AttrPath) -> Self {
        Self {
            attr,
            filter: None,
            sub: None,
        }
    }
}

/// Parses a PATCH path. Names are kept as written (resolution against the schema is the PATCH
/// engine's job); errors are 400 `invalidPath` with the byte offset at fault.
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ScimError> {
    let (attr, filter, sub) = parse_patch_path_parts(s.trim())
        .map_err(|e| ScimError::invalid_path(format!("invalid path: {e}")))?;
    Ok(PatchPath { attr, filter, sub })
}

impl Display for PatchPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::ScimType;
    use crate::filter::{CompValue, CompareOp};

    #[test]
    fn value_path_with_sub_attribute() {
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(
            p.filter,
            Some(Filter::Compare {
                path: AttrPath::new("type"),
                op: CompareOp::Eq,
                value: CompValue::String("work".into())
            })
        );
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);
    }

    #[test]
    fn plain_dotted_and_urn_paths() {
        let p = parse_patch_path("name.familyName").unwrap();
        assert_eq!(p, PatchPath::attr(AttrPath::with_sub("name", "familyName")));
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
        let p = parse_patch_path(urn).unwrap();
        assert_eq!(
            p.attr.uri.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.attr.name, "manager");
        assert_eq!(p.to_string(), urn);
        let p = parse_patch_path(r#" members[value eq "7f4b"] "#).unwrap();
        assert_eq!(p.to_string(), r#"members[value eq "7f4b"]"#);
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for bad in [
            "",
            "   ",
            "emails[",
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"]value"#,
            r#"emails[type eq "work"]."#,
            r#"emails[type eq "work"].value.x"#,
            r#"name.givenName[type eq "x"]"#,
            r#"emails[type eq "work"] extra"#,
            r#"emails[addresses[type eq "x"]]"#,
            "a.b.c",
            "1abc",
            "emails]",
            "na me",
            ":name",
        ] {
            let err = parse_patch_path(bad).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{bad:?}");
            assert_eq!(err.status, 400);
        }
    }
}
