//! SCIM filters compiled into parameterised SQL over a resource table
//! (`users u`, `groups g`). Attribute names come from the static schema, values are always bound
//! parameters; no text of the filter is ever spliced into SQL.
//!
//! Attributes that IdPs match on are columns with indexes (`userName`,
//! `externalId`, `displayName`, `active`, `meta.*`) or rows (`emails`); every
//! other attribute is read from the JSON document by the database itself.

use scim::schema::{AttrType, AttributeDef, ResolvedAttr};
use scim::{AttrPath, CompValue, CompareOp, Filter, ScimError};

use crate::domain::{fold_case, parse_rfc3339_micros};

pub use storekit::Dialect;

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// SQL text under construction with its parameters, numbered `$1…`.
#[derive(Debug, Clone)]
pub(super) struct SqlBuf {
    pub dialect: Dialect,
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl SqlBuf {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            sql: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
}

/// How a comparison reads the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text {
        folded_column: bool,
        case_exact: bool,
    },
    Bool {
        json: bool,
    },
    Micros,
    /// A JSON number (integer or decimal attributes).
    Number,
    Other,
}

#[derive(Debug, Clone)]
struct Operand {
    expr: String,
    kind: Kind,
}

/// A multi-valued attribute stored as rows of its own table.
pub(super) struct RowSource {
    /// The SCIM attribute (`emails`, `members`, `groups`).
    pub attribute: &'static str,
    /// `FROM` item and the condition joining it to the resource row.
    pub from: &'static str,
    pub join: &'static str,
    /// Sub-attribute name → column and how to compare it.
    pub subs: &'static [(&'static str, &'static str, Kind)],
}

/// A resource table that filters run against.
#[derive(Clone, Copy)]
pub(super) struct Table {
    pub rt: &'static scim::ResourceTypeDef,
    /// The table's name, as `resource_counts.kind` names it too.
    pub name: &'static str,
    /// The alias the queries give the table (`u`, `g`).
    pub alias: &'static str,
    /// Indexed columns: canonical (attribute, sub-attribute) → column.
    pub columns: &'static [(&'static str, Option<&'static str>, &'static str, Kind)],
    pub rows: &'static [RowSource],
}

impl Table {
    /// The same table, its filters resolved against `rt` (a tenant's type
    /// with its own extensions) when given.
    pub fn with_type(&self, rt: Option<&'static scim::ResourceTypeDef>) -> Self {
        Self {
            rt: rt.unwrap_or(self.rt),
            ..*self
        }
    }
}

const FOLDED: Kind = Kind::Text {
    folded_column: true,
    case_exact: false,
};
const EXACT: Kind = Kind::Text {
    folded_column: false,
    case_exact: true,
};
const LOWERED: Kind = Kind::Text {
    folded_column: false,
    case_exact: false,
};

pub(super) static USERS: Table = Table {
    rt: &scim::USER,
    name: "users",
    alias: "u",
    columns: &[
        ("id", None, "u.id", EXACT),
        ("userName", None, "u.user_name_ci", FOLDED),
        ("externalId", None, "u.external_id", EXACT),
        ("displayName", None, "u.display_name_ci", FOLDED),
        ("active", None, "u.active", Kind::Bool { json: false }),
        ("meta", Some("created"), "u.created", Kind::Micros),
        (
            "meta",
            Some("lastModified"),
            "u.last_modified",
            Kind::Micros,
        ),
        ("meta", Some("resourceType"), "'User'", EXACT),
    ],
    rows: &[
        RowSource {
            attribute: "emails",
            from: "user_emails e",
            join: "e.tenant_id = u.tenant_id AND e.user_id = u.id",
            subs: &[
                ("value", "e.value_ci", FOLDED),
                ("type", "e.type", LOWERED),
                ("primary", "e.is_primary", Kind::Bool { json: false }),
            ],
        },
        RowSource {
            attribute: "groups",
            from: "group_members gm",
            join: "gm.tenant_id = u.tenant_id AND gm.user_id = u.id",
            subs: &[("value", "gm.group_id", EXACT)],
        },
    ],
};

