//! The engine a service embeds: updates all or nothing, and a decision log
//! from which an auditor can replay every decision.

use crate::common::assert_same_decisions;
use grantlog::{Batch, Effect, Engine, Snapshot, WriterLog};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_decision_log_lets_an_auditor_replay_every_decision() {
    let buffer = Shared::default();
    let mut engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"]).unwrap());
    engine.set_decision_log(WriterLog(Mutex::new(buffer.clone())));
    let requests = [
        ("carol", "app.edit", "app:chatbot"),
        ("dave", "app.use", "app:chatbot"),
        ("erin", "app.edit", "app:chatbot"),
        ("zed", "app.use", "app:chatbot"),
    ];
    for (p, a, r) in requests {
        engine.check(p, a, r);
    }
    let revision = engine.snapshot().revision();
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    // Replay: the same policy revision gives the same decisions.
    let replay = Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
    assert_eq!(replay.revision(), revision);
    for line in &lines {
        assert_eq!(line["revision"], revision);
        assert!(line["time_ms"].as_u64().unwrap() > 1_700_000_000_000);
        let r = &line["request"];
        let d = replay.check(
            r["principal"].as_str().unwrap(),
            r["action"].as_str().unwrap(),
            r["resource"].as_str().unwrap(),
        );
        assert_eq!(line["decision"], serde_json::to_value(d.decision).unwrap());
    }
    assert_eq!(lines[0]["rules"][0]["role"], "editor");
    assert_eq!(lines[0]["rules"][0]["at"], "policies/dify.policy:63");
    assert_eq!(lines[1]["rules"][0]["via"], "deny");
    assert_eq!(
        lines[1]["rules"][0]["text"],
        "deny * to users where status = banned"
    );
    assert_eq!(lines[2]["rules"], serde_json::json!([]));
    assert_eq!(lines[3]["error"]["kind"], "unknown_principal");
}

#[test]
fn a_rejected_update_leaves_the_current_snapshot_serving() {
    let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"]).unwrap());
    let before = engine.snapshot().revision();
    // One good statement and one bad: nothing of the batch applies.
    let err = engine
        .apply("assign editor on workspace:marketing to erin\nassign owner on workspace:marketing to erin")
        .unwrap_err();
    assert!(err.render(false).contains("constraint broken"));
    assert_eq!(engine.snapshot().revision(), before);
    assert_eq!(
        engine.check("erin", "app.edit", "app:chatbot").decision,
        Effect::Deny
    );
    engine
        .apply("assign editor on workspace:marketing to erin")
        .unwrap();
    assert_ne!(engine.snapshot().revision(), before);
    assert_eq!(
        engine.check("erin", "app.edit", "app:chatbot").decision,
        Effect::Allow
    );
}

/// Every decision of `engine` equals that of loading its policy afresh.
fn same_as_fresh(engine: &Engine) {
    let s = engine.snapshot();
    let fresh = Snapshot::from_sources(s.model().sources.clone()).unwrap();
    assert_same_decisions(&s, &fresh, "");
}

#[test]
fn a_batch_of_facts_re_evaluates_only_the_principals_it_reaches() {
    let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"]).unwrap());
    engine.snapshot().warm();
    // One membership: only erin's table is evaluated again.
    let update = engine.apply("add erin to group support").unwrap();
    assert_eq!(update.principals_affected, Some(1));
    assert!(engine.check("erin", "app.edit", "app:chatbot").is_allowed());
    same_as_fresh(&engine);
    // A group's new role: only the group's members (content holds support,
    // so bob, carol and erin).
    engine.snapshot().warm();
    let update = engine
        .apply("assign admin on workspace:research to group content")
        .unwrap();
    assert_eq!(update.principals_affected, Some(3));
    same_as_fresh(&engine);
    // A new app with its creator, and a new user.
    engine.snapshot().warm();
    let update = engine
        .apply("user zoe in team:acme\napp notes in workspace:research created by frank")
        .unwrap();
    assert_eq!(update.principals_affected, Some(2));
    same_as_fresh(&engine);
    // A rule reaches everyone.
    engine.snapshot().warm();
    let update = engine
        .apply("deny app.delete to users where status = active")
        .unwrap();
    assert_eq!(update.principals_affected, None);
    same_as_fresh(&engine);
}

/// Every decision of `engine` over every user, action and node of either
/// policy equals that of loading `text` (the policy as it reads after the
/// update) afresh, and that of the same model indexed afresh.
fn same_as_text(engine: &Engine, text: &str) {
    let s = engine.snapshot();
    let fresh = Snapshot::from_text("policies/dify.policy", text).unwrap();
    assert_same_decisions(&s, &fresh, "");
    assert_same_decisions(&s, &s.reindexed().unwrap(), "reindexed: ");
}

fn dify() -> (Engine, String) {
    let text = std::fs::read_to_string("policies/dify.policy").unwrap();
    let engine = Engine::new(Snapshot::from_text("policies/dify.policy", &text).unwrap());
    engine.snapshot().warm();
    (engine, text)
}

