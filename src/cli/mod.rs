//! The command line: one function per subcommand. Exit status follows grep:
//! 0 allow (or success), 1 deny (or a failed test, a changed file, a
//! difference), 2 error. Errors go to stderr; colour only on a terminal and
//! never with `NO_COLOR`.

mod repl;
pub mod session;

use crate::{Effect, Error, Snapshot};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// grantlog: access-control policies, evaluated as Datalog, explained.
///
/// Policy files and directories (whose *.policy files are read) come first on
/// the command line, or with -p; several make up one policy.
#[derive(Parser, Debug)]
#[command(name = "grantlog", version, about, long_about)]
#[command(after_help = "Examples:
  grantlog check policies/dify.policy carol app.edit app:chatbot --explain
  grantlog who-can policies/dify.policy workspace.billing workspace:marketing
  grantlog test policies/dify.policy
  grantlog repl policies/dify.policy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// A policy file or directory (repeatable). Without -p, the arguments
    /// before the question are the policy.
    #[arg(short, long = "policy", value_name = "PATH")]
    policy: Vec<PathBuf>,
    /// Facts from a JSON file (repeatable); see the README's *Facts from the systems you run*.
    #[arg(long = "data", value_name = "FILE")]
    data: Vec<PathBuf>,
    /// Output format for data.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The request's context, a JSON object: what `context.*` conditions
    /// read, e.g. '{"via":"api_token","ip":"10.1.2.3"}'. `now` is the
    /// current time unless given.
    #[arg(long, value_name = "JSON", conflicts_with = "context_file")]
    context: Option<String>,
    /// The request's context from a JSON file.
    #[arg(long = "context-file", value_name = "FILE")]
    context_file: Option<PathBuf>,
}

