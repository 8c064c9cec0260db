//! Criterion benchmarks, one group per stage, over organisation sizes.
//!
//! `cargo bench` runs size S; `GRANTLOG_BENCH_SIZES=S,M cargo bench` adds M
//! (a few minutes). Stages: parse (text → AST), check (AST → model), load
//! (the whole pipeline to a snapshot), evaluate (one principal's Datalog run
//! for its decision table), check (a decision on a warm snapshot, request as
//! strings), update (one membership through the engine), explain (a decision
//! with its explanation).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use grantlog::compile::ids::PrincipalId;
use grantlog::eval::condition::Truth;
use grantlog::eval::index::Index;
use grantlog::eval::roles::RoleClosure;
use grantlog::eval::universe::{evaluate, Scope};
use grantlog::source::Sources;
use grantlog::workload::{Size, Workload};
use grantlog::{Request, Snapshot};
use std::hint::black_box;

fn sizes() -> Vec<(String, Size)> {
    std::env::var("GRANTLOG_BENCH_SIZES")
        .unwrap_or_else(|_| "S".into())
        .split(',')
        .filter_map(|s| Size::named(s.trim()).map(|size| (s.trim().to_uppercase(), size)))
        .collect()
}

fn stages(c: &mut Criterion) {
    for (name, size) in sizes() {
        let w = Workload::generate(size, 7, false);
        let text = w.policy_text();
        let requests = w.request_strings();

        let mut g = c.benchmark_group("parse");
        g.sample_size(10)
            .throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| grantlog::syntax::parse(0, black_box(&text)).unwrap())
        });
        g.finish();

        let mut g = c.benchmark_group("check_model");
        g.sample_size(10);
        let ast = grantlog::syntax::parse(0, &text).unwrap();
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                let mut sources = Sources::default();
                sources.add("w.policy", text.clone());
                grantlog::compile::check(sources, std::slice::from_ref(&ast)).unwrap()
            })
        });
        g.finish();

        let mut g = c.benchmark_group("load");
        g.sample_size(10);
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| Snapshot::from_text("w.policy", black_box(&text)).unwrap())
        });
        g.finish();

        let snapshot = Snapshot::from_text("w.policy", &text).unwrap();
        let m = snapshot.model();
        let index = Index::new(m).unwrap();
        let roles = RoleClosure::new(m);
        let mut g = c.benchmark_group("evaluate");
        let mut p = 0u32;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                p = (p + 7919) % m.principals.len() as u32;
                evaluate(m, &index, &roles, PrincipalId(p), Scope::Table, Truth::NONE)
            })
        });
        g.finish();

        // A principal's first check as a warming `Engine` makes it: one run
        // over the resource's ancestry, no table kept (so every iteration is
        // a first check).
        let mut g = c.benchmark_group("first_check");
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                let (p, a, r) = &requests[i];
                snapshot.decide_first(&Request::new(p.as_str(), *a, r.as_str()))
            })
        });
        g.finish();

        // Warm the tables of the principals the requests name.
        for (p, a, r) in &requests {
            snapshot.check(p, a, r);
        }
        let mut g = c.benchmark_group("check");
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                let (p, a, r) = &requests[i];
                snapshot.check(black_box(p), black_box(a), black_box(r))
            })
        });
        g.finish();

        // The same requests on ids resolved once, as a service that keeps
        // them checks.
        let ids: Vec<_> = requests
            .iter()
            .map(|(p, a, r)| snapshot.resolve(p, a, r).unwrap())
            .collect();
        let mut g = c.benchmark_group("check_ids");
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let (p, a, n) = ids[i];
                snapshot.allowed(black_box(p), black_box(a), black_box(n))
            })
        });
        g.finish();

        // Conditional: the same organisation behind an IP allow list, so
        // that every principal has a condition on the request's context and
        // every check decides it. Tables warm, as for `check`. Each check
        // reads its context from JSON, as a service does with a request it
        // has just parsed (one context, so it is in cache as it would be).
        let conditional = Snapshot::from_text(
            "w.policy",
            &format!(
                "{text}\ncontext ip: ip\ndeny * to everyone unless context.ip in 10.0.0.0/8\n"
            ),
        )
        .unwrap();
        let office = grantlog::Request::new("", "", "")
            .with_context(serde_json::json!({"ip": "10.1.2.3", "now": "2026-12-02T09:00:00Z"}));
        let read = conditional.context(&office).unwrap();
        for (p, a, r) in &requests {
            conditional.check_in(p, a, r, &read);
        }
        let mut g = c.benchmark_group("check_conditional");
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                let (p, a, r) = &requests[i];
                let context = conditional.context(black_box(&office)).unwrap();
                conditional.check_in(black_box(p), black_box(a), black_box(r), &context)
            })
        });
        g.finish();

        // Cold: a principal's first check on a loaded snapshot, including
        // the evaluation of its table (what a service pays after a restart
        // or an update, before warming gets there). Each iteration asks for
        // a principal not asked before; a fresh snapshot is loaded, untimed,
        // when the requests run out. The median and p99 of 1,000 first
        // checks are printed once.
        let fresh = || Snapshot::from_text("w.policy", &text).unwrap();
        let firsts: Vec<usize> = {
            let mut seen = std::collections::HashSet::new();
            (0..requests.len())
                .filter(|&i| seen.insert(requests[i].0.clone()))
                .collect()
        };
        let mut cold = fresh();
        let mut times: Vec<std::time::Duration> = firsts
            .iter()
            .take(1000)
            .map(|&i| {
                let (p, a, r) = &requests[i];
                let start = std::time::Instant::now();
                black_box(cold.check(p, a, r));
                start.elapsed()
            })
            .collect();
        times.sort();
        if !times.is_empty() {
            eprintln!(
                "check_cold/{name}: first checks of {} principals: median {:?}, p99 {:?}",
                times.len(),
                times[times.len() / 2],
                times[times.len() * 99 / 100]
            );
        }
        let mut next = 1000;
        let mut g = c.benchmark_group("check_cold");
        g.sample_size(10);
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    if next >= firsts.len() {
                        cold = fresh();
                        next = 0;
                    }
                    let (p, a, r) = &requests[firsts[next]];
                    next += 1;
                    let start = std::time::Instant::now();
                    black_box(cold.check(p, a, r));
                    total += start.elapsed();
                }
                total
            })
        });
        g.finish();

        // Update: one membership through the engine, added and removed in
        // turn, each followed by a check on the new snapshot (the change is
        // visible). The engine's tables are warm for the requests' users.
        let mut g = c.benchmark_group("update");
        let engine = grantlog::Engine::new(Snapshot::from_text("w.policy", &text).unwrap());
        for (p, a, r) in &requests {
            engine.check(p, a, r);
        }
        let groups = w.groups.len();
        let mut k = 0usize;
        g.bench_function(BenchmarkId::new("membership", &name), |b| {
            b.iter(|| {
                k += 1;
                let j = k.div_ceil(2);
                let (p, a, r) = &requests[j % requests.len()];
                let fact = format!("add {p} to group g{}", (j * 7919) % groups);
                let batch = if k % 2 == 1 {
                    grantlog::Batch::new().add(&fact)
                } else {
                    grantlog::Batch::new().remove(&fact)
                };
                engine.apply(batch).unwrap();
                engine.check(p, a, r)
            })
        });
        // A group's role changes: every member below it is evaluated again
        // on its next check (here, lazily: the update itself).
        g.bench_function(BenchmarkId::new("group_role", &name), |b| {
            b.iter(|| {
                k += 1;
                let assign = format!("assign ws_reader on workspace:w0 to group g{}", k % groups);
                engine.apply(grantlog::Batch::new().add(&assign)).unwrap();
                engine
                    .apply(grantlog::Batch::new().remove(&assign))
                    .unwrap()
            })
        });
        g.finish();

        let mut g = c.benchmark_group("explain");
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                let (p, a, r) = &requests[i];
                snapshot.explain(black_box(p), black_box(a), black_box(r))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
