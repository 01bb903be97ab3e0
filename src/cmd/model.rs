//! `warroom model`: imports, verifies and fine-tunes model directories.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use warroom::model::{ModelFiles, TargetDtype, import};

use super::GlobalArgs;
use super::finetune::{self, FineTuneArgs};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Convert a sentence-transformers model directory into a warroom model
    /// directory, with a provenance file giving each file's sha256
    Import {
        /// Directory holding model.safetensors, config.json and tokenizer.json
        #[arg(value_name = "DIR")]
        source: PathBuf,

        /// Element type of the written weights
        #[arg(long, value_enum, default_value = "f16")]
        dtype: TargetDtype,

        /// Output directory [default: models/<name of DIR>]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,

        /// Origin recorded in the provenance file, such as a Hugging Face
        /// repo id [default: DIR]
        #[arg(long, value_name = "NAME")]
        origin: Option<String>,

        /// Licence text copied into the directory as LICENSE
        #[arg(long, value_name = "FILE")]
        license_file: Option<PathBuf>,
    },
    /// Check that a model directory is complete and matches its provenance file
    Verify {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Fine-tune the encoder (--model) contrastively on labelled messages,
    /// as SetFit does, and write the result as a new model directory
    FineTune(FineTuneArgs),
}

pub fn run(
    global: &GlobalArgs,
    command: ModelCommand,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match command {
        ModelCommand::Import {
            source,
            dtype,
            out: out_dir,
            origin,
            license_file,
        } => {
            let out_dir = match out_dir {
                Some(dir) => dir,
                None => {
                    let name = source
                        .canonicalize()
                        .ok()
                        .and_then(|path| path.file_name().map(PathBuf::from))
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "cannot name the output after `{}`: pass --out DIR",
                                source.display()
                            )
                        })?;
                    PathBuf::from("models").join(name)
                }
            };
            let origin = origin.unwrap_or_else(|| source.display().to_string());
            let report = import(&source, &out_dir, dtype, &origin, license_file.as_deref())?;
            writeln!(
                out,
                "imported {} tensors as {} into {} ({:.1} MB of weights, {} files)",
                report.tensors,
                dtype.name(),
                report.out_dir.display(),
                report.weights_bytes as f64 / 1e6,
                report.files.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Verify { dir } => {
            let files = ModelFiles::open(&dir)?;
            writeln!(out, "{}: ok (weights sha256 {})", dir.display(), files.id)?;
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::FineTune(args) => finetune::run(global, args, out),
    }
}