pub(super) static GROUPS: Table = Table {
    rt: &scim::GROUP,
    name: "groups",
    alias: "g",
    columns: &[
        ("id", None, "g.id", EXACT),
        ("displayName", None, "g.display_name_ci", FOLDED),
        ("externalId", None, "g.external_id", EXACT),
        ("meta", Some("created"), "g.created", Kind::Micros),
        (
            "meta",
            Some("lastModified"),
            "g.last_modified",
            Kind::Micros,
        ),
        ("meta", Some("resourceType"), "'Group'", EXACT),
    ],
    rows: &[RowSource {
        attribute: "members",
        from: "group_members m",
        join: "m.tenant_id = g.tenant_id AND m.group_id = g.id",
        subs: &[("value", "m.user_id", EXACT)],
    }],
};

/// Where the attributes of a (sub-)filter live.
#[derive(Clone, Copy)]
enum Scope<'t> {
    Resource(&'t Table),
    /// Inside a row-stored attribute such as `emails[...]`.
    Rows(&'static RowSource),
    /// Inside another multi-valued attribute: JSON elements `j.value`.
    JsonElement(&'static AttributeDef),
}

/// Appends the SQL condition for `filter` on `table` to `buf`.
pub(super) fn compile(table: &Table, filter: &Filter, buf: &mut SqlBuf) -> Result<(), ScimError> {
    compile_in(filter, Scope::Resource(table), buf, 0)
}

/// Deepest nesting compiled. The parser already bounds a filter to
/// [`scim::filter::MAX_FILTER_DEPTH`] parentheses and
/// [`scim::filter::MAX_FILTER_TERMS`] comparisons; chains of one operator
/// (`a or b or c …`) are compiled flat, so only alternations and `not`
/// nest here.
const MAX_DEPTH: usize = scim::filter::MAX_FILTER_DEPTH + scim::filter::MAX_FILTER_TERMS;

/// The operands of a chain of one operator, left to right: `a or (b or c)`
/// and `(a or b) or c` both give `[a, b, c]`.
fn chain<'f>(filter: &'f Filter, and: bool, out: &mut Vec<&'f Filter>) {
    match filter {
        Filter::And(a, b) if and => {
            chain(a, and, out);
            chain(b, and, out);
        }
        Filter::Or(a, b) if !and => {
            chain(a, and, out);
            chain(b, and, out);
        }
        other => out.push(other),
    }
}

fn compile_in(
    filter: &Filter,
    scope: Scope<'_>,
    buf: &mut SqlBuf,
    depth: usize,
) -> Result<(), ScimError> {
    if depth > MAX_DEPTH {
        return Err(ScimError::invalid_filter("filter is nested too deeply"));
    }
    match filter {
        Filter::And(..) | Filter::Or(..) => {
            let and = matches!(filter, Filter::And(..));
            let joiner = if and { " AND " } else { " OR " };
            let mut operands = Vec::new();
            chain(filter, and, &mut operands);
            buf.push("(");
            for (i, operand) in operands.into_iter().enumerate() {
                if i > 0 {
                    buf.push(joiner);
                }
                compile_in(operand, scope, buf, depth + 1)?;
            }
            buf.push(")");
        }
        Filter::Not(inner) => {
            buf.push("(NOT ");
            compile_in(inner, scope, buf, depth + 1)?;
            buf.push(")");
        }
        Filter::Present(path) => presence(path, scope, buf)?,
        Filter::Compare { path, op, value } => comparison(path, *op, value, scope, buf)?,
        Filter::ValuePath { path, filter } => {
            let Scope::Resource(table) = scope else {
                return Err(ScimError::invalid_filter("value filters cannot be nested"));
            };
            let resolved = resolve(table, path)?;
            if !resolved.attr.multi_valued || resolved.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}[...]' needs a multi-valued attribute"
                )));
            }
            let inner_scope = open_elements(table, &resolved, buf)?;
            compile_in(filter, inner_scope, buf, depth + 1)?;
            buf.push("))");
        }
    }
    Ok(())
}

fn resolve(table: &Table, path: &AttrPath) -> Result<ResolvedAttr, ScimError> {
    table
        .rt
        .resolve(path)
        .ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute '{path}'")))
}

