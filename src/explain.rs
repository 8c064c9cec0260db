//! Stage 5: decision → explanation. Reads the derived relations of a
//! [`Scope::Explain`] evaluation and names, for each step, the fact or rule and
//! where it is written. It never decides anything itself: every reason below
//! is a derived tuple of the Datalog program.

use crate::compile::ids::*;
use crate::compile::model::Model;
use crate::compile::model::{Cond, CondId, Condition, Term};
use crate::decision::{Effect, Request, RequestError};
use crate::eval::condition::{Context, Env, Tri};
use crate::eval::index::Index;
use crate::eval::program::*;
use crate::eval::roles::RoleClosure;
use crate::eval::snapshot::Snapshot;
use crate::eval::universe::{Derived, Scope};
use crate::source::Location;
use crate::syntax::names::quote;
use serde::Serialize;
use std::fmt::{self, Write};

/// One step of a derivation: a sentence and the source line that states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What this step says, in the policy's terms.
    pub text: String,
    /// Where it is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Location>,
}

/// What kind of rule a [`Reason`] ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A role assigned to the principal, a group of it, or a selector.
    Assignment,
    /// The creator rule.
    Creator,
    /// A default role.
    Default,
    /// A direct grant.
    Grant,
    /// A deny rule.
    Deny,
}

/// A chain of steps that ends in an allow or a deny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The conclusion of the chain.
    pub title: String,
    /// The kind of rule that decides.
    pub via: Via,
    /// The role that allows, for reasons that come from a role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The steps, from the principal to the conclusion.
    pub steps: Vec<Step>,
}

/// A role that applies to the principal at the resource, and how it got there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldRole {
    /// Role name.
    pub role: String,
    /// How the principal holds it here.
    pub steps: Vec<Step>,
}

/// A role that reached the resource but does not count, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DroppedRole {
    /// Role name.
    pub role: String,
    /// Why it was dropped.
    pub reason: String,
}

/// For a deny with nothing granting: what would allow the action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// Roles that include the action and can be assigned on the resource or
    /// a node above it.
    pub roles: Vec<String>,
    /// The advice, as a sentence.
    pub hint: String,
}

/// Why a request is allowed or denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The decision explained.
    pub decision: Effect,
    /// The request.
    pub request: Request,
    /// One line.
    pub summary: String,
    /// Chains that allow the action (for a deny, the allows a deny overruled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_by: Vec<Reason>,
    /// Deny rules that fired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_by: Vec<Reason>,
    /// Roles in effect at the resource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<HeldRole>,
    /// Roles dropped by highest privilege or override.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedRole>,
    /// Conditional rules that reach the principal here but whose condition
    /// does not hold for this request, each with this request's values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmet: Vec<Unmet>,
    /// What is missing, for a deny that nothing granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing>,
    /// Set when the request itself was invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RequestError>,
}

/// The roles of a principal at a node: what applies and what was dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// Roles in effect.
    pub effective: Vec<HeldRole>,
    /// Roles dropped by highest privilege or override.
    pub dropped: Vec<DroppedRole>,
}

impl Explanation {
    /// Whether the explained decision is an allow.
    pub fn is_allowed(&self) -> bool {
        self.decision == Effect::Allow
    }
}

impl Snapshot {
    /// Decides a request and explains the decision.
    ///
    /// ```
    /// let snapshot = grantlog::Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
    /// let why = snapshot.explain("carol", "app.edit", "app:chatbot");
    /// assert_eq!(why.decision, grantlog::Effect::Allow);
    /// println!("{why}");
    /// ```
    pub fn explain(&self, principal: &str, action: &str, resource: &str) -> Explanation {
        self.explain_request(&Request::new(principal, action, resource))
    }

