//! The corpus format (version 1, described in `tests/corpus/README.md`):
//! loading scenario files and substituting `{{placeholders}}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The corpus format this runner understands.
pub const FORMAT_VERSION: u64 = 1;

/// One file: a sequence an IdP sends, replayed against a fresh tenant.
#[derive(Debug)]
pub struct Scenario {
    pub file: PathBuf,
    pub steps: Vec<Step>,
}

/// Which credentials a step presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Token,
    Invalid,
    None,
}

#[derive(Debug)]
pub struct Step {
    pub name: String,
    pub method: reqwest::Method,
    /// Relative to the tenant base URL (`/Users?...`), with placeholders.
    pub path: String,
    pub body: Option<Value>,
    pub auth: Auth,
    pub status: u16,
    /// Expected headers (lower-case names), with placeholders or markers.
    pub headers: Map<String, Value>,
    /// Expected body: a subset with markers; `Value::Null` for an empty body;
    /// `None` when the body is not checked.
    pub expect_body: Option<Value>,
    /// Variable name → JSON pointer into the response body.
    pub capture: Vec<(String, String)>,
}

/// The corpus directory of this crate.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every scenario of `tests/corpus/<dir>`, in file-name order.
pub fn load_dir(dir: &str) -> Vec<Scenario> {
    let path = corpus_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in {}", path.display());
    files.into_iter().map(|f| load(&f)).collect()
}

fn load(file: &Path) -> Scenario {
    let text = std::fs::read_to_string(file).unwrap();
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
    let at = |what: &str| format!("{}: {what}", file.display());
    assert_eq!(
        doc["format"].as_u64(),
        Some(FORMAT_VERSION),
        "{}",
        at("unsupported format version")
    );
    for key in ["idp", "title"] {
        assert!(doc[key].is_string(), "{}", at(&format!("'{key}' missing")));
    }
    let steps = doc["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", at("'steps' missing")))
        .iter()
        .enumerate()
        .map(|(i, s)| step(s).unwrap_or_else(|e| panic!("{}", at(&format!("steps[{i}]: {e}")))))
        .collect();
    Scenario {
        file: file.to_owned(),
        steps,
    }
}

fn step(s: &Value) -> Result<Step, String> {
    let request = s.get("request").ok_or("'request' missing")?;
    let expect = s.get("expect").ok_or("'expect' missing")?;
    let method = request["method"]
        .as_str()
        .ok_or("'request.method' missing")?;
    let auth = match request.get("auth").and_then(Value::as_str) {
        None | Some("token") => Auth::Token,
        Some("invalid") => Auth::Invalid,
        Some("none") => Auth::None,
        Some(other) => return Err(format!("unknown auth '{other}'")),
    };
    let capture = match s.get("capture") {
        None => Vec::new(),
        Some(Value::Object(c)) => c
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.as_str().ok_or("capture needs a pointer")?.to_owned(),
                ))
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("'capture' must be an object".into()),
    };
    Ok(Step {
        name: s["name"].as_str().ok_or("'name' missing")?.to_owned(),
        method: method
            .parse()
            .map_err(|_| format!("bad method '{method}'"))?,
        path: request["path"]
            .as_str()
            .ok_or("'request.path' missing")?
            .to_owned(),
        body: request.get("body").cloned(),
        auth,
        status: expect["status"]
            .as_u64()
            .and_then(|v| u16::try_from(v).ok())
            .ok_or("'expect.status' missing")?,
        headers: expect
            .get("headers")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        expect_body: expect.get("body").cloned(),
        capture,
    })
}

/// Captured and built-in values (`base`, `uuid`) by placeholder name.
#[derive(Debug, Default)]
pub struct Vars(pub HashMap<String, Value>);

impl Vars {
    /// `{{name}}` replaced in every string of `v`; a string that is exactly
    /// one placeholder becomes the captured JSON value itself.
    pub fn apply(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => self.apply_whole(s),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.apply(i)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (self.text(k), self.apply(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn apply_whole(&self, s: &str) -> Value {
        if let Some(name) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
            && !name.contains('{')
        {
            return self.get(name).clone();
        }
        Value::String(self.text(s))
    }

    fn get(&self, name: &str) -> &Value {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("placeholder {{{{{name}}}}} used before it was captured"))
    }

    /// `{{name}}` replaced by the text of each value.
    pub fn text(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .unwrap_or_else(|| panic!("unclosed placeholder in {s}"));
            match self.get(&after[..end]) {
                Value::String(v) => out.push_str(v),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }
}
