//! `warroom serve`: the bot in Slack and the alert endpoint, on one HTTP
//! server with health and metrics, shut down gracefully.

mod alert_desk;
mod bot;
pub mod http;
mod metrics;
mod server;
mod settings;

pub use alert_desk::{AlertDesk, routes as alert_routes};
pub use bot::{AlertActions, Bot};
pub use metrics::Metrics;
pub use server::{Secrets, ServeError, Server};
pub use settings::{
    AlertSettings, DEFAULT_API_URL, DEFAULT_LISTEN, DEFAULT_STATE_DB, Delivery, ServeSettings,
};
