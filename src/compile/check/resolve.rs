//! Pass 2 of the checker: resolve every reference of every statement,
//! one method per statement, each working on the id pass 1 declared.

use super::*;

impl Checker {
    /// Pass 2: resolve every reference.
    pub(super) fn resolve(&mut self, items: &[&Item], declared: &[Option<Declared>]) {
        // Attribute keys first so selectors can be checked against them.
        for item in items {
            match &item.statement {
                Statement::Principal { attrs, .. } => {
                    for (k, _) in attrs {
                        self.sym(&k.text);
                    }
                }
                Statement::Attribute {
                    names,
                    values,
                    ty,
                    on,
                    context,
                } => {
                    let users = on.is_empty() && !context;
                    if users {
                        for k in names {
                            self.sym(&k.text);
                            if !self.m.declared_attributes.contains(&k.text) {
                                self.m.declared_attributes.push(k.text.clone());
                            }
                        }
                        if let (Some(values), [key]) = (values, names.as_slice()) {
                            self.declare_values(key, values, item.span);
                        }
                    }
                    if let [key] = names.as_slice() {
                        if ty.is_some() || !users {
                            self.declare_typed(key, values.as_deref(), ty.as_ref(), on, *context);
                        }
                    }
                }
                _ => {}
            }
        }
        let mut modes: Vec<Option<Vec<Mode>>> = vec![None; self.m.types.len()];
        // Types and roles first, so that a statement may use a role (or a
        // node a type) declared further down, or in a later file.
        let model = |(i, _): &(&&Item, &Option<Declared>)| {
            matches!(
                i.statement,
                Statement::Type { .. } | Statement::Action { .. } | Statement::Role { .. }
            )
        };
        let pairs = || items.iter().zip(declared);
        let ordered: Vec<(&Item, Option<Declared>)> = pairs()
            .filter(model)
            .chain(pairs().filter(|x| !model(x)))
            .map(|(i, d)| (*i, *d))
            .collect();
        for (item, declared) in ordered {
            let span = item.span;
            match &item.statement {
                Statement::Type {
                    parents, modes: ms, ..
                } => {
                    let Some(Declared::Type(t)) = declared else {
                        continue; // a duplicate or a keyword, already reported
                    };
                    for p in parents {
                        if let Some(pt) = self.lookup::<TypeId>(Kind::Type, p) {
                            self.m.types[t.index()].parents.push(pt);
                            self.m.types[pt.index()].children.push(t);
                        }
                    }
                    if !ms.is_empty() {
                        modes[t.index()] = Some(ms.clone());
                    }
                }
                Statement::Role { .. } => self.resolve_role(&item.statement, declared, span),
                Statement::Node { .. } => self.resolve_node_decl(&item.statement, declared, span),
                Statement::Principal { .. } => self.resolve_principal(&item.statement, declared),
                Statement::Group { .. } => self.resolve_group(&item.statement, declared, span),
                Statement::Add { members, group } => {
                    if let Some(g) = self.lookup::<GroupId>(Kind::Group, group) {
                        self.members(members, g, span);
                    }
                }
                Statement::Assign { .. } => self.resolve_assign(&item.statement, span),
                Statement::Grant { .. } => self.resolve_grant(&item.statement, span),
                Statement::Deny { .. } => self.resolve_deny(&item.statement, span),
                Statement::Creator { .. } => self.resolve_creator(&item.statement, span),
                Statement::Default { .. } => self.resolve_default(&item.statement, span),
                Statement::Constraint(ConstraintKind::Holders {
                    min,
                    max,
                    role,
                    per,
                }) => {
                    let r = self.lookup::<RoleId>(Kind::Role, role);
                    let t = self.lookup::<TypeId>(Kind::Type, per);
                    if let (Some(role), Some(per)) = (r, t) {
                        let fact = self.fact(span);
                        self.m.constraints.push(Constraint::Holders {
                            min: *min,
                            max: *max,
                            role,
                            per,
                            fact,
                        });
                    }
                }
                Statement::Constraint(ConstraintKind::NoGroups { kind }) => {
                    let kind = if kind.text == "service" {
                        PrincipalKind::Service
                    } else {
                        PrincipalKind::Human
                    };
                    let fact = self.fact(span);
                    self.m.constraints.push(Constraint::NoGroups { kind, fact });
                }
                Statement::Test { .. } => self.resolve_test(&item.statement),
                Statement::Action { names, on } => {
                    let on: Vec<TypeId> = on
                        .iter()
                        .filter_map(|t| self.lookup::<TypeId>(Kind::Type, t))
                        .collect();
                    for n in names {
                        if let Some(&a) = self.m.names.actions.get(&n.text) {
                            self.m.action_types[a.index()].clone_from(&on);
                        }
                    }
                }
                Statement::Attribute { .. } | Statement::Option { .. } => {}
            }
        }
        self.resolve_modes(modes);
        self.role_actions_apply(items, declared);
    }

