//! Writing a fine-tuned model directory: f16 weights, the base model's
//! other files, and a provenance file.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use candle_core::{DType, Tensor};

use super::FineTuneError;
use super::bert::TrainableBert;
use crate::model::{
    FineTuneRecord, ModelError, ModelFiles, PROVENANCE_FILE, Provenance, ProvenanceFile,
    WEIGHTS_FILE, copy_other_files, sha256_hex,
};

/// Licence recorded when the base directory has no provenance file.
const DEFAULT_LICENSE: &str = "Apache-2.0";

/// The model card, rewritten to say that the weights were changed.
const README_FILE: &str = "README.md";

/// Writes `model`'s weights as f16 into `out_dir`, copies every other file
/// of the base directory, and writes a provenance file whose `source` and
/// `license` are the base's. The weights are written beside their final
/// name and renamed, so an interrupted run leaves no truncated weights file.
pub fn write_model_dir(
    base: &ModelFiles,
    model: &TrainableBert,
    out_dir: &Path,
    command: &str,
    record: FineTuneRecord,
) -> Result<(), FineTuneError> {
    let write_error = |source| ModelError::Write {
        path: out_dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(out_dir).map_err(write_error)?;

    let tensors = model.tensors(DType::F16)?;
    check_finite(&tensors)?;
    let partial_path = out_dir.join(format!("{WEIGHTS_FILE}.partial"));
    let weights_path = out_dir.join(WEIGHTS_FILE);
    candle_core::safetensors::save(&tensors, &partial_path).map_err(|error| {
        ModelError::Weights {
            path: partial_path.clone(),
            message: error.to_string(),
        }
    })?;
    fs::rename(&partial_path, &weights_path).map_err(|source| ModelError::Write {
        path: weights_path.clone(),
        source,
    })?;
    // The safetensors writer may create the file private to its owner; the
    // weights are as readable as the base model's.
    let base_weights = base.dir.join(WEIGHTS_FILE);
    let base_permissions = fs::metadata(&base_weights)
        .map_err(|source| ModelError::Read {
            path: base_weights,
            source,
        })?
        .permissions();
    fs::set_permissions(&weights_path, base_permissions).map_err(|source| ModelError::Write {
        path: weights_path.clone(),
        source,
    })?;
    let weights = fs::read(&weights_path).map_err(|source| ModelError::Read {
        path: weights_path.clone(),
        source,
    })?;

    let mut files = BTreeMap::new();
    files.insert(
        WEIGHTS_FILE.to_string(),
        ProvenanceFile {
            sha256: sha256_hex(&weights),
            source_sha256: Some(base.id.to_string()),
        },
    );
    copy_other_files(&base.dir, out_dir, Path::new(""), &mut files)?;
    let readme = model_card(&base.dir.join(README_FILE), command)?;
    let readme_path = out_dir.join(README_FILE);
    fs::write(&readme_path, &readme).map_err(|source| ModelError::Write {
        path: readme_path,
        source,
    })?;
    files.insert(
        README_FILE.to_string(),
        ProvenanceFile {
            sha256: sha256_hex(readme.as_bytes()),
            source_sha256: None,
        },
    );

    let base_provenance_path = base.dir.join(PROVENANCE_FILE);
    let (source, license) = if base_provenance_path.is_file() {
        let base_provenance = Provenance::load(&base_provenance_path)?;
        (base_provenance.source, base_provenance.license)
    } else {
        (base.dir.display().to_string(), DEFAULT_LICENSE.to_string())
    };
    let provenance = Provenance {
        source,
        license,
        command: command.to_string(),
        dtype: "f16".to_string(),
        files,
        fine_tune: Some(record),
    };
    let provenance_path = out_dir.join(PROVENANCE_FILE);
    let json = serde_json::to_vec_pretty(&provenance).map_err(|source| ModelError::Json {
        path: provenance_path.clone(),
        source,
    })?;
    fs::write(&provenance_path, json).map_err(|source| ModelError::Write {
        path: provenance_path,
        source,
    })?;
    Ok(())
}

/// Returns the base model card headed by a notice that these weights are a
/// fine-tuned derivative and how they were made, since the Apache-2.0
/// licence requires changed files to carry such a notice. A base without
/// a card gets the notice alone.
/// Fails on the first tensor that contains a NaN or an infinity. A far too
/// high learning rate can leave them after the last step, whose update the
/// per-step loss check never covers, and values beyond f16's range become
/// infinite when converted.
fn check_finite(tensors: &HashMap<String, Tensor>) -> Result<(), FineTuneError> {
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort_unstable();
    for name in names {
        let values = tensors[name]
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        if !values.iter().all(|value| value.is_finite()) {
            return Err(FineTuneError::NonFiniteWeights {
                tensor: name.clone(),
            });
        }
    }
    Ok(())
}

fn model_card(base_readme: &Path, command: &str) -> Result<String, FineTuneError> {
    let notice = format!(
        "# Fine-tuned by warroom\n\n\
         The weights in this directory were changed: they were fine-tuned from the \
         model described below with\n\n```sh\n{command}\n```\n\n\
         `provenance.json` records the base model, the training data's sha256 and \
         every setting. Everything below this notice describes the base model.\n"
    );
    if !base_readme.is_file() {
        return Ok(notice);
    }
    let base = fs::read_to_string(base_readme).map_err(|source| ModelError::Read {
        path: base_readme.to_path_buf(),
        source,
    })?;
    Ok(format!("{notice}\n---\n\n{base}"))
}
