//! The pest parser and the walk from its parse tree to the typed AST.
//!
//! Parse errors are reworded from pest's rule names into the words a policy
//! author uses ("a role name", "`to` followed by who it applies to").

use super::ast::*;
use super::names;
use crate::error::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/policy.pest"]
struct Grammar;

/// Parses one file. On failure returns the one syntax error found (parsing
/// stops at the first error, as the rest of the file cannot be trusted).
pub fn parse(file: FileId, text: &str) -> Result<PolicyFile, Diagnostic> {
    if let Some(pos) = text.find('\0') {
        return Err(Diagnostic::new(
            Code::Syntax,
            "policy text contains a NUL byte",
            Span::new(file, pos, pos + 1),
        )
        .help("policy files are plain UTF-8 text; remove the NUL character"));
    }
    let mut pairs = Grammar::parse(Rule::policy, text).map_err(|e| syntax_error(file, text, e))?;
    let walker = Walker { file };
    let mut items = Vec::new();
    if let Some(policy) = pairs.next() {
        for pair in policy.into_inner() {
            if pair.as_rule() == Rule::EOI {
                continue;
            }
            // Without trailing whitespace or comments, which pest folds into a
            // statement that ends in a repetition.
            let mut span = walker.span(&pair);
            if let Some(end) = token_end(&pair) {
                span.end = end as u32;
            }
            items.push(Item {
                statement: walker.statement(pair),
                span,
            });
        }
    }
    Ok(PolicyFile { items })
}

/// Where the last token of `pair` ends. pest folds whitespace and comments
/// that follow a trailing repetition into the pair; its tokens (and blocks,
/// which end in their closing brace) do not include them.
fn token_end(pair: &Pair<Rule>) -> Option<usize> {
    let closed = matches!(
        pair.as_rule(),
        Rule::test_decl | Rule::role_body | Rule::members | Rule::string | Rule::set
    ) || (pair.as_rule() == Rule::unary && pair.as_str().starts_with('('));
    if closed {
        return Some(pair.as_span().end());
    }
    pair.clone()
        .into_inner()
        .filter_map(|p| match p.clone().into_inner().next() {
            None => Some(p.as_span().end()),
            Some(_) => token_end(&p),
        })
        .max()
}

fn syntax_error(file: FileId, text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) | InputLocation::Span((p, _)) => p,
    };
    let end = text[pos..]
        .char_indices()
        .find(|&(i, c)| i > 0 && (c.is_whitespace() || c == ','))
        .map_or(text.len(), |(i, _)| pos + i)
        .max(pos + text[pos..].chars().next().map_or(0, char::len_utf8));
    let found = match text[pos..].split_whitespace().next() {
        None => "the end of the file".to_string(),
        Some(word) => {
            let word: String = word.chars().take(40).collect();
            format!("`{word}`")
        }
    };
    let mut expected: Vec<&str> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| describe(*r)).collect()
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort();
    expected.dedup();
    // Between statements, the continuations of the previous statement are
    // noise: say what can start the next one.
    if expected.contains(&"a statement") {
        expected.retain(|e| *e == "a statement" || *e == "the end of the file");
    }
    let unterminated = text[pos..].starts_with('"') && !text[pos + 1..].contains('"');
    let message = if unterminated {
        "unterminated string".to_string()
    } else if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", one_of(&expected))
    };
    if unterminated {
        return Diagnostic::new(
            Code::Syntax,
            message,
            Span::new(file, pos, end.min(text.len())),
        )
        .label("this string has no closing quote")
        .help("close the string with `\"` on the same line");
    }
    if let Some(d) = in_braces(file, text, pos) {
        return d;
    }
    let d = Diagnostic::new(
        Code::Syntax,
        message,
        Span::new(file, pos, end.min(text.len())),
    )
    .label("not expected here");
    if expected.is_empty() || expected.contains(&"a statement") {
        return d.help("each statement starts with a keyword (`type`, `role`, `assign`, `grant`, `deny`, `user`, `group`, ...) or a node type; see grammar/README.md");
    }
    let line = &text[text[..pos].rfind('\n').map_or(0, |i| i + 1)..pos];
    match line.split_whitespace().next().and_then(form) {
        Some(form) => d.help(format!("the statement reads `{form}`")),
        None => d.help("see grammar/README.md for the form of this statement"),
    }
}

