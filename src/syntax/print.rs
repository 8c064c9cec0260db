//! The canonical layout of a policy file, for `grantlog fmt`.
//!
//! Statements are printed one per line from the AST (role bodies, group
//! member lists and tests get one item per line when long). Comments between
//! statements are kept; a statement with a comment inside it is kept as
//! written, re-indented, so no comment is ever lost. Blank lines between
//! statements are kept, at most one in a row. Formatting is idempotent.

use super::ast::*;
use super::parse;
use crate::error::{Code, Diagnostic};
use std::fmt::Write;

/// Formats a policy text, or returns its syntax error.
pub fn format(text: &str) -> Result<String, Diagnostic> {
    let file = parse(0, text)?;
    let mut out = String::new();
    let mut pos = 0usize;
    for item in &file.items {
        let (start, end) = (item.span.start as usize, item.span.end as usize);
        gap(&mut out, &text[pos..start])?;
        let original = &text[start..end];
        if has_comment(original) {
            out.push_str(&reindent(original));
        } else {
            out.push_str(&statement(&item.statement));
        }
        out.push('\n');
        pos = end;
    }
    gap(&mut out, &text[pos..])?;
    while out.ends_with("\n\n") {
        out.pop();
    }
    if out.trim().is_empty() {
        out.clear();
    }
    Ok(out)
}

/// Text between statements: whitespace and comments. Keeps comments and at
/// most one blank line.
fn gap(out: &mut String, between: &str) -> Result<(), Diagnostic> {
    let mut blank = 0;
    let mut first = true;
    for line in between.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            if !first {
                blank += 1;
            }
        } else {
            // Only comments lie between statements; anything else means the
            // statement spans are wrong, and formatting would lose text.
            if !line.starts_with('#') {
                return Err(Diagnostic::global(
                    Code::Internal,
                    format!(
                    "internal error: the formatter would drop `{line}`; the file was not changed"
                ),
                ));
            }
            // `line` is a comment, possibly after the previous statement on
            // the same line.
            if first && !out.is_empty() && out.ends_with('\n') {
                out.pop();
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
                first = false;
                continue;
            }
            if blank > 0 && !out.is_empty() {
                out.push('\n');
            }
            blank = 0;
            out.push_str(line);
            out.push('\n');
        }
        first = false;
    }
    if blank > 1 && !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    Ok(())
}

fn has_comment(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            '\\' if in_string && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return true,
            _ => {}
        }
        escaped = false;
    }
    false
}

fn reindent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.starts_with('}') {
                out.push_str("  ");
            }
        }
        out.push_str(line);
    }
    out
}

/// Always quoted, with the language's escapes.
fn string(text: &str) -> String {
    let quoted = crate::syntax::names::quote(text);
    if quoted.starts_with('"') {
        quoted
    } else {
        format!("\"{quoted}\"")
    }
}

fn name(n: &Name) -> String {
    crate::syntax::names::quote(&n.text)
}

fn node(n: &NodeRef) -> String {
    format!("{}:{}", n.ty.text, name(&n.name))
}

/// A literal of a condition or an attribute: quoted when it would read as
/// something else.
fn literal(n: &Name) -> String {
    match n.text.as_str() {
        "principal" | "resource" | "context" => string(&n.text),
        _ => name(n),
    }
}

fn attr_value(v: &AttrValue) -> String {
    match v {
        AttrValue::One(n) => literal(n),
        AttrValue::Set(items, _) => format!("[{}]", list(items, literal)),
    }
}

fn attrs(out: &mut String, attrs: &[(Name, AttrValue)]) {
    if !attrs.is_empty() {
        let _ = write!(
            out,
            " with {}",
            list(attrs, |(k, v)| format!("{} = {}", k.text, attr_value(v)))
        );
    }
}

/// ` when ...` / ` unless ...`, or nothing.
fn guard(out: &mut String, g: &Option<Guard>) {
    if let Some(g) = g {
        let _ = write!(
            out,
            " {} {}",
            if g.unless { "unless" } else { "when" },
            expr(&g.expr, 0)
        );
    }
}

/// A condition, parenthesised only where precedence needs it (`or` binds
/// loosest, then `and`, then `not`).
pub(crate) fn expr(e: &Expr, outer: u8) -> String {
    let (text, level) = match e {
        Expr::Or(items) => (
            items
                .iter()
                .map(|x| expr(x, 1))
                .collect::<Vec<_>>()
                .join(" or "),
            1,
        ),
        Expr::And(items) => (
            items
                .iter()
                .map(|x| expr(x, 2))
                .collect::<Vec<_>>()
                .join(" and "),
            2,
        ),
        Expr::Not(inner) => (format!("not {}", expr(inner, 3)), 3),
        Expr::Has(p, key) => (format!("{} has {}", path(p), key.text), 3),
        Expr::Compare(a, op, b, _) => {
            (format!("{} {} {}", operand(a), op_text(*op), operand(b)), 3)
        }
    };
    if level < outer {
        format!("({text})")
    } else {
        text
    }
}

