//! Both BERT embedders against reference embeddings that sentence-transformers
//! computed for all-MiniLM-L6-v2: the same token ids, and embeddings within a
//! cosine bound, on the shipped f16 model and on the f32 original.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use warroom::embed::{BertEmbedder, EmbedError, Embedder, FastBertEmbedder, Precision};
use warroom::model::ModelFiles;

/// One reference text with what sentence-transformers produced for it.
#[derive(Debug, Deserialize)]
struct ReferenceRow {
    text: String,
    input_ids: Vec<u32>,
    embedding: Vec<f32>,
}

/// Rows in the fixture: chat messages, Unicode, an empty text and one
/// longer than the 256-token limit.
const REFERENCE_ROWS: usize = 25;

/// Bound for the shipped model, whose weights are the f32 original rounded to f16.
const MIN_COSINE_F16: f32 = 0.999;

/// Bound for the f32 original, the weights the reference was computed from.
const MIN_COSINE_F32: f32 = 0.9999;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference_rows() -> Vec<ReferenceRow> {
    let path = manifest_dir().join("tests/fixtures/all-MiniLM-L6-v2-reference.jsonl");
    let text = std::fs::read_to_string(&path).expect("reference fixture is readable");
    let rows: Vec<ReferenceRow> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("reference row is valid JSON"))
        .collect();
    assert_eq!(rows.len(), REFERENCE_ROWS, "rows in `{}`", path.display());
    rows
}

fn shipped_model() -> PathBuf {
    manifest_dir().join("models/all-MiniLM-L6-v2")
}

/// Returns the directory of the f32 original, which CI and the developers'
/// machines have beside the repository, or `None` with a printed note.
fn f32_model() -> Option<PathBuf> {
    let dir = manifest_dir().join("../shared/models/all-MiniLM-L6-v2");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: f32 model `{}` not found", dir.display());
        None
    }
}

fn open(dir: &Path) -> ModelFiles {
    ModelFiles::open(dir).unwrap_or_else(|error| panic!("model `{}`: {error}", dir.display()))
}

/// Checks token ids and embeddings of every reference row, embedding all
/// rows in one batch and the first few one at a time.
fn check_against_reference(
    name: &str,
    embedder: &dyn Embedder,
    token_ids: impl Fn(&str) -> Result<Vec<u32>, EmbedError>,
    min_cosine: f32,
) {
    let rows = reference_rows();
    for row in &rows {
        let ids = token_ids(&row.text).expect("text tokenizes");
        assert_eq!(ids, row.input_ids, "{name}: token ids of `{}`", row.text);
    }

    let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
    let batch = embedder.embed(&texts).expect("batch embeds");
    assert_eq!(batch.len(), rows.len(), "{name}: one embedding per text");
    for (row, embedding) in rows.iter().zip(&batch) {
        let cosine = embedding.cosine(&row.embedding);
        assert!(
            cosine >= min_cosine,
            "{name}: cosine {cosine} < {min_cosine} for `{}`",
            row.text
        );
    }

    for row in rows.iter().take(3) {
        let single = embedder.embed(&[&row.text]).expect("text embeds").remove(0);
        let cosine = single.cosine(&row.embedding);
        assert!(
            cosine >= min_cosine,
            "{name}: cosine {cosine} alone for `{}`",
            row.text
        );
    }
}

fn check_stock(dir: &Path, min_cosine: f32) {
    let embedder = BertEmbedder::load(open(dir)).expect("stock embedder loads");
    check_against_reference(
        "stock",
        &embedder,
        |text| embedder.token_ids(text),
        min_cosine,
    );
}

/// Checks the fast embedder in exact f32 and, where the CPU has AVX-512
/// BF16, in bfloat16 as the engine runs it.
fn check_fast(dir: &Path, min_cosine: f32) {
    for precision in [Precision::Exact, Precision::Bf16] {
        let embedder = FastBertEmbedder::load_with_precision(open(dir), precision)
            .expect("fast embedder loads");
        if embedder.precision() != precision {
            println!("skipped: {precision:?} is not supported by this CPU");
            continue;
        }
        let name = format!("fast {precision:?}");
        check_against_reference(
            &name,
            &embedder,
            |text| embedder.token_ids(text),
            min_cosine,
        );
    }
}

#[test]
fn stock_embedder_matches_reference_on_f16_model() {
    check_stock(&shipped_model(), MIN_COSINE_F16);
}

#[test]
fn fast_embedder_matches_reference_on_f16_model() {
    check_fast(&shipped_model(), MIN_COSINE_F16);
}

#[test]
fn stock_embedder_matches_reference_on_f32_model() {
    if let Some(dir) = f32_model() {
        check_stock(&dir, MIN_COSINE_F32);
    }
}

#[test]
fn fast_embedder_matches_reference_on_f32_model() {
    if let Some(dir) = f32_model() {
        check_fast(&dir, MIN_COSINE_F32);
    }
}
