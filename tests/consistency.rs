//! `check` answers from per-principal tables (anchors plus virtual nodes);
//! `explain` evaluates the program on the real ancestry of one resource; a
//! principal's first check, before its table is evaluated, on that ancestry
//! with only the facts about the request's action. All three run the same
//! Datalog program (with the role stratum evaluated once per snapshot), so
//! on every request of every shipped policy they must agree.

use grantlog::{Request, Snapshot};

#[test]
fn check_first_check_and_explain_agree_on_every_request_of_every_shipped_policy() {
    let mut policies: Vec<_> = std::fs::read_dir("policies")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "policy"))
        .collect();
    policies.sort();
    assert!(!policies.is_empty());
    for path in policies {
        let s = Snapshot::from_paths(&[&path]).unwrap();
        // Never checked through a table: every answer is a first check.
        let first = Snapshot::from_paths(&[&path]).unwrap();
        let m = s.model();
        let mut checked = 0;
        for p in &m.principals {
            for a in &m.actions {
                for n in 0..m.nodes.len() {
                    let node = m.node_name(grantlog::compile::ids::NodeId(n as u32));
                    let fast = s.check(&p.name, a, &node).decision;
                    let slow = s.explain(&p.name, a, &node).decision;
                    assert_eq!(fast, slow, "{}: {} {a} {node}", path.display(), p.name);
                    let (cold, _) = first.decide_first(&Request::new(&p.name, a, &node));
                    assert_eq!(
                        cold.decision,
                        fast,
                        "{}: first check of {} {a} {node}",
                        path.display(),
                        p.name
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 0);
    }
}
