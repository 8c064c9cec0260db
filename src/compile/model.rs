//! The checked model: every declaration and fact of a policy, names resolved
//! to ids, ready to be lowered into Datalog relations.
//!
//! A `Model` is what the checker produces once every name resolves and every
//! constraint holds; nothing downstream has to handle an undefined name.

use super::ids::*;
use super::value::{Type, Value};
use crate::shared::{ChunkVec, ShardMap, READ_MOSTLY};
use crate::source::{Location, Sources, Span};
use crate::syntax::ast::{Op, Root};
use crate::syntax::names::quote;
use rustc_hash::FxHashMap;

/// A node type.
#[derive(Clone, Debug)]
pub struct TypeDef {
    /// Declared name.
    pub name: String,
    /// Types a node of this type may sit in.
    pub parents: Vec<TypeId>,
    /// Types that may sit in a node of this type.
    pub children: Vec<TypeId>,
    /// An assignment on a node of this type replaces inherited roles.
    pub overrides: bool,
    /// Only the highest-ranked applicable roles count at this type.
    pub highest: bool,
    /// Declaration.
    pub span: Span,
}

/// A role.
#[derive(Clone, Debug)]
pub struct RoleDef {
    /// Declared name.
    pub name: String,
    /// Node types it may be assigned on.
    pub on: Vec<TypeId>,
    /// Rank for highest-privilege.
    pub rank: i64,
    /// The ladder it is ranked on (the empty symbol for the unnamed one).
    pub ladder: Sym,
    /// Included roles, each with the span of the `includes` clause.
    pub includes: Vec<(RoleId, FactId)>,
    /// Never dropped by override.
    pub sticky: bool,
    /// Actions the role allows itself (not counting included roles).
    pub actions: Vec<ActionId>,
    /// The fact recording the role's permission list.
    pub actions_fact: FactId,
    /// Declaration.
    pub span: Span,
}

/// A node of the scope tree.
#[derive(Clone, Debug)]
pub struct NodeDef {
    /// Its type.
    pub ty: TypeId,
    /// Its name within the type.
    pub name: String,
    /// The node that contains it.
    pub parent: Option<NodeId>,
    /// Who created it, and the fact that says so.
    pub creator: Option<(PrincipalId, FactId)>,
    /// Typed attribute values, by key.
    pub values: Vec<(String, Value)>,
    /// Declaration.
    pub fact: FactId,
}

/// Human or service user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person.
    Human,
    /// A non-human account acting through tokens.
    Service,
}

/// A principal.
#[derive(Clone, Debug)]
pub struct PrincipalDef {
    /// Name.
    pub name: String,
    /// Human or service.
    pub kind: PrincipalKind,
    /// Attributes, `status` and `kind` included, as interned symbols.
    pub attrs: Vec<(Sym, Sym)>,
    /// Nodes the principal belongs to.
    pub homes: Vec<NodeId>,
    /// Typed attribute values, by key.
    pub values: Vec<(String, Value)>,
    /// Declaration.
    pub fact: FactId,
}

/// A group.
#[derive(Clone, Debug)]
pub struct GroupDef {
    /// Name.
    pub name: String,
    /// Nodes it belongs to.
    pub homes: Vec<NodeId>,
    /// Declaration.
    pub fact: FactId,
}

/// An attribute declared with `attribute KEY in VALUE, ...`: the only
/// values a user's attribute (or a rule's condition on it) may take.
#[derive(Clone, Debug)]
pub struct AttributeDef {
    /// The allowed values.
    pub values: Vec<String>,
    /// Declaration.
    pub span: Span,
}

impl Model {
    /// The slot of `context.now` in a read context.
    pub const NOW: usize = 0;
}

/// A declared key of a request's context.
#[derive(Clone, Debug)]
pub struct ContextKey {
    /// Its type.
    pub ty: Type,
    /// For `context KEY in ...`: the only values it takes.
    pub values: Option<Vec<String>>,
    /// Its slot in a read context.
    pub slot: usize,
}

/// A condition's index in [`Model::conditions`].
pub type CondId = u32;

/// Where a condition's key is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// `principal`, `resource` or `context`.
    pub root: Root,
    /// `resource.TYPE.KEY`: the nearest node of this type at or above the
    /// resource.
    pub ty: Option<TypeId>,
    /// The attribute (empty for `principal` itself: its name).
    pub name: String,
    /// For `context.KEY`: the key's slot in a read context.
    pub slot: usize,
    /// As written, for explanations.
    pub text: String,
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// An attribute, moved by this many seconds (`+ 7d`).
    Key(Key, i64),
    /// A literal of the other side's type.
    Lit(Value),
}

