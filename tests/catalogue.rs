//! The bad-input catalogue: malformed and hostile policies and requests, each
//! with the exact text a person sees, pinned by insta. Every policy case must
//! fail to load (nothing half-loads); every request case must be a deny with
//! a reason (fail closed).

use grantlog::source::Sources;
use grantlog::{Limits, Snapshot};
use insta::assert_snapshot;

const MODEL: &str = "type org\ntype workspace in org\naction app.use, app.edit\n\
role viewer on workspace rank 1 { app.use }\nrole admin on workspace rank 2 includes viewer { app.edit }\n\
org acme\nworkspace w in org:acme\nuser alice\ngroup team { alice }\n";

/// Policies that must be rejected, by name.
const POLICIES: &[(&str, &str)] = &[
    ("unterminated_string", "user \"bob\n"),
    ("nul_byte", "user b\0b\n"),
    ("stray_closing_brace", "}\n"),
    ("missing_to", "assign viewer on workspace:w alice\n"),
    ("node_ref_without_name", "assign viewer on workspace: to alice\n"),
    ("keyword_where_a_name_goes", "assign viewer on workspace:w to group\n"),
    ("bad_condition_operator", "deny * to users where status == banned\n"),
    ("rank_not_a_number", "role r on org rank high { }\n"),
    ("rank_too_large", "role r on org rank 99999999999999 { }\n"),
    ("unknown_role", "assign editor on workspace:w to alice\n"),
    ("unknown_user", "assign viewer on workspace:w to bob\n"),
    ("unknown_group", "assign viewer on workspace:w to group ops\n"),
    ("unknown_node", "assign viewer on workspace:x to alice\n"),
    ("unknown_type", "project p in org:acme\n"),
    ("unknown_action", "grant app.delete on workspace:w to alice\n"),
    ("lookalike_case", "assign Viewer on workspace:w to alice\n"),
    ("lookalike_digit", "assign v1ewer on workspace:w to alice\n"),
    ("lookalike_cyrillic", "assign vіewer on workspace:w to alice\n"),
    ("lookalike_user", "assign viewer on workspace:w to a1ice\n"),
    ("duplicate_type", "type org\n"),
    ("duplicate_action", "action app.use\n"),
    ("duplicate_role", "role viewer on org { }\n"),
    ("duplicate_user", "user alice\n"),
    ("duplicate_group", "group team\n"),
    ("duplicate_node", "workspace w in org:acme\n"),
    ("role_cycle", "role a on org includes b { }\nrole b on org includes a { }\n"),
    ("self_including_role", "role a on org includes a { }\n"),
    ("group_cycle", "group g1 { group g2 }\ngroup g2 { group g1 }\n"),
    ("group_in_itself", "group g1 { group g1 }\n"),
    ("type_cycle", "type a in b\ntype b in a\n"),
    ("role_on_wrong_type", "assign admin on org:acme to alice\n"),
    ("default_on_wrong_type", "default admin on org\n"),
    ("creator_on_wrong_type", "creator of org holds viewer\n"),
    ("node_in_wrong_parent", "workspace v in workspace:w\n"),
    ("node_missing_parent", "workspace v\n"),
    ("top_level_node_with_parent", "org other in org:acme\n"),
    ("rank_below_included_role", "role boss on workspace rank 0 includes admin { }\n"),
    ("unknown_attribute", "deny * to users where dept = sales\n"),
    ("status_set_with_with", "user carol with status = banned\n"),
    ("exactly_one_two_holders", "user bob\nconstraint exactly one admin per workspace\nassign admin on workspace:w to alice, bob\n"),
    ("exactly_one_missing", "constraint exactly one admin per workspace\n"),
    ("at_most_one_through_a_group", "user bob\nadd bob to group team\nconstraint at most one admin per workspace\nassign admin on workspace:w to group team\n"),
    ("service_user_in_group", "service user bot\nadd bot to group team\nconstraint service users cannot join groups\n"),
    ("test_with_unknown_names", "test \"t\" {\n  expect allow zed app.fly workspace:nowhere\n}\n"),
];

fn load(extra: &str) -> String {
    match Snapshot::from_text("bad.policy", &format!("{MODEL}{extra}")) {
        Ok(_) => panic!("loaded, but should have been rejected:\n{extra}"),
        Err(e) => e.render(false),
    }
}

#[test]
fn every_bad_policy_is_rejected_with_its_rendered_error() {
    for (name, text) in POLICIES {
        assert_snapshot!(*name, load(text));
    }
}

#[test]
fn a_huge_identifier_is_reported_shortened() {
    let long = "x".repeat(100_000);
    let out = load(&format!("assign viewer on workspace:w to {long}\n"));
    assert!(out.len() < 4_000, "{} bytes of error", out.len());
    assert_snapshot!(out);
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    let mut text = String::from("type t0\nt0 n0\n");
    for i in 1..100 {
        text.push_str(&format!(
            "type t{i} in t{}\nt{i} n{i} in t{}:n{}\n",
            i - 1,
            i - 1,
            i - 1
        ));
    }
    let err = Snapshot::from_text("deep.policy", &text)
        .unwrap_err()
        .render(false);
    assert_snapshot!(err);
}

