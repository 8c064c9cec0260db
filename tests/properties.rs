//! Property tests on generated organisations: every decision agrees with an
//! independent reference evaluator, and the documented invariants hold.
//!
//! The reference evaluator below is a direct, recursive reading of the
//! semantics in grammar/README.md; it shares no code with the Datalog
//! program, the per-principal tables or the explainer.

use grantlog::Snapshot;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// A small random organisation, as plain data.
#[derive(Clone, Debug)]
struct Org {
    /// type name, parent type, modes (override, highest)
    types: Vec<(&'static str, Option<usize>, bool, bool)>,
    roles: Vec<RoleGen>,
    actions: usize,
    /// node type, parent node, creator
    nodes: Vec<(usize, Option<usize>, Option<usize>)>,
    /// principal: banned, service
    users: Vec<(bool, bool)>,
    /// group parent groups (acyclic: only lower-numbered groups)
    groups: Vec<Vec<usize>>,
    /// (user, group)
    members: Vec<(usize, usize)>,
    /// (subject, role, node); subject: Ok(user) or Err(group)
    assigns: Vec<(Result<usize, usize>, usize, usize)>,
    /// (subject, action, node)
    grants: Vec<(Result<usize, usize>, usize, usize)>,
    /// (action or all, node or everywhere) for everyone
    denies: Vec<(Option<usize>, Option<usize>)>,
    /// (subject, action or all, node or everywhere): denies that live
    /// updates add and remove, duplicates and overlaps included
    subject_denies: Vec<SubjectDeny>,
    /// creator rule: type -> role
    creator: Vec<(usize, usize)>,
    /// default: type -> role (for everyone in its home; all users live in node 0)
    defaults: Vec<(usize, usize)>,
    deny_banned: bool,
    /// Conditions, when the organisation has them: one per assignment,
    /// grant, deny (to everyone), creator rule and default, in order.
    conds: Conds,
    /// `level` of each node and `tier` of each user (`None`: no value).
    node_level: Vec<Option<i64>>,
    user_tier: Vec<Option<i64>>,
}

/// A generated condition: `[not] KEY OP VALUE`, on `when` or `unless`.
#[derive(Clone, Debug)]
struct CondGen {
    unless: bool,
    not: bool,
    /// 0: resource.level, 1: principal.tier, 2: context.k
    key: usize,
    op: &'static str,
    value: i64,
}

#[derive(Clone, Debug, Default)]
struct Conds {
    assigns: Vec<Option<CondGen>>,
    grants: Vec<Option<CondGen>>,
    denies: Vec<Option<CondGen>>,
    creator: Vec<Option<CondGen>>,
    defaults: Vec<Option<CondGen>>,
}

/// A request's context in the reference: `k`, or no value.
type Ctx = Option<i64>;

/// The condition of rule `i` (live updates add rules without one).
fn at(conds: &[Option<CondGen>], i: usize) -> &Option<CondGen> {
    conds.get(i).unwrap_or(&None)
}

impl CondGen {
    fn text(&self) -> String {
        let key = ["resource.level", "principal.tier", "context.k"][self.key];
        format!(
            " {} {}{key} {} {}",
            if self.unless { "unless" } else { "when" },
            if self.not { "not " } else { "" },
            self.op,
            self.value
        )
    }

    /// Three-valued: `None` when the key has no value.
    fn eval(&self, org: &Org, u: usize, n: usize, ctx: Ctx) -> Option<bool> {
        let v = match self.key {
            0 => org.node_level.get(n).copied().flatten(),
            1 => org.user_tier.get(u).copied().flatten(),
            _ => ctx,
        }?;
        let holds = match self.op {
            "=" => v == self.value,
            "!=" => v != self.value,
            "<" => v < self.value,
            "<=" => v <= self.value,
            ">" => v > self.value,
            _ => v >= self.value,
        };
        Some(holds != self.not)
    }