/// A checked condition: every key declared, every literal of its key's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// Any holds.
    Or(Vec<Cond>),
    /// All hold.
    And(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// The key has a value.
    Has(Key),
    /// A comparison, with its text as written.
    Compare(Term, Op, Term, String),
}

/// The `when` / `unless` clause of a rule.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The condition.
    pub cond: Cond,
    /// `unless`: the rule holds where the condition is false.
    pub unless: bool,
    /// On a deny: where the condition cannot be decided, the deny holds
    /// (on every other rule, the rule does not).
    pub deny: bool,
    /// It reads the resource or the request's context, so it is decided
    /// per request; otherwise it reads only the principal and is decided
    /// once per principal.
    pub open: bool,
    /// The clause as written.
    pub text: String,
    /// Where it is written (inside its rule's statement).
    pub span: Span,
}

/// A `users where ...` selector: all conditions must hold.
#[derive(Clone, Debug)]
pub struct SelectorDef {
    /// `(key, equal, value)` triples.
    pub conditions: Vec<(Sym, bool, Sym)>,
    /// `users in NODE`: only principals with a home at or below NODE.
    pub within: Option<NodeId>,
    /// The selector as written.
    pub text: String,
}

/// `member` is in `group`.
#[derive(Clone, Copy, Debug)]
pub struct Membership {
    /// Still in force: an update that removes it clears this.
    pub live: bool,
    /// Principal or group.
    pub member: SubjectId,
    /// The group.
    pub group: GroupId,
    /// Where it is said.
    pub fact: FactId,
}

/// `subject` holds `role` on `node`.
#[derive(Clone, Copy, Debug)]
pub struct Assignment {
    /// Still in force: an update that removes it clears this.
    pub live: bool,
    /// Who.
    pub subject: SubjectId,
    /// What role.
    pub role: RoleId,
    /// Where.
    pub node: NodeId,
    /// Where it is said.
    pub fact: FactId,
    /// Its `when` / `unless` condition, by index into the model's
    /// conditions.
    pub cond: Option<CondId>,
}

/// `subject` may `action` on `node` (and below).
#[derive(Clone, Copy, Debug)]
pub struct Grant {
    /// Still in force: an update that removes it clears this.
    pub live: bool,
    /// Who.
    pub subject: SubjectId,
    /// What.
    pub action: ActionId,
    /// Where.
    pub node: NodeId,
    /// Where it is said.
    pub fact: FactId,
    /// Its `when` / `unless` condition, by index into the model's
    /// conditions.
    pub cond: Option<CondId>,
}

/// `subject` may not `action` on `node` (and below), or anywhere.
#[derive(Clone, Copy, Debug)]
pub struct Deny {
    /// Still in force: an update that removes it clears this.
    pub live: bool,
    /// Who.
    pub subject: SubjectId,
    /// What.
    pub action: ActionId,
    /// Where; every node when `None`.
    pub node: Option<NodeId>,
    /// Where it is said.
    pub fact: FactId,
    /// Its `when` / `unless` condition, by index into the model's
    /// conditions.
    pub cond: Option<CondId>,
}

/// The creator of a node of `ty` holds `role` on it (with
/// `while_assigned`, only while it is assigned a role on the node or above).
#[derive(Clone, Copy, Debug)]
pub struct CreatorRule {
    /// Only while the creator is assigned a role on the node or above it.
    pub while_assigned: bool,
    /// Resource type.
    pub ty: TypeId,
    /// Role.
    pub role: RoleId,
    /// Where it is said.
    pub fact: FactId,
    /// Its `when` / `unless` condition, by index into the model's
    /// conditions.
    pub cond: Option<CondId>,
}

/// Principals matching `subject` with no assignment on a node of `ty` inside
/// their home hold `role` there.
#[derive(Clone, Copy, Debug)]
pub struct DefaultRule {
    /// Node type.
    pub ty: TypeId,
    /// The one node it is given on (of type `ty`), in place of the type's
    /// defaults there; every node of `ty` when `None`.
    pub node: Option<NodeId>,
    /// Role.
    pub role: RoleId,
    /// Who gets it.
    pub subject: SubjectId,
    /// Where it is said.
    pub fact: FactId,
    /// Its `when` / `unless` condition, by index into the model's
    /// conditions.
    pub cond: Option<CondId>,
}