impl Common {
    /// The `--context` or `--context-file` object, if given.
    fn context(&self) -> Result<Option<serde_json::Map<String, serde_json::Value>>, Error> {
        let (text, from) = match (&self.context, &self.context_file) {
            (Some(text), _) => (text.clone(), "--context".to_string()),
            (None, Some(path)) => {
                let bytes = crate::load::read_bounded(path, crate::MAX_FILE_BYTES)?;
                (
                    String::from_utf8_lossy(&bytes).into_owned(),
                    path.display().to_string(),
                )
            }
            (None, None) => return Ok(None),
        };
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(usage(format!(
                "{from}: the context must be a JSON object, such as '{{\"via\":\"ui\"}}'"
            ))),
            Err(e) => Err(usage(format!("{from}: not JSON: {e}"))),
        }
    }

    /// The request a query names, with the context.
    fn request(&self, q: &[String]) -> Result<crate::Request, Error> {
        let mut request = crate::Request::new(&q[0], &q[1], &q[2]);
        request.context = self.context()?;
        Ok(request)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ImportFormat {
    /// SCIM 2.0 (RFC 7643) Users and Groups.
    Scim,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// May PRINCIPAL do ACTION on RESOURCE? Prints `allow` or `deny`.
    ///
    /// Exit status: 0 allow, 1 deny, 2 error. Unknown names are a deny.
    #[command(
        after_help = "Example: grantlog check policies/dify.policy carol app.edit app:chatbot --explain"
    )]
    Check {
        /// [POLICY...] PRINCIPAL ACTION RESOURCE (resource as type:name).
        #[arg(value_name = "ARGS", required = true)]
        args: Vec<String>,
        /// Print the explanation tree under the decision.
        #[arg(long)]
        explain: bool,
        /// Print the decision and explanation as JSON (same as --format json).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Explain a decision: the tree alone (exit status as for check).
    #[command(
        after_help = "Example: grantlog explain policies/dify.policy erin app.edit app:chatbot"
    )]
    Explain {
        /// [POLICY...] PRINCIPAL ACTION RESOURCE.
        #[arg(value_name = "ARGS", required = true)]
        args: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Every principal allowed to do ACTION on RESOURCE, with what allows it.
    #[command(
        name = "who-can",
        after_help = "Example: grantlog who-can policies/dify.policy app.edit app:chatbot"
    )]
    WhoCan {
        /// [POLICY...] ACTION RESOURCE.
        #[arg(value_name = "ARGS", required = true)]
        args: Vec<String>,
        /// Also list the principals a deny removes or a condition keeps
        /// out, each with the reason.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Every action PRINCIPAL may take, on every node or on NODE and below.
    #[command(
        name = "what-can",
        after_help = "Example: grantlog what-can policies/dify.policy erin workspace:research"
    )]
    WhatCan {
        /// [POLICY...] PRINCIPAL [NODE].
        #[arg(value_name = "ARGS", required = true)]
        args: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// The roles PRINCIPAL holds at NODE, and those dropped by highest
    /// privilege or override.
    #[command(after_help = "Example: grantlog roles policies/dify.policy bob workspace:marketing")]
    Roles {
        /// [POLICY...] PRINCIPAL NODE.
        #[arg(value_name = "ARGS", required = true)]
        args: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Run the `test` blocks of policies. A file is one policy; in a
    /// directory, each `*.policy` file is one, and each directory in it is
    /// one made of all its files. Exit status 1 if any expectation fails.
    #[command(after_help = "Example: grantlog test policies/")]
    Test {
        /// Policy files or directories (default: ./policies).
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Parse, type-check and check constraints; print every error.
    #[command(
        visible_alias = "check-policy",
        after_help = "Example: grantlog validate policies/dify.policy --format json"
    )]
    Validate {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Rewrite policy files in the canonical layout (comments kept).
    #[command(after_help = "Example: grantlog fmt --check policies/")]
    Fmt {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Do not write; exit 1 if any file would change.
        #[arg(long)]
        check: bool,
    },
    /// Which principals gain or lose which actions on which nodes between
    /// two versions of a policy. Exit status 1 if anything changes.
    #[command(after_help = "Example: grantlog diff old.policy policies/dify.policy")]
    Diff {
        /// The old version (file or directory).
        old: PathBuf,
        /// The new version (file or directory).
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the facts of a policy (users, groups, nodes, assignments,
    /// grants) as JSON, for `--data`.
    #[command(after_help = "Example: grantlog export policies/dify.policy > facts.json")]
    Export {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Facts from JSON files to include.
        #[arg(long = "data", value_name = "FILE")]
        data: Vec<PathBuf>,
    },
    /// Convert an identity provider's SCIM 2.0 export (a ListResponse of
    /// Users and Groups) into facts JSON for `--data`.
    #[command(
        after_help = "Example: grantlog import scim users.json --home team:acme > facts.json"
    )]
    Import {
        /// The source format.
        #[arg(value_enum)]
        format: ImportFormat,
        /// The file to read.
        file: PathBuf,
        /// Node every imported user and group belongs to (repeatable).
        #[arg(long = "home", value_name = "TYPE:NAME")]
        homes: Vec<String>,
    },
    /// An interactive session on a policy: ask questions, add facts.
    #[command(after_help = "Example: grantlog repl policies/dify.policy")]
    Repl {
        /// Policy files or directories to load.
        paths: Vec<PathBuf>,
    },
    /// Serve decisions over HTTP: the OpenID AuthZEN Authorization API, live
    /// fact updates, reloads, metrics and decision logs.
    #[cfg(feature = "server")]
    #[command(after_help = "Example: grantlog serve policies/dify.policy
Then: curl -s localhost:8181/access/v1/evaluation -d '{\"subject\":{\"type\":\"user\",\"id\":\"carol\"},\"action\":{\"name\":\"app.edit\"},\"resource\":{\"type\":\"app\",\"id\":\"chatbot\"}}'")]
    Serve(ServeArgs),
}

#[cfg(feature = "server")]
#[derive(Args, Debug)]
struct ServeArgs {
    /// Policy files or directories to load.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Facts from a JSON file (repeatable).
    #[arg(long = "data", value_name = "FILE")]
    data: Vec<PathBuf>,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8181")]
    addr: std::net::SocketAddr,
    /// Keep the fact batches posted to /v1/facts in a write-ahead log in DIR,
    /// replayed at start: without it they last until the server stops.
    #[arg(long = "state-dir", value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// A file holding the bearer token that /v1/facts and /v1/reload
    /// require (without it, they are refused).
    #[arg(long = "token-file", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Require the token on every endpoint but /healthz.
    #[arg(long = "protect-reads", requires = "token_file")]
    protect_reads: bool,
    /// Log every decision as a JSON line, with the revision, to FILE (`-`:
    /// standard output).
    #[arg(long = "decision-log", value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Serve the AuthZEN resource type A as the node type T (repeatable),
    /// e.g. `user=profile`.
    #[arg(long = "resource-type", value_name = "A=T")]
    resource_types: Vec<String>,
    /// The base URL the AuthZEN metadata advertises (default: http://ADDR).
    #[arg(long = "public-url", value_name = "URL")]
    public_url: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long = "max-body", value_name = "BYTES", default_value_t = 1 << 20)]
    max_body: usize,
    /// Longest a request may take, in seconds.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    /// Threads warming each new snapshot (default: one fewer than the cores).
    #[arg(long = "warm-threads", value_name = "N")]
    warm_threads: Option<usize>,
    /// Compact the write-ahead log into one batch once it holds more than N
    /// batches.
    #[arg(long = "compact-after", value_name = "N", default_value_t = 1000)]
    compact_after: usize,
    /// Benchmarks only: serve POST /bench/floor, a constant allow.
    #[arg(long = "http-floor", hide = true)]
    http_floor: bool,
}