    /// Whether the rule it guards holds: an undecided condition never lets
    /// an allow rule hold and always lets a deny hold.
    fn holds(c: &Option<CondGen>, deny: bool, org: &Org, u: usize, n: usize, ctx: Ctx) -> bool {
        let Some(c) = c else { return true };
        match c.eval(org, u, n, ctx).map(|b| b != c.unless) {
            Some(b) => b,
            None => deny,
        }
    }
}

/// A deny on one subject (`Ok(user)` or `Err(group)`): action or all, node
/// or everywhere.
type SubjectDeny = (Result<usize, usize>, Option<usize>, Option<usize>);

/// A generated role.
#[derive(Clone, Debug)]
struct RoleGen {
    rank: i64,
    includes: Vec<usize>,
    actions: Vec<usize>,
    on: Vec<usize>,
    sticky: bool,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

impl Org {
    fn generate(seed: u64) -> Org {
        let mut r = Rng(seed);
        let names = ["org", "ws", "res", "sub"];
        let ntypes = 2 + r.below(3);
        let types: Vec<_> = (0..ntypes)
            .map(|t| {
                (
                    names[t],
                    t.checked_sub(1),
                    t > 0 && r.chance(30),
                    r.chance(50),
                )
            })
            .collect();
        let actions = 2 + r.below(4);
        let nroles = 1 + r.below(5);
        let mut roles: Vec<RoleGen> = Vec::new();
        for i in 0..nroles {
            let includes: Vec<usize> = (0..i).filter(|_| r.chance(30)).collect();
            // Including roles rank at least as high as what they include.
            let min = includes.iter().map(|&j| roles[j].rank).max().unwrap_or(0);
            let rank = min + r.below(3) as i64;
            let actions: Vec<usize> = (0..actions).filter(|_| r.chance(40)).collect();
            let on: Vec<usize> = (0..ntypes).filter(|_| r.chance(60)).collect();
            let on = if on.is_empty() {
                vec![r.below(ntypes)]
            } else {
                on
            };
            roles.push(RoleGen {
                rank,
                includes,
                actions,
                on,
                sticky: r.chance(15),
            });
        }
        let mut nodes = vec![(0, None, None)];
        let nusers = 1 + r.below(4);
        for _ in 0..r.below(7) {
            let parent = r.below(nodes.len());
            let pty = nodes[parent].0;
            if pty + 1 < ntypes {
                let creator = r.chance(30).then(|| r.below(nusers));
                nodes.push((pty + 1, Some(parent), creator));
            }
        }
        let users: Vec<_> = (0..nusers).map(|_| (r.chance(20), r.chance(20))).collect();
        let ngroups = r.below(4);
        let groups: Vec<Vec<usize>> = (0..ngroups)
            .map(|g| (0..g).filter(|_| r.chance(30)).collect())
            .collect();
        let mut members = Vec::new();
        if ngroups > 0 {
            for u in 0..nusers {
                for g in 0..ngroups {
                    if r.chance(35) {
                        members.push((u, g));
                    }
                }
            }
        }
        let subject = |r: &mut Rng| {
            if ngroups > 0 && r.chance(50) {
                Err(r.below(ngroups))
            } else {
                Ok(r.below(nusers))
            }
        };
        let mut assigns = Vec::new();
        for _ in 0..r.below(7) {
            let role = r.below(nroles);
            let cands: Vec<usize> = (0..nodes.len())
                .filter(|&n| roles[role].on.contains(&nodes[n].0))
                .collect();
            if !cands.is_empty() {
                let s = subject(&mut r);
                assigns.push((s, role, cands[r.below(cands.len())]));
            }
        }
        let grants = (0..r.below(3))
            .map(|_| (subject(&mut r), r.below(actions), r.below(nodes.len())))
            .collect();
        let denies = (0..r.below(3))
            .map(|_| {
                (
                    r.chance(70).then(|| r.below(actions)),
                    r.chance(70).then(|| r.below(nodes.len())),
                )
            })
            .collect();
        let mut creator = Vec::new();
        let mut defaults = Vec::new();
        for t in 0..ntypes {
            let ok: Vec<usize> = (0..nroles).filter(|&x| roles[x].on.contains(&t)).collect();
            if !ok.is_empty() && r.chance(30) {
                creator.push((t, ok[r.below(ok.len())]));
            }
            if !ok.is_empty() && r.chance(25) {
                defaults.push((t, ok[r.below(ok.len())]));
            }
        }
        let deny_banned = r.chance(70);
        Org {
            types,
            roles,
            actions,
            nodes,
            users,
            groups,
            members,
            assigns,
            grants,
            denies,
            subject_denies: Vec::new(),
            creator,
            defaults,
            deny_banned,
            conds: Conds::default(),
            node_level: Vec::new(),
            user_tier: Vec::new(),
        }
        .unconditional()
    }

    /// No conditions, no attribute values.
    fn unconditional(mut self) -> Org {
        self.conds = Conds {
            assigns: vec![None; self.assigns.len()],
            grants: vec![None; self.grants.len()],
            denies: vec![None; self.denies.len()],
            creator: vec![None; self.creator.len()],
            defaults: vec![None; self.defaults.len()],
        };
        self.node_level = vec![None; self.nodes.len()];
        self.user_tier = vec![None; self.users.len()];
        self
    }

