//! grantlog, Cedar and Casbin side by side on the same generated
//! organisations: load time, memory, check latency (median and p99), and
//! agreement of every decision.
//!
//! Rows: `grantlog` (warm: each principal's table evaluated),
//! `grantlog-by-name` (the same, resolving the request's three names in each
//! check), `grantlog-cold`
//! (each principal's first check on a fresh snapshot, as an `Engine` makes
//! it while warming: one run over the resource's ancestry),
//! `grantlog-cold-table` (the same first checks evaluating each principal's
//! whole table, as `Snapshot::check` does), `cedar-sliced` (Cedar as its experts deploy it at this
//! size: the linked policies indexed by principal and resource scope, each
//! request authorized against its slice, gathering the slice timed inside
//! the check), `cedar-holders` (a constant set of 23 policies, one per role
//! and three more, with role holders in the entity hierarchy: each
//! assignment's holder is a member of a `Holder::"R@N"` entity that each node
//! lists, with its ancestors', under `resource.holders.R`), `cedar-naive`
//! (every linked policy handed to the authorizer
//! on every request), `rego` (a data-driven RBAC policy in Rego, role
//! bindings keyed by subject, evaluated by regorus), and `casbin`.
//!
//! grantlog and Cedar receive a request as the workload's integer ids
//! `(user, action, node)`, mapped to their own handles by tables built at
//! load (Cedar's `EntityUid`s, grantlog's ids); Rego each request's input
//! decoded ahead of time, Casbin names. Each check is timed alone, and every
//! warm row by the same rule ([`measure`]): one untimed pass over the timed
//! requests, then timed passes until the median settles (three passes
//! without a 5% gain, at most 20, and none begun after `--pass-budget`
//! seconds of timed checks); the last pass is reported. The median of
//! grantlog's first timed pass (and of `grantlog-by-name`'s), with
//! the data mostly out of cache, is printed beside it, and `--memory-probe`
//! prints what one dependent memory read costs on the machine at several
//! working-set sizes (`--scattered-probe`: among a given number of cache
//! lines scattered over gigabytes, as a request set's are). Cedar-naive and
//! Casbin take milliseconds per check, so they are timed on fewer requests
//! (`--cedar-requests`, `--casbin-requests`).
//!
//! ```sh
//! cargo run --release -p grantlog-peers -- --size M --json target/peers-M.json
//! ```
//!
//! The workload is `grantlog::workload` with `peer_compatible` set: role
//! ladders in which each role includes the one below (so highest privilege
//! and union agree) and no code-location assignments (so override has nothing
//! to replace). Each engine gets it in its own idiom:
//!
//! - Cedar: users and nested groups as entity parents, the scope tree as
//!   resource parents, one template per role linked once per assignment
//!   (`permit(principal in ?principal, action in Action::"role:R", resource in
//!   ?resource)`), action groups for role inclusion, one policy for the creator
//!   rule and `forbid` policies for banned users and per-resource denies.
//! - Casbin: RBAC with `g` for memberships and role-at-node holders, `g2` for
//!   the scope tree, `p` lines per (role at node, action), deny lines, and the
//!   `some(allow) && !some(deny)` effect.

mod casbin_peer;
mod cedar_peer;
mod memory;
mod plot;
mod rego_peer;