/// A load-time constraint.
#[derive(Clone, Copy, Debug)]
pub enum Constraint {
    /// Holders of `role` per node of `per`.
    Holders {
        /// Minimum.
        min: Option<u32>,
        /// Maximum.
        max: Option<u32>,
        /// Role.
        role: RoleId,
        /// Type.
        per: TypeId,
        /// Where it is said.
        fact: FactId,
    },
    /// Principals of this kind cannot be group members.
    NoGroups {
        /// Kind.
        kind: PrincipalKind,
        /// Where it is said.
        fact: FactId,
    },
}

/// One expectation of a policy test, resolved as far as names allow.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// Expected decision.
    pub allow: bool,
    /// Principal name as written.
    pub principal: String,
    /// Action as written.
    pub action: String,
    /// Resource as written (`type:name`).
    pub resource: String,
    /// Required deciding role, if any.
    pub by: Option<String>,
    /// The request's context (`given ...`), values as written.
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// Where.
    pub span: Span,
}

/// A named policy test.
#[derive(Clone, Debug)]
pub struct Test {
    /// Name.
    pub name: String,
    /// Expectations.
    pub expectations: Vec<Expectation>,
}

/// A name as a lookup key: names up to 24 bytes are stored inline, so a
/// lookup compares them without following a pointer.
pub type Name = compact_str::CompactString;

/// Name → id lookups.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Types by name.
    pub types: FxHashMap<String, TypeId>,
    /// Actions by name.
    pub actions: FxHashMap<String, ActionId>,
    /// Roles by name.
    pub roles: FxHashMap<String, RoleId>,
    /// Nodes by `type:name`.
    pub nodes: ShardMap<Name, NodeId, READ_MOSTLY>,
    /// Principals by name.
    pub principals: ShardMap<Name, PrincipalId, READ_MOSTLY>,
    /// Groups by name.
    pub groups: ShardMap<Name, GroupId, READ_MOSTLY>,
    /// Attribute symbols.
    pub symbols: ShardMap<Name, Sym, READ_MOSTLY>,
    /// Users (`u:KEY`) and groups (`g:KEY`) by their
    /// [`crate::syntax::names::lookalike_key`], unless the policy allows
    /// lookalike names.
    pub lookalikes: ShardMap<Name, SubjectId, READ_MOSTLY>,
}

impl Names {
    /// The key of `name` in [`Names::lookalikes`]: users and groups are
    /// compared among their own kind.
    pub fn lookalike_slot(subject: SubjectId, name: &str) -> String {
        let kind = match subject.kind() {
            SubjectKind::Group(_) => 'g',
            _ => 'u',
        };
        format!("{kind}:{}", crate::syntax::names::lookalike_key(name))
    }
}

/// A checked policy.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// The files the policy was read from.
    pub sources: Sources,
    /// Span of each fact, indexed by [`FactId`].
    pub facts: ChunkVec<Span>,
    /// Types.
    pub types: Vec<TypeDef>,
    /// Actions.
    pub actions: Vec<String>,
    /// The node types each action applies to (every type when empty).
    pub action_types: Vec<Vec<TypeId>>,
    /// Roles.
    pub roles: Vec<RoleDef>,
    /// Nodes.
    pub nodes: ChunkVec<NodeDef>,
    /// Principals.
    pub principals: ChunkVec<PrincipalDef>,
    /// Groups.
    pub groups: ChunkVec<GroupDef>,
    /// Selectors.
    pub selectors: Vec<SelectorDef>,
    /// Symbol texts, indexed by [`Sym`].
    pub symbols: ChunkVec<String>,
    /// Memberships.
    pub memberships: ChunkVec<Membership>,
    /// Role assignments.
    pub assignments: ChunkVec<Assignment>,
    /// Direct grants.
    pub grants: ChunkVec<Grant>,
    /// Denies.
    pub denies: ChunkVec<Deny>,
    /// Creator rules.
    pub creator_rules: Vec<CreatorRule>,
    /// Default roles.
    pub defaults: Vec<DefaultRule>,
    /// Constraints.
    pub constraints: Vec<Constraint>,
    /// Policy tests.
    pub tests: Vec<Test>,
    /// `option lookalike_names`: users or groups may have names a reader
    /// could take for one another.
    pub lookalike_names: bool,
    /// Attributes declared with their values, by key.
    pub attributes: FxHashMap<String, AttributeDef>,
    /// Attribute keys declared with `attribute KEY` (with or without values).
    pub declared_attributes: Vec<String>,
    /// Users' attributes declared with a type (`attribute level: integer`).
    pub attribute_types: FxHashMap<String, Type>,
    /// Nodes' attributes: each key's type and the node types that carry it.
    pub node_attributes: FxHashMap<String, (Type, Vec<TypeId>)>,
    /// Nodes' attributes declared with their values (`attribute stage in
    /// draft, published on app`).
    pub node_enums: FxHashMap<String, Vec<String>>,
    /// Keys of a request's context declared with `context KEY ...` (`now`
    /// is built in, in slot [`Model::NOW`]).
    pub context_keys: FxHashMap<String, ContextKey>,
    /// The `when` / `unless` clauses of rules.
    pub conditions: Vec<Condition>,
    /// Lookups.
    pub names: Names,
}

