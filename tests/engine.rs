//! The engine a service embeds: updates all or nothing, and a decision log
//! from which an auditor can replay every decision.

use grantlog::{Effect, Engine, Snapshot, WriterLog};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_decision_log_lets_an_auditor_replay_every_decision() {
    let buffer = Shared::default();
    let mut engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"]).unwrap());
    engine.set_decision_log(WriterLog(Mutex::new(buffer.clone())));
    let requests = [
        ("carol", "app.edit", "app:chatbot"),
        ("dave", "app.use", "app:chatbot"),
        ("erin", "app.edit", "app:chatbot"),
        ("zed", "app.use", "app:chatbot"),
    ];
    for (p, a, r) in requests {
        engine.check(p, a, r);
    }
    let revision = engine.snapshot().revision();
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    // Replay: the same policy revision gives the same decisions.
    let replay = Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
    assert_eq!(replay.revision(), revision);
    for line in &lines {
        assert_eq!(line["revision"], revision);
        assert!(line["time_ms"].as_u64().unwrap() > 1_700_000_000_000);
        let r = &line["request"];
        let d = replay.check(
            r["principal"].as_str().unwrap(),
            r["action"].as_str().unwrap(),
            r["resource"].as_str().unwrap(),
        );
        assert_eq!(line["decision"], serde_json::to_value(d.decision).unwrap());
    }
    assert_eq!(lines[0]["rules"][0]["role"], "editor");
    assert_eq!(lines[0]["rules"][0]["at"], "policies/dify.policy:56");
    assert_eq!(lines[1]["rules"][0]["via"], "deny");
    assert_eq!(
        lines[1]["rules"][0]["text"],
        "deny * to users where status = banned"
    );
    assert_eq!(lines[2]["rules"], serde_json::json!([]));
    assert_eq!(lines[3]["error"]["kind"], "unknown_principal");
}

#[test]
fn a_rejected_update_leaves_the_current_snapshot_serving() {
    let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"]).unwrap());
    let before = engine.snapshot().revision();
    // One good statement and one bad: nothing of the batch applies.
    let err = engine
        .apply("assign editor on workspace:marketing to erin\nassign owner on workspace:marketing to erin")
        .unwrap_err();
    assert!(err.render(false).contains("constraint broken"));
    assert_eq!(engine.snapshot().revision(), before);
    assert_eq!(
        engine.check("erin", "app.edit", "app:chatbot").decision,
        Effect::Deny
    );
    engine
        .apply("assign editor on workspace:marketing to erin")
        .unwrap();
    assert_ne!(engine.snapshot().revision(), before);
    assert_eq!(
        engine.check("erin", "app.edit", "app:chatbot").decision,
        Effect::Allow
    );
}

/// Every decision of `engine` equals that of loading its policy afresh.
fn same_as_fresh(engine: &Engine) {
    let s = engine.snapshot();
    let fresh = Snapshot::from_sources(s.model().sources.clone()).unwrap();
    let m = s.model();
    for p in &m.principals {
        for a in &m.actions {
            for n in 0..m.nodes.len() as u32 {
                let node = m.node_name(grantlog::compile::ids::NodeId(n));
                assert_eq!(
                    s.check(&p.name, a, &node),
                    fresh.check(&p.name, a, &node),
                    "{} {a} {node}",
                    p.name
                );
            }
        }
    }
}

#[test]
fn a_batch_of_facts_re_evaluates_only_the_principals_it_reaches() {
    let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"]).unwrap());
    engine.snapshot().warm();
    // One membership: only erin's table is evaluated again.
    let update = engine.apply("add erin to group support").unwrap();
    assert_eq!(update.principals_affected, Some(1));
    assert!(engine.check("erin", "app.edit", "app:chatbot").is_allowed());
    same_as_fresh(&engine);
    // A group's new role: only the group's members (content holds support,
    // so bob, carol and erin).
    engine.snapshot().warm();
    let update = engine
        .apply("assign admin on workspace:research to group content")
        .unwrap();
    assert_eq!(update.principals_affected, Some(3));
    same_as_fresh(&engine);
    // A new app with its creator, and a new user.
    engine.snapshot().warm();
    let update = engine
        .apply("user zoe in team:acme\napp notes in workspace:research created by frank")
        .unwrap();
    assert_eq!(update.principals_affected, Some(2));
    same_as_fresh(&engine);
    // A rule reaches everyone.
    engine.snapshot().warm();
    let update = engine
        .apply("deny app.delete to users where status = active")
        .unwrap();
    assert_eq!(update.principals_affected, None);
    same_as_fresh(&engine);
}
