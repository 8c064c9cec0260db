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

#[test]
fn explain_prints_the_tree_alone() {
    let (code, out, _) = run(&[
        "explain",
        "policies/dify.policy",
        "erin",
        "app.edit",
        "app:chatbot",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("deny: erin may not `app.edit` on app:chatbot"),
        "{out}"
    );
}

#[test]
fn who_can_lists_principals_with_their_reason() {
    let (code, out, _) = run(&["who-can", "policies/dify.policy", "app.edit", "app:chatbot"]);
    assert_eq!(code, 0);
    assert_snapshot!(out, @r"
    alice  role owner allows app.edit
    bob    role editor allows app.edit
    carol  role editor allows app.edit
    ");
    let (_, out, _) = run(&[
        "who-can",
        "-p",
        "policies/dify.policy",
        "app.edit",
        "app:chatbot",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[1]["principal"], "bob");
}

#[test]
fn what_can_lists_actions_per_node() {
    let (code, out, _) = run(&[
        "what-can",
        "policies/dify.policy",
        "erin",
        "knowledge_base:papers",
    ]);
    assert_eq!(code, 0);
    assert_snapshot!(out, @r"
    knowledge_base:papers  knowledge_base.edit
    knowledge_base:papers  knowledge_base.use
    ");
}

#[test]
fn roles_shows_effective_and_dropped_roles() {
    let (code, out, _) = run(&[
        "roles",
        "policies/dify.policy",
        "bob",
        "workspace:marketing",
    ]);
    assert_eq!(code, 0);
    assert_snapshot!(out);
}

#[test]
fn test_runs_policy_tests_and_summarises() {
    // With no paths, each shipped policy is tested on its own.
    let (code, out, _) = run(&["test"]);
    assert_eq!(code, 0, "{out}");
    let summary = out.lines().last().unwrap_or_default().to_string();
    let passed: usize = summary
        .split(' ')
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    assert!(
        passed >= 300 && summary.ends_with(" passed, 0 failed"),
        "{out}"
    );
    // A directory holds policies, each file one of them.
    let (code, dir, _) = run(&["test", "policies/"]);
    assert_eq!((code, &dir), (0, &out));
    // A directory inside it is one policy made of all its files: the
    // shipped ones together declare their types twice.
    let tmp = std::env::temp_dir().join(format!("grantlog-test-dir-{}", std::process::id()));
    let both = tmp.join("both");
    std::fs::create_dir_all(&both).unwrap();
    for f in ["dify.policy", "ai-hub.policy"] {
        std::fs::copy(format!("policies/{f}"), both.join(f)).unwrap();
    }
    let (code, _, err) = run(&["test", tmp.to_str().unwrap()]);
    std::fs::remove_dir_all(&tmp).unwrap();
    assert_eq!(code, 2);
    assert!(err.contains("is defined twice"), "{err}");
}

#[test]
fn a_failing_policy_test_exits_1_with_the_explanation() {
    let dir = tempdir("test");
    let file = dir.join("t.policy");
    std::fs::write(
        &file,
        "type org\naction read\nrole r on org { read }\norg o\nuser a\ntest \"a reads\" {\n  expect allow a read org:o\n}\n",
    )
    .unwrap();
    let (code, out, _) = run(&["test", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    let out = out.replace(file.to_str().unwrap(), "t.policy");
    assert_snapshot!(out, @r#"
        FAIL t.policy:7 (a reads): expect allow a read org:o
          expected allow, got deny
          deny: a may not `read` on org:o: no role or grant allows it
          └─ missing: assign `r` on org:o or a node above it, or `grant read on org:o to a`

        0 passed, 1 failed
    "#);
}

#[test]
fn validate_reports_ok_or_every_error_as_json() {
    let (code, out, _) = run(&["validate", "policies/dify.policy"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ok: 7 types, 7 roles"), "{out}");
    let dir = tempdir("validate");
    let file = dir.join("bad.policy");
    std::fs::write(
        &file,
        "type org\norg acme in org:nowhere\nuser u\nassign x on org:acme to u\n",
    )
    .unwrap();
    let (code, out, _) = run(&["validate", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[1]["message"], "unknown role `x`");
    assert_eq!(
        (errors[1]["line"].as_u64(), errors[1]["column"].as_u64()),
        (Some(4), Some(8))
    );
    // Each error carries a stable code that editors and CI key on.
    let codes: Vec<&str> = errors.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["grantlog::unknown-name", "grantlog::unknown-name"]);
}

#[test]
fn error_codes_are_the_same_in_the_library() {
    use grantlog::error::Code;
    let err = grantlog::Snapshot::from_text(
        "bad.policy",
        "type org
type org
group g { u }
role r on org rank 2000000000 { }
",
    )
    .unwrap_err();
    let codes: Vec<Code> = err.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::Duplicate, Code::UnknownName, Code::Rank]);
    assert_eq!(Code::Duplicate.to_string(), "grantlog::duplicate");
}

#[test]
fn fmt_is_canonical_idempotent_and_keeps_comments() {
    let dir = tempdir("fmt");
    let file = dir.join("f.policy");
    std::fs::write(
        &file,
        "# model\ntype   org   # top\n\n\n\naction read,write\nrole r on org {read,\n write}\norg o\nuser \"Ann Lee\"   status   banned\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (code, _, err) = run(&["fmt", "--check", path]);
    assert_eq!(code, 1);
    assert!(err.starts_with("would reformat"), "{err}");
    let (code, _, _) = run(&["fmt", path]);
    assert_eq!(code, 0);
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert_snapshot!(formatted, @r#"
    # model
    type org  # top

    action read, write
    role r on org { read, write }
    org o
    user "Ann Lee" status banned
    "#);
    let (code, _, _) = run(&["fmt", "--check", path]);
    assert_eq!(code, 0);
}

#[test]
fn shipped_policies_are_formatted() {
    let (code, _, err) = run(&["fmt", "--check", "policies/"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn diff_lists_gains_and_losses_with_reasons() {
    let dir = tempdir("diff");
    let old = dir.join("old.policy");
    let new = dir.join("new.policy");
    let base = "type org\naction read, write\nrole reader on org { read }\nrole writer on org includes reader { write }\norg o\nuser a\nuser b\n";
    std::fs::write(&old, format!("{base}assign writer on org:o to a\n")).unwrap();
    std::fs::write(
        &new,
        format!("{base}assign reader on org:o to a\nassign reader on org:o to b\n"),
    )
    .unwrap();
    let (code, out, _) = run(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(code, 1);
    let out = out.replace(dir.to_str().unwrap(), "");
    assert_snapshot!(out, @r"
    - a write org:o
        no longer: role writer allows write: writer allows write (/old.policy:4)
    + b read org:o
        role reader allows read: reader allows read (/new.policy:3)
    1 gained, 1 lost
    ");
}

#[test]
fn help_is_useful_on_its_own() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for cmd in [
        "check", "explain", "who-can", "what-can", "roles", "test", "validate", "fmt", "diff",
        "repl",
    ] {
        assert!(out.contains(cmd), "--help lacks {cmd}");
        let (code, out, _) = run(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("Example"), "{cmd} --help has no example");
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("grantlog-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_request_context_comes_from_the_command_line_or_a_file() {
    let q = [
        "check",
        "policies/dagster-plus.policy",
        "ci-bot",
        "runs.launch",
        "deployment:prod",
    ];
    let (code, out, _) = run(&q);
    assert_eq!((code, out.as_str()), (1, "deny\n"));
    let with = |extra: &[&str]| run(&[&q[..], extra].concat());
    let (code, out, _) = with(&["--context", r#"{"via":"api_token"}"#]);
    assert_eq!((code, out.as_str()), (0, "allow\n"));
    let file = std::env::temp_dir().join(format!("grantlog-context-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"via": "ui"}"#).unwrap();
    let (code, out, _) = with(&["--context-file", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!((code, out.as_str()), (1, "deny\n"));
    // A value outside the declared ones is a deny with the reason.
    let (code, out, err) = with(&["--context", r#"{"via":"email"}"#]);
    assert_eq!((code, out.as_str()), (1, "deny\n"));
    assert_eq!(
        err,
        "note: context.via: `email` is not one of ui, api_token\n"
    );
    // Not an object, or not JSON: a usage error.
    let (code, _, err) = with(&["--context", "[1]"]);
    assert_eq!(code, 2);
    assert_snapshot!(err, @r#"
    error: --context: the context must be a JSON object, such as '{"via":"ui"}'
    "#);
    let (code, _, err) = with(&["--context", "{via"]);
    assert_eq!(code, 2);
    assert_snapshot!(err, @"error: --context: not JSON: key must be a string at line 1 column 2");
    // JSON output carries the request's context and each condition's values.
    let (code, out, _) = with(&["--context", r#"{"via":"api_token"}"#, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["explanation"]["request"]["context"],
        serde_json::json!({"via": "api_token"})
    );
    let (code, out, _) = with(&["--context", r#"{"via":"ui"}"#, "--explain"]);
    assert_eq!(code, 1);
    assert_snapshot!(out, @r#"
    deny
    deny: ci-bot may not `runs.launch` on deployment:prod: a deny rule overrides 1 allow
    ├─ a deny rule applies, and deny wins
    │  ├─ ci-bot matches `service users`                                          policies/dagster-plus.policy:116
    │  ├─ `deny * to service users unless context.via = api_token` denies it      policies/dagster-plus.policy:86
    │  └─ unless context.via = api_token: context.via = "ui" (needs "api_token")  policies/dagster-plus.policy:86
    └─ role launcher allows runs.launch (overruled by the deny)
       ├─ ci-bot holds launcher on deployment:prod                                policies/dagster-plus.policy:134
       └─ launcher allows runs.launch                                             policies/dagster-plus.policy:49
    "#);
}

#[test]
fn who_can_all_lists_who_a_deny_or_a_condition_keeps_out() {
    let (code, out, _) = run(&[
        "who-can",
        "policies/dify.policy",
        "app.use",
        "app:\"campaign writer\"",
        "--all",
    ]);
    assert_eq!(code, 0);
    assert_snapshot!(out, @r"
    alice  denied: `deny app.use to everyone unless resource.stage = published` denies it
    bob    denied: `deny app.use to everyone unless resource.stage = published` denies it
    carol  denied: `deny app.use to everyone unless resource.stage = published` denies it
    dave   denied: `deny app.use to everyone unless resource.stage = published` denies it; `deny * to users where status = banned` denies it
    erin   denied: `deny app.use to everyone unless resource.stage = published` denies it
    frank  denied: `deny app.use to everyone unless resource.stage = published` denies it
    gina   denied: `deny app.use to everyone unless resource.stage = published` denies it
    hal    denied: `deny app.use to everyone unless resource.stage = published` denies it; `deny * to users where status = inactive` denies it
    ");
    let (code, out, _) = run(&[
        "who-can",
        "policies/dagster-plus.policy",
        "runs.launch",
        "deployment:prod",
    ]);
    assert_eq!(code, 0);
    assert_snapshot!(out, @r"
    dinesh    role launcher allows runs.launch
    gavin     role organization_admin allows runs.launch
    gilfoyle  role admin allows runs.launch
    ci-bot    conditional: `deny * to service users unless context.via = api_token` denies it
    ");
}
