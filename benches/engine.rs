//! Criterion benchmarks, one group per stage, on the shipped Dify policy.

use criterion::{criterion_group, criterion_main, Criterion};
use grantlog::Snapshot;
use std::hint::black_box;

fn stages(c: &mut Criterion) {
    let text = std::fs::read_to_string("policies/dify.policy").unwrap();
    let mut g = c.benchmark_group("dify");
    g.bench_function("load", |b| {
        b.iter(|| Snapshot::from_text("dify.policy", black_box(&text)).unwrap())
    });
    let snapshot = Snapshot::from_text("dify.policy", &text).unwrap();
    snapshot.warm();
    g.bench_function("check", |b| {
        b.iter(|| {
            snapshot.check(
                black_box("carol"),
                black_box("app.edit"),
                black_box("app:chatbot"),
            )
        })
    });
    g.bench_function("explain", |b| {
        b.iter(|| {
            snapshot.explain(
                black_box("carol"),
                black_box("app.edit"),
                black_box("app:chatbot"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
