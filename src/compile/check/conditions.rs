//! Typed attributes and `when` / `unless` conditions: declarations with
//! their types, values set in `with` clauses, and the type check of every
//! condition (a condition that could compare a number with a time is a load
//! error, never a surprise at run time).

use super::*;
use crate::compile::value::{Scalar, Type, Value};
use crate::syntax::ast::{AttrType, AttrValue, Expr, Guard, Op, Operand, Path, Root};

/// The type a condition's side has, and the declared values of an
/// enumeration.
struct Typed {
    ty: Type,
    values: Option<Vec<String>>,
}

impl Checker {
    /// `attribute KEY: TYPE [on T, ...]`, `attribute KEY in V, ... on T`,
    /// `context KEY: TYPE`, `context KEY in V, ...` (the users' attributes
    /// of the first form, and those with values, are recorded by
    /// [`Checker::declare_values`] as before).
    pub(super) fn declare_typed(
        &mut self,
        key: &Name,
        values: Option<&[Name]>,
        ty: Option<&AttrType>,
        on: &[Name],
        context: bool,
    ) {
        let declared = match ty {
            Some(t) => match self.attr_type(t) {
                Some(t) => t,
                None => return,
            },
            None => Type::one(Scalar::String),
        };
        let listed: Option<Vec<String>> =
            values.map(|v| v.iter().map(|n| n.text.clone()).collect());
        if context {
            if key.text == "now" {
                self.errors.push(
                    Diagnostic::new(Code::AttributeValue, "`context.now` is built in", key.span)
                        .label("always a timestamp")
                        .help("`now` is the request's time unless the request sets it; remove this line"),
                );
            } else if self.m.context_keys.contains_key(&key.text) {
                self.errors.push(
                    Diagnostic::new(
                        Code::Duplicate,
                        format!("context key `{}` is declared twice", key.text),
                        key.span,
                    )
                    .label("declared again")
                    .help("declare each key once"),
                );
            } else {
                let slot = self.m.context_keys.len() + 1;
                let declared = ContextKey {
                    ty: declared,
                    values: listed,
                    slot,
                };
                self.m.context_keys.insert(key.text.clone(), declared);
            }
            return;
        }
        if on.is_empty() {
            if ty.is_some() {
                if self.m.attribute_types.contains_key(&key.text)
                    || matches!(key.text.as_str(), "status" | "kind")
                {
                    self.errors.push(
                        Diagnostic::new(
                            Code::Duplicate,
                            format!("attribute `{}` is declared twice", key.text),
                            key.span,
                        )
                        .label("declared again")
                        .help("declare each attribute once, with one type"),
                    );
                    return;
                }
                self.m.attribute_types.insert(key.text.clone(), declared);
            }
            return;
        }
        for t in on {
            let Some(tid) = self.lookup::<TypeId>(Kind::Type, t) else {
                continue;
            };
            let entry = self
                .m
                .node_attributes
                .entry(key.text.clone())
                .or_insert((declared, Vec::new()));
            if entry.0 != declared {
                let first = entry.0;
                self.errors.push(
                    Diagnostic::new(
                        Code::AttributeValue,
                        format!(
                            "attribute `{}` is a {first} on other types, and a {declared} here",
                            key.text
                        ),
                        key.span,
                    )
                    .label("another type")
                    .help(
                        "an attribute has one type on every node type; give this one another name",
                    ),
                );
            } else if !entry.1.contains(&tid) {
                entry.1.push(tid);
            }
        }
        if let Some(values) = listed {
            self.m.node_enums.insert(key.text.clone(), values);
        }
    }

    fn attr_type(&mut self, t: &AttrType) -> Option<Type> {
        match Scalar::named(&t.name.text) {
            Some(scalar) => Some(Type { scalar, set: t.set }),
            None => {
                let mut d = Diagnostic::new(
                    Code::AttributeValue,
                    format!("`{}` is not an attribute type", short(&t.name.text)),
                    t.name.span,
                )
                .label("unknown type")
                .help(format!(
                    "the types are {}, and `set of` each",
                    Scalar::NAMES.join(", ")
                ));
                if let Some(s) = did_you_mean(&t.name.text, Scalar::NAMES.iter().copied()) {
                    d = d.help(s);
                }
                self.errors.push(d);
                None
            }
        }
    }