impl Model {
    /// Where a fact was stated.
    pub fn locate(&self, fact: FactId) -> Location {
        self.sources.locate(self.facts[fact.index()])
    }

    /// `type:name` of a node.
    pub fn node_name(&self, n: NodeId) -> String {
        let node = &self.nodes[n.index()];
        format!("{}:{}", self.types[node.ty.index()].name, quote(&node.name))
    }

    /// How a subject is written in a policy.
    pub fn subject_name(&self, s: SubjectId) -> String {
        match s.kind() {
            SubjectKind::Principal(p) => quote(&self.principals[p.index()].name),
            SubjectKind::Group(g) => format!("group {}", quote(&self.groups[g.index()].name)),
            SubjectKind::Selector(s) => self.selectors[s.index()].text.clone(),
        }
    }

    /// Whether action `a` applies to nodes of type `ty` (`action a on ...`;
    /// an action declared without types applies everywhere).
    pub fn applies(&self, a: ActionId, ty: TypeId) -> bool {
        let on = &self.action_types[a.index()];
        on.is_empty() || on.contains(&ty)
    }

    /// Whether action `a` applies to a node of type `ty` or to a node that
    /// can be inside one: where a grant of it can take effect.
    pub fn action_reaches(&self, a: ActionId, ty: TypeId) -> bool {
        let mut seen = vec![false; self.types.len()];
        let mut stack = vec![ty];
        while let Some(t) = stack.pop() {
            if std::mem::replace(&mut seen[t.index()], true) {
                continue;
            }
            if self.applies(a, t) {
                return true;
            }
            stack.extend(&self.types[t.index()].children);
        }
        false
    }

    /// Type names for a message: "`app`", "`app` or `doc`".
    pub fn type_list(&self, types: &[TypeId]) -> String {
        let names: Vec<String> = types
            .iter()
            .map(|t| format!("`{}`", self.types[t.index()].name))
            .collect();
        names.join(" or ")
    }

    /// The chain of nodes from `n` up to its root, `n` first.
    pub fn ancestry(&self, n: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(Some(n), |n| self.nodes[n.index()].parent)
    }

    /// Is `p` still a principal (not removed by an update)?
    pub fn is_live_principal(&self, p: PrincipalId) -> bool {
        self.names.principals.get(&*self.principals[p.index()].name) == Some(&p)
    }

    /// Is `g` still a group (not removed by an update)?
    pub fn is_live_group(&self, g: GroupId) -> bool {
        self.names.groups.get(&*self.groups[g.index()].name) == Some(&g)
    }

    /// Is `n` still a node (not removed by an update)?
    pub fn is_live_node(&self, n: NodeId) -> bool {
        self.names.nodes.get(&*self.node_key(n)) == Some(&n)
    }

    /// `type:name` of a node, unquoted: its key in [`Names::nodes`].
    pub fn node_key(&self, n: NodeId) -> String {
        let node = &self.nodes[n.index()];
        format!("{}:{}", self.types[node.ty.index()].name, node.name)
    }

