//! The workload as Cedar entities and policies.

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, Policy, PolicyId, PolicySet,
    Request, RestrictedExpression, SlotId, Template,
};
use grantlog::workload::{closure, roles, Holder, Workload};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

/// Cedar given a whole policy set and entity store on every request: every
/// linked policy of the organisation ([`Cedar::new`], the naive row) or a
/// constant set with role holders in the entity hierarchy
/// ([`Cedar::holders`]).
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

/// The actions a role allows: its own and those of every role it includes.
pub fn role_actions(role: &str) -> Vec<&'static str> {
    let all = roles();
    closure(role)
        .iter()
        .flat_map(|inc| all.iter().find(|x| x.name == *inc).map(|x| x.actions))
        .flatten()
        .copied()
        .collect()
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

/// The entity ids of the workload's users, groups and nodes.
struct Uids {
    users: Vec<EntityUid>,
    groups: Vec<EntityUid>,
    nodes: Vec<EntityUid>,
}

impl Uids {
    fn new(w: &Workload) -> Uids {
        Uids {
            users: (0..w.users.len())
                .map(|u| uid("User", &format!("u{u}")))
                .collect(),
            groups: (0..w.groups.len())
                .map(|g| uid("Group", &format!("g{g}")))
                .collect(),
            nodes: w
                .nodes
                .iter()
                .map(|n| uid(type_name(n.ty), &n.name))
                .collect(),
        }
    }

    /// Each user's groups, as its entity parents.
    fn user_parents(&self, w: &Workload) -> Vec<HashSet<EntityUid>> {
        let mut parents = vec![HashSet::new(); w.users.len()];
        for &(u, g) in &w.memberships {
            parents[u].insert(self.groups[g].clone());
        }
        parents
    }

    /// User `u`, with its status.
    fn user(&self, w: &Workload, u: usize, parents: HashSet<EntityUid>) -> Entity {
        let status = if w.users[u].1 { "banned" } else { "active" };
        let attrs = HashMap::from([(
            "status".to_string(),
            RestrictedExpression::new_string(status.into()),
        )]);
        Entity::new(self.users[u].clone(), attrs, parents).expect("user entity")
    }

    /// Node `i`, under its parent, with its creator and `attrs`.
    fn node(
        &self,
        w: &Workload,
        i: usize,
        mut attrs: HashMap<String, RestrictedExpression>,
    ) -> Entity {
        let n = &w.nodes[i];
        if let Some(c) = n.creator {
            attrs.insert(
                "creator".to_string(),
                RestrictedExpression::new_entity_uid(self.users[c].clone()),
            );
        }
        let parents = n.parent.iter().map(|p| self.nodes[*p].clone()).collect();
        Entity::new(self.nodes[i].clone(), attrs, parents).expect("node entity")
    }
}

/// The action entities: each action is in the group (`Action::"role:R"`) of
/// every role whose closure lists it. Returns the actions by name.
fn action_entities(entities: &mut Vec<Entity>) -> HashMap<&'static str, EntityUid> {
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
    actions
}

/// A request with no context.
fn request(user: &EntityUid, action: &EntityUid, node: &EntityUid) -> Request {
    Request::new(
        user.clone(),
        action.clone(),
        node.clone(),
        Context::empty(),
        None,
    )
    .expect("request")
}

fn allows(
    authorizer: &Authorizer,
    request: &Request,
    policies: &PolicySet,
    entities: &Entities,
) -> bool {
    authorizer
        .is_authorized(request, policies, entities)
        .decision()
        == Decision::Allow
}

/// The policies every Cedar model of the workload shares: the creator rule
/// and the ban.
const CREATOR_AND_BAN: [&str; 2] = [
    "permit(principal, action in Action::\"role:ws_editor\", resource) when { resource has creator && resource.creator == principal };",
    "forbid(principal, action, resource) when { principal.status == \"banned\" };",
];

impl Cedar {
    pub fn new(w: &Workload) -> Cedar {
        let ids = Uids::new(w);
        let mut entities = Vec::new();
        for (u, parents) in ids.user_parents(w).into_iter().enumerate() {
            entities.push(ids.user(w, u, parents));
        }
        for (g, (_, parent)) in w.groups.iter().enumerate() {
            let parents = parent.iter().map(|p| ids.groups[*p].clone()).collect();
            entities.push(Entity::new_no_attrs(ids.groups[g].clone(), parents));
        }
        for i in 0..w.nodes.len() {
            entities.push(ids.node(w, i, HashMap::new()));
        }
        let actions = action_entities(&mut entities);
        let Uids {
            users,
            groups,
            nodes,
        } = ids;
        let entities = Entities::from_entities(entities, None).expect("entities");

        let all = roles();
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
        let mut statics = CREATOR_AND_BAN.join("\n") + "\n";
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
        let request = request(&self.users[user], &self.actions[action], &self.nodes[node]);
        allows(&self.authorizer, &request, &self.policies, &self.entities)
    }
}