    /// Every action a role lists applies on a node its role can reach: a
    /// node of one of its types or below one.
    fn role_actions_apply(&mut self, items: &[&Item], declared: &[Option<Declared>]) {
        for (item, declared) in items.iter().zip(declared) {
            let (
                Statement::Role {
                    actions: Some(Actions::List(names)),
                    ..
                },
                Some(Declared::Role(r)),
            ) = (&item.statement, declared)
            else {
                continue;
            };
            let on = self.m.roles[r.index()].on.clone();
            for name in names {
                let Some(&a) = self.m.names.actions.get(&name.text) else {
                    continue;
                };
                if !on.iter().any(|&t| self.m.action_reaches(a, t)) {
                    let role = self.m.roles[r.index()].name.clone();
                    let types = self.m.type_list(&on);
                    let d = self.inapplicable(
                        a,
                        name.span,
                        format!("role `{role}` is given on {types}"),
                    );
                    self.errors.push(d);
                }
            }
        }
    }

    /// "`a` cannot apply here", for an action named where no node it applies
    /// to can be.
    fn inapplicable(&self, a: ActionId, span: Span, where_: String) -> Diagnostic {
        let action = &self.m.actions[a.index()];
        let types = self.m.type_list(&self.m.action_types[a.index()]);
        Diagnostic::new(
            Code::Placement,
            format!("action `{action}` applies to {types} nodes, and none can be here"),
            span,
        )
        .label(format!("{where_}, with no {types} node inside"))
        .help(format!(
            "name it on a node of {types} or one that contains them, or add the type to `action {action} on ...`"
        ))
    }

    /// The actions a grant or deny on `node` names: each explicitly named
    /// one must apply there or below; `*` means those that do.
    fn actions_on(&mut self, actions: &Actions, node: Option<NodeId>) -> Vec<ActionId> {
        let acts = self.actions(actions);
        let Some(n) = node else { return acts };
        let ty = self.m.nodes[n.index()].ty;
        if let Actions::List(names) = actions {
            for name in names {
                if let Some(&a) = self.m.names.actions.get(&name.text) {
                    if !self.m.action_reaches(a, ty) {
                        let node = self.m.node_name(n);
                        let d = self.inapplicable(
                            a,
                            name.span,
                            format!("`{node}` is a `{}`", self.m.types[ty.index()].name),
                        );
                        self.errors.push(d);
                    }
                }
            }
        }
        acts.into_iter()
            .filter(|&a| self.m.action_reaches(a, ty))
            .collect()
    }

    fn members(&mut self, members: &[ast::Subject], group: GroupId, span: Span) {
        let fact = self.fact(span);
        for m in members {
            if let Some(member) = self.subject(m) {
                self.m.memberships.push(Membership {
                    live: true,
                    member,
                    group,
                    fact,
                });
            }
        }
    }

    /// A type without `combine` takes its first parent type's modes.
    fn resolve_modes(&mut self, modes: Vec<Option<Vec<Mode>>>) {
        for t in self.first_new_type..self.m.types.len() {
            let mut cur = t;
            let mut seen = 0;
            let ms = loop {
                if let Some(ms) = &modes[cur] {
                    break ms.clone();
                }
                if cur < self.first_new_type {
                    // Already resolved, by the model being extended.
                    let def = &self.m.types[cur];
                    let mut ms = vec![Mode::Union];
                    ms.extend(def.overrides.then_some(Mode::Override));
                    ms.extend(def.highest.then_some(Mode::Highest));
                    break ms;
                }
                match self.m.types[cur].parents.first() {
                    Some(p) if seen < self.m.types.len() => {
                        cur = p.index();
                        seen += 1;
                    }
                    _ => break vec![Mode::Union],
                }
            };
            let def = &mut self.m.types[t];
            def.overrides = ms.contains(&Mode::Override);
            def.highest = ms.contains(&Mode::Highest);
        }
    }

