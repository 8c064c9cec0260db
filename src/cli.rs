//! The command line: one function per subcommand. Exit status follows grep:
//! 0 allow (or success), 1 deny (or a failed test), 2 error.

use crate::{Effect, Error, Snapshot};
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// grantlog: access-control policies, evaluated as Datalog, explained.
#[derive(Parser, Debug)]
#[command(name = "grantlog", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// May PRINCIPAL do ACTION on RESOURCE? Prints `allow` or `deny`.
    ///
    /// Exit status: 0 allow, 1 deny, 2 error.
    ///
    /// Example: grantlog check policies/dify.policy carol app.edit app:chatbot --explain
    Check {
        /// Policy files or directories, then PRINCIPAL ACTION RESOURCE.
        #[arg(value_name = "POLICY... PRINCIPAL ACTION RESOURCE", num_args = 4.., required = true)]
        args: Vec<String>,
        /// Print the explanation tree under the decision.
        #[arg(long)]
        explain: bool,
        /// Print the decision (and explanation) as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let text = match &e {
                Error::Load(l) => l.render(color),
                other => format!("error: {other}\n"),
            };
            let _ = std::io::stderr().write_all(text.as_bytes());
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Check {
            args,
            explain,
            json,
        } => {
            let (files, request) = args.split_at(args.len() - 3);
            let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
            let snapshot = Snapshot::from_paths(&files)?;
            let [p, a, r] = request else {
                unreachable!("clap requires at least 4 args")
            };
            let why = snapshot.explain(p, a, r);
            let mut out = String::new();
            if json {
                #[derive(serde::Serialize)]
                struct Output<'a> {
                    decision: Effect,
                    explanation: &'a crate::Explanation,
                }
                let value = Output {
                    decision: why.decision,
                    explanation: &why,
                };
                out = serde_json::to_string_pretty(&value).unwrap_or_default();
                out.push('\n');
            } else {
                out.push_str(&format!("{}\n", why.decision));
                if explain {
                    out.push_str(&format!("{why}\n"));
                } else if let Some(e) = &why.error {
                    eprintln!("note: {e}");
                }
            }
            let _ = std::io::stdout().write_all(out.as_bytes());
            Ok(ExitCode::from(match why.decision {
                Effect::Allow => 0,
                Effect::Deny => 1,
            }))
        }
    }
}
