//! Time per Pass state: a 200-state chain of Pass states with `Result`/`Parameters` and `ResultPath`,
//! run in-process through the public API, history included.
//!
//! Criterion's throughput is in states; the time per state is the reciprocal.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;

use common::{current_thread_runtime, engine, machine, multi_thread_runtime, pass_chain_definition, run_once};

// The allocator `legion` ships with, so that the figures are what its users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pass_chain(c: &mut Criterion) {
    let machine = machine(&pass_chain_definition(common::CHAIN_LENGTH));
    let input = json!({"a": 1, "b": "text"});
    let mut group = c.benchmark_group("pass_chain");
    group.throughput(Throughput::Elements(common::CHAIN_LENGTH as u64));
    group.sample_size(50);

    let rt = current_thread_runtime();
    group.bench_function("200_states/current_thread", |b| {
        b.iter_batched(
            || (engine(), input.clone()),
            |(e, i)| rt.block_on(run_once(e, &machine, black_box(i))),
            BatchSize::SmallInput,
        )
    });

    let rt = multi_thread_runtime();
    group.bench_function("200_states/multi_thread", |b| {
        b.iter_batched(
            || (engine(), input.clone()),
            |(e, i)| rt.block_on(run_once(e, &machine, black_box(i))),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, pass_chain);
criterion_main!(benches);
