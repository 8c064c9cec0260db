//! Facts as JSON: the users, groups, memberships, nodes, assignments and
//! grants that an identity provider or a product database supplies, apart
//! from the hand-written model (types, roles, rules).
//!
//! The format (every field but the names is optional):
//!
//! ```json
//! {
//!   "nodes": [{"type": "workspace", "name": "marketing", "in": "team:acme", "created_by": "carol"}],
//!   "users": [{"name": "erin", "kind": "human", "status": "active", "in": ["team:acme"],
//!              "attributes": {"department": "sales"}}],
//!   "groups": [{"name": "support", "in": ["team:acme"],
//!               "members": [{"user": "bob"}, {"group": "frontline"}]}],
//!   "memberships": [{"member": {"user": "erin"}, "group": "support"}],
//!   "assignments": [{"role": "editor", "on": "workspace:marketing", "to": {"group": "support"}}],
//!   "grants": [{"actions": ["web_app.open"], "on": "web_app:support-bot", "to": {"user": "erin"}}]
//! }
//! ```
//!
//! **Facts are data, never policy text.** Each fact is decoded into typed
//! values and lowered straight to the statements a policy's own facts
//! produce (users, groups, memberships, nodes, assignments, grants), so no
//! field can add a type, role, rule, deny or constraint, whatever it holds.
//! A subject says what it is with its key (`{"user": ...}` or
//! `{"group": ...}`), never with a prefix in the name, so a user may be
//! called `group:support`. A node is `type:name`, split at the first `:`;
//! its name follows the language's one quoting rule (a quoted `"..."` means
//! the text between the quotes, see [`crate::syntax::names`]). Every fact
//! gets a source named after its place in the file (`facts.json#/users/3`)
//! whose text is the fact as a policy would state it: errors and
//! explanations cite it there, in the same words as for a policy file.

use crate::compile::ids::{NodeId, SubjectKind};
use crate::compile::model::{Model, PrincipalKind};
use crate::compile::value::Value;
use crate::error::Error;
use crate::source::{FileId, Sources, Span};
use crate::syntax::ast::{self, Actions, AttrValue, Item, Name, NodeRef, PolicyFile, Statement};
use crate::syntax::names::{self, quote};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// All the facts of one JSON document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Nodes of the scope tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeFact>,
    /// Principals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserFact>,
    /// Groups and their members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupFact>,
    /// Single memberships in groups declared elsewhere: what an identity
    /// provider's "add member" and "remove member" carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<MembershipFact>,
    /// Role assignments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignments: Vec<AssignmentFact>,
    /// Direct grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantFact>,
}

/// Who a fact is about: `{"user": "bob"}` or `{"group": "support"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SubjectFact {
    /// A user (human or service), by name.
    User(String),
    /// A group, by name.
    Group(String),
}

/// A node: `{"type": "app", "name": "chatbot", "in": "workspace:marketing"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFact {
    /// Its type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its name.
    pub name: String,
    /// Its parent, `type:name`.
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Its attributes, each declared for its type (`attribute KEY: TYPE on
    /// TYPE`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeFact>,
}

/// An attribute's value in JSON: text, a number, `true` or `false`, or a
/// list of these for a set. The policy's declaration gives its type; text is
/// read as the policy text's values are (`"2026-12-02T09:00:00Z"` for a
/// timestamp, `"7d"` for a duration, `"10.0.0.0/8"` for an IP range).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeFact {
    /// One value.
    One(ScalarFact),
    /// A set.
    Many(Vec<ScalarFact>),
}

/// One JSON value of an attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScalarFact {
    /// Text.
    Text(String),
    /// A number.
    Number(serde_json::Number),
    /// A truth value.
    Bool(bool),
}

impl ScalarFact {
    fn text(&self) -> String {
        match self {
            ScalarFact::Text(s) => s.clone(),
            ScalarFact::Number(n) => n.to_string(),
            ScalarFact::Bool(b) => b.to_string(),
        }
    }
}

