//! Pass 1 of the checker: give every declared name an id, reporting
//! duplicates, invisible characters, keywords used as types and lookalike
//! names, and read the policy's options.

use super::*;

impl Checker {
    pub(super) fn duplicate(&mut self, what: &str, name: &Name, first: Span) {
        let first = self.m.sources.locate(first);
        self.errors.push(
            Diagnostic::new(
                Code::Duplicate,
                format!("{what} `{}` is defined twice", short(&name.text)),
                name.span,
            )
            .label("second definition")
            .help(format!(
                "the first definition is at {}:{}:{}; remove one or rename it",
                first.file, first.line, first.column
            )),
        );
    }

    /// Records the first definition of a name of one kind; reports a second
    /// one and returns `false` for it.
    pub(super) fn first_definition(
        &mut self,
        spans: &mut FxHashMap<(Kind, String), Span>,
        kind: Kind,
        name: &Name,
    ) -> bool {
        if let Some(&first) = spans.get(&(kind, name.text.clone())) {
            self.duplicate(kind.word(), name, first);
            return false;
        }
        if let Some(first) = self.existing(kind, &name.text) {
            self.duplicate(kind.word(), name, first);
            return false;
        }
        spans.insert((kind, name.text.clone()), name.span);
        true
    }

    /// Where the model being extended defines a name of one kind, if it
    /// does. Actions are left out (an update cannot declare them at all),
    /// and users too (an update restates them).
    pub(super) fn existing(&self, kind: Kind, name: &str) -> Option<Span> {
        if !self.extending {
            return None;
        }
        let m = &self.m;
        match kind {
            Kind::Type => m.names.types.get(name).map(|t| m.types[t.index()].span),
            Kind::Role => m.names.roles.get(name).map(|r| m.roles[r.index()].span),
            Kind::Group => m
                .names
                .groups
                .get(name)
                .map(|g| m.facts[m.groups[g.index()].fact.index()]),
            Kind::Node => m
                .names
                .nodes
                .get(name)
                .map(|n| m.facts[m.nodes[n.index()].fact.index()]),
            Kind::Action | Kind::Principal => None,
        }
    }

    /// Settings come before everything they affect, wherever they are written.
    pub(super) fn options(&mut self, items: &[&Item]) {
        const OPTIONS: &[&str] = &["lookalike_names"];
        for item in items {
            let Statement::Option { name } = &item.statement else {
                continue;
            };
            match name.text.as_str() {
                "lookalike_names" => self.m.lookalike_names = true,
                other => {
                    let d =
                        crate::error::unknown("option", other, name.span).label("no such setting");
                    self.errors
                        .push(match did_you_mean(other, OPTIONS.iter().copied()) {
                            Some(hint) => d.help(hint),
                            None => d.help("the one option is `lookalike_names`"),
                        });
                }
            }
        }
    }

    /// A declared user's, group's or node's name must be visible: no
    /// control, zero-width, bidirectional or other format characters.
    pub(super) fn visible(&mut self, kind: Kind, name: &Name) -> bool {
        let Some(c) = crate::syntax::names::invisible(&name.text) else {
            return true;
        };
        self.errors.push(
            Diagnostic::new(
                Code::InvalidName,
                format!(
                    "{} `{}` has an invisible character (U+{:04X})",
                    kind.word(),
                    short(&name.text),
                    c as u32
                ),
                name.span,
            )
            .label("not a visible character")
            .help("names may not hold control, zero-width or bidirectional characters: remove it"),
        );
        false
    }

    /// Two users (or two groups) whose names a reader could take for one
    /// another are an error, unless the policy says `option lookalike_names`.
    pub(super) fn distinct(&mut self, name: &Name, id: SubjectId) {
        if self.m.lookalike_names {
            return;
        }
        let what = match id.kind() {
            SubjectKind::Group(_) => Kind::Group,
            _ => Kind::Principal,
        }
        .word();
        let key = Names::lookalike_slot(id, &name.text);
        let Some(&other) = self.m.names.lookalikes.get(key.as_str()) else {
            self.m.names.lookalikes.insert(key.into(), id);
            return;
        };
        let (first, span) = match other.kind() {
            SubjectKind::Principal(p) => {
                let def = &self.m.principals[p.index()];
                (def.name.clone(), self.m.facts[def.fact.index()])
            }
            SubjectKind::Group(g) => {
                let def = &self.m.groups[g.index()];
                (def.name.clone(), self.m.facts[def.fact.index()])
            }
            SubjectKind::Selector(_) => return,
        };
        let at = self.m.sources.locate(span);
        self.errors.push(
            Diagnostic::new(Code::Lookalike,
                format!(
                    "{what} `{}` looks like {what} `{}`",
                    short(&name.text),
                    short(&first)
                ),
                name.span,
            )
            .label("differs only by case or by look-alike characters")
            .help(format!(
                "`{}` is declared at {}:{}:{}; a reader takes them for one name: rename one, or write `option lookalike_names` if both are meant",
                short(&first),
                at.file,
                at.line,
                at.column
            )),
        );
    }

