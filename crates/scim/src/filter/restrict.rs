//! A filter restricted to one resource type, for a search across types
//! (RFC 7644 §3.4.3 at the root): an attribute the type does not have has
//! no value there, so its terms are decided without looking at any resource
//! and fold away. `displayName eq "x" or members pr` becomes
//! `displayName eq "x"` for Users, while `userName eq "a"` never matches a
//! Group (no 400: the Users half of the search may still match).

use super::{CompValue, CompareOp, Filter};
use crate::schema::ResourceTypeDef;

/// What a filter means for one resource type.
#[derive(Debug, Clone, PartialEq)]
pub enum Restricted {
    /// Every resource of the type matches.
    Always,
    /// No resource of the type can match: there is no need to ask storage.
    Never,
    /// Resources matching this filter, whose every attribute the type knows.
    Filter(Filter),
}

impl Restricted {
    fn from_bool(b: bool) -> Self {
        if b { Self::Always } else { Self::Never }
    }

    /// The filter to send, `None` for "no filter". Only meaningful unless `Never`.
    pub fn into_filter(self) -> Option<Filter> {
        match self {
            Self::Filter(f) => Some(f),
            Self::Always | Self::Never => None,
        }
    }
}

/// Restricts `filter` to `rt`, with the semantics of [`Filter::matches`]: a
/// comparison on an unknown attribute is false, except `eq null`, which an
/// absent value satisfies; `pr` is false.
pub fn restrict(filter: &Filter, rt: &ResourceTypeDef) -> Restricted {
    match filter {
        Filter::Compare { path, op, value } => {
            if rt.resolve(path).is_some() {
                Restricted::Filter(filter.clone())
            } else {
                Restricted::from_bool(*value == CompValue::Null && *op == CompareOp::Eq)
            }
        }
        Filter::Present(path) | Filter::ValuePath { path, .. } => {
            if rt.resolve(path).is_some() {
                Restricted::Filter(filter.clone())
            } else {
                Restricted::Never
            }
        }
        Filter::And(a, b) => match (restrict(a, rt), restrict(b, rt)) {
            (Restricted::Never, _) | (_, Restricted::Never) => Restricted::Never,
            (Restricted::Always, other) | (other, Restricted::Always) => other,
            (Restricted::Filter(a), Restricted::Filter(b)) => {
                Restricted::Filter(Filter::And(Box::new(a), Box::new(b)))
            }
        },
        Filter::Or(a, b) => match (restrict(a, rt), restrict(b, rt)) {
            (Restricted::Always, _) | (_, Restricted::Always) => Restricted::Always,
            (Restricted::Never, other) | (other, Restricted::Never) => other,
            (Restricted::Filter(a), Restricted::Filter(b)) => {
                Restricted::Filter(Filter::Or(Box::new(a), Box::new(b)))
            }
        },
        Filter::Not(a) => match restrict(a, rt) {
            Restricted::Always => Restricted::Never,
            Restricted::Never => Restricted::Always,
            Restricted::Filter(f) => Restricted::Filter(Filter::Not(Box::new(f))),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::filter::parse_filter;
    use crate::{GROUP, USER};

    fn r(f: &str, rt: &ResourceTypeDef) -> Restricted {
        restrict(&parse_filter(f).unwrap(), rt)
    }

    #[test]
    fn unknown_attributes_fold_away() {
        assert_eq!(r("userName eq \"a\"", &GROUP), Restricted::Never);
        assert_eq!(r("not (userName eq \"a\")", &GROUP), Restricted::Always);
        assert_eq!(r("members pr", &USER), Restricted::Never);
        assert_eq!(r("userName eq null", &GROUP), Restricted::Always);
        assert_eq!(
            r("userName eq \"a\" or displayName eq \"x\"", &GROUP),
            Restricted::Filter(parse_filter("displayName eq \"x\"").unwrap())
        );
        assert_eq!(
            r("displayName eq \"x\" and emails[type eq \"work\"]", &GROUP),
            Restricted::Never
        );
        let both = "meta.resourceType eq \"User\" and externalId pr";
        assert_eq!(
            r(both, &GROUP),
            Restricted::Filter(parse_filter(both).unwrap())
        );
    }
}
