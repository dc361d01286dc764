//! Response projection: RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes` and the
//! RFC 7643 §7 `returned` characteristic.

use serde_json::{Map, Value};

use crate::filter::AttrPath;
use crate::json::eq_ci;
use crate::schema::{AttributeDef, ResourceTypeDef, Returned, SchemaDef};

/// `resource` is a full rendered resource (with id, meta, schemas). `returned: always` (id, schemas... follow RFC: for User, `id` always; `schemas` always kept) are always kept; `never` (password) never; `request` only when listed in `attributes`. If `attributes` is non-empty only those (plus always) are kept; else everything except `excluded`. Paths may name sub-attributes (`name.givenName`, `emails.value`, `meta.lastModified`) and may be URN-qualified (extension attributes live under the URN key; drop an empty extension object and its URN from `schemas` when all its attributes are excluded). Unknown paths are ignored.
///
/// Also: a path that spells a whole extension URN selects (or excludes) the whole extension;
/// when `attributes` is non-empty, `excluded` is ignored (RFC 7644 §3.4.2.5 gives
/// `attributes` precedence) and keys the schema does not define are dropped; otherwise they
/// are kept. A non-object `resource` is returned unchanged.
pub fn project(
    rt: &ResourceTypeDef,
    resource: &Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let include = !attributes.is_empty();
    let sel = Selection::new(rt, if include { attributes } else { excluded });
    let mode = Mode { include, sel };
    let mut out = Map::new();
    for (key, v) in obj {
        if eq_ci(key, "schemas") {
            out.insert(key.clone(), v.clone());
        } else if let Some(ext) = rt.extensions.iter().find(|e| eq_ci(e.schema.id, key)) {
            if let Some(p) = mode.schema_object(ext.schema, v) {
                out.insert(key.clone(), p);
            }
        } else if let Some(attr) = rt.schema.attribute(key) {
            if let Some(p) = mode.attribute(rt.schema, attr, v) {
                out.insert(key.clone(), p);
            }
        } else if !include {
            out.insert(key.clone(), v.clone());
        }
    }
    drop_absent_extension_urns(rt, &mut out);
    Value::Object(out)
}

/// An `attributes` or `excludedAttributes` list, resolved against the schemas.
enum Sel {
    Schema(&'static str),
    Attr {
        schema: &'static str,
        attr: &'static str,
        sub: Option<&'static str>,
    },
}

struct Selection(Vec<Sel>);

impl Selection {
    fn new(rt: &ResourceTypeDef, paths: &[AttrPath]) -> Self {
        let sels = paths.iter().filter_map(|p| {
            if let (Some(uri), None) = (&p.uri, &p.sub) {
                let urn = format!("{uri}:{}", p.name);
                if let Some(ext) = rt.extensions.iter().find(|e| eq_ci(e.schema.id, &urn)) {
                    return Some(Sel::Schema(ext.schema.id));
                }
            }
            let r = rt.resolve(p)?;
            Some(Sel::Attr {
                schema: r.schema.id,
                attr: r.attr.name,
                sub: r.sub.map(|s| s.name),
            })
        });
        Self(sels.collect())
    }

    fn whole(&self, schema: &SchemaDef, attr: &AttributeDef) -> bool {
        self.0.iter().any(|s| match s {
            Sel::Schema(id) => *id == schema.id,
            Sel::Attr {
                schema: s,
                attr: a,
                sub: None,
            } => *s == schema.id && *a == attr.name,
            Sel::Attr { .. } => false,
        })
    }

    fn subs(&self, schema: &SchemaDef, attr: &AttributeDef) -> Vec<&'static str> {
        let subs = self.0.iter().filter_map(|s| match s {
            Sel::Attr {
                schema: s,
                attr: a,
                sub: Some(sub),
            } if *s == schema.id && *a == attr.name => Some(*sub),
            _ => None,
        });
        subs.collect()
    }
}

struct Mode {
    include: bool,
    sel: Selection,
}

impl Mode {
    fn attribute(&self, schema: &SchemaDef, attr: &AttributeDef, v: &Value) -> Option<Value> {
        let all = |_: &AttributeDef| true;
        match attr.returned {
            Returned::Never => return None,
            Returned::Always => return complex_filter(attr, v, all),
            Returned::Default | Returned::Request => {}
        }
        let whole = self.sel.whole(schema, attr);
        let subs = self.sel.subs(schema, attr);
        if self.include {
            if whole {
                return complex_filter(attr, v, all);
            }
            if subs.is_empty() {
                return None;
            }
            return complex_filter(attr, v, |s| {
                s.returned == Returned::Always || subs.contains(&s.name)
            });
        }
        if whole || attr.returned == Returned::Request {
            return None;
        }
        complex_filter(attr, v, |s| {
            s.returned == Returned::Always || !subs.contains(&s.name)
        })
    }

    fn schema_object(&self, schema: &SchemaDef, v: &Value) -> Option<Value> {
        let Value::Object(obj) = v else {
            return (!self.include).then(|| v.clone());
        };
        let mut out = Map::new();
        for (key, av) in obj {
            match schema.attribute(key) {
                Some(attr) => {
                    if let Some(p) = self.attribute(schema, attr, av) {
                        out.insert(key.clone(), p);
                    }
                }
                None if !self.include => {
                    out.insert(key.clone(), av.clone());
                }
                None => {}
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

/// Keeps the sub-attributes of a complex value (or of each element) for which `keep` holds,
/// never `returned: never` ones; simple values pass through. `None` when nothing is left.
fn complex_filter(
    attr: &AttributeDef,
    v: &Value,
    keep: impl Fn(&AttributeDef) -> bool,
) -> Option<Value> {
    let filter_obj = |obj: &Map<String, Value>| -> Map<String, Value> {
        obj.iter()
            .filter(|(k, _)| match attr.sub_attribute(k) {
                Some(sub) => sub.returned != Returned::Never && keep(sub),
                None => false,
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if attr.sub_attributes.is_empty() {
        return Some(v.clone());
    }
    match v {
        Value::Object(obj) => Some(filter_obj(obj))
            .filter(|o| !o.is_empty())
            .map(Value::Object),
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(obj) => Some(filter_obj(obj))
                        .filter(|o| !o.is_empty())
                        .map(Value::Object),
                    other => Some(other.clone()),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

/// Removes from `schemas` the URNs of extensions whose object is no longer in the output.
fn drop_absent_extension_urns(rt: &ResourceTypeDef, out: &mut Map<String, Value>) {
    let present: Vec<&'static str> = rt
        .extensions
        .iter()
        .map(|e| e.schema.id)
        .filter(|id| out.keys().any(|k| eq_ci(k, id)))
        .collect();
    let Some(Value::Array(schemas)) = out
        .iter_mut()
        .find(|(k, _)| eq_ci(k, "schemas"))
        .map(|(_, v)| v)
    else {
        return;
    };
    schemas.retain(|s| {
        let Some(s) = s.as_str() else { return true };
        let is_ext = rt.extensions.iter().any(|e| eq_ci(e.schema.id, s));
        !is_ext || present.iter().any(|p| eq_ci(p, s))
    });
}

#[cfg(test)]
mod tests;
