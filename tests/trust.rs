//! grantlog as a security boundary: data never becomes rules, a name has one
//! form, and every fail-open found in review stays closed. Each test here
//! failed before its fix.

use crate::common::{allow, deny, load, load_err};
use assert_cmd::Command;
use grantlog::facts::{Facts, SubjectFact};
use grantlog::source::Sources;
use grantlog::Snapshot;
use insta::assert_snapshot;

const DIFY: &str = "policies/dify.policy";

fn grantlog() -> Command {
    let mut cmd = Command::cargo_bin("grantlog").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Writes `text` to a fresh file in a temporary folder and returns its path.
pub fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "grantlog-trust-{}-{}",
        std::process::id(),
        name.replace(['/', '.'], "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// What a policy's rules are, apart from its facts: a facts file must never
/// change any of it.
pub fn rules(s: &Snapshot) -> String {
    s.model().rules_text()
}

fn with_facts(policy: &str, json: &str) -> Result<Snapshot, String> {
    let facts = Facts::from_json("facts.json", json).map_err(|e| e.to_string())?;
    let mut sources = Sources::default();
    sources.add(policy, std::fs::read_to_string(policy).unwrap());
    facts
        .add_to("facts.json", &mut sources)
        .map_err(|e| e.to_string())?;
    Snapshot::from_sources(sources).map_err(|e| e.render(false))
}

// ---- 1. facts never become rules ------------------------------------------

const INJECTION: &str = r#"{"users":[{"name":"mallory","in":["team:acme"],"attributes":{"k = \"v\"\nrole pwn on team, workspace rank 99 { workspace.billing }\nassign pwn on team:acme to everyone\nuser zz with k":"v"}}]}"#;

#[test]
fn a_facts_file_cannot_declare_a_role_through_an_attribute_key() {
    let err = with_facts(DIFY, INJECTION).unwrap_err();
    assert!(
        err.starts_with("facts.json: at `/users/0/attributes`: `k = \"v\"\\u{a}role pwn"),
        "{err}"
    );
    // The command line refuses it too, and erin gains nothing.
    let data = temp_file("injection.json", INJECTION);
    let out = grantlog()
        .args([
            "check",
            DIFY,
            "erin",
            "workspace.billing",
            "workspace:research",
        ])
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn every_field_of_a_fact_is_a_name_of_its_kind() {
    for (json, expected) in [
        (
            r#"{"assignments":[{"role":"owner on workspace:research to erin\nassign owner","on":"workspace:marketing","to":{"user":"erin"}}]}"#,
            "facts.json: at `/assignments/0/role`: `owner on workspace:research to erin\\u{a}assign owner` is not a role name",
        ),
        (
            r#"{"grants":[{"actions":["workspace.billing on team:acme to everyone\ngrant app.use"],"on":"app:chatbot","to":{"user":"erin"}}]}"#,
            "facts.json: at `/grants/0/actions`: `workspace.billing on team:acme to everyone\\u{a}grant app.use` is not an action name",
        ),
        (
            r#"{"nodes":[{"type":"role x on team { workspace.billing }\napp","name":"n"}]}"#,
            "facts.json: at `/nodes/0/type`: `role x on team { workspace.billing }\\u{a}app` is not a type name",
        ),
        (
            r#"{"assignments":[{"role":"owner","on":"team:acme to everyone\nassign owner on team","to":{"user":"erin"}}]}"#,
            "unknown node `team:acme to everyone\\u{a}assign owner on team`",
        ),
        (
            r#"{"assignments":[{"role":"pwn","on":"workspace:marketing","to":{"user":"erin"}}]}"#,
            "unknown role `pwn`",
        ),
        (
            r#"{"nodes":[{"type":"galaxy","name":"n"}]}"#,
            "unknown type `galaxy`",
        ),
    ] {
        let err = with_facts(DIFY, json).unwrap_err();
        assert!(err.contains(expected), "{json}\n{err}");
    }
}

#[test]
fn an_unknown_role_in_facts_names_its_json_path() {
    let err = with_facts(
        DIFY,
        r#"{"assignments":[{"role":"ownr","on":"workspace:marketing","to":{"user":"erin"}}]}"#,
    )
    .unwrap_err();
    assert_snapshot!(err);
}

#[test]
fn facts_leave_the_rules_exactly_as_the_policy_files_state_them() {
    let base = Snapshot::from_paths(&[DIFY]).unwrap();
    let loaded = with_facts(
        DIFY,
        r#"{"users":[{"name":"zed","in":["team:acme"],"attributes":{"plan":"pro"}}],
            "groups":[{"name":"ops","members":[{"user":"zed"}]}],
            "assignments":[{"role":"editor","on":"workspace:marketing","to":{"group":"ops"}}],
            "grants":[{"actions":["app.use","app.edit"],"on":"app:chatbot","to":{"user":"zed"}}]}"#,
    )
    .unwrap();
    assert_eq!(rules(&loaded), rules(&base));
    allow(&loaded, "zed", "app.edit", "app:chatbot");
}

// ---- 2. a subject's kind is a key, never a prefix ---------------------------

#[test]
fn a_user_named_like_a_group_is_a_user() {
    let s = with_facts(
        DIFY,
        r#"{"users":[{"name":"group:support","in":["team:acme"]}]}"#,
    )
    .unwrap();
    // support's members may use the chatbot; a user who is merely named
    // `group:support` inherits nothing.
    allow(&s, "bob", "app.use", "app:chatbot");
    deny(&s, "\"group:support\"", "app.use", "app:chatbot");
    deny(&s, "group:support", "app.use", "app:chatbot");
}

#[test]
fn export_and_load_keep_every_name_exactly() {
    let odd = [
        "group:support",
        "group",
        "say \"hi\"",
        "two words",
        "a:b:c",
        "back\\slash",
        "\"quoted\"",
    ];
    let mut text = String::from("type org\naction read\nrole reader on org { read }\norg acme\n");
    for (i, name) in odd.iter().enumerate() {
        let q = grantlog::syntax::names::quote(name);
        text += &format!("user {q}\ngroup {q} {{ {q} }}\norg {q}\n");
        text += &format!("assign reader on org:{q} to group {q}\n");
        text += &format!("grant read on org:acme to {q}\n");
        let _ = i;
    }
    let original = Snapshot::from_text("odd.policy", &text).unwrap();
    let facts = Facts::from_model(original.model());
    let json = serde_json::to_string(&facts).unwrap();
    let reread = Facts::from_json("facts.json", &json).unwrap();
    assert_eq!(reread, facts);
    let mut sources = Sources::default();
    sources.add(
        "model.policy",
        "type org\naction read\nrole reader on org { read }\n",
    );
    reread.add_to("facts.json", &mut sources).unwrap();
    let split = Snapshot::from_sources(sources).unwrap();
    for name in odd {
        let user = split
            .model()
            .principal_named(&grantlog::syntax::names::quote(name));
        assert!(user.is_some(), "{name}");
        assert_eq!(split.model().principals[user.unwrap().index()].name, name);
        let node = format!("org:{}", grantlog::syntax::names::quote(name));
        let who = split.who_can("read", &node).unwrap();
        assert_eq!(who, original.who_can("read", &node).unwrap(), "{name}");
        assert_eq!(who, [name], "{name}");
    }
    assert!(matches!(
        facts.groups[0].members[0],
        SubjectFact::User(ref n) if n == "group:support"
    ));
}

// ---- 3. one written name, one node ------------------------------------------

#[test]
fn a_quoted_resource_means_the_text_between_its_quotes() {
    let s = load(
        r#"type ws
type app in ws
action app.delete
role owner on app { app.delete }
ws w
ws w2
app secret in ws:w
app "\"secret\"" in ws:w2
user mallory
assign owner on app:"\"secret\"" to mallory
"#,
    );
    deny(&s, "mallory", "app.delete", "app:\"secret\"");
    deny(&s, "mallory", "app.delete", "app:secret");
    allow(&s, "mallory", "app.delete", "app:\"\\\"secret\\\"\"");
    // A broken literal names nothing.
    let d = s.check("mallory", "app.delete", "app:\"secret");
    assert!(d.error.is_some());
}

#[test]
fn a_slash_is_a_name_character_in_the_language_as_on_the_command_line() {
    let s = load(
        "type data\naction read\nrole r on data { read }\ndata domain1/data1\nuser alice\nassign r on data:domain1/data1 to alice\n",
    );
    allow(&s, "alice", "read", "data:domain1/data1");
    let _ = load_err;
}

// ---- 4. attribute values are declared and checked ---------------------------

#[test]
fn a_status_outside_its_declared_values_is_an_error_everywhere() {
    let dify = std::fs::read_to_string(DIFY).unwrap();
    for (extra, expected) in [
        (
            "user mal in team:acme status Banned\n",
            "did you mean `banned`?",
        ),
        (
            "user mal in team:acme status \"banned \"\n",
            "did you mean `banned`?",
        ),
        (
            "deny * to users where status = banend\n",
            "did you mean `banned`?",
        ),
        (
            "deny * to users where kind = robot\n",
            "`kind` is one of `human`, `service`",
        ),
    ] {
        let err = load_err(&format!("{dify}{extra}"));
        assert!(err.contains(expected), "{extra}\n{err}");
        assert!(err.contains("is not a value of"), "{extra}\n{err}");
    }
    assert_snapshot!(load_err(&format!(
        "{dify}user mal in team:acme status Banned\n"
    )));
    // JSON facts, SCIM and live updates go through the same check.
    let err = with_facts(DIFY, r#"{"users":[{"name":"mal","status":"Banned"}]}"#).unwrap_err();
    assert!(err.contains("facts.json#/users/0"), "{err}");
    let engine = grantlog::Engine::new(Snapshot::from_paths(&[DIFY]).unwrap());
    let err = engine
        .apply("user dave in team:acme status Banned")
        .unwrap_err();
    assert!(err.render(false).contains("did you mean `banned`?"));
    deny(&engine.snapshot(), "dave", "app.use", "app:chatbot");
}

// ---- 6. deprovisioned users lose access --------------------------------------

#[test]
fn a_user_the_identity_provider_deactivates_loses_every_permission() {
    let scim = r#"{"Resources":[{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id":"1","userName":"carol","active":false}]}"#;
    let home = ["team:acme".to_string()];
    let facts = grantlog::scim::import("scim.json", scim, &home).unwrap();
    let engine = grantlog::Engine::new(Snapshot::from_paths(&[DIFY]).unwrap());
    allow(&engine.snapshot(), "carol", "app.edit", "app:chatbot");
    engine
        .apply(grantlog::Batch::new().add_facts(&facts))
        .unwrap();
    let why = deny(&engine.snapshot(), "carol", "app.edit", "app:chatbot");
    assert!(why.contains("users where status = inactive"), "{why}");
    for policy in [
        "policies/agent-platform.policy",
        "policies/ai-hub.policy",
        "policies/dagster-plus.policy",
    ] {
        let text = std::fs::read_to_string(policy).unwrap();
        assert!(
            text.contains("deny * to users where status = inactive"),
            "{policy}"
        );
    }
}

// ---- 8. creator rights end with membership -----------------------------------

#[test]
fn a_creator_removed_from_the_workspace_no_longer_edits_its_application() {
    let engine =
        grantlog::Engine::new(Snapshot::from_paths(&["policies/agent-platform.policy"]).unwrap());
    let app = "application:\"ds test application\"";
    allow(&engine.snapshot(), "alice", "data.edit", app);
    engine
        .apply(grantlog::Batch::new().remove("assign member on workspace:product to alice"))
        .unwrap();
    deny(&engine.snapshot(), "alice", "data.edit", app);
    deny(&engine.snapshot(), "alice", "app.publish", app);
    // Assigned again, the creator's edit comes back.
    engine
        .apply("assign member on workspace:product to alice")
        .unwrap();
    let why = allow(&engine.snapshot(), "alice", "data.edit", app);
    assert!(why.contains("creator"), "{why}");
}

// ---- 9. `everyone` does not cross tenants ------------------------------------

#[test]
fn users_in_a_tenant_are_only_its_members() {
    let s = load(
        r#"type organization
type deployment in organization
action runs.launch
role launcher on deployment { runs.launch }
organization hooli
organization piedpiper
deployment staging in organization:hooli
user gavin in organization:hooli
user richard in organization:piedpiper
user nomad
assign launcher on deployment:staging to users in organization:hooli
"#,
    );
    allow(&s, "gavin", "runs.launch", "deployment:staging");
    deny(&s, "richard", "runs.launch", "deployment:staging");
    deny(&s, "nomad", "runs.launch", "deployment:staging");
    let formatted = grantlog::syntax::format(
        "assign launcher on deployment:staging to users in organization:hooli where team = a\n",
    )
    .unwrap();
    assert_eq!(
        formatted,
        "assign launcher on deployment:staging to users in organization:hooli where team = a\n"
    );
}

// ---- 5. names that look alike ------------------------------------------------

const NAMES_MODEL: &str = "type org\naction read\nrole r on org { read }\norg acme\n";

#[test]
fn one_name_in_nfc_whatever_form_it_is_written_in() {
    // Declared precomposed, asked and denied in the decomposed form.
    let s = load(&format!(
        "{NAMES_MODEL}user jos\u{e9}\nassign r on org:acme to jos\u{e9}\ndeny read to jose\u{301}\n"
    ));
    deny(&s, "jos\u{e9}", "read", "org:acme");
    deny(&s, "jose\u{301}", "read", "org:acme");
    assert_eq!(s.model().principals.len(), 1);
    // The same from JSON facts and in a live update.
    let engine = grantlog::Engine::new(load(&format!("{NAMES_MODEL}user jos\u{e9}\n")));
    engine.apply("assign r on org:acme to jose\u{301}").unwrap();
    allow(&engine.snapshot(), "jos\u{e9}", "read", "org:acme");
}

#[test]
fn lookalike_and_invisible_names_are_errors() {
    for (second, expected) in [
        ("jose\u{301}", "user `jos\u{e9}` is defined twice"),
        ("Jos\u{e9}", "user `Jos\u{e9}` looks like user `jos\u{e9}`"),
        ("j\u{43e}s\u{e9}", "looks like user `jos\u{e9}`"),
        ("jo\u{200b}s\u{e9}", "has an invisible character (U+200B)"),
        ("jos\u{e9}\u{202e}", "has an invisible character (U+202E)"),
    ] {
        let q = grantlog::syntax::names::quote(second);
        let err = load_err(&format!("{NAMES_MODEL}user jos\u{e9}\nuser {q}\n"));
        assert!(err.contains(expected), "{second:?}\n{err}");
    }
    assert_snapshot!(load_err(&format!(
        "{NAMES_MODEL}user dave\nuser d\u{430}ve\ngroup Admins\ngroup admins\n"
    )));
    // A policy that means both says so.
    let s = load(&format!(
        "{NAMES_MODEL}option lookalike_names\nuser dave\nuser Dave\n"
    ));
    assert_eq!(s.model().principals.len(), 2);
    // Facts and updates meet the same rule.
    let engine = grantlog::Engine::new(load(&format!("{NAMES_MODEL}user dave\n")));
    let err = engine.apply("user DAVE").unwrap_err().render(false);
    assert!(err.contains("looks like user `dave`"), "{err}");
    let err = engine
        .apply(grantlog::Batch::new().add_facts(
            &Facts::from_json("idp.json", r#"{"users":[{"name":"d\u0430ve"}]}"#).unwrap(),
        ))
        .unwrap_err()
        .render(false);
    assert!(err.contains("<update 1>#/users/0"), "{err}");
    // Once dave is removed, the name is free again.
    engine
        .apply(grantlog::Batch::new().remove("user dave"))
        .unwrap();
    engine.apply("user Dave").unwrap();
}

// ---- 13. keywords cannot name types ------------------------------------------

#[test]
fn a_keyword_cannot_name_a_type_in_text_or_in_json() {
    for word in ["user", "group", "deny", "everyone", "option"] {
        let err = load_err(&format!("type {word}\n"));
        assert!(
            err.contains(&format!(
                "`{word}` is a word of the language and cannot name a type"
            )),
            "{err}"
        );
    }
    assert_snapshot!(load_err("type org\ntype user in org\n"));
    // In JSON a node of type `user` is an unknown type, never a user.
    let err = with_facts(DIFY, r#"{"nodes":[{"type":"user","name":"mallory"}]}"#).unwrap_err();
    assert!(err.contains("unknown type `user`"), "{err}");
}

// ---- 10. a removal retires exactly the statement it names --------------------

#[test]
fn removing_one_deny_leaves_every_other_deny_in_force() {
    let dify = std::fs::read_to_string(DIFY).unwrap();
    let engine = grantlog::Engine::new(load(&format!(
        "{dify}deny * on app:chatbot to bob\ndeny app.edit on app:chatbot to bob\ndeny app.use on app:chatbot to carol\ndeny app.use on app:chatbot to carol\nadd erin to group support\nadd erin to group support\n"
    )));
    engine
        .apply(grantlog::Batch::new().remove("deny * on app:chatbot to bob"))
        .unwrap();
    deny(&engine.snapshot(), "bob", "app.edit", "app:chatbot");
    allow(&engine.snapshot(), "bob", "app.use", "app:chatbot");
    // One of two identical denies goes; the other still denies.
    engine
        .apply(grantlog::Batch::new().remove("deny app.use on app:chatbot to carol"))
        .unwrap();
    deny(&engine.snapshot(), "carol", "app.use", "app:chatbot");
    engine
        .apply(grantlog::Batch::new().remove("deny app.use on app:chatbot to carol"))
        .unwrap();
    allow(&engine.snapshot(), "carol", "app.use", "app:chatbot");
    // Likewise a membership stated twice.
    engine
        .apply(grantlog::Batch::new().remove("add erin to group support"))
        .unwrap();
    allow(
        &engine.snapshot(),
        "erin",
        "web_app.open",
        "web_app:support-bot",
    );
    // A removal must name a statement as written: `deny app.edit, app.use`
    // was never said.
    let err = engine
        .apply(grantlog::Batch::new().remove("deny app.edit, app.use on app:chatbot to bob"))
        .unwrap_err()
        .render(false);
    assert!(err.contains("nothing to remove"), "{err}");
}

// ---- 11. a replacement never drops a concurrent update -----------------------

#[test]
fn a_replacement_read_before_a_ban_is_refused() {
    let engine = grantlog::Engine::new(Snapshot::from_paths(&[DIFY]).unwrap());
    let read_at = engine.revision();
    let fresh = Snapshot::from_paths(&[DIFY]).unwrap();
    engine
        .apply("user carol in team:acme status banned")
        .unwrap();
    let stale = engine.replace_if_unchanged(&read_at, fresh).unwrap_err();
    assert_eq!(stale.current, engine.revision());
    deny(&engine.snapshot(), "carol", "app.edit", "app:chatbot");
    // Read again after the ban, the replacement goes through.
    let read_at = engine.revision();
    let fresh = Snapshot::from_paths(&[DIFY]).unwrap();
    engine.replace_if_unchanged(&read_at, fresh).unwrap();
    allow(&engine.snapshot(), "carol", "app.edit", "app:chatbot");
}

// ---- 12. a decision log cannot fail silently ----------------------------------

struct Broken;

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_decision_log_that_fails_is_counted_and_can_deny() {
    let log = || grantlog::WriterLog(std::sync::Mutex::new(Broken));
    let mut engine = grantlog::Engine::new(Snapshot::from_paths(&[DIFY]).unwrap());
    engine.set_decision_log(log());
    assert!(engine
        .check("carol", "app.edit", "app:chatbot")
        .is_allowed());
    assert!(engine
        .check("carol", "app.edit", "app:chatbot")
        .is_allowed());
    assert_eq!(engine.decision_log_failures(), 2);
    engine.require_decision_log(true);
    let d = engine.check("carol", "app.edit", "app:chatbot");
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        serde_json::json!({"decision": "deny", "error": {"kind": "unlogged"}})
    );
    assert_eq!(engine.decision_log_failures(), 3);
}

// ---- 14. names never reach the terminal raw ---------------------------------

#[test]
fn control_characters_in_names_are_escaped_for_people_and_exact_in_json() {
    let name = "mal\u{1b}[2J\u{7}\rroot";
    let out = grantlog()
        .args(["check", DIFY, name, "app.use", "app:chatbot", "--explain"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_eq!(out.status.code(), Some(1));
    for text in [&stdout, &stderr] {
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }
    assert!(
        format!("{stdout}{stderr}").contains("mal\\u{1b}[2J\\u{7}\\u{d}root"),
        "{stdout}{stderr}"
    );
    let out = grantlog()
        .args([
            "check",
            DIFY,
            name,
            "app.use",
            "app:chatbot",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["explanation"]["request"]["principal"], name, "{v}");
}

// ---- 4 and 9: what validate warns about --------------------------------------

#[test]
fn validate_warns_about_undeclared_attributes_and_tenant_crossing_rules() {
    let policy = temp_file(
        "warn.policy",
        r#"type organization
type deployment in organization
action runs.launch, runs.view
role launcher on deployment { runs.launch }
organization hooli
deployment staging in organization:hooli
user gavin in organization:hooli with team = data
assign launcher on deployment:staging to everyone
grant runs.view on deployment:staging to users where team = data
deny * to users where status = banend
"#,
    );
    let out = grantlog().arg("validate").arg(&policy).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stderr = stderr.replace(policy.to_str().unwrap(), "warn.policy");
    assert_snapshot!(stderr);
    let out = grantlog()
        .args(["validate", "--format", "json"])
        .arg(&policy)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], serde_json::json!([]));
    let lines: Vec<u64> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [8, 9, 9, 10]);
}

// ---- bounded work on every input ------------------------------------------------

#[test]
fn pathological_models_are_refused_with_a_clear_error() {
    // A chain of 2,000 types.
    let mut chain = String::from("type t0\n");
    for i in 1..2000 {
        chain += &format!("type t{i} in t{}\n", i - 1);
    }
    let err = load_err(&chain);
    assert!(err.contains("is nested more than 64 types deep"), "{err}");
    // A type with more than 256 paths of types below it.
    let mut fan = String::from("type t0\ntype t1 in t0\n");
    for i in 2..16 {
        fan += &format!("type t{i} in t{}, t{}\n", i - 1, i - 2);
    }
    let err = load_err(&fan);
    assert!(err.contains("distinct paths of types below it"), "{err}");
    // A 10,000-role chain of `includes`.
    let mut roles = String::from("type t\naction read\nrole r0 on t { read }\n");
    for i in 1..10_000 {
        roles += &format!("role r{i} on t includes r{} {{ }}\n", i - 1);
    }
    let err = load_err(&roles);
    assert!(
        err.contains("includes roles more than 64 levels deep"),
        "{err}"
    );
}

#[test]
fn huge_names_and_lines_are_shortened_in_every_message() {
    let long = "v".repeat(300_000);
    let err = load_err(&format!(
        "type t\naction read\nrole viewer on t {{ read }}\nt n\nuser u\nassign {long} on t:n to u\n"
    ));
    assert!(err.len() < 2_000, "{}", err.len());
    assert!(err.contains("unknown role `vvvvvvvvvv"), "{err}");
    // A 5 MB line is cited by position, and an explanation quotes its start.
    let line = format!("user u # {}\n", "x".repeat(5_000_000));
    let s = load(&format!(
        "type t\naction read\nrole r on t {{ read }}\nt n\n{line}assign r on t:n to u\n"
    ));
    let why = s.explain("u", "read", "t:n").to_string();
    assert!(why.len() < 2_000, "{}", why.len());
}

#[test]
fn a_file_past_the_size_limit_is_refused_while_reading() {
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    let err = Snapshot::from_paths(&["/dev/zero"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("larger than 268435456 bytes"), "{err}");
}

// ---- errors that mislead ---------------------------------------------------------

#[test]
fn errors_name_what_a_name_really_is() {
    assert_snapshot!(load_err(
        "type workspace\naction app.edit\nrole editor on workspace { app.edit }\nworkspace w\nuser alice\ngroup devs { alice }\nassign editor on workspace:w to devs\ngrant editor on workspace:w to alice\nassign editor on workspace:w to group alice\n"
    ));
}

#[test]
fn declaration_order_does_not_matter_for_roles() {
    // Facts before the model, as when a facts file sorts before the model
    // file in a directory.
    let s = load(
        "type domain\naction read\nassign reader on domain:d to alice\ndefault reader on domain\ncreator of domain holds reader\ndomain d created by alice\nuser alice\nrole reader on domain { read }\n",
    );
    allow(&s, "alice", "read", "domain:d");
    let root = std::env::temp_dir().join(format!("grantlog-trust-order-{}", std::process::id()));
    let dir = root.join("policy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a-facts.policy"),
        "domain d\nuser alice\nassign reader on domain:d to alice\n",
    )
    .unwrap();
    std::fs::write(dir.join("b-model.policy"), "type domain\naction read\nrole reader on domain { read }\ntest \"t\" {\n  expect allow alice read domain:d\n}\n").unwrap();
    let s = Snapshot::from_paths(&[&dir]).unwrap();
    allow(&s, "alice", "read", "domain:d");
    // `grantlog test ROOT` loads a directory inside it as one policy.
    let out = grantlog().arg("test").arg(&root).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().last(),
        Some("1 passed, 0 failed")
    );
}

#[test]
fn syntax_errors_inside_lists_say_what_is_wrong() {
    let cases = [
        "user alice\nuser devs\ngroup g { alice devs }\n",
        "user alice\ngroup g { alice\nuser bob\n",
        "type t\nrole r on t { read\n",
        "group contractors { users where dept = contract }\n",
        "type t\nassign r t:n to alice\n",
    ];
    let out: Vec<String> = cases.iter().map(|c| load_err(c)).collect();
    assert_snapshot!(out.join("\n"));
    // A byte order mark is not text.
    load("\u{feff}type t\n");
}

// ---- the REPL --------------------------------------------------------------

#[test]
fn the_repl_retracts_declarations_reads_comments_and_quoted_names() {
    use grantlog::cli::session::{Outcome, Session};
    let mut s = Session::new(vec!["policies/agent-platform.policy".into()]).unwrap();
    let out = |o: Outcome| match o {
        Outcome::Output(t) | Outcome::Error(t) => t,
        Outcome::Quit => String::new(),
    };
    // A question about a quoted name with spaces, with a comment after it.
    assert_eq!(
        out(s.execute("alice data.edit application:\"ds test application\"? # the creator")),
        "allow  (role data_edit allows data.edit)\n"
    );
    // A typed user, then retracted by its declaration's name.
    assert_eq!(out(s.execute("user mal in enterprise:acme")), "ok\n");
    assert_eq!(
        out(s.execute("assign member on workspace:product to mal")),
        "ok\n"
    );
    assert!(out(s.execute("mal app.create workspace:product?")).starts_with("allow"));
    let refused = out(s.execute("retract user mal"));
    assert!(
        refused.starts_with("cannot retract `user mal in enterprise:acme`: what is left of the session does not load without it"),
        "{refused}"
    );
    assert!(refused.contains("unknown user `mal`"), "{refused}");
    assert_eq!(
        out(s.execute("retract assign member on workspace:product to mal")),
        "retracted\n"
    );
    assert_eq!(out(s.execute("retract user mal")), "retracted\n");
    assert!(out(s.execute("mal app.create workspace:product?")).contains("unknown principal `mal`"));
    // Retracting a role a typed assignment still uses names the retraction.
    assert_eq!(
        out(s.execute("role helper on workspace { app.list }")),
        "ok\n"
    );
    assert_eq!(
        out(s.execute("assign helper on workspace:product to gina")),
        "ok\n"
    );
    let refused = out(s.execute("retract role helper on workspace { app.list }"));
    assert!(
        refused.starts_with("cannot retract `role helper"),
        "{refused}"
    );
}

#[test]
fn piped_input_that_ends_inside_braces_is_an_error() {
    let out = grantlog()
        .args(["repl", DIFY])
        .write_stdin("group late { erin\ncarol app.edit app:chatbot?\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr
            .contains("the input ended inside a `{` that was never closed, in `group late { erin`"),
        "{stderr}"
    );
}

// ---- 7. SCIM identities are unique ---------------------------------------------

#[test]
fn scim_duplicates_and_dangling_members_are_errors() {
    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    let import = |resources: &str| {
        grantlog::scim::import("scim.json", &format!("[{resources}]"), &[])
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let user = |id: &str, name: &str| {
        format!(r#"{{"schemas":["{USER}"],"id":"{id}","userName":"{name}"}}"#)
    };
    let group = |id: &str, name: &str, member: &str| {
        format!(
            r#"{{"schemas":["{GROUP}"],"id":"{id}","displayName":"{name}","members":[{{"value":"{member}"}}]}}"#
        )
    };
    assert_eq!(
        import(&[user("1", "ann"), user("1", "bob"), group("g", "ops", "1")].join(",")),
        "scim.json: at `[1].id`: a second resource with id `1`: ids must be unique"
    );
    assert_eq!(
        import(&[user("1", "ann"), user("2", "ann")].join(",")),
        "scim.json: at `[1].userName`: a second User with userName `ann`: each must be unique"
    );
    assert_eq!(
        import(&[group("g", "ops", "1"), group("h", "ops", "g")].join(",")),
        "scim.json: at `[1].displayName`: a second Group with displayName `ops`: each must be unique"
    );
    assert_eq!(
        import(&group("g", "ops", "9")),
        "scim.json: at `[0].members[0].value`: member `9` of group `ops` is not a User or Group in this import"
    );
}
