//! Bad input: every class of error, rendered as the policy author sees it.

use crate::common::load_err;
use insta::assert_snapshot;

const MODEL: &str = r#"type org
type workspace in org
action app.use, app.edit
role viewer on workspace rank 1 { app.use }
role owner on workspace rank 2 includes viewer { app.edit }
org acme
workspace w in org:acme
user alice
"#;

#[test]
fn syntax_error_says_what_was_expected() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}assign viewer workspace:w to alice\n"
    )));
}

#[test]
fn unterminated_string() {
    assert_snapshot!(load_err(&format!("{MODEL}user \"bob\n")));
}

#[test]
fn nul_byte() {
    assert_snapshot!(load_err(&format!("{MODEL}user b\0ob\n")));
}

#[test]
fn unknown_role_suggests_the_closest() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}assign viewr on workspace:w to alice\n"
    )));
}

#[test]
fn unknown_user_group_node_and_action_are_all_reported() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}assign viewer on workspace:x to bob\ngrant app.delete on workspace:w to group ghosts\n"
    )));
}

#[test]
fn unknown_type() {
    assert_snapshot!(load_err(&format!("{MODEL}workspce other in org:acme\n")));
}

#[test]
fn role_assigned_on_a_type_it_is_not_declared_for() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}assign owner on org:acme to alice\n"
    )));
}

#[test]
fn duplicate_definitions() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}user alice\nrole viewer on org\n"
    )));
}

#[test]
fn role_inheritance_cycle_is_printed() {
    assert_snapshot!(load_err(
        "type t\nrole a on t includes c\nrole b on t includes a\nrole c on t includes b\n"
    ));
}

#[test]
fn group_cycle_is_printed() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}group g1 {{ group g2 }}\ngroup g2 {{ group g3 }}\ngroup g3 {{ group g1 }}\n"
    )));
}

#[test]
fn node_in_the_wrong_kind_of_parent() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}workspace v in workspace:w\norg x in org:acme\n"
    )));
}

#[test]
fn exactly_one_owner_per_workspace() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}user bob\nworkspace empty in org:acme\nconstraint exactly one owner per workspace\nassign owner on workspace:w to alice\nassign owner on workspace:w to bob\n"
    )));
}

#[test]
fn service_users_cannot_join_groups() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}service user bot\ngroup team {{ alice, bot }}\nconstraint service users cannot join groups\n"
    )));
}

#[test]
fn unknown_attribute_in_a_condition() {
    assert_snapshot!(load_err(&format!(
        "{MODEL}deny * to users where stauts = banned\n"
    )));
}

#[test]
fn errors_across_several_files_are_all_reported() {
    let mut sources = grantlog::source::Sources::default();
    sources.add("model.policy", MODEL);
    sources.add("facts.policy", "assign viewer on workspace:w to bob\n");
    sources.add(
        "more.policy",
        "grant app.use on workspace:nowhere to alice\n",
    );
    let err = grantlog::Snapshot::from_sources(sources).unwrap_err();
    assert_eq!(err.diagnostics.len(), 2);
    assert_snapshot!(err.render(false));
    let json = err.to_json();
    assert_eq!(json["errors"][0]["file"], "facts.policy");
    assert_eq!(json["errors"][0]["line"], 1);
    assert_eq!(json["errors"][0]["column"], 33);
    assert_eq!(json["errors"][0]["message"], "unknown user `bob`");
}

#[test]
fn a_role_ranked_below_a_role_it_includes() {
    assert_snapshot!(load_err(
        "type t\nrole low on t rank 5 { }\nrole high on t rank 2 includes low { }\n"
    ));
}