    /// Decides a request, in its context, and explains the decision: each
    /// condition of a rule that reaches the principal here is shown with
    /// this request's values.
    pub fn explain_request(&self, request: &Request) -> Explanation {
        let (principal, action) = (request.principal.as_str(), request.action.as_str());
        // The context is read only where a condition can read it (as
        // `decide` does), so that the two never disagree.
        let m = self.model();
        let ids = self
            .resolve(principal, action, &request.resource)
            .and_then(|(p, a, n)| {
                let open = crate::eval::reach::open_conditions(m, &self.index, p);
                let context = match open.is_empty() {
                    true => None,
                    false => Some(self.context(request)?),
                };
                Ok(((p, a, n), open, context))
            });
        let request = request.clone();
        let ((p, a, n), open, context) = match ids {
            Ok(ids) => ids,
            Err(error) => {
                return Explanation {
                    decision: Effect::Deny,
                    summary: format!("deny: {error}"),
                    request,
                    allowed_by: Vec::new(),
                    denied_by: Vec::new(),
                    roles: Vec::new(),
                    dropped: Vec::new(),
                    unmet: Vec::new(),
                    missing: None,
                    error: Some(error),
                }
            }
        };
        let env = Env {
            m,
            principal: p,
            resource: Some(n),
            context: context.as_ref(),
        };
        let d = self.path_run(p, Scope::Explain(n), &open, context.as_ref());
        let ex = Explainer {
            m,
            ix: &self.index,
            roles: &self.roles,
            d: &d,
            p,
            env,
        };
        let allowed = d.allow.contains(&Allow(p, a, n));
        // Of the conditional rules that do not hold here, those that would
        // have changed the decision: denies for an allow, allows for a deny.
        let mut unmet = ex.unmet(a, n);
        unmet.retain(|u| u.allows != allowed);
        let mut allowed_by = ex.role_reasons(a, n);
        allowed_by.extend(ex.grant_reasons(a, n));
        let denied_by = ex.deny_reasons(a, n);
        let mut roles = ex.held_roles(n);
        let mut dropped = ex.dropped_roles(n);
        let who = quote(principal);
        let what = format!("`{action}` on {}", m.node_name(n));
        let ty = m.nodes[n.index()].ty;
        let (decision, summary, missing) = if allowed {
            (Effect::Allow, format!("allow: {who} may {what}"), None)
        } else if !m.applies(a, ty) {
            // What roles list does not reach a node the action cannot apply
            // to: no role here is relevant.
            allowed_by.clear();
            roles.clear();
            dropped.clear();
            let types = m.type_list(&m.action_types[a.index()]);
            let summary = format!(
                "deny: {who} may not {what}: `{action}` applies to {types} nodes, and {} is a `{}`",
                m.node_name(n),
                m.types[ty.index()].name
            );
            (Effect::Deny, summary, None)
        } else if !denied_by.is_empty() {
            let why = if allowed_by.is_empty() {
                "a deny rule applies".to_string()
            } else {
                format!(
                    "a deny rule overrides {} allow{}",
                    allowed_by.len(),
                    if allowed_by.len() == 1 { "" } else { "s" }
                )
            };
            (
                Effect::Deny,
                format!("deny: {who} may not {what}: {why}"),
                None,
            )
        } else {
            let missing = ex.missing(a, n, &unmet);
            (
                Effect::Deny,
                format!("deny: {who} may not {what}: no role or grant allows it"),
                Some(missing),
            )
        };
        Explanation {
            decision,
            request,
            summary,
            allowed_by,
            denied_by,
            roles,
            dropped,
            unmet,
            missing,
            error: None,
        }
    }

    /// The roles `principal` holds at `node`, with the ones dropped by
    /// highest privilege or override. `None` if a name is unknown.
    pub fn roles(&self, principal: &str, node: &str) -> Option<Roles> {
        let m = self.model();
        let p = m.principal_named(principal)?;
        let n = crate::eval::snapshot::node_id(m, node)?;
        let context = Context::read(m, None).ok()?;
        let env = Env {
            m,
            principal: p,
            resource: Some(n),
            context: Some(&context),
        };
        let open = crate::eval::reach::open_conditions(m, &self.index, p);
        let d = self.path_run(p, Scope::Explain(n), &open, Some(&context));
        let ex = Explainer {
            m,
            ix: &self.index,
            roles: &self.roles,
            d: &d,
            p,
            env,
        };
        Some(Roles {
            effective: ex.held_roles(n),
            dropped: ex.dropped_roles(n),
        })
    }
}

