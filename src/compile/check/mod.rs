//! Stage 2: AST → checked [`Model`]. Resolves every name, checks types,
//! ranks and cycles, and collects every problem rather than stopping at the
//! first.

mod conditions;
mod declare;
mod resolve;
mod values;

use super::ids::*;
use super::limits::MAX_RANK;
use super::model::*;
use crate::error::{did_you_mean, short, Code, Diagnostic};
use crate::source::{Sources, Span};
use crate::syntax::ast::{
    self, Actions, AttrValue, ConstraintKind, Item, Mode, Name, PolicyFile, Statement, Target,
};
use crate::syntax::names::quote;
use rustc_hash::FxHashMap;
use std::borrow::Borrow;

/// Checks parsed files and builds the model, or returns every problem found.
pub fn check<F: Borrow<PolicyFile>>(
    sources: Sources,
    files: &[F],
) -> Result<Model, (Sources, Vec<Diagnostic>)> {
    let mut c = Checker {
        m: Model {
            sources,
            ..Model::default()
        },
        errors: Vec::new(),
        first_new_type: 0,
        extending: false,
    };
    let items: Vec<&Item> = files.iter().flat_map(|f| &f.borrow().items).collect();
    let declared = c.declare(&items);
    c.resolve(&items, &declared);
    let structural = super::structure::check(&c.m);
    c.errors.extend(structural);
    if c.errors.is_empty() {
        Ok(c.m)
    } else {
        Err((c.m.sources, c.errors))
    }
}

/// Checks a batch of statements against an already checked model and
/// returns the model with the batch added. Names already in `base` resolve
/// to their ids; a `user` statement for an existing user restates it (kind,
/// status, attributes, homes); any other name declared again is an error.
/// The whole-model checks (structure, constraints) are the caller's.
pub fn extend(base: Model, batch: &PolicyFile) -> Result<Model, Vec<Diagnostic>> {
    let first_new_type = base.types.len();
    let mut c = Checker {
        m: base,
        errors: Vec::new(),
        first_new_type,
        extending: true,
    };
    let items: Vec<&Item> = batch.items.iter().collect();
    let declared = c.declare(&items);
    c.resolve(&items, &declared);
    if c.errors.is_empty() {
        Ok(c.m)
    } else {
        Err(c.errors)
    }
}

struct Checker {
    m: Model,
    errors: Vec<Diagnostic>,
    /// Types from this index on are declared by the statements being checked.
    first_new_type: usize,
    /// Adding statements to a checked model rather than building one.
    extending: bool,
}

/// The id pass 1 gave a declaration.
#[derive(Clone, Copy, Debug)]
enum Declared {
    Type(TypeId),
    Role(RoleId),
    Principal(PrincipalId),
    Group(GroupId),
    Node(NodeId),
}

/// Which table a name is declared in and looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Type,
    Action,
    Role,
    Principal,
    Group,
    Node,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Type => "type",
            Kind::Action => "action",
            Kind::Role => "role",
            Kind::Principal => "user",
            Kind::Group => "group",
            Kind::Node => "node",
        }
    }
    fn declare_hint(self) -> &'static str {
        match self {
            Kind::Type => "declare it with `type NAME`",
            Kind::Action => "declare it with `action NAME`",
            Kind::Role => "declare it with `role NAME on TYPE { ... }`",
            Kind::Principal => "declare it with `user NAME` (or `service user NAME`)",
            Kind::Group => "declare it with `group NAME { ... }`",
            Kind::Node => "declare it with `TYPE NAME in PARENT`",
        }
    }
}

impl Checker {
    fn fact(&mut self, span: Span) -> FactId {
        self.m.facts.push(span);
        FactId(self.m.facts.len() as u32 - 1)
    }

