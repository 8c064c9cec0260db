//! Structural checks of a resolved model: no cycles in types, role
//! inclusion, groups or the node tree; nesting within the depth limit; and
//! ranks that respect inclusion.

use super::ids::*;
use super::limits::{too_deep, MAX_DEPTH, MAX_INCLUDE_DEPTH};
use super::model::Model;
use crate::error::{Code, Diagnostic};
use rustc_hash::FxHashMap;

/// Every structural problem of the model.
pub fn check(m: &Model) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    cycles(m, &mut errors);
    if errors.is_empty() {
        depths(m, &mut errors);
    }
    ranks(m, &mut errors);
    errors
}

/// No chain of types is deeper than nodes may nest (a type nested deeper
/// could never have a node, and each level multiplies the work of indexing
/// the paths of types below every type), and no chain of role inclusions is
/// deeper than [`MAX_INCLUDE_DEPTH`] (the closure of a chain grows with the
/// square of its length).
fn depths(m: &Model, errors: &mut Vec<Diagnostic>) {
    let types: Vec<Vec<usize>> = m
        .types
        .iter()
        .enumerate()
        .map(|(i, t)| nesting(i, &t.parents))
        .collect();
    if let Some(t) = deepest(&types, MAX_DEPTH) {
        errors.push(
            Diagnostic::new(
                Code::Limit,
                format!(
                    "type `{}` is nested more than {MAX_DEPTH} types deep",
                    m.types[t].name
                ),
                m.types[t].span,
            )
            .label("no node of this type could be declared")
            .help(format!(
                "nodes nest at most {MAX_DEPTH} levels: shorten the chain of `in` clauses"
            )),
        );
    }
    let roles: Vec<Vec<usize>> = m
        .roles
        .iter()
        .map(|r| r.includes.iter().map(|(i, _)| i.index()).collect())
        .collect();
    if let Some(r) = deepest(&roles, MAX_INCLUDE_DEPTH) {
        errors.push(
            Diagnostic::new(Code::Limit,
                format!(
                    "role `{}` includes roles more than {MAX_INCLUDE_DEPTH} levels deep",
                    m.roles[r].name
                ),
                m.roles[r].span,
            )
            .label("too long a chain of `includes`")
            .help("a role may include many roles, but through at most 64 levels: include the roles further down directly"),
        );
    }
}

/// The first item whose longest chain of `edges` is longer than `max`, in
/// an acyclic graph (computed with an explicit stack, so that a long chain
/// cannot overflow the call stack).
fn deepest(edges: &[Vec<usize>], max: usize) -> Option<usize> {
    let mut depth: Vec<Option<usize>> = vec![None; edges.len()];
    for start in 0..edges.len() {
        let mut stack = vec![start];
        while let Some(&t) = stack.last() {
            if depth[t].is_some() {
                stack.pop();
                continue;
            }
            let pending: Vec<usize> = edges[t]
                .iter()
                .copied()
                .filter(|&p| depth[p].is_none())
                .collect();
            if pending.is_empty() {
                let d = edges[t]
                    .iter()
                    .filter_map(|&p| depth[p])
                    .max()
                    .map_or(0, |d| d + 1);
                depth[t] = Some(d);
                stack.pop();
            } else {
                stack.extend(pending);
            }
        }
    }
    (0..edges.len()).find(|&t| depth[t].unwrap_or(0) > max)
}

/// A role ranks at least as high as every role of its ladder it includes;
/// otherwise highest privilege would drop it in favour of a role it contains.
fn ranks(m: &Model, errors: &mut Vec<Diagnostic>) {
    for r in &m.roles {
        for &(inc, _) in &r.includes {
            let lower = &m.roles[inc.index()];
            if lower.rank > r.rank && lower.ladder == r.ladder {
                errors.push(
                    Diagnostic::new(Code::Rank,
                        format!(
                            "role `{}` (rank {}) includes `{}`, which ranks higher ({})",
                            r.name, r.rank, lower.name, lower.rank
                        ),
                        r.span,
                    )
                    .label("ranks below a role it includes")
                    .help(format!(
                        "where roles combine by highest privilege, `{}` would be dropped for `{}`; give `{}` a rank of at least {}",
                        r.name, lower.name, r.name, lower.rank
                    )),
                );
            }
        }
    }
}

