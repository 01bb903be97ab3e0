//! Chat transports: where messages come from and replies go. Every
//! transport feeds the same [`Dialogue`], so the terminal and a chat
//! platform share one pipeline.
//!
//! [`TerminalTransport`] reads one message per line and can switch the
//! sender with script directives, so sessions can be scripted.

mod settings;
mod terminal;

use tracing::{debug, info};

pub(crate) use settings::read_config;
pub use settings::{ChatSettings, SettingsError};
pub use terminal::{DEFAULT_CHANNEL, DIRECTIVES, Identity, TerminalTransport};

use crate::dialogue::{Dialogue, Incoming, Reply};

/// A source of chat messages and a sink for the bot's replies.
pub trait ChatTransport {
    /// Waits for the next message; `None` when the transport has closed.
    fn receive(&mut self) -> Result<Option<Incoming>, TransportError>;

    /// Sends the reply to a message where the message came from.
    fn send(&mut self, to: &Incoming, reply: &Reply) -> Result<(), TransportError>;
}

/// Failures of a transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("failed to read the next message")]
    Read {
        #[source]
        source: std::io::Error,
    },

    #[error("failed to send a reply")]
    Write {
        #[source]
        source: std::io::Error,
    },
}

/// Answers every message of `transport` until it closes, and returns the
/// number of messages answered.
pub fn serve(
    transport: &mut dyn ChatTransport,
    dialogue: &mut Dialogue<'_>,
) -> Result<usize, TransportError> {
    info!("chat session started");
    let mut answered = 0;
    while let Some(incoming) = transport.receive()? {
        debug!(user = %incoming.user, channel = %incoming.channel, "message received");
        let reply = dialogue.handle(&incoming);
        transport.send(&incoming, &reply)?;
        answered += 1;
    }
    info!(messages = answered, "chat session ended");
    Ok(answered)
}
