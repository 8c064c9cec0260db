//! Stage 2: AST → checked [`Model`]. Resolves every name, checks types,
//! ranks and cycles, and collects every problem rather than stopping at the
//! first.

use super::ids::*;
use super::limits::MAX_RANK;
use super::model::*;
use crate::error::{did_you_mean, short, Code, Diagnostic};
use crate::source::{Sources, Span};
use crate::syntax::ast::{self, Actions, ConstraintKind, Item, Mode, Name, PolicyFile, Statement};
use crate::syntax::names::quote;
use rustc_hash::FxHashMap;
use std::borrow::Borrow;

/// Checks parsed files and builds the model, or returns every problem found.
pub fn check<F: Borrow<PolicyFile>>(
    sources: Sources,
    files: &[F],
) -> Result<Model, (Sources, Vec<Diagnostic>)> {
    let mut c = Checker {
        m: Model {
            sources,
            ..Model::default()
        },
        errors: Vec::new(),
        first_new_type: 0,
        extending: false,
    };
    let items: Vec<&Item> = files.iter().flat_map(|f| &f.borrow().items).collect();
    let declared = c.declare(&items);
    c.resolve(&items, &declared);
    let structural = super::structure::check(&c.m);
    c.errors.extend(structural);
    if c.errors.is_empty() {
        Ok(c.m)
    } else {
        Err((c.m.sources, c.errors))
    }
}

/// Checks a batch of statements against an already checked model and
/// returns the model with the batch added. Names already in `base` resolve
/// to their ids; a `user` statement for an existing user restates it (kind,
/// status, attributes, homes); any other name declared again is an error.
/// The whole-model checks (structure, constraints) are the caller's.
pub fn extend(base: Model, batch: &PolicyFile) -> Result<Model, Vec<Diagnostic>> {
    let first_new_type = base.types.len();
    let mut c = Checker {
        m: base,
        errors: Vec::new(),
        first_new_type,
        extending: true,
    };
    let items: Vec<&Item> = batch.items.iter().collect();
    let declared = c.declare(&items);
    c.resolve(&items, &declared);
    if c.errors.is_empty() {
        Ok(c.m)
    } else {
        Err(c.errors)
    }
}

struct Checker {
    m: Model,
    errors: Vec<Diagnostic>,
    /// Types from this index on are declared by the statements being checked.
    first_new_type: usize,
    /// Adding statements to a checked model rather than building one.
    extending: bool,
}

/// The id pass 1 gave a declaration.
#[derive(Clone, Copy, Debug)]
enum Declared {
    Type(TypeId),
    Role(RoleId),
    Principal(PrincipalId),
    Group(GroupId),
    Node(NodeId),
}

/// Which table a name is declared in and looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Type,
    Action,
    Role,
    Principal,
    Group,
    Node,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Type => "type",
            Kind::Action => "action",
            Kind::Role => "role",
            Kind::Principal => "user",
            Kind::Group => "group",
            Kind::Node => "node",
        }
    }
    fn declare_hint(self) -> &'static str {
        match self {
            Kind::Type => "declare it with `type NAME`",
            Kind::Action => "declare it with `action NAME`",
            Kind::Role => "declare it with `role NAME on TYPE { ... }`",
            Kind::Principal => "declare it with `user NAME` (or `service user NAME`)",
            Kind::Group => "declare it with `group NAME { ... }`",
            Kind::Node => "declare it with `TYPE NAME in PARENT`",
        }
    }
}

impl Checker {
    fn fact(&mut self, span: Span) -> FactId {
        self.m.facts.push(span);
        FactId(self.m.facts.len() as u32 - 1)
    }

    fn sym(&mut self, text: &str) -> Sym {
        if let Some(&s) = self.m.names.symbols.get(text) {
            return s;
        }
        let s = Sym(self.m.symbols.len() as u32);
        self.m.symbols.push(text.to_string());
        self.m.names.symbols.insert(text.into(), s);
        s
    }

