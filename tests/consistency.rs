//! `check` answers from per-principal tables (anchors plus virtual nodes);
//! `explain` evaluates the program on the real ancestry of one resource. Both
//! run the same Datalog program, so on every request of every shipped policy
//! they must agree.

use grantlog::Snapshot;

#[test]
fn check_and_explain_agree_on_every_request_of_every_shipped_policy() {
    let mut policies: Vec<_> = std::fs::read_dir("policies")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "policy"))
        .collect();
    policies.sort();
    assert!(!policies.is_empty());
    for path in policies {
        let s = Snapshot::from_paths(&[&path]).unwrap();
        let m = s.model();
        let mut checked = 0;
        for p in &m.principals {
            for a in &m.actions {
                for n in 0..m.nodes.len() {
                    let node = m.node_name(grantlog::compile::ids::NodeId(n as u32));
                    let fast = s.check(&p.name, a, &node).decision;
                    let slow = s.explain(&p.name, a, &node).decision;
                    assert_eq!(fast, slow, "{}: {} {a} {node}", path.display(), p.name);
                    checked += 1;
                }
            }
        }
        assert!(checked > 0);
    }
}
