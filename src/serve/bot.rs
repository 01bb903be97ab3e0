//! The bot in Slack: takes deliveries, handles each exactly once through
//! the shared [`Dialogue`], and turns its replies into Slack messages.
//!
//! Deliveries are accepted at once and handled in tracked tasks, so Slack
//! gets its acknowledgement before any inference or command runs, and
//! shutdown can wait for the work in flight. The dialogue is synchronous
//! and runs on the blocking pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use slack_morphism::prelude::{SlackInteractionEvent, SlackPushEventCallback};
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::metrics::Metrics;
use crate::dialogue::{Dialogue, ErrorKind, Incoming, PendingId, Proposal, Reply, ThreadId};
use crate::inventory::UserId;
use crate::normalise::ChannelId;
use crate::slack::inbound::{
    SlackAction, SlackMessage, action_from_interaction, message_from_event,
};
use crate::slack::render::{
    ACTION_APPROVE, ACTION_CANCEL, ACTION_CONFIRM, ACTION_REJECT, plain, render_closed_prompt,
    render_reply,
};
use crate::slack::seen::{SeenDeliveries, click_key, message_keys};
use crate::slack::{ApiError, BotIdentity, SlackApi, error_chain};

/// A proposal posted with buttons, so its buttons can be replaced once
/// the action is settled.
#[derive(Debug, Clone)]
struct Prompt {
    channel: String,
    ts: String,
    proposal: Proposal,
}

/// Turns a click on an alert's button into the chat message it stands for.
pub trait AlertActions: Send + Sync {
    /// Returns the message text for `action_id` on the alert `value`, or
    /// why the click cannot be taken.
    fn request_for(&self, action_id: &str, value: &str) -> Result<String, String>;
}

/// The bot, shared by every task that handles a delivery.
pub struct Bot {
    // NOTE: one lock serialises the dialogue, so messages are decided and
    // commands run one at a time; a slow command delays every other reply.
    dialogue: Mutex<Dialogue<'static>>,
    api: SlackApi,
    seen: SeenDeliveries,
    identity: BotIdentity,
    // NOTE: pending actions and their prompts live in memory, so a restart
    // drops them and a later click on one gets the reply "There is no pending action".
    prompts: Mutex<HashMap<PendingId, Prompt>>,
    alert_actions: Option<Arc<dyn AlertActions>>,
    metrics: Arc<Metrics>,
    tracker: TaskTracker,
    accepting: AtomicBool,
}

