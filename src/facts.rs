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
//!   "groups": [{"name": "support", "in": ["team:acme"], "members": ["bob", "group:frontline"]}],
//!   "assignments": [{"role": "editor", "on": "workspace:marketing", "to": "group:support"}],
//!   "grants": [{"actions": ["web_app.open"], "on": "web_app:support-bot", "to": "erin"}]
//! }
//! ```
//!
//! A subject is a user's name or `group:NAME`. Each fact becomes one policy
//! statement in a source named after its place in the file
//! (`facts.json#/users/3`), so every error names the file, the JSON path and
//! what is wrong, in the same words as for a policy file.

use crate::compile::ids::{NodeId, SubjectKind};
use crate::compile::model::{quote, Model, PrincipalKind};
use crate::error::Error;
use crate::source::Sources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    pub attributes: BTreeMap<String, String>,
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
    /// Members: user names and `group:NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// `member` (a user name or `group:NAME`) belongs to `group`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipFact {
    /// User name or `group:NAME`.
    pub member: String,
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
    pub to: String,
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
    pub to: String,
}

impl Facts {
    /// Parses a JSON document; an error names the file and the JSON path.
    pub fn from_json(name: &str, text: &str) -> Result<Facts, Error> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Error::Usage(format!("{name}: at `{path}`: {}", e.inner()))
        })
    }

    /// Adds each fact to `sources` as one statement, in a source named
    /// `NAME#/KIND/INDEX`.
    pub fn add_to(&self, name: &str, sources: &mut Sources) {
        for (path, text) in self.statements() {
            sources.add(format!("{name}#{path}"), text);
        }
    }

    /// Each fact as one policy statement, with its JSON path
    /// (`/users/3`): what [`Facts::add_to`] loads, and what
    /// [`crate::Batch::add_facts`] and [`crate::Batch::remove_facts`] apply.
    pub fn statements(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let node = |text: &str| match text.split_once(':') {
            Some((ty, n)) => format!("{ty}:{}", quote(n)),
            None => quote(text),
        };
        let subject = |text: &str| match text.strip_prefix("group:") {
            Some(g) => format!("group {}", quote(g)),
            None => quote(text),
        };
        let list = |items: &[String], f: &dyn Fn(&str) -> String| {
            items.iter().map(|i| f(i)).collect::<Vec<_>>().join(", ")
        };
        for (i, n) in self.nodes.iter().enumerate() {
            let mut text = format!("{} {}", n.ty, quote(&n.name));
            if let Some(p) = &n.parent {
                text += &format!(" in {}", node(p));
            }
            if let Some(c) = &n.created_by {
                text += &format!(" created by {}", quote(c));
            }
            out.push((format!("/nodes/{i}"), text));
        }
        for (i, u) in self.users.iter().enumerate() {
            let kind = match u.kind {
                Some(PrincipalKind::Service) => "service ",
                _ => "",
            };
            let mut text = format!("{kind}user {}", quote(&u.name));
            if !u.homes.is_empty() {
                text += &format!(" in {}", list(&u.homes, &node));
            }
            if let Some(s) = &u.status {
                text += &format!(" status {}", quote(s));
            }
            if !u.attributes.is_empty() {
                let attrs: Vec<String> = u
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", quote(v)))
                    .collect();
                text += &format!(" with {}", attrs.join(", "));
            }
            out.push((format!("/users/{i}"), text));
        }
        for (i, g) in self.groups.iter().enumerate() {
            let mut text = format!("group {}", quote(&g.name));
            if !g.homes.is_empty() {
                text += &format!(" in {}", list(&g.homes, &node));
            }
            text += &format!(" {{ {} }}", list(&g.members, &subject));
            out.push((format!("/groups/{i}"), text));
        }
        for (i, x) in self.memberships.iter().enumerate() {
            let text = format!("add {} to group {}", subject(&x.member), quote(&x.group));
            out.push((format!("/memberships/{i}"), text));
        }
        for (i, a) in self.assignments.iter().enumerate() {
            let text = format!("assign {} on {} to {}", a.role, node(&a.on), subject(&a.to));
            out.push((format!("/assignments/{i}"), text));
        }
        for (i, g) in self.grants.iter().enumerate() {
            let text = format!(
                "grant {} on {} to {}",
                g.actions.join(", "),
                node(&g.on),
                subject(&g.to)
            );
            out.push((format!("/grants/{i}"), text));
        }
        out
    }

    /// The facts of a checked model (its rules are left out).
    pub fn from_model(m: &Model) -> Facts {
        let node = |n: NodeId| {
            let def = &m.nodes[n.index()];
            format!("{}:{}", m.types[def.ty.index()].name, def.name)
        };
        let subject = |s| match s {
            SubjectKind::Principal(p) => m.principals[p.index()].name.clone(),
            SubjectKind::Group(g) => format!("group:{}", m.groups[g.index()].name),
            SubjectKind::Selector(_) => String::new(),
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
                        attributes.insert(key.to_string(), sym(v));
                    }
                }
            }
            facts.users.push(UserFact {
                name: p.name.clone(),
                kind: (p.kind == PrincipalKind::Service).then_some(PrincipalKind::Service),
                status,
                homes: homes(&p.homes),
                attributes,
            });
        }
        let mut members: Vec<Vec<String>> = vec![Vec::new(); m.groups.len()];
        for ms in m.memberships() {
            members[ms.group.index()].push(subject(ms.member.kind()));
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
            if let SubjectKind::Selector(_) = a.subject.kind() {
                continue; // a rule, not a fact
            }
            facts.assignments.push(AssignmentFact {
                role: m.roles[a.role.index()].name.clone(),
                on: node(a.node),
                to: subject(a.subject.kind()),
            });
        }
        for g in m.grants() {
            if let SubjectKind::Selector(_) = g.subject.kind() {
                continue;
            }
            facts.grants.push(GrantFact {
                actions: vec![m.actions[g.action.index()].clone()],
                on: node(g.node),
                to: subject(g.subject.kind()),
            });
        }
        facts
    }
}
