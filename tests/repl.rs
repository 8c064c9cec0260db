//! The REPL: piped transcripts pinned with insta, and the interactive
//! features (completion, hints, history, Ctrl-C, Ctrl-D) in a real terminal
//! under tmux.

use crate::common;
use assert_cmd::Command;
use insta::assert_snapshot;
use std::process::Command as Process;
use std::time::{Duration, Instant};

fn transcript(input: &str) -> (i32, String) {
    let out = Command::cargo_bin("grantlog")
        .unwrap()
        .args(["repl", "policies/dify.policy"])
        .env("NO_COLOR", "1")
        .write_stdin(input)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn questions_facts_and_retraction_take_effect_at_once() {
    let (code, out) = transcript(
        "erin app.edit app:chatbot?\n\
         assign editor on workspace:marketing to erin\n\
         erin app.edit app:chatbot?\n\
         retract assign editor on workspace:marketing to erin\n\
         erin app.edit app:chatbot?\n\
         user gus in team:acme\n\
         group qa in team:acme {\n  gus\n}\n\
         grant web_app.open on web_app:support-bot to group qa\n\
         who-can web_app.open web_app:support-bot\n\
         :session\n",
    );
    assert_eq!(code, 0);
    assert_snapshot!(out);
}

#[test]
fn why_why_not_roles_and_what_can() {
    let (code, out) = transcript(
        "why dave app.use app:chatbot\n\
         why-not erin app.edit app:chatbot\n\
         why-not carol app.use app:chatbot\n\
         roles alice workspace:research\n\
         what-can erin knowledge_base:papers\n\
         check zed app.use app:chatbot\n",
    );
    assert_eq!(code, 0);
    assert_snapshot!(out);
}

#[test]
fn an_error_shows_a_caret_and_leaves_the_session_unchanged() {
    let (code, out) = transcript(
        "assign edtor on workspace:marketing to erin\n\
         assign editor on workspace:nowhere to erin\n\
         assign editor on workspace:marketing to\n\
         frobnicate everything\n\
         :nonsense\n\
         erin app.edit app:chatbot?\n",
    );
    assert_eq!(code, 1);
    assert_snapshot!(out);
}

#[test]
fn reload_keeps_the_sessions_own_additions() {
    let (code, out) = transcript(
        "grant app.edit on app:chatbot to erin\n:reload\nerin app.edit app:chatbot?\n:quit\nerin app.use app:chatbot?\n",
    );
    assert_eq!(code, 0);
    assert_snapshot!(out, @r"
    > grant app.edit on app:chatbot to erin
    ok
    > :reload
    reloaded
    > erin app.edit app:chatbot?
    allow  (a direct grant allows app.edit)
    > :quit
    ");
}

/// Statements typed into a session apply as live updates; the session must
/// still answer exactly as its files and statements loaded afresh, reasons
/// and cited lines included.
#[test]
fn typed_statements_answer_as_the_whole_session_loaded_afresh() {
    use grantlog::cli::session::{Outcome, Session};
    let files = vec![std::path::PathBuf::from("policies/dify.policy")];
    let mut session = Session::new(files.clone()).unwrap();
    let typed = [
        "user gus in team:acme",
        "group qa in team:acme { gus, erin }",
        "workspace lab in team:acme\nassign owner on workspace:lab to gus",
        "app notebook in workspace:lab created by gus",
        "assign editor on workspace:lab to group qa",
        "deny app.edit on app:chatbot to erin",
        "grant web_app.open on web_app:support-bot to group qa",
        "add dave to group qa",
    ];
    for t in typed {
        assert_eq!(session.execute(t), Outcome::Output("ok\n".into()), "{t}");
    }
    let load = |typed: &[&str]| {
        let mut sources = grantlog::read_paths(&files).unwrap();
        for (i, t) in typed.iter().enumerate() {
            sources.add(format!("<input {}>", i + 1), t.to_string());
        }
        grantlog::Snapshot::from_sources(sources).unwrap()
    };
    let fresh = load(&typed);
    let compared = common::assert_same_decisions(session.snapshot(), &fresh, "");
    assert!(compared > 1_000, "{compared}");
    // Applied as updates, the statements chain the revision; a rebuild
    // hashes the same sources afresh.
    assert_ne!(session.snapshot().revision(), fresh.revision());
    let questions = [
        "why gus app.edit app:notebook",
        "why dave web_app.open web_app:support-bot",
        "why-not erin app.edit app:chatbot",
        "who-can app.edit app:notebook",
    ];
    let answers: Vec<Outcome> = questions.iter().map(|q| session.execute(q)).collect();
    assert_eq!(
        session.execute(":reload"),
        Outcome::Output("reloaded\n".into())
    );
    assert_eq!(session.snapshot().revision(), fresh.revision());
    for (q, before) in questions.iter().zip(answers) {
        assert_eq!(session.execute(q), before, "{q}");
    }
    // What an update would read otherwise goes through a rebuild: a user
    // restated is a duplicate, as in a file, and actions are declared.
    let Outcome::Error(e) = session.execute("user gus in team:acme status banned") else {
        panic!("a restated user is a duplicate in a session");
    };
    assert!(e.contains("is defined twice"), "{e}");
    assert_eq!(
        session.execute("action app.archive"),
        Outcome::Output("ok\n".into())
    );
    let fresh = load(&[&typed[..], &["action app.archive"]].concat());
    assert_eq!(session.snapshot().revision(), fresh.revision());
}

/// A tmux session running the REPL in a real pseudo-terminal.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(history: &std::path::Path) -> Option<Tmux> {
        if Process::new("tmux").arg("-V").output().is_err() {
            return None;
        }
        let name = format!("grantlog-test-{}", std::process::id());
        let bin = assert_cmd::cargo::cargo_bin("grantlog");
        let cmd = format!(
            "GRANTLOG_HISTORY={} NO_COLOR=1 {} repl policies/dify.policy",
            history.display(),
            bin.display()
        );
        let ok = Process::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "160",
                "-y",
                "50",
                &cmd,
            ])
            .status()
            .ok()?
            .success();
        ok.then_some(Tmux { name })
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.name.as_str()];
        args.extend(keys);
        Process::new("tmux").args(args).status().unwrap();
    }

    fn screen(&self) -> String {
        let out = Process::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` `times` times (bounded: 10 s).
    fn wait_for_n(&self, text: &str, times: usize) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timed out waiting for {text:?} x{times}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_n(text, 1)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Process::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

#[test]
fn interactive_completion_hints_history_and_control_keys() {
    let history = std::env::temp_dir().join(format!("grantlog-history-{}", std::process::id()));
    let _ = std::fs::remove_file(&history);
    let Some(tmux) = Tmux::start(&history) else {
        eprintln!("skipped: tmux is not installed (CI installs it)");
        return;
    };
    tmux.wait_for("grantlog>");
    // Tab completes a principal and a node from the loaded policy.
    tmux.keys(&["why car", "Tab"]);
    tmux.wait_for("why carol");
    tmux.keys(&[" app.ed", "Tab"]);
    tmux.wait_for("why carol app.edit");
    tmux.keys(&[" app:chat", "Tab", "Enter"]);
    tmux.wait_for("allow: carol may `app.edit` on app:chatbot");
    // A hint shows a command's arguments.
    tmux.keys(&["who-can"]);
    tmux.wait_for("who-can ACTION RESOURCE");
    // Ctrl-C cancels the line; the session goes on.
    tmux.keys(&["C-c"]);
    // A rule spanning lines: the prompt continues until the brace closes.
    tmux.keys(&["group qa {", "Enter", "erin }", "Enter"]);
    tmux.wait_for("\nok");
    tmux.keys(&["erin app.use app:chatbot?", "Enter"]);
    tmux.wait_for("allow  (role normal allows app.use)");
    // Up arrow recalls the last line; asked again, answered again.
    tmux.keys(&["Up", "Enter"]);
    tmux.wait_for_n("allow  (role normal allows app.use)", 2);
    // Ctrl-D exits and the history is saved for the next session.
    tmux.keys(&["C-u", "C-d"]);
    let start = Instant::now();
    while !std::fs::read_to_string(&history)
        .unwrap_or_default()
        .contains("why carol app.edit app:chatbot")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "history was not saved"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_session_asks_its_questions_in_a_context() {
    let out = Command::cargo_bin("grantlog")
        .unwrap()
        .args(["repl", "policies/dagster-plus.policy"])
        .env("NO_COLOR", "1")
        .write_stdin(
            ":context\n\
             ci-bot runs.launch deployment:prod?\n\
             :context {\"via\": \"api_token\"}\n\
             ci-bot runs.launch deployment:prod?\n\
             :context {\"via\": \"email\"}\n\
             :context\n\
             :context clear\n\
             ci-bot runs.launch deployment:prod?\n",
        )
        .output()
        .unwrap();
    // A piped session that met an error exits 1.
    assert_eq!(out.status.code(), Some(1));
    assert_snapshot!(String::from_utf8(out.stdout).unwrap(), @r#"
    > :context
    no context: questions are asked with `context.now` only
    > ci-bot runs.launch deployment:prod?
    deny  (a deny rule applies, and deny wins)
    > :context {"via": "api_token"}
    context set
    > ci-bot runs.launch deployment:prod?
    allow  (role launcher allows runs.launch)
    > :context {"via": "email"}
    context.via: `email` is not one of ui, api_token; the context is unchanged
    > :context
    {"via":"api_token"}
    > :context clear
    context cleared
    > ci-bot runs.launch deployment:prod?
    deny  (a deny rule applies, and deny wins)
    "#);
    assert_snapshot!(String::from_utf8(out.stderr).unwrap(), @"");
}
