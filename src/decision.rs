//! The answer to a request: allow or deny, and why in one line.
//!
//! # Fail-closed audit
//!
//! Every path that returns a decision, and what it returns:
//!
//! | path | decision | pinned by |
//! | --- | --- | --- |
//! | unknown principal, action or resource (`Snapshot::resolve`) | deny + [`RequestError`] | `tests/catalogue.rs` `bad_requests_are_denied_with_a_reason` |
//! | no node on the resource's ancestry carries a fact about the principal | deny | `tests/constructs.rs` `a_principal_with_no_facts_is_denied_and_told_so` |
//! | the `Allow` bit is not set in the principal's table | deny | every deny in `tests/` and `policies/` |
//! | a table slot or type path missing (cannot happen for a checked model) | deny (`Option` lookups, no indexing) | `tests/properties.rs` |
//! | the `Allow` bit is set | allow | every allow, checked against the reference evaluator in `tests/properties.rs` |
//! | a user, group or node removed by a live update | deny + [`RequestError`] (its name no longer resolves) | `tests/engine.rs` `removing_a_user_keeps_the_constraints`, `removing_resources_and_rejected_removals` |
//! | the engine requires a decision log and the record failed ([`crate::Engine::require_decision_log`]) | deny + [`RequestError::Unlogged`] | `tests/trust.rs` `a_decision_log_that_fails_is_counted_and_can_deny` |
//! | a principal an update reached | its table is evaluated afresh on its next check, never carried over | `tests/properties.rs` `live_updates_match_the_reference_evaluator`, `fuzz/` `update` |
//!
//! A policy that fails to parse, check or meet its constraints never becomes
//! a snapshot: [`crate::Snapshot::from_sources`] returns every error and no
//! decision is made from it; [`crate::Engine::apply`] keeps the previous
//! snapshot serving.

use serde::{Deserialize, Serialize};
use std::fmt;

/// "May `principal` do `action` on `resource`?", in a context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Principal name, as declared.
    pub principal: String,
    /// Action name, e.g. `app.edit`.
    pub action: String,
    /// Resource as `type:name`, e.g. `app:chatbot`.
    pub resource: String,
    /// The request's context (`{"via": "api_token", "ip": "10.1.2.3"}`):
    /// what conditions on `context.*` read. `now` is the time of the check
    /// unless set here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Request {
    /// A request from its three parts.
    pub fn new(
        principal: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> Request {
        Request {
            principal: principal.into(),
            action: action.into(),
            resource: resource.into(),
            context: None,
        }
    }

    /// The request with a context: a JSON object (anything else is an
    /// empty context).
    pub fn with_context(mut self, context: serde_json::Value) -> Request {
        self.context = match context {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        };
        self
    }
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The action is allowed.
    Allow,
    /// The action is denied.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        })
    }
}

/// Why a request was denied before any rule was consulted. These are the
/// fail-closed paths: every one of them is a deny.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestError {
    /// No principal has this name.
    #[error("unknown principal `{}`", crate::error::short(.name))]
    UnknownPrincipal {
        /// The name asked about.
        name: String,
    },
    /// No action has this name.
    #[error("unknown action `{}`", crate::error::short(.name))]
    UnknownAction {
        /// The name asked about.
        name: String,
    },
    /// No node has this name, or it is not written `type:name`.
    #[error("unknown resource `{}` (resources are written `type:name`)", crate::error::short(.name))]
    UnknownResource {
        /// The name asked about.
        name: String,
    },
    /// The engine requires every decision to be logged
    /// ([`crate::Engine::require_decision_log`]) and the log failed.
    #[error("the decision could not be logged, and the engine requires a log")]
    Unlogged,
    /// A key of the request's context does not have its declared type.
    #[error("context.{key}: {message}")]
    Context {
        /// The key.
        key: String,
        /// What was expected.
        message: String,
    },
    /// The rules that reach a principal carry more conditions on the
    /// resource or the context than one check decides.
    #[error("the rules that reach `{}` carry more than 64 conditions on the resource or the context", crate::error::short(.principal))]
    TooManyConditions {
        /// The principal.
        principal: String,
    },
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allow or deny.
    pub decision: Effect,
    /// Set when the request itself was invalid (always with `deny`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RequestError>,
}

impl From<Result<bool, RequestError>> for Decision {
    /// An allow, a deny, or a deny carrying why the request could not be
    /// decided.
    fn from(allowed: Result<bool, RequestError>) -> Decision {
        match allowed {
            Ok(true) => Decision::ALLOW,
            Ok(false) => Decision::DENY,
            Err(e) => Decision::invalid(e),
        }
    }
}

impl Decision {
    /// An allow.
    pub const ALLOW: Decision = Decision {
        decision: Effect::Allow,
        error: None,
    };
    /// A deny because nothing allows the action, or a deny rule fired.
    pub const DENY: Decision = Decision {
        decision: Effect::Deny,
        error: None,
    };

    /// A deny caused by an invalid request.
    pub fn invalid(error: RequestError) -> Decision {
        Decision {
            decision: Effect::Deny,
            error: Some(error),
        }
    }

    /// Whether the action is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == Effect::Allow
    }
}
