//! Reverse questions over a snapshot: who may do an action on a resource, and
//! what a principal may do. Both are answered from the same per-principal
//! decision tables as `check`, so they can never disagree with it.

use crate::compile::ids::*;
use crate::decision::RequestError;
use crate::eval::snapshot::{node_id, Snapshot};
use serde::Serialize;

/// One permitted (action, node) pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Permission {
    /// Node, as `type:name`.
    pub node: String,
    /// Action.
    pub action: String,
}

/// A principal allowed an action, and what allows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Allowed {
    /// The principal.
    pub principal: String,
    /// The titles of the reasons that allow it, joined by `; `.
    pub because: String,
}

impl Snapshot {
    /// [`Snapshot::who_can`], each principal with what allows it.
    pub fn who_can_why(&self, action: &str, resource: &str) -> Result<Vec<Allowed>, RequestError> {
        Ok(self
            .who_can(action, resource)?
            .into_iter()
            .map(|principal| {
                let why = self.explain(&principal, action, resource);
                let titles: Vec<&str> = why.allowed_by.iter().map(|r| r.title.as_str()).collect();
                Allowed {
                    because: titles.join("; "),
                    principal,
                }
            })
            .collect())
    }

    /// Every principal allowed to do `action` on `resource`, sorted by name.
    ///
    /// ```
    /// let snapshot = grantlog::Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
    /// let who = snapshot.who_can("workspace.billing", "workspace:marketing").unwrap();
    /// assert_eq!(who, ["alice"]);
    /// ```
    pub fn who_can(&self, action: &str, resource: &str) -> Result<Vec<String>, RequestError> {
        let m = self.model();
        let a = m
            .action_named(action)
            .ok_or_else(|| RequestError::UnknownAction {
                name: action.to_string(),
            })?;
        let n = node_id(m, resource).ok_or_else(|| RequestError::UnknownResource {
            name: resource.to_string(),
        })?;
        let mut out: Vec<String> = self
            .candidates(n)
            .into_iter()
            .filter(|&p| self.allowed(p, a, n))
            .map(|p| m.principals[p.index()].name.clone())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Who may be allowed anything at `n` (see [`crate::eval::reach::candidates`]).
    fn candidates(&self, n: NodeId) -> Vec<PrincipalId> {
        crate::eval::reach::candidates(self.model(), &self.index, n)
    }

    /// Everything `principal` may do on `node` and the nodes below it (on every
    /// node when `node` is `None`), sorted by node then action.
    pub fn what_can(
        &self,
        principal: &str,
        node: Option<&str>,
    ) -> Result<Vec<Permission>, RequestError> {
        let m = self.model();
        let p = m
            .principal_named(principal)
            .ok_or_else(|| RequestError::UnknownPrincipal {
                name: principal.to_string(),
            })?;
        let nodes: Vec<NodeId> = match node {
            None => (0..m.nodes.len() as u32)
                .map(NodeId)
                .filter(|&n| m.is_live_node(n))
                .collect(),
            Some(name) => {
                let root = node_id(m, name).ok_or_else(|| RequestError::UnknownResource {
                    name: name.to_string(),
                })?;
                let mut all = vec![root];
                let mut i = 0;
                while i < all.len() {
                    all.extend(&self.index.children[all[i].index()]);
                    i += 1;
                }
                all
            }
        };
        let mut out = Vec::new();
        for n in nodes {
            for a in 0..m.actions.len() as u32 {
                if self.allowed(p, ActionId(a), n) {
                    out.push(Permission {
                        node: m.node_name(n),
                        action: m.actions[a as usize].clone(),
                    });
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Who-can rows for people: each principal, then what allows it.
pub fn render_allowed(rows: &[Allowed]) -> String {
    let width = rows.iter().map(|r| r.principal.len()).max().unwrap_or(0);
    rows.iter()
        .map(|r| format!("{:width$}  {}\n", r.principal, r.because))
        .collect()
}