    /// The organisation of `seed` with random conditions on its rules and
    /// random attribute values (some missing).
    fn conditional(seed: u64) -> Org {
        let mut org = Org::generate(seed);
        let mut r = Rng(seed ^ 0x5eed);
        let cond = |r: &mut Rng| {
            r.chance(50).then(|| CondGen {
                unless: r.chance(25),
                not: r.chance(15),
                key: r.below(3),
                op: ["=", "!=", "<", "<=", ">", ">="][r.below(6)],
                value: r.below(3) as i64,
            })
        };
        let gen = |len: usize, r: &mut Rng| (0..len).map(|_| cond(r)).collect::<Vec<_>>();
        org.conds = Conds {
            assigns: gen(org.assigns.len(), &mut r),
            grants: gen(org.grants.len(), &mut r),
            denies: gen(org.denies.len(), &mut r),
            creator: gen(org.creator.len(), &mut r),
            defaults: gen(org.defaults.len(), &mut r),
        };
        org.node_level = (0..org.nodes.len())
            .map(|_| r.chance(80).then(|| r.below(3) as i64))
            .collect();
        org.user_tier = (0..org.users.len())
            .map(|_| r.chance(80).then(|| r.below(3) as i64))
            .collect();
        org
    }

    fn node(&self, n: usize) -> String {
        format!("{}:n{n}", self.types[self.nodes[n].0].0)
    }