#[cfg(feature = "server")]
fn serve(args: ServeArgs) -> Result<u8, Error> {
    use crate::serve::{authzen::Mapping, Config};
    let mut mapping = Mapping::default();
    for pair in &args.resource_types {
        let Some((from, to)) = pair
            .split_once('=')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        else {
            return Err(usage(format!(
                "--resource-type takes AUTHZEN_TYPE=NODE_TYPE, e.g. user=profile (got `{pair}`)"
            )));
        };
        mapping
            .resource_types
            .insert(from.to_string(), to.to_string());
    }
    let token = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            let token = text.trim().to_string();
            if token.is_empty() {
                return Err(usage(format!(
                    "the token file `{}` is empty",
                    path.display()
                )));
            }
            Some(token)
        }
        None => None,
    };
    let config = Config {
        data: args.data,
        addr: args.addr,
        public_url: args.public_url,
        state_dir: args.state_dir.clone(),
        token,
        protect_reads: args.protect_reads,
        decision_log: args.decision_log,
        mapping,
        max_body: args.max_body,
        request_timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        warm_threads: args.warm_threads,
        http_floor: args.http_floor,
        compact_after: args.compact_after,
        ..Config::new(args.paths)
    };
    if config.http_floor {
        eprintln!("grantlog: POST /bench/floor answers a constant allow: for benchmarks only");
    }
    if config.state_dir.is_none() {
        eprintln!("grantlog: facts posted to /v1/facts last until the server stops (keep them with --state-dir DIR)");
    }
    let writes = if config.token.is_some() {
        "enabled (bearer token)"
    } else {
        "disabled (no --token-file)"
    };
    crate::serve::run(config, |addr, revision| {
        eprintln!("grantlog: serving http://{addr} (revision {revision}); writes {writes}");
    })
    .map_err(Error::Usage)?;
    Ok(0)
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let text = match &e {
                Error::Load(l) => l.render(color(&std::io::stderr())),
                other => format!("error: {other}\n"),
            };
            let _ = std::io::stderr().write_all(text.as_bytes());
            ExitCode::from(2)
        }
    }
}

/// Whether to colour output written to `stream`.
fn color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints text for a person: control and other invisible characters from
/// names (an identity provider's, a request's) are shown escaped, so that
/// no name can move the cursor or fake a line of output.
fn print(text: &str) {
    let shown = crate::syntax::names::printable_lines(text);
    let _ = std::io::stdout().write_all(shown.as_bytes());
}

/// Prints JSON for a program: names exactly as they are.
fn print_json(value: &impl Serialize) {
    print_raw(&json(value));
}

