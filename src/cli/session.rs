//! An interactive session over a policy: the REPL's engine, without a
//! terminal. Each input line is a question (`alice app.edit app:chat?`,
//! `why ...`, `who-can ...`), a `:command`, or policy text (facts or rules)
//! that is added to the session and takes effect at once, on a new snapshot.
//! A line that fails leaves the session exactly as it was.
//!
//! Typed statements are applied as live updates ([`crate::eval::update`]),
//! so that a session over a large organisation answers at once. A session
//! still means its files plus every statement typed, read as one policy:
//! where an update would read a statement differently (it restates an
//! existing user, declares actions) or rejects it, the session is rebuilt
//! from its files and statements, which gives the whole-policy answer.

use crate::compile::limits::Limits;
use crate::error::{Error, LoadError};
use crate::eval::snapshot::Snapshot;
use crate::eval::update;
use crate::source::Sources;
use crate::syntax;
use crate::syntax::ast::{PolicyFile, Statement};
use std::fmt::Write;
use std::path::PathBuf;

/// Commands and their argument synopsis, for help, completion and hints.
pub const COMMANDS: &[(&str, &str)] = &[
    ("check", "PRINCIPAL ACTION RESOURCE"),
    ("why", "PRINCIPAL ACTION RESOURCE"),
    ("why-not", "PRINCIPAL ACTION RESOURCE"),
    ("who-can", "ACTION RESOURCE"),
    ("what-can", "PRINCIPAL [NODE]"),
    ("roles", "PRINCIPAL NODE"),
    ("retract", "STATEMENT"),
    (":context", "[JSON | clear]"),
    (":load", "PATH..."),
    (":reload", ""),
    (":facts", ""),
    (":rules", ""),
    (":session", ""),
    (":help", ""),
    (":quit", ""),
];

/// The session: policy files, statements typed so far, and the snapshot of
/// both.
pub struct Session {
    files: Vec<PathBuf>,
    additions: Vec<String>,
    snapshot: Snapshot,
    /// The context of every question asked (`:context`).
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What a line did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Text to print.
    Output(String),
    /// An error to print; the session is unchanged.
    Error(String),
    /// The user asked to leave.
    Quit,
}

