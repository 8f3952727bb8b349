//! Time to parse and validate a 200-state definition, from text and from an already-read JSON value.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use legion_asl::parse::{parse, parse_str, ParseOptions};

use common::pass_chain_definition;

fn parse_definition(c: &mut Criterion) {
    let text = pass_chain_definition(common::CHAIN_LENGTH);
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(common::CHAIN_LENGTH as u64));
    group.bench_function("200_states/text", |b| {
        b.iter(|| parse_str(black_box(&text), ParseOptions::default()).expect("valid definition"))
    });
    group.bench_function("200_states/value", |b| {
        b.iter(|| parse(black_box(&value), ParseOptions::default()).expect("valid definition"))
    });
    group.finish();
}

criterion_group!(benches, parse_definition);
criterion_main!(benches);
