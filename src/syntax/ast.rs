//! The typed syntax tree of a policy file, as the parser produces it.
//!
//! Names are kept as written; resolving them to declarations is the checker's
//! job. Every node that an error or an explanation can point at carries a
//! [`Span`], and [`Name`] compares by text alone so the span never affects
//! equality.

use crate::source::Span;
use std::hash::{Hash, Hasher};

/// A name as written in the source, with where it was written.
#[derive(Clone, Debug)]
pub struct Name {
    /// The name, with quotes and escapes removed.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.text == other.text
    }
}
impl Eq for Name {}
impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}

/// A reference to a node: `type:name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// The node's type.
    pub ty: Name,
    /// The node's name within its type.
    pub name: Name,
}

/// How the roles that apply at a node of some type are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Everything any applicable role grants.
    Union,
    /// Only the applicable roles of the highest rank count.
    Highest,
    /// An assignment on the node replaces what is inherited from above.
    Override,
}

/// Which actions a rule names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actions {
    /// `*`: every declared action.
    All(Span),
    /// An explicit list.
    List(Vec<Name>),
}

/// A comparison in a `where` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Attribute tested (`status`, `kind`, or a declared `with` attribute).
    pub key: Name,
    /// `true` for `=`, `false` for `!=`.
    pub equal: bool,
    /// Value compared against.
    pub value: Name,
}

/// Where a default role is given: every node of a type, or one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `on deployment`
    Type(Name),
    /// `on deployment:prod`
    Node(NodeRef),
}

/// What a condition path starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    /// `principal`: the principal asking.
    Principal,
    /// `resource`: the node asked about.
    Resource,
    /// `context`: the request's context.
    Context,
}

/// `principal.level`, `resource.workspace.plan`, `context.ip`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// Where it starts.
    pub root: Root,
    /// The keys after the root (a type then a key for `resource.TYPE.KEY`).
    pub keys: Vec<Name>,
    /// The whole path as written.
    pub span: Span,
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// An attribute, optionally moved by a duration (`resource.shared + 7d`).
    Path(Path, Option<(bool, Name)>),
    /// A literal, read by the type of the other side.
    Value(Name),
    /// `[a, b]`.
    Set(Vec<Name>, Span),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`: membership of a set, or an address in a range.
    In,
}

/// A condition of a `when` or `unless` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Any holds.
    Or(Vec<Expr>),
    /// All hold.
    And(Vec<Expr>),
    /// `not E`.
    Not(Box<Expr>),
    /// `PATH has KEY`.
    Has(Path, Name),
    /// `A op B`.
    Compare(Operand, Op, Operand, Span),
}

/// `when EXPR` or `unless EXPR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    /// `unless`: the rule holds where the condition is false.
    pub unless: bool,
    /// The condition.
    pub expr: Expr,
    /// The clause as written.
    pub span: Span,
}

/// An attribute's declared type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrType {
    /// `set of T`.
    pub set: bool,
    /// The scalar type's name: string, integer, bool, timestamp, duration,
    /// ip or user.
    pub name: Name,
}

/// An attribute value as written: one value, or `[a, b]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrValue {
    /// One value.
    One(Name),
    /// A set.
    Set(Vec<Name>, Span),
}

/// Who a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// One principal, by name.
    Principal(Name),
    /// Every member of a group, transitively.
    Group(Name),
    /// Every principal matching the conditions (`users where ...`).
    Selector {
        /// The selector's text, for explanations.
        span: Span,
        /// `users in NODE`: only principals with a home at or below NODE.
        within: Option<NodeRef>,
        /// All must hold.
        conditions: Vec<Condition>,
    },
}

/// What a constraint requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    /// How many principals may hold `role` on each node of type `per`.
    Holders {
        /// Lower bound.
        min: Option<u32>,
        /// Upper bound.
        max: Option<u32>,
        /// The role counted.
        role: Name,
        /// The node type counted over.
        per: Name,
    },
    /// Principals of this kind (`service`, `human`) may not be group members.
    NoGroups {
        /// The kind.
        kind: Name,
    },
}

/// One expectation in a policy test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// `true` for `expect allow`.
    pub allow: bool,
    /// The principal asking.
    pub principal: Name,
    /// The action.
    pub action: Name,
    /// The resource.
    pub resource: NodeRef,
    /// `by ROLE`: the decision must come from this role (or rule keyword).
    pub by: Option<Name>,
    /// `given KEY = VALUE, ...`: the request's context.
    pub given: Vec<(Name, AttrValue)>,
    /// The whole line.
    pub span: Span,
}