    /// `role NAME on TYPE, ... { ... }`: its types, inclusions, rank and actions.
    pub(super) fn resolve_role(
        &mut self,
        statement: &Statement,
        declared: Option<Declared>,
        span: Span,
    ) {
        let Statement::Role {
            on,
            rank,
            ladder,
            includes,
            sticky,
            actions,
            ..
        } = statement
        else {
            return;
        };
        let Some(Declared::Role(r)) = declared else {
            return;
        };
        let on: Vec<TypeId> = on
            .iter()
            .filter_map(|t| self.lookup(Kind::Type, t))
            .collect();
        let mut inc = Vec::new();
        for i in includes {
            if let Some(ir) = self.lookup::<RoleId>(Kind::Role, i) {
                let f = self.fact(span);
                inc.push((ir, f));
            }
        }
        let acts = actions
            .as_ref()
            .map(|a| self.actions(a))
            .unwrap_or_default();
        if let Some((value, span)) = rank {
            if !(0..=MAX_RANK).contains(value) {
                self.errors.push(
                    Diagnostic::new(Code::Rank, "rank out of range", *span)
                        .label("too large")
                        .help(format!("ranks are whole numbers from 0 to {MAX_RANK}")),
                );
            }
        }
        // Roles of no ladder share the unnamed one.
        let ladder = self.sym(ladder.as_ref().map_or("", |l| l.text.as_str()));
        let role = &mut self.m.roles[r.index()];
        role.ladder = ladder;
        role.on = on;
        role.rank = rank.map_or(0, |(v, _)| v);
        role.includes = inc;
        role.sticky = *sticky;
        role.actions = acts;
    }

    /// `TYPE NAME in PARENT created by USER`: its parent (of an allowed type) and creator.
    pub(super) fn resolve_node_decl(
        &mut self,
        statement: &Statement,
        declared: Option<Declared>,
        span: Span,
    ) {
        let Statement::Node {
            ty,
            name,
            parent,
            creator,
            attrs,
        } = statement
        else {
            return;
        };
        let key = format!("{}:{}", ty.text, name.text);
        let Some(Declared::Node(n)) = declared else {
            return;
        };
        let t = self.m.nodes[n.index()].ty;
        let values = self.typed_values(attrs, Some(t));
        self.m.nodes[n.index()].values = values;
        if let Some(p) = parent {
            if let Some(pn) = self.node(p) {
                let pt = self.m.nodes[pn.index()].ty;
                if self.m.types[t.index()].parents.contains(&pt) {
                    self.m.nodes[n.index()].parent = Some(pn);
                } else {
                    let allowed: Vec<String> = self.m.types[t.index()]
                        .parents
                        .iter()
                        .map(|x| format!("`{}`", self.m.types[x.index()].name))
                        .collect();
                    self.errors.push(
                        Diagnostic::new(
                            Code::Placement,
                            format!(
                                "`{}` nodes cannot be placed in `{}` nodes",
                                ty.text,
                                self.m.types[pt.index()].name
                            ),
                            Span {
                                start: p.ty.span.start,
                                ..p.name.span
                            },
                        )
                        .label("wrong kind of parent")
                        .help(if allowed.is_empty() {
                            format!("`{}` is a top-level type: remove the `in` clause", ty.text)
                        } else {
                            format!("`{}` nodes go in {}", ty.text, allowed.join(" or "))
                        }),
                    );
                }
            }
        } else if !self.m.types[t.index()].parents.is_empty() {
            let allowed: Vec<String> = self.m.types[t.index()]
                .parents
                .iter()
                .map(|x| format!("`{}`", self.m.types[x.index()].name))
                .collect();
            self.errors.push(
                Diagnostic::new(Code::Placement, format!("`{key}` has no parent"), name.span)
                    .label("missing `in PARENT`")
                    .help(format!(
                        "`{}` nodes go in {}: add `in TYPE:NAME`",
                        ty.text,
                        allowed.join(" or ")
                    )),
            );
        }
        if let Some(c) = creator {
            if let Some(p) = self.lookup::<PrincipalId>(Kind::Principal, c) {
                let f = self.fact(span);
                self.m.nodes[n.index()].creator = Some((p, f));
            }
        }
    }