struct Explainer<'a> {
    m: &'a Model,
    ix: &'a Index,
    roles: &'a RoleClosure,
    d: &'a Derived,
    p: PrincipalId,
    /// What this request lets conditions read.
    env: Env<'a>,
}

/// A conditional rule that reaches the principal at the resource but does
/// not hold for this request, with the request's values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmet {
    /// The rule, its condition and the values.
    #[serde(flatten)]
    pub step: Step,
    /// An allow rule (assign, grant, default, creator), not a deny.
    pub allows: bool,
}

impl Explainer<'_> {
    /// "when ...: VALUES", the step that shows a rule's condition with this
    /// request's values, for a fact that states a conditional rule.
    fn condition_step(&self, cond: Option<CondId>, fact: FactId) -> Option<Step> {
        let c = &self.m.conditions[cond? as usize];
        let values = shown(&self.env, &c.cond);
        Some(self.step(format!("{}: {values}", c.text), fact))
    }

    /// The condition of the rule stated at `fact`, if it has one: the one
    /// written inside the statement.
    fn cond_of(&self, fact: FactId) -> Option<CondId> {
        let at = self.m.facts[fact.index()];
        // A guard's span may run on over the white space after it; where it
        // starts is what places it.
        let inside = |c: &Condition| {
            c.span.file == at.file && at.start <= c.span.start && c.span.start < at.end
        };
        self.m
            .conditions
            .iter()
            .position(inside)
            .map(|c| c as CondId)
    }

    /// `step`, followed by its rule's condition when it has one.
    fn steps_for(&self, step: Step, fact: FactId) -> Vec<Step> {
        let cond = self.cond_of(fact);
        std::iter::once(step)
            .chain(self.condition_step(cond, fact))
            .collect()
    }

    /// Conditional rules that reach the principal at `n` or above it and
    /// do not hold for this request, each shown with its values.
    fn unmet(&self, a: ActionId, n: NodeId) -> Vec<Unmet> {
        let m = self.m;
        let allows = |r: RoleId| self.roles.allows(r, a);
        let path: Vec<NodeId> = m.ancestry(n).collect();
        let mut found: Vec<(FactId, CondId, bool)> = Vec::new();
        for s in self.ix.candidate_subjects(m, self.p) {
            for &i in self.ix.assignments.get(&s).into_iter().flatten() {
                let x = &m.assignments[i as usize];
                if let (Some(c), true) = (x.cond, path.contains(&x.node) && allows(x.role)) {
                    found.push((x.fact, c, true));
                }
            }
            for &i in self.ix.grants.get(&s).into_iter().flatten() {
                let x = &m.grants[i as usize];
                if let (Some(c), true) = (x.cond, path.contains(&x.node) && x.action == a) {
                    found.push((x.fact, c, true));
                }
            }
            for &i in self.ix.denies.get(&s).into_iter().flatten() {
                let x = &m.denies[i as usize];
                let here = x.node.is_none_or(|d| path.contains(&d)) && x.action == a;
                if let (Some(c), true) = (x.cond, here) {
                    found.push((x.fact, c, false));
                }
            }
        }
        let types: Vec<TypeId> = path.iter().map(|x| m.nodes[x.index()].ty).collect();
        for d in &m.defaults {
            let here = match d.node {
                Some(node) => path.contains(&node),
                None => types.contains(&d.ty),
            };
            if let (Some(c), true) = (d.cond, here && allows(d.role)) {
                found.push((d.fact, c, true));
            }
        }
        for r in &m.creator_rules {
            let created = path.iter().any(|x| {
                m.nodes[x.index()].ty == r.ty
                    && m.nodes[x.index()].creator.is_some_and(|(p, _)| p == self.p)
            });
            if let (Some(c), true) = (r.cond, created && allows(r.role)) {
                found.push((r.fact, c, true));
            }
        }
        found.sort_by_key(|&(f, c, _)| (f, c));
        found.dedup();
        found
            .into_iter()
            .filter(|&(_, c, _)| !self.env.holds(&m.conditions[c as usize]))
            .map(|(fact, c, allows)| {
                let cond = &m.conditions[c as usize];
                let rule = m.locate(fact).text;
                let rule = rule.split(" when ").next().unwrap_or(&rule);
                let rule = rule.split(" unless ").next().unwrap_or(rule);
                Unmet {
                    step: self.step(
                        format!(
                            "`{}` does not apply here: {}: {}",
                            rule.trim(),
                            cond.text,
                            shown(&self.env, &cond.cond)
                        ),
                        fact,
                    ),
                    allows,
                }
            })
            .collect()
    }

    fn step(&self, text: String, fact: FactId) -> Step {
        Step {
            text,
            at: Some(self.m.locate(fact)),
        }
    }

    fn role(&self, r: RoleId) -> &str {
        &self.m.roles[r.index()].name
    }

    fn principal(&self) -> String {
        quote(&self.m.principals[self.p.index()].name)
    }

    /// How the principal matches subject `s`: the shortest membership chain,
    /// or the selector it satisfies.
    fn subject_steps(&self, s: SubjectId) -> Vec<Step> {
        let me = SubjectId::principal(self.p);
        match s.kind() {
            SubjectKind::Principal(_) => Vec::new(),
            SubjectKind::Selector(_) => {
                let def = &self.m.principals[self.p.index()];
                vec![self.step(
                    format!("{} matches `{}`", self.principal(), self.m.subject_name(s)),
                    def.fact,
                )]
            }
            SubjectKind::Group(_) => {
                // Breadth-first over memberships of subjects the program matched.
                let mut prev: Vec<(SubjectId, Option<(usize, usize)>)> = vec![(me, None)];
                let mut i = 0;
                while i < prev.len() {
                    let cur = prev[i].0;
                    if cur == s {
                        break;
                    }
                    for &k in self.ix.member_of.get(&cur).into_iter().flatten() {
                        let k = k as usize;
                        let g = SubjectId::group(self.m.memberships[k].group);
                        if self.d.matches.contains(&Matches(self.p, g))
                            && !prev.iter().any(|(x, _)| *x == g)
                        {
                            prev.push((g, Some((i, k))));
                        }
                    }
                    i += 1;
                }
                let mut steps = Vec::new();
                let mut at = prev.iter().position(|(x, _)| *x == s);
                while let Some(j) = at {
                    let Some((from, k)) = prev[j].1 else { break };
                    let ms = &self.m.memberships[k];
                    steps.push(self.step(
                        format!(
                            "{} is in {}",
                            self.m.subject_name(ms.member),
                            self.m.subject_name(SubjectId::group(ms.group))
                        ),
                        ms.fact,
                    ));
                    at = Some(from);
                }
                steps.reverse();
                steps
            }
        }
    }

    /// "x is in y" for each node from `n` up to (not including) `top`.
    fn flow_steps(&self, n: NodeId, top: NodeId) -> Vec<Step> {
        let mut steps = Vec::new();
        for node in self.m.ancestry(n) {
            if node == top {
                break;
            }
            let def = &self.m.nodes[node.index()];
            if let Some(parent) = def.parent {
                steps.push(self.step(
                    format!(
                        "{} is in {}",
                        self.m.node_name(node),
                        self.m.node_name(parent)
                    ),
                    def.fact,
                ));
            }
        }
        steps.reverse();
        steps
    }

    /// How role `r` comes to apply at `n`: the fact that gives it, then the
    /// nodes it flows through.
    fn held_steps(&self, r: RoleId, n: NodeId) -> (Via, Vec<Step>) {
        let sources: Vec<NodeId> = self
            .d
            .applies
            .iter()
            .filter(|x| x.role() == r && x.node() == n)
            .map(|x| x.source())
            .collect();
        // Of the nodes it is held on, the nearest: n itself, else the first
        // one up the tree.
        let Some(src) = self.m.ancestry(n).find(|a| sources.contains(a)) else {
            return (Via::Assignment, Vec::new());
        };
        let mut via = Via::Assignment;
        let mut steps = Vec::new();
        let me = self.principal();
        let mut held: Vec<&Held> = self
            .d
            .held
            .iter()
            .filter(|h| h.role() == r && h.node() == src)
            .collect();
        held.sort_by_key(|h| (h.fact(), h.subject()));
        let mut created: Vec<&Created> = self
            .d
            .created
            .iter()
            .filter(|c| c.role() == r && c.node() == src)
            .collect();
        created.sort_by_key(|c| c.rule());
        let mut defaulted: Vec<&Defaulted> = self
            .d
            .defaulted
            .iter()
            .filter(|x| x.role() == r && x.node() == src)
            .collect();
        defaulted.sort_by_key(|x| x.rule());
        if let Some(h) = held.first() {
            steps.extend(self.subject_steps(h.subject()));
            steps.extend(self.steps_for(
                self.step(
                    format!(
                        "{} holds {} on {}",
                        self.m.subject_name(h.subject()),
                        self.role(r),
                        self.m.node_name(src)
                    ),
                    h.fact(),
                ),
                h.fact(),
            ));
        } else if let Some(c) = created.first() {
            via = Via::Creator;
            steps.push(self.step(format!("{me} created {}", self.m.node_name(src)), c.fact()));
            let ty = &self.m.types[self.m.nodes[src.index()].ty.index()].name;
            steps.extend(self.steps_for(
                self.step(
                    format!("creators of `{ty}` nodes hold {}", self.role(r)),
                    c.rule(),
                ),
                c.rule(),
            ));
        } else if let Some(x) = defaulted.first() {
            via = Via::Default;
            steps.extend(self.steps_for(
                self.step(
                    format!(
                        "{me} holds no role of its own on {}, so the default {} applies",
                        self.m.node_name(src),
                        self.role(r)
                    ),
                    x.rule(),
                ),
                x.rule(),
            ));
        }
        steps.extend(self.flow_steps(n, src));
        (via, steps)
    }

    /// Steps from role `r` through `includes` to role `r2`.
    fn include_steps(&self, r: RoleId, r2: RoleId) -> Vec<Step> {
        // Breadth-first over the include edges.
        let mut prev: Vec<(RoleId, Option<(usize, FactId)>)> = vec![(r, None)];
        let mut i = 0;
        while i < prev.len() && prev[i].0 != r2 {
            let cur = prev[i].0;
            for &(inc, f) in &self.m.roles[cur.index()].includes {
                if !prev.iter().any(|(x, _)| *x == inc) {
                    prev.push((inc, Some((i, f))));
                }
            }
            i += 1;
        }
        let mut steps = Vec::new();
        let mut at = prev.iter().position(|(x, _)| *x == r2);
        while let Some(j) = at {
            let Some((from, f)) = prev[j].1 else { break };
            steps.push(self.step(
                format!(
                    "{} includes {}",
                    self.role(prev[from].0),
                    self.role(prev[j].0)
                ),
                f,
            ));
            at = Some(from);
        }
        steps.reverse();
        steps
    }

    fn role_reasons(&self, a: ActionId, n: NodeId) -> Vec<Reason> {
        let mut pairs: Vec<(RoleId, RoleId)> = self
            .d
            .from_role
            .iter()
            .filter(|x| x.action() == a && x.node() == n)
            .map(|x| (x.role(), x.listed_by()))
            .collect();
        pairs.sort();
        pairs.dedup_by_key(|x| x.0);
        let action = &self.m.actions[a.index()];
        pairs
            .into_iter()
            .map(|(r, r2)| {
                let (via, mut steps) = self.held_steps(r, n);
                steps.extend(self.include_steps(r, r2));
                let def = &self.m.roles[r2.index()];
                steps.push(self.step(format!("{} allows {action}", def.name), def.actions_fact));
                Reason {
                    title: format!("role {} allows {action}", self.role(r)),
                    via,
                    role: Some(self.role(r).to_string()),
                    steps,
                }
            })
            .collect()
    }

    fn grant_reasons(&self, a: ActionId, n: NodeId) -> Vec<Reason> {
        let mut grants: Vec<&Granted> = self
            .d
            .granted
            .iter()
            .filter(|g| g.action() == a && g.node() == n)
            .collect();
        grants.sort_by_key(|g| (g.fact(), g.subject()));
        grants.dedup_by_key(|g| g.fact());
        let action = &self.m.actions[a.index()];
        grants
            .into_iter()
            .map(|g| {
                let mut steps = self.subject_steps(g.subject());
                steps.extend(self.steps_for(
                    self.step(
                        format!(
                            "{} is granted {action} on {}",
                            self.m.subject_name(g.subject()),
                            self.m.node_name(g.origin())
                        ),
                        g.fact(),
                    ),
                    g.fact(),
                ));
                steps.extend(self.flow_steps(n, g.origin()));
                Reason {
                    title: format!("a direct grant allows {action}"),
                    via: Via::Grant,
                    role: None,
                    steps,
                }
            })
            .collect()
    }

    fn deny_reasons(&self, a: ActionId, n: NodeId) -> Vec<Reason> {
        let mut denies: Vec<&DenyAt> = self
            .d
            .deny_at
            .iter()
            .filter(|x| x.action() == a && x.node() == n)
            .collect();
        denies.sort_by_key(|x| (x.fact(), x.subject()));
        denies.dedup_by_key(|x| x.fact());
        denies
            .into_iter()
            .map(|x| {
                let mut steps = self.subject_steps(x.subject());
                let rule = self.m.locate(x.fact()).text;
                steps.extend(
                    self.steps_for(self.step(format!("`{rule}` denies it"), x.fact()), x.fact()),
                );
                Reason {
                    title: "a deny rule applies, and deny wins".to_string(),
                    via: Via::Deny,
                    role: None,
                    steps,
                }
            })
            .collect()
    }

    fn held_roles(&self, n: NodeId) -> Vec<HeldRole> {
        let mut roles: Vec<RoleId> = self
            .d
            .effective
            .iter()
            .filter(|e| e.node() == n)
            .map(|e| e.role())
            .collect();
        roles.sort();
        roles
            .into_iter()
            .map(|r| HeldRole {
                role: self.role(r).to_string(),
                steps: self.held_steps(r, n).1,
            })
            .collect()
    }

    fn dropped_roles(&self, n: NodeId) -> Vec<DroppedRole> {
        let mut out = Vec::new();
        let mut outranked: Vec<&Outranked> =
            self.d.outranked.iter().filter(|o| o.node() == n).collect();
        outranked.sort_by_key(|o| {
            (
                o.role(),
                std::cmp::Reverse(self.m.roles[o.by().index()].rank),
                o.by(),
            )
        });
        outranked.dedup_by_key(|o| o.role());
        for o in outranked {
            let (lo, hi) = (
                &self.m.roles[o.role().index()],
                &self.m.roles[o.by().index()],
            );
            let ty = &self.m.types[self.m.nodes[n.index()].ty.index()].name;
            out.push(DroppedRole {
                role: lo.name.clone(),
                reason: format!(
                    "outranked by {} (rank {} > {}); roles on `{ty}` nodes combine by highest privilege",
                    hi.name, hi.rank, lo.rank
                ),
            });
        }
        for node in self.m.ancestry(n) {
            let mut overridden: Vec<&Overridden> = self
                .d
                .overridden
                .iter()
                .filter(|o| o.node() == node)
                .collect();
            overridden.sort_by_key(|o| (o.role(), o.source()));
            overridden.dedup_by_key(|o| o.role());
            for o in overridden {
                out.push(DroppedRole {
                    role: self.role(o.role()).to_string(),
                    reason: format!(
                        "held on {}, but replaced on {} by a role assigned there (override)",
                        self.m.node_name(o.source()),
                        self.m.node_name(node)
                    ),
                });
            }
        }
        out
    }

    fn missing(&self, a: ActionId, n: NodeId, unmet: &[Unmet]) -> Missing {
        let types: Vec<TypeId> = self
            .m
            .ancestry(n)
            .map(|x| self.m.nodes[x.index()].ty)
            .collect();
        let mut roles: Vec<RoleId> = self
            .roles
            .allowing(a)
            .filter(|r| self.m.roles[r.index()].on.iter().any(|t| types.contains(t)))
            .collect();
        roles.sort_by_key(|&r| (self.m.roles[r.index()].rank, r));
        // A role the principal already holds, dropped here by override or
        // highest privilege, is no advice: the dropped roles say why.
        let dropped: Vec<RoleId> = self
            .d
            .overridden
            .iter()
            .filter(|x| x.node() == n)
            .map(|x| x.role())
            .chain(
                self.d
                    .outranked
                    .iter()
                    .filter(|x| x.node() == n)
                    .map(|x| x.role()),
            )
            .collect();
        let held_but_dropped: Vec<String> = roles
            .iter()
            .filter(|r| dropped.contains(r))
            .map(|&r| format!("`{}`", self.role(r)))
            .collect();
        roles.retain(|r| !dropped.contains(r));
        let names: Vec<String> = roles.iter().map(|&r| self.role(r).to_string()).collect();
        let action = &self.m.actions[a.index()];
        let target = self.m.node_name(n);
        let mut hint = if names.is_empty() && !held_but_dropped.is_empty() {
            format!(
                "no other role includes {action}; grant it with `grant {action} on {target} to {}`",
                self.principal()
            )
        } else if names.is_empty() {
            format!(
                "no role includes {action}; grant it with `grant {action} on {target} to {}`",
                self.principal()
            )
        } else {
            let list: Vec<String> = names.iter().map(|r| format!("`{r}`")).collect();
            format!(
                "assign {}{} on {target} or a node above it, or `grant {action} on {target} to {}`",
                if list.len() == 1 { "" } else { "one of " },
                list.join(", "),
                self.principal()
            )
        };
        let conditional = unmet.iter().filter(|u| u.allows).count();
        if conditional > 0 {
            hint = format!(
                "{} rule{} above would apply if {} condition held; or {hint}",
                conditional,
                if conditional == 1 { "" } else { "s" },
                if conditional == 1 { "its" } else { "their" }
            );
        }
        if !held_but_dropped.is_empty() {
            let _ = write!(
                hint,
                "; {} {} held but dropped here (see above)",
                held_but_dropped.join(", "),
                if held_but_dropped.len() == 1 {
                    "is"
                } else {
                    "are"
                }
            );
        }
        Missing { roles: names, hint }
    }
}

