//! On-disk cache of exemplar embeddings, keyed by model hash and text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, params};

use super::Head;
use crate::embed::Embedding;
use crate::model::ModelId;

/// Errors raised by the embedding cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("failed to create cache directory `{}`", path.display())]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("embedding cache `{}` failed", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// A SQLite file mapping (model hash, text) to an embedding.
pub struct EmbeddingCache {
    connection: Connection,
    path: PathBuf,
}

/// How long a writer waits for another process holding the cache.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl EmbeddingCache {
    /// Opens the cache file, creating it and its directory when missing.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| CacheError::Directory {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let sqlite_error = |source| CacheError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open(path).map_err(sqlite_error)?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_error)?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS embeddings (
                    model TEXT NOT NULL,
                    text TEXT NOT NULL,
                    vector BLOB NOT NULL,
                    PRIMARY KEY (model, text)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS heads (
                    key TEXT PRIMARY KEY,
                    classes INTEGER NOT NULL,
                    dimension INTEGER NOT NULL,
                    weights BLOB NOT NULL,
                    biases BLOB NOT NULL
                );",
            )
            .map_err(sqlite_error)?;
        Ok(Self {
            connection,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the cached embeddings of `model` for those `texts` that have
    /// one. A row of the wrong length (from a damaged file) is skipped, so
    /// its text is embedded again.
    pub fn lookup(
        &self,
        model: &ModelId,
        dimension: usize,
        texts: &[&str],
    ) -> Result<HashMap<String, Embedding>, CacheError> {
        let sqlite_error = |source| CacheError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut statement = self
            .connection
            .prepare_cached("SELECT vector FROM embeddings WHERE model = ?1 AND text = ?2")
            .map_err(sqlite_error)?;

        let mut found = HashMap::new();
        for &text in texts {
            let mut rows = statement
                .query(params![model.as_str(), text])
                .map_err(sqlite_error)?;
            let Some(row) = rows.next().map_err(sqlite_error)? else {
                continue;
            };
            let blob: Vec<u8> = row.get(0).map_err(sqlite_error)?;
            if blob.len() != dimension * 4 {
                continue;
            }
            found.insert(text.to_string(), Embedding::from_unit(floats(&blob)));
        }
        Ok(found)
    }

    /// Stores embeddings in one transaction, replacing older rows.
    pub fn store(
        &mut self,
        model: &ModelId,
        entries: &[(&str, &Embedding)],
    ) -> Result<(), CacheError> {
        let path = self.path.clone();
        let sqlite_error = |source| CacheError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite_error)?;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO embeddings (model, text, vector) VALUES (?1, ?2, ?3)",
                )
                .map_err(sqlite_error)?;
            for (text, embedding) in entries {
                statement
                    .execute(params![model.as_str(), text, bytes(embedding.as_slice())])
                    .map_err(sqlite_error)?;
            }
        }
        transaction.commit().map_err(sqlite_error)
    }
}

impl EmbeddingCache {
    /// Returns the classifier head stored under `key`, if any and intact.
    pub fn load_head(&self, key: &str) -> Result<Option<Head>, CacheError> {
        let sqlite_error = |source| CacheError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut statement = self
            .connection
            .prepare_cached("SELECT classes, dimension, weights, biases FROM heads WHERE key = ?1")
            .map_err(sqlite_error)?;
        let mut rows = statement.query(params![key]).map_err(sqlite_error)?;
        let Some(row) = rows.next().map_err(sqlite_error)? else {
            return Ok(None);
        };
        let classes: i64 = row.get(0).map_err(sqlite_error)?;
        let dimension: i64 = row.get(1).map_err(sqlite_error)?;
        let weights: Vec<u8> = row.get(2).map_err(sqlite_error)?;
        let biases: Vec<u8> = row.get(3).map_err(sqlite_error)?;
        Ok(Head::from_parts(
            usize::try_from(classes).unwrap_or(0),
            usize::try_from(dimension).unwrap_or(0),
            floats(&weights),
            floats(&biases),
        ))
    }

    /// Stores a classifier head under `key`, replacing an older one.
    pub fn store_head(&mut self, key: &str, head: &Head) -> Result<(), CacheError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO heads (key, classes, dimension, weights, biases) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key,
                    head.classes() as i64,
                    head.dimension() as i64,
                    bytes(head.weights()),
                    bytes(head.biases())
                ],
            )
            .map(|_| ())
            .map_err(|source| CacheError::Sqlite {
                path: self.path.clone(),
                source,
            })
    }
}

fn floats(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect()
}

fn bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_embeddings_are_found_again() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().map_err(|source| CacheError::Directory {
            path: PathBuf::from("tempdir"),
            source,
        })?;
        let path = dir.path().join("sub").join("cache.sqlite");
        let model = ModelId::new("abc");
        let embedding = Embedding::normalized(vec![3.0, 4.0]);

        let mut cache = EmbeddingCache::open(&path)?;
        cache.store(&model, &[("hello", &embedding)])?;
        drop(cache);

        let cache = EmbeddingCache::open(&path)?;
        let found = cache.lookup(&model, 2, &["hello", "missing"])?;
        assert_eq!(found.len(), 1);
        assert_eq!(found["hello"], embedding);

        let other_model = cache.lookup(&ModelId::new("other"), 2, &["hello"])?;
        assert!(other_model.is_empty());
        let wrong_dimension = cache.lookup(&model, 3, &["hello"])?;
        assert!(wrong_dimension.is_empty());
        Ok(())
    }
}
