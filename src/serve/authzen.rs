//! The OpenID AuthZEN Authorization API 1.0, mapped onto a snapshot.
//!
//! | AuthZEN | grantlog |
//! | --- | --- |
//! | `subject.type` `user` / `service_user` | a human / service principal (`user` / `service user`) |
//! | `subject.id` | the principal's name |
//! | `action.name` | the action |
//! | `resource.type`, `resource.id` | the node `type:id` (`--resource-type A=T` serves type `A` as node type `T`) |
//! | `context` | the request context (`context.*`) |
//! | `subject.properties.K`, `resource.properties.K` | `context.K`, for keys the policy declares with `context K` |
//!
//! Requests are decoded into these typed values and lowered to a
//! [`Request`]; no field of theirs is ever read as policy text. Fields
//! grantlog does not use are accepted and ignored, as the specification
//! asks. Answers carry only what the specification defines: a reason or an
//! explanation is added to the response `context` only when the caller asks
//! (`?reasons=true`, `?explain=true`), except for a request that names
//! something unknown, whose deny always says why.

use crate::compile::model::PrincipalKind;
use crate::decision::{Effect, Request};
use crate::eval::snapshot::Snapshot;
use crate::syntax::names;
use crate::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `subject` (who asks) or `resource` (what is acted on): a type, an id and
/// properties.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Entity {
    /// For a subject, `user` or `service_user`; for a resource, the node
    /// type (or a type mapped with `--resource-type`).
    #[serde(rename = "type")]
    pub ty: String,
    /// The principal's or the node's name (omitted in a subject or a
    /// resource search).
    pub id: Option<String>,
    /// Values for declared context keys.
    pub properties: Option<Map<String, Value>>,
}

/// Who asks.
pub type Subject = Entity;
/// What is acted on.
pub type Resource = Entity;

/// `action`: what is done.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Action {
    /// The action's name.
    pub name: String,
}

/// `POST /access/v1/evaluation`, and one item of a batch (every part
/// optional there: a missing one is taken from the batch's defaults).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Evaluation {
    /// Who asks.
    pub subject: Option<Subject>,
    /// What is done.
    pub action: Option<Action>,
    /// What is acted on.
    pub resource: Option<Resource>,
    /// The request context.
    pub context: Option<Map<String, Value>>,
}

/// `POST /access/v1/evaluations`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Evaluations {
    /// Defaults for every item.
    #[serde(flatten)]
    pub defaults: Evaluation,
    /// The items; none means one evaluation of the defaults.
    pub evaluations: Option<Vec<Evaluation>>,
    /// How the batch runs.
    pub options: Option<Options>,
}

/// A batch's options.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Options {
    /// When the batch stops.
    #[serde(default)]
    pub evaluations_semantic: Semantic,
}

/// When a batch stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Semantic {
    /// Every item is decided.
    #[default]
    ExecuteAll,
    /// Items are decided up to and including the first deny.
    DenyOnFirstDeny,
    /// Items are decided up to and including the first permit.
    PermitOnFirstPermit,
}

/// A search request (`/access/v1/search/{subject,resource,action}`): the
/// parts of an evaluation, one of them partial (the subject's `id` omitted
/// in a subject search, the resource's in a resource search, the action in
/// an action search), and a page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Search {
    /// The subject, action, resource and context.
    #[serde(flatten)]
    pub parts: Evaluation,
    /// Which page.
    pub page: Option<PageRequest>,
}

/// A search's page: where to continue and how many to return.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageRequest {
    /// The `next_token` of the previous page.
    pub token: Option<String>,
    /// At most this many results.
    pub limit: Option<usize>,
}

/// One decision, as AuthZEN answers it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    /// Allowed or not.
    pub decision: bool,
    /// A reason or an explanation, when asked for (or when the request was refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

/// What the caller asked to see besides the decision.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Detail {
    /// A deny's reason, in `context.reason_admin`.
    #[serde(default)]
    pub reasons: bool,
    /// The whole explanation, in `context.explanation`.
    #[serde(default)]
    pub explain: bool,
}

/// How AuthZEN names map onto the policy.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    /// AuthZEN resource type → node type.
    pub resource_types: BTreeMap<String, String>,
}

/// The subject type of a principal kind.
pub fn subject_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Human => "user",
        PrincipalKind::Service => "service_user",
    }
}

/// Why an evaluation could not be put to the policy: a deny, with this as
/// its reason.
#[derive(Debug)]
struct Refused(String);

impl Mapping {
    /// The node a resource names, written `type:name`.
    fn node(&self, snapshot: &Snapshot, r: &Resource) -> Result<String, Refused> {
        let id =
            r.id.as_deref()
                .ok_or_else(|| Refused("resource.id is missing".into()))?;
        let ty = self.node_type(snapshot, &r.ty)?;
        Ok(format!("{ty}:{}", names::as_written(id)))
    }