/// The form of the statement that starts with `word`, as grammar/README.md
/// writes it.
fn form(word: &str) -> Option<&'static str> {
    Some(match word {
        "type" => "type NAME [in TYPE, ...] [combine MODE, ...]",
        "action" => "action ACTION, ...",
        "attribute" => "attribute KEY, ... | attribute KEY in VALUE, ...",
        "role" => {
            "role NAME on TYPE, ... [rank N] [includes ROLE, ...] [not overridable] { ACTION, ... }"
        }
        "creator" => "creator of TYPE, ... holds ROLE [while assigned]",
        "default" => "default ROLE on TYPE [to WHO]",
        "deny" => "deny ACTION, ... | * [on TYPE:NAME] to WHO",
        "grant" => "grant ACTION, ... on TYPE:NAME to WHO, ...",
        "assign" => "assign ROLE on TYPE:NAME to WHO, ...",
        "constraint" => "constraint exactly one | at most one | at least one ROLE per TYPE",
        "user" | "service" | "human" => {
            "[service] user NAME [in TYPE:NAME, ...] [status VALUE] [with KEY = VALUE, ...]"
        }
        "group" => "group NAME [in TYPE:NAME, ...] { MEMBER, ... }",
        "add" => "add MEMBER, ... to group NAME",
        "expect" => "expect allow | deny USER ACTION TYPE:NAME [by ROLE]",
        "option" => "option lookalike_names",
        _ => return None,
    })
}

/// A mistake inside a `{ ... }` list (a group's members, a role's actions):
/// the list is never closed, two items lack a comma between them, or a
/// group lists a selector.
fn in_braces(file: FileId, text: &str, pos: usize) -> Option<Diagnostic> {
    let open = text[..pos].rfind('{')?;
    if text[open..pos].contains('}') {
        return None;
    }
    let statement_start = text[..open].rfind('\n').map_or(0, |i| i + 1);
    let head = text[statement_start..open].trim_start();
    let group = head.starts_with("group");
    if !group && !head.starts_with("role") {
        return None;
    }
    let what = if group { "member" } else { "action" };
    // The list runs to its `}`, or to the end of its line when it is never
    // closed before the next statement.
    let rest = &text[open + 1..];
    let close = rest.find('}');
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let next_statement = rest[line_end..]
        .split('\n')
        .skip(1)
        .scan(line_end + 1, |at, line| {
            let here = *at;
            *at += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, line)| {
            let word = line.split_whitespace().next().unwrap_or("");
            super::STATEMENT_STARTS.contains(&word)
        })
        .map(|(at, _)| at);
    if close.is_none_or(|c| next_statement.is_some_and(|n| n < c)) {
        return Some(
            Diagnostic::new(
                Code::Syntax,
                "this `{` is never closed",
                Span::new(file, open, open + 1),
            )
            .label("opened here")
            .help(format!("end the list of {what}s with `}}`")),
        );
    }
    let body = &rest[..close?];
    for item in body.split(',') {
        let words: Vec<(usize, &str)> = item
            .split_whitespace()
            .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
            .collect();
        if group {
            if let Some(&(w, word)) = words.first() {
                if word == "users" || word == "everyone" || word == "service" || word == "human" {
                    return Some(
                        Diagnostic::new(Code::Syntax,
                            format!("a group lists its members by name, not `{word} ...`"),
                            Span::new(file, w, w + word.len()),
                        )
                        .label("a selector")
                        .help("`users where ...` already selects users in a rule: give the role to it directly, e.g. `assign ROLE on NODE to users where dept = contract`"),
                    );
                }
            }
        }
        let expected_words = match words.first() {
            Some((_, "group")) => 2,
            _ => 1,
        };
        let quoted = item.contains('"');
        if words.len() > expected_words && !quoted {
            let (w, word) = words[expected_words];
            let (_, before) = words[expected_words - 1];
            return Some(
                Diagnostic::new(
                    Code::Syntax,
                    format!("expected `,` or `}}` after `{before}`, found `{word}`"),
                    Span::new(file, w, w + word.len()),
                )
                .label("another item without a comma before it")
                .help(format!(
                    "separate the {what}s with commas: `{before}, {word}`"
                )),
            );
        }
    }
    None
}