impl fmt::Display for Explanation {
    /// An indented tree, as people read it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        writeln!(out, "{}", self.summary)?;
        let mut sections: Vec<(String, Vec<Step>)> = Vec::new();
        for r in &self.denied_by {
            sections.push((r.title.clone(), r.steps.clone()));
        }
        let overruled = self.decision == Effect::Deny;
        for r in &self.allowed_by {
            let title = if overruled {
                format!("{} (overruled by the deny)", r.title)
            } else {
                r.title.clone()
            };
            sections.push((title, r.steps.clone()));
        }
        if self.decision == Effect::Deny && self.allowed_by.is_empty() {
            for r in &self.roles {
                sections.push((
                    format!("holds role {} here, which does not allow it", r.role),
                    r.steps.clone(),
                ));
            }
        }
        for d in &self.dropped {
            sections.push((
                format!("role {} does not count: {}", d.role, d.reason),
                Vec::new(),
            ));
        }
        if !self.unmet.is_empty() {
            let steps = self.unmet.iter().map(|u| u.step.clone()).collect();
            sections.push(("conditions not met".to_string(), steps));
        }
        if let Some(m) = &self.missing {
            sections.push((format!("missing: {}", m.hint), Vec::new()));
        }
        if let Some(e) = &self.error {
            sections.push((format!("fix the request: {e}"), Vec::new()));
        }
        let width = sections
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| s.text.chars().count()))
            .max()
            .unwrap_or(0);
        let last_section = sections.len().saturating_sub(1);
        for (i, (title, steps)) in sections.iter().enumerate() {
            let (branch, stem) = if i == last_section {
                ("└─", "   ")
            } else {
                ("├─", "│  ")
            };
            writeln!(out, "{branch} {title}")?;
            let last_step = steps.len().saturating_sub(1);
            for (j, s) in steps.iter().enumerate() {
                let b = if j == last_step { "└─" } else { "├─" };
                let at = s.at.as_ref().map(|l| format!("  {l}")).unwrap_or_default();
                let pad = width - s.text.chars().count();
                writeln!(
                    out,
                    "{stem}{b} {}{}{at}",
                    s.text,
                    " ".repeat(if at.is_empty() { 0 } else { pad })
                )?;
            }
        }
        f.write_str(out.trim_end())
    }
}

