//! The RFC 7644 §3.4.2.2 filter grammar: AST, parser, canonical printer and in-memory
//! evaluation.
//!
//! Operators, keywords and attribute names are case-insensitive; `and` binds tighter than
//! `or`; `not (...)`, grouping, `pr`, value paths (`emails[type eq "work"]`) and URN-qualified
//! paths are supported. Two leniencies: an unquoted bare-word value (`externalId eq jyoung`,
//! a legacy Microsoft sample) is read as a string, and `emails[type eq "work"].value eq "x"`
//! (which Entra documents for matching on e-mail) is read as
//! `emails[type eq "work" and value eq "x"]`.

mod display;
mod eval;
mod lexer;
mod parser;
mod restrict;

#[cfg(test)]
mod tests;

pub(crate) use eval::matches_element;
pub(crate) use parser::parse_patch_path_parts;
pub use restrict::{Restricted, restrict};

use crate::error::ScimError;

/// Longest filter accepted, in bytes. Protects the recursive parser and its callers.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of `(...)`, `not (...)` and `[...]` accepted.
pub const MAX_FILTER_DEPTH: usize = 64;
/// Most comparisons (`eq`, `pr`, ...) accepted in one filter. Bounds the depth of `and`/`or`
/// chains, hence the recursion depth of every consumer of the AST (printer, evaluator, SQL).
pub const MAX_FILTER_TERMS: usize = 256;

/// An attribute path: `[uri ":"] name ["." sub]` (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, as written (e.g. the Enterprise User URN).
    pub uri: Option<String>,
    /// Attribute name, as written.
    pub name: String,
    /// Sub-attribute name, as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path to a top-level attribute of the core schema.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            uri: None,
            name: name.into(),
            sub: None,
        }
    }

    /// A path to a sub-attribute of a core-schema attribute.
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            uri: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Every operator.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// Lower-case keyword (`"eq"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Case-insensitive keyword lookup.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }
}

/// A comparison value: a JSON scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path pr`.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x.com"]`: `path` names the multi-valued attribute (sub is None), `filter` is evaluated against each element, its paths relative to the element
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// Parses a filter (the `filter` query parameter or SearchRequest member).
///
/// Errors are 400 `invalidFilter` with a detail giving the byte offset and what was expected.
/// Inputs longer than [`MAX_FILTER_LEN`], nested deeper than [`MAX_FILTER_DEPTH`] or with more
/// than [`MAX_FILTER_TERMS`] comparisons are rejected the same way.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    parser::parse_filter(input).map_err(|e| ScimError::invalid_filter(e.to_string()))
}

/// Parses one attribute path (`userName`, `name.givenName`, `urn:...:User:employeeNumber`).
///
/// Errors are 400 `invalidPath`.
pub fn parse_attr_path(s: &str) -> Result<AttrPath, ScimError> {
    parser::parse_attr_path(s.trim()).map_err(|e| ScimError::invalid_path(e.to_string()))
}

/// Parses a comma-separated list of attribute paths (the `attributes`, `excludedAttributes` and
/// `sortBy` parameters). Blank items are skipped, so `""` yields an empty list.
///
/// Errors are 400 `invalidPath` naming the item at fault.
pub fn parse_attribute_list(s: &str) -> Result<Vec<AttrPath>, ScimError> {
    s.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse_attr_path)
        .collect()
}