fn one_of(items: &[&str]) -> String {
    match items {
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
        [] => String::new(),
    }
}

/// The words for a grammar rule in an error message; `None` hides the rule.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "the end of the file",
        Rule::ident | Rule::name | Rule::bare_name => "a name",
        Rule::string => "a quoted string",
        Rule::int => "a number",
        Rule::action | Rule::actions => "an action name such as `app.edit`",
        Rule::all_actions => "`*`",
        Rule::node_ref => "a node such as `workspace:marketing`",
        Rule::value => "a value",
        Rule::cmp => "`=` or `!=`",
        Rule::mode => "`union`, `highest` or `override`",
        Rule::subject | Rule::subjects | Rule::subject_ref | Rule::principal_ref => {
            "who it applies to (a user, `group NAME`, `everyone` or `users where ...`)"
        }
        Rule::group_ref => "`group NAME`",
        Rule::selector | Rule::selector_head => "`everyone` or `users`",
        Rule::verdict => "`allow` or `deny`",
        Rule::kind => "`service` or `human`",
        Rule::count => "`exactly one`, `at most one` or `at least one`",
        Rule::holder_count | Rule::no_groups => "a constraint",
        Rule::type_decl
        | Rule::action_decl
        | Rule::attribute_decl
        | Rule::role_decl
        | Rule::creator_rule
        | Rule::default_rule
        | Rule::deny_rule
        | Rule::grant_stmt
        | Rule::assign_stmt
        | Rule::constraint_stmt
        | Rule::principal_decl
        | Rule::group_decl
        | Rule::add_stmt
        | Rule::test_decl
        | Rule::node_decl => "a statement",
        Rule::role_body | Rule::members => "`{`",
        Rule::parent_types | Rule::homes | Rule::K_IN => "`in`",
        Rule::combine => "`combine`",
        Rule::rank => "`rank`",
        Rule::ladder => "`ladder`",
        Rule::includes => "`includes`",
        Rule::not_overridable => "`not overridable`",
        Rule::status => "`status`",
        Rule::attrs => "`with`",
        Rule::attr => "an attribute such as `dept = sales`",
        Rule::condition => "a condition such as `status = banned`",
        Rule::expectation => "`expect`",
        Rule::K_ON => "`on`",
        Rule::K_TO => "`to`",
        Rule::K_OF => "`of`",
        Rule::K_HOLDS => "`holds`",
        Rule::K_PER => "`per`",
        Rule::K_USER => "`user`",
        Rule::K_USERS => "`users`",
        Rule::K_GROUP => "`group`",
        Rule::K_BY => "`by`",
        Rule::K_WHERE => "`where`",
        Rule::K_AND => "`and`",
        Rule::K_CREATED => "`created by`",
        Rule::K_CANNOT => "`cannot join groups`",
        Rule::K_OVERRIDABLE => "`overridable`",
        Rule::K_ONE => "`one`",
        _ => return None,
    })
}

struct Walker {
    file: FileId,
}

impl Walker {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn name(&self, pair: Pair<Rule>) -> Name {
        let span = self.span(&pair);
        let text = match pair.as_rule() {
            Rule::name | Rule::value => {
                let inner = pair.into_inner().next();
                match inner {
                    Some(p) if p.as_rule() == Rule::string => {
                        names::unquote(p.as_str()).unwrap_or_default()
                    }
                    Some(p) => p.as_str().to_string(),
                    None => String::new(),
                }
            }
            _ => pair.as_str().to_string(),
        };
        // Every name in its one canonical form (see `syntax::names`).
        let text = match names::canonical(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(nfc) => nfc,
        };
        Name { text, span }
    }

