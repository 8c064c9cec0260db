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

use crate::compile::limits::Limits;
use crate::decision::{Decision, Effect, Request};
use crate::error::{Code, Diagnostic, LoadError};
use crate::eval::snapshot::Snapshot;
use crate::eval::update::{self, Update};
use crate::facts::Facts;
use crate::source::Sources;
use crate::warm::{WarmProgress, Warmer};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Receives one JSON line per decision made through an [`Engine`].
///
/// Any `Fn(&str) + Send + Sync` is a decision log that never fails; a
/// `Mutex` around a writer is one through [`WriterLog`], whose write errors
/// reach the engine. A failed record is counted
/// ([`Engine::decision_log_failures`]) and, with
/// [`Engine::require_decision_log`], turns the decision into a deny.
pub trait DecisionLog: Send + Sync {
    /// Records one decision, as one line of JSON (no line break).
    fn record(&self, line: &str) -> std::io::Result<()>;
}

impl<F: Fn(&str) + Send + Sync> DecisionLog for F {
    fn record(&self, line: &str) -> std::io::Result<()> {
        self(line);
        Ok(())
    }
}

/// A decision log that writes lines to a writer (a file, a socket), and
/// flushes each.
pub struct WriterLog<W: Write + Send>(pub Mutex<W>);

impl<W: Write + Send> DecisionLog for WriterLog<W> {
    fn record(&self, line: &str) -> std::io::Result<()> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(w, "{line}")?;
        w.flush()
    }
}

/// Why [`Engine::replace_if_unchanged`] refused a replacement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the policy changed while the replacement was read (expected revision {expected}, now {current}): read it again and retry")]
pub struct Stale {
    /// The revision the replacement was read against.
    pub expected: String,
    /// The revision serving now.
    pub current: String,
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

/// The current snapshot of a policy, swappable while readers check. Each
/// new snapshot is warmed in the background (see [`Engine::set_warm_threads`]).
pub struct Engine {
    current: ArcSwap<Snapshot>,
    warmer: Arc<Warmer>,
    /// Serialises writers; readers never take it.
    writer: Mutex<()>,
    log: Option<Box<dyn DecisionLog>>,
    /// Records the log could not take.
    log_failures: AtomicU64,
    /// Deny what cannot be logged.
    log_required: bool,
}

impl Engine {
    /// An engine serving `snapshot`, which it starts warming in the
    /// background: every principal's table is evaluated on one thread fewer
    /// than the machine has cores (at least one), so that first checks find
    /// them ready. Checks never wait for warming: a principal it has not
    /// reached yet is decided by one run of the program over the resource's
    /// ancestry (see [`Snapshot::decide_first`]), and warming evaluates its
    /// table next.
    pub fn new(snapshot: Snapshot) -> Engine {
        Engine::with_warm_threads(snapshot, None)
    }

    /// An engine whose background warming uses `threads` threads (`0`:
    /// none; each principal is then evaluated on its first check).
    pub fn with_warm_threads(snapshot: Snapshot, threads: Option<usize>) -> Engine {
        let warmer = Arc::new(Warmer::new());
        if let Some(threads) = threads {
            warmer.set_threads(threads);
        }
        let engine = Engine {
            current: ArcSwap::from_pointee(snapshot),
            warmer,
            writer: Mutex::new(()),
            log: None,
            log_failures: AtomicU64::new(0),
            log_required: false,
        };
        engine.warmer.start(engine.current.load_full());
        engine
    }

    /// How many threads warm each new snapshot from now on (`0`: none).
    /// Warming already running goes on with the threads it has.
    pub fn set_warm_threads(&self, threads: usize) {
        self.warmer.set_threads(threads);
    }

    /// How far warming of the current snapshot has got: a service exports
    /// it as a metric, or waits for `done == total` before taking traffic.
    pub fn warm_progress(&self) -> WarmProgress {
        Warmer::progress(&self.current.load())
    }