/// Cedar as a performance-minded team deploys it at this size: every
/// assignment is a static policy, indexed by the integer ids of its
/// principal scope (a user or a group) and its resource scope; a request is
/// authorized against the slice of policies that can match it (those held
/// by the principal or one of its groups, on the resource or one of its
/// ancestors, for a role whose action group holds the action), plus the
/// unscoped policies (the creator rule, the ban) and the resource's own
/// forbids. Gathering the slice is part of each timed check.
pub struct SlicedCedar {
    entities: Entities,
    authorizer: Authorizer,
    users: Vec<EntityUid>,
    nodes: Vec<EntityUid>,
    actions: HashMap<&'static str, (usize, EntityUid)>,
    /// Per user, its groups; per group, its parent group.
    user_groups: Vec<Vec<usize>>,
    group_parent: Vec<Option<usize>>,
    node_parent: Vec<Option<usize>>,
    /// Per user (then per group, from `users.len()` on): (node, role, policy).
    held: Vec<Vec<(usize, usize, usize)>>,
    /// Per role: the actions its closure allows (by action index).
    role_allows: Vec<Vec<bool>>,
    policies: Vec<Policy>,
    unscoped: Vec<Policy>,
    /// Per node: its `app.publish` forbid, if any.
    publish_forbid: HashMap<usize, Policy>,
}

impl SlicedCedar {
    pub fn new(w: &Workload) -> SlicedCedar {
        let naive = Cedar::new(w);
        let all = roles();
        let mut action_names: Vec<&'static str> = naive.actions.keys().copied().collect();
        action_names.sort_unstable();
        let actions = action_names
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, (i, naive.actions[a].clone())))
            .collect::<HashMap<_, _>>();
        let role_allows = all
            .iter()
            .map(|r| {
                let listed = role_actions(r.name);
                action_names.iter().map(|a| listed.contains(a)).collect()
            })
            .collect();
        let groups: Vec<EntityUid> = (0..w.groups.len())
            .map(|g| uid("Group", &format!("g{g}")))
            .collect();
        let mut user_groups = vec![Vec::new(); w.users.len()];
        for &(u, g) in &w.memberships {
            user_groups[u].push(g);
        }
        let mut held = vec![Vec::new(); w.users.len() + w.groups.len()];
        let mut policies = Vec::new();
        for (i, (holder, role, node)) in w.assignments.iter().enumerate() {
            let (key, principal) = match holder {
                Holder::User(u) => (*u, &naive.users[*u]),
                Holder::Group(g) => (w.users.len() + g, &groups[*g]),
            };
            let text = format!(
                "permit(principal in {principal}, action in Action::\"role:{role}\", resource in {});",
                naive.nodes[*node]
            );
            let policy = Policy::parse(Some(PolicyId::new(format!("assign{i}"))), text)
                .expect("assignment policy");
            let r = all
                .iter()
                .position(|x| x.name == *role)
                .expect("known role");
            held[key].push((*node, r, policies.len()));
            policies.push(policy);
        }
        let unscoped = CREATOR_AND_BAN
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Policy::parse(Some(PolicyId::new(format!("static{i}"))), *text)
                    .expect("static policy")
            })
            .collect();
        let publish_forbid = w
            .publish_denied
            .iter()
            .map(|&r| {
                let text = format!(
                    "forbid(principal, action == Action::\"app.publish\", resource == {});",
                    naive.nodes[r]
                );
                let policy = Policy::parse(Some(PolicyId::new(format!("deny{r}"))), text)
                    .expect("forbid policy");
                (r, policy)
            })
            .collect();
        SlicedCedar {
            entities: naive.entities,
            authorizer: Authorizer::new(),
            users: naive.users,
            nodes: naive.nodes,
            actions,
            user_groups,
            group_parent: w.groups.iter().map(|(_, parent)| *parent).collect(),
            node_parent: w.nodes.iter().map(|n| n.parent).collect(),
            held,
            role_allows,
            policies,
            unscoped,
            publish_forbid,
        }
    }

    pub fn check(&self, &(user, action, node): &(usize, &'static str, usize)) -> bool {
        let (a, action_uid) = &self.actions[action];
        // The principal and its groups; the resource and its ancestors.
        let mut holders = vec![user];
        let mut stack: Vec<usize> = self.user_groups[user].clone();
        while let Some(g) = stack.pop() {
            let key = self.users.len() + g;
            if !holders.contains(&key) {
                holders.push(key);
                stack.extend(self.group_parent[g]);
            }
        }
        let mut ancestry = vec![node];
        while let Some(parent) = self.node_parent[*ancestry.last().expect("one node")] {
            ancestry.push(parent);
        }
        let mut slice: Vec<Policy> = self.unscoped.clone();
        for &h in &holders {
            for &(n, role, p) in &self.held[h] {
                if self.role_allows[role][*a] && ancestry.contains(&n) {
                    slice.push(self.policies[p].clone());
                }
            }
        }
        if let Some(forbid) = self.publish_forbid.get(&node) {
            slice.push(forbid.clone());
        }
        let policies = PolicySet::from_policies(slice).expect("a slice of distinct policies");
        let request = request(&self.users[user], action_uid, &self.nodes[node]);
        allows(&self.authorizer, &request, &policies, &self.entities)
    }
}

