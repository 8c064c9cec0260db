//! Source text: the files that make up one policy, and spans into them.
//!
//! Every AST node carries a [`Span`]; a span resolves to `file:line:col` and
//! to the text of its line, which is what explanations and errors print.

use crate::syntax::ast::PolicyFile;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// Index of a file within a [`Sources`] set.
pub type FileId = u32;

/// A byte range in one source file.
///
/// Spans never take part in equality of the things they annotate: two policies
/// that differ only in layout compile to the same model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// Byte offset of the first character.
    pub start: u32,
    /// Byte offset one past the last character.
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }
}

/// One named source text.
#[derive(Debug)]
pub struct SourceFile {
    /// The name shown in errors and explanations (usually the path).
    pub name: String,
    /// The text.
    pub text: String,
    line_starts: Vec<u32>,
    /// Statements decoded from data (JSON facts, SCIM), already lowered:
    /// `text` then only shows them and is never parsed.
    lowered: Option<Arc<PolicyFile>>,
}

impl SourceFile {
    fn new(name: String, text: String) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i as u32 + 1))
            .collect();
        SourceFile {
            name,
            text,
            line_starts,
            lowered: None,
        }
    }

    /// The statements decoded from data, when this source is data rather
    /// than policy text.
    pub fn lowered(&self) -> Option<&Arc<PolicyFile>> {
        self.lowered.as_ref()
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self
            .text
            .get(start..end)
            .map_or(1, |s| s.chars().count() + 1);
        (line as u32 + 1, col as u32)
    }

    /// The text of the one-based line `line`, without its line break.
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize).saturating_sub(1);
        let start = self.line_starts.get(i).copied().unwrap_or(0) as usize;
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |&e| e as usize);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// The ordered set of files that make up one policy.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: crate::shared::ChunkVec<Arc<SourceFile>>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files
            .push(Arc::new(SourceFile::new(name.into(), text.into())));
        (self.files.len() - 1) as FileId
    }

    /// Adds a source whose statements were decoded from data: `text` shows
    /// them (errors and explanations cite it) and is never parsed. Their
    /// spans must point into `text` in the file this returns, which is
    /// [`Sources::len`] before the call.
    pub fn add_lowered(
        &mut self,
        name: impl Into<String>,
        text: impl Into<String>,
        statements: Arc<PolicyFile>,
    ) -> FileId {
        let mut file = SourceFile::new(name.into(), text.into());
        file.lowered = Some(statements);
        self.files.push(Arc::new(file));
        (self.files.len() - 1) as FileId
    }

    /// The file with id `id`.
    pub fn file(&self, id: FileId) -> &Arc<SourceFile> {
        &self.files[id as usize]
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// No files?
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// All files, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &Arc<SourceFile>)> {
        self.files.iter().enumerate().map(|(i, f)| (i as FileId, f))
    }

    /// Where a span starts, as a printable location with the line's text.
    pub fn locate(&self, span: Span) -> Location {
        let file = self.file(span.file);
        let (line, column) = file.line_col(span.start);
        Location {
            file: file.name.clone(),
            line,
            column,
            text: shortened(file.line_text(line).trim()),
        }
    }
}

/// Longest line text a [`Location`] carries, in characters: a minified or
/// hostile line is cited by position, with its start.
const MAX_CITED_LINE: usize = 200;

fn shortened(line: &str) -> String {
    match line.char_indices().nth(MAX_CITED_LINE) {
        None => line.to_string(),
        Some((end, _)) => format!("{}...", &line[..end]),
    }
}

/// A resolved source position: what explanations cite.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// File name as given when the policy was loaded.
    pub file: String,
    /// One-based line.
    pub line: u32,
    /// One-based column.
    pub column: u32,
    /// The source line, trimmed.
    pub text: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
