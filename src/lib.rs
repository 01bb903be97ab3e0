//! warroom: a ChatOps bot for security and IT teams whose intent model runs
//! on the local machine, so nothing a user types leaves it.
//!
//! # Layout
//! Modules in the order a message flows through them:
//! - [`chat`]: the terminal transport that feeds the dialogue.
//! - [`slack`]: the Slack transport: inbound events and clicks, Block Kit
//!   replies, Web API calls, Socket Mode and the Events API listener.
//! - [`normalise`]: Slack markup, code and quotes as data, long pastes cut
//!   to their request.
//! - [`embed`]: sentence embeddings from a BERT model run with candle.
//! - [`intent`]: the intent catalog and the matcher that decides which
//!   intent a message requests, if any.
//! - [`slots`]: typed parameters of intents, extracted and validated.
//! - [`policy`]: who may run which intent where, and who approves critical ones.
//! - [`dialogue`]: conversation state, confirmation, approval and dispatch.
//! - [`commands`]: the vetted argv of an intent, run without a shell, under limits.
//! - [`audit`]: the tamper-evident audit log of every request, a hash chain in SQLite.
//!
//! Around the pipeline:
//! - [`model`]: model directories: verification at load, import, hub downloads.
//! - [`config`]: the `warroom.toml` settings.
//! - [`inventory`]: known hosts, users, teams and services that slot values
//!   are checked against.
//! - [`engine`]: start-up, wiring the above into a ready matcher.
//! - [`serve`]: `warroom serve`: the bot behind Slack, the alert endpoint,
//!   health and metrics.
//! - [`alerts`]: alerts from detection systems: payloads, grouping, storage.
//! - [`finetune`]: contrastive fine-tuning of the encoder on labelled messages.
//! - [`eval`]: accuracy metrics over labelled data.
//! - [`dataset`]: labelled utterance files (`{"text","intent"}` JSON Lines).

pub mod alerts;
pub mod audit;
pub mod chat;
pub mod commands;
pub mod config;
pub mod dataset;
pub mod dialogue;
pub mod embed;
pub mod engine;
pub mod eval;
pub mod finetune;
pub mod intent;
pub mod inventory;
pub mod model;
pub mod normalise;
pub mod policy;
pub mod serve;
pub mod slack;
pub mod slots;