    fn sym(&mut self, text: &str) -> Sym {
        if let Some(&s) = self.m.names.symbols.get(text) {
            return s;
        }
        let s = Sym(self.m.symbols.len() as u32);
        self.m.symbols.push(text.to_string());
        self.m.names.symbols.insert(text.into(), s);
        s
    }

    fn lookup<T: Copy>(&mut self, kind: Kind, name: &Name) -> Option<T>
    where
        Checker: Table<T>,
    {
        if let Some(id) = self.find(&name.text) {
            return Some(id);
        }
        if let Some(d) = self.other_kind(kind, name) {
            self.errors.push(d);
            return None;
        }
        let candidates = self.known();
        let mut d = crate::error::unknown(kind.word(), &name.text, name.span);
        d = match did_you_mean(&name.text, candidates.iter().map(String::as_str)) {
            Some(hint) => d.help(hint),
            None => d.help(kind.declare_hint()),
        };
        self.errors.push(d);
        None
    }

    /// A name used as one kind that names another: a group written where a
    /// user goes, a user after `group`, a role where an action goes.
    fn other_kind(&self, kind: Kind, name: &Name) -> Option<Diagnostic> {
        let n = short(&name.text);
        let q = quote(&name.text);
        let (message, help) = match kind {
            Kind::Principal if self.m.names.groups.contains_key(name.text.as_str()) => (
                format!("`{n}` is a group, not a user"),
                format!("write `group {q}` to name the group"),
            ),
            Kind::Group if self.m.names.principals.contains_key(name.text.as_str()) => (
                format!("`{n}` is a user, not a group"),
                format!("write `{q}` without `group` to name the user"),
            ),
            Kind::Action if self.m.names.roles.contains_key(&name.text) => (
                format!("`{n}` is a role, not an action"),
                format!(
                    "`assign {n} on NODE to WHO` gives a role; `grant` and `deny` name actions"
                ),
            ),
            _ => return None,
        };
        Some(
            Diagnostic::new(Code::WrongKind, message, name.span)
                .label(match kind {
                    Kind::Action => "not an action".to_string(),
                    _ => format!("not a {}", kind.word()),
                })
                .help(help),
        )
    }

    fn node(&mut self, r: &ast::NodeRef) -> Option<NodeId> {
        let ty: TypeId = self.lookup(Kind::Type, &r.ty)?;
        let key = format!("{}:{}", r.ty.text, r.name.text);
        if let Some(&n) = self.m.names.nodes.get(&*key) {
            return Some(n);
        }
        let prefix = format!("{}:", r.ty.text);
        let same_type: Vec<String> = self
            .m
            .names
            .nodes
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let span = Span {
            start: r.ty.span.start,
            ..r.name.span
        };
        let mut d = crate::error::unknown("node", &key, span).label(format!(
            "no {} has this name",
            self.m.types[ty.index()].name
        ));
        d = match did_you_mean(&r.name.text, same_type.iter().map(String::as_str)) {
            Some(hint) => d.help(format!(
                "{hint} (as `{}{}`)",
                prefix,
                hint.trim_start_matches("did you mean `")
                    .trim_end_matches("`?")
            )),
            None => d.help(format!(
                "declare it with `{} {} in PARENT`",
                r.ty.text,
                short(&quote(&r.name.text))
            )),
        };
        self.errors.push(d);
        None
    }

