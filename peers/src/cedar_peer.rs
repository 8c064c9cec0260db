//! The workload as Cedar entities and policies.

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicyId, PolicySet, Request,
    RestrictedExpression, SlotId, Template,
};
use grantlog::workload::{closure, roles, Holder, Workload};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

pub struct Cedar {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    users: Vec<EntityUid>,
    nodes: Vec<EntityUid>,
    actions: HashMap<&'static str, EntityUid>,
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_str(&format!("{ty}::\"{id}\"")).expect("valid uid")
}

fn type_name(node_type: &str) -> &'static str {
    match node_type {
        "org" => "Org",
        "workspace" => "Workspace",
        "app" => "App",
        "dataset" => "Dataset",
        "deployment" => "Deployment",
        _ => "CodeLocation",
    }
}

impl Cedar {
    pub fn new(w: &Workload) -> Cedar {
        let users: Vec<EntityUid> = (0..w.users.len())
            .map(|u| uid("User", &format!("u{u}")))
            .collect();
        let groups: Vec<EntityUid> = (0..w.groups.len())
            .map(|g| uid("Group", &format!("g{g}")))
            .collect();
        let nodes: Vec<EntityUid> = w
            .nodes
            .iter()
            .map(|n| uid(type_name(n.ty), &n.name))
            .collect();
        let mut entities = Vec::new();
        let mut user_parents: Vec<HashSet<EntityUid>> = vec![HashSet::new(); w.users.len()];
        for &(u, g) in &w.memberships {
            user_parents[u].insert(groups[g].clone());
        }
        for (u, parents) in user_parents.into_iter().enumerate() {
            let status = if w.users[u].1 { "banned" } else { "active" };
            let attrs = HashMap::from([(
                "status".to_string(),
                RestrictedExpression::new_string(status.into()),
            )]);
            entities.push(Entity::new(users[u].clone(), attrs, parents).expect("user entity"));
        }
        for (g, (_, parent)) in w.groups.iter().enumerate() {
            let parents = parent.iter().map(|p| groups[*p].clone()).collect();
            entities.push(Entity::new_no_attrs(groups[g].clone(), parents));
        }
        for (i, n) in w.nodes.iter().enumerate() {
            let parents = n.parent.iter().map(|p| nodes[*p].clone()).collect();
            let mut attrs = HashMap::new();
            if let Some(c) = n.creator {
                attrs.insert(
                    "creator".to_string(),
                    RestrictedExpression::new_entity_uid(users[c].clone()),
                );
            }
            entities.push(Entity::new(nodes[i].clone(), attrs, parents).expect("node entity"));
        }
        // Actions: each action is in the group of every role whose closure
        // lists it.
        let all = roles();
        let mut actions = HashMap::new();
        for r in &all {
            entities.push(Entity::new_no_attrs(
                uid("Action", &format!("role:{}", r.name)),
                HashSet::new(),
            ));
        }
        for spec in &all {
            for &a in spec.actions {
                if actions.contains_key(a) {
                    continue;
                }
                let parents = all
                    .iter()
                    .filter(|r| {
                        closure(r.name)
                            .iter()
                            .any(|inc| all.iter().any(|x| x.name == *inc && x.actions.contains(&a)))
                    })
                    .map(|r| uid("Action", &format!("role:{}", r.name)))
                    .collect();
                let id = uid("Action", a);
                entities.push(Entity::new_no_attrs(id.clone(), parents));
                actions.insert(a, id);
            }
        }
        let entities = Entities::from_entities(entities, None).expect("entities");

        let mut policies = PolicySet::new();
        for r in &all {
            let src = format!(
                "permit(principal in ?principal, action in Action::\"role:{}\", resource in ?resource);",
                r.name
            );
            let t = Template::parse(Some(PolicyId::new(r.name)), src).expect("template");
            policies.add_template(t).expect("add template");
        }
        for (i, (holder, role, node)) in w.assignments.iter().enumerate() {
            let principal = match holder {
                Holder::User(u) => users[*u].clone(),
                Holder::Group(g) => groups[*g].clone(),
            };
            let vals = HashMap::from([
                (SlotId::principal(), principal),
                (SlotId::resource(), nodes[*node].clone()),
            ]);
            policies
                .link(
                    PolicyId::new(*role),
                    PolicyId::new(format!("assign{i}")),
                    vals,
                )
                .expect("link");
        }
        let mut statics = String::from(
            "permit(principal, action in Action::\"role:ws_editor\", resource) when { resource has creator && resource.creator == principal };\n\
             forbid(principal, action, resource) when { principal.status == \"banned\" };\n",
        );
        for &r in &w.publish_denied {
            statics.push_str(&format!(
                "forbid(principal, action == Action::\"app.publish\", resource == {});\n",
                nodes[r]
            ));
        }
        let parsed: PolicySet = statics.parse().expect("static policies");
        for p in parsed.policies() {
            policies.add(p.clone()).ok();
        }
        Cedar {
            policies,
            entities,
            authorizer: Authorizer::new(),
            users,
            nodes,
            actions,
        }
    }

    pub fn check(&self, &(user, action, node): &(usize, &'static str, usize)) -> bool {
        let request = Request::new(
            self.users[user].clone(),
            self.actions[action].clone(),
            self.nodes[node].clone(),
            Context::empty(),
            None,
        )
        .expect("request");
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}