/// Writes `EXISTS (SELECT 1 FROM <elements> WHERE (` and returns the element scope.
fn open_elements<'t>(
    table: &'t Table,
    resolved: &ResolvedAttr,
    buf: &mut SqlBuf,
) -> Result<Scope<'t>, ScimError> {
    let name = resolved.attr.name;
    let row_source = table.rows.iter().find(|r| r.attribute == name);
    if let (None, Some(rows)) = (&resolved.canonical.uri, row_source) {
        buf.push(&format!(
            "EXISTS (SELECT 1 FROM {} WHERE {} AND (",
            rows.from, rows.join
        ));
        return Ok(Scope::Rows(rows));
    }
    let doc = format!("{}.resource", table.alias);
    // Extension attributes live under their schema's URN.
    let mut keys: Vec<&str> = resolved.canonical.uri.as_deref().into_iter().collect();
    keys.push(name);
    let source = match buf.dialect {
        Dialect::Postgres => {
            let mut array = format!("{doc}::jsonb");
            for key in keys {
                let key = buf.bind(Bind::Text(key.to_owned()));
                array = format!("({array} -> {key}::text)");
            }
            format!("jsonb_array_elements(COALESCE({array}, '[]'::jsonb)) AS j(value)")
        }
        Dialect::Sqlite => {
            let p = buf.bind(Bind::Text(json_path(&keys)));
            format!("json_each({doc}, {p}) AS j")
        }
    };
    buf.push(&format!("EXISTS (SELECT 1 FROM {source} WHERE ("));
    Ok(Scope::JsonElement(resolved.attr))
}

/// `$."a"."b"`: a SQLite JSON path; names come from the schema.
fn json_path(keys: &[&str]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
    }
    p
}

fn presence(path: &AttrPath, scope: Scope<'_>, buf: &mut SqlBuf) -> Result<(), ScimError> {
    if let Scope::Resource(table) = scope {
        let resolved = resolve(table, path)?;
        if resolved.attr.multi_valued {
            let inner = open_elements(table, &resolved, buf)?;
            match resolved.sub {
                Some(sub) => {
                    let operand = element_operand(inner, sub.name, buf)?;
                    buf.push(&format!("{} IS NOT NULL", operand.expr));
                }
                None => buf.push("TRUE"),
            }
            buf.push("))");
            return Ok(());
        }
    }
    let operand = operand(path, scope, buf)?;
    buf.push(&format!("({} IS NOT NULL)", operand.expr));
    Ok(())
}

fn comparison(
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
    scope: Scope<'_>,
    buf: &mut SqlBuf,
) -> Result<(), ScimError> {
    if let Scope::Resource(table) = scope {
        let resolved = resolve(table, path)?;
        if resolved.attr.multi_valued {
            // `emails.value eq "x"` / `emails eq "x"`: true when any element matches.
            let inner = open_elements(table, &resolved, buf)?;
            let sub = resolved.sub.map_or("value", |s| s.name);
            let operand = element_operand(inner, sub, buf)?;
            compare(&operand, op, value, path, buf)?;
            buf.push("))");
            return Ok(());
        }
    }
    let operand = operand(path, scope, buf)?;
    compare(&operand, op, value, path, buf)
}

/// The SQL expression of a single-valued attribute in `scope`.
fn operand(path: &AttrPath, scope: Scope<'_>, buf: &mut SqlBuf) -> Result<Operand, ScimError> {
    match scope {
        Scope::Resource(table) => resource_operand(table, path, buf),
        Scope::Rows(_) | Scope::JsonElement(_) => {
            if path.sub.is_some() || path.uri.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' is not a sub-attribute here"
                )));
            }
            element_operand(scope, &path.name, buf)
        }
    }
}