pub(crate) fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::In => "in",
    }
}

pub(crate) fn path(p: &Path) -> String {
    let mut out = match p.root {
        Root::Principal => "principal",
        Root::Resource => "resource",
        Root::Context => "context",
    }
    .to_string();
    for k in &p.keys {
        let _ = write!(out, ".{}", k.text);
    }
    out
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Path(p, None) => path(p),
        Operand::Path(p, Some((minus, d))) => {
            format!(
                "{} {} {}",
                path(p),
                if *minus { "-" } else { "+" },
                literal(d)
            )
        }
        Operand::Value(v) => literal(v),
        Operand::Set(items, _) => format!("[{}]", list(items, literal)),
    }
}

fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn actions(a: &Actions) -> String {
    match a {
        Actions::All(_) => "*".into(),
        Actions::List(names) => list(names, |n| n.text.clone()),
    }
}

fn subject(s: &Subject) -> String {
    match s {
        Subject::Principal(n) => name(n),
        Subject::Group(n) => format!("group {}", name(n)),
        Subject::Selector {
            conditions, within, ..
        } => {
            let mut kind = None;
            let mut conds = Vec::new();
            for c in conditions {
                if c.key.text == "kind" && c.equal && kind.is_none() && c.key.span == c.value.span {
                    kind = Some(c.value.text.clone());
                } else {
                    let op = if c.equal { "=" } else { "!=" };
                    conds.push(format!("{} {op} {}", c.key.text, name(&c.value)));
                }
            }
            let mut head = match kind {
                Some(k) => format!("{k} users"),
                None if conds.is_empty() && within.is_none() => "everyone".into(),
                None => "users".into(),
            };
            if let Some(n) = within {
                head = format!("{head} in {}", node(n));
            }
            if conds.is_empty() {
                head
            } else {
                format!("{head} where {}", conds.join(" and "))
            }
        }
    }
}

/// A `{ a, b, c }` list: on one line when short, else filled into lines.
fn block(head: &str, items: &[String]) -> String {
    let one_line = format!("{head} {{ {} }}", items.join(", "));
    if items.is_empty() {
        return format!("{head} {{ }}");
    }
    if one_line.len() <= 80 {
        return one_line;
    }
    let mut out = format!("{head} {{\n");
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let comma = if i + 1 < items.len() { "," } else { "" };
        if !line.is_empty() && line.len() + item.len() + comma.len() + 1 > 78 {
            let _ = writeln!(out, "  {}", line.trim_end());
            line.clear();
        }
        let _ = write!(line, "{item}{comma} ");
    }
    let _ = writeln!(out, "  {}", line.trim_end());
    out.push('}');
    out
}