/// One allocator for every engine in the run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use grantlog::compile::ids::{ActionId, NodeId, PrincipalId};
use grantlog::eval::snapshot::node_id;
use grantlog::workload::{Size, Workload};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Organisation sizes, comma-separated: S, M, L, or a number of users
    /// (M's proportions scaled).
    #[arg(long, default_value = "S")]
    size: String,
    /// Also draw check latency and load time against size to this SVG file.
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Requests to time per engine (Casbin is timed on at most
    /// --casbin-requests of them).
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Requests to time on Cedar, which evaluates every linked policy.
    #[arg(long, default_value_t = 2_000)]
    cedar_requests: usize,
    /// Requests to time on Casbin, whose check scans every policy line.
    #[arg(long, default_value_t = 200)]
    casbin_requests: usize,
    /// Requests to time on Rego (regorus).
    #[arg(long, default_value_t = 2_000)]
    rego_requests: usize,
    /// Seconds of timed checks after which an engine's passes stop (the
    /// first timed pass always completes).
    #[arg(long, default_value_t = 10.0)]
    pass_budget: f64,
    /// Leave an engine out (cedar, casbin), or grantlog's evaluation of
    /// every table at once (warm-all), which takes minutes at L.
    #[arg(long)]
    skip: Vec<String>,
    /// Before the comparison, time one dependent random memory read within
    /// working sets of these sizes (MiB, comma-separated, e.g.
    /// 1,16,256,1024,4096): the floor under check latency as an
    /// organisation outgrows the caches.
    #[arg(long, value_delimiter = ',')]
    memory_probe: Vec<usize>,
    /// Also time one dependent read while cycling through this many cache
    /// lines scattered over 2 GiB (comma-separated, e.g. 10000,30000,100000):
    /// the footprint of a recurring request set on a large organisation, at
    /// one, three and ten lines per request.
    #[arg(long, value_delimiter = ',')]
    scattered_probe: Vec<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Run nothing: draw --plot from the results a run wrote with --json.
    #[arg(long, requires = "plot")]
    replot: Option<std::path::PathBuf>,
    /// Internal: run one engine in this process and print its figures and
    /// decisions as JSON (each engine runs in its own process, so that its
    /// peak memory is its own).
    #[arg(long, hide = true)]
    engine: Option<String>,
}

/// One engine's figures.
#[derive(Serialize, Deserialize, Clone)]
struct Row {
    engine: String,
    /// Until the first check can be answered.
    load_ms: f64,
    /// grantlog only: evaluating every principal's table at once (normally
    /// each is evaluated on the principal's first check).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    warm_all_ms: Option<f64>,
    /// grantlog only: checks per second on one thread and on two.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    throughput: Option<(f64, f64)>,
    /// Peak resident memory of the process above the generated workload.
    peak_mib: f64,
    /// Over the timed requests: for grantlog, the pass after the medians
    /// settled (see the module's documentation).
    check_median_ns: f64,
    check_p99_ns: f64,
    /// grantlog only: the median of the first timed pass, right after the
    /// pass that evaluated the tables (their data mostly out of cache).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    first_pass_median_ns: Option<f64>,
    requests_timed: usize,
    #[serde(default)]
    ratio_to_grantlog: f64,
    #[serde(default)]
    agreed: String,
}

/// What --json writes.
#[derive(Deserialize)]
struct Results {
    runs: Vec<Run>,
}

/// One size's rows in the results.
#[derive(Deserialize)]
struct Run {
    users: usize,
    rows: Vec<Row>,
}

/// A row as a point of the plot: engine, users, load ms, check median ns.
fn point(r: &Row, users: usize) -> (String, f64, f64, f64) {
    (r.engine.clone(), users as f64, r.load_ms, r.check_median_ns)
}

/// What a child process reports.
#[derive(Serialize, Deserialize)]
struct Outcome {
    row: Row,
    decisions: Vec<bool>,
}

/// A field of /proc/self/status in MiB (Linux).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Times each request separately, after an untimed pass over the first
/// `warm` of them; returns the decisions and the per-request latencies.
fn time_checks(
    n: usize,
    warm: usize,
    mut check: impl FnMut(usize) -> bool,
) -> (Vec<bool>, Vec<Duration>) {
    for i in 0..n.min(warm) {
        std::hint::black_box(check(i));
    }
    let mut decisions = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let d = std::hint::black_box(check(i));
        times.push(t.elapsed());
        decisions.push(d);
    }
    (decisions, times)
}

