//! Errors: what went wrong while loading a policy, where, and what to do.
//!
//! Every stage (parse, check, constraints) reports [`Diagnostic`]s; a load
//! collects all of them and fails with one [`LoadError`]. Messages are
//! lowercase, user input is in backticks, and the fix goes in `help`.
//! Rendering (a source snippet with a caret) is done by `miette`.

use crate::source::{Sources, Span};
use miette::{NamedSource, SourceSpan};
use serde::Serialize;
use std::fmt;

/// What kind of problem a [`Diagnostic`] reports: a stable code that
/// editors and CI can key on (`validate --format json` prints it as
/// `"code": "grantlog::unknown-name"`), whatever the message's wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Code {
    /// The text does not parse.
    Syntax,
    /// A name that nothing declares.
    UnknownName,
    /// A name of one kind used where another kind goes (a group where a
    /// user goes, a role where an action goes).
    WrongKind,
    /// A name declared twice.
    Duplicate,
    /// A name that may not be declared (invisible characters, a keyword).
    InvalidName,
    /// Two names a reader would take for one.
    Lookalike,
    /// An attribute value outside its declared values, or a bad declaration.
    AttributeValue,
    /// A role or node where its type does not allow it.
    Placement,
    /// Types, roles, groups or nodes that contain themselves.
    Cycle,
    /// A rank out of range or below an included role's.
    Rank,
    /// Past one of the [`crate::Limits`] or built-in bounds.
    Limit,
    /// A broken `constraint`.
    Constraint,
    /// A live update that cannot be applied as written.
    Update,
    /// JSON facts that cannot be read.
    Facts,
    /// A warning: a condition on an attribute whose values are not declared.
    UndeclaredAttribute,
    /// A warning: `everyone` given access across tenants.
    CrossTenant,
    /// A bug in grantlog: please report it.
    Internal,
}

impl Code {
    /// The code as printed: `grantlog::kebab-case-name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "grantlog::syntax",
            Code::UnknownName => "grantlog::unknown-name",
            Code::WrongKind => "grantlog::wrong-kind",
            Code::Duplicate => "grantlog::duplicate",
            Code::InvalidName => "grantlog::invalid-name",
            Code::Lookalike => "grantlog::lookalike",
            Code::AttributeValue => "grantlog::attribute-value",
            Code::Placement => "grantlog::placement",
            Code::Cycle => "grantlog::cycle",
            Code::Rank => "grantlog::rank",
            Code::Limit => "grantlog::limit",
            Code::Constraint => "grantlog::constraint",
            Code::Update => "grantlog::update",
            Code::Facts => "grantlog::facts",
            Code::UndeclaredAttribute => "grantlog::undeclared-attribute",
            Code::CrossTenant => "grantlog::cross-tenant",
            Code::Internal => "grantlog::internal",
        }
    }
}

impl From<Code> for &'static str {
    fn from(code: Code) -> &'static str {
        code.as_str()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What kind of problem it is.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// Where, if the problem has a place in the source.
    #[serde(skip)]
    pub span: Option<Span>,
    /// A short note under the caret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            span: Some(span),
            label: None,
            help: None,
        }
    }

    /// A diagnostic with no source position.
    pub fn global(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            span: None,
            label: None,
            help: None,
        }
    }

    /// Adds the note printed under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds advice.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// A policy that could not be loaded, with every problem found.
#[derive(Clone)]
pub struct LoadError {
    sources: Sources,
    /// The problems, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// The rendered errors (as `unwrap` prints them), not the policy's text.
impl std::fmt::Debug for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadError:\n{}", self.render(false))
    }
}

/// A diagnostic as JSON: position resolved to file, line and column.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    #[serde(flatten)]
    diagnostic: &'a Diagnostic,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<u32>,
}

impl LoadError {
    /// A load error from diagnostics about `sources`, sorted by position.
    pub fn new(sources: Sources, mut diagnostics: Vec<Diagnostic>) -> LoadError {
        diagnostics.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
        diagnostics.dedup();
        LoadError {
            sources,
            diagnostics,
        }
    }

    /// Renders every diagnostic with its source snippet, as a person reads it.
    pub fn render(&self, color: bool) -> String {
        let mut out = render_all(&self.sources, &self.diagnostics, color, false);
        let n = self.diagnostics.len();
        out.push_str(&format!(
            "{n} error{} found; nothing was loaded\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }

    /// Every diagnostic as a JSON value, for editors and CI.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "errors": located(&self.sources, &self.diagnostics) })
    }
}

/// Diagnostics as JSON values, each with its file, line and column.
pub fn located(sources: &Sources, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let items: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            let loc = d.span.map(|s| sources.locate(s));
            JsonDiagnostic {
                diagnostic: d,
                file: loc.as_ref().map(|l| l.file.clone()),
                line: loc.as_ref().map(|l| l.line),
                column: loc.as_ref().map(|l| l.column),
            }
        })
        .collect();
    serde_json::json!(items)
}

