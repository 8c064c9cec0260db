//! The JSON facts and SCIM loaders never panic; facts that parse load (or
//! are rejected) without panicking.
#![no_main]
use grantlog::facts::Facts;
use grantlog::source::Sources;
use libfuzzer_sys::fuzz_target;

const MODEL: &str = "type team\ntype workspace in team\naction read\nrole reader on workspace { read }\nteam acme\nworkspace w in team:acme\n";

fuzz_target!(|text: &str| {
    let homes = vec!["team:acme".to_string()];
    for facts in [Facts::from_json("fuzz.json", text).ok(), grantlog::scim::import("fuzz.json", text, &homes).ok()].into_iter().flatten() {
        let mut sources = Sources::default();
        sources.add("model.policy", MODEL);
        facts.add_to("fuzz.json", &mut sources);
        if let Ok(s) = grantlog::Snapshot::from_sources(sources) {
            for u in s.model().principals.iter().take(4) {
                let _ = s.check(&u.name, "read", "workspace:w");
            }
        }
    }
});