    fn subject(s: &Result<usize, usize>) -> String {
        match s {
            Ok(u) => format!("u{u}"),
            Err(g) => format!("group g{g}"),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for (name, parent, ov, hi) in &self.types {
            let mut modes = vec![];
            if *ov {
                modes.push("override");
            }
            if *hi {
                modes.push("highest");
            }
            if modes.is_empty() {
                modes.push("union");
            }
            let parent = parent
                .map(|p| format!(" in {}", self.types[p].0))
                .unwrap_or_default();
            out += &format!("type {name}{parent} combine {}\n", modes.join(", "));
        }
        let acts: Vec<String> = (0..self.actions).map(|a| format!("a{a}")).collect();
        out += &format!("action {}\n", acts.join(", "));
        let types: Vec<&str> = self.types.iter().map(|t| t.0).collect();
        out += &format!("attribute level: integer on {}\n", types.join(", "));
        out += "attribute tier: integer\ncontext k: integer\n";
        for (i, role) in self.roles.iter().enumerate() {
            let rank = role.rank;
            let on: Vec<&str> = role.on.iter().map(|&t| self.types[t].0).collect();
            let inc = if role.includes.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = role.includes.iter().map(|j| format!("r{j}")).collect();
                format!(" includes {}", names.join(", "))
            };
            let sticky = if role.sticky { " not overridable" } else { "" };
            let acts: Vec<String> = role.actions.iter().map(|a| format!("a{a}")).collect();
            out += &format!(
                "role r{i} on {} rank {rank}{inc}{sticky} {{ {} }}\n",
                on.join(", "),
                acts.join(", ")
            );
        }
        for (n, (_, parent, creator)) in self.nodes.iter().enumerate() {
            let parent = parent
                .map(|p| format!(" in {}", self.node(p)))
                .unwrap_or_default();
            let creator = creator
                .map(|c| format!(" created by u{c}"))
                .unwrap_or_default();
            let level = self
                .node_level
                .get(n)
                .copied()
                .flatten()
                .map(|l| format!(" with level = {l}"))
                .unwrap_or_default();
            out += &format!(
                "{} n{n}{parent}{creator}{level}\n",
                self.types[self.nodes[n].0].0
            );
        }
        for (u, (banned, service)) in self.users.iter().enumerate() {
            let kind = if *service { "service " } else { "" };
            let status = if *banned { " status banned" } else { "" };
            let tier = self
                .user_tier
                .get(u)
                .copied()
                .flatten()
                .map(|t| format!(" with tier = {t}"))
                .unwrap_or_default();
            out += &format!("{kind}user u{u} in {}{status}{tier}\n", self.node(0));
        }
        for (g, parents) in self.groups.iter().enumerate() {
            out += &format!("group g{g}\n");
            for p in parents {
                out += &format!("add group g{g} to group g{p}\n");
            }
        }
        for (u, g) in &self.members {
            out += &format!("add u{u} to group g{g}\n");
        }
        let guard = |c: &Option<CondGen>| c.as_ref().map(CondGen::text).unwrap_or_default();
        for ((s, role, n), c) in self
            .assigns
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.assigns, i)))
        {
            out += &format!(
                "assign r{role} on {} to {}{}\n",
                self.node(*n),
                Org::subject(s),
                guard(c)
            );
        }
        for ((s, a, n), c) in self
            .grants
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.grants, i)))
        {
            out += &format!(
                "grant a{a} on {} to {}{}\n",
                self.node(*n),
                Org::subject(s),
                guard(c)
            );
        }
        for ((a, n), c) in self
            .denies
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.denies, i)))
        {
            let a = a.map(|a| format!("a{a}")).unwrap_or("*".into());
            let on = n
                .map(|n| format!(" on {}", self.node(n)))
                .unwrap_or_default();
            out += &format!("deny {a}{on} to everyone{}\n", guard(c));
        }
        for (s, a, n) in &self.subject_denies {
            out += &Org::deny_text(self, s, *a, *n);
            out.push('\n');
        }
        for ((t, role), c) in self
            .creator
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.creator, i)))
        {
            out += &format!(
                "creator of {} holds r{role}{}\n",
                self.types[*t].0,
                guard(c)
            );
        }
        for ((t, role), c) in self
            .defaults
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.defaults, i)))
        {
            out += &format!("default r{role} on {}{}\n", self.types[*t].0, guard(c));
        }
        if self.deny_banned {
            out += "deny * to users where status = banned\n";
        }
        out
    }

    // ---- the reference evaluator -------------------------------------------

    fn in_group(&self, u: usize, g: usize) -> bool {
        let mut stack: Vec<usize> = self
            .members
            .iter()
            .filter(|m| m.0 == u)
            .map(|m| m.1)
            .collect();
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            if x == g {
                return true;
            }
            if seen.insert(x) {
                stack.extend(&self.groups[x]);
            }
        }
        false
    }

    fn matches(&self, u: usize, s: &Result<usize, usize>) -> bool {
        match s {
            Ok(v) => *v == u,
            Err(g) => self.in_group(u, *g),
        }
    }

    fn ancestors(&self, n: usize) -> Vec<usize> {
        let mut out = vec![n];
        while let Some(p) = self.nodes[*out.last().unwrap()].1 {
            out.push(p);
        }
        out
    }

    /// Roles held on `n` itself: assignments, the creator rule, else
    /// defaults; those with a condition only where it holds for a request
    /// on `req` in `ctx`.
    fn own(&self, u: usize, n: usize, req: usize, ctx: Ctx) -> BTreeSet<usize> {
        let holds = |c: &Option<CondGen>| CondGen::holds(c, false, self, u, req, ctx);
        let mut out: BTreeSet<usize> = self
            .assigns
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.assigns, i)))
            .filter(|(a, c)| a.2 == n && self.matches(u, &a.0) && holds(c))
            .map(|(a, _)| a.1)
            .collect();
        if self.nodes[n].2 == Some(u) {
            out.extend(
                self.creator
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (x, at(&self.conds.creator, i)))
                    .filter(|(x, c)| x.0 == self.nodes[n].0 && holds(c))
                    .map(|(x, _)| x.1),
            );
        }
        if out.is_empty() {
            // Every user's home is node 0, the root of everything.
            out.extend(
                self.defaults
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (x, at(&self.conds.defaults, i)))
                    .filter(|(d, c)| d.0 == self.nodes[n].0 && holds(c))
                    .map(|(d, _)| d.1),
            );
        }
        out
    }

    fn applies(&self, u: usize, n: usize, req: usize, ctx: Ctx) -> BTreeSet<usize> {
        let own = self.own(u, n, req, ctx);
        let inherited = match self.nodes[n].1 {
            None => BTreeSet::new(),
            Some(p) => {
                let up = self.applies(u, p, req, ctx);
                if self.types[self.nodes[n].0].2 && !own.is_empty() {
                    up.into_iter().filter(|&r| self.roles[r].sticky).collect()
                } else {
                    up
                }
            }
        };
        own.union(&inherited).copied().collect()
    }

    fn closure_actions(&self, r: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut stack = vec![r];
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            if seen.insert(x) {
                out.extend(&self.roles[x].actions);
                stack.extend(&self.roles[x].includes);
            }
        }
        out
    }

    fn allowed(&self, u: usize, a: usize, n: usize) -> bool {
        self.allowed_in(u, a, n, None)
    }

    /// The reference decision for a request in a context.
    fn allowed_in(&self, u: usize, a: usize, n: usize, ctx: Ctx) -> bool {
        let applies = self.applies(u, n, n, ctx);
        let effective: BTreeSet<usize> = if self.types[self.nodes[n].0].3 {
            let top = applies.iter().map(|&r| self.roles[r].rank).max();
            applies
                .iter()
                .copied()
                .filter(|&r| Some(self.roles[r].rank) == top)
                .collect()
        } else {
            applies
        };
        let ancestors = self.ancestors(n);
        let by_role = effective
            .iter()
            .any(|&r| self.closure_actions(r).contains(&a));
        let by_grant = self
            .grants
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.grants, i)))
            .any(|(g, c)| {
                g.1 == a
                    && ancestors.contains(&g.2)
                    && self.matches(u, &g.0)
                    && CondGen::holds(c, false, self, u, n, ctx)
            });
        let denied = self
            .denies
            .iter()
            .enumerate()
            .map(|(i, x)| (x, at(&self.conds.denies, i)))
            .any(|(d, c)| {
                (d.0.is_none() || d.0 == Some(a))
                    && d.1.is_none_or(|x| ancestors.contains(&x))
                    && CondGen::holds(c, true, self, u, n, ctx)
            })
            || (self.deny_banned && self.users[u].0)
            || self.subject_denies.iter().any(|(s, x, on)| {
                x.is_none_or(|x| x == a)
                    && on.is_none_or(|on| ancestors.contains(&on))
                    && self.matches(u, s)
            });
        (by_role || by_grant) && !denied
    }

    fn requests(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.users.len()).flat_map(move |u| {
            (0..self.actions).flat_map(move |a| (0..self.nodes.len()).map(move |n| (u, a, n)))
        })
    }

    fn decisions(&self, s: &Snapshot) -> HashMap<(usize, usize, usize), bool> {
        self.requests()
            .map(|(u, a, n)| {
                (
                    (u, a, n),
                    s.check(&format!("u{u}"), &format!("a{a}"), &self.node(n))
                        .is_allowed(),
                )
            })
            .collect()
    }
}

