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
use grantlog::eval::index::Index;
use grantlog::eval::universe::{evaluate, Scope};
use grantlog::source::Sources;
use grantlog::workload::{Size, Workload};
use grantlog::Snapshot;
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
        let mut g = c.benchmark_group("evaluate");
        let mut p = 0u32;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                p = (p + 7919) % m.principals.len() as u32;
                evaluate(m, &index, &[PrincipalId(p)], Scope::Table)
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

        // Update: one membership through the engine (a new snapshot checked
        // from the whole policy; only the member's table is re-evaluated).
        let mut g = c.benchmark_group("update");
        g.sample_size(10);
        let engine = grantlog::Engine::new(Snapshot::from_text("w.policy", &text).unwrap());
        let mut k = 0;
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                k += 1;
                engine
                    .apply(&format!("user bench-{k}\nadd bench-{k} to group g0"))
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
