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

use crate::decision::Decision;
use crate::error::LoadError;
use crate::eval::snapshot::Snapshot;
use crate::source::Sources;
use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex};

/// The current snapshot of a policy, swappable while readers check.
pub struct Engine {
    current: ArcSwap<Snapshot>,
    /// Serialises writers; readers never take it.
    writer: Mutex<()>,
}

impl Engine {
    /// An engine serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Engine {
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(()),
        }
    }

    /// The snapshot serving now. Hold it to ask several questions of one
    /// consistent state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// May `principal` do `action` on `resource`, in the current snapshot?
    pub fn check(&self, principal: &str, action: &str, resource: &str) -> Decision {
        self.current.load().check(principal, action, resource)
    }

    /// Serves `snapshot` from now on; checks already running finish on the
    /// one they started with.
    pub fn replace(&self, snapshot: Snapshot) {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.current.store(Arc::new(snapshot));
    }

    /// Adds a batch of policy statements (facts or rules) to the current
    /// policy, all or nothing: if the batch does not parse, names something
    /// unknown or breaks a constraint, the error is returned and the current
    /// snapshot keeps serving.
    ///
    /// The new snapshot is built from the whole policy: its cost grows with
    /// the policy, not with the batch.
    pub fn apply(&self, statements: &str) -> Result<(), LoadError> {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current.load_full();
        let mut sources: Sources = current.model().sources.clone();
        let n = sources.iter().count();
        sources.add(format!("<update {n}>"), statements);
        let next = Snapshot::from_sources(sources)?;
        self.current.store(Arc::new(next));
        Ok(())
    }
}
