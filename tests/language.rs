//! The second revision of the language: types nested in themselves, rank
//! ladders, one node's own default, actions tied to types, and conditions
//! on attributes and on the request's context.

use crate::common::{allow, deny, load, load_err};
use insta::assert_snapshot;

/// A document store: folders in a drive and in folders, any depth.
const DRIVE: &str = r#"
type drive
type folder in drive, folder combine override
type doc in drive, folder
action doc.read, doc.edit
role viewer on drive, folder, doc rank 1 { doc.read }
role editor on drive, folder, doc rank 2 includes viewer { doc.edit }
drive team
folder a in drive:team
folder b in folder:a
folder c in folder:b
folder d in folder:c
doc deep in folder:d
doc shallow in folder:a
doc top in drive:team
user alice
user bob
assign editor on drive:team to alice
assign viewer on folder:b to alice
assign viewer on folder:c to bob
"#;

#[test]
fn a_type_nested_in_itself_passes_decisions_down_any_depth() {
    let s = load(DRIVE);
    // folder:b overrides alice's drive role with viewer, for everything below.
    allow(&s, "alice", "doc.read", "doc:deep");
    deny(&s, "alice", "doc.edit", "doc:deep");
    allow(&s, "alice", "doc.edit", "doc:shallow");
    allow(&s, "alice", "doc.edit", "folder:a");
    deny(&s, "alice", "doc.edit", "folder:d");
    allow(&s, "bob", "doc.read", "doc:deep");
    allow(&s, "bob", "doc.read", "folder:d");
    deny(&s, "bob", "doc.read", "doc:shallow");
    deny(&s, "bob", "doc.read", "doc:top");
}

#[test]
fn a_type_nested_in_itself_still_has_a_depth_limit() {
    let mut text = String::from("type folder in folder\nfolder f0\n");
    for i in 1..=70 {
        text.push_str(&format!("folder f{i} in folder:f{}\n", i - 1));
    }
    let err = load_err(&text);
    assert!(err.contains("is nested more than 64 levels deep"), "{err}");
}

#[test]
fn a_cycle_through_another_type_is_still_an_error() {
    let err = load_err("type a in b\ntype b in a, b\n");
    assert!(err.contains("type containment cycle: "), "{err}");
}

const LADDERS: &str = r#"
type team
type workspace in team combine highest
action team.manage, app.use, app.edit
role member on team rank 1 ladder team { }
role system_admin on team rank 2 ladder team includes member { team.manage }
role normal on workspace rank 10 ladder workspace { app.use }
role editor on workspace rank 20 ladder workspace includes normal { app.edit }
role owner on team, workspace rank 5 { team.manage }
team t
workspace w in team:t
user ann in team:t
user ben in team:t
assign system_admin on team:t to ann
assign normal on workspace:w to ann
assign owner on team:t to ben
assign normal on workspace:w to ben
"#;

#[test]
fn roles_of_different_ladders_do_not_outrank_one_another() {
    let s = load(LADDERS);
    // ann's team role keeps its powers inside the workspace, beside her
    // workspace role.
    allow(&s, "ann", "team.manage", "workspace:w");
    allow(&s, "ann", "app.use", "workspace:w");
    // owner has no ladder: it competes with the other roles of no ladder
    // only, and normal is on the workspace ladder.
    allow(&s, "ben", "team.manage", "workspace:w");
}

