//! grantlog, Cedar and Casbin side by side on the same generated
//! organisations: load time, memory, check latency (median and p99), and
//! agreement of every decision.
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
mod plot;

/// One allocator for every engine in the run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use grantlog::workload::{Size, Workload};
use serde::Serialize;
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
    /// Leave an engine out (cedar, casbin).
    #[arg(long)]
    skip: Vec<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// One engine's figures.
#[derive(Serialize, Clone)]
struct Row {
    engine: String,
    load_ms: f64,
    /// grantlog only: evaluating every principal's table (normally lazy).
    #[serde(skip_serializing_if = "Option::is_none")]
    warm_all_ms: Option<f64>,
    rss_mib: f64,
    check_median_ns: f64,
    check_p99_ns: f64,
    requests_timed: usize,
    ratio_to_grantlog: f64,
    agreed: String,
}

/// Current resident set size in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
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

fn percentile(times: &[Duration], p: f64) -> f64 {
    let mut ns: Vec<f64> = times.iter().map(|t| t.as_nanos() as f64).collect();
    ns.sort_by(f64::total_cmp);
    ns.get(((ns.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn main() {
    let args = Args::parse();
    let mut all = Vec::new();
    let mut points = Vec::new();
    let mut disagree = false;
    for name in args.size.split(',') {
        let size = Size::named(name)
            .unwrap_or_else(|| panic!("--size takes S, M, L or a number of users"));
        let rows = compare(name, size, &args);
        for r in &rows {
            points.push((
                r.engine.clone(),
                size.users as f64,
                r.load_ms,
                r.check_median_ns,
            ));
        }
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
        points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        plot::draw(path, &points).expect("draw plot");
    }
    if disagree {
        eprintln!("decisions disagree: a translation or grantlog is wrong");
        std::process::exit(1);
    }
}

/// Runs every engine on one size and prints its table.
fn compare(name: &str, size: Size, args: &Args) -> Vec<Row> {
    let t = Instant::now();
    let w = Workload::generate(size, args.seed, true);
    let requests = w.request_strings();
    let n = args.requests.min(requests.len());
    eprintln!("generated {name} in {:?}", t.elapsed());

    // grantlog: parse + check to a ready snapshot; each principal's table is
    // evaluated on its first check (the untimed pass covers every timed
    // request, so the timed pass measures warm lookups).
    let rss0 = rss_mib();
    let t = Instant::now();
    let text = w.policy_text();
    let snapshot = grantlog::Snapshot::from_text("workload.policy", &text).expect("workload loads");
    let load = t.elapsed();
    drop(text);
    eprintln!("grantlog: loaded in {load:?}");
    let (ours, ours_t) = time_checks(n, n, |i| {
        let (p, a, r) = &requests[i];
        snapshot.check(p, a, r).is_allowed()
    });
    let rss = rss_mib() - rss0;
    let t = Instant::now();
    snapshot.warm();
    let warm_all = t.elapsed();
    eprintln!("grantlog: every other principal's table in {warm_all:?}");
    let base = percentile(&ours_t, 0.5);
    let mut rows = vec![Row {
        engine: "grantlog".into(),
        load_ms: load.as_secs_f64() * 1e3,
        warm_all_ms: Some(warm_all.as_secs_f64() * 1e3),
        rss_mib: rss,
        check_median_ns: base,
        check_p99_ns: percentile(&ours_t, 0.99),
        requests_timed: n,
        ratio_to_grantlog: 1.0,
        agreed: "-".into(),
    }];

    let agreement = |theirs: &[bool]| {
        let same = theirs.iter().zip(&ours).filter(|(a, b)| a == b).count();
        let first_diff = theirs.iter().zip(&ours).position(|(a, b)| a != b);
        if let Some(i) = first_diff {
            let (p, a, r) = &requests[i];
            eprintln!(
                "  first disagreement: {p} {a} {r}: grantlog {}, peer {}",
                ours[i], theirs[i]
            );
            eprintln!("{}", snapshot.explain(p, a, r));
        }
        format!("{same}/{}", theirs.len())
    };

    if !args.skip.iter().any(|s| s == "cedar") {
        let rss0 = rss_mib();
        let t = Instant::now();
        let cedar = cedar_peer::Cedar::new(&w);
        let load = t.elapsed();
        let rss = rss_mib() - rss0;
        eprintln!("cedar: loaded in {load:?}");
        let m = args.cedar_requests.min(n);
        let (theirs, times) = time_checks(m, 100, |i| cedar.check(&w.requests[i]));
        let median = percentile(&times, 0.5);
        rows.push(Row {
            engine: "cedar-policy".into(),
            load_ms: load.as_secs_f64() * 1e3,
            warm_all_ms: None,
            rss_mib: rss,
            check_median_ns: median,
            check_p99_ns: percentile(&times, 0.99),
            requests_timed: m,
            ratio_to_grantlog: median / base,
            agreed: agreement(&theirs),
        });
    }
    if !args.skip.iter().any(|s| s == "casbin") {
        let m = args.casbin_requests.min(n);
        let rss0 = rss_mib();
        let t = Instant::now();
        let casbin = casbin_peer::Casbin::new(&w);
        let load = t.elapsed();
        let rss = rss_mib() - rss0;
        eprintln!("casbin: loaded in {load:?}");
        let (theirs, times) = time_checks(m, 10, |i| casbin.check(&requests[i]));
        let median = percentile(&times, 0.5);
        rows.push(Row {
            engine: "casbin".into(),
            load_ms: load.as_secs_f64() * 1e3,
            warm_all_ms: None,
            rss_mib: rss,
            check_median_ns: median,
            check_p99_ns: percentile(&times, 0.99),
            requests_timed: m,
            ratio_to_grantlog: median / base,
            agreed: agreement(&theirs),
        });
    }

    println!(
        "size {name} ({} users, {} nodes, {} assignments), {n} requests, {} allowed",
        w.users.len(),
        w.nodes.len(),
        w.assignments.len(),
        ours.iter().filter(|d| **d).count()
    );
    println!(
        "{:<14} {:>10} {:>9} {:>12} {:>12} {:>11} {:>8} {:>13}",
        "engine", "load ms", "RSS MiB", "median ns", "p99 ns", "x grantlog", "timed", "agreed"
    );
    for r in &rows {
        println!(
            "{:<14} {:>10.0} {:>9.0} {:>12.0} {:>12.0} {:>10.0}x {:>8} {:>13}",
            r.engine,
            r.load_ms,
            r.rss_mib,
            r.check_median_ns,
            r.check_p99_ns,
            r.ratio_to_grantlog,
            r.requests_timed,
            r.agreed
        );
    }
    if let Some(warm) = rows[0].warm_all_ms {
        println!("grantlog tables are evaluated on a principal's first check; all {} at once: {warm:.0} ms", w.users.len());
    }
    println!();
    rows
}