    /// `user NAME ...`: its kind, homes, status and attributes (checked against their declared values).
    pub(super) fn resolve_principal(&mut self, statement: &Statement, declared: Option<Declared>) {
        let Statement::Principal {
            kind,
            homes,
            status,
            attrs,
            ..
        } = statement
        else {
            return;
        };
        let Some(Declared::Principal(p)) = declared else {
            return;
        };
        let kind = match kind.as_ref().map(|k| k.text.as_str()) {
            Some("service") => PrincipalKind::Service,
            _ => PrincipalKind::Human,
        };
        let homes: Vec<NodeId> = homes.iter().filter_map(|h| self.node(h)).collect();
        let mut syms = Vec::new();
        let k = self.sym("kind");
        let v = self.sym(match kind {
            PrincipalKind::Human => "human",
            PrincipalKind::Service => "service",
        });
        syms.push((k, v));
        let k = self.sym("status");
        if let Some(status) = status {
            self.check_value("status", status);
        }
        let v = self.sym(status.as_ref().map_or("active", |s| s.text.as_str()));
        syms.push((k, v));
        let values = self.typed_values(attrs, None);
        for (key, value) in attrs {
            if matches!(key.text.as_str(), "status" | "kind") {
                self.errors.push(
                    Diagnostic::new(
                        Code::AttributeValue,
                        format!("`{}` is set with its own keyword", key.text),
                        key.span,
                    )
                    .help(format!(
                        "write `{}` before `with`, e.g. `user alice status banned`",
                        if key.text == "kind" {
                            "service user NAME"
                        } else {
                            "status VALUE"
                        }
                    )),
                );
                continue;
            }
            let typed = self.m.attribute_types.contains_key(&key.text);
            let value = match value {
                AttrValue::One(v) => v,
                AttrValue::Set(_, span) if !typed => {
                    self.errors.push(
                        Diagnostic::new(
                            Code::AttributeValue,
                            format!("`{}` takes one value", key.text),
                            *span,
                        )
                        .label("a set")
                        .help(format!(
                            "declare it as a set to give several: `attribute {}: set of string`",
                            key.text
                        )),
                    );
                    continue;
                }
                // A typed set is read by `typed_values`; selectors test one value.
                AttrValue::Set(..) => continue,
            };
            if !typed {
                self.check_value(&key.text, value);
            }
            let ks = self.sym(&key.text);
            let vs = self.sym(&value.text);
            syms.push((ks, vs));
        }
        let def = &mut self.m.principals[p.index()];
        def.values = values;
        def.kind = kind;
        def.homes = homes;
        def.attrs = syms;
    }

    /// `group NAME in ... { ... }`: its homes and members.
    pub(super) fn resolve_group(
        &mut self,
        statement: &Statement,
        declared: Option<Declared>,
        span: Span,
    ) {
        let Statement::Group { homes, members, .. } = statement else {
            return;
        };
        let Some(Declared::Group(g)) = declared else {
            return;
        };
        let homes: Vec<NodeId> = homes.iter().filter_map(|h| self.node(h)).collect();
        self.m.groups[g.index()].homes = homes;
        self.members(members, g, span);
    }

    /// `assign ROLE on NODE to ...`: one assignment per subject, on a type the role allows.
    pub(super) fn resolve_assign(&mut self, statement: &Statement, span: Span) {
        let Statement::Assign {
            role,
            on,
            to,
            guard,
        } = statement
        else {
            return;
        };
        let cond = self.guard(guard, false);
        let r = self.lookup::<RoleId>(Kind::Role, role);
        let n = self.node(on);
        let subjects: Vec<_> = to.iter().filter_map(|s| self.subject(s)).collect();
        if let (Some(r), Some(n)) = (r, n) {
            let t = self.m.nodes[n.index()].ty;
            if self.role_on(
                r,
                t,
                Span {
                    start: on.ty.span.start,
                    ..on.name.span
                },
                "assigned on",
            ) {
                let fact = self.fact(span);
                for subject in subjects {
                    self.m.assignments.push(Assignment {
                        live: true,
                        subject,
                        role: r,
                        node: n,
                        fact,
                        cond,
                    });
                }
            }
        }
    }

    /// `grant ACTIONS on NODE to ...`: one grant per subject and action.
    pub(super) fn resolve_grant(&mut self, statement: &Statement, span: Span) {
        let Statement::Grant {
            actions,
            on,
            to,
            guard,
        } = statement
        else {
            return;
        };
        let cond = self.guard(guard, false);
        let n = self.node(on);
        let acts = self.actions_on(actions, n);
        let subjects: Vec<_> = to.iter().filter_map(|s| self.subject(s)).collect();
        if let Some(node) = n {
            let fact = self.fact(span);
            for &subject in &subjects {
                for &action in &acts {
                    self.m.grants.push(Grant {
                        live: true,
                        subject,
                        action,
                        node,
                        fact,
                        cond,
                    });
                }
            }
        }
    }