    /// The node type an AuthZEN resource type stands for, as the policy
    /// names it (its canonical form).
    fn node_type<'s>(&self, snapshot: &'s Snapshot, ty: &str) -> Result<&'s str, Refused> {
        let ty = names::canonical(ty);
        let node_type = self.resource_types.get(&*ty).map_or(&*ty, String::as_str);
        let declared = snapshot.model().names.types.get_key_value(node_type);
        if let Some((name, _)) = declared {
            return Ok(name);
        }
        Err(Refused(format!(
            "unknown resource type `{}`: resource types are the policy's node types; \
             serve another name as one with --resource-type {}=TYPE",
            crate::error::short(&ty),
            crate::error::short(&ty)
        )))
    }

    /// The AuthZEN type a node type is served as.
    fn authzen_type<'a>(&'a self, node_type: &'a str) -> &'a str {
        self.resource_types
            .iter()
            .find(|(_, t)| t.as_str() == node_type)
            .map_or(node_type, |(a, _)| a.as_str())
    }

    /// The request an evaluation stands for, in `snapshot`.
    fn request(&self, snapshot: &Snapshot, e: &Evaluation) -> Result<Request, Refused> {
        let subject = e
            .subject
            .as_ref()
            .ok_or_else(|| Refused("subject is missing".into()))?;
        let action = e
            .action
            .as_ref()
            .ok_or_else(|| Refused("action is missing".into()))?;
        let resource = e
            .resource
            .as_ref()
            .ok_or_else(|| Refused("resource is missing".into()))?;
        let principal = principal(snapshot, subject)?;
        let mut request = Request::new(
            principal,
            action.name.clone(),
            self.node(snapshot, resource)?,
        );
        request.context = context(snapshot, e.context.as_ref(), subject, Some(resource))?;
        Ok(request)
    }
}

/// The principal a subject names, checked against its kind.
fn principal(snapshot: &Snapshot, subject: &Subject) -> Result<String, Refused> {
    let id = subject
        .id
        .as_deref()
        .ok_or_else(|| Refused("subject.id is missing".into()))?;
    let written = names::as_written(id).into_owned();
    let m = snapshot.model();
    let Some(p) = m.principal_named(&written) else {
        // The engine denies it, says why, and logs it like any decision.
        return Ok(written);
    };
    let kind = m.principals[p.index()].kind;
    if subject.ty != subject_type(kind) {
        return Err(Refused(format!(
            "subject `{}` is of type `{}`, not `{}`",
            crate::error::short(id),
            subject_type(kind),
            crate::error::short(&subject.ty)
        )));
    }
    Ok(written)
}

/// The request context: `context`, with the subject's and the resource's
/// properties for the keys the policy declares as context keys. A property
/// that disagrees with the context for the same key is refused.
fn context(
    snapshot: &Snapshot,
    given: Option<&Map<String, Value>>,
    subject: &Subject,
    resource: Option<&Resource>,
) -> Result<Option<Map<String, Value>>, Refused> {
    let declared = &snapshot.model().context_keys;
    let mut out = given.cloned();
    let properties = [
        ("subject", subject.properties.as_ref()),
        ("resource", resource.and_then(|r| r.properties.as_ref())),
    ];
    for (whose, props) in properties {
        for (k, v) in props.into_iter().flatten() {
            let key = names::canonical(k);
            if !declared.contains_key(&*key) {
                continue;
            }
            let map = out.get_or_insert_with(Map::new);
            match map.get(&*key) {
                Some(existing) if existing != v => {
                    return Err(Refused(format!(
                        "{whose}.properties.{} disagrees with context.{}",
                        crate::error::short(k),
                        crate::error::short(k)
                    )))
                }
                Some(_) => {}
                None => {
                    map.insert(key.into_owned(), v.clone());
                }
            }
        }
    }
    Ok(out)
}