    fn subject(&mut self, s: &ast::Subject) -> Option<SubjectId> {
        match s {
            ast::Subject::Principal(name) => {
                self.lookup(Kind::Principal, name).map(SubjectId::principal)
            }
            ast::Subject::Group(name) => self.lookup(Kind::Group, name).map(SubjectId::group),
            ast::Subject::Selector {
                span,
                within,
                conditions,
            } => {
                let within = match within {
                    Some(r) => Some(self.node(r)?),
                    None => None,
                };
                let mut conds = Vec::new();
                for c in conditions {
                    let known = matches!(c.key.text.as_str(), "status" | "kind")
                        || self.m.names.symbols.contains_key(&*c.key.text);
                    if !known {
                        let keys: Vec<String> = self
                            .m
                            .principals
                            .iter()
                            .flat_map(|p| {
                                p.attrs
                                    .iter()
                                    .map(|(k, _)| self.m.symbols[k.index()].clone())
                            })
                            .chain(["status".to_string(), "kind".to_string()])
                            .collect();
                        let mut d = crate::error::unknown("attribute", &c.key.text, c.key.span)
                            .label("no user has this attribute");
                        d = match did_you_mean(&c.key.text, keys.iter().map(String::as_str)) {
                            Some(h) => d.help(h),
                            None => d.help("conditions test `status`, `kind`, or an attribute given with `user NAME with KEY = VALUE` or declared with `attribute KEY`"),
                        };
                        self.errors.push(d);
                        return None;
                    }
                    self.check_value(&c.key.text, &c.value);
                    let key = self.sym(&c.key.text);
                    let value = self.sym(&c.value.text);
                    conds.push((key, c.equal, value));
                }
                Some(self.selector(conds, within, Some(*span)))
            }
        }
    }

    /// The selector with these conditions, as written at `written` (`None`:
    /// the implicit `everyone` of a `default` rule without `to`): one id per
    /// distinct condition set, however often it is written.
    fn selector(
        &mut self,
        mut conditions: Vec<(Sym, bool, Sym)>,
        within: Option<NodeId>,
        written: Option<Span>,
    ) -> SubjectId {
        conditions.sort();
        conditions.dedup();
        if let Some(i) = self
            .m
            .selectors
            .iter()
            .position(|s| s.conditions == conditions && s.within == within)
        {
            return SubjectId::selector(SelectorId(i as u32));
        }
        let text = match written {
            None => "everyone".to_string(),
            Some(span) => self.m.sources.file(span.file).text
                [span.start as usize..span.end as usize]
                .to_string(),
        };
        let id = SelectorId(self.m.selectors.len() as u32);
        self.m.selectors.push(SelectorDef {
            conditions,
            within,
            text,
        });
        SubjectId::selector(id)
    }

    fn actions(&mut self, actions: &Actions) -> Vec<ActionId> {
        match actions {
            Actions::All(_) => (0..self.m.actions.len() as u32).map(ActionId).collect(),
            Actions::List(names) => names
                .iter()
                .filter_map(|n| self.lookup(Kind::Action, n))
                .collect(),
        }
    }

    fn role_on(&mut self, role: RoleId, ty: TypeId, span: Span, what: &str) -> bool {
        let r = &self.m.roles[role.index()];
        if r.on.contains(&ty) {
            return true;
        }
        let on: Vec<String> =
            r.on.iter()
                .map(|t| format!("`{}`", self.m.types[t.index()].name))
                .collect();
        self.errors.push(
            Diagnostic::new(Code::Placement,
                format!(
                    "role `{}` cannot be {what} `{}` nodes",
                    r.name, self.m.types[ty.index()].name
                ),
                span,
            )
            .label(format!("this is of type `{}`", self.m.types[ty.index()].name))
            .help(format!("`{}` is declared on {}; assign it on one of those, or add the type to its `on` list", r.name, on.join(", "))),
        );
        false
    }
}

trait Table<T> {
    fn find(&self, name: &str) -> Option<T>;
    fn known(&self) -> Vec<String>;
}

macro_rules! table {
    ($ty:ty, $field:ident) => {
        impl Table<$ty> for Checker {
            fn find(&self, name: &str) -> Option<$ty> {
                self.m.names.$field.get(name).copied()
            }
            fn known(&self) -> Vec<String> {
                self.m.names.$field.keys().map(|k| k.to_string()).collect()
            }
        }
    };
}
table!(TypeId, types);
table!(ActionId, actions);
table!(RoleId, roles);
table!(PrincipalId, principals);
table!(GroupId, groups);