impl Bot {
    pub fn new(
        dialogue: Dialogue<'static>,
        api: SlackApi,
        seen: SeenDeliveries,
        identity: BotIdentity,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            dialogue: Mutex::new(dialogue),
            api,
            seen,
            identity,
            prompts: Mutex::new(HashMap::new()),
            alert_actions: None,
            metrics,
            tracker: TaskTracker::new(),
            accepting: AtomicBool::new(true),
        }
    }

    pub fn with_alert_actions(mut self, actions: Arc<dyn AlertActions>) -> Self {
        self.alert_actions = Some(actions);
        self
    }

    pub fn api(&self) -> &SlackApi {
        &self.api
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn identity(&self) -> &BotIdentity {
        &self.identity
    }

    /// Returns whether new deliveries are still taken.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// Takes an Events API callback and returns at once; the message is
    /// handled in a tracked task. Returns `false` while shutting down.
    pub fn accept_event(self: &Arc<Self>, callback: SlackPushEventCallback) -> bool {
        if !self.is_accepting() {
            return false;
        }
        let message = match message_from_event(&callback, &self.identity.user_id) {
            Ok(message) => message,
            Err(skip) => {
                debug!(event_id = %callback.event_id, reason = %skip, "event skipped");
                self.metrics.message("skipped");
                return true;
            }
        };
        let bot = self.clone();
        self.tracker
            .spawn(async move { bot.on_message(message).await });
        true
    }

    /// Takes an interaction and returns at once; a button click is handled
    /// in a tracked task. Returns `false` while shutting down.
    pub fn accept_interaction(self: &Arc<Self>, event: SlackInteractionEvent) -> bool {
        if !self.is_accepting() {
            return false;
        }
        let action = match action_from_interaction(&event) {
            Ok(action) => action,
            Err(skip) => {
                debug!(reason = %skip, "interaction skipped");
                self.metrics.message("skipped");
                return true;
            }
        };
        let bot = self.clone();
        self.tracker
            .spawn(async move { bot.on_action(action).await });
        true
    }

    /// Runs `work` in a tracked task, so shutdown waits for it.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(work);
    }

    /// Stops taking deliveries and waits for those in flight.
    pub async fn shutdown(&self) {
        self.accepting.store(false, Ordering::SeqCst);
        self.tracker.close();
        info!(in_flight = self.tracker.len(), "waiting for work in flight");
        self.tracker.wait().await;
    }

    async fn on_message(self: Arc<Self>, message: SlackMessage) {
        if !self.first_time(&message_keys(
            &message.event_id,
            &message.channel,
            &message.ts,
        )) {
            return;
        }
        let thread = message
            .thread_ts
            .clone()
            .unwrap_or_else(|| message.ts.clone());
        let incoming = Incoming::new(
            UserId::new(&message.user),
            ChannelId::new(&message.channel),
            Some(ThreadId::new(&thread)),
            message.text.clone(),
        );
        let addressed = message.direct || message.mentions_bot;
        let Some(reply) = self.answer(incoming, addressed).await else {
            self.metrics.message("ignored");
            return;
        };
        self.metrics.message("handled");
        self.deliver(&message.channel, &thread, &message.user, reply)
            .await;
    }

    async fn on_action(self: Arc<Self>, action: SlackAction) {
        if !self.first_time(&click_key(&action.click_id)) {
            return;
        }
        let text = match self.click_text(&action) {
            Ok(text) => text,
            Err(problem) => {
                self.ephemeral(&action, &problem).await;
                return;
            }
        };
        let thread = action
            .thread_ts
            .clone()
            .unwrap_or_else(|| action.message_ts.clone());
        let incoming = Incoming::new(
            UserId::new(&action.user),
            ChannelId::new(&action.channel),
            Some(ThreadId::new(&thread)),
            text,
        );
        let Some(reply) = self.answer(incoming, true).await else {
            return;
        };
        self.metrics.message("handled");
        let on_prompt = matches!(
            action.action_id.as_str(),
            ACTION_CONFIRM | ACTION_CANCEL | ACTION_APPROVE | ACTION_REJECT
        );
        match &reply {
            Reply::Refused {
                kind: ErrorKind::NotAuthorized,
                message,
            } if on_prompt => {
                let text = format!("This is not yours to act on; nothing happened. {message}");
                self.ephemeral(&action, &text).await;
            }
            Reply::AlreadyHandled { text, .. } => self.ephemeral(&action, text).await,
            Reply::Refused {
                kind: ErrorKind::ExpiredConfirmation,
                message,
            } if on_prompt => {
                self.close_prompt_at(&action, &format!("Expired: {message}"))
                    .await;
                self.ephemeral(&action, message).await;
            }
            _ => {
                self.deliver(&action.channel, &thread, &action.user, reply)
                    .await;
            }
        }
    }

    /// Returns the chat text a click stands for.
    fn click_text(&self, action: &SlackAction) -> Result<String, String> {
        let verb = match action.action_id.as_str() {
            ACTION_CONFIRM => "yes",
            ACTION_CANCEL => "no",
            ACTION_APPROVE => "approve",
            ACTION_REJECT => "reject",
            other if other.starts_with("warroom_alert_") => {
                return match &self.alert_actions {
                    Some(alerts) => alerts.request_for(other, &action.value),
                    None => Err("Alert actions are not set up on this bot.".to_string()),
                };
            }
            other => {
                warn!(action_id = other, "unknown button");
                return Err(format!("This button ({other}) is not one of mine."));
            }
        };
        let pending = PendingId::parse(&action.value)
            .ok_or_else(|| format!("This button names no pending action ({}).", action.value))?;
        Ok(format!("{verb} {pending}"))
    }

    /// Handles one message through the dialogue on the blocking pool.
    /// Returns `None` when the message neither addresses the bot nor
    /// continues a conversation with it.
    async fn answer(self: &Arc<Self>, incoming: Incoming, addressed: bool) -> Option<Reply> {
        let bot = self.clone();
        let started = Instant::now();
        let joined = tokio::task::spawn_blocking(move || {
            let mut dialogue = bot.lock_dialogue();
            if !addressed && !dialogue.expects_answer(&incoming.key()) {
                return None;
            }
            Some(dialogue.handle(&incoming))
        })
        .await;
        match joined {
            Ok(Some(reply)) => {
                self.metrics.reply(&reply, started.elapsed());
                Some(reply)
            }
            Ok(None) => None,
            Err(error) => {
                error!(error = %error, "message handler stopped");
                self.metrics.message("failed");
                None
            }
        }
    }

    /// Posts a reply in the thread, keeps proposals so their buttons can
    /// be settled, and settles the prompt of an action the reply closes.
    async fn deliver(&self, channel: &str, thread: &str, actor: &str, reply: Reply) {
        let post = render_reply(&reply);
        let started = Instant::now();
        let posted = self.api.post(channel, Some(thread), &post).await;
        self.metrics.slack_post(started.elapsed());
        let ts = match posted {
            Ok(ts) => ts,
            Err(error) => {
                self.report_lost(channel, &error);
                return;
            }
        };
        match &reply {
            Reply::NeedsConfirmation(proposal) | Reply::NeedsApproval(proposal) => {
                self.lock_prompts().insert(
                    proposal.pending.clone(),
                    Prompt {
                        channel: channel.to_string(),
                        ts,
                        proposal: proposal.clone(),
                    },
                );
            }
            Reply::Ran(report) => {
                if let Some(pending) = &report.pending {
                    let status = match report.exit_code {
                        Some(0) => "succeeded".to_string(),
                        Some(code) => format!("exited with code {code}"),
                        None => "ended without an exit code".to_string(),
                    };
                    self.close_prompt(pending, &format!("Run by <@{actor}>: {status}."))
                        .await;
                }
            }
            Reply::Cancelled {
                pending: Some(pending),
                ..
            } => {
                self.close_prompt(pending, &format!("Cancelled by <@{actor}>; nothing ran."))
                    .await;
            }
            Reply::Refused {
                kind: ErrorKind::CommandFailed,
                ..
            } => {
                if let Some(pending) = reply.pending() {
                    self.close_prompt(pending, "The command could not be run; see the thread.")
                        .await;
                }
            }
            _ => {}
        }
    }

    /// Replaces the buttons of a pending action's prompt with `outcome`.
    async fn close_prompt(&self, pending: &PendingId, outcome: &str) {
        let Some(prompt) = self.lock_prompts().remove(pending) else {
            return;
        };
        let post = render_closed_prompt(&prompt.proposal, outcome);
        if let Err(error) = self.api.update(&prompt.channel, &prompt.ts, &post).await {
            warn!(pending = %pending, error = %error_chain(&error), "failed to settle a prompt");
        }
    }

    /// Settles the prompt a click was made on, known or not.
    async fn close_prompt_at(&self, action: &SlackAction, outcome: &str) {
        let pending = PendingId::parse(&action.value);
        let known = pending
            .as_ref()
            .and_then(|pending| self.lock_prompts().remove(pending));
        let post = match known {
            Some(prompt) => render_closed_prompt(&prompt.proposal, outcome),
            None => plain(outcome),
        };
        if let Err(error) = self
            .api
            .update(&action.channel, &action.message_ts, &post)
            .await
        {
            warn!(error = %error_chain(&error), "failed to settle a prompt");
        }
    }

    async fn ephemeral(&self, action: &SlackAction, text: &str) {
        if let Err(error) = self
            .api
            .post_ephemeral(
                &action.channel,
                &action.user,
                action.thread_ts.as_deref().or(Some(&action.message_ts)),
                text,
            )
            .await
        {
            warn!(error = %error_chain(&error), "failed to send an ephemeral message");
        }
    }

    /// Records the delivery; a known one, or a store failure, stops it.
    fn first_time(&self, keys: &[String]) -> bool {
        match self.seen.first_time(keys) {
            Ok(true) => true,
            Ok(false) => {
                debug!(keys = ?keys, "redelivery ignored");
                self.metrics.message("duplicate");
                false
            }
            Err(error) => {
                // Without the record a redelivery could run a command twice.
                error!(error = %error_chain(&error), "failed to record a delivery; ignoring it");
                self.metrics.message("failed");
                false
            }
        }
    }

    fn report_lost(&self, channel: &str, error: &ApiError) {
        error!(channel, error = %error_chain(error), "failed to post a reply; the audit log records what ran");
        self.metrics.message("reply_failed");
    }

    fn lock_dialogue(&self) -> MutexGuard<'_, Dialogue<'static>> {
        // A panic inside the dialogue leaves its state as it was at the
        // panic; handling later messages is better than rejecting every one.
        self.dialogue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_prompts(&self) -> MutexGuard<'_, HashMap<PendingId, Prompt>> {
        self.prompts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
