//! Dialogue: turns each chat message into the next step of a conversation
//! and dispatches the result, from asking for a slot to running a command.
//!
//! A conversation is one user in one channel and thread. Its [`State`]
//! carries what a request gathered while the bot waits for an answer, and
//! its [`Memory`] keeps the last host, service, IP address, user and
//! incident for references such as "it" or "there".
//!
//! Risk decides what a complete request needs: a `read` command runs at
//! once, a `change` command waits for its requester's yes, and a
//! `critical` command for a second authorised person's approval. Waiting
//! commands are [`PendingAction`]s, bound to their id, requester, channel
//! and thread, used once, and expired after the confirmation time.
//!
//! Every decision is appended to the audit log. A failed append stops the
//! request, so a command never runs without its records.

mod clock;
mod confirm;
mod error;
mod help;
mod pending;
mod reply;
mod request;
mod state;
mod words;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::ZonedDateTime;
use tracing::{error, info};

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{DispatchError, Refusal, error_chain};
pub use pending::{PendingAction, PendingId, PendingStatus};
pub use reply::{ErrorKind, HelpEntry, Proposal, Reply, RunReport, roles_text};
pub use state::{Conversation, Memory, State};

use crate::audit::{AuditEvent, AuditSink, RequestContext, RequestId};
use crate::commands::CommandRunner;
use crate::intent::{Catalog, Decision, Matcher, MatcherError};
use crate::inventory::{Inventory, UserId};
use crate::normalise::{ChannelId, Message, normalise};
use crate::policy::Policy;
use pending::PendingStore;
use words::Answer;

/// A Slack thread timestamp, such as `1700000000.000100`, which
/// identifies a thread within its channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(String);

/// One chat message and who sent it where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub user: UserId,
    pub channel: ChannelId,
    pub thread: Option<ThreadId>,
    /// The message as the chat platform sent it, markup included.
    pub text: String,
}

/// Identifies a conversation: one user in one channel and thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationKey {
    pub user: UserId,
    pub channel: ChannelId,
    pub thread: Option<ThreadId>,
}

/// Decides which intent a message requests. [`Matcher`] is the model-backed
/// one; the trait lets a test use the same model under other thresholds.
pub trait IntentParser: Send + Sync {
    fn catalog(&self) -> &Catalog;
    fn decide(&self, text: &str) -> Result<Decision, MatcherError>;
}

/// The conversations and pending actions of one bot, and everything it
/// needs to answer a message.
pub struct Dialogue<'p> {
    parser: &'p dyn IntentParser,
    policy: Policy,
    inventory: Inventory,
    runner: CommandRunner,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    confirmation_ttl: Duration,
    conversations: HashMap<ConversationKey, Conversation>,
    pending: PendingStore,
}

/// Time a pending action waits for confirmation or approval: long enough
/// to read the command and find an approver, short enough that a yes still
/// refers to the situation in which the command was proposed.
pub const DEFAULT_CONFIRMATION_TTL: Duration = Duration::from_secs(5 * 60);

/// One message being handled.
struct Turn<'a> {
    incoming: &'a Incoming,
    key: ConversationKey,
    message: Message,
    now: ZonedDateTime,
    /// Context of the audit records of this message; handlers point it at
    /// the request or pending action that the message continues.
    context: RequestContext,
}

impl ThreadId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Incoming {
    pub fn new(
        user: UserId,
        channel: ChannelId,
        thread: Option<ThreadId>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            user,
            channel,
            thread,
            text: text.into(),
        }
    }

    pub fn key(&self) -> ConversationKey {
        ConversationKey {
            user: self.user.clone(),
            channel: self.channel.clone(),
            thread: self.thread.clone(),
        }
    }
}

impl IntentParser for Matcher {
    fn catalog(&self) -> &Catalog {
        Matcher::catalog(self)
    }

    fn decide(&self, text: &str) -> Result<Decision, MatcherError> {
        Matcher::decide(self, text)
    }
}

