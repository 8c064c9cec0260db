//! Every construct of the language, each with its allowed and denied side and
//! a snapshot of the explanation people read.

use crate::common::{allow, deny, load};
use insta::assert_snapshot;

/// Scopes, roles, inheritance and assignment flow shared by several tests.
const BASE: &str = r#"
type org
type workspace in org combine highest
type app in workspace
type knowledge_base in workspace

action app.use, app.edit, app.publish, app.switch_mode, kb.read, ws.manage

role viewer on org, workspace, app rank 10 { app.use, kb.read }
role editor on workspace, app rank 20 includes viewer { app.edit, app.publish, app.switch_mode }
role admin on org, workspace rank 30 includes editor { ws.manage }

org acme
org globex
workspace marketing in org:acme
workspace research in org:acme
workspace sales in org:globex
app chatbot in workspace:marketing
app "lead scorer" in workspace:marketing
app forecaster in workspace:sales
knowledge_base docs in workspace:research
"#;

fn base(extra: &str) -> grantlog::Snapshot {
    load(&format!("{BASE}\n{extra}"))
}

#[test]
fn assignments_flow_down_the_scope_tree() {
    let s = base("user alice\nassign editor on workspace:marketing to alice");
    let why = allow(&s, "alice", "app.edit", "app:chatbot");
    assert_snapshot!(why, @"
    allow: alice may `app.edit` on app:chatbot
    └─ role editor allows app.edit
       ├─ alice holds editor on workspace:marketing  test.policy:24
       ├─ app:chatbot is in workspace:marketing      test.policy:18
       └─ editor allows app.edit                     test.policy:10
    ");
    allow(&s, "alice", "app.use", "app:lead scorer");
    allow(&s, "alice", "app.use", "app:\"lead scorer\"");
    deny(&s, "alice", "app.edit", "app:forecaster");
    deny(&s, "alice", "kb.read", "knowledge_base:docs");
}

#[test]
fn a_role_can_be_given_on_a_single_resource() {
    let s = base("user bob\nassign viewer on app:chatbot to bob");
    allow(&s, "bob", "app.use", "app:chatbot");
    deny(&s, "bob", "app.use", "app:lead scorer");
    deny(&s, "bob", "app.use", "workspace:marketing");
}

#[test]
fn role_inheritance_is_transitive() {
    let s = base("user carol\nassign admin on org:acme to carol");
    let why = allow(&s, "carol", "app.use", "app:chatbot");
    assert_snapshot!(why, @"
    allow: carol may `app.use` on app:chatbot
    └─ role admin allows app.use
       ├─ carol holds admin on org:acme          test.policy:24
       ├─ workspace:marketing is in org:acme     test.policy:15
       ├─ app:chatbot is in workspace:marketing  test.policy:18
       ├─ admin includes editor                  test.policy:11
       ├─ editor includes viewer                 test.policy:10
       └─ viewer allows app.use                  test.policy:9
    ");
    allow(&s, "carol", "ws.manage", "workspace:research");
    deny(&s, "carol", "app.use", "app:forecaster");
}

#[test]
fn groups_nest_and_membership_is_transitive() {
    let s = base(
        r#"
user dana
user eve
group frontline { dana }
group support { group frontline }
group everyone-else { eve }
assign editor on workspace:marketing to group support
"#,
    );
    let why = allow(&s, "dana", "app.publish", "app:chatbot");
    assert_snapshot!(why, @"
    allow: dana may `app.publish` on app:chatbot
    └─ role editor allows app.publish
       ├─ dana is in group frontline                         test.policy:26
       ├─ group frontline is in group support                test.policy:27
       ├─ group support holds editor on workspace:marketing  test.policy:29
       ├─ app:chatbot is in workspace:marketing              test.policy:18
       └─ editor allows app.publish                          test.policy:10
    ");
    deny(&s, "eve", "app.publish", "app:chatbot");
}

#[test]
fn a_deny_names_the_roles_held_and_what_is_missing() {
    let s = base("user frank\nassign viewer on workspace:marketing to frank");
    let why = deny(&s, "frank", "app.edit", "app:chatbot");
    assert_snapshot!(why, @"
    deny: frank may not `app.edit` on app:chatbot: no role or grant allows it
    ├─ holds role viewer here, which does not allow it
    │  ├─ frank holds viewer on workspace:marketing  test.policy:24
    │  └─ app:chatbot is in workspace:marketing      test.policy:18
    └─ missing: assign one of `editor`, `admin` on app:chatbot or a node above it, or `grant app.edit on app:chatbot to frank`
    ");
}

#[test]
fn a_principal_with_no_facts_is_denied_and_told_so() {
    let s = base("user nobody");
    let why = deny(&s, "nobody", "app.use", "app:chatbot");
    assert_snapshot!(why, @r"
    deny: nobody may not `app.use` on app:chatbot: no role or grant allows it
    └─ missing: assign one of `viewer`, `editor`, `admin` on app:chatbot or a node above it, or `grant app.use on app:chatbot to nobody`
    ");
}

#[test]
fn highest_privilege_keeps_only_the_top_ranked_roles() {
    // Highest privilege decides which role counts; with inclusion the top role
    // allows everything below it, so the visible effect is in the explanation.
    let s = base(
        r#"
user gina
group analysts { gina }
assign viewer on workspace:marketing to gina
assign editor on workspace:marketing to group analysts
"#,
    );
    let why = allow(&s, "gina", "app.use", "app:chatbot");
    assert_snapshot!(why, @"
    allow: gina may `app.use` on app:chatbot
    ├─ role editor allows app.use
    │  ├─ gina is in group analysts                           test.policy:25
    │  ├─ group analysts holds editor on workspace:marketing  test.policy:27
    │  ├─ app:chatbot is in workspace:marketing               test.policy:18
    │  ├─ editor includes viewer                              test.policy:10
    │  └─ viewer allows app.use                               test.policy:9
    └─ role viewer does not count: outranked by editor (rank 20 > 10); roles on `app` nodes combine by highest privilege
    ");
}

/// Roles that do not include each other: union and highest differ.
const DISJOINT: &str = r#"
type org combine MODE
type project in org
action read, write, deploy
role reader on org rank 1 { read }
role deployer on org rank 2 { deploy }
org acme
project p in org:acme
user hana
assign reader on org:acme to hana
assign deployer on org:acme to hana
grant write on project:p to hana
"#;

#[test]
fn union_gives_everything_any_role_or_grant_allows() {
    let s = load(&DISJOINT.replace("MODE", "union"));
    allow(&s, "hana", "read", "project:p");
    allow(&s, "hana", "deploy", "project:p");
    allow(&s, "hana", "write", "project:p");
    deny(&s, "hana", "write", "org:acme");
}

#[test]
fn highest_privilege_never_allows_more_than_union() {
    let s = load(&DISJOINT.replace("MODE", "highest"));
    let why = deny(&s, "hana", "read", "project:p");
    assert_snapshot!(why, @r#"
        deny: hana may not `read` on project:p: no role or grant allows it
        ├─ holds role deployer here, which does not allow it
        │  ├─ hana holds deployer on org:acme  test.policy:11
        │  └─ project:p is in org:acme         test.policy:8
        ├─ role reader does not count: outranked by deployer (rank 2 > 1); roles on `project` nodes combine by highest privilege
        └─ missing: no other role includes read; grant it with `grant read on project:p to hana`; `reader` is held but dropped here (see above)
    "#);
    allow(&s, "hana", "deploy", "project:p");
    // Direct grants are outside role ranking: they always add.
    allow(&s, "hana", "write", "project:p");
}

/// Dagster+-like: a deployment role is the default for its code locations, and
/// a role on a code location replaces it, except for roles marked not
/// overridable.
const OVERRIDE: &str = r#"
type org
type deployment in org combine highest
type code_location in deployment combine override, highest
action view, launch, edit, admin
role viewer on org, deployment, code_location rank 1 { view }
role launcher on deployment, code_location rank 2 includes viewer { launch }
role editor on deployment, code_location rank 3 includes launcher { edit }
role org_admin on org rank 9 includes editor not overridable { admin }
org acme
deployment prod in org:acme
code_location etl in deployment:prod
code_location ml in deployment:prod
user ian
user jo
user kim
group data { ian }
assign editor on deployment:prod to ian
assign viewer on code_location:etl to ian
assign org_admin on org:acme to jo
assign viewer on code_location:etl to jo
assign launcher on deployment:prod to kim
assign editor on deployment:prod to group data
"#;

#[test]
fn override_replaces_inherited_roles_on_the_more_specific_node() {
    let s = load(OVERRIDE);
    allow(&s, "ian", "edit", "code_location:ml");
    let why = deny(&s, "ian", "edit", "code_location:etl");
    assert_snapshot!(why, @r#"
        deny: ian may not `edit` on code_location:etl: no role or grant allows it
        ├─ holds role viewer here, which does not allow it
        │  └─ ian holds viewer on code_location:etl  test.policy:19
        ├─ role editor does not count: held on deployment:prod, but replaced on code_location:etl by a role assigned there (override)
        └─ missing: assign `org_admin` on code_location:etl or a node above it, or `grant edit on code_location:etl to ian`; `editor` is held but dropped here (see above)
    "#);
    allow(&s, "ian", "view", "code_location:etl");
}

#[test]
fn roles_marked_not_overridable_survive_override() {
    let s = load(OVERRIDE);
    let why = allow(&s, "jo", "edit", "code_location:etl");
    assert_snapshot!(why, @"
    allow: jo may `edit` on code_location:etl
    ├─ role org_admin allows edit
    │  ├─ jo holds org_admin on org:acme           test.policy:20
    │  ├─ deployment:prod is in org:acme           test.policy:11
    │  ├─ code_location:etl is in deployment:prod  test.policy:12
    │  ├─ org_admin includes editor                test.policy:9
    │  └─ editor allows edit                       test.policy:8
    └─ role viewer does not count: outranked by org_admin (rank 9 > 1); roles on `code_location` nodes combine by highest privilege
    ");
}

#[test]
fn the_most_permissive_of_individual_and_team_roles_applies() {
    let s = load(OVERRIDE);
    // kim: launcher individually; ian: editor individually and via team data.
    deny(&s, "kim", "edit", "deployment:prod");
    allow(&s, "kim", "launch", "code_location:ml");
    allow(&s, "ian", "edit", "deployment:prod");
}

#[test]
fn deny_by_status_wins_over_every_allow() {
    let s = base(
        r#"
user lee status banned
user max
assign admin on org:acme to lee, max
deny * to users where status = banned
"#,
    );
    let why = deny(&s, "lee", "app.use", "app:chatbot");
    assert_snapshot!(why, @"
    deny: lee may not `app.use` on app:chatbot: a deny rule overrides 1 allow
    ├─ a deny rule applies, and deny wins
    │  ├─ lee matches `users where status = banned`          test.policy:24
    │  └─ `deny * to users where status = banned` denies it  test.policy:27
    └─ role admin allows app.use (overruled by the deny)
       ├─ lee holds admin on org:acme                        test.policy:26
       ├─ workspace:marketing is in org:acme                 test.policy:15
       ├─ app:chatbot is in workspace:marketing              test.policy:18
       ├─ admin includes editor                              test.policy:11
       ├─ editor includes viewer                             test.policy:10
       └─ viewer allows app.use                              test.policy:9
    ");
    allow(&s, "max", "app.use", "app:chatbot");
}

#[test]
fn deny_by_principal_kind_and_attribute() {
    let s = load(
        r#"
type org
action ui.login, api.call
role member on org { ui.login, api.call }
org acme
user nia in org:acme with dept = contractors
user oli in org:acme with dept = finance
service user etl-bot in org:acme
default member on org
deny ui.login to service users
deny api.call to users where dept = contractors
"#,
    );
    allow(&s, "etl-bot", "api.call", "org:acme");
    let why = deny(&s, "etl-bot", "ui.login", "org:acme");
    assert_snapshot!(why, @"
    deny: etl-bot may not `ui.login` on org:acme: a deny rule overrides 1 allow
    ├─ a deny rule applies, and deny wins
    │  ├─ etl-bot matches `service users`                                              test.policy:8
    │  └─ `deny ui.login to service users` denies it                                   test.policy:10
    └─ role member allows ui.login (overruled by the deny)
       ├─ etl-bot holds no role of its own on org:acme, so the default member applies  test.policy:9
       └─ member allows ui.login                                                       test.policy:4
    ");
    allow(&s, "nia", "ui.login", "org:acme");
    deny(&s, "nia", "api.call", "org:acme");
    allow(&s, "oli", "api.call", "org:acme");
}

#[test]
fn a_deny_of_one_operation_on_one_resource() {
    // Agent platform: "Application A cannot be published".
    let s = base(
        r#"
user pam
assign editor on workspace:marketing to pam
deny app.publish on app:chatbot to everyone
"#,
    );
    deny(&s, "pam", "app.publish", "app:chatbot");
    allow(&s, "pam", "app.edit", "app:chatbot");
    allow(&s, "pam", "app.publish", "app:lead scorer");
}

#[test]
fn direct_grants_to_users_and_groups() {
    let s = base(
        r#"
user quinn
user rae
group reviewers { rae }
grant app.publish, app.use on app:chatbot to quinn, group reviewers
"#,
    );
    let why = allow(&s, "rae", "app.publish", "app:chatbot");
    assert_snapshot!(why, @"
    allow: rae may `app.publish` on app:chatbot
    └─ a direct grant allows app.publish
       ├─ rae is in group reviewers                              test.policy:26
       └─ group reviewers is granted app.publish on app:chatbot  test.policy:27
    ");
    allow(&s, "quinn", "app.use", "app:chatbot");
    deny(&s, "quinn", "app.edit", "app:chatbot");
}

#[test]
fn creators_hold_a_role_on_what_they_create() {
    let s = base(
        r#"
user sam
user tia
creator of app holds editor
app draft in workspace:research created by sam
assign viewer on workspace:research to tia
deny * to users where status = banned
"#,
    );
    let why = allow(&s, "sam", "app.edit", "app:draft");
    assert_snapshot!(why, @"
    allow: sam may `app.edit` on app:draft
    └─ role editor allows app.edit
       ├─ sam created app:draft                test.policy:27
       ├─ creators of `app` nodes hold editor  test.policy:26
       └─ editor allows app.edit               test.policy:10
    ");
    deny(&s, "tia", "app.edit", "app:draft");
    allow(&s, "tia", "app.use", "app:draft");
    deny(&s, "sam", "app.edit", "app:chatbot");
}

#[test]
fn a_banned_creator_is_still_denied() {
    let s = base(
        r#"
user uma status banned
creator of app holds editor
app draft in workspace:research created by uma
deny * to users where status = banned
"#,
    );
    deny(&s, "uma", "app.edit", "app:draft");
}

#[test]
fn default_roles_apply_inside_a_principals_home_only() {
    let s = load(
        r#"
type org
type deployment in org
action view, launch
role viewer on deployment rank 1 { view }
role launcher on deployment rank 2 includes viewer { launch }
default viewer on deployment
org acme
org globex
deployment prod in org:acme
deployment staging in org:acme
deployment other in org:globex
user vic in org:acme
assign launcher on deployment:prod to vic
"#,
    );
    allow(&s, "vic", "view", "deployment:staging");
    deny(&s, "vic", "launch", "deployment:staging");
    allow(&s, "vic", "launch", "deployment:prod");
    // Tenant isolation: no default in another organisation.
    deny(&s, "vic", "view", "deployment:other");
}

#[test]
fn requests_with_unknown_names_are_denied_with_the_reason() {
    let s = base("user wes\nassign admin on org:acme to wes");
    for (p, a, r, reason) in [
        (
            "nobody",
            "app.use",
            "app:chatbot",
            "unknown principal `nobody`",
        ),
        ("wes", "app.fly", "app:chatbot", "unknown action `app.fly`"),
        (
            "wes",
            "app.use",
            "app:nothing",
            "unknown resource `app:nothing`",
        ),
        ("wes", "app.use", "chatbot", "unknown resource `chatbot`"),
    ] {
        let d = s.check(p, a, r);
        assert_eq!(d.decision, grantlog::Effect::Deny);
        assert!(
            d.error.as_ref().unwrap().to_string().starts_with(reason),
            "{d:?}"
        );
        let why = s.explain(p, a, r);
        assert_eq!(why.decision, grantlog::Effect::Deny);
        assert!(why.summary.contains(reason));
    }
}