/// Decides one evaluation in `snapshot`, through `engine` (so that it is
/// logged and its principal warmed); with whether it was refused (a deny
/// because the request names something unknown or lacks a part).
pub fn evaluate(
    engine: &Engine,
    snapshot: &Snapshot,
    mapping: &Mapping,
    e: &Evaluation,
    detail: Detail,
) -> (Answer, bool) {
    let request = match mapping.request(snapshot, e) {
        Ok(request) => request,
        // What cannot be asked is a deny, and says why.
        Err(Refused(reason)) => return (refused(reason), true),
    };
    let decision = engine.decide_on(snapshot, &request);
    let allowed = decision.decision == Effect::Allow;
    let mut context = Map::new();
    if let Some(e) = &decision.error {
        context.insert("reason_admin".into(), json!({ "en": e.to_string() }));
    }
    if detail.explain || (detail.reasons && !allowed && decision.error.is_none()) {
        let why = snapshot.explain_request(&request);
        if detail.reasons && !allowed && decision.error.is_none() {
            context.insert("reason_admin".into(), json!({ "en": why.summary }));
        }
        if detail.explain {
            context.insert(
                "explanation".into(),
                serde_json::to_value(&why).unwrap_or(Value::Null),
            );
        }
    }
    let answer = Answer {
        decision: allowed,
        context: (!context.is_empty()).then_some(Value::Object(context)),
    };
    (answer, decision.error.is_some())
}

/// A deny for a request that could not be put to the policy.
fn refused(reason: String) -> Answer {
    Answer {
        decision: false,
        context: Some(json!({ "reason_admin": { "en": reason } })),
    }
}

/// Decides a batch with `decide`: each item takes what it lacks from the
/// batch's defaults, stopping as `options` says.
pub fn evaluate_all(
    batch: &Evaluations,
    mut decide: impl FnMut(&Evaluation) -> Answer,
) -> Vec<Answer> {
    let semantic = batch
        .options
        .as_ref()
        .map_or(Semantic::ExecuteAll, |o| o.evaluations_semantic);
    let d = &batch.defaults;
    let mut answers = Vec::new();
    for item in batch.evaluations.iter().flatten() {
        let merged = Evaluation {
            subject: item.subject.clone().or_else(|| d.subject.clone()),
            action: item.action.clone().or_else(|| d.action.clone()),
            resource: item.resource.clone().or_else(|| d.resource.clone()),
            context: item.context.clone().or_else(|| d.context.clone()),
        };
        let answer = decide(&merged);
        let stop = match semantic {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !answer.decision,
            Semantic::PermitOnFirstPermit => answer.decision,
        };
        answers.push(answer);
        if stop {
            break;
        }
    }
    answers
}

/// A batch's answers.
#[derive(Debug, Serialize)]
pub struct Answers {
    /// One per item decided, in order.
    pub evaluations: Vec<Answer>,
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Found {
    /// A subject or a resource.
    Entity {
        /// Its AuthZEN type.
        #[serde(rename = "type")]
        ty: String,
        /// Its name.
        id: String,
    },
    /// An action.
    Action {
        /// Its name.
        name: String,
    },
}

/// A page of search results.
#[derive(Debug, Serialize)]
pub struct Page {
    /// The results on this page.
    pub results: Vec<Found>,
    /// Where this page stands.
    pub page: PageInfo,
}

/// Where a page stands.
#[derive(Debug, Serialize)]
pub struct PageInfo {
    /// Pass as `page.token` for the next page; empty on the last page.
    pub next_token: String,
    /// Results on this page.
    pub count: usize,
    /// Results in all.
    pub total: usize,
}

/// Which search.
#[derive(Clone, Copy, Debug)]
pub enum SearchKind {
    /// Who may do the action on the resource.
    Subject,
    /// On what resources of a type the subject may do the action.
    Resource,
    /// What the subject may do on the resource.
    Action,
}

/// Answers a search: only what is allowed outright in the request's
/// context (nothing that hangs on a missing context key), sorted, one page
/// at a time. A token is the last key of the previous page, so a page
/// never repeats or skips a result that stayed allowed between pages.
pub fn search(
    snapshot: &Snapshot,
    mapping: &Mapping,
    kind: SearchKind,
    s: &Search,
) -> Result<Page, String> {
    let mut keyed: Vec<(String, Found)> = match kind {
        SearchKind::Subject => search_subjects(snapshot, mapping, s)?,
        SearchKind::Resource => search_resources(snapshot, mapping, s)?,
        SearchKind::Action => search_actions(snapshot, mapping, s)?,
    };
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let total = keyed.len();
    let page = s.page.clone().unwrap_or_default();
    let after = match page.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => Some(decode_token(token)?),
        None => None,
    };
    let start = after.map_or(0, |key| keyed.partition_point(|(k, _)| *k <= key));
    let limit = page.limit.unwrap_or(usize::MAX).max(1);
    let rest = &keyed[start..];
    let taken = &rest[..rest.len().min(limit)];
    let next_token = match (rest.len() > taken.len(), taken.last()) {
        (true, Some((key, _))) => encode_token(key),
        _ => String::new(),
    };
    Ok(Page {
        page: PageInfo {
            next_token,
            count: taken.len(),
            total,
        },
        results: taken.iter().map(|(_, v)| v.clone()).collect(),
    })
}

