#![allow(clippy::unwrap_used, clippy::expect_used)]

mod eval;
mod grammar;

use super::*;
use crate::error::ScimType;
use crate::schema::{GROUP, USER};

pub(super) fn p(s: &str) -> Filter {
    parse_filter(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

pub(super) fn s(v: &str) -> CompValue {
    CompValue::String(v.into())
}

pub(super) fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: parse_attr_path(path).unwrap(),
        op,
        value,
    }
}

pub(super) fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

pub(super) fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}
