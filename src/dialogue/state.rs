//! The state of one conversation: the question it waits on, with what was
//! gathered so far, and the values it remembers for references.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use super::words::REMEMBERED;
use crate::audit::RequestId;
use crate::intent::{Alternative, IntentName};
use crate::normalise::Message;
use crate::slots::{SlotKind, SlotValue};

/// The question a conversation waits on. Each variant carries what the
/// request gathered so far, so the next message continues it.
#[derive(Debug, Clone, Default)]
pub enum State {
    /// Nothing is asked; the next message is a new request.
    #[default]
    Idle,
    /// A required slot was asked for ("which host?").
    AwaitingSlot {
        request_id: RequestId,
        intent: IntentName,
        /// Slot values gathered so far.
        values: BTreeMap<String, SlotValue>,
        /// The slot asked for; an answer may also fill another slot of
        /// its group of alternatives.
        slot: String,
        asked_at: Timestamp,
    },
    /// Two or more intents were too close to tell apart ("did you mean X
    /// or Y?").
    AwaitingChoice {
        request_id: RequestId,
        /// The intents offered, with the matcher's scores.
        options: Vec<Alternative>,
        /// The message that was ambiguous, whose slots the chosen intent takes.
        message: Message,
        asked_at: Timestamp,
    },
    /// The message was only an id ("INC-4821"), so the bot asked what to do
    /// with it; the next request takes the value.
    AwaitingIntent {
        request_id: RequestId,
        value: SlotValue,
        asked_at: Timestamp,
    },
}

/// One conversation: its state and the values it remembers.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub state: State,
    pub memory: Memory,
}

/// The last host, service, IP address, user and incident a conversation
/// named, which "it", "there" or "that host" refer to.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// Each value with the count of values remembered before it, so the
    /// most recent one can be found.
    values: HashMap<SlotKind, (u64, SlotValue)>,
    remembered: u64,
}

impl State {
    /// Returns the time the question was asked, or `None` when nothing is asked.
    pub fn asked_at(&self) -> Option<Timestamp> {
        match self {
            Self::Idle => None,
            Self::AwaitingSlot { asked_at, .. }
            | Self::AwaitingChoice { asked_at, .. }
            | Self::AwaitingIntent { asked_at, .. } => Some(*asked_at),
        }
    }
}

impl Memory {
    /// Remembers each value of a remembered kind, replacing older ones.
    pub fn remember<'v>(&mut self, values: impl IntoIterator<Item = &'v SlotValue>) {
        for value in values {
            let kind = kind_of(value);
            if REMEMBERED.contains(&kind) {
                self.values.insert(kind, (self.remembered, value.clone()));
                self.remembered += 1;
            }
        }
    }

    pub fn get(&self, kind: SlotKind) -> Option<&SlotValue> {
        self.values.get(&kind).map(|(_, value)| value)
    }

    /// Returns the value remembered last, of any kind.
    pub fn most_recent(&self) -> Option<&SlotValue> {
        self.values
            .values()
            .max_by_key(|(order, _)| *order)
            .map(|(_, value)| value)
    }
}

/// Returns the slot type of a value.
pub(crate) fn kind_of(value: &SlotValue) -> SlotKind {
    match value {
        SlotValue::Host(_) => SlotKind::Host,
        SlotValue::Ip(_) => SlotKind::Ip,
        SlotValue::Cidr(_) => SlotKind::Cidr,
        SlotValue::Cve(_) => SlotKind::Cve,
        SlotValue::Hash { .. } => SlotKind::Hash,
        SlotValue::Service(_) => SlotKind::Service,
        SlotValue::User(_) => SlotKind::User,
        SlotValue::Duration(_) => SlotKind::Duration,
        SlotValue::TimeRange(_) => SlotKind::TimeRange,
        SlotValue::IncidentId(_) => SlotKind::IncidentId,
        SlotValue::AlertId(_) => SlotKind::AlertId,
        SlotValue::Severity(_) => SlotKind::Severity,
        SlotValue::Environment(_) => SlotKind::Environment,
        SlotValue::Url(_) => SlotKind::Url,
        SlotValue::Text(_) => SlotKind::Text,
        SlotValue::Team(_) => SlotKind::Team,
        SlotValue::Version(_) => SlotKind::Version,
        SlotValue::Package(_) => SlotKind::Package,
        SlotValue::Topic(_) => SlotKind::Topic,
    }
}
