//! Stage 1: text → AST. The pest grammar lives in `grammar/policy.pest`.

pub mod ast;
pub mod names;
mod parse;
mod print;

pub use parse::parse;
pub use print::format;

/// A condition as the formatter writes it.
pub fn condition_text(e: &ast::Expr) -> String {
    print::expr(e, 0)
}

/// A condition's path as written (`resource.workspace.plan`).
pub fn path_text(p: &ast::Path) -> String {
    print::path(p)
}

/// A comparison operator as written.
pub fn op_text(op: ast::Op) -> &'static str {
    print::op_text(op)
}

/// Keywords that start a statement (the other statements start with a node
/// type).
pub const STATEMENT_STARTS: &[&str] = &[
    "type",
    "action",
    "attribute",
    "role",
    "creator",
    "default",
    "deny",
    "grant",
    "assign",
    "constraint",
    "user",
    "service",
    "human",
    "group",
    "add",
    "test",
    "option",
    "context",
];

/// The other words of the language (clauses, modes, selectors).
const CLAUSE_WORDS: &[&str] = &[
    "users",
    "groups",
    "rank",
    "ladder",
    "includes",
    "not",
    "overridable",
    "in",
    "on",
    "to",
    "of",
    "by",
    "with",
    "status",
    "where",
    "and",
    "or",
    "not",
    "when",
    "unless",
    "has",
    "given",
    "combine",
    "holds",
    "expect",
    "created",
    "everyone",
    "union",
    "highest",
    "override",
    "allow",
    "per",
    "exactly",
    "at",
    "most",
    "least",
    "one",
    "cannot",
    "join",
];

/// Whether `word` is a word of the language: a name spelled like one is
/// written quoted.
pub fn is_reserved(word: &str) -> bool {
    STATEMENT_STARTS.contains(&word) || CLAUSE_WORDS.contains(&word)
}