/// The pass rule every engine's warm row is timed by: one untimed pass
/// over the timed requests (grantlog evaluates the tables they need; every
/// engine warms its caches), then timed passes until the median has not
/// fallen 5% below the best so far for three passes in a row, at most 20
/// passes and, after the first, no more once `budget` of timed checks has
/// gone by. Returns the decisions and latencies of the last pass and the
/// median of the first. On a VM the medians can fall over several passes
/// and pause on the way, so one pass without progress is not enough.
fn measure(
    n: usize,
    check: impl Fn(usize) -> bool + Copy,
    budget: Duration,
) -> (Vec<bool>, Vec<Duration>, f64) {
    let mut pass = time_checks(n, n, check);
    let first = percentile(&pass.1, 0.5);
    let mut spent: Duration = pass.1.iter().sum();
    let mut best = first;
    let mut still = 0;
    for _ in 1..20 {
        if spent > budget {
            break;
        }
        pass = time_checks(n, 0, check);
        spent += pass.1.iter().sum::<Duration>();
        let median = percentile(&pass.1, 0.5);
        if median < 0.95 * best {
            best = median;
            still = 0;
        } else {
            still += 1;
            if still == 3 {
                break;
            }
        }
    }
    (pass.0, pass.1, first)
}

/// Checks per second over the first `n` requests, repeated, on one thread
/// and on two: the median of five runs of each, interleaved, so that a
/// burst of noise on the machine lands on both.
fn throughput(n: usize, check: impl Fn(usize) -> bool + Sync) -> (f64, f64) {
    let run = |threads: usize| {
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..20 {
                        for i in 0..n {
                            std::hint::black_box(check(i));
                        }
                    }
                });
            }
        });
        (threads * 20 * n) as f64 / t.elapsed().as_secs_f64()
    };
    let (mut one, mut two): (Vec<f64>, Vec<f64>) = (0..5).map(|_| (run(1), run(2))).unzip();
    one.sort_by(f64::total_cmp);
    two.sort_by(f64::total_cmp);
    (one[2], two[2])
}

