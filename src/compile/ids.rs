//! Interned ids: every name in a checked model becomes a small `Copy` integer,
//! which is what the Datalog relations are made of.

use serde::Serialize;

macro_rules! id {
    ($($(#[$doc:meta])+ $name:ident),* $(,)?) => {$(
        $(#[$doc])+
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub struct $name(pub u32);
        impl $name {
            /// The id as an index into the model's table.
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id! {
    /// A node type (`workspace`, `app`).
    TypeId,
    /// A declared action (`app.edit`).
    ActionId,
    /// A role.
    RoleId,
    /// A node of the scope tree. Ids at or above the model's node count are
    /// virtual nodes made for one evaluation (see `eval::universe`).
    NodeId,
    /// A principal (human or service user).
    PrincipalId,
    /// A group.
    GroupId,
    /// A `users where ...` selector.
    SelectorId,
    /// An interned attribute key or value.
    Sym,
    /// A source fact or rule: index into the model's provenance table.
    FactId,
}

/// Who a rule is given to, packed into one integer so it can be a Datalog
/// column: principals, groups and selectors share one id space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId(u32);

const TAG_SHIFT: u32 = 30;
const GROUP_TAG: u32 = 1 << TAG_SHIFT;
const SELECTOR_TAG: u32 = 2 << TAG_SHIFT;
const INDEX_MASK: u32 = GROUP_TAG - 1;

/// A [`SubjectId`] taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    /// One principal.
    Principal(PrincipalId),
    /// A group.
    Group(GroupId),
    /// A selector.
    Selector(SelectorId),
}

impl SubjectId {
    /// The subject of one principal.
    pub fn principal(p: PrincipalId) -> SubjectId {
        SubjectId(p.0)
    }
    /// The subject of a group.
    pub fn group(g: GroupId) -> SubjectId {
        SubjectId(g.0 | GROUP_TAG)
    }
    /// The subject of a selector.
    pub fn selector(s: SelectorId) -> SubjectId {
        SubjectId(s.0 | SELECTOR_TAG)
    }
    /// Which kind of subject this is.
    pub fn kind(self) -> SubjectKind {
        let index = self.0 & INDEX_MASK;
        match self.0 >> TAG_SHIFT {
            0 => SubjectKind::Principal(PrincipalId(index)),
            1 => SubjectKind::Group(GroupId(index)),
            _ => SubjectKind::Selector(SelectorId(index)),
        }
    }
}

/// The most ids of one kind a model may hold (subjects use two tag bits).
pub const MAX_IDS: usize = INDEX_MASK as usize;