impl AttributeFact {
    /// A typed value as JSON facts write it.
    pub fn of(v: &Value) -> AttributeFact {
        let one = |v: &Value| match v {
            Value::Int(i) => ScalarFact::Number((*i).into()),
            Value::Bool(b) => ScalarFact::Bool(*b),
            Value::Str(s) => ScalarFact::Text(s.clone()),
            other => ScalarFact::Text(other.shown().trim_matches('"').to_string()),
        };
        match v {
            Value::Set(items) => AttributeFact::Many(items.iter().map(one).collect()),
            v => AttributeFact::One(one(v)),
        }
    }
}

impl From<&str> for AttributeFact {
    fn from(text: &str) -> AttributeFact {
        AttributeFact::One(ScalarFact::Text(text.to_string()))
    }
}

/// A principal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFact {
    /// Name.
    pub name: String,
    /// `human` (default) or `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PrincipalKind>,
    /// Status (`active` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Home nodes, `type:name`.
    #[serde(rename = "in", default, skip_serializing_if = "Vec::is_empty")]
    pub homes: Vec<String>,
    /// Other attributes that rules can test.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeFact>,
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFact {
    /// Name.
    pub name: String,
    /// Home nodes.
    #[serde(rename = "in", default, skip_serializing_if = "Vec::is_empty")]
    pub homes: Vec<String>,
    /// Members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<SubjectFact>,
}

/// `member` belongs to `group`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipFact {
    /// The member.
    pub member: SubjectFact,
    /// Group name.
    pub group: String,
}

/// `to` holds `role` on `on`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentFact {
    /// Role.
    pub role: String,
    /// Node, `type:name`.
    pub on: String,
    /// Subject.
    pub to: SubjectFact,
}

/// `to` may do `actions` on `on`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantFact {
    /// Actions.
    pub actions: Vec<String>,
    /// Node, `type:name`.
    pub on: String,
    /// Subject.
    pub to: SubjectFact,
}

/// A field that cannot be lowered: its JSON path, and what is wrong.
type FieldError = (String, String);

/// One fact lowered: the statement, and the text that shows it.
struct Lowered {
    path: String,
    text: String,
    statement: Statement,
}

/// Builds one fact's statement and, beside it, the line that shows it, so
/// that every name's span points at its place in that line. The line is
/// for people (errors, explanations); it is never parsed.
struct Line {
    file: FileId,
    text: String,
}

impl Line {
    fn new(file: FileId) -> Line {
        Line {
            file,
            text: String::new(),
        }
    }

    fn push(&mut self, shown: &str) -> Span {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let start = self.text.len();
        self.text.push_str(shown);
        Span::new(self.file, start, self.text.len())
    }

    /// ` with k = v, ...`: each key an identifier, each value as written.
    fn attributes(
        &mut self,
        attributes: &BTreeMap<String, AttributeFact>,
    ) -> Result<Vec<(Name, AttrValue)>, String> {
        if attributes.is_empty() {
            return Ok(Vec::new());
        }
        self.word("with");
        let pairs: Vec<(&String, &AttributeFact)> = attributes.iter().collect();
        self.list(&pairs, |l, (k, v)| {
            let key = l.ident(k, "an attribute", false)?;
            l.word("=");
            let value = match v {
                AttributeFact::One(x) => AttrValue::One(l.name(&x.text())),
                AttributeFact::Many(items) => {
                    let start = l.push("[");
                    let items = items.iter().map(|x| l.name(&x.text())).collect();
                    let end = l.push("]");
                    AttrValue::Set(
                        items,
                        Span {
                            end: end.end,
                            ..start
                        },
                    )
                }
            };
            Ok((key, value))
        })
    }

    fn word(&mut self, word: &str) {
        self.push(word);
    }

    /// A name of something declared: users, groups, nodes, values.
    fn name(&mut self, text: &str) -> Name {
        let span = self.push(&quote(text));
        Name {
            text: names::canonical(text).into_owned(),
            span,
        }
    }

