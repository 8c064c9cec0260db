//! Synthetic organisations for benchmarks and peer comparisons,
//! deterministic from a seed.
//!
//! A [`Workload`] is plain data (orgs, workspaces, deployments, code
//! locations, resources, users, nested groups, memberships, role assignments,
//! creators, denies) that renders to a grantlog policy with
//! [`Workload::policy_text`] and that other engines' translations read
//! directly. Its roles form three ladders in which each role includes the one
//! below, so "highest privilege" and "union" agree on every request the
//! generator makes; with `peer_compatible`, code locations get no
//! assignments of their own, so "override" has nothing to replace. Both keep
//! the workload within what Cedar and Casbin can express.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::fmt::Write;

/// How big an organisation to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Organisations (tenants).
    pub orgs: usize,
    /// Workspaces, across all orgs.
    pub workspaces: usize,
    /// Deployments, across all orgs (two code locations each).
    pub deployments: usize,
    /// Users.
    pub users: usize,
    /// Groups (a tenth are top-level; the rest sit in one of those).
    pub groups: usize,
    /// User-to-group memberships.
    pub memberships: usize,
    /// Resources (apps and datasets) in workspaces.
    pub resources: usize,
    /// Role assignments.
    pub assignments: usize,
}

impl Size {
    /// 1 org, 10 workspaces, 1k users, 50 groups, 1k resources.
    pub const S: Size = Size {
        orgs: 1,
        workspaces: 10,
        deployments: 10,
        users: 1_000,
        groups: 50,
        memberships: 3_000,
        resources: 1_000,
        assignments: 500,
    };
    /// 10 orgs, 1,000 workspaces and deployments, 100k users, 10k groups,
    /// 300k memberships, 100k resources, 50k assignments.
    pub const M: Size = Size {
        orgs: 10,
        workspaces: 500,
        deployments: 500,
        users: 100_000,
        groups: 10_000,
        memberships: 300_000,
        resources: 100_000,
        assignments: 50_000,
    };
    /// 1M users, 100k groups, 1M resources.
    pub const L: Size = Size {
        orgs: 100,
        workspaces: 5_000,
        deployments: 5_000,
        users: 1_000_000,
        groups: 100_000,
        memberships: 3_000_000,
        resources: 1_000_000,
        assignments: 500_000,
    };

    /// The size named `S`, `M` or `L`, or M's proportions scaled to a
    /// number of users (`"10000"`).
    pub fn named(name: &str) -> Option<Size> {
        match name.to_ascii_uppercase().as_str() {
            "S" => Some(Size::S),
            "M" => Some(Size::M),
            "L" => Some(Size::L),
            n => n.parse().ok().filter(|&u| u >= 100).map(Size::scaled),
        }
    }

    /// M's proportions for `users` users.
    pub fn scaled(users: usize) -> Size {
        Size {
            orgs: (users / 10_000).max(1),
            workspaces: (users / 200).max(2),
            deployments: (users / 200).max(2),
            users,
            groups: (users / 10).max(10),
            memberships: users * 3,
            resources: users,
            assignments: users / 2,
        }
    }
}

/// A role ladder: roles from lowest to highest, each with its own actions,
/// and the node types it may be assigned on.
pub struct Ladder {
    /// `(role, own actions)`, lowest first; each includes the one before.
    pub roles: &'static [(&'static str, &'static [&'static str])],
    /// Node types.
    pub on: &'static [&'static str],
    /// Rank of each role, lowest first.
    pub ranks: &'static [u32],
}

/// Workspace roles: on workspaces and the apps and datasets in them.
pub const WORKSPACE_LADDER: Ladder = Ladder {
    roles: &[
        ("ws_guest", &["app.use"]),
        ("ws_reader", &["data.read"]),
        ("ws_member", &["app.comment"]),
        ("ws_editor", &["app.edit", "data.write"]),
        ("ws_publisher", &["app.publish"]),
        ("ws_admin", &["ws.members", "ws.settings"]),
        ("ws_owner", &["ws.billing", "app.delete"]),
    ],
    on: &["workspace", "app", "dataset"],
    ranks: &[10, 11, 12, 13, 14, 15, 16],
};

/// Deployment roles: on deployments and their code locations.
pub const DEPLOYMENT_LADDER: Ladder = Ladder {
    roles: &[
        ("d_viewer", &["run.view"]),
        ("d_launcher", &["run.launch"]),
        ("d_operator", &["schedule.toggle"]),
        ("d_editor", &["code.edit"]),
        ("d_maintainer", &["env.edit"]),
        ("d_admin", &["deploy.settings"]),
        ("d_owner", &["deploy.delete"]),
    ],
    on: &["deployment", "code_location"],
    ranks: &[10, 11, 12, 13, 14, 15, 16],
};

