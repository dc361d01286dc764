//! Recursive-descent parser for RFC 7644 §3.4.2.2 filters, attribute paths and the
//! `valuePath [subAttr]` part of PATCH paths (§3.5.2).
//!
//! ```text
//! filter    = or
//! or        = and *("or" and)
//! and       = unary *("and" unary)
//! unary     = "not" "(" filter ")" / "(" filter ")" / attrExpr
//! attrExpr  = attrPath "pr" / attrPath compareOp compValue / attrPath "[" filter "]" [valueTail]
//! valueTail = "." ATTRNAME ("pr" / compareOp compValue)     ; leniency, see the module docs
//! ```

use super::lexer::{Lexer, Token, is_word_char};
use super::{AttrPath, CompareOp, Filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS};
use crate::error::clip;

pub(crate) use super::lexer::SyntaxError;

type PResult<T> = Result<T, SyntaxError>;

/// Parses a whole filter.
pub(crate) fn parse_filter(input: &str) -> PResult<Filter> {
    check_len(input)?;
    let mut p = Parser::new(input, 0);
    let f = p.or_expr()?;
    p.expect_end()?;
    Ok(f)
}

/// Parses a PATCH path into its attribute, optional value filter and optional sub-attribute
/// after the filter (`emails[type eq "work"].value`).
pub(crate) fn parse_patch_path_parts(
    input: &str,
) -> PResult<(AttrPath, Option<Filter>, Option<String>)> {
    check_len(input)?;
    let Some(open) = input.find('[') else {
        return Ok((parse_attr_path(input)?, None, None));
    };
    let attr = parse_attr_path(input.get(..open).unwrap_or("").trim_end())?;
    if attr.sub.is_some() {
        return Err(SyntaxError::new(
            open,
            "a value filter must follow an attribute, not a sub-attribute",
        ));
    }
    let mut p = Parser::new(input, open + 1);
    p.depth = 1;
    p.in_value_filter = true;
    let filter = p.or_expr()?;
    p.expect(&Token::RBracket, "']'")?;
    let sub = if p.lex.eat_dot() {
        Some(p.sub_attr_name()?)
    } else {
        None
    };
    p.expect_end()?;
    Ok((attr, Some(filter), sub))
}