fn load(text: &str) -> Snapshot {
    Snapshot::from_text("gen.policy", text)
        .unwrap_or_else(|e| panic!("{}\n{text}", e.render(false)))
}

proptest! {
    // 256 cases each by default; `PROPTEST_CASES=N` for a longer run.

    /// Every decision (and its explanation) matches the reference evaluator.
    #[test]
    fn decisions_match_the_reference_evaluator(seed in any::<u64>()) {
        let org = Org::generate(seed);
        let text = org.text();
        let s = load(&text);
        // A snapshot whose tables are never evaluated: every check there is
        // a first check, decided by one run over the resource's ancestry.
        let cold = load(&text);
        for (u, a, n) in org.requests() {
            let (p, act, node) = (format!("u{u}"), format!("a{a}"), org.node(n));
            let expected = org.allowed(u, a, n);
            let got = s.check(&p, &act, &node).is_allowed();
            prop_assert_eq!(got, expected, "{} {} {}\n{}\n{}", p, act, node, s.explain(&p, &act, &node), text);
            let first = cold.decide_first(&grantlog::Request::new(p.as_str(), act.as_str(), node.as_str())).0;
            prop_assert_eq!(first.is_allowed(), expected, "first check of {} {} {}", p, act, node);
            let why = s.explain(&p, &act, &node);
            prop_assert_eq!(why.is_allowed(), expected);
            // who-can lists exactly the principals the reference allows.
            if u == 0 {
                let who = s.who_can(&act, &node).unwrap();
                let expected_who: Vec<String> = {
                    let mut v: Vec<String> = (0..org.users.len()).filter(|&x| org.allowed(x, a, n)).map(|x| format!("u{x}")).collect();
                    v.sort();
                    v
                };
                prop_assert_eq!(who, expected_who);
            }
            // An allow cites reasons, each with a source line that exists.
            if expected {
                prop_assert!(!why.allowed_by.is_empty());
                for step in why.allowed_by.iter().flat_map(|r| &r.steps) {
                    let at = step.at.as_ref().unwrap();
                    prop_assert_eq!(text.lines().nth(at.line as usize - 1).map(str::trim), Some(at.text.as_str()));
                }
            }
        }
    }

    /// With random conditions on every kind of rule and random (sometimes
    /// missing) attribute values, every decision in every context matches
    /// the reference evaluator, through the tables and through a fresh
    /// explanation: a condition with no value fails closed on both.
    #[test]
    fn conditional_decisions_match_the_reference_evaluator(seed in any::<u64>()) {
        let org = Org::conditional(seed);
        let text = org.text();
        let s = load(&text);
        let cold = load(&text);
        for (u, a, n) in org.requests() {
            let (p, act, node) = (format!("u{u}"), format!("a{a}"), org.node(n));
            for ctx in [None, Some(0), Some(1), Some(2)] {
                let context = match ctx {
                    Some(k) => serde_json::json!({"k": k}),
                    None => serde_json::json!({}),
                };
                let r = grantlog::Request::new(p.as_str(), act.as_str(), node.as_str()).with_context(context);
                let expected = org.allowed_in(u, a, n, ctx);
                let got = s.decide(&r).is_allowed();
                let why = s.explain_request(&r);
                prop_assert_eq!(got, expected, "{} {} {} {:?}\n{}\n{}", p, act, node, ctx, why, text);
                prop_assert_eq!(why.is_allowed(), expected, "{} {} {} {:?}\n{}\n{}", p, act, node, ctx, why, text);
                prop_assert_eq!(cold.decide_first(&r).0, s.decide(&r), "first check of {} {} {} {:?}", p, act, node, ctx);
            }
            // Without a context, check decides as the reference does with no `k`.
            prop_assert_eq!(s.check(&p, &act, &node).is_allowed(), org.allowed_in(u, a, n, None));
        }
    }

    /// A banned principal is never allowed anything, whatever it holds.
    #[test]
    fn a_banned_principal_is_never_allowed(seed in any::<u64>()) {
        let mut org = Org::generate(seed);
        org.deny_banned = true;
        let s = load(&org.text());
        for ((u, a, n), allowed) in org.decisions(&s) {
            prop_assert!(!(allowed && org.users[u].0), "u{} a{} {}", u, a, org.node(n));
        }
    }

    /// Removing a direct grant never adds access.
    #[test]
    fn removing_a_grant_never_adds_access(seed in any::<u64>()) {
        let mut org = Org::generate(seed);
        if org.grants.is_empty() {
            org.grants.push((Ok(0), 0, org.nodes.len() - 1));
        }
        let before = org.decisions(&load(&org.text()));
        let mut less = org.clone();
        less.grants.pop();
        for (key, allowed) in less.decisions(&load(&less.text())) {
            prop_assert!(!allowed || before[&key], "{:?} gained", key);
        }
    }

    /// Highest privilege never allows more than union.
    #[test]
    fn highest_never_allows_more_than_union(seed in any::<u64>()) {
        let mut union = Org::generate(seed);
        for t in &mut union.types {
            t.3 = false;
        }
        let mut highest = union.clone();
        for t in &mut highest.types {
            t.3 = true;
        }
        let u = union.decisions(&load(&union.text()));
        for (key, allowed) in highest.decisions(&load(&highest.text())) {
            prop_assert!(!allowed || u[&key], "{:?}", key);
        }
    }
}

