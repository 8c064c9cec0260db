//! Live updates never panic; a rejected batch leaves the snapshot serving,
//! and an accepted one gives the decisions of the same model indexed afresh.
//! Input: lines to add, then `---`, then lines to remove, over several
//! batches separated by `===`.
#![no_main]
use grantlog::{Batch, Engine, Snapshot};
use libfuzzer_sys::fuzz_target;

const BASE: &str = "type org\ntype ws in org combine highest\ntype doc in ws\n\
action read, write\nrole reader on ws, doc rank 1 { read }\n\
role writer on ws, doc rank 2 includes reader { write }\n\
constraint at most one writer per doc\n\
org o\nws w in org:o\nws v in org:o\ndoc d in ws:w created by bob\n\
user alice in org:o\nuser bob in org:o\ngroup g { alice }\n\
assign reader on ws:w to group g\nassign writer on doc:d to bob\n";

fuzz_target!(|input: &str| {
    let engine = Engine::new(Snapshot::from_text("base.policy", BASE).unwrap());
    let probes = [("alice", "read", "doc:d"), ("bob", "write", "doc:d"), ("alice", "write", "ws:v")];
    for batch in input.split("===").take(8) {
        let (add, remove) = batch.split_once("---").unwrap_or((batch, ""));
        let before = engine.snapshot();
        match engine.apply(Batch::new().add(add).remove(remove)) {
            Err(_) => assert_eq!(engine.snapshot().revision(), before.revision()),
            Ok(_) => {
                let now = engine.snapshot();
                let again = now.reindexed().unwrap();
                for (p, a, r) in probes {
                    assert_eq!(now.check(p, a, r), again.check(p, a, r), "{p} {a} {r}");
                }
            }
        }
    }
});