fn resource_operand(
    table: &Table,
    path: &AttrPath,
    buf: &mut SqlBuf,
) -> Result<Operand, ScimError> {
    let resolved = resolve(table, path)?;
    let core = resolved.canonical.uri.is_none();
    let sub = resolved.sub.map(|s| s.name);
    if core {
        if let Some((_, _, expr, kind)) = table
            .columns
            .iter()
            .find(|(a, s, _, _)| *a == resolved.attr.name && *s == sub)
        {
            return Ok(Operand {
                expr: (*expr).to_owned(),
                kind: *kind,
            });
        }
        if matches!(resolved.attr.name, "meta" | "password") {
            return Err(ScimError::invalid_filter(format!(
                "'{path}' cannot be used in a filter"
            )));
        }
    }
    let mut keys: Vec<&str> = Vec::new();
    if let Some(uri) = resolved.canonical.uri.as_deref() {
        keys.push(uri);
    }
    keys.push(resolved.attr.name);
    // A single-valued complex attribute compares through its `value`
    // (`manager eq "<id>"`, Entra's legacy reference check; RFC 7644 §3.4.2.2
    // does the same for multi-valued ones).
    let sub = resolved.sub.or_else(|| {
        (resolved.attr.ty == AttrType::Complex)
            .then(|| resolved.attr.sub_attribute("value"))
            .flatten()
    });
    let def = match sub {
        Some(sub) => {
            keys.push(sub.name);
            sub
        }
        None => resolved.attr,
    };
    let expr = json_text(buf, &format!("{}.resource", table.alias), &keys);
    Ok(Operand {
        expr,
        kind: json_kind(def),
    })
}

fn element_operand(scope: Scope<'_>, name: &str, buf: &mut SqlBuf) -> Result<Operand, ScimError> {
    match scope {
        Scope::Rows(rows) => {
            let (_, expr, kind) = rows
                .subs
                .iter()
                .find(|(sub, _, _)| sub.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "{}.{name} cannot be used in a filter",
                        rows.attribute
                    ))
                })?;
            Ok(Operand {
                expr: (*expr).to_owned(),
                kind: *kind,
            })
        }
        // Elements of a multi-valued simple attribute are the values
        // themselves (`skills eq "rust"`, `skills[value eq "rust"]`).
        Scope::JsonElement(parent)
            if parent.ty != AttrType::Complex && name.eq_ignore_ascii_case("value") =>
        {
            let expr = match buf.dialect {
                Dialect::Postgres => "(j.value #>> '{}')".to_owned(),
                Dialect::Sqlite => "j.value".to_owned(),
            };
            Ok(Operand {
                expr,
                kind: json_kind(parent),
            })
        }
        Scope::JsonElement(parent) => {
            let sub = parent
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    ScimError::invalid_filter(format!("unknown attribute '{}.{name}'", parent.name))
                })?;
            let expr = json_text(buf, "j.value", &[sub.name]);
            Ok(Operand {
                expr,
                kind: json_kind(sub),
            })
        }
        Scope::Resource(_) => Err(ScimError::invalid_filter(format!(
            "unknown attribute '{name}'"
        ))),
    }
}

fn json_kind(def: &AttributeDef) -> Kind {
    match def.ty {
        AttrType::Boolean => Kind::Bool { json: true },
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => {
            Kind::Text {
                folded_column: false,
                case_exact: def.case_exact,
            }
        }
        AttrType::Integer | AttrType::Decimal => Kind::Number,
        AttrType::Complex => Kind::Other,
    }
}

/// The text at `keys` inside the JSON document `doc`.
fn json_text(buf: &mut SqlBuf, doc: &str, keys: &[&str]) -> String {
    match buf.dialect {
        Dialect::Postgres => {
            let base = if doc == "j.value" {
                doc.to_owned()
            } else {
                format!("{doc}::jsonb")
            };
            let mut expr = base;
            for (i, k) in keys.iter().enumerate() {
                let p = buf.bind(Bind::Text((*k).to_owned()));
                let arrow = if i + 1 == keys.len() { "->>" } else { "->" };
                expr = format!("({expr} {arrow} {p}::text)");
            }
            expr
        }
        Dialect::Sqlite => {
            let p = buf.bind(Bind::Text(json_path(keys)));
            format!("json_extract({doc}, {p})")
        }
    }
}

