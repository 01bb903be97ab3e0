//! The Slack transport. Events and button clicks arrive by Socket Mode or
//! the signed Events API. Replies go back as Block Kit messages through the
//! Web API, within its rate limits. A record of deliveries already taken
//! makes sure each message is handled exactly once.

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
