//! A live policy for a service: the current [`Snapshot`], replaced
//! atomically. Checks take no lock and always see one whole snapshot: a
//! reader holds the snapshot it started with until it is done, and a
//! replacement never mutates a snapshot in place.
//!
//! ```
//! use grantlog::{Engine, Snapshot};
//! let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"])?);
//! assert!(!engine.check("erin", "app.edit", "app:chatbot").is_allowed());
//! engine.apply("assign editor on workspace:marketing to erin")?;
//! assert!(engine.check("erin", "app.edit", "app:chatbot").is_allowed());
//! // A batch that breaks a rule is rejected whole; the old snapshot serves on.
//! assert!(engine.apply("assign owner on workspace:marketing to erin").is_err());
//! assert!(!engine.check("erin", "workspace.billing", "workspace:marketing").is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::compile::ids::{PrincipalId, SubjectId};
use crate::decision::{Decision, Effect, Request};
use crate::error::LoadError;
use crate::eval::snapshot::Snapshot;
use crate::load::{parse_sources, Limits};
use crate::source::Sources;
use crate::syntax::ast::{self, PolicyFile, Statement};
use arc_swap::ArcSwap;
use rustc_hash::FxHashSet;
use serde::Serialize;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Receives one JSON line per decision made through an [`Engine`].
///
/// Any `Fn(&str) + Send + Sync` is a decision log; so is a `Mutex` around a
/// writer, through [`WriterLog`].
pub trait DecisionLog: Send + Sync {
    /// Records one decision, as one line of JSON (no line break).
    fn record(&self, line: &str);
}

impl<F: Fn(&str) + Send + Sync> DecisionLog for F {
    fn record(&self, line: &str) {
        self(line)
    }
}

/// A decision log that writes lines to a writer (a file, a socket).
pub struct WriterLog<W: Write + Send>(pub Mutex<W>);

impl<W: Write + Send> DecisionLog for WriterLog<W> {
    fn record(&self, line: &str) {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // A log that cannot be written must not change the decision.
        let _ = writeln!(w, "{line}");
    }
}

/// One decision log line.
#[derive(Serialize)]
struct LogLine<'a> {
    /// Milliseconds since the Unix epoch.
    time_ms: u128,
    /// The snapshot's [`Snapshot::revision`].
    revision: String,
    request: Request,
    decision: Effect,
    /// The rules and facts that decided, with their places.
    rules: Vec<LogRule<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a crate::RequestError>,
}

#[derive(Serialize)]
struct LogRule<'a> {
    via: crate::Via,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

/// The current snapshot of a policy, swappable while readers check.
pub struct Engine {
    current: ArcSwap<Snapshot>,
    /// Serialises writers (readers never take it), and keeps the parsed
    /// files of the current policy so that an update parses only its batch.
    writer: Mutex<Option<Vec<Arc<PolicyFile>>>>,
    log: Option<Box<dyn DecisionLog>>,
}