    /// Serves `snapshot`, and warms it in the background.
    fn serve(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        self.current.store(Arc::clone(&snapshot));
        self.warmer.start(snapshot);
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

    /// With `true`, a decision whose log line cannot be recorded is a deny
    /// carrying [`crate::RequestError::Unlogged`]: for services whose audit
    /// trail must be complete. Off by default: a failed record is counted
    /// and the decision stands.
    pub fn require_decision_log(&mut self, required: bool) {
        self.log_required = required;
    }

    /// How many decisions the log failed to record since the engine started:
    /// a service exports it as a metric and alerts on it.
    pub fn decision_log_failures(&self) -> u64 {
        self.log_failures.load(Ordering::Relaxed)
    }

    /// The revision serving now (see [`Snapshot::revision`]).
    pub fn revision(&self) -> String {
        self.current.load().revision()
    }

    /// The snapshot serving now. Hold it to ask several questions of one
    /// consistent state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// May `principal` do `action` on `resource`, in the current snapshot?
    pub fn check(&self, principal: &str, action: &str, resource: &str) -> Decision {
        let snapshot = self.current.load();
        if self.log.is_none() {
            // While warming runs, a principal not warm yet is decided by a
            // run over the resource's ancestry, and warming takes its table
            // next (see `note`).
            let (decision, p) = match self.warmer.warms() {
                true => snapshot.check_first(principal, action, resource),
                false => snapshot.check_principal(principal, action, resource),
            };
            self.note(&snapshot, p);
            return decision;
        }
        self.decide_on(&snapshot, &Request::new(principal, action, resource))
    }

    /// Decides a request, with its context, in the current snapshot (see
    /// [`Snapshot::decide`]); logged like [`Engine::check`].
    pub fn decide(&self, request: &Request) -> Decision {
        self.decide_on(&self.current.load(), request)
    }

    /// Decides a request in `snapshot` (one the caller holds, to answer
    /// several requests from one state), logged like [`Engine::check`].
    pub fn decide_on(&self, snapshot: &Snapshot, request: &Request) -> Decision {
        let Some(log) = &self.log else {
            let (decision, p) = match self.warmer.warms() {
                true => snapshot.decide_first(request),
                false => snapshot.decide_principal(request),
            };
            self.note(snapshot, p);
            return decision;
        };
        let why = snapshot.explain_request(request);
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
        let recorded = serde_json::to_string(&line)
            .map_err(std::io::Error::other)
            .and_then(|text| log.record(&text));
        if recorded.is_err() {
            self.log_failures.fetch_add(1, Ordering::Relaxed);
            if self.log_required {
                return Decision::invalid(crate::RequestError::Unlogged);
            }
        }
        Decision {
            decision: why.decision,
            error: why.error.clone(),
        }
    }

    /// Tells warming that `p` was checked: it goes first in the next
    /// snapshot's warming, and, if it was decided without its table, its
    /// table is evaluated next in this one.
    fn note(&self, snapshot: &Snapshot, p: Option<crate::compile::ids::PrincipalId>) {
        if let Some(p) = p {
            self.warmer.seen(p);
            if !snapshot.is_evaluated(p) {
                self.warmer.ask(p);
            }
        }
    }

    /// Serves `snapshot` from now on, unconditionally; checks already
    /// running finish on the one they started with. Updates applied while
    /// `snapshot` was being read are lost: when live updates and reloads
    /// mix, use [`Engine::replace_if_unchanged`].
    pub fn replace(&self, snapshot: Snapshot) {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.serve(snapshot);
    }

    /// Serves `snapshot` from now on if the engine still serves revision
    /// `read_at` (taken with [`Engine::revision`] before `snapshot` was
    /// read); otherwise refuses, so that an update applied meanwhile (a ban,
    /// say) is never silently overwritten. On [`Stale`], read the policy
    /// again and retry.
    ///
    /// ```
    /// use grantlog::{Engine, Snapshot};
    /// let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"])?);
    /// let read_at = engine.revision();
    /// let fresh = Snapshot::from_paths(&["policies/dify.policy"])?;
    /// engine.apply("user dave in team:acme status banned")?; // meanwhile
    /// assert!(engine.replace_if_unchanged(&read_at, fresh).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace_if_unchanged(&self, read_at: &str, snapshot: Snapshot) -> Result<(), Stale> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current.load().revision();
        if current != read_at {
            return Err(Stale {
                expected: read_at.to_string(),
                current,
            });
        }
        self.serve(snapshot);
        Ok(())
    }

    /// Applies a batch of changes to the current policy, all or nothing:
    /// if a statement does not parse, names something unknown, removes
    /// something that is not there, or the result breaks a constraint, the
    /// errors are returned and the current snapshot keeps serving.
    ///
    /// A batch of facts costs what it touches: the new snapshot shares
    /// everything else with the current one, including the evaluated
    /// decisions of every principal the batch cannot reach (see
    /// [`crate::eval::update`]). A batch with rules (types, roles, creator
    /// and default rules, constraints, `users where ...`) is checked whole and
    /// re-evaluates everyone.
    ///
    /// ```
    /// use grantlog::{Batch, Engine, Snapshot};
    /// let engine = Engine::new(Snapshot::from_paths(&["policies/dify.policy"])?);
    /// let update = engine.apply(
    ///     Batch::new()
    ///         .remove("assign normal on workspace:research to carol")
    ///         .add("assign editor on workspace:marketing to erin"),
    /// )?;
    /// assert_eq!(update.principals_affected, Some(2));
    /// assert!(!engine.check("carol", "app.use", "app:summarizer").is_allowed());
    /// assert!(engine.check("erin", "app.edit", "app:chatbot").is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, batch: impl Into<Batch>) -> Result<Update, LoadError> {
        let batch = batch.into();
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (next, update) = self.current.load().apply(&batch)?;
        self.serve(next);
        Ok(update)
    }

