//! The workload as a Casbin RBAC model and policy lines.

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use grantlog::workload::{closure, roles, Holder, Workload};
use std::collections::BTreeSet;

const MODEL: &str = r#"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act, eft

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && g2(r.obj, p.obj) && r.act == p.act
"#;

pub struct Casbin {
    enforcer: Enforcer,
}

impl Casbin {
    pub fn new(w: &Workload) -> Casbin {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let model = DefaultModel::from_str(MODEL).await.expect("model");
            let mut e = Enforcer::new(model, MemoryAdapter::default())
                .await
                .expect("enforcer");
            let all = roles();
            let actions_of = |role: &str| -> Vec<&'static str> {
                closure(role)
                    .iter()
                    .flat_map(|r| {
                        all.iter()
                            .find(|x| x.name == *r)
                            .map(|x| x.actions.to_vec())
                            .unwrap_or_default()
                    })
                    .collect()
            };
            let mut g = Vec::new();
            let mut holders = BTreeSet::new();
            for &(u, grp) in &w.memberships {
                g.push(vec![format!("u{u}"), format!("g{grp}")]);
            }
            for (i, (_, parent)) in w.groups.iter().enumerate() {
                if let Some(p) = parent {
                    g.push(vec![format!("g{i}"), format!("g{p}")]);
                }
            }
            for (holder, role, node) in &w.assignments {
                let who = match holder {
                    Holder::User(u) => format!("u{u}"),
                    Holder::Group(x) => format!("g{x}"),
                };
                let held = (*role, *node);
                g.push(vec![who, format!("{role}@{}", w.nodes[*node].key())]);
                holders.insert(held);
            }
            for (i, n) in w.nodes.iter().enumerate() {
                if let Some(c) = n.creator {
                    g.push(vec![format!("u{c}"), format!("ws_editor@{}", n.key())]);
                    holders.insert(("ws_editor", i));
                }
            }
            for (u, (_, banned)) in w.users.iter().enumerate() {
                if *banned {
                    g.push(vec![format!("u{u}"), "banned".into()]);
                }
                g.push(vec![format!("u{u}"), "everyone".into()]);
            }
            let mut p = Vec::new();
            for (role, node) in holders {
                let key = w.nodes[node].key();
                for a in actions_of(role) {
                    p.push(vec![
                        format!("{role}@{key}"),
                        key.clone(),
                        a.to_string(),
                        "allow".into(),
                    ]);
                }
            }
            let every_action: BTreeSet<&str> =
                all.iter().flat_map(|r| r.actions.iter().copied()).collect();
            for n in w.nodes.iter().filter(|n| n.parent.is_none()) {
                for a in &every_action {
                    p.push(vec!["banned".into(), n.key(), a.to_string(), "deny".into()]);
                }
            }
            for &r in &w.publish_denied {
                p.push(vec![
                    "everyone".into(),
                    w.nodes[r].key(),
                    "app.publish".into(),
                    "deny".into(),
                ]);
            }
            let g2: Vec<Vec<String>> = w
                .nodes
                .iter()
                .filter_map(|n| n.parent.map(|p| vec![n.key(), w.nodes[p].key()]))
                .collect();
            e.add_grouping_policies(g).await.expect("g");
            e.add_named_grouping_policies("g2", g2).await.expect("g2");
            e.add_policies(p).await.expect("p");
            Casbin { enforcer: e }
        })
    }

    pub fn check(&self, (user, action, node): &(String, &'static str, String)) -> bool {
        self.enforcer
            .enforce((user.as_str(), node.as_str(), *action))
            .unwrap_or(false)
    }
}