fn print_raw(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn json(value: &impl Serialize) -> String {
    let mut s =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// A usage error (bad arguments), reported like an I/O error, exit 2.
fn usage(message: String) -> Error {
    Error::Usage(message)
}

/// Splits positionals into policy paths and `n` query arguments (`n.1` more
/// optional ones), loads the policy, and returns it with the query.
fn load_with_query(
    common: &Common,
    args: &[String],
    min: usize,
    max: usize,
) -> Result<(Snapshot, Vec<String>), Error> {
    let mut paths = common.policy.clone();
    let mut rest = args;
    if paths.is_empty() {
        // With a fixed number of query arguments, everything before them is
        // policy; otherwise leading arguments that exist on disk are.
        let lead = if min == max {
            args.len().saturating_sub(min)
        } else {
            let existing = args.iter().take_while(|a| Path::new(a).exists()).count();
            existing.min(args.len().saturating_sub(min))
        };
        paths = args[..lead].iter().map(PathBuf::from).collect();
        rest = &args[lead..];
    }
    if paths.is_empty() {
        return Err(usage(
            "no policy given: name policy files or directories first, or use -p PATH".into(),
        ));
    }
    if rest.len() < min || rest.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(usage(format!(
            "expected {want} arguments after the policy, got {}: {}",
            rest.len(),
            rest.join(" ")
        )));
    }
    let snapshot = with_progress("loading", || {
        Snapshot::from_paths_with_data(&paths, &common.data)
    })?;
    Ok((snapshot, rest.to_vec()))
}

/// Runs `work` with a spinner on the terminal (nothing when stderr is not
/// one), shown only once the work has taken half a second: a large policy
/// takes seconds to load.
fn with_progress<T>(what: &str, work: impl FnOnce() -> T) -> T {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::time::Duration;
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    let done = std::sync::atomic::AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        let spinner = s.spawn(|| {
            // Woken early when the work is done; spurious wake-ups only
            // show the spinner sooner.
            std::thread::park_timeout(Duration::from_millis(500));
            if !done.load(std::sync::atomic::Ordering::Acquire) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.enable_steady_tick(Duration::from_millis(100));
            }
        });
        let out = work();
        done.store(true, std::sync::atomic::Ordering::Release);
        spinner.thread().unpark();
        out
    });
    bar.finish_and_clear();
    out
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Check {
            args,
            explain,
            json: as_json,
            common,
        } => {
            let (s, q) = load_with_query(&common, &args, 3, 3)?;
            let why = s.explain_request(&common.request(&q)?);
            if as_json || common.format == Format::Json {
                #[derive(Serialize)]
                struct Output<'a> {
                    decision: Effect,
                    explanation: &'a crate::Explanation,
                }
                print_raw(&json(&Output {
                    decision: why.decision,
                    explanation: &why,
                }));
            } else {
                print(&format!("{}\n", why.decision));
                if explain {
                    print(&format!("{why}\n"));
                } else if let Some(e) = &why.error {
                    eprintln!("note: {e}");
                }
            }
            Ok(exit(why.decision))
        }
        Command::Explain { args, common } => {
            let (s, q) = load_with_query(&common, &args, 3, 3)?;
            let why = s.explain_request(&common.request(&q)?);
            match common.format {
                Format::Json => print_raw(&json(&why)),
                Format::Text => print(&format!("{why}\n")),
            }
            Ok(exit(why.decision))
        }
        Command::WhoCan { args, all, common } => {
            let (s, q) = load_with_query(&common, &args, 2, 2)?;
            let rows = s
                .who_can_in(&q[0], &q[1], common.context()?.as_ref(), all)
                .map_err(|e| usage(e.to_string()))?;
            match common.format {
                Format::Json => print_raw(&json(&rows)),
                Format::Text if rows.is_empty() => eprintln!("nobody may {} on {}", q[0], q[1]),
                Format::Text => print(&crate::query::render_allowed(&rows)),
            }
            Ok(0)
        }
        Command::WhatCan { args, common } => {
            let (s, q) = load_with_query(&common, &args, 1, 2)?;
            let perms = s
                .what_can_in(
                    &q[0],
                    q.get(1).map(String::as_str),
                    common.context()?.as_ref(),
                )
                .map_err(|e| usage(e.to_string()))?;
            match common.format {
                Format::Json => print_raw(&json(&perms)),
                Format::Text => {
                    let width = perms.iter().map(|p| p.node.len()).max().unwrap_or(0);
                    for p in &perms {
                        let mark = if p.conditional { "  (conditional)" } else { "" };
                        print(&format!("{:width$}  {}{mark}\n", p.node, p.action));
                    }
                }
            }
            Ok(0)
        }
        Command::Roles { args, common } => {
            let (s, q) = load_with_query(&common, &args, 2, 2)?;
            let roles = s
                .roles(&q[0], &q[1])
                .ok_or_else(|| usage(format!("unknown principal `{}` or node `{}`", q[0], q[1])))?;
            match common.format {
                Format::Json => print_raw(&json(&roles)),
                Format::Text => print(&roles.to_string()),
            }
            Ok(0)
        }
        Command::Test { paths, format } => test(paths, format),
        Command::Validate { paths, format } => {
            let sources = crate::read_paths(&paths)?;
            match Snapshot::from_sources(sources) {
                Ok(s) => {
                    let m = s.model();
                    let summary = format!(
                        "ok: {} types, {} roles, {} actions, {} nodes, {} users, {} groups, {} tests",
                        m.types.len(),
                        m.roles.len(),
                        m.actions.len(),
                        m.nodes.len(),
                        m.principals.len(),
                        m.groups.len(),
                        m.tests.iter().map(|t| t.expectations.len()).sum::<usize>()
                    );
                    let warnings = crate::compile::lint(m);
                    match format {
                        Format::Json => print_json(&serde_json::json!({
                            "errors": [],
                            "warnings": crate::error::located(&m.sources, &warnings),
                        })),
                        Format::Text => {
                            if !warnings.is_empty() {
                                let stderr = std::io::stderr();
                                let text = crate::error::render_warnings(
                                    &m.sources,
                                    &warnings,
                                    color(&stderr),
                                );
                                let _ = stderr.lock().write_all(text.as_bytes());
                            }
                            print(&format!("{summary}\n"));
                        }
                    }
                    Ok(0)
                }
                Err(e) => {
                    match format {
                        Format::Json => print_raw(&json(&e.to_json())),
                        Format::Text => {
                            let _ = std::io::stderr()
                                .write_all(e.render(color(&std::io::stderr())).as_bytes());
                        }
                    }
                    Ok(2)
                }
            }
        }
        Command::Fmt { paths, check } => fmt(paths, check),
        Command::Diff { old, new, format } => {
            let old = Snapshot::from_paths(&[old])?;
            let new = Snapshot::from_paths(&[new])?;
            let changes = crate::diff::diff(&old, &new);
            match format {
                Format::Json => print_raw(&json(&changes)),
                Format::Text => {
                    for c in &changes {
                        let sign = if c.now == Effect::Allow { '+' } else { '-' };
                        print(&format!(
                            "{sign} {} {} {}\n    {}\n",
                            c.principal, c.action, c.node, c.because
                        ));
                    }
                    let gained = changes.iter().filter(|c| c.now == Effect::Allow).count();
                    print(&format!(
                        "{gained} gained, {} lost\n",
                        changes.len() - gained
                    ));
                }
            }
            Ok(u8::from(!changes.is_empty()))
        }
        Command::Export { paths, data } => {
            let s = Snapshot::from_paths_with_data(&paths, &data)?;
            print_json(&crate::facts::Facts::from_model(s.model()));
            Ok(0)
        }
        Command::Import {
            format: ImportFormat::Scim,
            file,
            homes,
        } => {
            let bytes = crate::load::read_bounded(&file, crate::MAX_FILE_BYTES)?;
            let text = String::from_utf8(bytes).map_err(|e| Error::Io {
                path: file.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
            let facts = crate::scim::import(&file.display().to_string(), &text, &homes)?;
            print_json(&facts);
            Ok(0)
        }
        Command::Repl { paths } => repl::run(paths),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve(args),
    }
}