    /// [`Engine::apply`] for a service that must not lose an accepted batch:
    /// once the batch is known to apply, `log` records it (appends it to a
    /// write-ahead log and syncs it, say) given the snapshot it gives, and
    /// only if that succeeds does that snapshot serve. Batches are applied
    /// and logged one at a time, so the log holds them in the order they
    /// took effect.
    pub fn apply_logged(
        &self,
        batch: impl Into<Batch>,
        log: impl FnOnce(&Batch, &Snapshot) -> std::io::Result<()>,
    ) -> Result<Update, ApplyError> {
        let batch = batch.into();
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (next, update) = self
            .current
            .load()
            .apply(&batch)
            .map_err(ApplyError::Rejected)?;
        log(&batch, &next).map_err(ApplyError::Log)?;
        self.serve(next);
        Ok(update)
    }
}

/// Why [`Engine::apply_logged`] did not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The batch does not apply to the current policy (nothing changed).
    #[error("{0}")]
    Rejected(LoadError),
    /// The batch applies, but could not be logged (nothing changed).
    #[error("the batch could not be logged: {0}")]
    Log(std::io::Error),
}

impl Snapshot {
    /// The snapshot this one becomes with `batch` applied, all or nothing
    /// (see [`Engine::apply`]); `self` is left as it was.
    pub fn apply(&self, batch: &Batch) -> Result<(Snapshot, Update), LoadError> {
        let mut sources: Sources = self.model().sources.clone();
        let n = sources.len();
        let add_id = sources.add(format!("<update {n}>"), batch.add.as_str());
        let remove_id = sources.add(format!("<update {n}: removed>"), batch.remove.as_str());
        let parsed = (
            crate::syntax::parse(add_id, &batch.add),
            crate::syntax::parse(remove_id, &batch.remove),
        );
        let (mut add, mut remove) = match parsed {
            (Ok(add), Ok(remove)) => (add, remove),
            (add, remove) => {
                let errors = [add.err(), remove.err()].into_iter().flatten().collect();
                return Err(LoadError::new(sources, errors));
            }
        };
        // Facts from data join the batch already lowered, never as text.
        for (facts, into, name) in [
            (&batch.add_facts, &mut add, format!("<update {n}>")),
            (
                &batch.remove_facts,
                &mut remove,
                format!("<update {n}: removed>"),
            ),
        ] {
            let files = match facts.add_to(&name, &mut sources) {
                Ok(files) => files,
                Err(e) => {
                    return Err(LoadError::new(
                        sources,
                        vec![Diagnostic::global(Code::Facts, e.to_string())],
                    ))
                }
            };
            for id in files {
                if let Some(file) = sources.file(id).lowered() {
                    into.items.extend(file.items.iter().cloned());
                }
            }
        }
        let limits = Limits::default();
        update::apply(self, sources.clone(), &add, &remove, &limits)
            .map_err(|errors| LoadError::new(sources, errors))
    }
}

impl Drop for Engine {
    /// Stops background warming.
    fn drop(&mut self) {
        self.warmer.stop();
    }
}

/// Changes for [`Engine::apply`]: statements to add and statements to
/// remove, in the policy language. A removal names a fact as the policy
/// states it now (`add bob to group support`, `assign editor on
/// workspace:marketing to carol`), or a user, group or node by its
/// declaration (`user bob`), which removes it with every fact about it.
/// A `user` statement for an existing user restates it: its kind, status,
/// attributes and homes become the new statement's.
///
/// A string converts to a batch that only adds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Batch {
    /// Statements to add, one per line.
    #[serde(default)]
    pub add: String,
    /// Statements to remove, one per line; applied before the additions.
    #[serde(default)]
    pub remove: String,
    /// Facts from data to add: decoded and lowered, never read as text.
    #[serde(default, skip_serializing_if = "Facts::is_empty")]
    pub add_facts: Facts,
    /// Facts from data to remove.
    #[serde(default, skip_serializing_if = "Facts::is_empty")]
    pub remove_facts: Facts,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds `statements` to what the batch adds.
    #[allow(clippy::should_implement_trait)] // a builder step, not `+`
    pub fn add(mut self, statements: &str) -> Batch {
        self.add.push_str(statements);
        self.add.push('\n');
        self
    }

    /// Adds JSON facts (see [`crate::facts`]) to what the batch adds: an
    /// identity provider's new users, groups and assignments, or restated
    /// users (a new status, new attributes).
    pub fn add_facts(mut self, facts: &Facts) -> Batch {
        self.add_facts.extend(facts.clone());
        self
    }

    /// Adds JSON facts to what the batch removes: users, groups and nodes
    /// go with every fact about them.
    pub fn remove_facts(mut self, facts: &Facts) -> Batch {
        self.remove_facts.extend(facts.clone());
        self
    }

    /// Adds `statements` to what the batch removes.
    pub fn remove(mut self, statements: &str) -> Batch {
        self.remove.push_str(statements);
        self.remove.push('\n');
        self
    }
}

impl From<&str> for Batch {
    fn from(add: &str) -> Batch {
        Batch::new().add(add)
    }
}

impl From<&String> for Batch {
    fn from(add: &String) -> Batch {
        Batch::new().add(add)
    }
}

impl From<String> for Batch {
    fn from(add: String) -> Batch {
        Batch {
            add,
            ..Batch::default()
        }
    }
}
