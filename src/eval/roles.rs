//! The role stratum, evaluated once per snapshot: what each role reaches
//! through inclusion and which actions it allows.
//!
//! No rule of this stratum mentions a principal, so every evaluation would
//! derive the same tuples; the snapshot runs [`super::program::roles`] once
//! and gives each evaluation the rows of the roles it can hold (see
//! [`super::universe`]). Explanations read it whole, for the roles that
//! would allow what was denied.

use super::program::roles::{
    ActionAnywhere, ActionOn, Crepe, Role, RoleAllows, RoleAllowsAnywhere, RoleAllowsOn,
    RoleIncludes, RolePerm, RoleReach,
};
use crate::compile::ids::*;
use crate::compile::model::Model;
use rustc_hash::FxBuildHasher;

/// The results of the role stratum, by role.
#[derive(Debug, Default)]
pub struct RoleClosure {
    /// `RoleReach(r, r2)`: for each role, the roles it reaches, sorted.
    reach: Vec<Vec<RoleId>>,
    /// `RoleAllows(r, a)`: for each role, the actions it allows, sorted.
    allows: Vec<Vec<ActionId>>,
    /// `RoleAllowsAnywhere(r, a)`: for each role, those of its actions
    /// declared without types, sorted.
    anywhere: Vec<Vec<ActionId>>,
    /// `RoleAllowsOn(r, t, a)`: for each role, those of its actions that
    /// apply to nodes of some types, with each type, sorted.
    on: Vec<Vec<(TypeId, ActionId)>>,
}

impl RoleClosure {
    /// Evaluates the role stratum over the model's roles.
    pub fn new(m: &Model) -> RoleClosure {
        let mut rt = Crepe::new();
        for (i, r) in m.roles.iter().enumerate() {
            let id = RoleId(i as u32);
            rt.extend([Role(id)]);
            rt.extend(r.includes.iter().map(|&(inc, _)| RoleIncludes(id, inc)));
            rt.extend(r.actions.iter().map(|&a| RolePerm(id, a)));
        }
        for (a, types) in m.action_types.iter().enumerate() {
            let a = ActionId(a as u32);
            if types.is_empty() {
                rt.extend([ActionAnywhere(a)]);
            }
            rt.extend(types.iter().map(|&t| ActionOn(a, t)));
        }
        let (reach, allows, anywhere, on) = rt.run_with_hasher::<FxBuildHasher>();
        let mut out = RoleClosure {
            reach: vec![Vec::new(); m.roles.len()],
            allows: vec![Vec::new(); m.roles.len()],
            anywhere: vec![Vec::new(); m.roles.len()],
            on: vec![Vec::new(); m.roles.len()],
        };
        for RoleAllowsAnywhere(r, a) in anywhere {
            out.anywhere[r.index()].push(a);
        }
        for RoleAllowsOn(r, t, a) in on {
            out.on[r.index()].push((t, a));
        }
        out.anywhere.iter_mut().for_each(|x| x.sort_unstable());
        out.on.iter_mut().for_each(|x| x.sort_unstable());
        for RoleReach(r, r2) in reach {
            out.reach[r.index()].push(r2);
        }
        for RoleAllows(r, a) in allows {
            out.allows[r.index()].push(a);
        }
        out.reach.iter_mut().for_each(|x| x.sort_unstable());
        out.allows.iter_mut().for_each(|x| x.sort_unstable());
        out
    }

    /// The roles `r` reaches (itself among them).
    pub fn reach(&self, r: RoleId) -> &[RoleId] {
        self.reach.get(r.index()).map_or(&[], |x| x)
    }

    /// The actions `r` allows.
    pub fn actions(&self, r: RoleId) -> &[ActionId] {
        self.allows.get(r.index()).map_or(&[], |x| x)
    }

    /// The actions `r` allows that were declared without types.
    pub fn actions_anywhere(&self, r: RoleId) -> &[ActionId] {
        self.anywhere.get(r.index()).map_or(&[], |x| x)
    }

    /// The actions `r` allows that apply to nodes of some types, with each
    /// type they apply to.
    pub fn actions_on(&self, r: RoleId) -> &[(TypeId, ActionId)] {
        self.on.get(r.index()).map_or(&[], |x| x)
    }

    /// Whether `r` allows `a`.
    pub fn allows(&self, r: RoleId, a: ActionId) -> bool {
        self.actions(r).binary_search(&a).is_ok()
    }

    /// Every role that allows `a`.
    pub fn allowing(&self, a: ActionId) -> impl Iterator<Item = RoleId> + '_ {
        (0..self.allows.len() as u32)
            .map(RoleId)
            .filter(move |&r| self.allows(r, a))
    }
}