impl Org {
    fn deny_text(&self, s: &Result<usize, usize>, a: Option<usize>, n: Option<usize>) -> String {
        let a = a.map(|a| format!("a{a}")).unwrap_or("*".into());
        let on = n
            .map(|n| format!(" on {}", self.node(n)))
            .unwrap_or_default();
        format!("deny {a}{on} to {}", Org::subject(s))
    }

    /// One random change, as the statement that makes it and whether it is
    /// a removal; `self` is changed to match. `None` when the change drawn
    /// does not apply to this organisation.
    fn change(&mut self, r: &mut Rng) -> Option<(String, bool)> {
        let subject = |org: &Org, r: &mut Rng| {
            if !org.groups.is_empty() && r.chance(50) {
                Err(r.below(org.groups.len()))
            } else {
                Ok(r.below(org.users.len()))
            }
        };
        match r.below(10) {
            8 => {
                // A deny on one subject: `*` or one action, on a node or
                // everywhere; duplicates and overlaps come by chance.
                let d = (
                    subject(self, r),
                    r.chance(50).then(|| r.below(self.actions)),
                    r.chance(70).then(|| r.below(self.nodes.len())),
                );
                self.subject_denies.push(d);
                Some((Org::deny_text(self, &d.0, d.1, d.2), false))
            }
            9 if !self.subject_denies.is_empty() => {
                let (s, a, n) = self
                    .subject_denies
                    .remove(r.below(self.subject_denies.len()));
                Some((Org::deny_text(self, &s, a, n), true))
            }
            // A removal takes away one statement: of two identical ones,
            // the other stays in force.
            0 if !self.members.is_empty() => {
                let (u, g) = self.members.remove(r.below(self.members.len()));
                Some((format!("add u{u} to group g{g}"), true))
            }
            1 if !self.groups.is_empty() => {
                let m = (r.below(self.users.len()), r.below(self.groups.len()));
                self.members.push(m);
                Some((format!("add u{} to group g{}", m.0, m.1), false))
            }
            2 if !self.assigns.is_empty() => {
                let (s, role, n) = self.assigns.remove(r.below(self.assigns.len()));
                let text = format!("assign r{role} on {} to {}", self.node(n), Org::subject(&s));
                Some((text, true))
            }
            3 => {
                let role = r.below(self.roles.len());
                let cands: Vec<usize> = (0..self.nodes.len())
                    .filter(|&n| self.roles[role].on.contains(&self.nodes[n].0))
                    .collect();
                let n = *cands.get(r.below(cands.len().max(1)))?;
                let s = subject(self, r);
                self.assigns.push((s, role, n));
                let text = format!("assign r{role} on {} to {}", self.node(n), Org::subject(&s));
                Some((text, false))
            }
            4 if !self.grants.is_empty() => {
                let (s, a, n) = self.grants.remove(r.below(self.grants.len()));
                Some((
                    format!("grant a{a} on {} to {}", self.node(n), Org::subject(&s)),
                    true,
                ))
            }
            5 => {
                let g = (
                    subject(self, r),
                    r.below(self.actions),
                    r.below(self.nodes.len()),
                );
                self.grants.push(g);
                let (s, a, n) = g;
                Some((
                    format!("grant a{a} on {} to {}", self.node(n), Org::subject(&s)),
                    false,
                ))
            }
            6 => {
                // A user restated with the other status.
                let u = r.below(self.users.len());
                self.users[u].0 = !self.users[u].0;
                let (banned, service) = self.users[u];
                let kind = if service { "service " } else { "" };
                let status = if banned { " status banned" } else { "" };
                Some((
                    format!("{kind}user u{u} in {}{status}", self.node(0)),
                    false,
                ))
            }
            7 => {
                // A new leaf node, perhaps with its creator.
                let parent = r.below(self.nodes.len());
                let ty = self.nodes[parent].0 + 1;
                if ty >= self.types.len() {
                    return None;
                }
                let creator = r.chance(50).then(|| r.below(self.users.len()));
                self.nodes.push((ty, Some(parent), creator));
                let n = self.nodes.len() - 1;
                let by = creator
                    .map(|c| format!(" created by u{c}"))
                    .unwrap_or_default();
                Some((
                    format!("{} n{n} in {}{by}", self.types[ty].0, self.node(parent)),
                    false,
                ))
            }
            _ => None,
        }
    }
}