/// Renders warnings (see [`crate::compile::lint`]) as a person reads them.
pub fn render_warnings(sources: &Sources, warnings: &[Diagnostic], color: bool) -> String {
    let mut out = render_all(sources, warnings, color, true);
    let n = warnings.len();
    out.push_str(&format!("{n} warning{}\n", if n == 1 { "" } else { "s" }));
    out
}

/// miette's graphical renderer (a snippet with a caret), with the command
/// line; its narrated plain text for the library alone.
#[cfg(feature = "cli")]
fn handler(color: bool) -> miette::GraphicalReportHandler {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    miette::GraphicalReportHandler::new_themed(theme).with_width(100)
}

#[cfg(not(feature = "cli"))]
fn handler(_color: bool) -> miette::NarratableReportHandler {
    miette::NarratableReportHandler::new()
}

fn render_all(sources: &Sources, diagnostics: &[Diagnostic], color: bool, warning: bool) -> String {
    let handler = handler(color);
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut report = Report::new(sources, d);
        report.warning = warning;
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("error: {}\n", d.message));
        }
    }
    out
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for LoadError {}

/// Longest source line shown in a snippet, in characters.
const MAX_SHOWN_LINE: usize = 500;

/// Adapter giving one diagnostic miette's view of it.
#[derive(Debug)]
struct Report {
    warning: bool,
    message: String,
    source: Option<NamedSource<String>>,
    labels: Vec<miette::LabeledSpan>,
    help: Option<String>,
}

impl Report {
    fn new(sources: &Sources, d: &Diagnostic) -> Report {
        // A line too long to print (minified or hostile input) is cited by
        // position only.
        let too_long = d.span.and_then(|span| {
            let file = sources.file(span.file);
            let loc = sources.locate(span);
            let len = file.line_text(loc.line).chars().count();
            (len > MAX_SHOWN_LINE).then(|| {
                format!(
                    "{}:{}:{} (a line of {len} characters, not shown)",
                    loc.file, loc.line, loc.column
                )
            })
        });
        if let Some(at) = too_long {
            return Report {
                warning: false,
                message: format!("{}\n  at {at}", d.message),
                source: None,
                labels: Vec::new(),
                help: d.help.clone(),
            };
        }
        let (source, labels) = match d.span {
            Some(span) => {
                let file = sources.file(span.file);
                let len = (span.end - span.start) as usize;
                let labels = vec![miette::LabeledSpan::new_with_span(
                    d.label.clone(),
                    SourceSpan::new((span.start as usize).into(), len),
                )];
                (
                    Some(NamedSource::new(file.name.clone(), file.text.clone())),
                    labels,
                )
            }
            None => (None, Vec::new()),
        };
        Report {
            warning: false,
            message: d.message.clone(),
            source,
            labels,
            help: d.help.clone(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

/// Everything that can stop a policy from loading.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy text has errors.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// A request or command line that cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Suggests the closest of `candidates` to `name`, if one is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    // A suggestion is a few edits away; a name longer than any typo of a
    // real name gets none, so that the search stays linear in the
    // candidates whatever the input.
    const LONGEST: usize = 128;
    if name.len() > LONGEST {
        return None;
    }
    let best = candidates
        .into_iter()
        .filter(|c| {
            c.len() <= LONGEST && c.len().abs_diff(name.len()) <= name.len().max(c.len()) / 3 + 1
        })
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|&(d, c)| d <= (name.len().max(c.len()) / 3).max(1))
        .min()?;
    Some(format!("did you mean `{}`?", short(best.1)))
}

/// "unknown X `name`": every unknown name is reported with these words.
pub fn unknown(what: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownName,
        format!("unknown {what} `{}`", short(name)),
        span,
    )
    .label(format!("no {what} has this name"))
}

/// A name as quoted in a message: at most 60 characters, so that a hostile
/// input cannot make an error message huge, with control and other
/// invisible characters escaped, so that it cannot fake a line of output.
pub fn short(name: &str) -> String {
    let shown = if name.chars().count() <= 60 {
        name
    } else {
        let end = name.char_indices().nth(57).map_or(name.len(), |(i, _)| i);
        &name[..end]
    };
    let mut out = crate::syntax::names::printable(shown).to_string();
    if shown.len() < name.len() {
        out.push_str("...");
    }
    out
}
