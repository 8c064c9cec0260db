//! Deciding a rule's `when` / `unless` condition for one request.
//!
//! A condition is checked at load ([`crate::compile`]); here it is only
//! read against the principal's attributes, the resource's (and its
//! ancestors') attributes and the request's context. A key with no value
//! makes its comparison undecided, and an undecided condition never lets an
//! allow rule hold and always lets a deny rule hold: access fails closed.
//!
//! Which rules hold is then input to the Datalog program, which decides
//! access as it does for unconditional rules (see [`Truth`]).

use crate::compile::ids::*;
use crate::compile::model::{Cond, CondId, Condition, Key, Model, Term};
use crate::compile::value::{Scalar, Type, Value};
use crate::decision::RequestError;
use crate::syntax::ast::{Op, Root};
use std::borrow::Cow;

/// A request's context, each key read by its declared type, by the key's
/// slot ([`crate::compile::model::ContextKey`]; `now` first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    values: Vec<Option<Value>>,
}

impl Context {
    /// Reads a request's JSON context against the policy's `context`
    /// declarations. `now` is the current time unless the request sets it
    /// (so that a decision can be replayed). Keys the policy does not
    /// declare are ignored; a declared key of the wrong type is an error.
    pub fn read(
        m: &Model,
        json: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Context, RequestError> {
        let mut values = vec![None; m.context_keys.len() + 1];
        for (key, value) in json.into_iter().flatten() {
            // Keys, like every name, in their canonical form.
            let key = crate::syntax::names::canonical(key);
            let (slot, ty, enumeration) = match (&*key, m.context_keys.get(&*key)) {
                ("now", _) => (Model::NOW, Type::one(Scalar::Timestamp), None),
                (_, Some(declared)) => (declared.slot, declared.ty, declared.values.as_ref()),
                _ => continue,
            };
            if value.is_null() {
                continue;
            }
            let bad = |message: String| RequestError::Context {
                key: key.to_string(),
                message,
            };
            let v = Value::from_json(ty, value).map_err(bad)?;
            if let (Some(allowed), Value::Str(s)) = (enumeration, &v) {
                if !allowed.contains(s) {
                    return Err(bad(format!(
                        "`{}` is not one of {}",
                        crate::error::short(s),
                        allowed.join(", ")
                    )));
                }
            }
            values[slot] = Some(v);
        }
        if values[Model::NOW].is_none() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            values[Model::NOW] = Some(Value::Time(now));
        }
        Ok(Context { values })
    }

    /// The value of the key in `slot`.
    pub fn get(&self, slot: usize) -> Option<&Value> {
        self.values.get(slot)?.as_ref()
    }
}

/// The outcome of a condition, or of one comparison in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tri {
    /// It holds.
    True,
    /// It does not.
    False,
    /// A key it needs (read from the principal, the resource or the
    /// context) has no value: it cannot be decided.
    Missing(Root),
}

impl Tri {
    fn of(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            missing => missing,
        }
    }
}

/// What one request lets a condition read.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The model.
    pub m: &'a Model,
    /// The principal asking.
    pub principal: PrincipalId,
    /// The resource asked about (none while tabulating a principal's
    /// decisions: then only `principal.*` can be read).
    pub resource: Option<NodeId>,
    /// The request's context.
    pub context: Option<&'a Context>,
}

impl Env<'_> {
    /// The value a key reads, if it has one.
    pub fn value(&self, key: &Key) -> Option<Cow<'_, Value>> {
        let m = self.m;
        match key.root {
            Root::Principal => {
                let def = &m.principals[self.principal.index()];
                if key.name.is_empty() {
                    return Some(Cow::Owned(Value::Str(def.name.clone())));
                }
                if let Some((_, v)) = def.values.iter().find(|(k, _)| *k == key.name) {
                    return Some(Cow::Borrowed(v));
                }
                let k = m.symbol(&key.name)?;
                def.attrs
                    .iter()
                    .find(|(ak, _)| *ak == k)
                    .map(|(_, v)| Cow::Owned(Value::Str(m.symbols[v.index()].clone())))
            }
            Root::Resource => {
                let n = self.resource?;
                let node = match key.ty {
                    None => n,
                    Some(t) => m.ancestry(n).find(|a| m.nodes[a.index()].ty == t)?,
                };
                m.nodes[node.index()]
                    .values
                    .iter()
                    .find(|(k, _)| *k == key.name)
                    .map(|(_, v)| Cow::Borrowed(v))
            }
            Root::Context => self.context?.get(key.slot).map(Cow::Borrowed),
        }
    }

    /// Decides a condition (three-valued: `a and b` is false when either is
    /// false, whatever the other; undecided only when the missing value
    /// could change the outcome).
    pub fn eval(&self, c: &Cond) -> Tri {
        match c {
            Cond::Or(items) => {
                let mut out = Tri::False;
                for x in items {
                    match self.eval(x) {
                        Tri::True => return Tri::True,
                        Tri::Missing(k) => out = Tri::Missing(k),
                        Tri::False => {}
                    }
                }
                out
            }
            Cond::And(items) => {
                let mut out = Tri::True;
                for x in items {
                    match self.eval(x) {
                        Tri::False => return Tri::False,
                        Tri::Missing(k) => out = Tri::Missing(k),
                        Tri::True => {}
                    }
                }
                out
            }
            Cond::Not(inner) => self.eval(inner).not(),
            Cond::Has(k) => Tri::of(self.value(k).is_some()),
            Cond::Compare(a, op, b, _) => {
                let (a, b) = match (self.term(a), self.term(b)) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(k), _) | (_, Err(k)) => return Tri::Missing(k),
                };
                Tri::of(compare(&a, *op, &b))
            }
        }
    }

    /// A side's value, or where the key that has none is read from.
    pub fn term<'t>(&'t self, t: &'t Term) -> Result<Cow<'t, Value>, Root> {
        match t {
            Term::Lit(v) => Ok(Cow::Borrowed(v)),
            Term::Key(k, 0) => self.value(k).ok_or(k.root),
            Term::Key(k, secs) => match self.value(k).as_deref() {
                Some(Value::Time(t)) => Ok(Cow::Owned(Value::Time(t.saturating_add(*secs)))),
                _ => Err(k.root),
            },
        }
    }

    /// Whether the rule a condition guards holds for this request.
    pub fn holds(&self, c: &Condition) -> bool {
        rule_holds(c, &self.eval(&c.cond))
    }
}