#[test]
fn removing_a_membership_takes_away_what_it_gave() {
    let (engine, text) = dify();
    assert!(engine.check("bob", "app.edit", "app:chatbot").is_allowed());
    let update = engine
        .apply(Batch::new().remove("add bob to group support"))
        .unwrap();
    assert_eq!(update.principals_affected, Some(1));
    assert!(!engine.check("bob", "app.edit", "app:chatbot").is_allowed());
    same_as_text(
        &engine,
        &text.replace(
            "group support in team:acme { bob, carol }",
            "group support in team:acme { carol }",
        ),
    );
    // Added back, the decisions are the original ones.
    engine.apply("add bob to group support").unwrap();
    same_as_text(&engine, &text);
}

#[test]
fn restating_a_user_changes_its_status_and_nobody_else() {
    let (engine, text) = dify();
    let update = engine
        .apply("user erin in team:acme status banned\nuser dave in team:acme")
        .unwrap();
    assert_eq!(update.principals_affected, Some(2));
    assert!(!engine.check("erin", "app.use", "app:chatbot").is_allowed());
    assert!(engine.check("dave", "app.edit", "app:chatbot").is_allowed());
    same_as_text(
        &engine,
        &text
            .replace(
                "user erin in team:acme",
                "user erin in team:acme status banned",
            )
            .replace(
                "user dave in team:acme status banned",
                "user dave in team:acme",
            ),
    );
}

#[test]
fn removing_a_user_keeps_the_constraints() {
    let (engine, text) = dify();
    // frank is research's only owner: removing him alone breaks the rule.
    let err = engine.apply(Batch::new().remove("user frank")).unwrap_err();
    insta::assert_snapshot!("update_removing_the_only_owner", err.render(false));
    assert!(engine
        .check("frank", "workspace.billing", "workspace:research")
        .is_allowed());
    // With a new owner in the same batch, it goes through.
    engine
        .apply(
            Batch::new()
                .remove("user frank")
                .remove("assign admin on workspace:research to alice")
                .add("assign owner on workspace:research to alice"),
        )
        .unwrap();
    let d = engine.check("frank", "app.use", "app:summarizer");
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.error.unwrap().to_string(), "unknown principal `frank`");
    assert!(engine
        .check("alice", "workspace.billing", "workspace:research")
        .is_allowed());
    // Nor is frank anyone's answer any more; team.login is everyone's default.
    let who = engine
        .snapshot()
        .who_can("team.login", "team:acme")
        .unwrap();
    assert_eq!(who, ["alice", "bob", "carol", "erin", "gina"]);
    same_as_text(
        &engine,
        &text
            .replace("user frank in team:acme\n", "")
            .replace("assign owner on workspace:research to frank\n", "")
            .replace(
                "assign admin on workspace:research to alice",
                "assign owner on workspace:research to alice",
            )
            .replace(
                "  expect allow frank workspace.billing workspace:research\n",
                "",
            )
            .replace(
                "  expect deny frank web_app.open web_app:campaign-site by nothing\n",
                "",
            ),
    );
}

#[test]
fn removing_resources_and_rejected_removals() {
    let (engine, text) = dify();
    let before = engine.snapshot().revision();
    // A node with children, something not there, a rule: all reported, none applied.
    let err = engine
        .apply(
            Batch::new()
                .remove("workspace marketing")
                .remove("add erin to group support")
                .remove("deny * to users where status = banned"),
        )
        .unwrap_err();
    insta::assert_snapshot!("update_rejected_removals", err.render(false));
    assert_eq!(engine.snapshot().revision(), before);
    // A leaf app goes, with what names it.
    engine
        .apply(Batch::new().remove("web_app support-bot in workspace:marketing"))
        .unwrap();
    let d = engine.check("bob", "web_app.open", "web_app:support-bot");
    assert_eq!(
        d.error.unwrap().to_string(),
        "unknown resource `web_app:support-bot` (resources are written `type:name`)"
    );
    same_as_text(
        &engine,
        &text
            .replace("web_app support-bot in workspace:marketing\n", "")
            .replace(
                "grant web_app.open on web_app:support-bot to group support\n",
                "",
            )
            .replace(
                "  expect allow bob web_app.open web_app:support-bot by grant\n",
                "",
            )
            .replace(
                "  expect deny erin web_app.open web_app:support-bot by nothing\n",
                "",
            ),
    );
}

#[test]
fn updates_are_checked_like_a_policy() {
    let (engine, _) = dify();
    let err = engine
        .apply("add zed to group support\napp notes in workspace:nowhere")
        .unwrap_err();
    insta::assert_snapshot!("update_checked_like_a_policy", err.render(false));
    let err = engine
        .apply("add group content to group support")
        .unwrap_err();
    insta::assert_snapshot!("update_group_cycle", err.render(false));
    let dagster = Engine::new(Snapshot::from_paths(&["policies/dagster-plus.policy"]).unwrap());
    let err = dagster.apply("add ci-bot to group data-eng").unwrap_err();
    insta::assert_snapshot!("update_service_user_into_a_group", err.render(false));
}

