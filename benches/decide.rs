//! The per-message path: one message decided end to end on one thread,
//! and chat messages embedded in batches on two threads.

use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use warroom::config::Config;
use warroom::embed::Embedder;

/// Messages per batch, as in `warroom bench`.
const BATCH_SIZE: usize = 32;

/// Dev-set messages, in file order.
fn messages() -> Vec<String> {
    let examples =
        warroom::dataset::load(Path::new("training-data/dev.jsonl")).expect("dev set loads");
    examples.into_iter().map(|example| example.text).collect()
}

fn decide(c: &mut Criterion) {
    let mut config = Config::load(None).expect("config loads");
    config.cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-embeddings.sqlite");
    let matcher = warroom::engine::load_matcher(&config).expect("matcher loads");
    let messages = messages();

    let mut next = messages.iter().cycle();
    c.bench_function("decide_one_message", |b| {
        b.iter_batched(
            || next.next().map(String::as_str).unwrap_or_default(),
            |text| matcher.decide(text).expect("message is decided"),
            BatchSize::SmallInput,
        )
    });

    let embedder = warroom::engine::load_embedder(&config.model)
        .expect("embedder loads")
        .with_threads(2);
    let batch: Vec<&str> = messages
        .iter()
        .take(BATCH_SIZE)
        .map(String::as_str)
        .collect();
    let mut group = c.benchmark_group("embed_batch");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("32_messages_2_threads", |b| {
        b.iter(|| embedder.embed(&batch).expect("batch embeds"))
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