fn statement(s: &Statement) -> String {
    match s {
        Statement::Type {
            name: n,
            parents,
            modes,
        } => {
            let mut out = format!("type {}", n.text);
            if !parents.is_empty() {
                let _ = write!(out, " in {}", list(parents, |p| p.text.clone()));
            }
            if !modes.is_empty() {
                let ms = list(modes, |m| {
                    match m {
                        Mode::Union => "union",
                        Mode::Highest => "highest",
                        Mode::Override => "override",
                    }
                    .to_string()
                });
                let _ = write!(out, " combine {ms}");
            }
            out
        }
        Statement::Option { name } => format!("option {}", name.text),
        Statement::Action { names, on } => {
            let mut out = format!("action {}", list(names, |n| n.text.clone()));
            if !on.is_empty() {
                let _ = write!(out, " on {}", list(on, |t| t.text.clone()));
            }
            out
        }
        Statement::Attribute {
            names,
            values,
            ty,
            on,
            context,
        } => {
            let mut out = format!(
                "{} {}",
                if *context { "context" } else { "attribute" },
                list(names, |n| n.text.clone())
            );
            if let Some(t) = ty {
                let set = if t.set { "set of " } else { "" };
                let _ = write!(out, ": {set}{}", t.name.text);
            }
            if let Some(values) = values {
                let _ = write!(out, " in {}", list(values, name));
            }
            if !on.is_empty() {
                let _ = write!(out, " on {}", list(on, |t| t.text.clone()));
            }
            out
        }
        Statement::Role {
            name: n,
            on,
            rank,
            ladder,
            includes,
            sticky,
            actions: acts,
        } => {
            let mut head = format!("role {} on {}", n.text, list(on, |t| t.text.clone()));
            if let Some((r, _)) = rank {
                let _ = write!(head, " rank {r}");
            }
            if let Some(l) = ladder {
                let _ = write!(head, " ladder {}", l.text);
            }
            if !includes.is_empty() {
                let _ = write!(head, " includes {}", list(includes, |r| r.text.clone()));
            }
            if *sticky {
                head.push_str(" not overridable");
            }
            match acts {
                None => head,
                Some(Actions::All(_)) => format!("{head} {{ * }}"),
                Some(Actions::List(names)) => block(
                    &head,
                    &names.iter().map(|a| a.text.clone()).collect::<Vec<_>>(),
                ),
            }
        }
        Statement::Creator {
            types,
            role,
            while_assigned,
            guard: g,
        } => {
            let mut out = format!(
                "creator of {} holds {}{}",
                list(types, |t| t.text.clone()),
                role.text,
                if *while_assigned {
                    " while assigned"
                } else {
                    ""
                }
            );
            guard(&mut out, g);
            out
        }
        Statement::Default {
            role,
            on,
            to,
            guard: g,
        } => {
            let on = match on {
                Target::Type(t) => t.text.clone(),
                Target::Node(n) => node(n),
            };
            let mut out = format!("default {} on {on}", role.text);
            if let Some(s) = to {
                let _ = write!(out, " to {}", subject(s));
            }
            guard(&mut out, g);
            out
        }
        Statement::Deny {
            actions: a,
            on,
            to,
            guard: g,
        } => {
            let mut out = format!("deny {}", actions(a));
            if let Some(n) = on {
                let _ = write!(out, " on {}", node(n));
            }
            let _ = write!(out, " to {}", subject(to));
            guard(&mut out, g);
            out
        }
        Statement::Grant {
            actions: a,
            on,
            to,
            guard: g,
        } => {
            let mut out = format!(
                "grant {} on {} to {}",
                actions(a),
                node(on),
                list(to, subject)
            );
            guard(&mut out, g);
            out
        }
        Statement::Assign {
            role,
            on,
            to,
            guard: g,
        } => {
            let mut out = format!(
                "assign {} on {} to {}",
                role.text,
                node(on),
                list(to, subject)
            );
            guard(&mut out, g);
            out
        }
        Statement::Constraint(ConstraintKind::Holders {
            min,
            max,
            role,
            per,
        }) => {
            let count = match (min, max) {
                (Some(_), Some(_)) => "exactly one",
                (None, Some(_)) => "at most one",
                _ => "at least one",
            };
            format!("constraint {count} {} per {}", role.text, per.text)
        }
        Statement::Constraint(ConstraintKind::NoGroups { kind }) => {
            format!("constraint {} users cannot join groups", kind.text)
        }
        Statement::Principal {
            name: n,
            kind,
            homes,
            status,
            attrs,
        } => {
            let mut out = String::new();
            if let Some(k) = kind {
                let _ = write!(out, "{} ", k.text);
            }
            let _ = write!(out, "user {}", name(n));
            if !homes.is_empty() {
                let _ = write!(out, " in {}", list(homes, node));
            }
            if let Some(s) = status {
                let _ = write!(out, " status {}", name(s));
            }
            self::attrs(&mut out, attrs);
            out
        }
        Statement::Group {
            name: n,
            homes,
            members,
        } => {
            let mut head = format!("group {}", name(n));
            if !homes.is_empty() {
                let _ = write!(head, " in {}", list(homes, node));
            }
            if members.is_empty() {
                head
            } else {
                block(&head, &members.iter().map(subject).collect::<Vec<_>>())
            }
        }
        Statement::Add { members, group } => {
            format!("add {} to group {}", list(members, subject), name(group))
        }
        Statement::Node {
            ty,
            name: n,
            parent,
            creator,
            attrs: a,
        } => {
            let mut out = format!("{} {}", ty.text, name(n));
            if let Some(p) = parent {
                let _ = write!(out, " in {}", node(p));
            }
            if let Some(c) = creator {
                let _ = write!(out, " created by {}", name(c));
            }
            attrs(&mut out, a);
            out
        }
        Statement::Test {
            name: n,
            expectations,
        } => {
            let mut out = format!("test {} {{\n", string(&n.text));
            for e in expectations {
                let verdict = if e.allow { "allow" } else { "deny" };
                let _ = write!(
                    out,
                    "  expect {verdict} {} {} {}",
                    name(&e.principal),
                    e.action.text,
                    node(&e.resource)
                );
                if let Some(by) = &e.by {
                    let _ = write!(out, " by {}", by.text);
                }
                if !e.given.is_empty() {
                    let given = list(&e.given, |(k, v)| format!("{} = {}", k.text, attr_value(v)));
                    let _ = write!(out, " given {given}");
                }
                out.push('\n');
            }
            out.push('}');
            out
        }
    }
}
