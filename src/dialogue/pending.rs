//! Actions that wait for the requester's confirmation or a second person's
//! approval, each bound to its id, requester, channel and thread.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::ThreadId;
use crate::audit::{RequestContext, RequestId};
use crate::commands::PreparedCommand;
use crate::intent::{IntentName, Risk};
use crate::inventory::UserId;
use crate::normalise::ChannelId;

/// The id shown with a pending action, such as `P-3fa9c1`, which a reply
/// may name to say which action it answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PendingId(String);

/// A proposed `change` or `critical` command and who may let it run.
#[derive(Debug, Clone)]
pub struct PendingAction {
    pub id: PendingId,
    /// The request whose audit records this action continues.
    pub request_id: RequestId,
    pub intent: IntentName,
    pub risk: Risk,
    pub command: PreparedCommand,
    /// Slot names and values as shown to users, secret values masked.
    pub targets: Vec<(String, String)>,
    pub requester: UserId,
    pub channel: ChannelId,
    pub thread: Option<ThreadId>,
    pub proposed_at: Timestamp,
    pub expires_at: Timestamp,
    pub status: PendingStatus,
}

/// Where a pending action is in its life. Only an open action can run,
/// and it leaves the open states before its command starts, so it runs at
/// most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingStatus {
    /// A `change` action waiting for its requester's yes.
    AwaitingConfirmation,
    /// A `critical` action waiting for a second person's approval.
    AwaitingApproval,
    /// The command was started; `exit_code` is `None` until it ends, or
    /// when a signal ended it.
    Ran { exit_code: Option<i32> },
    /// The command's start could not be recorded, or the program could not
    /// be started or watched.
    Failed,
    /// The requester withdrew it.
    Cancelled,
    /// An approver turned it down.
    Rejected,
    /// Nobody confirmed it in time.
    Expired,
}

/// The pending actions of one bot, open and recently closed.
#[derive(Debug, Default)]
pub struct PendingStore {
    /// In proposal order, oldest first.
    actions: Vec<PendingAction>,
}

/// Closed actions are kept this long, so that the reply to a late yes says
/// that the action already ran, expired or was cancelled rather than
/// "nothing pending".
const CLOSED_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Closed actions kept at most, so a busy bot's store stays small; the
/// oldest closed actions go first.
const MAX_CLOSED: usize = 1000;

/// Hex digits of a pending id: 16^6 ids, enough that two open actions
/// rarely draw the same id, and a draw that does is retried.
const ID_HEX_DIGITS: usize = 6;

impl PendingId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// Reads `P-` and six hex digits, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text
            .strip_prefix("P-")
            .or_else(|| text.strip_prefix("p-"))?;
        let valid = digits.len() == ID_HEX_DIGITS && digits.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| Self(format!("P-{}", digits.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Derives an id from a request id, which is unique per process, with
    /// `attempt` to draw another id when one is taken.
    fn derive(request: &RequestId, attempt: u32) -> Self {
        let digest = Sha256::new()
            .chain_update(request.as_str().as_bytes())
            .chain_update(attempt.to_le_bytes())
            .finalize();
        let hex: String = digest
            .iter()
            .take(ID_HEX_DIGITS / 2)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self(format!("P-{hex}"))
    }
}

impl fmt::Display for PendingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PendingStatus {
    pub fn is_open(self) -> bool {
        matches!(self, Self::AwaitingConfirmation | Self::AwaitingApproval)
    }
}

impl PendingAction {
    /// Checks whether the action was proposed in this channel and thread.
    pub fn is_in(&self, channel: &ChannelId, thread: Option<&ThreadId>) -> bool {
        &self.channel == channel && self.thread.as_ref() == thread
    }

    /// Builds the audit context of a record about this action, caused by `actor`.
    pub fn audit_context(&self, actor: &UserId) -> RequestContext {
        RequestContext {
            actor: actor.clone(),
            channel: self.channel.as_str().to_string(),
            thread: self
                .thread
                .as_ref()
                .map(|thread| thread.as_str().to_string()),
            request_id: self.request_id.clone(),
            intent: Some(self.intent.clone()),
        }
    }

    /// Describes where the action waits, for replies: `channel C1, thread T`.
    pub fn place(&self) -> String {
        match &self.thread {
            Some(thread) => format!("channel `{}`, thread `{thread}`", self.channel),
            None => format!("channel `{}` outside any thread", self.channel),
        }
    }
}

impl PendingStore {
    /// Returns an id for a new action of `request` that no stored action has.
    pub fn new_id(&self, request: &RequestId) -> PendingId {
        let mut attempt = 0;
        loop {
            let id = PendingId::derive(request, attempt);
            if self.get(&id).is_none() {
                return id;
            }
            attempt += 1;
        }
    }

    pub fn insert(&mut self, action: PendingAction) {
        self.actions.push(action);
    }

    pub fn get(&self, id: &PendingId) -> Option<&PendingAction> {
        self.actions.iter().find(|action| &action.id == id)
    }

    pub fn get_mut(&mut self, id: &PendingId) -> Option<&mut PendingAction> {
        self.actions.iter_mut().find(|action| &action.id == id)
    }

    /// Actions proposed in a channel and thread, newest first.
    pub fn in_place<'s>(
        &'s self,
        channel: &'s ChannelId,
        thread: Option<&'s ThreadId>,
    ) -> impl Iterator<Item = &'s PendingAction> + 's {
        self.actions
            .iter()
            .rev()
            .filter(move |action| action.is_in(channel, thread))
    }

    /// Open actions of a requester anywhere, newest first.
    pub fn open_of<'s>(
        &'s self,
        requester: &'s UserId,
    ) -> impl Iterator<Item = &'s PendingAction> + 's {
        self.actions
            .iter()
            .rev()
            .filter(move |action| action.status.is_open() && &action.requester == requester)
    }

    /// Marks open actions past their expiry as expired and returns them.
    pub fn expire(&mut self, now: Timestamp) -> Vec<PendingAction> {
        let mut expired = Vec::new();
        for action in &mut self.actions {
            if action.status.is_open() && now >= action.expires_at {
                action.status = PendingStatus::Expired;
                expired.push(action.clone());
            }
        }
        expired
    }

    /// Forgets closed actions older than the retention time, then the
    /// oldest closed ones beyond the maximum count.
    pub fn prune(&mut self, now: Timestamp) {
        let retention =
            jiff::SignedDuration::try_from(CLOSED_RETENTION).unwrap_or(jiff::SignedDuration::MAX);
        self.actions.retain(|action| {
            action.status.is_open() || now.duration_since(action.proposed_at) < retention
        });
        let closed = self
            .actions
            .iter()
            .filter(|action| !action.status.is_open())
            .count();
        let mut surplus = closed.saturating_sub(MAX_CLOSED);
        self.actions.retain(|action| {
            if surplus > 0 && !action.status.is_open() {
                surplus -= 1;
                return false;
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_id_parses_only_its_own_form() {
        assert_eq!(PendingId::parse("P-3FA9C1").unwrap().as_str(), "P-3fa9c1");
        assert!(PendingId::parse("P-3fa9c").is_none());
        assert!(PendingId::parse("P-3fa9cz").is_none());
        assert!(PendingId::parse("INC-123456").is_none());
    }

    #[test]
    fn derived_ids_differ_by_attempt() {
        let request = RequestId::new("r-1");
        let first = PendingId::derive(&request, 0);
        assert_ne!(first, PendingId::derive(&request, 1));
        assert_eq!(PendingId::parse(first.as_str()), Some(first));
    }
}