proptest! {
    /// After every batch of a stream of live updates (memberships,
    /// assignments and grants added and removed, users restated, nodes
    /// added), every decision matches the reference evaluator on the
    /// organisation as it then stands, and the updated snapshot agrees with
    /// itself indexed afresh.
    #[test]
    fn live_updates_match_the_reference_evaluator(seed in any::<u64>()) {
        let mut org = Org::generate(seed);
        let engine = grantlog::Engine::new(load(&org.text()));
        engine.snapshot().warm();
        let mut r = Rng(seed ^ 0x0123_4567_89ab_cdef);
        for _ in 0..6 {
            let mut batch = grantlog::Batch::new();
            let mut said = Vec::new();
            for _ in 0..1 + r.below(3) {
                let before = org.clone();
                if let Some((statement, removal)) = org.change(&mut r) {
                    // One change per fact in a batch: a removal names the
                    // policy as it stood before the batch.
                    let key = statement.replace(" status banned", "");
                    if said.contains(&key) {
                        org = before;
                        continue;
                    }
                    said.push(key);
                    batch = if removal { batch.remove(&statement) } else { batch.add(&statement) };
                }
            }
            let text = org.text();
            if let Err(e) = engine.apply(batch.clone()) {
                panic!("{}\n{batch:?}\n{text}", e.render(false));
            }
            let s = engine.snapshot();
            let again = s.reindexed().unwrap();
            for (u, a, n) in org.requests() {
                let (p, act, node) = (format!("u{u}"), format!("a{a}"), org.node(n));
                // A principal the update reached has no table yet: its first
                // check reads the index as the update left it.
                let request = grantlog::Request::new(p.as_str(), act.as_str(), node.as_str());
                let first = s.decide_first(&request).0.is_allowed();
                prop_assert_eq!(first, org.allowed(u, a, n), "first check of {} {} {}\n{:?}\n{}", p, act, node, batch, text);
                let got = s.check(&p, &act, &node).is_allowed();
                prop_assert_eq!(got, org.allowed(u, a, n), "{} {} {}\n{:?}\n{}", p, act, node, batch, text);
                prop_assert_eq!(got, again.check(&p, &act, &node).is_allowed());
            }
        }
    }
}

/// A string an attacker might put in any field of a fact: words of the
/// language, braces, quotes, line breaks, colons, look-alike letters.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("role".to_string()),
        Just("assign".to_string()),
        Just("owner".to_string()),
        Just("everyone".to_string()),
        Just("group".to_string()),
        Just("workspace:marketing".to_string()),
        Just("team:acme".to_string()),
        Just("\n".to_string()),
        Just("\"".to_string()),
        Just("{ * }".to_string()),
        Just(" = ".to_string()),
        Just(":".to_string()),
        Just("e\u{301}".to_string()),
        Just("\u{430}".to_string()),
        "[a-z]{1,6}",
    ];
    proptest::collection::vec(pieces, 1..6).prop_map(|p| p.join(" "))
}

