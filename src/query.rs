//! Reverse questions over a snapshot: who may do an action on a resource, and
//! what a principal may do. Both are answered from the same per-principal
//! decision tables as `check`, so they can never disagree with it.

use crate::compile::ids::*;
use crate::decision::RequestError;
use crate::eval::condition::Context;
use crate::eval::snapshot::{node_id, Snapshot};
use serde::Serialize;

/// One permitted (action, node) pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Permission {
    /// Node, as `type:name`.
    pub node: String,
    /// Action.
    pub action: String,
    /// Allowed only if the request's context gave keys it lacks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
}

/// How a principal stands towards an action on a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Allowed.
    Allowed,
    /// Allowed only if the request's context gave keys it lacks.
    Conditional,
    /// Something allows it, and a deny rule removes it.
    Denied,
    /// A rule would allow it, but its condition does not hold.
    Excluded,
}

/// A principal allowed an action (or, with `--all`, one a deny or a
/// condition keeps out), and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Allowed {
    /// The principal.
    pub principal: String,
    /// How it stands.
    pub access: Access,
    /// The titles of the reasons that allow it (or the deny or conditions
    /// that keep it out), joined by `; `.
    pub because: String,
}

impl Snapshot {
    /// [`Snapshot::who_can`], each principal with what allows it.
    pub fn who_can_why(&self, action: &str, resource: &str) -> Result<Vec<Allowed>, RequestError> {
        self.who_can_in(action, resource, None, false)
    }

    /// Who may do `action` on `resource` in a context, each with why. Those
    /// allowed only if the context gave keys it lacks (all of them, with no
    /// context) are listed as [`Access::Conditional`]. With `all`, so are
    /// the principals a deny removes or a condition keeps out.
    pub fn who_can_in(
        &self,
        action: &str,
        resource: &str,
        context: Option<&serde_json::Map<String, serde_json::Value>>,
        all: bool,
    ) -> Result<Vec<Allowed>, RequestError> {
        let m = self.model();
        let (a, n) = self.action_and_node(action, resource)?;
        let read = Context::read(m, context)?;
        let mut out = Vec::new();
        for p in self.candidates(n) {
            let principal = m.principals[p.index()].name.clone();
            let allowed = self.allowed_in(p, a, n, Some(&read)).unwrap_or(false);
            let conditional = !allowed && self.allowed_if_met(p, a, n, &read);
            if !(allowed || conditional || all) {
                continue;
            }
            let request = crate::decision::Request {
                principal: principal.clone(),
                action: action.to_string(),
                resource: resource.to_string(),
                context: context.cloned(),
            };
            let why = self.explain_request(&request);
            // The denies that fire, then the allow rules whose condition
            // does not hold.
            let denies = why
                .denied_by
                .iter()
                .filter_map(|r| r.steps.iter().find(|s| s.text.starts_with('`')));
            let unmet = why.unmet.iter().filter(|u| u.allows).map(|u| &u.step);
            let reasons: Vec<&str> = denies.chain(unmet).map(|s| s.text.as_str()).collect();
            let (access, because) = if allowed {
                let titles: Vec<&str> = why.allowed_by.iter().map(|r| r.title.as_str()).collect();
                (Access::Allowed, titles.join("; "))
            } else if conditional {
                (Access::Conditional, reasons.join("; "))
            } else if !why.denied_by.is_empty() {
                (Access::Denied, reasons.join("; "))
            } else if !reasons.is_empty() {
                (Access::Excluded, reasons.join("; "))
            } else {
                continue;
            };
            out.push(Allowed {
                principal,
                access,
                because,
            });
        }
        out.sort_by(|x, y| (x.access, &x.principal).cmp(&(y.access, &y.principal)));
        Ok(out)
    }

    fn action_and_node(
        &self,
        action: &str,
        resource: &str,
    ) -> Result<(ActionId, NodeId), RequestError> {
        let m = self.model();
        let a = m
            .action_named(action)
            .ok_or_else(|| RequestError::UnknownAction {
                name: action.to_string(),
            })?;
        let n = node_id(m, resource).ok_or_else(|| RequestError::UnknownResource {
            name: resource.to_string(),
        })?;
        Ok((a, n))
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
        let (a, n) = self.action_and_node(action, resource)?;
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
        self.what_can_in(principal, node, None)
    }

    /// [`Snapshot::what_can`] in a context. What is allowed only if the
    /// context gave keys it lacks (all of them, with no context) is listed
    /// as conditional.
    pub fn what_can_in(
        &self,
        principal: &str,
        node: Option<&str>,
        context: Option<&serde_json::Map<String, serde_json::Value>>,
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
        let read = Context::read(m, context)?;
        let mut out = Vec::new();
        for n in nodes {
            for a in (0..m.actions.len() as u32).map(ActionId) {
                let allowed = self.allowed_in(p, a, n, Some(&read)).unwrap_or(false);
                let conditional = !allowed && self.allowed_if_met(p, a, n, &read);
                if allowed || conditional {
                    out.push(Permission {
                        node: m.node_name(n),
                        action: m.actions[a.index()].clone(),
                        conditional,
                    });
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Who-can rows for people: each principal, then what allows it (or, for
/// those not allowed, how it stands and why).
pub fn render_allowed(rows: &[Allowed]) -> String {
    let width = rows.iter().map(|r| r.principal.len()).max().unwrap_or(0);
    rows.iter()
        .map(|r| {
            let mark = match r.access {
                Access::Allowed => "",
                Access::Conditional => "conditional: ",
                Access::Denied => "denied: ",
                Access::Excluded => "excluded: ",
            };
            format!("{:width$}  {mark}{}\n", r.principal, r.because)
        })
        .collect()
}
