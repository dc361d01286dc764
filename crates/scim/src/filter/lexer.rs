//! Tokeniser for the filter grammar. The parser drives it: comparison values are read with
//! [`Lexer::next_value`] because a bare-word value follows different rules from a path.

use std::fmt;

use super::CompValue;
use crate::error::clip;

/// A syntax error at a byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

impl SyntaxError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.message, self.offset)
    }
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A run of path characters: attribute paths, operators and keywords.
    Word(&'a str),
    /// A quoted JSON string, already unescaped.
    Str(String),
    /// Any other character.
    Other(char),
    End,
}

impl Token<'_> {
    /// A short description for error messages; never echoes string literals (they are values).
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::LBracket => "'['".into(),
            Token::RBracket => "']'".into(),
            Token::Word(w) => format!("'{}'", clip(w)),
            Token::Str(_) => "a string".into(),
            Token::Other(c) => format!("'{c}'"),
            Token::End => "end of input".into(),
        }
    }
}

/// Characters of attribute paths, URNs and keywords (RFC 7644 ATTRNAME, URI, `$ref`).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer starting at byte `pos` of `src` (a char boundary, or the end is assumed).
    pub(crate) fn at(src: &'a str, pos: usize) -> Self {
        Self { src, pos }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The next token and its offset, without consuming it.
    pub(crate) fn peek(&self) -> Result<(usize, Token<'a>), SyntaxError> {
        self.clone().next_token()
    }

    /// Consumes and returns the next token and its offset.
    pub(crate) fn next_token(&mut self) -> Result<(usize, Token<'a>), SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        let Some(c) = self.rest().chars().next() else {
            return Ok((start, Token::End));
        };
        let token = match c {
            '(' => Token::LParen,
            ')' => Token::RParen,
            '[' => Token::LBracket,
            ']' => Token::RBracket,
            '"' => return self.string().map(|s| (start, Token::Str(s))),
            c if is_word_char(c) => {
                let word = self.take_while(is_word_char);
                return Ok((start, Token::Word(word)));
            }
            other => Token::Other(other),
        };
        self.pos += c.len_utf8();
        Ok((start, token))
    }

    /// Consumes a `.` immediately at the current position (no whitespace allowed before it).
    pub(crate) fn eat_dot(&mut self) -> bool {
        if self.rest().starts_with('.') {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads a comparison value: a quoted JSON string, `true`/`false`/`null`, a JSON number, or
    /// (leniency for a legacy Microsoft sample) any other bare run of characters, as a string.
    pub(crate) fn next_value(&mut self) -> Result<(usize, CompValue), SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        if self.rest().starts_with('"') {
            return self.string().map(|s| (start, CompValue::String(s)));
        }
        let bare = self.take_while(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']'));
        if bare.is_empty() {
            return Err(SyntaxError::new(start, "expected a comparison value"));
        }
        let value = if bare.eq_ignore_ascii_case("true") {
            CompValue::Bool(true)
        } else if bare.eq_ignore_ascii_case("false") {
            CompValue::Bool(false)
        } else if bare.eq_ignore_ascii_case("null") {
            CompValue::Null
        } else if let Some(n) = parse_number(bare) {
            CompValue::Number(n)
        } else {
            CompValue::String(bare.to_owned())
        };
        Ok((start, value))
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !pred(c)).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or("")
    }

    /// Reads a JSON string literal starting at the current `"`.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        let rest = self.rest();
        let mut escaped = false;
        // Skip the opening quote (1 byte), then look for an unescaped closing quote.
        for (i, c) in rest.char_indices().skip(1) {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    let literal = rest.get(..=i).unwrap_or("");
                    self.pos += i + 1;
                    return serde_json::from_str::<String>(literal).map_err(|_| {
                        SyntaxError::new(start, "invalid escape or character in string")
                    });
                }
                (false, _) => {}
            }
        }
        Err(SyntaxError::new(start, "unterminated string"))
    }
}

/// A JSON number. serde_json validates the grammar; floats are re-read with the standard
/// library, which rounds correctly (serde_json without `float_roundtrip` may be 1 ULP off, and
/// the canonical printer must round-trip).
fn parse_number(s: &str) -> Option<serde_json::Number> {
    let n = serde_json::from_str::<serde_json::Number>(s).ok()?;
    if n.is_f64() {
        serde_json::Number::from_f64(s.parse::<f64>().ok()?)
    } else {
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn tokens(s: &str) -> Vec<Token<'_>> {
        let mut lx = Lexer::at(s, 0);
        let mut out = vec![];
        loop {
            let (_, t) = lx.next_token().unwrap();
            if t == Token::End {
                return out;
            }
            out.push(t);
        }
    }

    #[test]
    fn splits_paths_brackets_and_strings() {
        assert_eq!(
            tokens(r#"emails[type eq "w\"k"] or (x pr)"#),
            vec![
                Token::Word("emails"),
                Token::LBracket,
                Token::Word("type"),
                Token::Word("eq"),
                Token::Str("w\"k".into()),
                Token::RBracket,
                Token::Word("or"),
                Token::LParen,
                Token::Word("x"),
                Token::Word("pr"),
                Token::RParen,
            ]
        );
    }

    #[test]
    fn values_bare_and_quoted() {
        let v = |s: &str| Lexer::at(s, 0).next_value().map(|(_, v)| v);
        assert_eq!(v(" jyoung)"), Ok(CompValue::String("jyoung".into())));
        assert_eq!(v("TRUE"), Ok(CompValue::Bool(true)));
        assert_eq!(v("null"), Ok(CompValue::Null));
        assert_eq!(
            v("-1.5e3"),
            Ok(CompValue::Number(
                serde_json::Number::from_f64(-1500.0).unwrap()
            ))
        );
        assert_eq!(v(r#""\u00e9""#), Ok(CompValue::String("é".into())));
        assert!(v(r#""abc"#).is_err());
        assert!(v(r#""\x""#).is_err());
        assert!(v("  ").is_err());
        assert!(v(")").is_err());
    }
}