    /// Memberships in force.
    pub fn memberships(&self) -> impl Iterator<Item = &Membership> + '_ {
        self.memberships.iter().filter(|x| x.live)
    }

    /// Assignments in force.
    pub fn assignments(&self) -> impl Iterator<Item = &Assignment> + '_ {
        self.assignments.iter().filter(|x| x.live)
    }

    /// Grants in force.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> + '_ {
        self.grants.iter().filter(|x| x.live)
    }

    /// Denies in force.
    pub fn denies(&self) -> impl Iterator<Item = &Deny> + '_ {
        self.denies.iter().filter(|x| x.live)
    }

    /// The policy's rules, apart from its facts, as canonical text: types,
    /// actions, roles, selectors and what is given to them, denies, creator
    /// and default rules, constraints, declared attributes and options.
    /// Facts from any source (JSON, SCIM, live updates of facts) leave it
    /// unchanged; the tests and the `facts` fuzz target hold them to that.
    pub fn rules_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let role = |r: RoleId| &self.roles[r.index()].name;
        let ty = |t: TypeId| &self.types[t.index()].name;
        let subject = |s: SubjectId| match s.kind() {
            SubjectKind::Selector(id) => Some(self.selectors[id.index()].text.clone()),
            _ => None,
        };
        for t in &self.types {
            let parents: Vec<&String> = t.parents.iter().map(|&p| ty(p)).collect();
            let _ = writeln!(
                out,
                "type {} in {parents:?} override={} highest={}",
                t.name, t.overrides, t.highest
            );
        }
        let _ = writeln!(out, "actions {:?}", self.actions);
        for r in &self.roles {
            let on: Vec<&String> = r.on.iter().map(|&t| ty(t)).collect();
            let inc: Vec<&String> = r.includes.iter().map(|&(i, _)| role(i)).collect();
            let acts: Vec<&String> = r.actions.iter().map(|a| &self.actions[a.index()]).collect();
            let _ = writeln!(
                out,
                "role {} on {on:?} rank {} ladder {:?} includes {inc:?} sticky={} {acts:?}",
                r.name,
                r.rank,
                self.symbols[r.ladder.index()],
                r.sticky
            );
        }
        for a in self.assignments() {
            if let Some(s) = subject(a.subject) {
                let _ = writeln!(
                    out,
                    "assign {} on {} to {s}",
                    role(a.role),
                    self.node_name(a.node)
                );
            }
        }
        for g in self.grants() {
            if let Some(s) = subject(g.subject) {
                let _ = writeln!(
                    out,
                    "grant {} on {} to {s}",
                    self.actions[g.action.index()],
                    self.node_name(g.node)
                );
            }
        }
        for d in self.denies() {
            let on = d.node.map(|n| self.node_name(n)).unwrap_or_default();
            let _ = writeln!(
                out,
                "deny {} on {on} to {}",
                self.actions[d.action.index()],
                self.subject_name(d.subject)
            );
        }
        for c in &self.creator_rules {
            let _ = writeln!(
                out,
                "creator of {} holds {} while_assigned={}",
                ty(c.ty),
                role(c.role),
                c.while_assigned
            );
        }
        for d in &self.defaults {
            let on = match d.node {
                Some(n) => self.node_name(n),
                None => ty(d.ty).clone(),
            };
            let _ = writeln!(
                out,
                "default {} on {on} to {:?}",
                role(d.role),
                subject(d.subject)
            );
        }
        for c in &self.constraints {
            let shown = format!("{c:?}");
            let _ = writeln!(out, "{}", shown.split(", fact:").next().unwrap_or(&shown));
        }
        let mut attributes: Vec<(&String, &Vec<String>)> = self
            .attributes
            .iter()
            .map(|(k, d)| (k, &d.values))
            .collect();
        attributes.sort();
        let _ = writeln!(
            out,
            "attributes {:?} {attributes:?}",
            self.declared_attributes
        );
        let _ = writeln!(out, "lookalike_names={}", self.lookalike_names);
        out
    }

    /// The principal a request names with `written` (see
    /// [`crate::syntax::names::written`]: NFC, and a quoted literal means the
    /// text between its quotes).
    #[inline]
    pub fn principal_named(&self, written: &str) -> Option<PrincipalId> {
        let name = crate::syntax::names::written(written)?;
        self.names.principals.get(&*name).copied()
    }

    /// The action a request names with `written`.
    #[inline]
    pub fn action_named(&self, written: &str) -> Option<ActionId> {
        self.names
            .actions
            .get(&*crate::syntax::names::canonical(written))
            .copied()
    }

    /// The symbol for `text`, if the policy uses it anywhere.
    pub fn symbol(&self, text: &str) -> Option<Sym> {
        self.names.symbols.get(text).copied()
    }
}
