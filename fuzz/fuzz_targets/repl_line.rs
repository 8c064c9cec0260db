//! REPL lines never panic and a failed line leaves the session unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use grantlog::session::{Outcome, Session};

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
});
