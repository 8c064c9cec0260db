//! REPL lines never panic, a failed line leaves the session unchanged, and
//! the statements a session applied as live updates answer as the whole
//! session reloaded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use grantlog::cli::session::{Outcome, Session};

const BASE: &str = "type org\ntype ws in org\naction read, write\nrole reader on ws { read }\norg o\nws w in org:o\nuser alice\n";

fuzz_target!(|input: &str| {
    let dir = std::env::temp_dir().join("grantlog-fuzz-repl");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("base.policy");
    if !file.exists() {
        let _ = std::fs::write(&file, BASE);
    }
    let Ok(mut session) = Session::new(vec![file]) else { return };
    for line in input.lines().take(16) {
        let before = session.snapshot().check("alice", "read", "ws:w");
        match session.execute(line) {
            Outcome::Error(_) => assert_eq!(session.snapshot().check("alice", "read", "ws:w"), before),
            Outcome::Quit => break,
            Outcome::Output(_) => {}
        }
    }
    let decisions = |s: &Session| {
        let m = s.snapshot().model();
        let mut all = Vec::new();
        for p in &m.principals {
            for a in &m.actions {
                for n in 0..m.nodes.len() as u32 {
                    let node = m.node_name(grantlog::compile::ids::NodeId(n));
                    all.push(s.snapshot().check(&p.name, a, &node));
                }
            }
        }
        all
    };
    let before = decisions(&session);
    assert_eq!(session.execute(":reload"), Outcome::Output("reloaded\n".into()));
    assert_eq!(decisions(&session), before);
});