    /// The typed values of a `with` clause on a node of type `ty` (every key
    /// must be declared for the type) or on a user (typed keys only; other
    /// keys stay text, as before).
    pub(super) fn typed_values(
        &mut self,
        attrs: &[(Name, AttrValue)],
        node: Option<TypeId>,
    ) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (key, value) in attrs {
            let ty = match node {
                Some(t) => match self.m.node_attributes.get(&key.text) {
                    Some((ty, types)) if types.contains(&t) => *ty,
                    _ => {
                        let ty_name = self.m.types[t.index()].name.clone();
                        let candidates: Vec<String> = self
                            .m
                            .node_attributes
                            .iter()
                            .filter(|(_, (_, ts))| ts.contains(&t))
                            .map(|(k, _)| k.clone())
                            .collect();
                        let mut d = Diagnostic::new(
                            Code::UnknownName,
                            format!("`{ty_name}` nodes have no attribute `{}`", short(&key.text)),
                            key.span,
                        )
                        .label("not declared for this type")
                        .help(format!(
                            "declare it: `attribute {}: TYPE on {ty_name}`",
                            key.text
                        ));
                        if let Some(s) =
                            did_you_mean(&key.text, candidates.iter().map(String::as_str))
                        {
                            d = d.help(s);
                        }
                        self.errors.push(d);
                        continue;
                    }
                },
                None => match self.m.attribute_types.get(&key.text) {
                    Some(ty) => *ty,
                    None => continue,
                },
            };
            let enumeration = node.and_then(|_| self.m.node_enums.get(&key.text).cloned());
            if let Some(v) = self.value(ty, value, enumeration.as_deref()) {
                out.push((key.text.clone(), v));
            }
        }
        out
    }

    /// One value as written, of type `ty`.
    fn value(
        &mut self,
        ty: Type,
        value: &AttrValue,
        enumeration: Option<&[String]>,
    ) -> Option<Value> {
        match (value, ty.set) {
            (AttrValue::One(v), false) => self.literal(ty.scalar, v, enumeration),
            (AttrValue::Set(items, _), true) => {
                let mut out = Vec::new();
                for v in items {
                    out.push(self.literal(ty.scalar, v, enumeration)?);
                }
                Some(Value::Set(out))
            }
            (AttrValue::One(v), true) => {
                self.errors.push(
                    Diagnostic::new(
                        Code::AttributeValue,
                        format!("expected a set of {}", ty.scalar),
                        v.span,
                    )
                    .label("one value")
                    .help(format!("write a list: `[{}]`", v.text)),
                );
                None
            }
            (AttrValue::Set(_, span), false) => {
                self.errors.push(
                    Diagnostic::new(
                        Code::AttributeValue,
                        format!("expected one {}, not a set", ty.scalar),
                        *span,
                    )
                    .label("a set")
                    .help("give one value"),
                );
                None
            }
        }
    }

    fn literal(
        &mut self,
        scalar: Scalar,
        v: &Name,
        enumeration: Option<&[String]>,
    ) -> Option<Value> {
        if let Some(values) = enumeration {
            if !values.contains(&v.text) {
                let mut d = Diagnostic::new(
                    Code::AttributeValue,
                    format!("`{}` is not one of the declared values", short(&v.text)),
                    v.span,
                )
                .label("not declared")
                .help(format!("the values are {}", values.join(", ")));
                if let Some(s) = did_you_mean(&v.text, values.iter().map(String::as_str)) {
                    d = d.help(s);
                }
                self.errors.push(d);
                return None;
            }
        }
        match Value::parse(scalar, &v.text) {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(
                    Diagnostic::new(Code::AttributeValue, message, v.span)
                        .label(format!("expected {}", Type::one(scalar).article()))
                        .help("write the value in the form its type takes"),
                );
                None
            }
        }
    }

    /// Checks a rule's `when` / `unless` clause and records it.
    pub(super) fn guard(&mut self, guard: &Option<Guard>, deny: bool) -> Option<CondId> {
        let g = guard.as_ref()?;
        let before = self.errors.len();
        let cond = self.cond(&g.expr);
        if self.errors.len() > before {
            return None;
        }
        let cond = cond?;
        let id = self.m.conditions.len() as CondId;
        self.m.conditions.push(Condition {
            open: open(&cond),
            cond,
            unless: g.unless,
            span: g.span,
            deny,
            text: format!(
                "{} {}",
                if g.unless { "unless" } else { "when" },
                crate::syntax::condition_text(&g.expr)
            ),
        });
        Some(id)
    }

    fn cond(&mut self, e: &Expr) -> Option<Cond> {
        Some(match e {
            Expr::Or(items) => Cond::Or(items.iter().map(|x| self.cond(x)).collect::<Option<_>>()?),
            Expr::And(items) => {
                Cond::And(items.iter().map(|x| self.cond(x)).collect::<Option<_>>()?)
            }
            Expr::Not(inner) => Cond::Not(Box::new(self.cond(inner)?)),
            Expr::Has(path, key) => {
                let mut keys = path.keys.clone();
                keys.push(key.clone());
                let full = Path {
                    root: path.root,
                    keys,
                    span: Span {
                        end: key.span.end,
                        ..path.span
                    },
                };
                let (k, _) = self.key(&full)?;
                Cond::Has(k)
            }
            Expr::Compare(a, op, b, span) => self.compare(a, *op, b, *span)?,
        })
    }

    /// The key a path reads, and its type.
    fn key(&mut self, path: &Path) -> Option<(Key, Typed)> {
        let text = crate::syntax::path_text(path);
        let keys: Vec<&str> = path.keys.iter().map(|k| k.text.as_str()).collect();
        let unknown = |what: String, help: String| {
            Diagnostic::new(Code::UnknownName, what, path.span)
                .label("not declared")
                .help(help)
        };
        let (ty, name, typed) = match (path.root, keys.as_slice()) {
            (Root::Principal, []) => (
                None,
                String::new(),
                Typed {
                    ty: Type::one(Scalar::User),
                    values: None,
                },
            ),
            (Root::Principal, [k]) => {
                let typed = match *k {
                    "kind" => Typed {
                        ty: Type::one(Scalar::String),
                        values: Some(vec!["human".into(), "service".into()]),
                    },
                    "status" => Typed {
                        ty: Type::one(Scalar::String),
                        values: self.m.attributes.get("status").map(|d| d.values.clone()),
                    },
                    k => match self.m.attribute_types.get(k) {
                        Some(ty) => Typed {
                            ty: *ty,
                            values: None,
                        },
                        None if self.m.declared_attributes.iter().any(|d| d == k) => Typed {
                            ty: Type::one(Scalar::String),
                            values: self.m.attributes.get(k).map(|d| d.values.clone()),
                        },
                        None => {
                            let mut d = unknown(
                                format!("users have no attribute `{}`", short(k)),
                                format!("declare it with its type: `attribute {k}: string`"),
                            );
                            let known: Vec<&str> = self
                                .m
                                .declared_attributes
                                .iter()
                                .map(String::as_str)
                                .chain(self.m.attribute_types.keys().map(String::as_str))
                                .collect();
                            if let Some(s) = did_you_mean(k, known) {
                                d = d.help(s);
                            }
                            self.errors.push(d);
                            return None;
                        }
                    },
                };
                (None, k.to_string(), typed)
            }
            (Root::Resource, [k]) | (Root::Resource, [_, k]) => {
                let on_type = match keys.as_slice() {
                    [t, _] => match self.m.names.types.get(*t) {
                        Some(&t) => Some(t),
                        None => {
                            self.errors.push(unknown(
                                format!("`{}` is not a type", short(t)),
                                "write `resource.KEY`, or `resource.TYPE.KEY` for the nearest node of TYPE above the resource".into(),
                            ));
                            return None;
                        }
                    },
                    _ => None,
                };
                let Some((ty, types)) = self.m.node_attributes.get(*k) else {
                    let mut d = unknown(
                        format!("no node type has an attribute `{}`", short(k)),
                        format!("declare it: `attribute {k}: TYPE on NODE_TYPE`"),
                    );
                    if let Some(s) =
                        did_you_mean(k, self.m.node_attributes.keys().map(String::as_str))
                    {
                        d = d.help(s);
                    }
                    self.errors.push(d);
                    return None;
                };
                if let Some(t) = on_type {
                    if !types.contains(&t) {
                        let tn = self.m.types[t.index()].name.clone();
                        self.errors.push(unknown(
                            format!("`{tn}` nodes have no attribute `{}`", short(k)),
                            format!("declare it: `attribute {k}: {ty} on {tn}`"),
                        ));
                        return None;
                    }
                }
                let typed = Typed {
                    ty: *ty,
                    values: self.m.node_enums.get(*k).cloned(),
                };
                (on_type, k.to_string(), typed)
            }
            (Root::Context, [k]) => {
                let typed = match (*k, self.m.context_keys.get(*k)) {
                    ("now", _) => Typed {
                        ty: Type::one(Scalar::Timestamp),
                        values: None,
                    },
                    (_, Some(declared)) => Typed {
                        ty: declared.ty,
                        values: declared.values.clone(),
                    },
                    (k, None) => {
                        let mut d = unknown(
                            format!("the context has no key `{}`", short(k)),
                            format!("declare it with its type: `context {k}: string`"),
                        );
                        if let Some(s) =
                            did_you_mean(k, self.m.context_keys.keys().map(String::as_str))
                        {
                            d = d.help(s);
                        }
                        self.errors.push(d);
                        return None;
                    }
                };
                (None, k.to_string(), typed)
            }
            _ => {
                self.errors.push(
                    Diagnostic::new(Code::Syntax, format!("`{text}` is not an attribute"), path.span)
                        .label("no such path")
                        .help("write `principal`, `principal.KEY`, `resource.KEY`, `resource.TYPE.KEY` or `context.KEY`"),
                );
                return None;
            }
        };
        Some((
            Key {
                root: path.root,
                ty,
                slot: match path.root {
                    Root::Context => self
                        .m
                        .context_keys
                        .get(&name)
                        .map_or(Model::NOW, |k| k.slot),
                    _ => 0,
                },
                name,
                text,
            },
            typed,
        ))
    }

    fn compare(&mut self, a: &Operand, op: Op, b: &Operand, span: Span) -> Option<Cond> {
        let text = crate::syntax::condition_text(&Expr::Compare(a.clone(), op, b.clone(), span));
        let mismatch = |this: &mut Checker, message: String, help: &str| {
            this.errors.push(
                Diagnostic::new(Code::AttributeValue, message, span)
                    .label("these do not compare")
                    .help(help.to_string()),
            );
        };
        let left = self.side(a)?;
        let right = self.side(b)?;
        let (lt, rt) = match (&left, &right) {
            (Side::Key(_, t), Side::Key(_, u)) => (Some(t.ty), Some(u.ty)),
            (Side::Key(_, t), _) => (Some(t.ty), None),
            (_, Side::Key(_, u)) => (None, Some(u.ty)),
            _ => {
                mismatch(
                    self,
                    "a condition compares two literals".into(),
                    "compare an attribute: `principal.KEY`, `resource.KEY` or `context.KEY`",
                );
                return None;
            }
        };
        // What each literal side is read as.
        let (want_left, want_right) = match (op, lt, rt) {
            (Op::In, Some(l), Some(r)) => {
                let ok = (r.set && !l.set && r.scalar == l.scalar)
                    || (!r.set && !l.set && l.scalar == Scalar::Ip && r.scalar == Scalar::Ip);
                if !ok {
                    mismatch(
                        self,
                        format!(
                            "`in` needs a set of {l} (or an IP range) on its right, and this is {}",
                            r.article()
                        ),
                        "`X in S` tests membership of a set, or an address in a range",
                    );
                    return None;
                }
                (l, r)
            }
            (Op::In, Some(l), None) if !l.set => {
                let one = matches!(right, Side::Lit(AttrValue::One(_)));
                if one && l.scalar != Scalar::Ip {
                    mismatch(
                        self,
                        "`in` needs a set on its right".into(),
                        "write a list: `[a, b]`",
                    );
                    return None;
                }
                (
                    l,
                    Type {
                        scalar: l.scalar,
                        set: !one,
                    },
                )
            }
            (Op::In, None, Some(r)) if r.set => (Type::one(r.scalar), r),
            (Op::In, None, Some(r)) if r.scalar == Scalar::Ip => (r, r),
            (Op::In, _, _) => {
                mismatch(
                    self,
                    "`in` needs one value on its left and a set (or an IP range) on its right"
                        .into(),
                    "write `context.via in [ui, api_token]` or `\"ops\" in principal.teams`",
                );
                return None;
            }
            (_, Some(l), Some(r)) => {
                if l != r {
                    mismatch(
                        self,
                        format!("{} is compared with {}", l.article(), r.article()),
                        "compare values of one type",
                    );
                    return None;
                }
                (l, r)
            }
            (_, Some(l), None) => (l, l),
            (_, None, Some(r)) => (r, r),
            (_, None, None) => unreachable!("two literals are reported above"),
        };
        if !matches!(op, Op::Eq | Op::Ne | Op::In) && (!want_left.scalar.ordered() || want_left.set)
        {
            mismatch(
                self,
                format!(
                    "`{}` needs an integer, a timestamp or a duration, and this is a {want_left}",
                    crate::syntax::op_text(op)
                ),
                "order compares numbers, times and durations; use `=` or `!=`",
            );
            return None;
        }
        let enumeration = match (&left, &right) {
            (Side::Key(_, t), _) | (_, Side::Key(_, t)) => t.values.clone(),
            _ => None,
        };
        let l = self.term(left, want_left, enumeration.as_deref())?;
        let r = self.term(right, want_right, enumeration.as_deref())?;
        Some(Cond::Compare(l, op, r, text))
    }

    fn side(&mut self, o: &Operand) -> Option<Side> {
        Some(match o {
            Operand::Path(p, offset) => {
                let (key, typed) = self.key(p)?;
                let secs = match offset {
                    None => 0,
                    Some((minus, d)) => {
                        if typed.ty != Type::one(Scalar::Timestamp) {
                            self.errors.push(
                                Diagnostic::new(
                                    Code::AttributeValue,
                                    format!(
                                        "`{}` is {}, not a timestamp",
                                        key.text,
                                        typed.ty.article()
                                    ),
                                    p.span,
                                )
                                .label("cannot be moved by a duration")
                                .help("only timestamps take `+ DURATION` or `- DURATION`"),
                            );
                            return None;
                        }
                        let Value::Duration(s) = self.literal(Scalar::Duration, d, None)? else {
                            return None;
                        };
                        if *minus {
                            -s
                        } else {
                            s
                        }
                    }
                };
                Side::Key((key, secs), typed)
            }
            Operand::Value(v) => Side::Lit(AttrValue::One(v.clone())),
            Operand::Set(items, span) => Side::Lit(AttrValue::Set(items.clone(), *span)),
        })
    }

    fn term(&mut self, side: Side, ty: Type, enumeration: Option<&[String]>) -> Option<Term> {
        match side {
            Side::Key((key, secs), _) => Some(Term::Key(key, secs)),
            Side::Lit(v) => self.value(ty, &v, enumeration).map(Term::Lit),
        }
    }
}

