//! Start-up: loads the model, the intent catalog and the cached exemplar
//! embeddings into a ready matcher.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::embed::{BertEmbedder, EmbedError};
use crate::intent::{Catalog, CatalogError, EmbeddingCache, Matcher, MatcherError};
use crate::model::{ModelError, ModelFiles, ModelSpec};

/// Errors raised while starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),

    #[error("failed to load model")]
    Embed(#[from] EmbedError),

    #[error(transparent)]
    Catalog(#[from] CatalogError),

    #[error("failed to embed the intent exemplars")]
    Matcher(#[from] MatcherError),
}

/// Loads the embedding model named by `spec`, downloading a hub model first.
pub fn load_embedder(spec: &ModelSpec) -> Result<BertEmbedder, EngineError> {
    let dir = spec.resolve()?;
    let files = ModelFiles::open(&dir)?;
    Ok(BertEmbedder::load(files)?)
}

/// Loads the model and catalog named in `config` and embeds the exemplars,
/// reading and filling the on-disk cache. A cache that cannot be opened is
/// logged and skipped, because it only saves time.
pub fn load_matcher(config: &Config) -> Result<Matcher, EngineError> {
    let started = Instant::now();
    let catalog = Catalog::load(&config.intents)?;
    let embedder = Arc::new(load_embedder(&config.model)?);

    let mut cache = match EmbeddingCache::open(&config.cache) {
        Ok(cache) => Some(cache),
        Err(error) => {
            tracing::warn!(error = %error, "embedding cache unavailable, exemplars are embedded at every start");
            None
        }
    };
    let matcher = Matcher::new(catalog, embedder, config.matcher, cache.as_mut())?;
    tracing::info!(
        intents = matcher.catalog().intents().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "engine ready"
    );
    Ok(matcher)
}