#[test]
fn roles_on_one_ladder_still_outrank_one_another() {
    let s = load(&format!(
        "{LADDERS}\nuser cy in team:t\nassign normal on workspace:w to cy\nassign editor on workspace:w to cy"
    ));
    let roles = s.roles("cy", "workspace:w").expect("known names");
    assert_snapshot!(format!("{roles:?}"), @r#"
        Roles { effective: [HeldRole { role: "editor", steps: [Step { text: "cy holds editor on workspace:w", at: Some(Location { file: "test.policy", line: 21, column: 1, text: "assign editor on workspace:w to cy" }) }] }], dropped: [DroppedRole { role: "normal", reason: "outranked by editor (rank 20 > 10); roles on `workspace` nodes combine by highest privilege" }] }
    "#);
}

#[test]
fn a_ladder_is_printed_back_by_fmt() {
    let text = "type t\nrole r on t rank 3 ladder top { }\n";
    let printed = grantlog::syntax::format(text).expect("formats");
    assert!(
        printed.contains("role r on t rank 3 ladder top { }"),
        "{printed}"
    );
}

const DEFAULTS: &str = r#"
type organization
type deployment in organization combine highest
action runs.view, runs.launch
role viewer on deployment rank 1 { runs.view }
role launcher on deployment rank 2 includes viewer { runs.launch }
organization hooli
deployment prod in organization:hooli
deployment staging in organization:hooli
user erlich in organization:hooli
user gavin in organization:hooli
default viewer on deployment
default launcher on deployment:staging
assign viewer on deployment:staging to gavin
"#;

#[test]
fn a_node_default_replaces_its_types_default_on_that_node() {
    let s = load(DEFAULTS);
    deny(&s, "erlich", "runs.launch", "deployment:prod");
    allow(&s, "erlich", "runs.view", "deployment:prod");
    let why = allow(&s, "erlich", "runs.launch", "deployment:staging");
    assert_snapshot!(why, @r#"
        allow: erlich may `runs.launch` on deployment:staging
        └─ role launcher allows runs.launch
           ├─ erlich holds no role of its own on deployment:staging, so the default launcher applies  test.policy:13
           └─ launcher allows runs.launch                                                             test.policy:6
    "#);
    // An assignment of one's own still replaces any default.
    deny(&s, "gavin", "runs.launch", "deployment:staging");
}

#[test]
fn a_node_default_names_a_node_that_exists() {
    let err =
        load_err(&DEFAULTS.replace("deployment:staging\nassign", "deployment:stagin\nassign"));
    assert_snapshot!(err, @r#"
          × unknown node `deployment:stagin`
            ╭─[test.policy:13:21]
         12 │ default viewer on deployment
         13 │ default launcher on deployment:stagin
            ·                     ────────┬────────
            ·                             ╰── no deployment has this name
         14 │ assign viewer on deployment:staging to gavin
            ╰────
          help: did you mean `staging`? (as `deployment:staging`)
        1 error found; nothing was loaded
    "#);
}

// ---- conditions ------------------------------------------------------------

/// Documents with owners, stages and an office network.
const DOCS: &str = r#"
type org
type folder in org, folder
type doc in folder
action doc.read, doc.edit, doc.delete on doc
attribute owner: user on doc
attribute stage in draft, published on doc
attribute size: integer on doc
attribute shared_at: timestamp on doc
attribute level: integer
context via in ui, api_token
context ip: ip
role reader on org, folder rank 1 { doc.read }
role writer on org, folder rank 2 includes reader { doc.edit }
org o
folder f in org:o
folder g in folder:f
doc mine in folder:g with owner = ann, stage = draft, size = 10, shared_at = "2026-12-01T00:00:00Z"
doc theirs in folder:g with owner = bo, stage = published, size = 5000
doc bare in folder:g
user ann in org:o with level = 2
user bo in org:o with level = 9
user cy in org:o
grant doc.read on org:o to everyone when resource.stage = published
grant doc.edit, doc.delete on org:o to everyone when resource.owner = principal
assign writer on folder:f to cy when context.via = api_token and context.ip in 10.0.0.0/8
deny doc.delete to everyone when resource.size > 1000
deny doc.edit to everyone unless principal.level >= 2
grant doc.read on folder:f to cy when context.now < resource.shared_at + 7d
"#;

fn request(p: &str, a: &str, r: &str, context: serde_json::Value) -> grantlog::Request {
    grantlog::Request::new(p, a, r).with_context(context)
}

/// Decides with the request's context through the tables and through a
/// fresh explanation, asserts they agree, and returns the decision.
fn decided(s: &grantlog::Snapshot, r: &grantlog::Request) -> grantlog::Effect {
    let fast = s.decide(r);
    let why = s.explain_request(r);
    assert_eq!(fast.decision, why.decision, "{r:?}\n{why}");
    assert_eq!(fast.error, why.error, "{r:?}");
    fast.decision
}

#[test]
fn conditions_read_the_resource_the_principal_and_the_context() {
    use grantlog::Effect::{Allow, Deny};
    use serde_json::json;
    let s = load(DOCS);
    let none = json!({});
    // resource.*
    assert_eq!(
        decided(&s, &request("ann", "doc.read", "doc:theirs", none.clone())),
        Allow
    );
    assert_eq!(
        decided(&s, &request("ann", "doc.read", "doc:mine", none.clone())),
        Deny
    );
    // relationship: the owner edits and deletes; size limits deletion.
    assert_eq!(
        decided(&s, &request("ann", "doc.edit", "doc:mine", none.clone())),
        Allow
    );
    assert_eq!(
        decided(&s, &request("ann", "doc.delete", "doc:mine", none.clone())),
        Allow
    );
    assert_eq!(
        decided(&s, &request("bo", "doc.delete", "doc:theirs", none.clone())),
        Deny
    );
    assert_eq!(
        decided(&s, &request("bo", "doc.edit", "doc:mine", none.clone())),
        Deny
    );
    // context.*: a role held only through an API token from the office.
    let office = json!({"via": "api_token", "ip": "10.9.8.7"});
    let home = json!({"via": "api_token", "ip": "203.0.113.5"});
    let ui = json!({"via": "ui", "ip": "10.9.8.7"});
    assert_eq!(
        decided(&s, &request("cy", "doc.read", "doc:bare", office.clone())),
        Allow
    );
    assert_eq!(
        decided(&s, &request("cy", "doc.read", "doc:bare", home)),
        Deny
    );
    assert_eq!(
        decided(&s, &request("cy", "doc.read", "doc:bare", ui)),
        Deny
    );
    // principal.*: cy has no level, so the deny on edit holds (fail closed).
    assert_eq!(
        decided(&s, &request("cy", "doc.edit", "doc:bare", office)),
        Deny
    );
    // context.now against a timestamp moved by a duration.
    let day = |d: &str| json!({"now": format!("2026-12-{d}T12:00:00Z")});
    assert_eq!(
        decided(&s, &request("cy", "doc.read", "doc:mine", day("03"))),
        Allow
    );
    assert_eq!(
        decided(&s, &request("cy", "doc.read", "doc:mine", day("09"))),
        Deny
    );
    // A context key is not read from anywhere else: check has none.
    assert!(!s.check("cy", "doc.read", "doc:bare").is_allowed());
}

#[test]
fn a_missing_value_fails_closed_and_the_explanation_names_it() {
    let s = load(DOCS);
    // doc:bare has no stage (the grant's condition cannot hold) and no size
    // (the deny's condition cannot be decided, so it holds).
    let why = s.explain_request(&request(
        "bo",
        "doc.read",
        "doc:bare",
        serde_json::json!({}),
    ));
    assert_snapshot!(why.to_string(), @r"
    deny: bo may not `doc.read` on doc:bare: no role or grant allows it
    ├─ conditions not met
    │  └─ `grant doc.read on org:o to everyone` does not apply here: when resource.stage = published: resource.stage has no value  test.policy:24
    └─ missing: 1 rule above would apply if its condition held; or assign one of `reader`, `writer` on doc:bare or a node above it, or `grant doc.read on doc:bare to bo`
    ");
    let why = s.explain_request(&request(
        "bo",
        "doc.delete",
        "doc:bare",
        serde_json::json!({}),
    ));
    assert_snapshot!(why.to_string(), @r#"
    deny: bo may not `doc.delete` on doc:bare: a deny rule applies
    ├─ a deny rule applies, and deny wins
    │  ├─ bo matches `everyone`                                                                                                                                  test.policy:22
    │  ├─ `deny doc.delete to everyone when resource.size > 1000` denies it                                                                                      test.policy:27
    │  └─ when resource.size > 1000: resource.size has no value                                                                                                  test.policy:27
    └─ conditions not met
       └─ `grant doc.edit, doc.delete on org:o to everyone` does not apply here: when resource.owner = principal: resource.owner has no value, principal = "bo"  test.policy:25
    "#);
}

#[test]
fn explanations_show_each_condition_with_this_requests_values() {
    let s = load(DOCS);
    let ctx = serde_json::json!({"via": "ui", "ip": "10.1.1.1"});
    let why = s.explain_request(&request("cy", "doc.read", "doc:theirs", ctx.clone()));
    assert_snapshot!(why.to_string(), @r#"
    allow: cy may `doc.read` on doc:theirs
    └─ a direct grant allows doc.read
       ├─ cy matches `everyone`                                          test.policy:23
       ├─ everyone is granted doc.read on org:o                          test.policy:24
       ├─ when resource.stage = published: resource.stage = "published"  test.policy:24
       ├─ folder:f is in org:o                                           test.policy:16
       ├─ folder:g is in folder:f                                        test.policy:17
       └─ doc:theirs is in folder:g                                      test.policy:19
    "#);
    let why = s.explain_request(&request("cy", "doc.edit", "doc:theirs", ctx));
    assert_snapshot!(why.to_string(), @r#"
    deny: cy may not `doc.edit` on doc:theirs: a deny rule applies
    ├─ a deny rule applies, and deny wins
    │  ├─ cy matches `everyone`                                                                                                                                                            test.policy:23
    │  ├─ `deny doc.edit to everyone unless principal.level >= 2` denies it                                                                                                                test.policy:28
    │  └─ unless principal.level >= 2: principal.level has no value                                                                                                                        test.policy:28
    └─ conditions not met
       ├─ `grant doc.edit, doc.delete on org:o to everyone` does not apply here: when resource.owner = principal: resource.owner = "bo", principal = "cy" (needs `=`)                      test.policy:25
       └─ `assign writer on folder:f to cy` does not apply here: when context.via = api_token and context.ip in 10.0.0.0/8: context.via = "ui" (needs "api_token"); context.ip = 10.1.1.1  test.policy:26
    "#);
    let json = serde_json::to_value(&why).unwrap();
    assert_eq!(json["request"]["context"]["via"], "ui");
    assert_eq!(json["unmet"][0]["allows"], true);
}

#[test]
fn a_context_of_the_wrong_type_is_a_deny_that_says_so() {
    let s = load(DOCS);
    for (context, message) in [
        (
            serde_json::json!({"via": "email"}),
            "context.via: `email` is not one of ui, api_token",
        ),
        (
            serde_json::json!({"ip": "ten"}),
            "context.ip: `ten` is not an IP address or a CIDR range such as `10.0.0.0/8`",
        ),
        (
            serde_json::json!({"now": 5}),
            "context.now: expected an RFC 3339 time such as \"2026-12-02T09:00:00Z\", found `5`",
        ),
    ] {
        let d = s.decide(&request("ann", "doc.edit", "doc:mine", context));
        assert!(!d.is_allowed());
        assert_eq!(d.error.map(|e| e.to_string()).as_deref(), Some(message));
    }
    // Keys the policy does not declare are ignored.
    let d = s.decide(&request(
        "ann",
        "doc.edit",
        "doc:mine",
        serde_json::json!({"trace": 1}),
    ));
    assert!(d.is_allowed());
}

#[test]
fn conditions_are_type_checked_at_load() {
    let base = "type org\ntype doc in org\naction read on doc\nattribute size: integer on doc\nattribute stage in draft, published on doc\ncontext via in ui, api_token\norg o\nuser u\n";
    let cases = [
        (
            "compare_types",
            "grant read on org:o to u when resource.size = resource.stage",
        ),
        (
            "order_on_text",
            "grant read on org:o to u when resource.stage < draft",
        ),
        (
            "not_a_number",
            "grant read on org:o to u when resource.size > lots",
        ),
        (
            "undeclared_value",
            "grant read on org:o to u when resource.stage = publish",
        ),
        (
            "unknown_context_key",
            "grant read on org:o to u when context.vai = ui",
        ),
        (
            "unknown_node_attribute",
            "grant read on org:o to u when resource.sise > 3",
        ),
        (
            "unknown_user_attribute",
            "grant read on org:o to u when principal.level > 3",
        ),
        (
            "in_needs_a_set",
            "grant read on org:o to u when context.via in ui",
        ),
        (
            "offset_on_a_number",
            "grant read on org:o to u when resource.size + 7d > 3",
        ),
        ("two_literals", "grant read on org:o to u when 1 = 1"),
        (
            "unknown_type_in_path",
            "grant read on org:o to u when resource.folder.size > 3",
        ),
        (
            "value_for_undeclared_node_attribute",
            "doc d in org:o with colour = red",
        ),
        ("value_of_the_wrong_type", "doc d in org:o with size = big"),
        ("unknown_attribute_type", "attribute due: date on doc"),
    ];
    let mut out = String::new();
    for (name, line) in cases {
        let err = load_err(&format!("{base}{line}\n"));
        out.push_str(&format!("--- {name}\n{err}\n"));
    }
    assert_snapshot!(out);
}

#[test]
fn reverse_queries_answer_for_a_context_and_mark_conditional_access_without_one() {
    let s = load(DOCS);
    let office = serde_json::json!({"via": "api_token", "ip": "10.9.8.7"});
    let rows = s
        .who_can_in("doc.read", "doc:bare", office.as_object(), false)
        .unwrap();
    let names: Vec<(&str, grantlog::Access)> = rows
        .iter()
        .map(|r| (r.principal.as_str(), r.access))
        .collect();
    assert_eq!(names, [("cy", grantlog::Access::Allowed)]);
    let noon = serde_json::json!({"now": "2026-12-05T12:00:00Z"});
    let rows = s
        .who_can_in("doc.read", "doc:bare", noon.as_object(), true)
        .unwrap();
    assert_snapshot!(grantlog::render_allowed(&rows), @r#"
    cy   conditional: `grant doc.read on org:o to everyone` does not apply here: when resource.stage = published: resource.stage has no value; `assign writer on folder:f to cy` does not apply here: when context.via = api_token and context.ip in 10.0.0.0/8: context.via has no value; context.ip has no value; `grant doc.read on folder:f to cy` does not apply here: when context.now < resource.shared_at + 7d: context.now = "2026-12-05T12:00:00Z", resource.shared_at has no value
    ann  excluded: `grant doc.read on org:o to everyone` does not apply here: when resource.stage = published: resource.stage has no value
    bo   excluded: `grant doc.read on org:o to everyone` does not apply here: when resource.stage = published: resource.stage has no value
    "#);
    let what = s
        .what_can_in("cy", Some("folder:g"), noon.as_object())
        .unwrap();
    let shown: Vec<String> = what
        .iter()
        .map(|p| format!("{} {} {}", p.node, p.action, p.conditional))
        .collect();
    assert_snapshot!(shown.join("\n"), @r"
    doc:bare doc.read true
    doc:mine doc.read false
    doc:theirs doc.read false
    ");
}

#[test]
fn conditions_survive_the_formatter() {
    let text = "type o\ntype d in o\naction a on d\nattribute n: integer on d\nattribute t: timestamp on d\nattribute tags: set of string\ncontext ip: ip\no x\nuser u with tags = [a, \"b c\"]\ngrant a on o:x to u when (resource.n > 3 or not resource.n = 1) and context.ip in 10.0.0.0/8\ndeny a to everyone unless context.now < resource.t + 7d or \"principal\" in principal.tags\ntest \"t\" {\n  expect deny u a o:x given ip = 10.0.0.1, now = \"2026-01-01T00:00:00Z\"\n}\n";
    let once = grantlog::syntax::format(text).expect("formats");
    assert_eq!(
        grantlog::syntax::format(&once).expect("formats again"),
        once
    );
    assert_snapshot!(once, @r#"
    type o
    type d in o
    action a on d
    attribute n: integer on d
    attribute t: timestamp on d
    attribute tags: set of string
    context ip: ip
    o x
    user u with tags = [a, "b c"]
    grant a on o:x to u when (resource.n > 3 or not resource.n = 1) and context.ip in 10.0.0.0/8
    deny a to everyone unless context.now < resource.t + 7d or "principal" in principal.tags
    test "t" {
      expect deny u a o:x given ip = 10.0.0.1, now = "2026-01-01T00:00:00Z"
    }
    "#);
    load(&once);
}

#[test]
fn typed_attributes_come_from_json_facts_too() {
    let facts = r#"{
      "nodes": [{"type": "doc", "name": "j", "in": "folder:g",
                 "attributes": {"owner": "bo", "stage": "published", "size": 2000}}],
      "users": [{"name": "dee", "in": ["org:o"], "attributes": {"level": 5}}]
    }"#;
    let facts = grantlog::facts::Facts::from_json("facts.json", facts).expect("facts");
    let engine = grantlog::Engine::new(load(DOCS));
    engine
        .apply(grantlog::Batch::new().add_facts(&facts))
        .expect("applies");
    let s = engine.snapshot();
    assert!(s.check("dee", "doc.read", "doc:j").is_allowed());
    assert!(s.check("bo", "doc.edit", "doc:j").is_allowed());
    assert!(!s.check("bo", "doc.delete", "doc:j").is_allowed());
    // A value of the wrong type is an error naming where it is.
    let bad = r#"{"nodes": [{"type": "doc", "name": "k", "in": "folder:g", "attributes": {"size": "big"}}]}"#;
    let bad = grantlog::facts::Facts::from_json("facts.json", bad).expect("facts");
    let err = engine
        .apply(grantlog::Batch::new().add_facts(&bad))
        .unwrap_err()
        .render(false);
    assert!(err.contains("`big` is not a whole number"), "{err}");
}

#[test]
fn a_conditional_rule_is_added_and_removed_live_with_its_condition() {
    let engine = grantlog::Engine::new(load(DOCS));
    let r = request(
        "bo",
        "doc.read",
        "doc:mine",
        serde_json::json!({"via": "ui"}),
    );
    assert!(!engine.snapshot().decide(&r).is_allowed());
    let rule = "grant doc.read on folder:g to bo when context.via = ui";
    engine
        .apply(grantlog::Batch::new().add(rule))
        .expect("adds");
    assert_eq!(decided(&engine.snapshot(), &r), grantlog::Effect::Allow);
    // The same grant without its condition is not the one in the policy.
    let err = engine
        .apply(grantlog::Batch::new().remove("grant doc.read on folder:g to bo"))
        .unwrap_err();
    assert!(
        err.render(false).contains("no such grant"),
        "{}",
        err.render(false)
    );
    engine
        .apply(grantlog::Batch::new().remove(rule))
        .expect("removes");
    assert_eq!(decided(&engine.snapshot(), &r), grantlog::Effect::Deny);
}

#[test]
fn context_keys_and_text_are_read_in_their_canonical_form() {
    // "équipe" and "café" precomposed in the policy, decomposed (e +
    // U+0301) in the request: one key and one value, so the deny fires and
    // nothing is let through.
    let s = load(
        "type org\naction read\ncontext \u{e9}quipe: string\norg o\nuser u\n\
         grant read on org:o to u\ndeny read on org:o to u when context.\u{e9}quipe = \"caf\u{e9}\"\n",
    );
    let decomposed = serde_json::json!({"e\u{301}quipe": "cafe\u{301}"});
    let d = s.decide(&request("u", "read", "org:o", decomposed));
    assert!(!d.is_allowed(), "{d:?}");
    let other = serde_json::json!({"e\u{301}quipe": "ops"});
    assert!(s.decide(&request("u", "read", "org:o", other)).is_allowed());
}
