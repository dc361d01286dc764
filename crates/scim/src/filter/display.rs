//! Canonical text of filters and attribute paths: lower-case keywords, single spaces, JSON
//! string literals and the fewest parentheses that keep the tree. For every AST `f` the parser
//! accepts, `parse_filter(&f.to_string()) == Ok(f)`.

use std::fmt::{self, Display, Formatter};

use super::{AttrPath, CompValue, CompareOp, Filter};

impl Display for AttrPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for CompValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            // serde_json escapes quotes, backslashes and control characters.
            CompValue::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
        }
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            // `and` binds tighter than `or` and both associate to the left, so only an `or`
            // operand of `and`, and a right operand of the same operator, need parentheses.
            Filter::And(l, r) => {
                operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                operand(f, l, false)?;
                f.write_str(" or ")?;
                operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn operand(f: &mut Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}