impl Session {
    /// A session over policy files (possibly none).
    pub fn new(files: Vec<PathBuf>) -> Result<Session, Error> {
        let snapshot = build(&files, &[])?;
        Ok(Session {
            files,
            additions: Vec::new(),
            snapshot,
            context: None,
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Whether `input` is complete, or needs more lines (an open `{`).
    pub fn is_complete(input: &str) -> bool {
        let mut depth = 0i32;
        let mut in_string = false;
        let mut escaped = false;
        for line in input.lines() {
            for c in line.chars() {
                match c {
                    '\\' if in_string && !escaped => {
                        escaped = true;
                        continue;
                    }
                    '"' if !escaped => in_string = !in_string,
                    '#' if !in_string => break,
                    '{' if !in_string => depth += 1,
                    '}' if !in_string => depth -= 1,
                    _ => {}
                }
                escaped = false;
            }
            in_string = false;
        }
        depth <= 0
    }

    /// Runs one (possibly multi-line) input. Output and error texts end
    /// with a line break.
    pub fn execute(&mut self, input: &str) -> Outcome {
        match self.dispatch(input) {
            Outcome::Error(mut e) if !e.ends_with('\n') => {
                e.push('\n');
                Outcome::Error(e)
            }
            other => other,
        }
    }

    fn dispatch(&mut self, input: &str) -> Outcome {
        let line = input.trim();
        if line.is_empty() || line.starts_with('#') {
            return Outcome::Output(String::new());
        }
        let words = words(line);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let args = &words[1..];
        match words[0] {
            ":quit" | ":q" | ":exit" => Outcome::Quit,
            ":help" | ":h" | "help" => Outcome::Output(help()),
            ":load" => self.load(args),
            ":context" => self.set_context(line[":context".len()..].trim()),
            ":reload" => self.rebuild(self.files.clone(), self.additions.clone(), "reloaded"),
            ":facts" => Outcome::Output(self.facts()),
            ":rules" => Outcome::Output(self.rules()),
            ":session" => Outcome::Output(self.additions.iter().enumerate().fold(
                String::new(),
                |mut out, (i, a)| {
                    let _ = writeln!(out, "{:>3}  {a}", i + 1);
                    out
                },
            )),
            "check" => self.ask(args, Ask::Check),
            "why" => self.ask(args, Ask::Why),
            "why-not" => self.ask(args, Ask::WhyNot),
            "who-can" => self.who_can(args),
            "what-can" => self.what_can(args),
            "roles" => self.roles(args),
            "retract" => self.retract(line["retract".len()..].trim()),
            _ if words.len() == 3 && words[2].ends_with('?') => {
                let last = words[2].trim_end_matches('?');
                self.ask(&[words[0], words[1], last], Ask::Check)
            }
            w if w.starts_with(':') => Outcome::Error(format!("unknown command `{w}`; type :help")),
            _ => self.add(line),
        }
    }

    fn ask(&self, args: &[&str], ask: Ask) -> Outcome {
        let [p, a, r] = args else {
            return Outcome::Error(
                "expected PRINCIPAL ACTION RESOURCE, e.g. `why alice app.edit app:chatbot`".into(),
            );
        };
        let mut request = crate::Request::new(*p, *a, *r);
        request.context = self.context.clone();
        let why = self.snapshot.explain_request(&request);
        match ask {
            Ask::Check => {
                let first = why
                    .denied_by
                    .first()
                    .or(why.allowed_by.first())
                    .map(|r| format!("  ({})", r.title))
                    .or_else(|| {
                        why.missing
                            .as_ref()
                            .map(|m| format!("  (missing: {})", m.hint))
                    })
                    .or_else(|| why.error.as_ref().map(|e| format!("  ({e})")))
                    .unwrap_or_default();
                Outcome::Output(format!("{}{first}\n", why.decision))
            }
            Ask::Why => Outcome::Output(format!("{why}\n")),
            Ask::WhyNot if why.decision == crate::Effect::Allow => {
                Outcome::Output(format!("it is allowed:\n{why}\n"))
            }
            Ask::WhyNot => Outcome::Output(format!("{why}\n")),
        }
    }

    fn who_can(&self, args: &[&str]) -> Outcome {
        let [a, r] = args else {
            return Outcome::Error(
                "expected ACTION RESOURCE, e.g. `who-can app.edit app:chatbot`".into(),
            );
        };
        match self.snapshot.who_can_in(a, r, self.context.as_ref(), false) {
            Ok(rows) if rows.is_empty() => Outcome::Output(format!("nobody may {a} on {r}\n")),
            Ok(rows) => Outcome::Output(crate::query::render_allowed(&rows)),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }

    fn what_can(&self, args: &[&str]) -> Outcome {
        let (p, node) = match args {
            [p] => (*p, None),
            [p, n] => (*p, Some(*n)),
            _ => return Outcome::Error("expected PRINCIPAL [NODE]".into()),
        };
        match self.snapshot.what_can_in(p, node, self.context.as_ref()) {
            Ok(perms) if perms.is_empty() => Outcome::Output(format!("{p} may do nothing here\n")),
            Ok(perms) => Outcome::Output(perms.into_iter().fold(String::new(), |mut out, x| {
                let mark = if x.conditional { "  (conditional)" } else { "" };
                let _ = writeln!(out, "{}  {}{mark}", x.node, x.action);
                out
            })),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }

    /// `:context` shows the context questions are asked in; `:context
    /// JSON` sets it (checked against the policy's `context` keys);
    /// `:context clear` empties it.
    fn set_context(&mut self, text: &str) -> Outcome {
        match text {
            "" => Outcome::Output(match &self.context {
                Some(c) => format!("{}\n", serde_json::Value::Object(c.clone())),
                None => "no context: questions are asked with `context.now` only\n".into(),
            }),
            "clear" => {
                self.context = None;
                Outcome::Output("context cleared\n".into())
            }
            json => match serde_json::from_str::<serde_json::Value>(json) {
                Ok(serde_json::Value::Object(map)) => {
                    let check =
                        crate::eval::condition::Context::read(self.snapshot.model(), Some(&map));
                    match check {
                        Ok(_) => {
                            self.context = Some(map);
                            Outcome::Output("context set\n".into())
                        }
                        Err(e) => Outcome::Error(format!("{e}; the context is unchanged")),
                    }
                }
                Ok(_) => Outcome::Error(
                    "the context is a JSON object, e.g. :context {\"via\": \"ui\"}".into(),
                ),
                Err(e) => Outcome::Error(format!("not JSON: {e}")),
            },
        }
    }

    fn roles(&self, args: &[&str]) -> Outcome {
        let [p, n] = args else {
            return Outcome::Error("expected PRINCIPAL NODE".into());
        };
        match self.snapshot.roles(p, n) {
            Some(roles) => Outcome::Output(roles.to_string()),
            None => Outcome::Error(format!("unknown principal `{p}` or node `{n}`")),
        }
    }

    fn load(&mut self, args: &[&str]) -> Outcome {
        if args.is_empty() {
            return Outcome::Error(
                "expected one or more paths: `:load policies/dify.policy`".into(),
            );
        }
        let mut files = self.files.clone();
        files.extend(args.iter().map(PathBuf::from));
        self.rebuild(files, self.additions.clone(), "loaded")
    }

    /// Adds policy text typed into the session.
    fn add(&mut self, text: &str) -> Outcome {
        let first = text.split_whitespace().next().unwrap_or("");
        let m = self.snapshot.model();
        if !syntax::STATEMENT_STARTS.contains(&first) && !m.names.types.contains_key(first) {
            return Outcome::Error(format!(
                "`{first}` is not a command, a question (`PRINCIPAL ACTION RESOURCE?`) or a statement; type :help\n"
            ));
        }
        let mut sources = m.sources.clone();
        let file = sources.add(format!("<input {}>", self.additions.len() + 1), text);
        let add = match syntax::parse(file, text) {
            Ok(add) => add,
            Err(d) => {
                return Outcome::Error(unchanged(LoadError::new(sources, vec![d]).render(false)))
            }
        };
        if let Some(snapshot) = self.extended(sources, &add) {
            self.additions.push(text.to_string());
            self.snapshot = snapshot;
            return Outcome::Output("ok\n".into());
        }
        let mut additions = self.additions.clone();
        additions.push(text.to_string());
        self.rebuild(self.files.clone(), additions, "ok")
    }

    /// The snapshot with `add` (the last file of `sources`) applied as a
    /// live update, if the update reads it as loading the whole session
    /// afresh would and accepts it.
    fn extended(&self, sources: Sources, add: &PolicyFile) -> Option<Snapshot> {
        let m = self.snapshot.model();
        // An update restates a user it already knows; a policy file, and so
        // a session, calls that a duplicate. (Action declarations the update
        // rejects itself.)
        let mut declared = std::collections::HashSet::new();
        let restates = add.items.iter().any(|item| match &item.statement {
            Statement::Principal { name, .. } => {
                !declared.insert(name.text.as_str())
                    || m.names.principals.contains_key(name.text.as_str())
            }
            _ => false,
        });
        if restates {
            return None;
        }
        let removed = PolicyFile::default();
        update::apply(&self.snapshot, sources, add, &removed, &Limits::default())
            .ok()
            .map(|(next, _)| next)
    }

    fn retract(&mut self, text: &str) -> Outcome {
        let canonical = |t: &str| syntax::format(t).map(|f| f.trim().to_string()).ok();
        let Some(target) = canonical(text) else {
            return Outcome::Error(format!("`{text}` is not a statement"));
        };
        // A statement typed before, or the declaration of the user, group or
        // node it names (`retract user mal` takes back `user mal in ...`).
        let declared = |t: &str| declaration(t);
        let Some(i) = self
            .additions
            .iter()
            .rposition(|a| canonical(a).as_deref() == Some(&target))
            .or_else(|| {
                let key = declared(text)?;
                self.additions
                    .iter()
                    .rposition(|a| declared(a).as_ref() == Some(&key))
            })
        else {
            return Outcome::Error(format!(
                "`{target}` was not added in this session (see :session); statements from files are changed in the files"
            ));
        };
        let mut additions = self.additions.clone();
        let taken = additions.remove(i);
        match self.rebuild(self.files.clone(), additions, "retracted") {
            Outcome::Error(e) => Outcome::Error(format!(
                "cannot retract `{}`: what is left of the session does not load without it\n{e}",
                crate::error::short(taken.trim())
            )),
            done => done,
        }
    }

    fn rebuild(&mut self, files: Vec<PathBuf>, additions: Vec<String>, done: &str) -> Outcome {
        match build(&files, &additions) {
            Ok(snapshot) => {
                self.files = files;
                self.additions = additions;
                self.snapshot = snapshot;
                Outcome::Output(format!("{done}\n"))
            }
            Err(Error::Load(e)) => Outcome::Error(unchanged(e.render(false))),
            Err(e) => Outcome::Error(format!("error: {e}\n")),
        }
    }

    fn facts(&self) -> String {
        let m = self.snapshot.model();
        let mut out = String::new();
        for p in &m.principals {
            let _ = writeln!(out, "{}", m.locate(p.fact).text);
        }
        for g in &m.groups {
            let _ = writeln!(out, "{}", m.locate(g.fact).text);
        }
        for n in &m.nodes {
            let _ = writeln!(out, "{}", m.locate(n.fact).text);
        }
        let mut seen = Vec::new();
        let facts = m
            .assignments()
            .map(|a| a.fact)
            .chain(m.grants().map(|g| g.fact))
            .chain(m.memberships().map(|x| x.fact));
        for f in facts {
            let loc = m.locate(f);
            if !seen.contains(&loc) && !loc.text.starts_with("group ") {
                let _ = writeln!(out, "{}", loc.text);
                seen.push(loc);
            }
        }
        out
    }

    fn rules(&self) -> String {
        let m = self.snapshot.model();
        let mut out = String::new();
        for t in &m.types {
            let loc = m.sources.locate(t.span);
            let _ = writeln!(out, "{}", loc.text);
        }
        for r in &m.roles {
            let _ = writeln!(out, "{}", m.locate(r.actions_fact).text);
        }
        let mut seen = Vec::new();
        let facts = m
            .defaults
            .iter()
            .map(|d| d.fact)
            .chain(m.creator_rules.iter().map(|c| c.fact))
            .chain(m.denies().map(|d| d.fact));
        let constraints = m.constraints.iter().map(|c| match c {
            crate::compile::model::Constraint::Holders { fact, .. }
            | crate::compile::model::Constraint::NoGroups { fact, .. } => *fact,
        });
        for f in facts.chain(constraints) {
            let loc = m.locate(f);
            if !seen.contains(&loc) {
                let _ = writeln!(out, "{}", loc.text);
                seen.push(loc);
            }
        }
        out
    }

    /// Words to complete: commands, keywords and every name in the policy.
    pub fn vocabulary(&self) -> Vec<String> {
        let m = self.snapshot.model();
        let mut words: Vec<String> = COMMANDS.iter().map(|(c, _)| c.to_string()).collect();
        words.extend(
            [
                "assign",
                "grant",
                "deny",
                "user",
                "group",
                "add",
                "to",
                "on",
                "everyone",
                "when",
                "unless",
                "principal",
            ]
            .map(String::from),
        );
        words.extend(m.context_keys.keys().map(|k| format!("context.{k}")));
        words.push("context.now".into());
        words.extend(m.node_attributes.keys().map(|k| format!("resource.{k}")));
        words.extend(
            m.declared_attributes
                .iter()
                .chain(m.attribute_types.keys())
                .map(|k| format!("principal.{k}")),
        );
        words.extend(
            m.principals
                .iter()
                .map(|p| crate::syntax::names::quote(&p.name)),
        );
        words.extend(
            m.groups
                .iter()
                .map(|g| crate::syntax::names::quote(&g.name)),
        );
        words.extend(m.roles.iter().map(|r| r.name.clone()));
        words.extend(m.actions.iter().cloned());
        words
            .extend((0..m.nodes.len() as u32).map(|n| m.node_name(crate::compile::ids::NodeId(n))));
        words.sort();
        words.dedup();
        words
    }
}

/// An error report's closing line, as it reads in a session.
fn unchanged(report: String) -> String {
    report.replace("nothing was loaded", "the session is unchanged")
}

#[derive(Clone, Copy)]
enum Ask {
    Check,
    Why,
    WhyNot,
}

fn build(files: &[PathBuf], additions: &[String]) -> Result<Snapshot, Error> {
    let mut sources = crate::read_paths(files)?;
    for (i, a) in additions.iter().enumerate() {
        sources.add(format!("<input {}>", i + 1), a.clone());
    }
    Ok(Snapshot::from_sources(sources)?)
}

fn help() -> String {
    let mut out = String::from(
        "Ask a question, type policy statements (they take effect at once), or use a command.\n\n  alice app.edit app:chatbot?      decision and its main reason\n",
    );
    for (c, args) in COMMANDS {
        let _ = writeln!(out, "  {:<32} ", format!("{c} {args}"));
    }
    out.push_str("\nStatements: assign ROLE on NODE to WHO, grant ..., deny ..., user NAME ..., group NAME { ... }, add WHO to group NAME\n");
    out.lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

/// The words of a REPL line: split at white space outside quoted names
/// (`app:"lead scorer"` is one word, quotes kept), up to a `#` comment.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        if quoted {
            cur.push(c);
            match c {
                '\\' if !escaped => {
                    escaped = true;
                    continue;
                }
                '"' if !escaped => quoted = false,
                _ => {}
            }
            escaped = false;
            continue;
        }
        match c {
            '#' => break,
            '"' => {
                quoted = true;
                cur.push(c);
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What a user, group or node declaration declares (`user mal`, `group
/// ops`, `app:chatbot`), for retracting it by name.
fn declaration(text: &str) -> Option<(String, String)> {
    let file = syntax::parse(0, text).ok()?;
    let [item] = file.items.as_slice() else {
        return None;
    };
    match &item.statement {
        Statement::Principal { name, .. } => Some(("user".into(), name.text.clone())),
        Statement::Group { name, .. } => Some(("group".into(), name.text.clone())),
        Statement::Node { ty, name, .. } => Some((ty.text.clone(), name.text.clone())),
        _ => None,
    }
}