/// Effective and dropped roles, for people: each role with the steps that
/// give it, then the dropped ones with why.
impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.effective.is_empty() {
            writeln!(f, "no roles")?;
        }
        for r in &self.effective {
            writeln!(f, "{}", r.role)?;
            for s in &r.steps {
                match &s.at {
                    Some(at) => writeln!(f, "  {}  ({at})", s.text)?,
                    None => writeln!(f, "  {}", s.text)?,
                }
            }
        }
        for d in &self.dropped {
            writeln!(f, "{} (dropped: {})", d.role, d.reason)?;
        }
        Ok(())
    }
}

/// A condition with this request's values: each comparison as `KEY = VALUE`,
/// with what it needs when it does not hold (`context.via = "ui" (needs
/// "api_token")`), or `KEY has no value`.
fn shown(env: &Env<'_>, c: &Cond) -> String {
    let mut parts = Vec::new();
    leaves(env, c, &mut parts);
    parts.join("; ")
}

fn leaves(env: &Env<'_>, c: &Cond, out: &mut Vec<String>) {
    match c {
        Cond::Or(items) | Cond::And(items) => {
            for x in items {
                leaves(env, x, out);
            }
        }
        Cond::Not(inner) => leaves(env, inner, out),
        Cond::Has(k) => out.push(match env.value(k) {
            Some(v) => format!("{} = {}", k.text, v.shown()),
            None => format!("{} has no value", k.text),
        }),
        Cond::Compare(a, op, b, _) => {
            let side = |t: &Term| match t {
                Term::Key(k, _) => Some(match env.value(k) {
                    Some(v) => format!("{} = {}", k.text, v.shown()),
                    None => format!("{} has no value", k.text),
                }),
                Term::Lit(_) => None,
            };
            let known: Vec<String> = [side(a), side(b)].into_iter().flatten().collect();
            let needs = match (a, b) {
                // `"ops" in principal.teams`: needs the value in the set.
                (Term::Lit(v), Term::Key(..)) => v.shown(),
                (Term::Key(..), Term::Lit(v)) => {
                    let v = v.shown();
                    match op {
                        crate::syntax::ast::Op::Eq => v,
                        op => format!("{} {v}", crate::syntax::op_text(*op)),
                    }
                }
                _ => format!("`{}`", crate::syntax::op_text(*op)),
            };
            let text = known.join(", ");
            out.push(match env.eval(c) {
                Tri::True => text,
                Tri::False => format!("{text} (needs {needs})"),
                Tri::Missing(_) => text,
            });
        }
    }
}