fn compare(
    operand: &Operand,
    op: CompareOp,
    value: &CompValue,
    path: &AttrPath,
    buf: &mut SqlBuf,
) -> Result<(), ScimError> {
    let bad = |why: &str| ScimError::invalid_filter(format!("'{path}': {why}"));
    if let CompValue::Null = value {
        let sql = match op {
            CompareOp::Eq => format!("({} IS NULL)", operand.expr),
            CompareOp::Ne => format!("({} IS NOT NULL)", operand.expr),
            _ => return Err(bad("null can only be compared with eq or ne")),
        };
        buf.push(&sql);
        return Ok(());
    }
    let (lhs, param) = match operand.kind {
        Kind::Text {
            folded_column,
            case_exact,
        } => {
            let CompValue::String(s) = value else {
                return Err(bad("expects a string value"));
            };
            if case_exact {
                (operand.expr.clone(), buf.bind(Bind::Text(s.clone())))
            } else if folded_column {
                (operand.expr.clone(), buf.bind(Bind::Text(fold_case(s))))
            } else {
                (
                    format!("lower({})", operand.expr),
                    buf.bind(Bind::Text(fold_case(s))),
                )
            }
        }
        Kind::Bool { json } => {
            let b = match value {
                CompValue::Bool(b) => *b,
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(bad("expects true or false")),
            };
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(bad("booleans can only be compared with eq or ne"));
            }
            let bind = match (json, buf.dialect) {
                (false, _) => Bind::Bool(b),
                (true, Dialect::Postgres) => Bind::Text(b.to_string()),
                (true, Dialect::Sqlite) => Bind::Int(i64::from(b)),
            };
            (operand.expr.clone(), buf.bind(bind))
        }
        Kind::Micros => {
            let CompValue::String(s) = value else {
                return Err(bad("expects an RFC 3339 date-time string"));
            };
            let micros = parse_rfc3339_micros(s)
                .ok_or_else(|| bad("expects an RFC 3339 date-time string"))?;
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(bad("date-times cannot be compared with co, sw or ew"));
            }
            (operand.expr.clone(), buf.bind(Bind::Int(micros)))
        }
        Kind::Number => {
            let CompValue::Number(n) = value else {
                return Err(bad("expects a number"));
            };
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(bad("numbers cannot be compared with co, sw or ew"));
            }
            let bind = match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Bind::Int(i),
                (None, Some(f)) => Bind::Float(f),
                (None, None) => return Err(bad("expects a number")),
            };
            (numeric(&operand.expr, buf.dialect), buf.bind(bind))
        }
        Kind::Other => return Err(bad("this attribute cannot be compared")),
    };
    if op == CompareOp::Sw
        && is_column(&lhs)
        && let CompValue::String(prefix) = value
    {
        starts_with(&lhs, &param, prefix, operand.kind, buf);
        return Ok(());
    }
    let condition = match op {
        CompareOp::Eq => format!("{lhs} = {param}"),
        CompareOp::Ne => format!("NOT COALESCE({lhs} = {param}, FALSE)"),
        CompareOp::Gt => format!("{lhs} > {param}"),
        CompareOp::Ge => format!("{lhs} >= {param}"),
        CompareOp::Lt => format!("{lhs} < {param}"),
        CompareOp::Le => format!("{lhs} <= {param}"),
        CompareOp::Co => match buf.dialect {
            Dialect::Postgres => format!("strpos({lhs}, {param}) > 0"),
            Dialect::Sqlite => format!("instr({lhs}, {param}) > 0"),
        },
        CompareOp::Sw => format!("substr({lhs}, 1, length({param})) = {param}"),
        CompareOp::Ew => match buf.dialect {
            Dialect::Postgres => format!("right({lhs}, length({param})) = {param}"),
            Dialect::Sqlite => {
                format!("(length({param}) = 0 OR substr({lhs}, -length({param})) = {param})")
            }
        },
    };
    // Two-valued logic: an absent attribute makes a comparison false, so that
    // `not (...)` includes resources that lack the attribute.
    // For eq and the orderings (the parameter is never NULL, so the result
    // is NULL exactly when the attribute is) `AND … IS NOT NULL` says the
    // same as COALESCE while leaving `column = $n` visible to the planner:
    // COALESCE hid it, and `userName eq` scanned the whole tenant (0.5 s at
    // 1M users instead of 0.3 ms; see BENCHMARKS.md).
    match op {
        CompareOp::Ne => buf.push(&format!("({condition})")),
        CompareOp::Eq | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            buf.push(&format!("({condition} AND {lhs} IS NOT NULL)"));
        }
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            buf.push(&format!("COALESCE({condition}, FALSE)"));
        }
    }
    Ok(())
}