    /// A word of the model (a type, role, action or attribute key): it must
    /// be an identifier (dotted for actions).
    fn ident(&mut self, text: &str, what: &str, dotted: bool) -> Result<Name, String> {
        let ok = |part: &str| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        };
        let valid = if dotted {
            text.split('.').all(ok)
        } else {
            ok(text)
        };
        if !valid {
            return Err(format!(
                "`{}` is not {what} name (names of the model are identifiers{})",
                crate::error::short(text),
                if dotted { ", dotted for actions" } else { "" }
            ));
        }
        let span = self.push(text);
        Ok(Name {
            text: names::canonical(text).into_owned(),
            span,
        })
    }

    /// A node, `type:name`, by the one rule for written names.
    fn node(&mut self, text: &str) -> Result<NodeRef, String> {
        let Some((ty, name)) = names::written_node(text) else {
            return Err(format!(
                "`{}` is not a node: write `type:name`, with a quoted name whole (`app:\"lead scorer\"`)",
                crate::error::short(text)
            ));
        };
        let ty = self.ident(&ty, "a type", false)?;
        self.text.push(':');
        let start = self.text.len();
        self.text.push_str(&quote(&name));
        let name = Name {
            text: name.into_owned(),
            span: Span::new(self.file, start, self.text.len()),
        };
        Ok(NodeRef { ty, name })
    }

    fn subject(&mut self, s: &SubjectFact) -> ast::Subject {
        match s {
            SubjectFact::User(n) => ast::Subject::Principal(self.name(n)),
            SubjectFact::Group(n) => {
                self.word("group");
                ast::Subject::Group(self.name(n))
            }
        }
    }

    fn list<T, U>(
        &mut self,
        items: &[T],
        mut each: impl FnMut(&mut Line, &T) -> Result<U, String>,
    ) -> Result<Vec<U>, String> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            out.push(each(self, item)?);
        }
        Ok(out)
    }
}

impl Facts {
    /// No facts at all?
    pub fn is_empty(&self) -> bool {
        *self == Facts::default()
    }

    /// Appends `other`'s facts to these.
    pub fn extend(&mut self, other: Facts) {
        self.nodes.extend(other.nodes);
        self.users.extend(other.users);
        self.groups.extend(other.groups);
        self.memberships.extend(other.memberships);
        self.assignments.extend(other.assignments);
        self.grants.extend(other.grants);
    }