fn required<'a, T>(part: Option<&'a T>, what: &str) -> Result<&'a T, String> {
    part.ok_or_else(|| format!("{what} is missing"))
}

fn search_subjects(
    snapshot: &Snapshot,
    mapping: &Mapping,
    s: &Search,
) -> Result<Vec<(String, Found)>, String> {
    let subject = required(s.parts.subject.as_ref(), "subject")?;
    let action = required(s.parts.action.as_ref(), "action")?;
    let resource = required(s.parts.resource.as_ref(), "resource")?;
    let node = mapping.node(snapshot, resource).map_err(|r| r.0)?;
    let context =
        context(snapshot, s.parts.context.as_ref(), subject, Some(resource)).map_err(|r| r.0)?;
    let m = snapshot.model();
    let Ok(rows) = snapshot.who_can_in(&action.name, &node, context.as_ref(), false) else {
        // An unknown action or resource: no one may.
        return Ok(Vec::new());
    };
    Ok(rows
        .into_iter()
        .filter(|row| row.access == crate::query::Access::Allowed)
        .filter_map(|row| {
            let p = m.principal_named(&names::as_written(&row.principal))?;
            let ty = subject_type(m.principals[p.index()].kind);
            (ty == subject.ty).then(|| {
                let found = Found::Entity {
                    ty: ty.to_string(),
                    id: row.principal.clone(),
                };
                (row.principal, found)
            })
        })
        .collect())
}

/// A subject that must name a principal of its type, for resource and
/// action searches; `None` when it names none (so nothing is allowed).
fn searching_principal(snapshot: &Snapshot, subject: &Subject) -> Option<String> {
    principal(snapshot, subject).ok()
}

fn search_resources(
    snapshot: &Snapshot,
    mapping: &Mapping,
    s: &Search,
) -> Result<Vec<(String, Found)>, String> {
    let subject = required(s.parts.subject.as_ref(), "subject")?;
    let action = required(s.parts.action.as_ref(), "action")?;
    let resource = required(s.parts.resource.as_ref(), "resource")?;
    let context =
        context(snapshot, s.parts.context.as_ref(), subject, Some(resource)).map_err(|r| r.0)?;
    let Some(p) = searching_principal(snapshot, subject) else {
        return Ok(Vec::new());
    };
    let node_type = mapping.node_type(snapshot, &resource.ty).map_err(|r| r.0)?;
    let m = snapshot.model();
    let Some(a) = m.action_named(&action.name) else {
        return Ok(Vec::new()); // an unknown action: nothing is allowed
    };
    let action = &m.actions[a.index()];
    let Ok(rows) = snapshot.what_can_in(&p, None, context.as_ref()) else {
        return Ok(Vec::new());
    };
    Ok(rows
        .into_iter()
        .filter(|row| !row.conditional && row.action == *action)
        .filter_map(|row| {
            let (ty, name) = row.node.split_once(':')?;
            if ty != node_type {
                return None;
            }
            let id = names::unquote(name).unwrap_or_else(|| name.to_string());
            let found = Found::Entity {
                ty: mapping.authzen_type(ty).to_string(),
                id: id.clone(),
            };
            Some((id, found))
        })
        .collect())
}

fn search_actions(
    snapshot: &Snapshot,
    mapping: &Mapping,
    s: &Search,
) -> Result<Vec<(String, Found)>, String> {
    let subject = required(s.parts.subject.as_ref(), "subject")?;
    let resource = required(s.parts.resource.as_ref(), "resource")?;
    let node = mapping.node(snapshot, resource).map_err(|r| r.0)?;
    let context =
        context(snapshot, s.parts.context.as_ref(), subject, Some(resource)).map_err(|r| r.0)?;
    let Some(p) = searching_principal(snapshot, subject) else {
        return Ok(Vec::new());
    };
    let m = snapshot.model();
    let Some(n) = crate::eval::snapshot::node_id(m, &node) else {
        return Ok(Vec::new());
    };
    let name = m.node_name(n);
    let Ok(rows) = snapshot.what_can_in(&p, Some(&node), context.as_ref()) else {
        return Ok(Vec::new());
    };
    Ok(rows
        .into_iter()
        .filter(|row| !row.conditional && row.node == name)
        .map(|row| {
            let found = Found::Action {
                name: row.action.clone(),
            };
            (row.action, found)
        })
        .collect())
}

/// Page tokens are opaque to callers: the last key, hex-encoded.
fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Result<String, String> {
    let bad = || "page.token is not a token this server gave".to_string();
    if token.len() % 2 != 0 || !token.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>, String>>()?;
    String::from_utf8(bytes).map_err(|_| bad())
}