#[test]
fn a_rule_after_removals_keeps_them() {
    let (engine, text) = dify();
    engine
        .apply(Batch::new().remove("add bob to group support"))
        .unwrap();
    let update = engine
        .apply("deny app.delete to users where status = active")
        .unwrap();
    assert_eq!(update.principals_affected, None);
    assert!(!engine.check("bob", "app.edit", "app:chatbot").is_allowed());
    same_as_text(
        &engine,
        &format!(
            "{}\ndeny app.delete to users where status = active\n",
            text.replace(
                "group support in team:acme { bob, carol }",
                "group support in team:acme { carol }"
            )
        ),
    );
}

#[test]
fn an_attribute_from_the_identity_provider_takes_effect_on_update() {
    let engine = Engine::new(Snapshot::from_paths(&["policies/ai-hub.policy"]).unwrap());
    assert!(!engine
        .check("noah", "org.members.add", "organization:northwind")
        .is_allowed());
    let update = engine
        .apply("user noah in organization:northwind with is_admin = true")
        .unwrap();
    assert_eq!(update.principals_affected, Some(1));
    let why = engine
        .snapshot()
        .explain("noah", "org.members.add", "organization:northwind");
    assert_eq!(why.decision, Effect::Allow, "{why}");
}

#[test]
fn replaying_the_batches_gives_the_same_revision() {
    let (engine, text) = dify();
    let batches = [
        Batch::new().add("user zoe in team:acme\nadd zoe to group content"),
        Batch::new()
            .remove("add bob to group support")
            .add("user erin in team:acme status banned"),
    ];
    for b in &batches {
        engine.apply(b.clone()).unwrap();
    }
    let live = engine.snapshot();
    // The snapshot keeps each batch as a source, in order: the audit trail.
    let names: Vec<String> = live
        .model()
        .sources
        .iter()
        .map(|(_, f)| f.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "policies/dify.policy",
            "<update 1>",
            "<update 1: removed>",
            "<update 3>",
            "<update 3: removed>"
        ]
    );
    let replay = Engine::new(Snapshot::from_text("policies/dify.policy", &text).unwrap());
    for b in &batches {
        replay.apply(b.clone()).unwrap();
    }
    assert_eq!(replay.snapshot().revision(), live.revision());
    assert_eq!(
        replay.check("zoe", "app.use", "app:chatbot"),
        engine.check("zoe", "app.use", "app:chatbot")
    );
}

/// The closure of groups is computed once per snapshot; a group joining or
/// leaving a group starts it afresh, and an update of user memberships
/// keeps it.
#[test]
fn nesting_a_group_by_update_reaches_its_members_and_unnesting_undoes_it() {
    let text = std::fs::read_to_string("policies/dify.policy").unwrap();
    let engine = grantlog::Engine::new(Snapshot::from_text("dify.policy", &text).unwrap());
    engine.apply("group ops in team:acme { frank }").unwrap();
    let open = |e: &grantlog::Engine| {
        e.check("frank", "web_app.open", "web_app:support-bot")
            .is_allowed()
    };
    assert!(!open(&engine));
    engine.apply("add group ops to group support").unwrap();
    assert!(open(&engine));
    engine.apply("add erin to group ops").unwrap();
    assert!(engine
        .check("erin", "web_app.open", "web_app:support-bot")
        .is_allowed());
    engine
        .apply(grantlog::Batch::new().remove("add group ops to group support"))
        .unwrap();
    assert!(!open(&engine));
    // A cycle through the new nesting is still refused.
    engine.apply("add group ops to group support").unwrap();
    assert!(engine.apply("add group support to group ops").is_err());
}

#[test]
fn an_engine_warms_every_principal_in_the_background() {
    let snapshot = grantlog::Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
    let engine = grantlog::Engine::with_warm_threads(snapshot, Some(1));
    // Waits for warming (not a timing assertion: the bound only keeps a
    // broken warmer from hanging the suite).
    let start = std::time::Instant::now();
    while engine.warm_progress().done < engine.warm_progress().total {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            engine.warm_progress()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let s = engine.snapshot();
    assert_eq!(s.evaluated_count(), s.principal_count());
    // Warmed tables answer as evaluated ones do.
    assert!(engine
        .check("carol", "app.edit", "app:chatbot")
        .is_allowed());
    // After an update, the principals it reached are warmed again; the
    // others' tables are shared.
    engine
        .apply("assign editor on workspace:marketing to erin")
        .unwrap();
    while engine.warm_progress().done < engine.warm_progress().total {
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        engine.snapshot().evaluated_count(),
        engine.snapshot().principal_count()
    );
    assert!(engine.check("erin", "app.edit", "app:chatbot").is_allowed());
}

#[test]
fn without_warming_threads_each_principal_is_evaluated_on_first_use() {
    let snapshot = grantlog::Snapshot::from_paths(&["policies/dify.policy"]).unwrap();
    let engine = grantlog::Engine::with_warm_threads(snapshot, Some(0));
    assert_eq!(engine.snapshot().evaluated_count(), 0);
    engine.check("carol", "app.edit", "app:chatbot");
    assert_eq!(engine.snapshot().evaluated_count(), 1);
    let p = engine.warm_progress();
    assert_eq!((p.done, p.total), (1, engine.snapshot().principal_count()));
}
