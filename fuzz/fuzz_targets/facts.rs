//! Arbitrary JSON facts and SCIM payloads never panic, and never add a rule:
//! whatever a payload holds, a policy loaded with it has exactly the rules
//! (types, roles, rules, denies, constraints) of its policy files.
#![no_main]
use grantlog::facts::Facts;
use grantlog::source::Sources;
use libfuzzer_sys::fuzz_target;

const MODEL: &str = "type team\ntype workspace in team\naction read, write\nattribute status in active, inactive, banned\nrole reader on workspace { read }\nrole writer on workspace includes reader { write }\ndeny * to users where status = banned\nteam acme\nworkspace w in team:acme\nuser alice in team:acme\n";

fuzz_target!(|text: &str| {
    let base = grantlog::Snapshot::from_text("model.policy", MODEL).expect("the model loads");
    let rules = base.model().rules_text();
    let homes = vec!["team:acme".to_string()];
    for facts in [Facts::from_json("fuzz.json", text).ok(), grantlog::scim::import("fuzz.json", text, &homes).ok()].into_iter().flatten() {
        let mut sources = Sources::default();
        sources.add("model.policy", MODEL);
        if facts.add_to("fuzz.json", &mut sources).is_err() {
            continue;
        }
        if let Ok(s) = grantlog::Snapshot::from_sources(sources) {
            assert_eq!(s.model().rules_text(), rules, "facts changed the rules");
            for u in s.model().principals.iter().take(4) {
                let _ = s.check(&u.name, "read", "workspace:w");
            }
        }
        // The same facts as a live update.
        let engine = grantlog::Engine::new(grantlog::Snapshot::from_text("model.policy", MODEL).expect("the model loads"));
        if engine.apply(grantlog::Batch::new().add_facts(&facts)).is_ok() {
            assert_eq!(engine.snapshot().model().rules_text(), rules, "an update of facts changed the rules");
        }
    }
});
