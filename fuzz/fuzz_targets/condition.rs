//! Conditions and contexts never panic and never disagree: a policy whose
//! rules carry arbitrary `when` / `unless` clauses either fails to load or
//! decides every request, in an arbitrary JSON context, the same through its
//! tables as through a fresh explanation; and a context that does not read
//! is a deny with its reason, never an allow.
//! Input: rule lines, then `---`, then the request's context (JSON).
#![no_main]
use grantlog::{Request, Snapshot};
use libfuzzer_sys::fuzz_target;

const BASE: &str = "type org\ntype folder in org, folder combine override\ntype doc in folder\n\
action read, write on doc\naction manage\n\
attribute owner: user on doc\nattribute size: integer on doc\n\
attribute stage in draft, published on doc\nattribute due: timestamp on doc\n\
attribute level: integer\nattribute teams: set of string\n\
context via in ui, api_token\ncontext ip: ip\ncontext amount: integer\ncontext mfa: bool\n\
role reader on org, folder rank 1 { read }\nrole writer on org, folder rank 2 includes reader { write }\n\
org o\nfolder f in org:o\nfolder g in folder:f\n\
doc d in folder:g with owner = alice, size = 10, stage = draft, due = \"2026-12-24T00:00:00Z\"\n\
doc e in folder:f\n\
user alice in org:o with level = 3, teams = [a, b]\nuser bob in org:o\ngroup gr { bob }\n";

fuzz_target!(|input: &str| {
    let (rules, context) = input.split_once("---").unwrap_or((input, "{}"));
    let Ok(s) = Snapshot::from_text("fuzz.policy", &format!("{BASE}{rules}\n")) else {
        return;
    };
    let context: serde_json::Value = serde_json::from_str(context).unwrap_or_default();
    for p in ["alice", "bob"] {
        for a in ["read", "write", "manage"] {
            for r in ["doc:d", "doc:e", "folder:g", "org:o"] {
                let request = Request::new(p, a, r).with_context(context.clone());
                let fast = s.decide(&request);
                let why = s.explain_request(&request);
                assert_eq!(fast.decision, why.decision, "{request:?}\n{why}");
                if fast.error.is_some() {
                    assert!(!fast.is_allowed());
                }
            }
        }
    }
    let _ = s.who_can_in("read", "doc:d", context.as_object(), true);
    let _ = s.what_can_in("bob", None, context.as_object());
});