    fn duplicate(&mut self, what: &str, name: &Name, first: Span) {
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
    fn first_definition(
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
    fn existing(&self, kind: Kind, name: &str) -> Option<Span> {
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
    fn options(&mut self, items: &[&Item]) {
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
    fn visible(&mut self, what: &str, name: &Name) -> bool {
        let Some(c) = crate::syntax::names::invisible(&name.text) else {
            return true;
        };
        self.errors.push(
            Diagnostic::new(
                Code::InvalidName,
                format!(
                    "{what} `{}` has an invisible character (U+{:04X})",
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
    fn distinct(&mut self, what: &str, name: &Name, id: SubjectId) {
        if self.m.lookalike_names {
            return;
        }
        let key = format!(
            "{}:{}",
            if what == "group" { 'g' } else { 'u' },
            crate::syntax::names::lookalike_key(&name.text)
        );
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
    fn declare(&mut self, items: &[&Item]) -> Vec<Option<Declared>> {
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
                Statement::Action { names } => {
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
                    self.m.roles.push(RoleDef {
                        name: name.text.clone(),
                        on: Vec::new(),
                        rank: 0,
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
                    if !self.visible("user", name) {
                        continue;
                    }
                    let id = PrincipalId(self.m.principals.len() as u32);
                    declared[i] = Some(Declared::Principal(id));
                    self.distinct("user", name, SubjectId::principal(id));
                    self.m
                        .names
                        .principals
                        .insert(name.text.as_str().into(), id);
                    let fact = self.fact(item.span);
                    self.m.principals.push(PrincipalDef {
                        name: name.text.clone(),
                        kind: PrincipalKind::Human,
                        attrs: Vec::new(),
                        homes: Vec::new(),
                        fact,
                    });
                }
                Statement::Group { name, .. } => {
                    if !self.first_definition(&mut spans, Kind::Group, name) {
                        continue;
                    }
                    if !self.visible("group", name) {
                        continue;
                    }
                    let id = GroupId(self.m.groups.len() as u32);
                    declared[i] = Some(Declared::Group(id));
                    self.distinct("group", name, SubjectId::group(id));
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
                if !self.visible("node", name) {
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

    fn lookup<T: Copy>(&mut self, kind: Kind, name: &Name) -> Option<T>
    where
        Checker: Table<T>,
    {
        if let Some(id) = self.find(&name.text) {
            return Some(id);
        }
        if let Some(d) = self.other_kind(kind, name) {
            self.errors.push(d);
            return None;
        }
        let candidates = self.known();
        let mut d = crate::error::unknown(kind.word(), &name.text, name.span);
        d = match did_you_mean(&name.text, candidates.iter().map(String::as_str)) {
            Some(hint) => d.help(hint),
            None => d.help(kind.declare_hint()),
        };
        self.errors.push(d);
        None
    }

    /// A name used as one kind that names another: a group written where a
    /// user goes, a user after `group`, a role where an action goes.
    fn other_kind(&self, kind: Kind, name: &Name) -> Option<Diagnostic> {
        let n = short(&name.text);
        let q = quote(&name.text);
        let (message, help) = match kind {
            Kind::Principal if self.m.names.groups.contains_key(name.text.as_str()) => (
                format!("`{n}` is a group, not a user"),
                format!("write `group {q}` to name the group"),
            ),
            Kind::Group if self.m.names.principals.contains_key(name.text.as_str()) => (
                format!("`{n}` is a user, not a group"),
                format!("write `{q}` without `group` to name the user"),
            ),
            Kind::Action if self.m.names.roles.contains_key(&name.text) => (
                format!("`{n}` is a role, not an action"),
                format!(
                    "`assign {n} on NODE to WHO` gives a role; `grant` and `deny` name actions"
                ),
            ),
            _ => return None,
        };
        Some(
            Diagnostic::new(Code::WrongKind, message, name.span)
                .label(match kind {
                    Kind::Action => "not an action".to_string(),
                    _ => format!("not a {}", kind.word()),
                })
                .help(help),
        )
    }

    fn node(&mut self, r: &ast::NodeRef) -> Option<NodeId> {
        let ty: TypeId = self.lookup(Kind::Type, &r.ty)?;
        let key = format!("{}:{}", r.ty.text, r.name.text);
        if let Some(&n) = self.m.names.nodes.get(&*key) {
            return Some(n);
        }
        let prefix = format!("{}:", r.ty.text);
        let same_type: Vec<String> = self
            .m
            .names
            .nodes
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let span = Span {
            start: r.ty.span.start,
            ..r.name.span
        };
        let mut d = crate::error::unknown("node", &key, span).label(format!(
            "no {} has this name",
            self.m.types[ty.index()].name
        ));
        d = match did_you_mean(&r.name.text, same_type.iter().map(String::as_str)) {
            Some(hint) => d.help(format!(
                "{hint} (as `{}{}`)",
                prefix,
                hint.trim_start_matches("did you mean `")
                    .trim_end_matches("`?")
            )),
            None => d.help(format!(
                "declare it with `{} {} in PARENT`",
                r.ty.text,
                short(&quote(&r.name.text))
            )),
        };
        self.errors.push(d);
        None
    }

    fn subject(&mut self, s: &ast::Subject) -> Option<SubjectId> {
        match s {
            ast::Subject::Principal(name) => {
                self.lookup(Kind::Principal, name).map(SubjectId::principal)
            }
            ast::Subject::Group(name) => self.lookup(Kind::Group, name).map(SubjectId::group),
            ast::Subject::Selector {
                span,
                within,
                conditions,
            } => {
                let within = match within {
                    Some(r) => Some(self.node(r)?),
                    None => None,
                };
                let mut conds = Vec::new();
                for c in conditions {
                    let known = matches!(c.key.text.as_str(), "status" | "kind")
                        || self.m.names.symbols.contains_key(&*c.key.text);
                    if !known {
                        let keys: Vec<String> = self
                            .m
                            .principals
                            .iter()
                            .flat_map(|p| {
                                p.attrs
                                    .iter()
                                    .map(|(k, _)| self.m.symbols[k.index()].clone())
                            })
                            .chain(["status".to_string(), "kind".to_string()])
                            .collect();
                        let mut d = crate::error::unknown("attribute", &c.key.text, c.key.span)
                            .label("no user has this attribute");
                        d = match did_you_mean(&c.key.text, keys.iter().map(String::as_str)) {
                            Some(h) => d.help(h),
                            None => d.help("conditions test `status`, `kind`, or an attribute given with `user NAME with KEY = VALUE` or declared with `attribute KEY`"),
                        };
                        self.errors.push(d);
                        return None;
                    }
                    self.check_value(&c.key.text, &c.value);
                    let key = self.sym(&c.key.text);
                    let value = self.sym(&c.value.text);
                    conds.push((key, c.equal, value));
                }
                Some(self.selector(conds, within, Some(*span)))
            }
        }
    }

    /// Records `attribute KEY in VALUE, ...`.
    fn declare_values(&mut self, key: &Name, values: &[Name], span: Span) {
        if key.text == "kind" {
            self.errors.push(
                Diagnostic::new(Code::AttributeValue, "`kind` cannot be declared", key.span)
                    .label("built in")
                    .help("a user's kind is `human` or `service`, set with `service user NAME`"),
            );
            return;
        }
        if let Some(first) = self.m.attributes.get(&key.text) {
            let first = first.span;
            self.duplicate("attribute", key, first);
            return;
        }
        let mut list: Vec<String> = Vec::new();
        for v in values {
            if list.contains(&v.text) {
                self.errors.push(
                    Diagnostic::new(
                        Code::AttributeValue,
                        format!("value `{}` is listed twice", short(&v.text)),
                        v.span,
                    )
                    .label("listed again")
                    .help("list each value once"),
                );
            }
            list.push(v.text.clone());
        }
        if key.text == "status" && !list.iter().any(|v| v == "active") {
            self.errors.push(
                Diagnostic::new(
                    Code::AttributeValue,
                    "`status` must allow `active`",
                    key.span,
                )
                .label("`active` is missing")
                .help("a user without `status` is `active`: add it to the values"),
            );
        }
        self.m
            .attributes
            .insert(key.text.clone(), AttributeDef { values: list, span });
    }

    /// A value given to `key` (in a user statement or a condition) must be
    /// one the policy allows for it: `kind` is `human` or `service`, and an
    /// attribute declared with its values takes only those.
    fn check_value(&mut self, key: &str, value: &Name) {
        const KINDS: &[&str] = &["human", "service"];
        let allowed: Vec<String> = match (key, self.m.attributes.get(key)) {
            ("kind", _) => KINDS.iter().map(|k| k.to_string()).collect(),
            (_, Some(def)) => def.values.clone(),
            (_, None) => return,
        };
        if allowed.contains(&value.text) {
            return;
        }
        let mut d = Diagnostic::new(
            Code::AttributeValue,
            format!("`{}` is not a value of `{key}`", short(&value.text)),
            value.span,
        )
        .label(format!("not one of `{key}`'s values"));
        let listed = allowed
            .iter()
            .map(|v| format!("`{}`", short(v)))
            .collect::<Vec<_>>()
            .join(", ");
        d = match did_you_mean(&value.text, allowed.iter().map(String::as_str)) {
            Some(hint) => d.help(format!("{hint} (`{key}` is one of {listed})")),
            None => d.help(format!("`{key}` is one of {listed}")),
        };
        self.errors.push(d);
    }

    /// The selector with these conditions, as written at `written` (`None`:
    /// the implicit `everyone` of a `default` rule without `to`): one id per
    /// distinct condition set, however often it is written.
    fn selector(
        &mut self,
        mut conditions: Vec<(Sym, bool, Sym)>,
        within: Option<NodeId>,
        written: Option<Span>,
    ) -> SubjectId {
        conditions.sort();
        conditions.dedup();
        if let Some(i) = self
            .m
            .selectors
            .iter()
            .position(|s| s.conditions == conditions && s.within == within)
        {
            return SubjectId::selector(SelectorId(i as u32));
        }
        let text = match written {
            None => "everyone".to_string(),
            Some(span) => self.m.sources.file(span.file).text
                [span.start as usize..span.end as usize]
                .to_string(),
        };
        let id = SelectorId(self.m.selectors.len() as u32);
        self.m.selectors.push(SelectorDef {
            conditions,
            within,
            text,
        });
        SubjectId::selector(id)
    }

    fn actions(&mut self, actions: &Actions) -> Vec<ActionId> {
        match actions {
            Actions::All(_) => (0..self.m.actions.len() as u32).map(ActionId).collect(),
            Actions::List(names) => names
                .iter()
                .filter_map(|n| self.lookup(Kind::Action, n))
                .collect(),
        }
    }

    fn role_on(&mut self, role: RoleId, ty: TypeId, span: Span, what: &str) -> bool {
        let r = &self.m.roles[role.index()];
        if r.on.contains(&ty) {
            return true;
        }
        let on: Vec<String> =
            r.on.iter()
                .map(|t| format!("`{}`", self.m.types[t.index()].name))
                .collect();
        self.errors.push(
            Diagnostic::new(Code::Placement,
                format!(
                    "role `{}` cannot be {what} `{}` nodes",
                    r.name, self.m.types[ty.index()].name
                ),
                span,
            )
            .label(format!("this is of type `{}`", self.m.types[ty.index()].name))
            .help(format!("`{}` is declared on {}; assign it on one of those, or add the type to its `on` list", r.name, on.join(", "))),
        );
        false
    }

    /// Pass 2: resolve every reference.
    fn resolve(&mut self, items: &[&Item], declared: &[Option<Declared>]) {
        // Attribute keys first so selectors can be checked against them.
        for item in items {
            match &item.statement {
                Statement::Principal { attrs, .. } => {
                    for (k, _) in attrs {
                        self.sym(&k.text);
                    }
                }
                Statement::Attribute { names, values } => {
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
                _ => {}
            }
        }
        let mut modes: Vec<Option<Vec<Mode>>> = vec![None; self.m.types.len()];
        // Types and roles first, so that a statement may use a role (or a
        // node a type) declared further down, or in a later file.
        let model = |(i, _): &(&&Item, &Option<Declared>)| {
            matches!(i.statement, Statement::Type { .. } | Statement::Role { .. })
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
                Statement::Role {
                    on,
                    rank,
                    includes,
                    sticky,
                    actions,
                    ..
                } => {
                    let Some(Declared::Role(r)) = declared else {
                        continue;
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
                    let role = &mut self.m.roles[r.index()];
                    role.on = on;
                    role.rank = rank.map_or(0, |(v, _)| v);
                    role.includes = inc;
                    role.sticky = *sticky;
                    role.actions = acts;
                }
                Statement::Node {
                    ty,
                    name,
                    parent,
                    creator,
                } => {
                    let key = format!("{}:{}", ty.text, name.text);
                    let Some(Declared::Node(n)) = declared else {
                        continue;
                    };
                    let t = self.m.nodes[n.index()].ty;
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
                                    .help(
                                        if allowed.is_empty() {
                                            format!(
                                                "`{}` is a top-level type: remove the `in` clause",
                                                ty.text
                                            )
                                        } else {
                                            format!(
                                                "`{}` nodes go in {}",
                                                ty.text,
                                                allowed.join(" or ")
                                            )
                                        },
                                    ),
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
                            Diagnostic::new(
                                Code::Placement,
                                format!("`{key}` has no parent"),
                                name.span,
                            )
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
                Statement::Principal {
                    kind,
                    homes,
                    status,
                    attrs,
                    ..
                } => {
                    let Some(Declared::Principal(p)) = declared else {
                        continue;
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
                        self.check_value(&key.text, value);
                        let ks = self.sym(&key.text);
                        let vs = self.sym(&value.text);
                        syms.push((ks, vs));
                    }
                    let def = &mut self.m.principals[p.index()];
                    def.kind = kind;
                    def.homes = homes;
                    def.attrs = syms;
                }
                Statement::Group { homes, members, .. } => {
                    let Some(Declared::Group(g)) = declared else {
                        continue;
                    };
                    let homes: Vec<NodeId> = homes.iter().filter_map(|h| self.node(h)).collect();
                    self.m.groups[g.index()].homes = homes;
                    self.members(members, g, span);
                }
                Statement::Add { members, group } => {
                    if let Some(g) = self.lookup::<GroupId>(Kind::Group, group) {
                        self.members(members, g, span);
                    }
                }
                Statement::Assign { role, on, to } => {
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
                                });
                            }
                        }
                    }
                }
                Statement::Grant { actions, on, to } => {
                    let acts = self.actions(actions);
                    let n = self.node(on);
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
                                });
                            }
                        }
                    }
                }
                Statement::Deny { actions, on, to } => {
                    let acts = self.actions(actions);
                    let node = on.as_ref().map(|n| self.node(n));
                    if matches!(node, Some(None)) {
                        continue;
                    }
                    if let Some(subject) = self.subject(to) {
                        let fact = self.fact(span);
                        for &action in &acts {
                            self.m.denies.push(Deny {
                                live: true,
                                subject,
                                action,
                                node: node.flatten(),
                                fact,
                            });
                        }
                    }
                }
                Statement::Creator {
                    types,
                    role,
                    while_assigned,
                } => {
                    let r = self.lookup::<RoleId>(Kind::Role, role);
                    for ty in types {
                        if let (Some(t), Some(r)) = (self.lookup::<TypeId>(Kind::Type, ty), r) {
                            if self.role_on(r, t, ty.span, "held on") {
                                let fact = self.fact(span);
                                self.m.creator_rules.push(CreatorRule {
                                    ty: t,
                                    role: r,
                                    fact,
                                    while_assigned: *while_assigned,
                                });
                            }
                        }
                    }
                }
                Statement::Default { role, on, to } => {
                    let r = self.lookup::<RoleId>(Kind::Role, role);
                    let t = self.lookup::<TypeId>(Kind::Type, on);
                    let subject = match to {
                        Some(s) => self.subject(s),
                        None => Some(self.selector(Vec::new(), None, None)),
                    };
                    if let (Some(r), Some(t), Some(subject)) = (r, t, subject) {
                        if self.role_on(r, t, on.span, "given on") {
                            let fact = self.fact(span);
                            self.m.defaults.push(DefaultRule {
                                ty: t,
                                role: r,
                                subject,
                                fact,
                            });
                        }
                    }
                }
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
                Statement::Test { name, expectations } => {
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
                        if p.is_some() && a.is_some() && n.is_some() {
                            out.push(Expectation {
                                allow: e.allow,
                                principal: e.principal.text.clone(),
                                action: e.action.text.clone(),
                                resource: format!(
                                    "{}:{}",
                                    e.resource.ty.text, e.resource.name.text
                                ),
                                by: e.by.as_ref().map(|b| b.text.clone()),
                                span: e.span,
                            });
                        }
                    }
                    self.m.tests.push(Test {
                        name: name.text.clone(),
                        expectations: out,
                    });
                }
                Statement::Action { .. }
                | Statement::Attribute { .. }
                | Statement::Option { .. } => {}
            }
        }
        self.resolve_modes(modes);
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
}

trait Table<T> {
    fn find(&self, name: &str) -> Option<T>;
    fn known(&self) -> Vec<String>;
}

macro_rules! table {
    ($ty:ty, $field:ident) => {
        impl Table<$ty> for Checker {
            fn find(&self, name: &str) -> Option<$ty> {
                self.m.names.$field.get(name).copied()
            }
            fn known(&self) -> Vec<String> {
                self.m.names.$field.keys().map(|k| k.to_string()).collect()
            }
        }
    };
}
table!(TypeId, types);
table!(ActionId, actions);
table!(RoleId, roles);
table!(PrincipalId, principals);
table!(GroupId, groups);