/// Parses `[uri ":"] ATTRNAME ["." ATTRNAME]`; offsets in errors are relative to `s`.
pub(crate) fn parse_attr_path(s: &str) -> PResult<AttrPath> {
    if s.is_empty() {
        return Err(SyntaxError::new(0, "expected an attribute path"));
    }
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !is_word_char(*c)) {
        return Err(SyntaxError::new(
            i,
            format!("invalid character '{c}' in attribute path"),
        ));
    }
    // The URN is everything up to the last ':' (URNs contain ':' and '.', names do not).
    let (uri, rest, rest_off) = match s.rfind(':') {
        Some(i) => (
            Some(s.get(..i).unwrap_or("")),
            s.get(i + 1..).unwrap_or(""),
            i + 1,
        ),
        None => (None, s, 0),
    };
    if uri == Some("") {
        return Err(SyntaxError::new(0, "empty schema URN before ':'"));
    }
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    check_attr_name(name, rest_off)?;
    if let Some(sub) = sub {
        check_attr_name(sub, rest_off + name.len() + 1)?;
    }
    Ok(AttrPath {
        uri: uri.map(str::to_owned),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

/// RFC 7644 ATTRNAME (`ALPHA *(ALPHA / DIGIT / "-" / "_")`), plus a leading `$` for `$ref`.
fn check_attr_name(name: &str, offset: usize) -> PResult<()> {
    let body = name.strip_prefix('$').unwrap_or(name);
    let mut chars = body.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else if name.is_empty() {
        Err(SyntaxError::new(offset, "expected an attribute name"))
    } else {
        Err(SyntaxError::new(
            offset,
            format!("invalid attribute name '{}'", clip(name)),
        ))
    }
}

fn check_len(input: &str) -> PResult<()> {
    if input.len() > MAX_FILTER_LEN {
        return Err(SyntaxError::new(
            MAX_FILTER_LEN,
            format!("longer than {MAX_FILTER_LEN} bytes"),
        ));
    }
    Ok(())
}

struct Parser<'a> {
    lex: Lexer<'a>,
    depth: usize,
    terms: usize,
    in_value_filter: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, pos: usize) -> Self {
        Self {
            lex: Lexer::at(src, pos),
            depth: 0,
            terms: 0,
            in_value_filter: false,
        }
    }

    fn or_expr(&mut self) -> PResult<Filter> {
        let mut left = self.and_expr()?;
        while self.eat_keyword("or")? {
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> PResult<Filter> {
        let mut left = self.unary()?;
        while self.eat_keyword("and")? {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> PResult<Filter> {
        let (off, tok) = self.lex.next_token()?;
        match tok {
            Token::LParen => self.group(off),
            Token::Word(w)
                if w.eq_ignore_ascii_case("not") && self.lex.peek()?.1 == Token::LParen =>
            {
                let (open, _) = self.lex.next_token()?;
                Ok(Filter::Not(Box::new(self.group(open)?)))
            }
            Token::Word(w) => self.attr_expr(off, w),
            other => Err(SyntaxError::new(
                off,
                format!(
                    "expected an attribute path, '(' or 'not', found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// After an opening `(` at `open`: the inner filter and the closing `)`.
    fn group(&mut self, open: usize) -> PResult<Filter> {
        self.enter(open)?;
        let f = self.or_expr()?;
        self.expect(&Token::RParen, "')'")?;
        self.depth -= 1;
        Ok(f)
    }

    fn attr_expr(&mut self, off: usize, word: &str) -> PResult<Filter> {
        let path =
            parse_attr_path(word).map_err(|e| SyntaxError::new(off + e.offset, e.message))?;
        let (open, tok) = self.lex.peek()?;
        if tok == Token::LBracket {
            self.lex.next_token()?;
            return self.value_path(off, open, path);
        }
        self.comparison(path)
    }

    /// `pr`, or an operator and a value, after `path`.
    fn comparison(&mut self, path: AttrPath) -> PResult<Filter> {
        let (off, tok) = self.lex.next_token()?;
        let Token::Word(word) = tok else {
            return Err(SyntaxError::new(
                off,
                format!(
                    "expected an operator after the attribute path, found {}",
                    tok.describe()
                ),
            ));
        };
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(SyntaxError::new(
                off,
                format!("more than {MAX_FILTER_TERMS} comparisons"),
            ));
        }
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            return Err(SyntaxError::new(
                off,
                format!("unknown operator '{}'", clip(word)),
            ));
        };
        let (_, value) = self.lex.next_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// After `path[` (the `[` at `open`): the value filter, `]` and the optional `.sub` tail.
    fn value_path(&mut self, off: usize, open: usize, path: AttrPath) -> PResult<Filter> {
        if self.in_value_filter {
            return Err(SyntaxError::new(open, "value filters cannot be nested"));
        }
        if path.sub.is_some() {
            return Err(SyntaxError::new(
                off,
                "a value filter must follow an attribute, not a sub-attribute",
            ));
        }
        self.enter(open)?;
        self.in_value_filter = true;
        let inner = self.or_expr()?;
        self.expect(&Token::RBracket, "']'")?;
        self.in_value_filter = false;
        self.depth -= 1;
        // Entra documents `emails[type eq "work"].value eq "x"` for matching; it means the
        // same as `emails[type eq "work" and value eq "x"]`, which is how it is stored.
        let filter = if self.lex.eat_dot() {
            let sub = self.sub_attr_name()?;
            let tail = self.comparison(AttrPath::new(sub))?;
            Filter::And(Box::new(inner), Box::new(tail))
        } else {
            inner
        };
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    /// A plain ATTRNAME right after a `.`.
    fn sub_attr_name(&mut self) -> PResult<String> {
        let (off, tok) = self.lex.next_token()?;
        let Token::Word(w) = tok else {
            return Err(SyntaxError::new(
                off,
                format!("expected a sub-attribute name, found {}", tok.describe()),
            ));
        };
        check_attr_name(w, off)?;
        Ok(w.to_owned())
    }

    fn enter(&mut self, off: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(SyntaxError::new(
                off,
                format!("nested deeper than {MAX_FILTER_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn eat_keyword(&mut self, keyword: &str) -> PResult<bool> {
        match self.lex.peek()? {
            (_, Token::Word(w)) if w.eq_ignore_ascii_case(keyword) => {
                self.lex.next_token()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn expect(&mut self, want: &Token<'_>, what: &str) -> PResult<()> {
        let (off, tok) = self.lex.next_token()?;
        if &tok == want {
            return Ok(());
        }
        Err(SyntaxError::new(
            off,
            format!("expected {what}, found {}", tok.describe()),
        ))
    }

    fn expect_end(&mut self) -> PResult<()> {
        let (off, tok) = self.lex.next_token()?;
        if tok == Token::End {
            return Ok(());
        }
        Err(SyntaxError::new(
            off,
            format!("expected 'and', 'or' or the end, found {}", tok.describe()),
        ))
    }
}
