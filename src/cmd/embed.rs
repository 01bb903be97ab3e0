//! `warroom embed`: prints the sentence embedding of a text.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use warroom::embed::Embedder;

use super::{GlobalArgs, load_config};

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Print `{"embedding": [...]}` instead of one value per line
    #[arg(long)]
    json: bool,

    /// Also print the token ids the model sees
    #[arg(long)]
    tokens: bool,

    /// The text to embed
    #[arg(value_name = "TEXT", num_args = 1.., allow_hyphen_values = true)]
    text: Vec<String>,
}

#[derive(Serialize)]
struct EmbedOutput<'a> {
    embedding: &'a [f32],
    #[serde(skip_serializing_if = "Option::is_none")]
    input_ids: Option<Vec<u32>>,
}

pub fn run(global: &GlobalArgs, args: EmbedArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = load_config(global)?;
    let embedder = warroom::engine::load_embedder(&config.model)?;
    let text = args.text.join(" ");
    let embedding = embedder.embed(&[text.as_str()])?.remove(0);
    let input_ids = if args.tokens {
        Some(embedder.token_ids(&text)?)
    } else {
        None
    };

    if args.json {
        let output = EmbedOutput {
            embedding: embedding.as_slice(),
            input_ids,
        };
        serde_json::to_writer(&mut *out, &output)?;
        writeln!(out)?;
    } else {
        if let Some(ids) = input_ids {
            let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
            writeln!(out, "tokens: {}", ids.join(" "))?;
        }
        for value in embedding.as_slice() {
            writeln!(out, "{value}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