    /// Pass 1: give every declared name an id. Returns, for each item, the
    /// id it declared (`None` for a duplicate, a rejected name, or a
    /// statement that declares nothing), so that pass 2 resolves each
    /// declaration under its own id.
    pub(super) fn declare(&mut self, items: &[&Item]) -> Vec<Option<Declared>> {
        self.options(items);
        let mut declared = vec![None; items.len()];
        let mut spans: FxHashMap<(Kind, String), Span> = FxHashMap::default();
        for (i, item) in items.iter().enumerate() {
            match &item.statement {
                Statement::Type { name, .. } => {
                    if crate::syntax::is_reserved(&name.text) {
                        // A node of the type could never be declared: its
                        // declaration would read as the keyword's statement.
                        self.errors.push(
                            Diagnostic::new(
                                Code::InvalidName,
                                format!(
                                    "`{}` is a word of the language and cannot name a type",
                                    name.text
                                ),
                                name.span,
                            )
                            .label("a keyword")
                            .help(format!("rename the type, e.g. `{}_type`", name.text)),
                        );
                        continue;
                    }
                    if !self.first_definition(&mut spans, Kind::Type, name) {
                        continue;
                    }
                    let id = TypeId(self.m.types.len() as u32);
                    declared[i] = Some(Declared::Type(id));
                    self.m.names.types.insert(name.text.clone(), id);
                    self.m.types.push(TypeDef {
                        name: name.text.clone(),
                        parents: Vec::new(),
                        children: Vec::new(),
                        overrides: false,
                        highest: false,
                        span: name.span,
                    });
                }
                Statement::Action { names, .. } => {
                    if self.extending {
                        self.errors.push(
                            Diagnostic::new(Code::Update, "an update cannot declare actions", item.span)
                                .label("a new action")
                                .help("`*` in the loaded policy would not cover it: add the action to the policy files and load them again"),
                        );
                        continue;
                    }
                    for name in names {
                        if !self.first_definition(&mut spans, Kind::Action, name) {
                            continue;
                        }
                        let id = ActionId(self.m.actions.len() as u32);
                        self.m.names.actions.insert(name.text.clone(), id);
                        self.m.actions.push(name.text.clone());
                        self.m.action_types.push(Vec::new());
                    }
                }
                Statement::Role { name, .. } => {
                    if !self.first_definition(&mut spans, Kind::Role, name) {
                        continue;
                    }
                    let id = RoleId(self.m.roles.len() as u32);
                    declared[i] = Some(Declared::Role(id));
                    self.m.names.roles.insert(name.text.clone(), id);
                    let fact = self.fact(item.span);
                    let ladder = self.sym("");
                    self.m.roles.push(RoleDef {
                        name: name.text.clone(),
                        on: Vec::new(),
                        rank: 0,
                        ladder,
                        includes: Vec::new(),
                        sticky: false,
                        actions: Vec::new(),
                        actions_fact: fact,
                        span: name.span,
                    });
                }
                Statement::Principal { name, .. } => {
                    if !self.first_definition(&mut spans, Kind::Principal, name) {
                        continue;
                    }
                    if let (true, Some(&p)) =
                        (self.extending, self.m.names.principals.get(&*name.text))
                    {
                        // Restated by an update: the new statement replaces
                        // the user's kind, status, attributes and homes.
                        let fact = self.fact(item.span);
                        self.m.principals[p.index()].fact = fact;
                        declared[i] = Some(Declared::Principal(p));
                        continue;
                    }
                    if !self.visible(Kind::Principal, name) {
                        continue;
                    }
                    let id = PrincipalId(self.m.principals.len() as u32);
                    declared[i] = Some(Declared::Principal(id));
                    self.distinct(name, SubjectId::principal(id));
                    self.m
                        .names
                        .principals
                        .insert(name.text.as_str().into(), id);
                    let fact = self.fact(item.span);
                    self.m.principals.push(PrincipalDef {
                        name: name.text.clone(),
                        kind: PrincipalKind::Human,
                        attrs: Vec::new(),
                        values: Vec::new(),
                        homes: Vec::new(),
                        fact,
                    });
                }
                Statement::Group { name, .. } => {
                    if !self.first_definition(&mut spans, Kind::Group, name) {
                        continue;
                    }
                    if !self.visible(Kind::Group, name) {
                        continue;
                    }
                    let id = GroupId(self.m.groups.len() as u32);
                    declared[i] = Some(Declared::Group(id));
                    self.distinct(name, SubjectId::group(id));
                    self.m.names.groups.insert(name.text.as_str().into(), id);
                    let fact = self.fact(item.span);
                    self.m.groups.push(GroupDef {
                        name: name.text.clone(),
                        homes: Vec::new(),
                        fact,
                    });
                }
                _ => {}
            }
        }
        // Nodes need their type resolved to form their key.
        for (i, item) in items.iter().enumerate() {
            if let Statement::Node { ty, name, .. } = &item.statement {
                let Some(t) = self.lookup(Kind::Type, ty) else {
                    continue;
                };
                if !self.visible(Kind::Node, name) {
                    continue;
                }
                let key = format!("{}:{}", ty.text, name.text);
                let keyed = Name {
                    text: key.clone(),
                    span: name.span,
                };
                if !self.first_definition(&mut spans, Kind::Node, &keyed) {
                    continue;
                }
                let id = NodeId(self.m.nodes.len() as u32);
                declared[i] = Some(Declared::Node(id));
                self.m.names.nodes.insert(key.into(), id);
                let fact = self.fact(item.span);
                self.m.nodes.push(NodeDef {
                    ty: t,
                    name: name.text.clone(),
                    parent: None,
                    creator: None,
                    values: Vec::new(),
                    fact,
                });
            }
        }
        for (name, limit) in [
            ("nodes", self.m.nodes.len()),
            ("users", self.m.principals.len()),
            ("groups", self.m.groups.len()),
        ] {
            if limit > MAX_IDS {
                self.errors.push(Diagnostic::global(
                    Code::Limit,
                    format!("too many {name}: {limit} (at most {MAX_IDS})"),
                ));
            }
        }
        declared
    }
}