    /// Names of the children with rule `rule`, in order.
    fn names(&self, pair: Pair<Rule>, rule: Rule) -> Vec<Name> {
        pair.into_inner()
            .filter(|p| p.as_rule() == rule)
            .map(|p| self.name(p))
            .collect()
    }

    fn node_ref(&self, pair: Pair<Rule>) -> NodeRef {
        let mut inner = pair.into_inner();
        let ty = inner.next().map(|p| self.name(p));
        let name = inner.next().map(|p| self.name(p));
        match (ty, name) {
            (Some(ty), Some(name)) => NodeRef { ty, name },
            _ => unreachable!("grammar: node_ref is ident ':' name"),
        }
    }

    /// The `type:name` references directly inside `pair`.
    fn node_refs(&self, pair: Pair<Rule>) -> Vec<NodeRef> {
        pair.into_inner()
            .filter(|n| n.as_rule() == Rule::node_ref)
            .map(|n| self.node_ref(n))
            .collect()
    }

    fn actions(&self, pair: Pair<Rule>) -> Actions {
        let span = self.span(&pair);
        let mut names = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::all_actions => return Actions::All(span),
                Rule::action => names.push(self.name(p)),
                _ => {}
            }
        }
        Actions::List(names)
    }

    fn subject(&self, pair: Pair<Rule>) -> Subject {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            unreachable!("grammar: subject has one child")
        };
        match inner.as_rule() {
            Rule::subject_ref => self.subject(inner),
            Rule::group_ref | Rule::principal_ref => {
                let group = inner.as_rule() == Rule::group_ref;
                let name = inner
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::name)
                    .map(|p| self.name(p));
                let Some(name) = name else {
                    unreachable!("grammar: reference has a name")
                };
                if group {
                    Subject::Group(name)
                } else {
                    Subject::Principal(name)
                }
            }
            Rule::selector => {
                // The selector's own tokens, without whitespace or comments after it.
                let end = token_end(&inner);
                let span = Span {
                    end: end.map_or(span.end, |e| e as u32),
                    ..span
                };
                let mut conditions = Vec::new();
                let mut within = None;
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::node_ref => within = Some(self.node_ref(p)),
                        Rule::selector_head => {
                            if let Some(kind) = p.into_inner().find(|k| k.as_rule() == Rule::kind) {
                                let kind = self.name(kind);
                                conditions.push(Condition {
                                    key: Name {
                                        text: "kind".into(),
                                        span: kind.span,
                                    },
                                    equal: true,
                                    value: kind,
                                });
                            }
                        }
                        Rule::condition => {
                            let mut c = p.into_inner();
                            let (Some(key), Some(cmp), Some(value)) =
                                (c.next(), c.next(), c.next())
                            else {
                                unreachable!("grammar: condition is key cmp value")
                            };
                            conditions.push(Condition {
                                key: self.name(key),
                                equal: cmp.as_str() == "=",
                                value: self.name(value),
                            });
                        }
                        _ => {}
                    }
                }
                Subject::Selector {
                    span,
                    within,
                    conditions,
                }
            }
            _ => unreachable!("grammar: unexpected subject {:?}", inner.as_rule()),
        }
    }

    fn subjects(&self, pair: Pair<Rule>) -> Vec<Subject> {
        pair.into_inner()
            .filter(|p| matches!(p.as_rule(), Rule::subject | Rule::subject_ref))
            .map(|p| self.subject(p))
            .collect()
    }

    /// `with k = v, k2 = [a, b]`.
    fn attrs(&self, pair: Pair<Rule>) -> Vec<(Name, AttrValue)> {
        let mut attrs = Vec::new();
        for a in pair.into_inner().filter(|a| a.as_rule() == Rule::attr) {
            let mut kv = a.into_inner();
            if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                let value = match v.as_rule() {
                    Rule::set => AttrValue::Set(
                        v.clone().into_inner().map(|x| self.name(x)).collect(),
                        self.span(&v),
                    ),
                    _ => AttrValue::One(self.name(v)),
                };
                attrs.push((self.name(k), value));
            }
        }
        attrs
    }

    /// `when EXPR` / `unless EXPR`.
    fn guard(&self, pair: Pair<Rule>) -> Guard {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let unless = inner.next().is_some_and(|k| k.as_rule() == Rule::K_UNLESS);
        let expr = inner
            .next()
            .map(|e| self.expr(e))
            .unwrap_or_else(|| unreachable!("grammar: a guard has a condition"));
        Guard { unless, expr, span }
    }

    fn expr(&self, pair: Pair<Rule>) -> Expr {
        let rule = pair.as_rule();
        let span = self.span(&pair);
        let mut parts: Vec<Pair<Rule>> = pair
            .into_inner()
            .filter(|p| !p.as_rule().is_keyword())
            .collect();
        match rule {
            Rule::expr | Rule::conj => {
                let mut items: Vec<Expr> = parts.into_iter().map(|p| self.expr(p)).collect();
                match (items.len(), rule) {
                    (1, _) => items.pop().unwrap_or_else(|| unreachable!()),
                    (_, Rule::expr) => Expr::Or(items),
                    _ => Expr::And(items),
                }
            }
            Rule::unary => match parts.pop() {
                Some(p) => self.expr(p),
                None => unreachable!("grammar: unary has a body"),
            },
            Rule::negation => match parts.pop() {
                Some(p) => Expr::Not(Box::new(self.expr(p))),
                None => unreachable!("grammar: not has a body"),
            },
            Rule::has_test => {
                let mut it = parts.into_iter();
                match (it.next(), it.next()) {
                    (Some(path), Some(key)) => Expr::Has(self.path(path), self.name(key)),
                    _ => unreachable!("grammar: has has a path and a key"),
                }
            }
            Rule::compare => {
                // `in` is a keyword, filtered out above: no operator means `in`.
                let mut op = Op::In;
                let mut operands = Vec::new();
                for p in parts {
                    match p.as_rule() {
                        Rule::cmp_op => {
                            op = match p.as_str() {
                                "=" => Op::Eq,
                                "!=" => Op::Ne,
                                "<" => Op::Lt,
                                "<=" => Op::Le,
                                ">" => Op::Gt,
                                _ => Op::Ge,
                            }
                        }
                        _ => operands.push(self.operand(p)),
                    }
                }
                let mut it = operands.into_iter();
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => Expr::Compare(a, op, b, span),
                    _ => unreachable!("grammar: a comparison has two sides"),
                }
            }
            _ => unreachable!("grammar: {rule:?} is not a condition"),
        }
    }

    fn operand(&self, pair: Pair<Rule>) -> Operand {
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            unreachable!("grammar: an operand has a body")
        };
        match first.as_rule() {
            Rule::path => {
                let offset = inner.next().map(|o| {
                    let minus = o.as_str().trim_start().starts_with('-');
                    let value = o
                        .into_inner()
                        .next()
                        .map(|v| self.name(v))
                        .unwrap_or_else(|| unreachable!("grammar: an offset has a value"));
                    (minus, value)
                });
                Operand::Path(self.path(first), offset)
            }
            Rule::set => {
                let span = self.span(&first);
                Operand::Set(first.into_inner().map(|v| self.name(v)).collect(), span)
            }
            _ => Operand::Value(self.name(first)),
        }
    }

    fn path(&self, pair: Pair<Rule>) -> Path {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let root = match inner.next().map(|r| r.as_str()) {
            Some("principal") => Root::Principal,
            Some("resource") => Root::Resource,
            _ => Root::Context,
        };
        Path {
            root,
            keys: inner.map(|k| self.name(k)).collect(),
            span,
        }
    }

    fn statement(&self, pair: Pair<Rule>) -> Statement {
        let rule = pair.as_rule();
        let span = self.span(&pair);
        let mut inner = pair.into_inner().filter(|p| !p.as_rule().is_keyword());
        match rule {
            Rule::type_decl => {
                let mut name = None;
                let mut parents = Vec::new();
                let mut modes = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::ident => name = Some(self.name(p)),
                        Rule::parent_types => parents = self.names(p, Rule::ident),
                        Rule::combine => {
                            modes = p
                                .into_inner()
                                .filter(|m| m.as_rule() == Rule::mode)
                                .map(|m| match m.as_str() {
                                    "highest" => Mode::Highest,
                                    "override" => Mode::Override,
                                    _ => Mode::Union,
                                })
                                .collect()
                        }
                        _ => {}
                    }
                }
                Statement::Type {
                    name: name.unwrap_or_else(|| unreachable!("grammar: type has a name")),
                    parents,
                    modes,
                }
            }
            Rule::action_decl => {
                let mut names = Vec::new();
                let mut on = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::action_types => on = self.names(p, Rule::ident),
                        _ => names.push(self.name(p)),
                    }
                }
                Statement::Action { names, on }
            }
            Rule::option_stmt => Statement::Option {
                name: inner
                    .next()
                    .map(|p| self.name(p))
                    .unwrap_or_else(|| unreachable!("grammar: option has a name")),
            },
            Rule::attribute_decl | Rule::context_decl => {
                let context = rule == Rule::context_decl;
                match inner.next() {
                    Some(p)
                        if matches!(
                            p.as_rule(),
                            Rule::attribute_values | Rule::attribute_typed
                        ) =>
                    {
                        let typed = p.as_rule() == Rule::attribute_typed;
                        let mut key = None;
                        let mut values = Vec::new();
                        let mut ty = None;
                        let mut on = Vec::new();
                        for part in p.into_inner().filter(|p| !p.as_rule().is_keyword()) {
                            match part.as_rule() {
                                Rule::ident if key.is_none() => key = Some(self.name(part)),
                                Rule::value => values.push(self.name(part)),
                                Rule::attr_type => {
                                    let set = part
                                        .clone()
                                        .into_inner()
                                        .any(|k| k.as_rule() == Rule::K_SET);
                                    let name = part
                                        .into_inner()
                                        .find(|k| k.as_rule() == Rule::ident)
                                        .map(|k| self.name(k));
                                    ty = name.map(|name| AttrType { set, name });
                                }
                                Rule::attribute_on => on = self.names(part, Rule::ident),
                                _ => {}
                            }
                        }
                        Statement::Attribute {
                            names: key.into_iter().collect(),
                            values: (!typed).then_some(values),
                            ty,
                            on,
                            context,
                        }
                    }
                    first => Statement::Attribute {
                        names: first
                            .into_iter()
                            .chain(inner)
                            .map(|p| self.name(p))
                            .collect(),
                        values: None,
                        ty: None,
                        on: Vec::new(),
                        context,
                    },
                }
            }
            Rule::role_decl => {
                let mut idents = Vec::new();
                let mut rank = None;
                let mut ladder = None;
                let mut includes = Vec::new();
                let mut sticky = false;
                let mut actions = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::ident => idents.push(self.name(p)),
                        Rule::rank => {
                            let sp = self.span(&p);
                            let n = p.into_inner().find(|i| i.as_rule() == Rule::int);
                            // Out of range reads as i64::MAX, which the checker rejects.
                            let value = n.map_or(0, |n| n.as_str().parse().unwrap_or(i64::MAX));
                            rank = Some((value, sp));
                        }
                        Rule::ladder => {
                            ladder = p
                                .into_inner()
                                .find(|l| l.as_rule() == Rule::ident)
                                .map(|l| self.name(l))
                        }
                        Rule::includes => includes = self.names(p, Rule::ident),
                        Rule::not_overridable => sticky = true,
                        Rule::role_body => {
                            actions = Some(
                                p.into_inner()
                                    .find(|a| a.as_rule() == Rule::actions)
                                    .map_or(Actions::List(Vec::new()), |a| self.actions(a)),
                            )
                        }
                        _ => {}
                    }
                }
                let mut idents = idents.into_iter();
                let name = idents
                    .next()
                    .unwrap_or_else(|| unreachable!("grammar: role has a name"));
                Statement::Role {
                    name,
                    on: idents.collect(),
                    rank,
                    ladder,
                    includes,
                    sticky,
                    actions,
                }
            }
            Rule::creator_rule => {
                let mut while_assigned = false;
                let mut guard = None;
                let mut types: Vec<Name> = inner
                    .filter(|p| {
                        let clause = p.as_rule() == Rule::while_assigned;
                        while_assigned |= clause;
                        if p.as_rule() == Rule::guard {
                            guard = Some(self.guard(p.clone()));
                            return false;
                        }
                        !clause
                    })
                    .map(|p| self.name(p))
                    .collect();
                let role = types
                    .pop()
                    .unwrap_or_else(|| unreachable!("grammar: creator rule has a role"));
                Statement::Creator {
                    types,
                    role,
                    while_assigned,
                    guard,
                }
            }
            Rule::default_rule => {
                let (Some(role), Some(on)) = (inner.next(), inner.next()) else {
                    unreachable!("grammar: default has role and type")
                };
                let on = match on.as_rule() {
                    Rule::node_ref => Target::Node(self.node_ref(on)),
                    _ => Target::Type(self.name(on)),
                };
                let mut to = None;
                let mut guard = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::guard => guard = Some(self.guard(p)),
                        _ => to = Some(self.subject(p)),
                    }
                }
                Statement::Default {
                    role: self.name(role),
                    on,
                    to,
                    guard,
                }
            }
            Rule::deny_rule => {
                let mut actions = None;
                let mut on = None;
                let mut to = None;
                let mut guard = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::actions => actions = Some(self.actions(p)),
                        Rule::node_ref => on = Some(self.node_ref(p)),
                        Rule::subject => to = Some(self.subject(p)),
                        Rule::guard => guard = Some(self.guard(p)),
                        _ => {}
                    }
                }
                match (actions, to) {
                    (Some(actions), Some(to)) => Statement::Deny {
                        actions,
                        on,
                        to,
                        guard,
                    },
                    _ => unreachable!("grammar: deny has actions and subject"),
                }
            }
            Rule::grant_stmt => {
                let (Some(actions), Some(on), Some(to)) =
                    (inner.next(), inner.next(), inner.next())
                else {
                    unreachable!("grammar: grant has actions, node, subjects")
                };
                Statement::Grant {
                    actions: self.actions(actions),
                    on: self.node_ref(on),
                    to: self.subjects(to),
                    guard: inner.next().map(|g| self.guard(g)),
                }
            }
            Rule::assign_stmt => {
                let (Some(role), Some(on), Some(to)) = (inner.next(), inner.next(), inner.next())
                else {
                    unreachable!("grammar: assign has role, node, subjects")
                };
                Statement::Assign {
                    role: self.name(role),
                    on: self.node_ref(on),
                    to: self.subjects(to),
                    guard: inner.next().map(|g| self.guard(g)),
                }
            }
            Rule::constraint_stmt => {
                let Some(c) = inner.next() else {
                    unreachable!("grammar: constraint has a body")
                };
                Statement::Constraint(self.constraint(c))
            }
            Rule::principal_decl => {
                let mut name = None;
                let mut kind = None;
                let mut homes = Vec::new();
                let mut status = None;
                let mut attrs = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::kind => kind = Some(self.name(p)),
                        Rule::name => name = Some(self.name(p)),
                        Rule::homes => homes = self.node_refs(p),
                        Rule::status => {
                            status = p
                                .into_inner()
                                .find(|v| v.as_rule() == Rule::value)
                                .map(|v| self.name(v))
                        }
                        Rule::attrs => attrs = self.attrs(p),
                        _ => {}
                    }
                }
                Statement::Principal {
                    name: name.unwrap_or_else(|| unreachable!("grammar: user has a name")),
                    kind,
                    homes,
                    status,
                    attrs,
                }
            }
            Rule::group_decl => {
                let mut name = None;
                let mut homes = Vec::new();
                let mut members = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::name => name = Some(self.name(p)),
                        Rule::homes => homes = self.node_refs(p),
                        Rule::members => members = self.subjects(p),
                        _ => {}
                    }
                }
                Statement::Group {
                    name: name.unwrap_or_else(|| unreachable!("grammar: group has a name")),
                    homes,
                    members,
                }
            }
            Rule::add_stmt => {
                let mut members = Vec::new();
                let mut group = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::subject_ref => members.push(self.subject(p)),
                        Rule::name => group = Some(self.name(p)),
                        _ => {}
                    }
                }
                Statement::Add {
                    members,
                    group: group.unwrap_or_else(|| unreachable!("grammar: add names a group")),
                }
            }
            Rule::node_decl => {
                let mut ty = None;
                let mut name = None;
                let mut parent = None;
                let mut creator = None;
                let mut attrs = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::attrs => attrs = self.attrs(p),
                        Rule::ident => ty = Some(self.name(p)),
                        Rule::name if name.is_none() => name = Some(self.name(p)),
                        Rule::name => creator = Some(self.name(p)),
                        Rule::node_ref => parent = Some(self.node_ref(p)),
                        _ => {}
                    }
                }
                match (ty, name) {
                    (Some(ty), Some(name)) => Statement::Node {
                        ty,
                        name,
                        parent,
                        creator,
                        attrs,
                    },
                    _ => unreachable!("grammar: node has type and name"),
                }
            }
            Rule::test_decl => {
                let mut name = None;
                let mut expectations = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::string => {
                            name = Some(Name {
                                text: names::unquote(p.as_str()).unwrap_or_default(),
                                span: self.span(&p),
                            })
                        }
                        Rule::expectation => expectations.push(self.expectation(p)),
                        _ => {}
                    }
                }
                Statement::Test {
                    name: name.unwrap_or_else(|| Name {
                        text: String::new(),
                        span,
                    }),
                    expectations,
                }
            }
            r => unreachable!("grammar: unexpected statement {r:?}"),
        }
    }

    fn constraint(&self, pair: Pair<Rule>) -> ConstraintKind {
        match pair.as_rule() {
            Rule::holder_count => {
                let mut inner = pair.into_inner();
                let (Some(count), Some(role), Some(per)) = (
                    inner.next(),
                    inner.next(),
                    inner.find(|p| p.as_rule() == Rule::ident),
                ) else {
                    unreachable!("grammar: holder count has count, role, type")
                };
                let (min, max) = match count.into_inner().next().map(|c| c.as_rule()) {
                    Some(Rule::exactly_one) => (Some(1), Some(1)),
                    Some(Rule::at_most_one) => (None, Some(1)),
                    _ => (Some(1), None),
                };
                ConstraintKind::Holders {
                    min,
                    max,
                    role: self.name(role),
                    per: self.name(per),
                }
            }
            _ => {
                let kind = pair.into_inner().find(|p| p.as_rule() == Rule::kind);
                ConstraintKind::NoGroups {
                    kind: self.name(kind.unwrap_or_else(|| unreachable!("grammar: kind"))),
                }
            }
        }
    }

    fn expectation(&self, pair: Pair<Rule>) -> Expectation {
        let span = self.span(&pair);
        let mut allow = false;
        let mut principal = None;
        let mut action = None;
        let mut resource = None;
        let mut by = None;
        let mut given = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::given => given = self.attrs(p),
                Rule::verdict => allow = p.as_str() == "allow",
                Rule::name => principal = Some(self.name(p)),
                Rule::action => action = Some(self.name(p)),
                Rule::node_ref => resource = Some(self.node_ref(p)),
                Rule::ident => by = Some(self.name(p)),
                _ => {}
            }
        }
        match (principal, action, resource) {
            (Some(principal), Some(action), Some(resource)) => Expectation {
                allow,
                principal,
                action,
                resource,
                by,
                given,
                span,
            },
            _ => unreachable!("grammar: expectation has principal, action, resource"),
        }
    }
}

trait IsKeyword {
    fn is_keyword(&self) -> bool;
}

impl IsKeyword for Rule {
    fn is_keyword(&self) -> bool {
        format!("{self:?}").starts_with("K_")
    }
}