    /// Parses a JSON document; an error names the file and the JSON path.
    pub fn from_json(name: &str, text: &str) -> Result<Facts, Error> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Error::Usage(format!("{name}: at `{path}`: {}", e.inner()))
        })
    }

    /// Adds each fact to `sources` as one statement, already lowered, in a
    /// source named `NAME#/KIND/INDEX`; returns the files the statements
    /// are in. A field that cannot name what it should (a node not written
    /// `type:name`, an attribute key that is not an identifier) is an error
    /// naming its JSON path, and nothing is added.
    pub fn add_to(&self, name: &str, sources: &mut Sources) -> Result<Vec<FileId>, Error> {
        let first = sources.len() as FileId;
        let lowered = self
            .lower(first)
            .map_err(|(path, what)| Error::Usage(format!("{name}: at `{path}`: {what}")))?;
        Ok(lowered
            .into_iter()
            .map(|l| {
                let span = Span::new(sources.len() as FileId, 0, l.text.len());
                let file = PolicyFile {
                    items: vec![Item {
                        statement: l.statement,
                        span,
                    }],
                };
                sources.add_lowered(format!("{name}#{}", l.path), l.text, Arc::new(file))
            })
            .collect())
    }

    /// Each fact as a statement in file `first + i`, with its JSON path
    /// (`/users/3`) and the text that shows it; or the first field that
    /// cannot be lowered, with its path.
    fn lower(&self, first: FileId) -> Result<Vec<Lowered>, FieldError> {
        let mut out: Vec<Lowered> = Vec::new();
        let mut file = first;
        let mut next = |path: String,
                        build: &dyn Fn(&mut Line) -> Result<Statement, FieldError>|
         -> Result<(), FieldError> {
            let mut line = Line::new(file);
            let statement = build(&mut line)?;
            out.push(Lowered {
                path,
                text: line.text,
                statement,
            });
            file += 1;
            Ok(())
        };
        fn at(path: &str, field: &str) -> impl FnOnce(String) -> FieldError {
            let path = format!("{path}/{field}");
            move |what| (path, what)
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let path = format!("/nodes/{i}");
            next(path.clone(), &|l| {
                let ty = l.ident(&n.ty, "a type", false).map_err(at(&path, "type"))?;
                let name = l.name(&n.name);
                let parent = match &n.parent {
                    Some(p) => {
                        l.word("in");
                        Some(l.node(p).map_err(at(&path, "in"))?)
                    }
                    None => None,
                };
                let creator = n.created_by.as_ref().map(|c| {
                    l.word("created by");
                    l.name(c)
                });
                let attrs = l
                    .attributes(&n.attributes)
                    .map_err(at(&path, "attributes"))?;
                Ok(Statement::Node {
                    ty,
                    name,
                    parent,
                    creator,
                    attrs,
                })
            })?;
        }
        for (i, u) in self.users.iter().enumerate() {
            let path = format!("/users/{i}");
            next(path.clone(), &|l| {
                let kind = match u.kind {
                    Some(PrincipalKind::Service) => {
                        let span = l.push("service");
                        Some(Name {
                            text: "service".into(),
                            span,
                        })
                    }
                    _ => None,
                };
                l.word("user");
                let name = l.name(&u.name);
                let mut homes = Vec::new();
                if !u.homes.is_empty() {
                    l.word("in");
                    homes = l
                        .list(&u.homes, |l, h| l.node(h))
                        .map_err(at(&path, "in"))?;
                }
                let status = u.status.as_ref().map(|s| {
                    l.word("status");
                    l.name(s)
                });
                let attrs = l
                    .attributes(&u.attributes)
                    .map_err(at(&path, "attributes"))?;
                Ok(Statement::Principal {
                    name,
                    kind,
                    homes,
                    status,
                    attrs,
                })
            })?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            let path = format!("/groups/{i}");
            next(path.clone(), &|l| {
                l.word("group");
                let name = l.name(&g.name);
                let mut homes = Vec::new();
                if !g.homes.is_empty() {
                    l.word("in");
                    homes = l
                        .list(&g.homes, |l, h| l.node(h))
                        .map_err(at(&path, "in"))?;
                }
                l.word("{");
                let members = l
                    .list(&g.members, |l, m| Ok(l.subject(m)))
                    .map_err(at(&path, "members"))?;
                l.word("}");
                Ok(Statement::Group {
                    name,
                    homes,
                    members,
                })
            })?;
        }
        for (i, x) in self.memberships.iter().enumerate() {
            next(format!("/memberships/{i}"), &|l| {
                l.word("add");
                let member = l.subject(&x.member);
                l.word("to group");
                Ok(Statement::Add {
                    members: vec![member],
                    group: l.name(&x.group),
                })
            })?;
        }
        for (i, a) in self.assignments.iter().enumerate() {
            let path = format!("/assignments/{i}");
            next(path.clone(), &|l| {
                l.word("assign");
                let role = l
                    .ident(&a.role, "a role", false)
                    .map_err(at(&path, "role"))?;
                l.word("on");
                let on = l.node(&a.on).map_err(at(&path, "on"))?;
                l.word("to");
                let to = vec![l.subject(&a.to)];
                Ok(Statement::Assign {
                    role,
                    on,
                    to,
                    guard: None,
                })
            })?;
        }
        for (i, g) in self.grants.iter().enumerate() {
            let path = format!("/grants/{i}");
            next(path.clone(), &|l| {
                if g.actions.is_empty() {
                    return Err((
                        format!("{path}/actions"),
                        "a grant names at least one action".into(),
                    ));
                }
                l.word("grant");
                let actions = l
                    .list(&g.actions, |l, a| l.ident(a, "an action", true))
                    .map_err(at(&path, "actions"))?;
                l.word("on");
                let on = l.node(&g.on).map_err(at(&path, "on"))?;
                l.word("to");
                let to = vec![l.subject(&g.to)];
                Ok(Statement::Grant {
                    actions: Actions::List(actions),
                    on,
                    to,
                    guard: None,
                })
            })?;
        }
        Ok(out)
    }

    /// The facts of a checked model (its rules are left out).
    pub fn from_model(m: &Model) -> Facts {
        let node = |n: NodeId| {
            let def = &m.nodes[n.index()];
            format!(
                "{}:{}",
                m.types[def.ty.index()].name,
                names::as_written(&def.name)
            )
        };
        let subject = |s| match s {
            SubjectKind::Principal(p) => {
                Some(SubjectFact::User(m.principals[p.index()].name.clone()))
            }
            SubjectKind::Group(g) => Some(SubjectFact::Group(m.groups[g.index()].name.clone())),
            SubjectKind::Selector(_) => None,
        };
        let sym = |s: crate::compile::ids::Sym| m.symbols[s.index()].clone();
        // Homes removed by a live update are left out.
        let homes = |nodes: &[NodeId]| -> Vec<String> {
            nodes
                .iter()
                .filter(|&&n| m.is_live_node(n))
                .map(|&n| node(n))
                .collect()
        };
        let mut facts = Facts::default();
        for n in 0..m.nodes.len() {
            if !m.is_live_node(NodeId(n as u32)) {
                continue;
            }
            let def = &m.nodes[n];
            facts.nodes.push(NodeFact {
                ty: m.types[def.ty.index()].name.clone(),
                name: def.name.clone(),
                parent: def.parent.map(node),
                created_by: def
                    .creator
                    .filter(|&(p, _)| m.is_live_principal(p))
                    .map(|(p, _)| m.principals[p.index()].name.clone()),
                attributes: def
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), AttributeFact::of(v)))
                    .collect(),
            });
        }
        for (i, p) in m.principals.iter().enumerate() {
            if !m.is_live_principal(crate::compile::ids::PrincipalId(i as u32)) {
                continue;
            }
            let mut attributes = BTreeMap::new();
            let mut status = None;
            for &(k, v) in &p.attrs {
                match sym(k).as_str() {
                    "kind" => {}
                    "status" => status = Some(sym(v)).filter(|s| s != "active"),
                    key => {
                        attributes.insert(key.to_string(), AttributeFact::from(sym(v).as_str()));
                    }
                }
            }
            for (k, v) in &p.values {
                attributes.insert(k.clone(), AttributeFact::of(v));
            }
            facts.users.push(UserFact {
                name: p.name.clone(),
                kind: (p.kind == PrincipalKind::Service).then_some(PrincipalKind::Service),
                status,
                homes: homes(&p.homes),
                attributes,
            });
        }
        let mut members: Vec<Vec<SubjectFact>> = vec![Vec::new(); m.groups.len()];
        for ms in m.memberships() {
            members[ms.group.index()].extend(subject(ms.member.kind()));
        }
        for (g, (def, members)) in m.groups.iter().zip(members).enumerate() {
            if !m.is_live_group(crate::compile::ids::GroupId(g as u32)) {
                continue;
            }
            facts.groups.push(GroupFact {
                name: def.name.clone(),
                homes: homes(&def.homes),
                members,
            });
        }
        for a in m.assignments() {
            // A rule for `users where ...` is not a fact.
            let Some(to) = subject(a.subject.kind()) else {
                continue;
            };
            facts.assignments.push(AssignmentFact {
                role: m.roles[a.role.index()].name.clone(),
                on: node(a.node),
                to,
            });
        }
        // One grant per statement, with the actions it lists, so that
        // removing an exported grant removes exactly that statement.
        let mut by_fact: std::collections::HashMap<(u32, SubjectFact), usize> =
            std::collections::HashMap::new();
        for g in m.grants() {
            let Some(to) = subject(g.subject.kind()) else {
                continue;
            };
            let action = m.actions[g.action.index()].clone();
            match by_fact.get(&(g.fact.0, to.clone())) {
                Some(&i) => facts.grants[i].actions.push(action),
                None => {
                    by_fact.insert((g.fact.0, to.clone()), facts.grants.len());
                    facts.grants.push(GrantFact {
                        actions: vec![action],
                        on: node(g.node),
                        to,
                    });
                }
            }
        }
        facts
    }
}