/// Rejects cycles in types, role inclusion, groups and the node tree.
fn cycles(m: &Model, errors: &mut Vec<Diagnostic>) {
    let type_edges: Vec<Vec<usize>> = m
        .types
        .iter()
        .enumerate()
        .map(|(i, t)| nesting(i, &t.parents))
        .collect();
    if let Some(cycle) = find_cycle(&type_edges) {
        let names: Vec<String> = cycle.iter().map(|&i| m.types[i].name.clone()).collect();
        errors.push(Diagnostic::new(Code::Cycle, format!("type containment cycle: {}", names.join(" in ")), m.types[cycle[0]].span).label("this type ends up inside itself").help("a type may sit in itself (`type folder in drive, folder`) but not in a type inside it; remove one of the `in` clauses"));
    }
    let role_edges: Vec<Vec<usize>> = m
        .roles
        .iter()
        .map(|r| r.includes.iter().map(|(i, _)| i.index()).collect())
        .collect();
    if let Some(cycle) = find_cycle(&role_edges) {
        let names: Vec<String> = cycle.iter().map(|&i| m.roles[i].name.clone()).collect();
        errors.push(
            Diagnostic::new(
                Code::Cycle,
                format!("role inheritance cycle: {}", names.join(" includes ")),
                m.roles[cycle[0]].span,
            )
            .label("this role includes itself")
            .help("roles include lower roles; remove one `includes` from the cycle"),
        );
    }
    let mut group_edges: Vec<Vec<usize>> = vec![Vec::new(); m.groups.len()];
    let mut group_facts: FxHashMap<(usize, usize), FactId> = FxHashMap::default();
    for ms in m.memberships() {
        if let SubjectKind::Group(g) = ms.member.kind() {
            group_edges[g.index()].push(ms.group.index());
            group_facts.insert((g.index(), ms.group.index()), ms.fact);
        }
    }
    if let Some(cycle) = find_cycle(&group_edges) {
        let names: Vec<String> = cycle.iter().map(|&i| m.groups[i].name.clone()).collect();
        let fact = group_facts
            .get(&(cycle[0], cycle[1 % cycle.len()]))
            .copied()
            .unwrap_or(m.groups[cycle[0]].fact);
        errors.push(Diagnostic::new(Code::Cycle, format!("group cycle: {}", names.join(" is in ")), m.facts[fact.index()]).label("this membership closes the cycle").help("a group cannot contain itself, directly or through other groups; remove one of these memberships"));
    }
    let nodes = (0..m.nodes.len() as u32).map(NodeId);
    errors.extend(too_deep(m, nodes, MAX_DEPTH));
}

/// The parent types of type `i` that make a chain of types: a type in
/// itself (`type folder in drive, folder`) nests its nodes to any depth,
/// which the node depth limit bounds, and adds no level to the chain.
fn nesting(i: usize, parents: &[TypeId]) -> Vec<usize> {
    parents
        .iter()
        .map(|p| p.index())
        .filter(|&p| p != i)
        .collect()
}

/// The first cycle in a directed graph, as the list of its vertices.
fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on the stack, 2 = done. Iterative to bound stack use.
    let mut state = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (v, ref mut i)) = stack.last_mut() {
            if let Some(&w) = edges[v].get(*i) {
                *i += 1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|&(x, _)| x == w).unwrap_or(0);
                        let mut cycle: Vec<usize> = stack[pos..].iter().map(|&(x, _)| x).collect();
                        cycle.push(w);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    None
}