/// Organisation roles; the top two include the top of both other ladders.
pub const ORG_LADDER: Ladder = Ladder {
    roles: &[
        ("org_member", &["org.view"]),
        ("org_billing", &["org.billing"]),
        ("org_auditor", &["org.audit"]),
        ("org_security", &["org.security"]),
        ("org_admin", &["org.admin"]),
        ("org_owner", &["org.delete"]),
    ],
    on: &["org"],
    // Below the other ladders, except the two that include their tops.
    ranks: &[1, 2, 3, 4, 20, 21],
};

/// Who an assignment is given to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A user, by index.
    User(usize),
    /// A group, by index.
    Group(usize),
}

/// A node of the generated tree.
#[derive(Clone, Debug)]
pub struct Node {
    /// Type name.
    pub ty: &'static str,
    /// Name, unique within the type.
    pub name: String,
    /// Parent node index.
    pub parent: Option<usize>,
    /// Creator (user index), for resources.
    pub creator: Option<usize>,
    /// Organisation index.
    pub org: usize,
}

impl Node {
    /// `type:name`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.ty, self.name)
    }
}

/// A generated organisation set.
pub struct Workload {
    /// Nodes; parents come before children.
    pub nodes: Vec<Node>,
    /// Per user: organisation index and whether banned.
    pub users: Vec<(usize, bool)>,
    /// Per group: organisation index and parent group.
    pub groups: Vec<(usize, Option<usize>)>,
    /// `(user, group)` memberships.
    pub memberships: Vec<(usize, usize)>,
    /// `(holder, role, node)` assignments.
    pub assignments: Vec<(Holder, &'static str, usize)>,
    /// Resources on which `app.publish` is denied to everyone.
    pub publish_denied: Vec<usize>,
    /// Requests `(user, action, node)`.
    pub requests: Vec<(usize, &'static str, usize)>,
}

/// One generated role.
#[derive(Clone, Copy, Debug)]
pub struct RoleSpec {
    /// Name.
    pub name: &'static str,
    /// Rank.
    pub rank: u32,
    /// Its own actions.
    pub actions: &'static [&'static str],
    /// Node types it may be assigned on.
    pub on: &'static [&'static str],
    /// The role below it in its ladder, which it includes.
    pub below: Option<&'static str>,
}

/// Every generated role.
pub fn roles() -> Vec<RoleSpec> {
    let mut out = Vec::new();
    for ladder in [&WORKSPACE_LADDER, &DEPLOYMENT_LADDER, &ORG_LADDER] {
        for (i, (name, actions)) in ladder.roles.iter().enumerate() {
            out.push(RoleSpec {
                name,
                rank: ladder.ranks[i],
                actions,
                on: ladder.on,
                below: (i > 0).then(|| ladder.roles[i - 1].0),
            });
        }
    }
    out
}

/// Roles a role includes besides the one below it in its ladder.
pub fn extra_includes(role: &str) -> &'static [&'static str] {
    match role {
        "org_admin" => &["ws_owner", "d_owner"],
        _ => &[],
    }
}

/// The roles a role includes, itself first, transitively.
pub fn closure(role: &str) -> Vec<&'static str> {
    let all = roles();
    let mut out: Vec<&'static str> = Vec::new();
    let mut stack = vec![role.to_string()];
    while let Some(cur) = stack.pop() {
        if let Some(spec) = all.iter().find(|x| x.name == cur) {
            if !out.contains(&spec.name) {
                out.push(spec.name);
                stack.extend(spec.below.map(str::to_string));
                stack.extend(extra_includes(spec.name).iter().map(|s| s.to_string()));
            }
        }
    }
    out
}

