//! `warroom model import`: converts a model directory's weights to another dtype
//! and records the provenance of every file.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::provenance::{PROVENANCE_FILE, Provenance, ProvenanceFile, sha256_hex};
use super::{ModelError, REQUIRED_FILES, WEIGHTS_FILE};

/// Element type the imported weights are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetDtype {
    F16,
    Bf16,
    F32,
}

/// What an import wrote.
#[derive(Debug)]
pub struct ImportReport {
    pub out_dir: PathBuf,
    pub tensors: usize,
    pub weights_bytes: u64,
    pub files: Vec<String>,
}

/// File endings of other weight formats, which are not copied: warroom reads
/// only safetensors.
const SKIPPED_WEIGHT_ENDINGS: [&str; 6] = [".bin", ".onnx", ".h5", ".msgpack", ".ot", ".pt"];

impl TargetDtype {
    fn dtype(self) -> DType {
        match self {
            Self::F16 => DType::F16,
            Self::Bf16 => DType::BF16,
            Self::F32 => DType::F32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
            Self::F32 => "f32",
        }
    }
}

/// Imports the model in `source_dir` into `out_dir`: floating-point weights
/// converted to `dtype`, every other file copied unchanged, a licence file
/// added when `license_file` is given, and a provenance file listing the
/// sha256 of each file written. `source_name` is recorded as the origin.
pub fn import(
    source_dir: &Path,
    out_dir: &Path,
    dtype: TargetDtype,
    source_name: &str,
    license_file: Option<&Path>,
) -> Result<ImportReport, ModelError> {
    for name in REQUIRED_FILES {
        let path = source_dir.join(name);
        if !path.is_file() {
            return Err(ModelError::MissingFile { path });
        }
    }
    fs::create_dir_all(out_dir).map_err(|source| ModelError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let mut files = BTreeMap::new();
    let (tensors, weights_bytes) = convert_weights(source_dir, out_dir, dtype, &mut files)?;
    copy_other_files(source_dir, out_dir, Path::new(""), &mut files)?;
    if let Some(license_file) = license_file {
        let bytes = read(license_file)?;
        write(&out_dir.join("LICENSE"), &bytes)?;
        files.insert(
            "LICENSE".to_string(),
            ProvenanceFile {
                sha256: sha256_hex(&bytes),
                source_sha256: None,
            },
        );
    }

    let provenance = Provenance {
        source: source_name.to_string(),
        license: "Apache-2.0".to_string(),
        command: format!(
            "warroom model import {} --dtype {} --origin {source_name}",
            source_dir.display(),
            dtype.name()
        ),
        dtype: dtype.name().to_string(),
        files,
        fine_tune: None,
    };
    let json = serde_json::to_vec_pretty(&provenance).map_err(|source| ModelError::Json {
        path: out_dir.join(PROVENANCE_FILE),
        source,
    })?;
    write(&out_dir.join(PROVENANCE_FILE), &json)?;

    Ok(ImportReport {
        out_dir: out_dir.to_path_buf(),
        tensors,
        weights_bytes,
        files: provenance.files.keys().cloned().collect(),
    })
}

/// Converts the weights file and records both checksums. The converted file
/// is written beside its final name and renamed, so an interrupted import
/// never leaves a truncated weights file behind.
fn convert_weights(
    source_dir: &Path,
    out_dir: &Path,
    dtype: TargetDtype,
    files: &mut BTreeMap<String, ProvenanceFile>,
) -> Result<(usize, u64), ModelError> {
    let source_path = source_dir.join(WEIGHTS_FILE);
    let source_bytes = read(&source_path)?;
    let weights_error = |error: candle_core::Error| ModelError::Weights {
        path: source_path.clone(),
        message: error.to_string(),
    };

    let tensors = candle_core::safetensors::load_buffer(&source_bytes, &Device::Cpu)
        .map_err(weights_error)?;
    let mut converted: HashMap<String, Tensor> = HashMap::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let tensor = if tensor.dtype().is_float() {
            tensor.to_dtype(dtype.dtype()).map_err(weights_error)?
        } else {
            tensor
        };
        converted.insert(name, tensor);
    }

    let out_path = out_dir.join(WEIGHTS_FILE);
    let partial_path = out_dir.join(format!("{WEIGHTS_FILE}.partial"));
    candle_core::safetensors::save(&converted, &partial_path).map_err(|error| {
        ModelError::Weights {
            path: partial_path.clone(),
            message: error.to_string(),
        }
    })?;
    fs::rename(&partial_path, &out_path).map_err(|source| ModelError::Write {
        path: out_path.clone(),
        source,
    })?;

    let out_bytes = read(&out_path)?;
    files.insert(
        WEIGHTS_FILE.to_string(),
        ProvenanceFile {
            sha256: sha256_hex(&out_bytes),
            source_sha256: Some(sha256_hex(&source_bytes)),
        },
    );
    Ok((converted.len(), out_bytes.len() as u64))
}

/// Copies every file below `source_dir` except weights and hidden files,
/// keeping sub-directories such as `1_Pooling/`.
pub(crate) fn copy_other_files(
    source_dir: &Path,
    out_dir: &Path,
    relative: &Path,
    files: &mut BTreeMap<String, ProvenanceFile>,
) -> Result<(), ModelError> {
    let dir = source_dir.join(relative);
    let entries = fs::read_dir(&dir).map_err(|source| ModelError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut entries: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();

    for path in entries {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let skipped = name.starts_with('.')
            || name == WEIGHTS_FILE
            || name == PROVENANCE_FILE
            || name.ends_with(".partial")
            || SKIPPED_WEIGHT_ENDINGS
                .iter()
                .any(|ending| name.ends_with(ending));
        if skipped {
            continue;
        }

        let relative_path = relative.join(name);
        if path.is_dir() {
            let target = out_dir.join(&relative_path);
            fs::create_dir_all(&target).map_err(|source| ModelError::Write {
                path: target.clone(),
                source,
            })?;
            copy_other_files(source_dir, out_dir, &relative_path, files)?;
            continue;
        }

        let bytes = read(&path)?;
        write(&out_dir.join(&relative_path), &bytes)?;
        let key = relative_path
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        files.insert(
            key,
            ProvenanceFile {
                sha256: sha256_hex(&bytes),
                source_sha256: None,
            },
        );
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    fs::read(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    fs::write(path, bytes).map_err(|source| ModelError::Write {
        path: path.to_path_buf(),
        source,
    })
}
