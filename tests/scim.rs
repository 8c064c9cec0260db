//! SCIM 2.0 import, on payloads in the shapes Okta, Microsoft Entra ID and
//! OneLogin send (tests/scim/*.json).

use grantlog::facts::{AttributeFact, SubjectFact};
use grantlog::scim;
use grantlog::source::Sources;
use grantlog::Snapshot;

const POLICY: &str = r#"
type team
type workspace in team combine highest
action app.use, app.edit, billing.manage
role member on team, workspace rank 1 { app.use }
role editor on workspace rank 2 includes member { app.edit }
role admin on team rank 3 includes editor { billing.manage }
team acme
workspace marketing in team:acme
default member on team
# The identity provider's attributes decide; it may send none of them yet.
attribute is_admin
assign admin on team:acme to users where is_admin = true
deny * to users where status = inactive
"#;

/// What the Okta payload's groups get.
const OKTA_GROUPS: &str = "assign editor on workspace:marketing to group Marketing\n";

fn load(file: &str, extra: &str) -> Snapshot {
    let text = std::fs::read_to_string(file).unwrap();
    let facts =
        scim::import(file, &text, &["team:acme".to_string()]).unwrap_or_else(|e| panic!("{e}"));
    let mut sources = Sources::default();
    sources.add("policy.policy", format!("{POLICY}{extra}"));
    facts.add_to(file, &mut sources).unwrap();
    Snapshot::from_sources(sources).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

#[test]
fn okta_users_groups_nesting_and_a_custom_admin_attribute() {
    let text = std::fs::read_to_string("tests/scim/okta.json").unwrap();
    let facts = scim::import("okta.json", &text, &["team:acme".to_string()]).unwrap();
    insta::assert_json_snapshot!(facts);
    let s = load("tests/scim/okta.json", OKTA_GROUPS);
    // Group membership from SCIM gives erin the Marketing group's role.
    assert!(s
        .check("erin@acme.io", "app.edit", "workspace:marketing")
        .is_allowed());
    // `active: false` is denied everything, through the policy's rule.
    assert!(!s
        .check("frank@acme.io", "app.use", "workspace:marketing")
        .is_allowed());
    let why = s.explain("frank@acme.io", "app.use", "workspace:marketing");
    assert!(
        why.to_string()
            .contains("deny * to users where status = inactive"),
        "{why}"
    );
    // A custom extension's is_admin makes an organisation admin.
    assert!(s
        .check("gina@acme.io", "billing.manage", "team:acme")
        .is_allowed());
    assert!(!s
        .check("erin@acme.io", "billing.manage", "team:acme")
        .is_allowed());
}

#[test]
fn entra_id_string_booleans_and_the_enterprise_extension() {
    let text = std::fs::read_to_string("tests/scim/entra.json").unwrap();
    let facts = scim::import("entra.json", &text, &[]).unwrap();
    let user = &facts.users[0];
    assert_eq!(user.status, None);
    let text = AttributeFact::from;
    assert_eq!(user.attributes["department"], text("Engineering"));
    assert_eq!(user.attributes["manager"], text("9d2a0c1e"));
    assert_eq!(user.attributes["title"], text("Engineer"));
    assert_eq!(facts.users[1].status.as_deref(), Some("inactive"));
    assert_eq!(
        facts.groups[0].members,
        [
            SubjectFact::User("Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com".into()),
            SubjectFact::User("Manager_User@contoso.com".into())
        ]
    );
    let s = load("tests/scim/entra.json", "");
    assert!(!s
        .check("Manager_User@contoso.com", "app.use", "team:acme")
        .is_allowed());
    assert!(s
        .check(
            "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com",
            "app.use",
            "team:acme"
        )
        .is_allowed());
}

#[test]
fn onelogin_member_pointing_at_an_unknown_user_is_reported() {
    let text = std::fs::read_to_string("tests/scim/onelogin.json").unwrap();
    let err = scim::import("onelogin.json", &text, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "onelogin.json: at `[1].members[1].value`: member `99999` of group `Support` is not a User or Group in this import"
    );
}

#[test]
fn malformed_scim_names_the_place() {
    for (input, expected) in [
        ("{", "x.json: at ``: not JSON: EOF while parsing an object at line 1 column 1"),
        (r#"{"Resources": 3}"#, "x.json: at `Resources`: expected an array of resources"),
        (r#"[{"schemas": ["urn:x"]}]"#, "x.json: at `[0].schemas`: neither a User (urn:ietf:params:scim:schemas:core:2.0:User) nor a Group (urn:ietf:params:scim:schemas:core:2.0:Group)"),
        (r#"[{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}]"#, "x.json: at `[0].userName`: a User needs a `userName` string"),
        (r#"[{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a", "active": "maybe"}]"#, "x.json: at `[0].active`: expected true or false, got \"maybe\""),
    ] {
        assert_eq!(scim::import("x.json", input, &[]).unwrap_err().to_string(), expected);
    }
}

#[test]
fn the_cli_writes_facts_that_load_with_data() {
    let out = assert_cmd::Command::cargo_bin("grantlog")
        .unwrap()
        .args([
            "import",
            "scim",
            "tests/scim/okta.json",
            "--home",
            "team:acme",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let dir = std::env::temp_dir().join(format!("grantlog-scim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("facts.json"), &out.stdout).unwrap();
    std::fs::write(dir.join("policy.policy"), format!("{POLICY}{OKTA_GROUPS}")).unwrap();
    let out = assert_cmd::Command::cargo_bin("grantlog")
        .unwrap()
        .args([
            "check",
            dir.join("policy.policy").to_str().unwrap(),
            "gina@acme.io",
            "billing.manage",
            "team:acme",
        ])
        .args(["--data", dir.join("facts.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref()
        ),
        (Some(0), "allow\n")
    );
}

#[test]
fn an_identity_provider_sync_applies_as_one_live_batch() {
    let engine = grantlog::Engine::new(load("tests/scim/okta.json", OKTA_GROUPS));
    engine.snapshot().warm();
    let home = ["team:acme".to_string()];
    // Okta reactivates frank (a PUT of his User) and deprovisions erin.
    let put = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "00u2", "userName": "frank@acme.io", "active": true}"#;
    let gone = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "00u1", "userName": "erin@acme.io", "active": true}"#;
    let batch = grantlog::Batch::new()
        .add_facts(&scim::import("put.json", put, &home).unwrap())
        .remove_facts(&scim::import("delete.json", gone, &home).unwrap());
    let update = engine.apply(batch).unwrap();
    assert_eq!(update.principals_affected, Some(2));
    assert!(engine
        .check("frank@acme.io", "app.use", "workspace:marketing")
        .is_allowed());
    let d = engine.check("erin@acme.io", "app.edit", "workspace:marketing");
    assert_eq!(d.decision, grantlog::Effect::Deny);
    assert_eq!(
        d.error.unwrap().to_string(),
        "unknown principal `erin@acme.io`"
    );
    // erin's memberships went with her: the group lists only who is left.
    let facts = grantlog::facts::Facts::from_model(engine.snapshot().model());
    assert!(facts.users.iter().all(|u| u.name != "erin@acme.io"));
    assert!(facts.groups.iter().all(|g| !g
        .members
        .contains(&SubjectFact::User("erin@acme.io".into()))));
}