impl Workload {
    /// Generates a workload of `size` from `seed`.
    pub fn generate(size: Size, seed: u64, peer_compatible: bool) -> Workload {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut nodes = Vec::new();
        for o in 0..size.orgs {
            nodes.push(Node {
                ty: "org",
                name: format!("o{o}"),
                parent: None,
                creator: None,
                org: o,
            });
        }
        let ws_start = nodes.len();
        for w in 0..size.workspaces {
            let org = w % size.orgs;
            nodes.push(Node {
                ty: "workspace",
                name: format!("w{w}"),
                parent: Some(org),
                creator: None,
                org,
            });
        }
        let dep_start = nodes.len();
        for d in 0..size.deployments {
            let org = d % size.orgs;
            nodes.push(Node {
                ty: "deployment",
                name: format!("d{d}"),
                parent: Some(org),
                creator: None,
                org,
            });
        }
        let cl_start = nodes.len();
        for c in 0..size.deployments * 2 {
            let dep = dep_start + c / 2;
            let org = nodes[dep].org;
            nodes.push(Node {
                ty: "code_location",
                name: format!("c{c}"),
                parent: Some(dep),
                creator: None,
                org,
            });
        }
        let users: Vec<(usize, bool)> = (0..size.users)
            .map(|u| (u % size.orgs, rng.random_range(0..100) == 0))
            .collect();
        let users_of = |org: usize, pick: usize| -> usize { (pick * size.orgs + org) % size.users };
        let res_start = nodes.len();
        for r in 0..size.resources {
            let ws = ws_start + rng.random_range(0..size.workspaces);
            let org = nodes[ws].org;
            let (ty, name) = if r % 2 == 0 {
                ("app", format!("a{r}"))
            } else {
                ("dataset", format!("s{r}"))
            };
            let creator = rng
                .random_bool(0.5)
                .then(|| users_of(org, rng.random_range(0..size.users / size.orgs)));
            nodes.push(Node {
                ty,
                name,
                parent: Some(ws),
                creator,
                org,
            });
        }
        let top_groups = (size.groups / 10).max(1);
        let groups: Vec<(usize, Option<usize>)> = (0..size.groups)
            .map(|g| {
                let org = g % size.orgs;
                let parent = (g >= top_groups).then(|| {
                    let k = rng.random_range(0..(top_groups / size.orgs).max(1));
                    (k * size.orgs + org) % top_groups
                });
                (org, parent)
            })
            .collect();
        let groups_per_org = (size.groups / size.orgs).max(1);
        let mut memberships = Vec::with_capacity(size.memberships);
        for i in 0..size.memberships {
            let user = i % size.users;
            let org = users[user].0;
            let group = (rng.random_range(0..groups_per_org) * size.orgs + org) % size.groups;
            memberships.push((user, group));
        }
        memberships.sort_unstable();
        memberships.dedup();
        let pick_role = |rng: &mut Xoshiro256PlusPlus, ladder: &Ladder| -> &'static str {
            // Lower roles are more common.
            let n = ladder.roles.len();
            let a = rng.random_range(0..n);
            let b = rng.random_range(0..n);
            ladder.roles[a.min(b)].0
        };
        let mut assignments = Vec::with_capacity(size.assignments);
        for _ in 0..size.assignments {
            let org = rng.random_range(0..size.orgs);
            let holder = if rng.random_range(0..5) == 0 {
                Holder::User(users_of(org, rng.random_range(0..size.users / size.orgs)))
            } else {
                Holder::Group((rng.random_range(0..groups_per_org) * size.orgs + org) % size.groups)
            };
            let kind = rng.random_range(0..100);
            let (role, node) = if kind < 70 {
                let w = (rng.random_range(0..(size.workspaces / size.orgs).max(1)) * size.orgs
                    + org)
                    % size.workspaces;
                (pick_role(&mut rng, &WORKSPACE_LADDER), ws_start + w)
            } else if kind < 90 || (peer_compatible && kind < 95) {
                let d = (rng.random_range(0..(size.deployments / size.orgs).max(1)) * size.orgs
                    + org)
                    % size.deployments;
                (pick_role(&mut rng, &DEPLOYMENT_LADDER), dep_start + d)
            } else if kind < 95 {
                let d = (rng.random_range(0..(size.deployments / size.orgs).max(1)) * size.orgs
                    + org)
                    % size.deployments;
                (
                    pick_role(&mut rng, &DEPLOYMENT_LADDER),
                    cl_start + d * 2 + rng.random_range(0..2),
                )
            } else {
                (pick_role(&mut rng, &ORG_LADDER), org)
            };
            assignments.push((holder, role, node));
        }
        let publish_denied: Vec<usize> = (0..size.resources / 100)
            .map(|_| res_start + rng.random_range(0..size.resources))
            .collect();
        // Requests: half aimed at what an assignment gives (mostly allowed),
        // half anywhere (mostly denied); 80% from a hot tenth of the users.
        let mut group_members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
        for &(u, g) in &memberships {
            group_members[g].push(u);
        }
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            if let Some(p) = n.parent {
                children[p].push(i);
            }
        }
        let hot = (size.users / 10).max(10);
        let mut requests = Vec::with_capacity(10_000);
        while requests.len() < 10_000 {
            let (user, node, ladder) = if rng.random_bool(0.5) {
                let (holder, role, at) = assignments[rng.random_range(0..assignments.len())];
                let user = match holder {
                    Holder::User(u) => u,
                    Holder::Group(g) if !group_members[g].is_empty() => {
                        group_members[g][rng.random_range(0..group_members[g].len())]
                    }
                    Holder::Group(_) => continue,
                };
                let below = &children[at];
                let node = if below.is_empty() || rng.random_bool(0.3) {
                    at
                } else {
                    below[rng.random_range(0..below.len())]
                };
                let ladder = [&WORKSPACE_LADDER, &DEPLOYMENT_LADDER, &ORG_LADDER]
                    .into_iter()
                    .find(|l| l.roles.iter().any(|r| r.0 == role))
                    .unwrap_or(&WORKSPACE_LADDER);
                let ladder = if ladder.on.contains(&nodes[node].ty) {
                    ladder
                } else if nodes[node].ty == "deployment" || nodes[node].ty == "code_location" {
                    &DEPLOYMENT_LADDER
                } else {
                    &WORKSPACE_LADDER
                };
                (user, node, ladder)
            } else {
                let user = if rng.random_range(0..10) < 8 {
                    rng.random_range(0..hot)
                } else {
                    rng.random_range(0..size.users)
                };
                let kind = rng.random_range(0..10);
                if kind < 6 {
                    (
                        user,
                        res_start + rng.random_range(0..size.resources),
                        &WORKSPACE_LADDER,
                    )
                } else if kind < 8 {
                    (
                        user,
                        ws_start + rng.random_range(0..size.workspaces),
                        &WORKSPACE_LADDER,
                    )
                } else if kind < 9 {
                    (
                        user,
                        dep_start + rng.random_range(0..size.deployments),
                        &DEPLOYMENT_LADDER,
                    )
                } else {
                    (
                        user,
                        cl_start + rng.random_range(0..size.deployments * 2),
                        &DEPLOYMENT_LADDER,
                    )
                }
            };
            let role = ladder.roles[rng.random_range(0..ladder.roles.len())];
            let action = role.1[rng.random_range(0..role.1.len())];
            requests.push((user, action, node));
        }
        Workload {
            nodes,
            users,
            groups,
            memberships,
            assignments,
            publish_denied,
            requests,
        }
    }

    /// The workload as a grantlog policy.
    pub fn policy_text(&self) -> String {
        let mut out = String::with_capacity(self.nodes.len() * 48 + self.memberships.len() * 8);
        out.push_str(
            "type org\ntype workspace in org combine highest\ntype app in workspace\ntype dataset in workspace\n\
             type deployment in org combine highest\ntype code_location in deployment combine override, highest\n",
        );
        let mut actions: Vec<&str> = roles()
            .iter()
            .flat_map(|r| r.actions.iter().copied())
            .collect();
        actions.sort_unstable();
        let _ = writeln!(out, "action {}", actions.join(", "));
        for RoleSpec {
            name,
            rank,
            actions: acts,
            on,
            below,
        } in roles()
        {
            let mut includes: Vec<&str> = below.into_iter().collect();
            includes.extend(extra_includes(name));
            let inc = if includes.is_empty() {
                String::new()
            } else {
                format!(" includes {}", includes.join(", "))
            };
            let _ = writeln!(
                out,
                "role {name} on {} rank {rank}{inc} {{ {} }}",
                on.join(", "),
                acts.join(", ")
            );
        }
        out.push_str(
            "creator of app, dataset holds ws_editor\ndeny * to users where status = banned\n",
        );
        for n in &self.nodes {
            let _ = write!(out, "{} {}", n.ty, n.name);
            if let Some(p) = n.parent {
                let _ = write!(out, " in {}", self.nodes[p].key());
            }
            if let Some(c) = n.creator {
                let _ = write!(out, " created by u{c}");
            }
            out.push('\n');
        }
        for (u, (org, banned)) in self.users.iter().enumerate() {
            let _ = writeln!(
                out,
                "user u{u} in org:o{org}{}",
                if *banned { " status banned" } else { "" }
            );
        }
        let mut members: Vec<Vec<String>> = vec![Vec::new(); self.groups.len()];
        for (g, (_, parent)) in self.groups.iter().enumerate() {
            if let Some(p) = parent {
                members[*p].push(format!("group g{g}"));
            }
        }
        for &(u, g) in &self.memberships {
            members[g].push(format!("u{u}"));
        }
        for (g, (org, _)) in self.groups.iter().enumerate() {
            let _ = writeln!(
                out,
                "group g{g} in org:o{org} {{ {} }}",
                members[g].join(", ")
            );
        }
        for (holder, role, node) in &self.assignments {
            let who = match holder {
                Holder::User(u) => format!("u{u}"),
                Holder::Group(g) => format!("group g{g}"),
            };
            let _ = writeln!(out, "assign {role} on {} to {who}", self.nodes[*node].key());
        }
        for &r in &self.publish_denied {
            let _ = writeln!(
                out,
                "deny app.publish on {} to everyone",
                self.nodes[r].key()
            );
        }
        out
    }

    /// The requests as `(principal, action, resource)` strings.
    pub fn request_strings(&self) -> Vec<(String, &'static str, String)> {
        self.requests
            .iter()
            .map(|&(u, a, n)| (format!("u{u}"), a, self.nodes[n].key()))
            .collect()
    }
}