#[test]
fn invalid_utf8_is_rejected_with_its_offset() {
    let dir = std::env::temp_dir().join(format!("grantlog-catalogue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("latin1.policy");
    std::fs::write(&file, b"type org\norg caf\xe9\n").unwrap();
    let err = Snapshot::from_paths(&[&file]).unwrap_err().to_string();
    assert_eq!(err, format!(
            "cannot read `{}`: not UTF-8 text: invalid byte at line 2, column 8 (byte offset 16); save the file as UTF-8",
            file.display()
        ));
}

#[test]
fn an_oversized_file_is_rejected_before_parsing() {
    let mut sources = Sources::default();
    sources.add("big.policy", "# padding\n".repeat(200));
    let limits = Limits {
        max_file_bytes: 1024,
        ..Limits::default()
    };
    let err = Snapshot::from_sources_with(sources, &limits)
        .unwrap_err()
        .render(false);
    assert_snapshot!(err);
}

#[test]
fn too_many_facts_are_rejected() {
    let mut text = String::from(MODEL);
    for i in 0..50 {
        text.push_str(&format!("user u{i}\n"));
    }
    let mut sources = Sources::default();
    sources.add("many.policy", text);
    let limits = Limits {
        max_facts: 40,
        ..Limits::default()
    };
    let err = Snapshot::from_sources_with(sources, &limits)
        .unwrap_err()
        .render(false);
    assert_snapshot!(err);
}

#[test]
fn nesting_past_a_configured_limit_is_rejected() {
    let mut sources = Sources::default();
    sources.add(
        "nest.policy",
        "type a\ntype b in a\ntype c in b\na x\nb y in a:x\nc z in b:y\n",
    );
    let limits = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let err = Snapshot::from_sources_with(sources, &limits)
        .unwrap_err()
        .render(false);
    assert_snapshot!(err);
}

/// Requests that are malformed or name nothing: each a deny with a reason.
#[test]
fn bad_requests_are_denied_with_a_reason() {
    let s = Snapshot::from_text(
        "ok.policy",
        &format!("{MODEL}assign admin on workspace:w to alice\n"),
    )
    .unwrap();
    let cases = [
        ("unknown_principal", "mallory", "app.use", "workspace:w"),
        ("unknown_action", "alice", "app.fly", "workspace:w"),
        ("unknown_resource", "alice", "app.use", "workspace:x"),
        ("resource_without_type", "alice", "app.use", "w"),
        ("resource_of_unknown_type", "alice", "app.use", "project:w"),
        ("empty_principal", "", "app.use", "workspace:w"),
        ("empty_action", "alice", "", "workspace:w"),
        ("empty_resource", "alice", "app.use", ""),
        ("nul_in_principal", "ali\0ce", "app.use", "workspace:w"),
        ("lookalike_principal", "аlice", "app.use", "workspace:w"),
        ("case_of_action", "alice", "APP.USE", "workspace:w"),
        (
            "unbalanced_quote_in_resource",
            "alice",
            "app.use",
            "workspace:\"w",
        ),
    ];
    let mut out = String::new();
    for (name, p, a, r) in cases {
        let d = s.check(p, a, r);
        assert!(!d.is_allowed(), "{name}");
        assert!(d.error.is_some(), "{name}: no reason");
        let why = s.explain(p, a, r);
        assert!(!why.is_allowed(), "{name}");
        out.push_str(&format!("{name}: {}\n", serde_json::to_string(&d).unwrap()));
    }
    assert_snapshot!(out);
}

/// Found by fuzzing (`format`): names with control characters were written
/// back with Rust's escapes, which the language does not read. Names that
/// are keywords must be quoted too.
#[test]
fn formatting_writes_back_every_name_so_that_it_reads_the_same() {
    for name in [
        "lead score\u{15}r",
        "quote \" and \\ backslash",
        "tab\there",
        "group",
        "everyone",
        "users",
        "ünïcödé",
        "in",
    ] {
        let lit = grantlog::syntax::names::quote(name);
        let text = format!(
            "type org\naction read\nrole r on org {{ read }}\norg {lit}\nuser {lit}\ngroup {lit} {{ {lit} }}\nassign r on org:{lit} to {lit}, group {lit}\ntest {lit} {{\n  expect allow {lit} read org:{lit}\n}}\n"
        );
        let once = grantlog::syntax::format(&text).unwrap();
        assert_eq!(grantlog::syntax::format(&once).unwrap(), once, "{name:?}");
        if grantlog::syntax::names::invisible(name).is_some() {
            // Written back faithfully, but no user, group or node may be
            // called that.
            let err = Snapshot::from_text("names.policy", &once).unwrap_err();
            assert!(
                err.render(false).contains("has an invisible character"),
                "{name:?}"
            );
            continue;
        }
        let s = Snapshot::from_text("names.policy", &text)
            .unwrap_or_else(|e| panic!("{name:?}:\n{}\n{text}", e.render(false)));
        assert_eq!(s.model().principals[0].name, name);
        assert_eq!(s.run_tests().failed(), 0);
        let again = Snapshot::from_text("names.policy", &once).unwrap();
        assert_eq!(again.model().principals[0].name, name);
        assert!(
            again
                .check(name, "read", &format!("org:{name}"))
                .is_allowed(),
            "{name:?}"
        );
    }
}