impl Engine {
    /// An engine serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Engine {
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(None),
            log: None,
        }
    }

    /// Sends every decision from now on to `log`, as a JSON line with the
    /// time, the request, the decision, the deciding rules (file:line and
    /// text) and the policy revision. Logged checks also compute the
    /// explanation, so they cost what `explain` costs.
    ///
    /// ```
    /// use grantlog::{Engine, Snapshot};
    /// use std::sync::{Arc, Mutex};
    /// let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    /// let sink = Arc::clone(&lines);
    /// let mut engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"])?);
    /// engine.set_decision_log(move |line: &str| sink.lock().unwrap().push(line.to_string()));
    /// engine.check("carol", "app.edit", "app:chatbot");
    /// let line: serde_json::Value = serde_json::from_str(&lines.lock().unwrap()[0])?;
    /// assert_eq!(line["decision"], "allow");
    /// assert_eq!(line["rules"][0]["role"], "editor");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_decision_log(&mut self, log: impl DecisionLog + 'static) {
        self.log = Some(Box::new(log));
    }

    /// The snapshot serving now. Hold it to ask several questions of one
    /// consistent state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// May `principal` do `action` on `resource`, in the current snapshot?
    pub fn check(&self, principal: &str, action: &str, resource: &str) -> Decision {
        let snapshot = self.current.load();
        let Some(log) = &self.log else {
            return snapshot.check(principal, action, resource);
        };
        let why = snapshot.explain(principal, action, resource);
        let reasons = match why.decision {
            Effect::Allow => &why.allowed_by,
            Effect::Deny => &why.denied_by,
        };
        let rules = reasons
            .iter()
            .filter_map(|r| {
                let last = r.steps.last()?;
                Some(LogRule {
                    via: r.via,
                    role: r.role.as_deref(),
                    at: last.at.as_ref().map(|l| l.to_string()),
                    text: last.at.as_ref().map(|l| l.text.as_str()),
                })
            })
            .collect();
        let line = LogLine {
            time_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            revision: snapshot.revision(),
            request: why.request.clone(),
            decision: why.decision,
            rules,
            error: why.error.as_ref(),
        };
        if let Ok(text) = serde_json::to_string(&line) {
            log.record(&text);
        }
        Decision {
            decision: why.decision,
            error: why.error.clone(),
        }
    }

    /// Serves `snapshot` from now on; checks already running finish on the
    /// one they started with.
    pub fn replace(&self, snapshot: Snapshot) {
        let mut parsed = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        *parsed = None;
        self.current.store(Arc::new(snapshot));
    }

    /// Adds a batch of policy statements (facts or rules) to the current
    /// policy, all or nothing: if the batch does not parse, names something
    /// unknown or breaks a constraint, the error is returned and the current
    /// snapshot keeps serving.
    ///
    /// Only the batch is parsed (the engine keeps the parsed policy), but the
    /// new model is checked, constrained and indexed whole, so the cost grows
    /// with the policy. A batch of facts re-evaluates only the principals it
    /// reaches: the decision tables of every other principal are carried
    /// over. A batch with rules (types, roles, `users where ...` selectors)
    /// re-evaluates everyone.
    pub fn apply(&self, statements: &str) -> Result<Update, LoadError> {
        let mut parsed = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current.load_full();
        let mut sources: Sources = current.model().sources.clone();
        let limits = Limits::default();
        let mut files = match parsed.take() {
            Some(files) => files,
            None => {
                parse_sources(&sources, &limits).map_err(|e| LoadError::new(sources.clone(), e))?
            }
        };
        let id = sources.add(format!("<update {}>", files.len()), statements);
        let batch = match crate::syntax::parse(id, statements) {
            Ok(batch) => Arc::new(batch),
            Err(d) => {
                *parsed = Some(files);
                return Err(LoadError::new(sources, vec![d]));
            }
        };
        files.push(Arc::clone(&batch));
        let next = match Snapshot::from_parsed(sources, &files, &limits) {
            Ok(next) => next,
            Err(e) => {
                files.pop();
                *parsed = Some(files);
                return Err(e);
            }
        };
        *parsed = Some(files);
        let affected = affected(&next, &batch);
        let tables_kept = match &affected {
            Some(set) => next.adopt_tables(&current, |p| !set.contains(&p)),
            None => 0,
        };
        self.current.store(Arc::new(next));
        Ok(Update {
            principals_affected: affected.map(|s| s.len()),
            tables_kept,
        })
    }
}

/// What an [`Engine::apply`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Principals whose decisions the batch can change, or `None` when it
    /// can change anyone's.
    pub principals_affected: Option<usize>,
    /// Evaluated decision tables carried over to the new snapshot.
    pub tables_kept: usize,
}

/// The principals a batch of statements can change decisions for, in the
/// model that includes it; `None` when it can change anyone's.
///
/// A fact about a subject reaches the principals at or below it in the
/// group tree; a new node reaches its creator; a rule reaches everyone.
fn affected(snapshot: &Snapshot, batch: &PolicyFile) -> Option<FxHashSet<PrincipalId>> {
    let m = snapshot.model();
    let subject = |s: &ast::Subject| match s {
        ast::Subject::Principal(n) => m
            .names
            .principals
            .get(&n.text)
            .map(|&p| SubjectId::principal(p)),
        ast::Subject::Group(n) => m.names.groups.get(&n.text).map(|&g| SubjectId::group(g)),
        ast::Subject::Selector { .. } => None,
    };
    // Subjects named by the batch's facts; `None` (anyone) for a selector.
    let subjects = |list: &[ast::Subject]| list.iter().map(subject).collect::<Option<Vec<_>>>();
    let mut out = Vec::new();
    for item in &batch.items {
        match &item.statement {
            Statement::Principal { name, .. } => out.push(*m.names.principals.get(&name.text)?),
            Statement::Group { members: list, .. }
            | Statement::Add { members: list, .. }
            | Statement::Assign { to: list, .. }
            | Statement::Grant { to: list, .. } => {
                snapshot.index.principals_below(subjects(list)?, &mut out)?
            }
            Statement::Deny { to, .. } => snapshot
                .index
                .principals_below(subjects(std::slice::from_ref(to))?, &mut out)?,
            Statement::Node { creator, .. } => {
                if let Some(c) = creator {
                    out.push(*m.names.principals.get(&c.text)?);
                }
            }
            _ => return None,
        }
    }
    Some(out.into_iter().collect())
}