fn exit(effect: Effect) -> u8 {
    match effect {
        Effect::Allow => 0,
        Effect::Deny => 1,
    }
}

fn test(paths: Vec<PathBuf>, format: Format) -> Result<u8, Error> {
    // A file is one policy. A directory holds policies: each `*.policy`
    // file in it is one, and each directory in it is one made of all its
    // files. With no path, ./policies.
    let paths = if paths.is_empty() {
        vec![PathBuf::from("policies")]
    } else {
        paths
    };
    let mut policies = Vec::new();
    for path in paths {
        if !path.is_dir() {
            policies.push(path);
            continue;
        }
        let mut inside: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_dir() || f.extension().is_some_and(|e| e == "policy"))
            .collect();
        inside.sort();
        policies.extend(inside);
    }
    let mut all = crate::policy_test::Report::default();
    for p in &policies {
        let report = Snapshot::from_paths(&[p])?.run_tests();
        all.outcomes.extend(report.outcomes);
    }
    match format {
        Format::Json => print_raw(&json(&all)),
        Format::Text => print(&all.render()),
    }
    Ok(u8::from(all.failed() > 0))
}

fn fmt(paths: Vec<PathBuf>, check: bool) -> Result<u8, Error> {
    let sources = crate::read_paths(&paths)?;
    let mut changed = 0;
    let mut errors = Vec::new();
    for (id, file) in sources.iter() {
        match crate::syntax::format(&file.text) {
            Ok(formatted) if formatted == file.text => {}
            Ok(formatted) => {
                changed += 1;
                if check {
                    eprintln!("would reformat {}", file.name);
                } else {
                    std::fs::write(&file.name, formatted).map_err(|source| Error::Io {
                        path: file.name.clone(),
                        source,
                    })?;
                    eprintln!("formatted {}", file.name);
                }
            }
            Err(mut d) => {
                d.span = d.span.map(|s| crate::source::Span { file: id, ..s });
                errors.push(d);
            }
        }
    }
    if !errors.is_empty() {
        return Err(crate::LoadError::new(sources, errors).into());
    }
    Ok(u8::from(check && changed > 0))
}