    /// `deny ACTIONS [on NODE] to WHO`: one deny per action.
    pub(super) fn resolve_deny(&mut self, statement: &Statement, span: Span) {
        let Statement::Deny {
            actions,
            on,
            to,
            guard,
        } = statement
        else {
            return;
        };
        let cond = self.guard(guard, true);
        let node = on.as_ref().map(|n| self.node(n));
        if matches!(node, Some(None)) {
            return;
        }
        let acts = self.actions_on(actions, node.flatten());
        if let Some(subject) = self.subject(to) {
            let fact = self.fact(span);
            for &action in &acts {
                self.m.denies.push(Deny {
                    live: true,
                    subject,
                    action,
                    node: node.flatten(),
                    fact,
                    cond,
                });
            }
        }
    }

    /// `creator of TYPE, ... holds ROLE [while assigned]`.
    pub(super) fn resolve_creator(&mut self, statement: &Statement, span: Span) {
        let Statement::Creator {
            types,
            role,
            while_assigned,
            guard,
        } = statement
        else {
            return;
        };
        let cond = self.guard(guard, false);
        let r = self.lookup::<RoleId>(Kind::Role, role);
        for ty in types {
            if let (Some(t), Some(r)) = (self.lookup::<TypeId>(Kind::Type, ty), r) {
                if self.role_on(r, t, ty.span, "held on") {
                    let fact = self.fact(span);
                    self.m.creator_rules.push(CreatorRule {
                        ty: t,
                        role: r,
                        fact,
                        cond,
                        while_assigned: *while_assigned,
                    });
                }
            }
        }
    }

    /// `default ROLE on TYPE [to WHO]` (everyone when `to` is absent).
    pub(super) fn resolve_default(&mut self, statement: &Statement, span: Span) {
        let Statement::Default {
            role,
            on,
            to,
            guard,
        } = statement
        else {
            return;
        };
        let cond = self.guard(guard, false);
        let r = self.lookup::<RoleId>(Kind::Role, role);
        let (t, node, on_span) = match on {
            Target::Type(t) => (self.lookup::<TypeId>(Kind::Type, t), None, t.span),
            Target::Node(n) => {
                let node = self.node(n);
                let t = node.map(|n| self.m.nodes[n.index()].ty);
                (t, node, n.name.span)
            }
        };
        let subject = match to {
            Some(s) => self.subject(s),
            None => Some(self.selector(Vec::new(), None, None)),
        };
        if let (Some(r), Some(t), Some(subject)) = (r, t, subject) {
            if self.role_on(r, t, on_span, "given on") {
                let fact = self.fact(span);
                self.m.defaults.push(DefaultRule {
                    ty: t,
                    node,
                    role: r,
                    subject,
                    fact,
                    cond,
                });
            }
        }
    }

    /// `test "..." { expect ... }`: every name of every expectation.
    pub(super) fn resolve_test(&mut self, statement: &Statement) {
        let Statement::Test { name, expectations } = statement else {
            return;
        };
        let mut out = Vec::new();
        for e in expectations {
            let p = self.lookup::<PrincipalId>(Kind::Principal, &e.principal);
            let a = self.lookup::<ActionId>(Kind::Action, &e.action);
            let n = self.node(&e.resource);
            if let Some(by) = &e.by {
                if !matches!(
                    by.text.as_str(),
                    "creator" | "default" | "grant" | "deny" | "nothing"
                ) {
                    self.lookup::<RoleId>(Kind::Role, by);
                }
            }
            let context = self.given(&e.given);
            if p.is_some() && a.is_some() && n.is_some() {
                out.push(Expectation {
                    allow: e.allow,
                    principal: e.principal.text.clone(),
                    action: e.action.text.clone(),
                    resource: format!("{}:{}", e.resource.ty.text, e.resource.name.text),
                    by: e.by.as_ref().map(|b| b.text.clone()),
                    context,
                    span: e.span,
                });
            }
        }
        self.m.tests.push(Test {
            name: name.text.clone(),
            expectations: out,
        });
    }
}