/// One statement of a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// `type workspace in team combine highest`
    Type {
        /// Declared name.
        name: Name,
        /// Types a node of this type may be placed in.
        parents: Vec<Name>,
        /// Combination modes, empty to inherit the parent type's.
        modes: Vec<Mode>,
    },
    /// `action app.use, app.edit [on app]`
    Action {
        /// Declared names.
        names: Vec<Name>,
        /// The node types they apply to (every type when empty).
        on: Vec<Name>,
    },
    /// `attribute is_admin, department`, `attribute status in active,
    /// banned`, `attribute published: bool on doc`; with `context` for
    /// `context via in ui, api_token`
    Attribute {
        /// Declared attribute keys.
        names: Vec<Name>,
        /// The only values the key may take (with one key).
        values: Option<Vec<Name>>,
        /// Its type (with one key).
        ty: Option<AttrType>,
        /// Node types whose nodes carry it (users' when empty).
        on: Vec<Name>,
        /// A key of the request's context (`context ...`).
        context: bool,
    },
    /// `role editor on workspace rank 20 includes normal { app.edit }`
    Role {
        /// Declared name.
        name: Name,
        /// Node types the role may be assigned on.
        on: Vec<Name>,
        /// Rank for highest-privilege combination.
        rank: Option<(i64, Span)>,
        /// `ladder NAME`: the roles it is ranked against (all roles of
        /// no ladder when absent).
        ladder: Option<Name>,
        /// Roles whose permissions this one includes.
        includes: Vec<Name>,
        /// Kept when a more specific assignment overrides inherited roles.
        sticky: bool,
        /// Permissions.
        actions: Option<Actions>,
    },
    /// `creator of app holds editor`
    Creator {
        /// Resource types.
        types: Vec<Name>,
        /// Role the creator holds on what they created.
        role: Name,
        /// `while assigned`: only while the creator is assigned a role on
        /// the node or above it.
        while_assigned: bool,
        /// `when` / `unless`.
        guard: Option<Guard>,
    },
    /// `default viewer on deployment [to subject]`, or on one node
    /// (`default launcher on deployment:prod`)
    Default {
        /// The role.
        role: Name,
        /// Node type it is given on, or the one node.
        on: Target,
        /// Who gets it (everyone when absent).
        to: Option<Subject>,
        /// `when` / `unless`.
        guard: Option<Guard>,
    },
    /// `deny app.publish on app:a to everyone`
    Deny {
        /// Denied actions.
        actions: Actions,
        /// Node the deny is scoped to (every node when absent).
        on: Option<NodeRef>,
        /// Who it denies.
        to: Subject,
        /// `when` / `unless`.
        guard: Option<Guard>,
    },
    /// `grant app.publish on app:a to alice`
    Grant {
        /// Granted actions.
        actions: Actions,
        /// Node.
        on: NodeRef,
        /// Receivers.
        to: Vec<Subject>,
        /// `when` / `unless`.
        guard: Option<Guard>,
    },
    /// `assign editor on workspace:w to alice, group support`
    Assign {
        /// Role.
        role: Name,
        /// Node.
        on: NodeRef,
        /// Receivers.
        to: Vec<Subject>,
        /// `when` / `unless`.
        guard: Option<Guard>,
    },
    /// `constraint exactly one owner per workspace`
    Constraint(ConstraintKind),
    /// `user alice in team:acme status active with dept = "sales"`
    Principal {
        /// Principal name.
        name: Name,
        /// `service` or `human` (humans when absent).
        kind: Option<Name>,
        /// Nodes the principal belongs to.
        homes: Vec<NodeRef>,
        /// Status.
        status: Option<Name>,
        /// Other attributes.
        attrs: Vec<(Name, AttrValue)>,
    },
    /// `group support in team:acme { alice, group frontline }`
    Group {
        /// Group name.
        name: Name,
        /// Nodes the group belongs to.
        homes: Vec<NodeRef>,
        /// Members.
        members: Vec<Subject>,
    },
    /// `add alice, bob to group support`
    Add {
        /// New members.
        members: Vec<Subject>,
        /// The group.
        group: Name,
    },
    /// `workspace marketing in team:acme`
    Node {
        /// The node's type.
        ty: Name,
        /// The node's name.
        name: Name,
        /// Its parent.
        parent: Option<NodeRef>,
        /// Its creator.
        creator: Option<Name>,
        /// Its attributes.
        attrs: Vec<(Name, AttrValue)>,
    },
    /// `option lookalike_names`
    Option {
        /// The setting.
        name: Name,
    },
    /// `test "name" { expect allow alice app.use app:chat }`
    Test {
        /// Description.
        name: Name,
        /// Expectations.
        expectations: Vec<Expectation>,
    },
}

/// A statement and the span of its text.
#[derive(Clone, Debug)]
pub struct Item {
    /// What was said.
    pub statement: Statement,
    /// Where.
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, Default)]
pub struct PolicyFile {
    /// Statements in source order.
    pub items: Vec<Item>,
}
