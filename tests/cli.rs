//! The `grantlog` binary: decisions, exit codes, JSON, rendered errors.

use assert_cmd::Command;
use insta::assert_snapshot;

fn grantlog() -> Command {
    let mut cmd = Command::cargo_bin("grantlog").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = grantlog().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn check_allow_exits_0() {
    let (code, out, _) = run(&[
        "check",
        "policies/dify.policy",
        "carol",
        "app.edit",
        "app:chatbot",
    ]);
    assert_eq!((code, out.as_str()), (0, "allow\n"));
}

#[test]
fn check_deny_exits_1() {
    let (code, out, _) = run(&[
        "check",
        "policies/dify.policy",
        "erin",
        "app.edit",
        "app:chatbot",
    ]);
    assert_eq!((code, out.as_str()), (1, "deny\n"));
}

#[test]
fn check_explain_prints_the_tree() {
    let (code, out, _) = run(&[
        "check",
        "policies/dify.policy",
        "carol",
        "app.edit",
        "app:chatbot",
        "--explain",
    ]);
    assert_eq!(code, 0);
    assert_snapshot!(out);
}

#[test]
fn check_json_is_the_decision_and_explanation() {
    let (code, out, _) = run(&[
        "check",
        "policies/dify.policy",
        "dave",
        "app.use",
        "app:chatbot",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["explanation"]["denied_by"][0]["via"], "deny");
    assert_eq!(v["explanation"]["allowed_by"][0]["role"], "editor");
    assert_eq!(
        v["explanation"]["denied_by"][0]["steps"][1]["at"]["file"],
        "policies/dify.policy"
    );
}

#[test]
fn unknown_principal_is_a_deny_with_a_note() {
    let (code, out, err) = run(&[
        "check",
        "policies/dify.policy",
        "zed",
        "app.use",
        "app:chatbot",
    ]);
    assert_eq!((code, out.as_str()), (1, "deny\n"));
    assert_eq!(err, "note: unknown principal `zed`\n");
}

#[test]
fn a_broken_policy_exits_2_with_the_error() {
    let dir = std::env::temp_dir().join(format!("grantlog-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.policy");
    std::fs::write(
        &file,
        "type org\norg acme\nuser alice\nassign admin on org:acme to alice\n",
    )
    .unwrap();
    let (code, out, err) = run(&["check", file.to_str().unwrap(), "alice", "x", "org:acme"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("unknown role `admin`"), "{err}");
    assert!(err.contains("broken.policy:4:8"), "{err}");
    assert!(
        err.ends_with("1 error found; nothing was loaded\n"),
        "{err}"
    );
}

#[test]
fn a_missing_file_exits_2() {
    let (code, _, err) = run(&["check", "no/such.policy", "a", "b", "c:d"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: cannot read `no/such.policy`"),
        "{err}"
    );
}
