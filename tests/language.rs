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
