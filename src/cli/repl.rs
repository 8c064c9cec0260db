//! The REPL front end: rustyline on a terminal (completion, hints, history,
//! multi-line input), plain line reading when input is piped.

use super::session::{Outcome, Session, COMMANDS};
use crate::syntax::names::printable_lines;
use crate::Error;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Config, Context, Editor, Helper};
use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Runs the REPL until `:quit` or end of input.
pub fn run(paths: Vec<PathBuf>) -> Result<u8, Error> {
    let mut session = Session::new(paths)?;
    if std::io::stdin().is_terminal() {
        interactive(&mut session)
    } else {
        piped(&mut session)
    }
}

/// Reads statements from standard input: a script, or a test's transcript.
fn piped(session: &mut Session) -> Result<u8, Error> {
    let mut failed = false;
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|source| Error::Io {
            path: "<stdin>".into(),
            source,
        })?;
        pending.push_str(&line);
        pending.push('\n');
        if !Session::is_complete(&pending) {
            continue;
        }
        let input = std::mem::take(&mut pending);
        if !input.trim().is_empty() {
            println!("> {}", input.trim_end().replace('\n', "\n. "));
        }
        match session.execute(&input) {
            Outcome::Output(text) => print!("{}", printable_lines(&text)),
            Outcome::Error(text) => {
                failed = true;
                print!("{text}");
            }
            Outcome::Quit => return Ok(u8::from(failed)),
        }
    }
    let _ = std::io::stdout().flush();
    if !pending.trim().is_empty() {
        // The input ended inside a `{ ... }` that was never closed: nothing
        // of it was run, and the script is not what its author meant.
        let first = pending.lines().next().unwrap_or("");
        return Err(Error::Usage(format!(
            "<stdin>: the input ended inside a `{{` that was never closed, in `{}`; close it with `}}`",
            crate::error::short(first.trim())
        )));
    }
    Ok(u8::from(failed))
}

fn history_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GRANTLOG_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".grantlog_history"))
}

fn interactive(session: &mut Session) -> Result<u8, Error> {
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        Editor::with_config(config).map_err(readline_error)?;
    editor.set_helper(Some(ReplHelper {
        words: session.vocabulary(),
    }));
    let history = history_file();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "grantlog {} — type :help for help, Ctrl-D to quit",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match editor.readline("grantlog> ") {
            Ok(line) => match session.execute(&line) {
                Outcome::Output(text) => print!("{}", printable_lines(&text)),
                Outcome::Error(text) => eprint!("{text}"),
                Outcome::Quit => break,
            },
            // Ctrl-C cancels the line being edited.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(readline_error(e)),
        }
        if let Some(helper) = editor.helper_mut() {
            helper.words = session.vocabulary();
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(0)
}

fn readline_error(e: ReadlineError) -> Error {
    Error::Io {
        path: "<terminal>".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Completion from the loaded policy, synopsis hints, multi-line input.
struct ReplHelper {
    words: Vec<String>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos].rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let prefix = &line[start..pos];
        let candidates = self
            .words
            .iter()
            .filter(|w| w.starts_with(prefix))
            .map(|w| Pair {
                display: w.clone(),
                replacement: w.clone(),
            })
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    /// After a command word, the synopsis of its arguments.
    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        let word = line.trim_end();
        let (_, args) = COMMANDS.iter().find(|(c, _)| *c == word)?;
        if args.is_empty() {
            return None;
        }
        Some(if line.ends_with(' ') {
            args.to_string()
        } else {
            format!(" {args}")
        })
    }
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if std::env::var_os("NO_COLOR").is_some() {
            Cow::Borrowed(hint)
        } else {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        }
    }
}

impl Validator for ReplHelper {
    /// A statement with an open `{` continues on the next line.
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if Session::is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Helper for ReplHelper {}
