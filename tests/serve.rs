//! `grantlog serve`: the real server on an ephemeral loopback port, called
//! with a real HTTP client.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running server; killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// Standard error after the "serving" line.
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::try_start(args).unwrap_or_else(|e| panic!("the server did not start: {e}"))
    }

    /// Starts `grantlog serve ARGS --addr 127.0.0.1:0` and waits for it to
    /// say where it listens; or what it said before it exited.
    fn try_start(args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("grantlog"))
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0", "--warm-threads", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("grantlog runs");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut before = Vec::new();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => match line.split_once("serving ") {
                    Some((_, rest)) => break rest.split(' ').next().unwrap().to_string(),
                    None => before.push(line),
                },
                _ => {
                    let _ = child.wait();
                    return Err(before.join("\n"));
                }
            }
        };
        let stderr = Arc::new(Mutex::new(before));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Ok(Server {
            child,
            base,
            stderr,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        send(ureq_agent().post(self.url(path)).send_json(body))
    }

    fn post_with(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        send(
            ureq_agent()
                .post(self.url(path))
                .header("Authorization", &format!("Bearer {token}"))
                .send_json(body),
        )
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut r = ureq_agent().get(self.url(path)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn evaluate(&self, subject: &str, action: &str, resource: (&str, &str)) -> Value {
        let (status, body) = self.post(
            "/access/v1/evaluation",
            &json!({
                "subject": {"type": "user", "id": subject},
                "action": {"name": action},
                "resource": {"type": resource.0, "id": resource.1},
            }),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ureq_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn send(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut r = r.expect("the server answers");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("grantlog-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn token_file(dir: &Path) -> String {
    let path = dir.join("token");
    std::fs::write(&path, "s3cret-token\n").unwrap();
    path.display().to_string()
}

const DIFY: &str = "policies/dify.policy";

fn evaluation(subject: &str, action: &str, ty: &str, id: &str) -> Value {
    json!({
        "subject": {"type": "user", "id": subject},
        "action": {"name": action},
        "resource": {"type": ty, "id": id},
    })
}

#[test]
fn an_evaluation_answers_exactly_what_the_spec_defines() {
    let s = Server::start(&[DIFY]);
    assert_eq!(
        s.evaluate("carol", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
    assert_eq!(
        s.evaluate("erin", "app.edit", ("app", "chatbot")),
        json!({"decision": false})
    );
    // Fields grantlog does not use, and no context, are accepted.
    let (status, body) = s.post(
        "/access/v1/evaluation",
        &json!({
            "subject": {"type": "user", "id": "carol", "properties": {"department": "sales"}},
            "action": {"name": "app.edit", "properties": {"method": "PUT"}},
            "resource": {"type": "app", "id": "chatbot", "properties": {"owner": "x"}},
            "extra": 1,
        }),
    );
    assert_eq!((status, body), (200, json!({"decision": true})));
    // A deny's reason and the explanation, when asked for.
    let (_, body) = s.post(
        "/access/v1/evaluation?reasons=true",
        &evaluation("erin", "app.edit", "app", "chatbot"),
    );
    assert_eq!(
        body,
        json!({"decision": false, "context": {"reason_admin": {
            "en": "deny: erin may not `app.edit` on app:chatbot: no role or grant allows it"}}})
    );
    let (_, body) = s.post(
        "/access/v1/evaluation?explain=true",
        &evaluation("carol", "app.edit", "app", "chatbot"),
    );
    assert_eq!(body["decision"], json!(true));
    let explanation = &body["context"]["explanation"];
    assert_eq!(explanation["decision"], "allow");
    assert_eq!(explanation["allowed_by"][0]["role"], "editor");
    // X-Request-ID comes back.
    let r = ureq_agent()
        .post(s.url("/access/v1/evaluation"))
        .header("X-Request-ID", "req-42")
        .send_json(evaluation("carol", "app.edit", "app", "chatbot"))
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-42");
}

#[test]
fn what_cannot_be_asked_is_a_deny_that_says_why() {
    let s = Server::start(&[DIFY]);
    let reason = |body: Value| {
        assert_eq!(body["decision"], json!(false), "{body}");
        body["context"]["reason_admin"]["en"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let cases = [
        (
            evaluation("zed", "app.edit", "app", "chatbot"),
            "unknown principal `zed`",
        ),
        (
            evaluation("carol", "app.fly", "app", "chatbot"),
            "unknown action `app.fly`",
        ),
        (
            evaluation("carol", "app.edit", "app", "nope"),
            "unknown resource `app:nope` (resources are written `type:name`)",
        ),
        (
            evaluation("carol", "app.edit", "user", "alice"),
            "unknown resource type `user`: resource types are the policy's node types; serve another name as one with --resource-type user=TYPE",
        ),
        (
            json!({"subject": {"type": "service_user", "id": "carol"},
                   "action": {"name": "app.edit"}, "resource": {"type": "app", "id": "chatbot"}}),
            "subject `carol` is of type `user`, not `service_user`",
        ),
        (
            json!({"subject": {"type": "user"}, "action": {"name": "app.edit"},
                   "resource": {"type": "app", "id": "chatbot"}}),
            "subject.id is missing",
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = s.post("/access/v1/evaluation", &request);
        assert_eq!(status, 200);
        assert_eq!(reason(body), expected);
    }
    // A name is data: quotes in an id are part of the name, not syntax.
    let (_, body) = s.post(
        "/access/v1/evaluation",
        &evaluation("\"carol\"", "app.edit", "app", "chatbot"),
    );
    assert_eq!(reason(body), "unknown principal `\"\\\"carol\\\"\"`");
}

#[test]
fn a_resource_type_spelled_like_a_principal_kind_is_served_through_a_mapping() {
    let dir = scratch("profiles");
    let policy = dir.join("profiles.policy");
    std::fs::write(
        &policy,
        "type profile\naction profile.view, profile.edit on profile\n\
         role self on profile { profile.view, profile.edit }\n\
         role viewer on profile { profile.view }\n\
         profile alice\nuser alice\nuser bob\n\
         assign self on profile:alice to alice\nassign viewer on profile:alice to bob\n",
    )
    .unwrap();
    let s = Server::start(&[policy.to_str().unwrap(), "--resource-type", "user=profile"]);
    assert_eq!(
        s.evaluate("alice", "profile.edit", ("user", "alice")),
        json!({"decision": true})
    );
    assert_eq!(
        s.evaluate("bob", "profile.edit", ("user", "alice")),
        json!({"decision": false})
    );
    let (_, page) = s.post(
        "/access/v1/search/resource",
        &json!({"subject": {"type": "user", "id": "bob"}, "action": {"name": "profile.view"},
                "resource": {"type": "user"}}),
    );
    assert_eq!(page["results"], json!([{"type": "user", "id": "alice"}]));
}

#[test]
fn a_batch_inherits_its_defaults_and_stops_as_asked() {
    let s = Server::start(&[DIFY]);
    let batch = |semantic: Option<&str>| {
        let mut body = json!({
            "subject": {"type": "user", "id": "carol"},
            "resource": {"type": "app", "id": "chatbot"},
            "evaluations": [
                {"action": {"name": "app.edit"}},
                {"action": {"name": "workspace.billing"}, "resource": {"type": "workspace", "id": "marketing"}},
                {"action": {"name": "app.use"}},
                {"subject": {"type": "user", "id": "erin"}, "action": {"name": "app.edit"}},
            ],
        });
        if let Some(semantic) = semantic {
            body["options"] = json!({"evaluations_semantic": semantic});
        }
        let (status, body) = s.post("/access/v1/evaluations", &body);
        assert_eq!(status, 200, "{body}");
        body
    };
    let decisions = |v: &[bool]| json!({"evaluations": v.iter().map(|&d| json!({"decision": d})).collect::<Vec<_>>()});
    assert_eq!(batch(None), decisions(&[true, false, true, false]));
    assert_eq!(
        batch(Some("execute_all")),
        decisions(&[true, false, true, false])
    );
    assert_eq!(batch(Some("deny_on_first_deny")), decisions(&[true, false]));
    assert_eq!(batch(Some("permit_on_first_permit")), decisions(&[true]));
    // Without items, the request is one evaluation.
    let (_, body) = s.post(
        "/access/v1/evaluations",
        &evaluation("carol", "app.edit", "app", "chatbot"),
    );
    assert_eq!(body, json!({"decision": true}));
    // An item missing a part with no default is a deny that says so.
    let (_, body) = s.post(
        "/access/v1/evaluations",
        &json!({"action": {"name": "app.edit"}, "evaluations": [
            {"resource": {"type": "app", "id": "chatbot"}}]}),
    );
    assert_eq!(
        body,
        json!({"evaluations": [{"decision": false, "context": {"reason_admin": {"en": "subject is missing"}}}]})
    );
    let (status, body) = s.post(
        "/access/v1/evaluations",
        &json!({"evaluations": [], "options": {"evaluations_semantic": "sometimes"}}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("options.evaluations_semantic: unknown variant `sometimes`"),
        "{body}"
    );
}

#[test]
fn searches_answer_who_what_and_which_actions_page_by_page() {
    let s = Server::start(&[DIFY]);
    let snapshot = grantlog::Snapshot::from_paths(&[DIFY]).unwrap();
    let mut expected = snapshot.who_can("app.edit", "app:chatbot").unwrap();
    expected.sort();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = s.post(
            "/access/v1/search/subject",
            &json!({"subject": {"type": "user"}, "action": {"name": "app.edit"},
                    "resource": {"type": "app", "id": "chatbot"},
                    "page": {"token": token, "limit": 2}}),
        );
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert_eq!(page["page"]["total"], json!(expected.len()));
        for r in page["results"].as_array().unwrap() {
            assert_eq!(r["type"], "user");
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        token = page["page"]["next_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, expected.len().div_ceil(2));
    assert!(expected.len() > 2, "the paging is exercised");

    let (_, page) = s.post(
        "/access/v1/search/action",
        &json!({"subject": {"type": "user", "id": "carol"}, "resource": {"type": "app", "id": "chatbot"}}),
    );
    assert_eq!(
        page,
        json!({"results": [{"name": "app.delete"}, {"name": "app.edit"}, {"name": "app.use"}],
               "page": {"next_token": "", "count": 3, "total": 3}})
    );
    let (_, page) = s.post(
        "/access/v1/search/resource",
        &json!({"subject": {"type": "user", "id": "erin"}, "action": {"name": "app.edit"},
                "resource": {"type": "app"}}),
    );
    assert_eq!(page["results"], json!([]));
    let (status, body) = s.post(
        "/access/v1/search/subject",
        &json!({"subject": {"type": "user"}, "action": {"name": "app.edit"},
                "resource": {"type": "app", "id": "chatbot"}, "page": {"token": "zz"}}),
    );
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": {"status": 400, "message": "page.token is not a token this server gave"}})
        )
    );
}

#[test]
fn metadata_health_and_metrics() {
    let s = Server::start(&[DIFY]);
    let (status, text) = s.get("/.well-known/authzen-configuration");
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(meta["policy_decision_point"], json!(s.base));
    assert_eq!(
        meta["access_evaluation_endpoint"],
        json!(s.url("/access/v1/evaluation"))
    );
    assert_eq!(
        meta["search_action_endpoint"],
        json!(s.url("/access/v1/search/action"))
    );
    let revision = grantlog::Snapshot::from_paths(&[DIFY]).unwrap().revision();
    let (status, text) = s.get("/healthz");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(health["status"], "serving");
    assert_eq!(health["revision"], json!(revision));
    s.evaluate("carol", "app.edit", ("app", "chatbot"));
    s.evaluate("erin", "app.edit", ("app", "chatbot"));
    s.evaluate("zed", "app.edit", ("app", "chatbot"));
    let (status, text) = s.get("/metrics");
    assert_eq!(status, 200);
    for line in [
        "grantlog_decisions_total{result=\"allow\"} 1".to_string(),
        "grantlog_decisions_total{result=\"deny\"} 1".to_string(),
        "grantlog_decisions_total{result=\"error\"} 1".to_string(),
        "grantlog_decision_duration_seconds_count 3".to_string(),
        format!("grantlog_snapshot{{revision=\"{revision}\"}} 1"),
        "grantlog_warm_tables{state=\"total\"} 8".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
}

#[test]
fn bad_input_gets_a_400_with_an_error_body() {
    let s = Server::start(&[DIFY, "--max-body", "300"]);
    let raw = |path: &str, body: &str| {
        send(
            ureq_agent()
                .post(s.url(path))
                .content_type("application/json")
                .send(body),
        )
    };
    let (status, body) = raw("/access/v1/evaluation", "{\"subject\": ");
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the body is not a valid request: at subject: EOF while parsing a value"),
        "{body}"
    );
    let (status, body) = raw(
        "/access/v1/evaluation",
        r#"{"subject": {"type": 7, "id": "carol"}}"#,
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at subject.type: invalid type: integer `7`, expected a string"),
        "{body}"
    );
    let big = format!(
        r#"{{"subject": {{"type": "user", "id": "{}"}}}}"#,
        "x".repeat(400)
    );
    let (status, body) = raw("/access/v1/evaluation", &big);
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": {"status": 400, "message":
                "the request body is larger than 300 bytes, or was cut off; send less (--max-body sets the limit)"}})
        )
    );
    let (status, body) = raw("/access/v1/evaluation?explain=maybe", "{}");
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "`explain` takes true or false");
    let (status, body) = raw("/access/v2/evaluation", "{}");
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], 404);
    // The benchmarks' constant answer exists only with --http-floor.
    let (status, _) = raw(
        "/bench/floor",
        &evaluation("erin", "app.edit", "app", "chatbot").to_string(),
    );
    assert_eq!(status, 404);
}

#[test]
fn writes_need_the_token_and_reads_can() {
    let s = Server::start(&[DIFY]);
    let (status, body) = s.post("/v1/facts", &json!({}));
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["message"],
        "writes are disabled: start the server with --token-file FILE to enable them"
    );
    drop(s);

    let dir = scratch("auth");
    let token = token_file(&dir);
    let s = Server::start(&[DIFY, "--token-file", &token]);
    let (status, _) = s.post("/v1/reload", &json!({}));
    assert_eq!(status, 401);
    let (status, body) = s.post_with("/v1/reload", "wrong", &json!({}));
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["message"],
        "send the server's token as `Authorization: Bearer TOKEN`"
    );
    let (status, _) = s.post_with("/v1/reload", "s3cret-token", &json!({}));
    assert_eq!(status, 200);
    // Reads are open unless --protect-reads.
    assert_eq!(
        s.evaluate("carol", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
    drop(s);

    let s = Server::start(&[DIFY, "--token-file", &token, "--protect-reads"]);
    let request = evaluation("carol", "app.edit", "app", "chatbot");
    let r = ureq_agent()
        .post(s.url("/access/v1/evaluation"))
        .send_json(&request)
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (status, body) = s.post_with("/access/v1/evaluation", "s3cret-token", &request);
    assert_eq!((status, body), (200, json!({"decision": true})));
    assert_eq!(s.get("/healthz").0, 200);
}

fn user_batch(name: &str) -> Value {
    json!({"add": {
        "users": [{"name": name, "in": ["team:acme"]}],
        "assignments": [{"role": "editor", "on": "workspace:marketing", "to": {"user": name}}],
    }})
}

#[test]
fn facts_apply_all_or_nothing() {
    let dir = scratch("facts");
    let token = token_file(&dir);
    let s = Server::start(&[DIFY, "--token-file", &token]);
    let before = s.get("/healthz").1;
    let (status, body) = s.post_with("/v1/facts", "s3cret-token", &user_batch("newbie"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["principals_affected"], json!(1));
    assert_ne!(
        body["revision"],
        serde_json::from_str::<Value>(&before).unwrap()["revision"]
    );
    assert_eq!(
        s.evaluate("newbie", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
    // One bad fact rejects the whole batch.
    let (status, body) = s.post_with(
        "/v1/facts",
        "s3cret-token",
        &json!({"add": {
            "users": [{"name": "half", "in": ["team:acme"]}],
            "assignments": [{"role": "wizard", "on": "workspace:marketing", "to": {"user": "half"}}],
        }}),
    );
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the batch was not applied (nothing changed):"),
        "{message}"
    );
    assert!(message.contains("unknown role `wizard`"), "{message}");
    assert_eq!(
        s.evaluate("half", "app.use", ("app", "chatbot"))["decision"],
        json!(false)
    );
    // Facts are data: a field that is not one is refused, not read.
    let (status, body) = s.post_with(
        "/v1/facts",
        "s3cret-token",
        &json!({"add": {"rules": "assign owner on workspace:marketing to newbie"}}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `rules`"),
        "{body}"
    );
    // Removal.
    let (status, _) = s.post_with(
        "/v1/facts",
        "s3cret-token",
        &json!({"remove": {"users": [{"name": "newbie"}]}}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        s.evaluate("newbie", "app.edit", ("app", "chatbot"))["decision"],
        json!(false)
    );
    let metrics = s.get("/metrics").1;
    assert!(
        metrics.contains("grantlog_updates_total{result=\"applied\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("grantlog_updates_total{result=\"rejected\"} 1"),
        "{metrics}"
    );
}

#[test]
fn a_reload_rereads_the_policy_and_keeps_posted_facts() {
    let dir = scratch("reload");
    let token = token_file(&dir);
    let policy = dir.join("dify.policy");
    let text = std::fs::read_to_string(DIFY).unwrap();
    std::fs::write(&policy, &text).unwrap();
    let state = dir.join("state");
    let s = Server::start(&[
        policy.to_str().unwrap(),
        "--token-file",
        &token,
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let (status, _) = s.post_with("/v1/facts", "s3cret-token", &user_batch("posted"));
    assert_eq!(status, 200);
    std::fs::write(
        &policy,
        format!("{text}\nuser added in team:acme\nassign editor on workspace:marketing to added\n"),
    )
    .unwrap();
    let (status, body) = s.post_with("/v1/reload", "s3cret-token", &json!({}));
    assert_eq!(status, 200, "{body}");
    for who in ["added", "posted"] {
        assert_eq!(
            s.evaluate(who, "app.edit", ("app", "chatbot")),
            json!({"decision": true}),
            "{who}"
        );
    }
    // A broken policy: the reload fails, says why, and the old one serves.
    let serving = body["revision"].as_str().unwrap().to_string();
    std::fs::write(&policy, format!("{text}\nassign nobody on\n")).unwrap();
    let (status, body) = s.post_with("/v1/reload", "s3cret-token", &json!({}));
    assert_eq!(status, 422);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "the reload failed; still serving revision {serving}:"
        )),
        "{message}"
    );
    assert!(message.contains("dify.policy:"), "{message}");
    assert_eq!(
        s.evaluate("added", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
    // SIGHUP reloads too.
    std::fs::write(&policy, format!("{text}\nuser hupped in team:acme\n")).unwrap();
    s.signal("HUP");
    // The new snapshot serves, and the server says so on stderr (the line
    // can reach the reader a moment after the swap).
    let logged = |s: &Server| {
        s.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("grantlog: reloaded on SIGHUP; serving revision "))
    };
    let mut reloaded = false;
    for _ in 0..200 {
        let serving = s.evaluate("hupped", "app.use", ("app", "chatbot"))["context"].is_null();
        if serving && logged(&s) {
            reloaded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(reloaded, "{:?}", s.stderr.lock().unwrap());
    // `added` is gone with the line that declared it; `posted` stays.
    assert_eq!(
        s.evaluate("posted", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
}

#[test]
fn updates_and_reloads_during_evaluations_never_show_half_a_batch() {
    let dir = scratch("concurrent");
    let token = token_file(&dir);
    let s = Arc::new(Server::start(&[DIFY, "--token-file", &token]));
    let batches = 40;
    let writer = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            for i in 0..batches {
                let (status, body) =
                    s.post_with("/v1/facts", "s3cret-token", &user_batch(&format!("c{i}")));
                assert_eq!(status, 200, "{body}");
                if i % 10 == 0 {
                    let (status, body) = s.post_with("/v1/reload", "s3cret-token", &json!({}));
                    assert_eq!(status, 200, "{body}");
                }
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut answered = 0;
                for k in 0..400 {
                    let i = (k * 7 + r) % batches;
                    // Before its batch: unknown. After: allowed. A known user
                    // who is denied would be half a batch.
                    let (status, body) = s.post(
                        "/access/v1/evaluation",
                        &evaluation(&format!("c{i}"), "app.edit", "app", "chatbot"),
                    );
                    assert_eq!(status, 200, "{body}");
                    match body["decision"].as_bool().unwrap() {
                        true => assert_eq!(body, json!({"decision": true})),
                        false => assert_eq!(
                            body["context"]["reason_admin"]["en"],
                            json!(format!("unknown principal `c{i}`"))
                        ),
                    }
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        assert_eq!(r.join().unwrap(), 400);
    }
    for i in 0..batches {
        assert_eq!(
            s.evaluate(&format!("c{i}"), "app.edit", ("app", "chatbot")),
            json!({"decision": true})
        );
    }
}

#[test]
fn acknowledged_batches_survive_sigkill_and_unacknowledged_ones_are_never_half_applied() {
    let dir = scratch("crash");
    let token = token_file(&dir);
    let state = dir.join("state");
    let args = [
        DIFY,
        "--token-file",
        &token,
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let s = Arc::new(Server::start(&args));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let streamer = {
        let (s, acked) = (Arc::clone(&s), Arc::clone(&acked));
        std::thread::spawn(move || {
            for i in 0.. {
                let name = format!("k{i}");
                let r = ureq_agent()
                    .post(s.url("/v1/facts"))
                    .header("Authorization", "Bearer s3cret-token")
                    .send_json(user_batch(&name));
                match r {
                    Ok(r) if r.status() == 200 => acked.lock().unwrap().push(name),
                    _ => return i, // the server is gone
                }
            }
            unreachable!()
        })
    };
    while acked.lock().unwrap().len() < 25 {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.signal("KILL");
    let sent = streamer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    drop(s);
    let s = Server::start(&args);
    for name in &acked {
        assert_eq!(
            s.evaluate(name, "app.edit", ("app", "chatbot")),
            json!({"decision": true}),
            "acknowledged {name} was lost"
        );
    }
    // The batch in flight at the kill is whole or absent.
    let in_flight = format!("k{sent}");
    let body = s.evaluate(&in_flight, "app.edit", ("app", "chatbot"));
    assert!(
        body == json!({"decision": true})
            || body["context"]["reason_admin"]["en"]
                == json!(format!("unknown principal `{in_flight}`")),
        "{body}"
    );
    // The revision is what replaying the same batches gives.
    let (_, health) = s.get("/healthz");
    let first: Value = serde_json::from_str(&health).unwrap();
    drop(s);
    let s = Server::start(&args);
    let (_, health) = s.get("/healthz");
    let second: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(first["revision"], second["revision"]);
}

#[test]
fn a_torn_log_record_is_dropped_with_a_message() {
    let dir = scratch("torn");
    let token = token_file(&dir);
    let state = dir.join("state");
    let args = [
        DIFY,
        "--token-file",
        &token,
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let s = Server::start(&args);
    for name in ["t1", "t2"] {
        assert_eq!(
            s.post_with("/v1/facts", "s3cret-token", &user_batch(name))
                .0,
            200
        );
    }
    drop(s);
    let log = state.join("facts.log");
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let s = Server::start(&args);
    let said = s.stderr.lock().unwrap().join("\n");
    assert!(
        said.contains("facts.log`: dropped a torn last record ("),
        "{said}"
    );
    assert_eq!(
        s.evaluate("t1", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
    assert_eq!(
        s.evaluate("t2", "app.edit", ("app", "chatbot"))["decision"],
        json!(false)
    );
    drop(s);
    // A damaged whole record is not a crash's doing: the server refuses.
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[12] ^= 0x01;
    std::fs::write(&log, bytes).unwrap();
    let said = Server::try_start(&args).err().expect("refuses to start");
    assert!(
        said.contains("record 1 (offset 0) is damaged: its checksum does not match"),
        "{said}"
    );
}

#[test]
fn the_decision_log_records_each_decision_with_the_revision() {
    let dir = scratch("decisions");
    let log = dir.join("decisions.jsonl");
    let s = Server::start(&[DIFY, "--decision-log", log.to_str().unwrap()]);
    s.evaluate("carol", "app.edit", ("app", "chatbot"));
    s.evaluate("erin", "app.edit", ("app", "chatbot"));
    let revision = grantlog::Snapshot::from_paths(&[DIFY]).unwrap().revision();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[0]["revision"], json!(revision));
    assert_eq!(
        lines[0]["request"],
        json!({"principal": "carol", "action": "app.edit", "resource": "app:chatbot"})
    );
    assert_eq!(lines[0]["rules"][0]["role"], "editor");
    assert_eq!(lines[1]["decision"], "deny");
}

#[test]
fn the_request_context_and_declared_properties_reach_conditions() {
    // Dagster+: service users act only through API tokens (`context.via`).
    let s = Server::start(&["policies/dagster-plus.policy"]);
    let base = json!({
        "subject": {"type": "service_user", "id": "ci-bot"},
        "action": {"name": "runs.launch"},
        "resource": {"type": "deployment", "id": "prod"},
    });
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        s.post("/access/v1/evaluation", &body).1
    };
    assert_eq!(with(json!({})), json!({"decision": false}));
    assert_eq!(
        with(json!({"context": {"via": "api_token"}})),
        json!({"decision": true})
    );
    // A declared context key may come as a subject property.
    assert_eq!(
        with(
            json!({"subject": {"type": "service_user", "id": "ci-bot", "properties": {"via": "api_token"}}})
        ),
        json!({"decision": true})
    );
    let body = with(json!({
        "subject": {"type": "service_user", "id": "ci-bot", "properties": {"via": "api_token"}},
        "context": {"via": "ui"},
    }));
    assert_eq!(
        body["context"]["reason_admin"]["en"],
        "subject.properties.via disagrees with context.via"
    );
    assert_eq!(body["decision"], json!(false));
}

#[test]
fn the_readme_curl_examples_answer_what_the_readme_shows() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let blocks = crate::common::readme_blocks(&readme);
    let s = Server::start(&[DIFY]);
    let mut checked = 0;
    for pair in blocks.windows(2) {
        let [("sh", command), ("json", expected)] = pair else {
            continue;
        };
        let Some(rest) = command.trim().strip_prefix("curl -s ") else {
            continue;
        };
        let (target, body) = rest.split_once(" \\\n  -d ").expect("curl URL \\ -d BODY");
        let path = target
            .trim_matches('\'')
            .strip_prefix("localhost:8181")
            .expect("the README's server address");
        let body = body.trim().trim_matches('\'');
        let mut r = ureq_agent()
            .post(s.url(path))
            .content_type("application/json")
            .send(body)
            .unwrap();
        assert_eq!(
            r.body_mut().read_to_string().unwrap(),
            expected.trim_end(),
            "README example `curl {path}` answers something else"
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "every curl example is checked");
}

#[test]
fn a_compacted_log_restarts_to_the_same_facts_and_revision() {
    let dir = scratch("compact");
    let token = token_file(&dir);
    let state = dir.join("state");
    let args = [
        DIFY,
        "--token-file",
        &token,
        "--state-dir",
        state.to_str().unwrap(),
        "--compact-after",
        "3",
    ];
    let s = Server::start(&args);
    let batches = [
        user_batch("n1"),
        user_batch("n2"),
        // A base user restated, a base membership and assignment removed,
        // a base user removed with every fact about it, one posted user
        // removed again.
        json!({"add": {"users": [{"name": "frank", "in": ["team:acme"], "status": "banned"}]}}),
        json!({"remove": {
            "memberships": [{"member": {"user": "bob"}, "group": "support"}],
            "assignments": [{"role": "normal", "on": "workspace:research", "to": {"user": "carol"}}],
            "users": [{"name": "erin"}, {"name": "n1"}],
        }}),
        json!({"add": {"memberships": [{"member": {"user": "n2"}, "group": "content"}]}}),
    ];
    for b in &batches {
        let (status, body) = s.post_with("/v1/facts", "s3cret-token", b);
        assert_eq!(status, 200, "{body}");
    }
    let mut compacted = false;
    for _ in 0..400 {
        if s.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("batches into one"))
        {
            compacted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(compacted, "{:?}", s.stderr.lock().unwrap());
    let questions = [
        ("n1", "app.edit", "app", "chatbot"),
        ("n2", "app.edit", "app", "chatbot"),
        ("frank", "workspace.billing", "workspace", "research"),
        ("bob", "app.edit", "app", "chatbot"),
        ("carol", "app.use", "app", "summarizer"),
        ("erin", "app.use", "app", "chatbot"),
        ("carol", "app.edit", "app", "chatbot"),
    ];
    let answers = |s: &Server| -> Vec<Value> {
        questions
            .iter()
            .map(|&(p, a, t, n)| s.evaluate(p, a, (t, n)))
            .collect()
    };
    let before = answers(&s);
    assert_eq!(
        before
            .iter()
            .map(|a| a["decision"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [false, true, false, false, false, false, true]
    );
    let revision = serde_json::from_str::<Value>(&s.get("/healthz").1).unwrap()["revision"].clone();
    drop(s);
    let records = std::fs::read(state.join("facts.log")).unwrap();
    assert!(records.len() < 2_000, "the log is one batch, not five");
    let s = Server::start(&args);
    assert_eq!(answers(&s), before);
    let health: Value = serde_json::from_str(&s.get("/healthz").1).unwrap();
    assert_eq!(health["revision"], revision);
    // And the log takes batches after its compacted record.
    let (status, _) = s.post_with("/v1/facts", "s3cret-token", &user_batch("n3"));
    assert_eq!(status, 200);
    drop(s);
    let s = Server::start(&args);
    assert_eq!(
        s.evaluate("n3", "app.edit", ("app", "chatbot")),
        json!({"decision": true})
    );
}

#[test]
fn sigterm_stops_the_server_after_the_requests_in_flight() {
    let mut s = Server::start(&[DIFY]);
    s.evaluate("carol", "app.edit", ("app", "chatbot"));
    s.signal("TERM");
    let mut status = None;
    for _ in 0..200 {
        if let Some(done) = s.child.try_wait().unwrap() {
            status = Some(done);
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let status = status.expect("the server stops within 5 s");
    assert!(status.success(), "{status}");
    std::thread::sleep(Duration::from_millis(50));
    assert!(s
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l == "grantlog: stopping; finishing the requests in flight"));
}
