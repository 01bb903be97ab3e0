//! Prometheus metrics of the server: messages, decisions, commands, alerts
//! and how long each step takes, served at `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::dialogue::{ErrorKind, Reply};

type Labels = Vec<(&'static str, &'static str)>;

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    messages: Family<Labels, Counter>,
    decisions: Family<Labels, Counter>,
    commands: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    handle_seconds: Histogram,
    slack_call_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("warroom");
        let messages = Family::<Labels, Counter>::default();
        registry.register(
            "messages",
            "Slack deliveries by what became of them",
            messages.clone(),
        );
        let decisions = Family::<Labels, Counter>::default();
        registry.register(
            "decisions",
            "Answers to messages and clicks by outcome",
            decisions.clone(),
        );
        let commands = Family::<Labels, Counter>::default();
        registry.register("commands", "Commands run by result", commands.clone());
        let alerts = Family::<Labels, Counter>::default();
        registry.register(
            "alerts",
            "Alerts received by what became of them",
            alerts.clone(),
        );
        let handle_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "handle_seconds",
            "Time to answer one message or click, commands included",
            handle_seconds.clone(),
        );
        let slack_call_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "slack_post_seconds",
            "Time to post one reply to Slack, rate-limit waits included",
            slack_call_seconds.clone(),
        );
        Self {
            registry,
            messages,
            decisions,
            commands,
            alerts,
            handle_seconds,
            slack_call_seconds,
        }
    }

    /// Counts a delivery: `handled`, `duplicate`, `skipped` or `ignored`.
    pub fn message(&self, result: &'static str) {
        self.messages.get_or_create(&vec![("result", result)]).inc();
    }

    /// Counts a reply by its outcome, and a command by its result.
    pub fn reply(&self, reply: &Reply, took: Duration) {
        self.handle_seconds.observe(took.as_secs_f64());
        self.decisions
            .get_or_create(&vec![("outcome", outcome(reply))])
            .inc();
        let command = match reply {
            Reply::Ran(report) if report.exit_code == Some(0) => Some("succeeded"),
            Reply::Ran(_) => Some("failed"),
            Reply::Refused {
                kind: ErrorKind::CommandFailed,
                ..
            } => Some("not_started"),
            _ => None,
        };
        if let Some(result) = command {
            self.commands.get_or_create(&vec![("result", result)]).inc();
        }
    }

    /// Counts an alert: `posted`, `grouped`, `failed` (Slack refused the post) or `rejected`.
    pub fn alert(&self, result: &'static str) {
        self.alerts.get_or_create(&vec![("result", result)]).inc();
    }

    pub fn slack_post(&self, took: Duration) {
        self.slack_call_seconds.observe(took.as_secs_f64());
    }

    /// Renders the metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            tracing::error!(error = %error, "failed to render the metrics");
        }
        text
    }
}

/// Returns the outcome label of a reply.
fn outcome(reply: &Reply) -> &'static str {
    match reply {
        Reply::Ran(_) => "ran",
        Reply::NeedsConfirmation(_) => "confirm",
        Reply::NeedsApproval(_) => "approve",
        Reply::Question { .. } => "ask_slot",
        Reply::Clarify { .. } => "clarify",
        Reply::Help { .. } => "help",
        Reply::Cancelled { .. } => "cancelled",
        Reply::AlreadyHandled { .. } => "already_handled",
        Reply::Note { .. } => "note",
        Reply::Refused { kind, .. } => match kind {
            ErrorKind::NoIntent => "out_of_scope",
            ErrorKind::Ambiguous => "ambiguous",
            ErrorKind::MissingSlot | ErrorKind::InvalidSlot => "invalid_slot",
            ErrorKind::NotAuthorized => "not_authorized",
            ErrorKind::ExpiredConfirmation => "expired",
            ErrorKind::CommandFailed => "command_failed",
            ErrorKind::AuditFailed => "audit_failed",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.message("handled");
        metrics.message("duplicate");
        metrics.reply(
            &Reply::Refused {
                kind: ErrorKind::NoIntent,
                message: "no".to_string(),
            },
            Duration::from_millis(3),
        );
        let text = metrics.render();
        assert!(
            text.contains("warroom_messages_total{result=\"handled\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("warroom_decisions_total{outcome=\"out_of_scope\"} 1"),
            "{text}"
        );
        assert!(text.contains("warroom_handle_seconds_count 1"), "{text}");
    }
}