/// Whether a rule holds given its condition's outcome: `unless` turns the
/// outcome round; undecided holds for a deny and not for anything else.
pub fn rule_holds(c: &Condition, outcome: &Tri) -> bool {
    let decided = match outcome {
        Tri::True => Some(!c.unless),
        Tri::False => Some(c.unless),
        Tri::Missing(_) => None,
    };
    match decided {
        Some(b) => b,
        None => c.deny,
    }
}

fn compare(a: &Value, op: Op, b: &Value) -> bool {
    use std::cmp::Ordering;
    let order = |a: &Value, b: &Value| -> Option<Ordering> {
        match (a, b) {
            (Value::Int(x), Value::Int(y))
            | (Value::Time(x), Value::Time(y))
            | (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
            _ => None,
        }
    };
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => order(a, b) == Some(Ordering::Less),
        Op::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order(a, b) == Some(Ordering::Greater),
        Op::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
        Op::In => match (a, b) {
            (x, Value::Set(items)) => items.contains(x),
            (Value::Ip(x), Value::Ip(range)) => range.contains(x),
            _ => false,
        },
    }
}

/// Which conditional rules hold in one evaluation of the program.
///
/// A condition on the principal alone is decided when the principal's
/// decisions are tabulated. The others (on the resource or the context)
/// are *open*: each table is evaluated for one assignment of truth values
/// to the principal's open conditions, and a check decides those for its
/// request and reads the table for that assignment. So every decision,
/// conditional or not, is still the Datalog program's.
#[derive(Clone, Copy, Debug)]
pub struct Truth<'a> {
    /// The principal's open conditions, in a fixed order.
    pub open: &'a [CondId],
    /// Bit `i` set: the rule guarded by `open[i]` holds.
    pub bits: u64,
}

impl Truth<'_> {
    /// No open condition (a principal none of whose rules read the
    /// resource or the context).
    pub const NONE: Truth<'static> = Truth { open: &[], bits: 0 };

    /// Whether a rule with condition `cond` is given to the program.
    pub fn holds(&self, m: &Model, p: PrincipalId, cond: Option<CondId>) -> bool {
        let Some(c) = cond else { return true };
        let def = &m.conditions[c as usize];
        if !def.open {
            let env = Env {
                m,
                principal: p,
                resource: None,
                context: None,
            };
            return env.holds(def);
        }
        match self.open.iter().position(|&o| o == c) {
            Some(i) => self.bits & (1 << i) != 0,
            // Not among the principal's open conditions: cannot happen for
            // a table built from them; holding it out fails closed for an
            // allow, and a deny left out could only allow more, so a deny
            // holds.
            None => def.deny,
        }
    }

    /// The truth values of `open` for one request.
    pub fn bits_for(env: &Env<'_>, open: &[CondId]) -> u64 {
        let mut bits = 0;
        for (i, &c) in open.iter().enumerate() {
            if env.holds(&env.m.conditions[c as usize]) {
                bits |= 1 << i;
            }
        }
        bits
    }
}

/// Most open conditions one principal's rules may carry: a check decides
/// each of them.
pub const MAX_OPEN_CONDITIONS: usize = 64;

/// The error for a principal whose rules carry more open conditions than a
/// table can be keyed by.
pub fn too_many_conditions(m: &Model, p: PrincipalId) -> RequestError {
    RequestError::TooManyConditions {
        principal: m.principals[p.index()].name.clone(),
    }
}