impl Checker {
    /// A policy test's `given KEY = VALUE, ...`, as a request's JSON
    /// context: every key declared (`context KEY ...` or `now`), every
    /// value of its type.
    pub(super) fn given(
        &mut self,
        given: &[(Name, AttrValue)],
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        if given.is_empty() {
            return None;
        }
        let mut map = serde_json::Map::new();
        for (key, value) in given {
            let declared = match key.text.as_str() {
                "now" => Some((Type::one(Scalar::Timestamp), None)),
                k => self.m.context_keys.get(k).map(|d| (d.ty, d.values.clone())),
            };
            let Some((ty, values)) = declared else {
                let mut d = Diagnostic::new(
                    Code::UnknownName,
                    format!("the context has no key `{}`", short(&key.text)),
                    key.span,
                )
                .label("not declared")
                .help(format!("declare it: `context {}: TYPE`", key.text));
                if let Some(s) =
                    did_you_mean(&key.text, self.m.context_keys.keys().map(String::as_str))
                {
                    d = d.help(s);
                }
                self.errors.push(d);
                continue;
            };
            self.value(ty, value, values.as_deref());
            let json = match value {
                AttrValue::One(v) => serde_json::Value::String(v.text.clone()),
                AttrValue::Set(items, _) => items
                    .iter()
                    .map(|v| serde_json::Value::String(v.text.clone()))
                    .collect(),
            };
            map.insert(key.text.clone(), json);
        }
        Some(map)
    }
}

enum Side {
    Key((Key, i64), Typed),
    Lit(AttrValue),
}

/// Whether a condition reads the resource or the context.
fn open(c: &Cond) -> bool {
    let key = |t: &Term| matches!(t, Term::Key(k, _) if k.root != Root::Principal);
    match c {
        Cond::Or(items) | Cond::And(items) => items.iter().any(open),
        Cond::Not(inner) => open(inner),
        Cond::Has(k) => k.root != Root::Principal,
        Cond::Compare(a, _, b, _) => key(a) || key(b),
    }
}
