//! Start-up cost: the fast embedder from a verified model directory, and
//! the whole matcher with every exemplar embedding already cached.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use warroom::config::Config;
use warroom::embed::FastBertEmbedder;
use warroom::model::ModelFiles;

fn config() -> Config {
    let mut config = Config::load(None).expect("config loads");
    config.cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-embeddings.sqlite");
    config
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    let model = Path::new("models/all-MiniLM-L6-v2");
    group.bench_function("fast_embedder", |b| {
        b.iter(|| {
            let files = ModelFiles::open(model).expect("model opens");
            FastBertEmbedder::load(files).expect("embedder loads")
        })
    });

    let config = config();
    // The first load fills the cache, so every timed load finds it warm.
    warroom::engine::load_matcher(&config).expect("matcher loads");
    group.bench_function("matcher_warm_cache", |b| {
        b.iter(|| warroom::engine::load_matcher(&config).expect("matcher loads"))
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