impl Cedar {
    /// Cedar with a constant set of policies: role holders in the entity
    /// hierarchy. Each assignment makes its holder (a user or a group) a member
    /// of a holder entity `Holder::"R@N"` (role R on node N); each node lists, in
    /// its `holders` record, the holder entities of each role on it and on its
    /// ancestors. One policy per role (`principal in resource.holders.R`), the
    /// creator rule, the ban and one `forbid` for the resources where
    /// `app.publish` is denied: 23 policies, whatever the size.
    pub fn holders(w: &Workload) -> Cedar {
        let all = roles();
        let ids = Uids::new(w);
        let holder = |role: &str, node: usize| uid("Holder", &format!("{role}@{node}"));
        let mut user_parents = ids.user_parents(w);
        let mut group_parents: Vec<HashSet<EntityUid>> = w
            .groups
            .iter()
            .map(|(_, parent)| parent.iter().map(|p| ids.groups[*p].clone()).collect())
            .collect();
        // Per node, the roles held on it.
        let mut held_on: Vec<Vec<&'static str>> = vec![Vec::new(); w.nodes.len()];
        for &(h, role, node) in &w.assignments {
            let parents = match h {
                Holder::User(u) => &mut user_parents[u],
                Holder::Group(g) => &mut group_parents[g],
            };
            parents.insert(holder(role, node));
            if !held_on[node].contains(&role) {
                held_on[node].push(role);
            }
        }
        let mut entities: Vec<Entity> = w
            .assignments
            .iter()
            .map(|&(_, role, node)| holder(role, node))
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|h| Entity::new_no_attrs(h, HashSet::new()))
            .collect();
        for (u, parents) in user_parents.into_iter().enumerate() {
            entities.push(ids.user(w, u, parents));
        }
        for (g, parents) in group_parents.into_iter().enumerate() {
            entities.push(Entity::new_no_attrs(ids.groups[g].clone(), parents));
        }
        let denied: HashSet<usize> = w.publish_denied.iter().copied().collect();
        for i in 0..w.nodes.len() {
            // The holder entities of each role on the node and its ancestors.
            let mut by_role: HashMap<&'static str, Vec<RestrictedExpression>> = HashMap::new();
            let mut at = Some(i);
            while let Some(x) = at {
                for &role in &held_on[x] {
                    by_role
                        .entry(role)
                        .or_default()
                        .push(RestrictedExpression::new_entity_uid(holder(role, x)));
                }
                at = w.nodes[x].parent;
            }
            let holders = by_role
                .into_iter()
                .map(|(role, set)| (role.to_string(), RestrictedExpression::new_set(set)));
            let mut attrs = HashMap::from([(
                "holders".to_string(),
                RestrictedExpression::new_record(holders).expect("holders record"),
            )]);
            if denied.contains(&i) {
                attrs.insert(
                    "publish_denied".to_string(),
                    RestrictedExpression::new_bool(true),
                );
            }
            entities.push(ids.node(w, i, attrs));
        }
        let actions = action_entities(&mut entities);
        let entities = Entities::from_entities(entities, None).expect("entities");

        let mut text: String = all
            .iter()
            .map(|r| {
                format!(
                    "permit(principal, action in Action::\"role:{0}\", resource) when {{ resource.holders has {0} && principal in resource.holders.{0} }};\n",
                    r.name
                )
            })
            .collect();
        text.push_str(&CREATOR_AND_BAN.join("\n"));
        text.push_str(
            "\nforbid(principal, action == Action::\"app.publish\", resource) when { resource has publish_denied };\n",
        );
        let policies: PolicySet = text.parse().expect("holder policies");
        Cedar {
            policies,
            entities,
            authorizer: Authorizer::new(),
            users: ids.users,
            nodes: ids.nodes,
            actions,
        }
    }

    /// The number of policies.
    pub fn policy_count(&self) -> usize {
        self.policies.policies().count()
    }
}
