//! Warnings about a policy that loads: rules that are legal but likely not
//! what their author meant. `grantlog validate` prints them; they never stop
//! a load.
//!
//! - A rule tests an attribute that is not declared with `attribute KEY in
//!   VALUE, ...`: a misspelt value in the rule or in a user's facts would
//!   never match, and nothing would say so.
//! - `everyone` (or `users where ...` without `in NODE`) is given a role or a
//!   grant: it takes in the users of every tenant, not only the members of
//!   the node's organisation. `users in ROOT` says "its members".

use super::ids::*;
use super::model::Model;
use crate::error::{Code, Diagnostic};
use crate::source::Span;

/// Every warning about `m`.
pub fn lint(m: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Where each selector is first used, and whether a role or grant is
    // given to it (a deny to everyone is a restriction, not a crossing).
    let mut first_use: Vec<Option<Span>> = vec![None; m.selectors.len()];
    let mut crossing: Vec<Option<(Span, NodeId)>> = vec![None; m.selectors.len()];
    let mut note = |s: SubjectId, fact: FactId, node: Option<NodeId>| {
        if let SubjectKind::Selector(id) = s.kind() {
            let span = m.facts[fact.index()];
            first_use[id.index()].get_or_insert(span);
            if let Some(n) = node {
                crossing[id.index()].get_or_insert((span, n));
            }
        }
    };
    for a in m.assignments() {
        note(a.subject, a.fact, Some(a.node));
    }
    for g in m.grants() {
        note(g.subject, g.fact, Some(g.node));
    }
    for d in m.denies() {
        note(d.subject, d.fact, None);
    }
    for d in &m.defaults {
        note(d.subject, d.fact, None);
    }
    for (i, sel) in m.selectors.iter().enumerate() {
        let Some(span) = first_use[i] else { continue };
        for &(key, _, _) in &sel.conditions {
            let key = &m.symbols[key.index()];
            if key == "kind" || m.attributes.contains_key(key) {
                continue;
            }
            out.push(
                Diagnostic::new(
                    Code::UndeclaredAttribute,
                    format!(
                        "`{}` tests `{key}`, whose values are not declared",
                        sel.text
                    ),
                    span,
                )
                .label("a misspelt value would never match")
                .help(format!(
                    "declare the values it may take, e.g. `attribute {key} in VALUE, ...`"
                )),
            );
        }
        if let (Some((span, node)), None) = (crossing[i], sel.within) {
            let root = m.ancestry(node).last().unwrap_or(node);
            out.push(
                Diagnostic::new(
                    Code::CrossTenant,
                    format!(
                        "`{}` includes the users of every tenant, and gets access on `{}`",
                        sel.text,
                        m.node_name(node)
                    ),
                    span,
                )
                .label("not only this organisation's members")
                .help(format!(
                    "for the members of `{0}`, write `users in {0}`{1}",
                    m.node_name(root),
                    if sel.conditions.is_empty() {
                        String::new()
                    } else {
                        " before `where`".to_string()
                    }
                )),
            );
        }
    }
    out.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
    out
}
