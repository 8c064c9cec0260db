//! The whole load (parse, check, constraints, index) and a first check and
//! explanation on what loads never panic; a check always agrees with its
//! explanation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(s) = grantlog::Snapshot::from_text("fuzz.policy", text) else { return };
    let m = s.model();
    let (Some(p), Some(a)) = (m.principals.first(), m.actions.first()) else { return };
    for n in 0..m.nodes.len().min(8) {
        let node = m.node_name(grantlog::compile::ids::NodeId(n as u32));
        let d = s.check(&p.name, a, &node);
        let why = s.explain(&p.name, a, &node);
        assert_eq!(d.decision, why.decision, "check and explain disagree on {} {a} {node}", p.name);
    }
    let _ = s.run_tests();
});
