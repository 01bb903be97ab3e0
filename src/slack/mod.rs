//! Slack: what arrives (events and button clicks, by Socket Mode or the
//! signed Events API), what is sent back (Block Kit messages through the
//! Web API, rate limits honoured), and the record of deliveries already
//! taken, so each message is handled exactly once.

mod api;
pub mod events_http;
pub mod inbound;
pub mod render;
pub mod secret;
pub mod seen;
pub mod socket;

pub use crate::dialogue::error_chain;
pub use api::{ApiError, BotIdentity, Connector, SlackApi};
pub use secret::{Secret, SecretError, SecretKind};