fn subject_fact() -> impl Strategy<Value = grantlog::facts::SubjectFact> {
    use grantlog::facts::SubjectFact;
    prop_oneof![
        hostile().prop_map(SubjectFact::User),
        hostile().prop_map(SubjectFact::Group),
        Just(SubjectFact::User("carol".into())),
        Just(SubjectFact::Group("support".into())),
    ]
}

fn facts() -> impl Strategy<Value = grantlog::facts::Facts> {
    use grantlog::facts::*;
    let user = (
        hostile(),
        proptest::option::of(hostile()),
        proptest::collection::btree_map(hostile(), hostile(), 0..3),
    )
        .prop_map(|(name, status, attributes)| UserFact {
            name,
            kind: None,
            status,
            homes: vec!["team:acme".into()],
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k, AttributeFact::from(v.as_str())))
                .collect(),
        });
    let assignment = (hostile(), hostile(), subject_fact())
        .prop_map(|(role, on, to)| AssignmentFact { role, on, to });
    let assignment = prop_oneof![
        assignment,
        subject_fact().prop_map(|to| AssignmentFact {
            role: "editor".into(),
            on: "workspace:marketing".into(),
            to
        }),
    ];
    let grant = (
        proptest::collection::vec(hostile(), 1..3),
        hostile(),
        subject_fact(),
    )
        .prop_map(|(actions, on, to)| GrantFact { actions, on, to });
    let group =
        (hostile(), proptest::collection::vec(subject_fact(), 0..3)).prop_map(|(name, members)| {
            GroupFact {
                name,
                homes: vec![],
                members,
            }
        });
    let node = (
        hostile(),
        hostile(),
        proptest::option::of(hostile()),
        proptest::collection::btree_map(hostile(), hostile(), 0..2),
    )
        .prop_map(|(ty, name, parent, attributes)| NodeFact {
            ty,
            name,
            parent,
            created_by: None,
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k, AttributeFact::from(v.as_str())))
                .collect(),
        });
    (
        proptest::collection::vec(user, 0..3),
        proptest::collection::vec(group, 0..2),
        proptest::collection::vec(assignment, 0..3),
        proptest::collection::vec(grant, 0..2),
        proptest::collection::vec(node, 0..2),
    )
        .prop_map(|(users, groups, assignments, grants, nodes)| Facts {
            users,
            groups,
            assignments,
            grants,
            nodes,
            ..Facts::default()
        })
}

proptest! {
    /// Whatever JSON facts hold, loaded with a policy or applied as a live
    /// update, the policy's rules are exactly its files' rules.
    #[test]
    fn facts_from_any_source_never_change_the_rules(facts in facts()) {
        let text = std::fs::read_to_string("policies/dify.policy").unwrap();
        let base = load(&text);
        let rules = base.model().rules_text();
        let mut sources = grantlog::source::Sources::default();
        sources.add("dify.policy", text.clone());
        if facts.add_to("facts.json", &mut sources).is_ok() {
            if let Ok(s) = Snapshot::from_sources(sources) {
                prop_assert_eq!(s.model().rules_text(), rules.clone());
            }
        }
        let engine = grantlog::Engine::new(load(&text));
        if engine.apply(grantlog::Batch::new().add_facts(&facts)).is_ok() {
            prop_assert_eq!(engine.snapshot().model().rules_text(), rules);
        }
    }

    /// However a name is written (composed or not, in another case, with a
    /// look-alike letter), two declarations never make two principals a
    /// reader would take for one.
    #[test]
    fn name_variants_never_yield_two_principals(
        base in "[a-z]{1,5}",
        accent in any::<bool>(),
        variant in 0..4usize,
    ) {
        let name = if accent { format!("{base}\u{e9}") } else { base.clone() };
        let other = match variant {
            0 => name.replace('\u{e9}', "e\u{301}"),
            1 => name.to_uppercase(),
            2 => name.replacen('a', "\u{430}", 1).replacen('o', "\u{43e}", 1),
            _ => format!("{name}\u{200b}"),
        };
        let q = grantlog::syntax::names::quote;
        let text = format!("user {}\nuser {}\n", q(&name), q(&other));
        if let Ok(s) = Snapshot::from_text("names.policy", &text) {
            let keys: std::collections::HashSet<String> = s
                .model()
                .principals
                .iter()
                .map(|p| grantlog::syntax::names::lookalike_key(&p.name))
                .collect();
            prop_assert_eq!(keys.len(), s.model().principals.len(), "{:?}", text);
        }
    }
}
