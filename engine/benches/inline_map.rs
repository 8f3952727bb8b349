//! Time per Map item: an inline Map over 10,000 items whose item processor is one Pass state,
//! with unlimited concurrency (`MaxConcurrency` 0) and with `MaxConcurrency` 1.
//!
//! Criterion's throughput is in items; the time per item is the reciprocal.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use common::{current_thread_runtime, engine, inline_map_definition, items_input, machine, run_once};

// The allocator `legion` ships with, so that the figures are what its users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How many items the Map iterates over.
const ITEMS: usize = 10_000;

fn inline_map(c: &mut Criterion) {
    let input = items_input(ITEMS);
    let rt = current_thread_runtime();
    let mut group = c.benchmark_group("inline_map");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.sample_size(10);
    for max_concurrency in [0, 1] {
        let machine = machine(&inline_map_definition(max_concurrency));
        group.bench_function(format!("10000_items/max_concurrency_{max_concurrency}"), |b| {
            b.iter_batched(
                || (engine(), input.clone()),
                |(e, i)| {
                    let output = rt.block_on(run_once(e, &machine, black_box(i)));
                    assert_eq!(output.as_array().map(Vec::len), Some(ITEMS));
                    output
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, inline_map);
criterion_main!(benches);
