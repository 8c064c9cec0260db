//! The workload as data for a data-driven RBAC policy in Rego, evaluated by
//! regorus: role bindings keyed by subject, the group and scope hierarchies
//! as graphs walked with `graph.reachable`, each role's actions listed.

use grantlog::workload::{roles, Holder, Workload};
use regorus::{Engine, Value};
use serde_json::{json, Map};
use std::cell::RefCell;

const POLICY: &str = r#"
package rbac

import rego.v1

default allow := false

allow if {
	not banned
	not publish_denied
	permitted
}

banned if data.banned[input.user]

publish_denied if {
	input.action == "app.publish"
	data.publish_denied[input.resource]
}

# The user, and every group it is in, directly or through nested groups.
holders contains input.user

holders contains concat(":", ["group", g]) if {
	some g in graph.reachable(data.group_parents, object.get(data.user_groups, input.user, []))
}

# The resource and every node above it.
ancestors := graph.reachable(data.node_parents, [input.resource])

permitted if {
	some h in holders
	some b in data.bindings[h]
	b.node in ancestors
	input.action in data.role_actions[b.role]
}

# Creators edit what they created.
permitted if {
	data.creators[input.resource] == input.user
	input.action in data.role_actions.ws_editor
}
"#;

pub struct Rego {
    engine: RefCell<Engine>,
    inputs: Vec<Value>,
}

impl Rego {
    pub fn new(w: &Workload) -> Rego {
        let user = |u: usize| format!("u{u}");
        let group = |g: usize| format!("g{g}");
        let mut user_groups: Map<String, serde_json::Value> = Map::new();
        for &(u, g) in &w.memberships {
            user_groups
                .entry(user(u))
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("an array")
                .push(json!(group(g)));
        }
        let group_parents: Map<String, serde_json::Value> = w
            .groups
            .iter()
            .enumerate()
            .map(|(g, (_, parent))| {
                (
                    group(g),
                    json!(parent.iter().map(|p| group(*p)).collect::<Vec<_>>()),
                )
            })
            .collect();
        let node_parents: Map<String, serde_json::Value> = w
            .nodes
            .iter()
            .map(|n| {
                (
                    n.key(),
                    json!(n
                        .parent
                        .iter()
                        .map(|p| w.nodes[*p].key())
                        .collect::<Vec<_>>()),
                )
            })
            .collect();
        let mut bindings: Map<String, serde_json::Value> = Map::new();
        for (holder, role, node) in &w.assignments {
            let key = match holder {
                Holder::User(u) => user(*u),
                Holder::Group(g) => format!("group:{}", group(*g)),
            };
            bindings
                .entry(key)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("an array")
                .push(json!({"role": role, "node": w.nodes[*node].key()}));
        }
        let role_actions: Map<String, serde_json::Value> = roles()
            .iter()
            .map(|r| {
                (
                    r.name.to_string(),
                    json!(crate::cedar_peer::role_actions(r.name)),
                )
            })
            .collect();
        let banned: Map<String, serde_json::Value> = w
            .users
            .iter()
            .enumerate()
            .filter(|(_, (_, banned))| *banned)
            .map(|(u, _)| (user(u), json!(true)))
            .collect();
        let publish_denied: Map<String, serde_json::Value> = w
            .publish_denied
            .iter()
            .map(|&r| (w.nodes[r].key(), json!(true)))
            .collect();
        let creators: Map<String, serde_json::Value> = w
            .nodes
            .iter()
            .filter_map(|n| n.creator.map(|c| (n.key(), json!(user(c)))))
            .collect();
        let data = json!({
            "user_groups": user_groups, "group_parents": group_parents,
            "node_parents": node_parents, "bindings": bindings, "role_actions": role_actions,
            "banned": banned, "publish_denied": publish_denied, "creators": creators,
        });
        let mut engine = Engine::new();
        engine
            .add_policy("rbac.rego".to_string(), POLICY.to_string())
            .expect("the policy parses");
        engine
            .add_data(Value::from_json_str(&data.to_string()).expect("data"))
            .expect("data added");
        let inputs = w
            .requests
            .iter()
            .map(|&(u, a, n)| {
                let input = json!({"user": user(u), "action": a, "resource": w.nodes[n].key()});
                Value::from_json_str(&input.to_string()).expect("input")
            })
            .collect();
        Rego {
            engine: RefCell::new(engine),
            inputs,
        }
    }

    /// The decision on request `i` (inputs are built at load, as a service
    /// receives them already decoded).
    pub fn check(&self, i: usize) -> bool {
        let mut engine = self.engine.borrow_mut();
        engine.set_input(self.inputs[i].clone());
        engine
            .eval_rule("data.rbac.allow".to_string())
            .map(|v| v == Value::from(true))
            .unwrap_or(false)
    }
}