fn percentile(times: &[Duration], p: f64) -> f64 {
    let mut ns: Vec<f64> = times.iter().map(|t| t.as_nanos() as f64).collect();
    ns.sort_by(f64::total_cmp);
    ns.get(((ns.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn main() {
    let args = Args::parse();
    if let Some(engine) = &args.engine {
        let size = Size::named(&args.size).expect("one size");
        let outcome = run_engine(engine, size, &args);
        println!("{}", serde_json::to_string(&outcome).expect("serialise"));
        return;
    }
    if let (Some(json), Some(plot)) = (&args.replot, &args.plot) {
        let text = std::fs::read_to_string(json).expect("read the results");
        let results: Results = serde_json::from_str(&text).expect("results written by --json");
        let points: Vec<_> = results
            .runs
            .iter()
            .flat_map(|run| run.rows.iter().map(move |r| point(r, run.users)))
            .collect();
        plot::draw(plot, &points).expect("draw plot");
        return;
    }
    for &mib in &args.memory_probe {
        println!(
            "memory: one dependent random read within {mib} MiB takes {:.0} ns",
            memory::dependent_read_ns(mib << 20)
        );
    }
    for &lines in &args.scattered_probe {
        println!(
            "memory: one dependent read among {lines} lines scattered over 2 GiB takes {:.0} ns",
            memory::scattered_read_ns(2 << 30, lines)
        );
    }
    if !args.memory_probe.is_empty() || !args.scattered_probe.is_empty() {
        println!();
    }
    let mut all = Vec::new();
    let mut points = Vec::new();
    let mut disagree = false;
    for name in args.size.split(',') {
        let size = Size::named(name)
            .unwrap_or_else(|| panic!("--size takes S, M, L or a number of users"));
        let rows = compare(name, size, &args);
        points.extend(rows.iter().map(|r| point(r, size.users)));
        disagree |= rows
            .iter()
            .any(|r| r.agreed != "-" && r.agreed.split('/').next() != r.agreed.split('/').nth(1));
        all.push(serde_json::json!({ "size": name, "users": size.users, "rows": rows }));
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "seed": args.seed, "runs": all });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        )
        .expect("write JSON");
    }
    if let Some(path) = &args.plot {
        plot::draw(path, &points).expect("draw plot");
    }
    if disagree {
        eprintln!("decisions disagree: a translation or grantlog is wrong");
        std::process::exit(1);
    }
}

/// Runs each engine on one size in its own process and prints the table.
fn compare(name: &str, size: Size, args: &Args) -> Vec<Row> {
    let exe = std::env::current_exe().expect("own path");
    let mut outcomes: Vec<Outcome> = Vec::new();
    for engine in [
        "grantlog",
        "grantlog-by-name",
        "grantlog-cold",
        "grantlog-cold-table",
        "cedar-sliced",
        "cedar-holders",
        "cedar-naive",
        "rego",
        "casbin",
    ] {
        // `--skip cedar` leaves out every cedar row, `--skip grantlog-cold`
        // both first-check rows.
        if args
            .skip
            .iter()
            .any(|s| engine == s || engine.starts_with(&format!("{s}-")))
        {
            continue;
        }
        let out = std::process::Command::new(&exe)
            .args([
                "--engine",
                engine,
                "--size",
                name,
                "--seed",
                &args.seed.to_string(),
            ])
            .args(["--requests", &args.requests.to_string()])
            .args(["--cedar-requests", &args.cedar_requests.to_string()])
            .args(["--casbin-requests", &args.casbin_requests.to_string()])
            .args(["--pass-budget", &args.pass_budget.to_string()])
            .args(["--rego-requests", &args.rego_requests.to_string()])
            .args(args.skip.iter().flat_map(|s| ["--skip", s]))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run engine");
        let text = String::from_utf8_lossy(&out.stdout);
        outcomes.push(
            serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{engine}: {e}: {text}")),
        );
    }
    let ours = outcomes[0].decisions.clone();
    let base = outcomes[0].row.check_median_ns;
    let mut rows = Vec::new();
    for o in outcomes {
        let mut row = o.row;
        row.ratio_to_grantlog = row.check_median_ns / base;
        row.agreed = if row.engine == "grantlog" {
            "-".into()
        } else {
            let same = o
                .decisions
                .iter()
                .zip(&ours)
                .filter(|(a, b)| a == b)
                .count();
            format!("{same}/{}", o.decisions.len())
        };
        rows.push(row);
    }
    let w = Workload::generate(size, args.seed, true);
    println!(
        "size {name} ({} users, {} nodes, {} assignments), {} requests, {} allowed",
        w.users.len(),
        w.nodes.len(),
        w.assignments.len(),
        ours.len(),
        ours.iter().filter(|d| **d).count()
    );
    println!(
        "{:<19} {:>10} {:>10} {:>12} {:>12} {:>11} {:>8} {:>13}",
        "engine", "load ms", "peak MiB", "median ns", "p99 ns", "x grantlog", "timed", "agreed"
    );
    for r in &rows {
        println!(
            "{:<19} {:>10.0} {:>10.0} {:>12.0} {:>12.0} {:>10.0}x {:>8} {:>13}",
            r.engine,
            r.load_ms,
            r.peak_mib,
            r.check_median_ns,
            r.check_p99_ns,
            r.ratio_to_grantlog,
            r.requests_timed,
            r.agreed
        );
    }
    for r in &rows {
        if let Some(first) = r.first_pass_median_ns {
            println!(
                "{} median in the pass right after evaluating the tables: {first:.0} ns",
                r.engine
            );
        }
    }
    if let Some((one, two)) = rows[0].throughput {
        println!(
            "grantlog throughput: {one:.0} checks/s on 1 thread, {two:.0} on 2 ({:.2}x)",
            two / one
        );
    }
    if let Some(warm) = rows[0].warm_all_ms {
        println!(
            "grantlog evaluates a principal's table on its first check; all {} at once (2 threads): {warm:.0} ms",
            w.users.len()
        );
    }
    println!();
    rows
}

/// The workload's policy text parsed and checked to a ready snapshot, with
/// the workload's ids mapped to the snapshot's, and how long that took
/// (each principal's table is evaluated on its first check).
fn load_grantlog(w: &Workload) -> (grantlog::Snapshot, Ids, Duration) {
    let t = Instant::now();
    let text = w.policy_text();
    let snapshot = grantlog::Snapshot::from_text("workload.policy", &text).expect("workload loads");
    let ids = Ids::new(w, &snapshot);
    (snapshot, ids, t.elapsed())
}

/// The workload's integer ids (users, nodes) and action names mapped to
/// the snapshot's ids once, at load, by the model's own name lookups, as
/// the Cedar rows map them to their `EntityUid`s. The `grantlog-by-name`
/// row resolves the three names in each check instead, as a service that
/// keeps no ids does.
struct Ids {
    users: Vec<PrincipalId>,
    nodes: Vec<NodeId>,
    actions: std::collections::HashMap<&'static str, ActionId>,
}

impl Ids {
    fn new(w: &Workload, snapshot: &grantlog::Snapshot) -> Ids {
        let m = snapshot.model();
        Ids {
            users: (0..w.users.len())
                .map(|u| {
                    m.principal_named(&format!("u{u}"))
                        .expect("each workload user is in the policy")
                })
                .collect(),
            nodes: w
                .nodes
                .iter()
                .map(|n| node_id(m, &n.key()).expect("each workload node is in the policy"))
                .collect(),
            actions: w
                .requests
                .iter()
                .map(|&(_, a, _)| {
                    (
                        a,
                        m.action_named(a)
                            .expect("each workload action is in the policy"),
                    )
                })
                .collect(),
        }
    }

    fn of(
        &self,
        &(user, action, node): &(usize, &'static str, usize),
    ) -> (PrincipalId, ActionId, NodeId) {
        (self.users[user], self.actions[action], self.nodes[node])
    }
}

/// Loads one engine and times its checks (in a child process).
fn run_engine(engine: &str, size: Size, args: &Args) -> Outcome {
    let w = Workload::generate(size, args.seed, true);
    let requests = w.request_strings();
    let n = args.requests.min(requests.len());
    let base = status_mib("VmRSS:");
    let budget = Duration::from_secs_f64(args.pass_budget);
    let row = |engine: &str,
               load: Duration,
               warm_all: Option<Duration>,
               timed: usize,
               times: &[Duration]| Row {
        engine: engine.into(),
        load_ms: load.as_secs_f64() * 1e3,
        warm_all_ms: warm_all.map(|w| w.as_secs_f64() * 1e3),
        throughput: None,
        peak_mib: status_mib("VmHWM:") - base,
        check_median_ns: percentile(times, 0.5),
        check_p99_ns: percentile(times, 0.99),
        first_pass_median_ns: None,
        requests_timed: timed,
        ratio_to_grantlog: 0.0,
        agreed: String::new(),
    };
    match engine {
        "grantlog" | "grantlog-by-name" => {
            // Parse and check to a ready snapshot; each principal's table is
            // evaluated on its first check, in the untimed pass, so the timed
            // passes measure warm checks: the first right after the
            // evaluations, the reported one once the requests' data has
            // settled in the caches, as a service sees its recurring
            // principals.
            let (snapshot, ids, load) = load_grantlog(&w);
            let by_name = engine == "grantlog-by-name";
            let check = |i: usize| match by_name {
                true => {
                    let (p, a, r) = &requests[i];
                    snapshot.check(p, a, r).is_allowed()
                }
                false => {
                    let (p, a, n) = ids.of(&w.requests[i]);
                    snapshot.allowed(p, a, n)
                }
            };
            let (decisions, times, first) = measure(n, check, budget);
            let mut r = row(engine, load, None, n, &times);
            r.first_pass_median_ns = Some(first);
            if !by_name {
                r.throughput = Some(throughput(n, check));
                r.warm_all_ms = (!args.skip.iter().any(|s| s == "warm-all")).then(|| {
                    let t = Instant::now();
                    snapshot.warm();
                    t.elapsed().as_secs_f64() * 1e3
                });
            }
            Outcome { row: r, decisions }
        }
        "grantlog-cold" | "grantlog-cold-table" => {
            // Each principal's first check on a freshly loaded snapshot:
            // `grantlog-cold` as an `Engine` makes it while warming has not
            // reached the principal (one run of the program over the
            // resource's ancestry, the table left to warming), what a
            // service pays after a restart or an update; `grantlog-cold-table`
            // evaluating the principal's whole table, as `Snapshot::allowed`
            // (and an `Engine` with warming off) does. Only first checks
            // are timed; every request is decided, for the agreement count.
            let (snapshot, ids, load) = load_grantlog(&w);
            let table = engine == "grantlog-cold-table";
            let mut seen = vec![false; w.users.len()];
            let mut times = Vec::new();
            let decisions = w.requests[..n]
                .iter()
                .map(|request| {
                    let first = !std::mem::replace(&mut seen[request.0], true);
                    let t = Instant::now();
                    let (p, a, node) = ids.of(request);
                    let allowed = match table {
                        true => snapshot.allowed(p, a, node),
                        false => snapshot.allowed_first(p, a, node),
                    };
                    if first {
                        times.push(t.elapsed());
                    }
                    allowed
                })
                .collect();
            Outcome {
                row: row(engine, load, None, times.len(), &times),
                decisions,
            }
        }
        "cedar-sliced" => {
            let t = Instant::now();
            let cedar = cedar_peer::SlicedCedar::new(&w);
            let load = t.elapsed();
            let (decisions, times, _) = measure(n, |i| cedar.check(&w.requests[i]), budget);
            Outcome {
                row: row("cedar-sliced", load, None, n, &times),
                decisions,
            }
        }
        "cedar-holders" => {
            let t = Instant::now();
            let cedar = cedar_peer::Cedar::holders(&w);
            let load = t.elapsed();
            eprintln!("cedar-holders: {} policies", cedar.policy_count());
            let (decisions, times, _) = measure(n, |i| cedar.check(&w.requests[i]), budget);
            Outcome {
                row: row("cedar-holders", load, None, n, &times),
                decisions,
            }
        }
        "cedar-naive" => {
            let t = Instant::now();
            let cedar = cedar_peer::Cedar::new(&w);
            let load = t.elapsed();
            let m = args.cedar_requests.min(n);
            let (decisions, times, _) = measure(m, |i| cedar.check(&w.requests[i]), budget);
            Outcome {
                row: row("cedar-naive", load, None, m, &times),
                decisions,
            }
        }
        "rego" => {
            let t = Instant::now();
            let rego = rego_peer::Rego::new(&w);
            let load = t.elapsed();
            let m = args.rego_requests.min(n);
            let (decisions, times, _) = measure(m, |i| rego.check(i), budget);
            Outcome {
                row: row("rego", load, None, m, &times),
                decisions,
            }
        }
        _ => {
            let t = Instant::now();
            let casbin = casbin_peer::Casbin::new(&w);
            let load = t.elapsed();
            let m = args.casbin_requests.min(n);
            let (decisions, times, _) = measure(m, |i| casbin.check(&requests[i]), budget);
            Outcome {
                row: row("casbin", load, None, m, &times),
                decisions,
            }
        }
    }
}