impl<'p> Dialogue<'p> {
    /// Creates a dialogue on the system clock with the default
    /// confirmation time. `policy` must have been validated against the
    /// parser's catalog.
    pub fn new(
        parser: &'p dyn IntentParser,
        policy: Policy,
        inventory: Inventory,
        runner: CommandRunner,
        audit: Arc<dyn AuditSink>,
    ) -> Self {
        Self {
            parser,
            policy,
            inventory,
            runner,
            audit,
            clock: Arc::new(SystemClock),
            confirmation_ttl: DEFAULT_CONFIRMATION_TTL,
            conversations: HashMap::new(),
            pending: PendingStore::default(),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_confirmation_ttl(mut self, ttl: Duration) -> Self {
        self.confirmation_ttl = ttl;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn catalog(&self) -> &'p Catalog {
        self.parser.catalog()
    }

    /// Returns the state of a conversation, if it has one.
    pub fn conversation(&self, key: &ConversationKey) -> Option<&Conversation> {
        self.conversations.get(key)
    }

    pub fn pending(&self, id: &PendingId) -> Option<&PendingAction> {
        self.pending.get(id)
    }

    /// Checks whether a message in this conversation continues it: a
    /// question waits for the user's answer, or a pending action waits in
    /// its channel and thread. A chat transport uses it to take replies
    /// that do not address the bot by name.
    pub fn expects_answer(&self, key: &ConversationKey) -> bool {
        let asking = self
            .conversations
            .get(key)
            .is_some_and(|conversation| !matches!(conversation.state, State::Idle));
        asking
            || self
                .pending
                .in_place(&key.channel, key.thread.as_ref())
                .any(|action| action.status.is_open())
    }

    /// Answers one message. Failures become a refusal reply; none is
    /// returned as an error, because the sender always gets an answer.
    pub fn handle(&mut self, incoming: &Incoming) -> Reply {
        let now = self.clock.now();
        self.expire_pending(&now);

        let mut turn = Turn {
            incoming,
            key: incoming.key(),
            message: normalise(&incoming.text),
            now,
            context: RequestContext {
                actor: incoming.user.clone(),
                channel: incoming.channel.as_str().to_string(),
                thread: incoming
                    .thread
                    .as_ref()
                    .map(|thread| thread.as_str().to_string()),
                request_id: RequestId::generate(),
                intent: None,
            },
        };
        match self.dispatch(&mut turn) {
            Ok(reply) => reply,
            Err(error) => self.fail(&turn, error),
        }
    }

    /// Routes a message: to the question its conversation waits on, to a
    /// pending action when it is a yes or a no, else to a new request.
    fn dispatch(&mut self, turn: &mut Turn<'_>) -> Result<Reply, DispatchError> {
        let state = self.take_state(turn);
        // A slot answer may be inline code alone, such as `web-01`, which
        // normalisation moves out of the text; the slot parser reads it.
        let answers_slot = matches!(state, State::AwaitingSlot { .. });
        if turn.message.text.trim().is_empty() && !answers_slot {
            self.conversation_mut(&turn.key).state = state;
            return Err(request::no_request_text(&turn.message));
        }
        let (answer, named) = words::read_answer(&turn.message.text);

        if answer == Answer::No && !matches!(state, State::Idle) {
            return self.cancel_question(turn, state);
        }
        if answer == Answer::Yes && self.answers_pending(turn, &state, named.as_ref()) {
            self.conversation_mut(&turn.key).state = state;
            return self.answer_pending(turn, answer, named);
        }
        match state {
            State::Idle if answer != Answer::Other => self.answer_pending(turn, answer, named),
            State::Idle => self.request(turn, None),
            State::AwaitingSlot {
                request_id,
                intent,
                values,
                slot,
                ..
            } => self.answer_slot(turn, request_id, intent, values, slot),
            State::AwaitingChoice {
                request_id,
                options,
                message,
                ..
            } => self.answer_choice(turn, answer, request_id, options, message),
            // A yes names no action to take on the held value, so the
            // question stays open.
            state @ State::AwaitingIntent { .. } if answer == Answer::Yes => {
                self.conversation_mut(&turn.key).state = state;
                self.answer_pending(turn, answer, named)
            }
            State::AwaitingIntent {
                request_id, value, ..
            } => {
                turn.context.request_id = request_id;
                self.request(turn, Some(value))
            }
        }
    }

    /// Checks whether a yes sent while a question is open is meant for a
    /// pending action: it names one, or one waits in this channel and
    /// thread and the question cannot take a yes.
    fn answers_pending(&self, turn: &Turn<'_>, state: &State, named: Option<&PendingId>) -> bool {
        match state {
            State::Idle => false,
            State::AwaitingChoice { options, .. } if options.len() == 1 && named.is_none() => false,
            _ if named.is_some() => true,
            // While a slot question is open, a bare yes is not taken for an
            // older pending action: it must name the action's id.
            State::AwaitingSlot { .. } => false,
            _ => self
                .pending
                .in_place(&turn.incoming.channel, turn.incoming.thread.as_ref())
                .any(|action| action.status.is_open()),
        }
    }

    /// Answers with the error's reply after appending its audit record.
    fn fail(&mut self, turn: &Turn<'_>, error: DispatchError) -> Reply {
        match &error {
            DispatchError::CommandFailed { .. }
            | DispatchError::Audit { .. }
            | DispatchError::Matcher { .. } => {
                error!(
                    request_id = %turn.context.request_id,
                    user = %turn.incoming.user,
                    error = %error::error_chain(&error),
                    "request failed"
                );
            }
            DispatchError::NotAuthorized(refusal) => {
                info!(
                    request_id = %turn.context.request_id,
                    user = %turn.incoming.user,
                    reason = %refusal,
                    "request refused"
                );
            }
            _ => {
                info!(
                    request_id = %turn.context.request_id,
                    user = %turn.incoming.user,
                    kind = %error.kind(),
                    "request stopped"
                );
            }
        }

        if let Some(event) = error.audit_event()
            && let Err(source) = self.record(&turn.context, &event)
        {
            return source.reply();
        }
        error.reply()
    }

    /// Appends one audit event; a failure stops the request.
    fn record(&self, context: &RequestContext, event: &AuditEvent) -> Result<(), DispatchError> {
        self.audit
            .append(context, event)
            .map(|_| ())
            .map_err(|source| DispatchError::Audit {
                event: event.kind(),
                source,
            })
    }

    /// Marks pending actions past their time as expired, records each, and
    /// forgets long-closed ones.
    fn expire_pending(&mut self, now: &ZonedDateTime) {
        let now = now.timestamp();
        for action in self.pending.expire(now) {
            info!(pending = %action.id, intent = %action.intent, "pending action expired");
            let context = action.audit_context(&action.requester);
            if let Err(error) = self.audit.append(&context, &AuditEvent::Expired) {
                error!(pending = %action.id, error = %error, "failed to record an expired pending action");
            }
        }
        self.pending.prune(now);
    }

    /// Takes the conversation's state, leaving it idle. A question older
    /// than the confirmation time is dropped, so a late answer starts afresh.
    fn take_state(&mut self, turn: &Turn<'_>) -> State {
        let ttl = self.confirmation_ttl;
        let conversation = self.conversation_mut(&turn.key);
        let state = std::mem::take(&mut conversation.state);
        let stale = state.asked_at().is_some_and(|asked_at| {
            let age = turn.now.timestamp().duration_since(asked_at);
            age.unsigned_abs() >= ttl
        });
        if stale { State::Idle } else { state }
    }

    fn conversation_mut(&mut self, key: &ConversationKey) -> &mut Conversation {
        self.conversations.entry(key.clone()).or_default()
    }

    /// Drops the open question at the asker's request.
    fn cancel_question(
        &mut self,
        turn: &mut Turn<'_>,
        state: State,
    ) -> Result<Reply, DispatchError> {
        let request_id = match &state {
            State::AwaitingSlot {
                request_id, intent, ..
            } => {
                turn.context.intent = Some(intent.clone());
                request_id.clone()
            }
            State::AwaitingChoice { request_id, .. } | State::AwaitingIntent { request_id, .. } => {
                request_id.clone()
            }
            State::Idle => return self.answer_pending(turn, Answer::No, None),
        };
        turn.context.request_id = request_id;
        self.record(&turn.context, &AuditEvent::Cancelled)?;
        Ok(Reply::Cancelled {
            pending: None,
            text: "OK, I dropped that request; nothing ran.".to_string(),
        })
    }
}
