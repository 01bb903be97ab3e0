//! warroom: a ChatOps bot for security and IT teams whose intent model runs
//! on the local machine, so nothing a user types leaves it.
//!
//! # Layout
//! Modules in the order a message flows through them:
//! - [`embed`]: sentence embeddings from a BERT model run with candle.
//! - [`intent`]: the intent catalog and the matcher that decides which
//!   intent a message asks for, if any.
//! - [`slots`]: typed parameters of intents.
//!
//! Around the pipeline:
//! - [`model`]: model directories: verification at load, import, hub downloads.
//! - [`config`]: `warroom.toml`.
//! - [`engine`]: start-up, wiring the above into a ready matcher.
//! - [`dataset`]: labelled utterance files (`{"text","intent"}` JSON Lines).

pub mod config;
pub mod dataset;
pub mod embed;
pub mod engine;
pub mod intent;
pub mod model;
pub mod slots;