/// A plain column (`u.user_name_ci`), not an expression over one.
fn is_column(expr: &str) -> bool {
    expr.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// `sw` on a column as a range in code point order, `[prefix, successor)`,
/// which a B-tree serves (`substr(col, 1, n) = $p` is opaque to the
/// planner): on Postgres over `col COLLATE "C"` (UTF-8 byte order is code
/// point order; migration 0010 indexes userName and displayName that way),
/// on SQLite with its default BINARY collation. Exact: a string starts
/// with the prefix exactly when it lies in that range.
fn starts_with(column: &str, param: &str, prefix: &str, kind: Kind, buf: &mut SqlBuf) {
    let text = match kind {
        Kind::Text {
            case_exact: true, ..
        } => prefix.to_owned(),
        _ => fold_case(prefix),
    };
    let c = match buf.dialect {
        Dialect::Postgres => format!("{column} COLLATE \"C\""),
        Dialect::Sqlite => column.to_owned(),
    };
    let upper = match successor(&text) {
        Some(next) => format!(" AND {c} < {}", buf.bind(Bind::Text(next))),
        None => String::new(),
    };
    // `AND … IS NOT NULL`: false, not NULL, for an absent value (two-valued logic).
    buf.push(&format!("({c} >= {param}{upper} AND {column} IS NOT NULL)"));
}

/// The smallest string greater than every string that starts with
/// `prefix`, in code point order; None when there is none (an empty prefix,
/// or one of U+10FFFF only).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A JSON number read as a number: Postgres's `->>` yields text, SQLite's
/// `json_extract` the number itself.
fn numeric(expr: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST({expr} AS numeric)"),
        Dialect::Sqlite => expr.to_owned(),
    }
}

/// The ORDER BY expression for `sortBy`.
pub(super) fn sort_expression(
    table: &Table,
    path: &AttrPath,
    buf: &mut SqlBuf,
) -> Result<String, ScimError> {
    sort_operand(table, path, buf).map(|(expr, _)| expr)
}

/// The ORDER BY expression for `sortBy` and how its values compare.
pub(super) fn sort_operand(
    table: &Table,
    path: &AttrPath,
    buf: &mut SqlBuf,
) -> Result<(String, Kind), ScimError> {
    let resolved = table.rt.resolve(path).ok_or_else(|| {
        ScimError::invalid_value(format!("cannot sort by unknown attribute '{path}'"))
    })?;
    if resolved.attr.multi_valued {
        return Err(ScimError::invalid_value(format!(
            "cannot sort by multi-valued attribute '{path}'"
        )));
    }
    let operand =
        resource_operand(table, path, buf).map_err(|e| ScimError::invalid_value(e.detail))?;
    let expr = match operand.kind {
        Kind::Text {
            folded_column: false,
            case_exact: false,
        } => format!("lower({})", operand.expr),
        Kind::Number => numeric(&operand.expr, buf.dialect),
        _ => operand.expr,
    };
    Ok((expr, operand.kind))
}

#[cfg(test)]
mod tests {
    use super::successor;
    use proptest::prelude::*;

    #[test]
    fn successors() {
        assert_eq!(successor("ab").as_deref(), Some("ac"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor(""), None);
        assert_eq!(successor("\u{10FFFF}"), None);
    }

    proptest! {
        /// The range `[prefix, successor)` in code point order (Rust's
        /// string order, UTF-8 bytes) holds exactly the strings that start
        /// with the prefix.
        #[test]
        fn the_range_is_exactly_the_prefix(
            prefix in "[ab\u{10FFFF}\u{D7FF}é]{0,3}",
            s in "[ab\u{10FFFF}\u{D7FF}\u{E000}é]{0,5}",
        ) {
            let in_range = s.as_str() >= prefix.as_str()
                && successor(&prefix).is_none_or(|next| s < next);
            prop_assert_eq!(in_range, s.starts_with(&prefix));
        }
    }
}
