//! New requests: from the matcher's decision through slots and policy to
//! a command that runs at once or waits as a pending action.

use std::collections::BTreeMap;

use tracing::{debug, error, info};

use super::error::{DispatchError, error_chain};
use super::pending::{PendingAction, PendingId, PendingStatus};
use super::reply::{Proposal, Reply, RunReport};
use super::state::{State, kind_of};
use super::words::{self, Answer};
use super::{Dialogue, Turn};
use crate::audit::{AuditEvent, AuditedRunError, RequestContext, RequestId, run_audited};
use crate::commands::{self, CommandError, PreparedCommand};
use crate::intent::{
    Alternative, Decision, DeclineReason, Intent, IntentName, Outcome, Risk, SlotSpec, is_question,
    takes_back_anywhere,
};
use crate::normalise::{Cut, Message, normalise};
use crate::slots::{self, MASK, SlotKind, SlotValue};

/// Slot types a message may consist of alone, in the order they are
/// tried: an incident id first, because a bare number such as `123` reads
/// as incident `INC-123`.
const ID_KINDS: [SlotKind; 7] = [
    SlotKind::IncidentId,
    SlotKind::AlertId,
    SlotKind::Cve,
    SlotKind::Hash,
    SlotKind::Ip,
    SlotKind::Cidr,
    SlotKind::Host,
];

/// Name of the intent that the bot answers itself, from the catalog and
/// the policy, instead of running its command.
pub(super) const HELP_INTENT: &str = "help";

/// Ambiguous alternatives offered at most, so the question stays short.
const MAX_OPTIONS: usize = 2;

impl<'p> Dialogue<'p> {
    /// Handles a message as a new request. `held` is a value from an
    /// earlier message that was only an id.
    pub(super) fn request(
        &mut self,
        turn: &mut Turn<'_>,
        held: Option<SlotValue>,
    ) -> Result<Reply, DispatchError> {
        if let Some(value) = self.id_only(&turn.message, turn) {
            return self.ask_what_to_do(turn, value);
        }
        self.resolve_references(turn);

        let mut decision = self.decide(&turn.message.text)?;
        if decision.outcome != Outcome::Matched
            && let Some(value) = &held
        {
            // "status?" after "INC-4821": judge the message with the value it refers to.
            let text = format!("{} {}", turn.message.text, value.to_arg());
            let with_value = self.decide(&text)?;
            if with_value.outcome == Outcome::Matched {
                decision = with_value;
            }
        }
        debug!(
            outcome = %decision.outcome,
            intent = ?decision.intent.as_ref().map(IntentName::as_str),
            confidence = decision.confidence,
            "decision"
        );

        match (decision.outcome, &decision.intent) {
            (Outcome::Matched, Some(name)) => {
                let message = turn.message.clone();
                self.matched(turn, name, decision.confidence, &message, held)
            }
            (Outcome::Ambiguous, _) => self.clarify(turn, &decision),
            _ => Err(self.no_intent(turn, &decision)),
        }
    }

    /// Continues a request whose intent is known: checks the policy, then
    /// gathers the slots from the message, the held value and references.
    pub(super) fn matched(
        &mut self,
        turn: &mut Turn<'_>,
        name: &IntentName,
        confidence: f32,
        message: &Message,
        held: Option<SlotValue>,
    ) -> Result<Reply, DispatchError> {
        let parser = self.parser;
        let Some(intent) = parser.catalog().get(name.as_str()) else {
            return Err(DispatchError::NoIntent {
                reason: format!("intent `{name}` is not in the catalog"),
                message: self.fallback_text(turn, "I can't do that."),
            });
        };
        turn.context.intent = Some(intent.name.clone());
        self.record(&turn.context, &AuditEvent::Matched { confidence })?;
        info!(
            request_id = %turn.context.request_id,
            user = %turn.incoming.user,
            intent = %intent.name,
            confidence,
            "request matched"
        );

        // The part of a long message cut away from its request may take the
        // request back ("... So not yet, wait for my go.").
        let cut_part = match message.cut {
            Some(Cut::RequestKept { .. }) => message.data.last(),
            _ => None,
        };
        if intent.risk != Risk::Read && cut_part.is_some_and(|part| takes_back_anywhere(part)) {
            return Err(DispatchError::NoIntent {
                reason: "negated or deferred request in the cut part of the message".to_string(),
                message: format!(
                    "Your message is long, and a part of it besides the request says not to {} or to wait, so I won't propose it. Send the request on its own when you want it done.",
                    lowercase_first(&intent.description).trim_end_matches('.')
                ),
            });
        }
        if intent.risk != Risk::Read && words::is_negated(&message.text) {
            return Err(DispatchError::NoIntent {
                reason: "negated or deferred request".to_string(),
                message: format!(
                    "OK, I won't {}. Ask again when you want it done.",
                    lowercase_first(&intent.description).trim_end_matches('.')
                ),
            });
        }
        self.policy
            .authorize(&turn.incoming.user, &turn.incoming.channel, intent)
            .map_err(|denial| DispatchError::NotAuthorized(denial.into()))?;
        if intent.name.as_str() == HELP_INTENT {
            return Ok(self.help(turn, intent, message));
        }

        let extraction = slots::extract(intent, message, &self.inventory, &turn.now);
        debug!(intent = %intent.name, slots = %extraction, "slots extracted");
        let mut values = extraction.values.clone();
        let conversation = self.conversation_mut(&turn.key);
        if let Some(value) = held {
            fill_from(intent, &mut values, &value);
        }
        conversation.memory.remember(values.values());

        if let Some(problem) = extraction.invalid.first()
            && !values.contains_key(&problem.slot)
        {
            let slot = problem.slot.clone();
            let message = problem.message.clone();
            return Err(self.ask_slot(turn, intent, values, &slot, Some(message)));
        }
        if let Some(slot) = first_missing(intent, &values) {
            let slot = slot.name.clone();
            return Err(self.ask_slot(turn, intent, values, &slot, None));
        }
        self.complete(turn, intent, values)
    }

    /// Runs a `read` command, or proposes a `change` or `critical` one,
    /// once every required slot has a value.
    fn complete(
        &mut self,
        turn: &mut Turn<'_>,
        intent: &'p Intent,
        values: BTreeMap<String, SlotValue>,
    ) -> Result<Reply, DispatchError> {
        let arguments: BTreeMap<String, String> = values
            .iter()
            .map(|(slot, value)| (slot.clone(), value.to_arg()))
            .collect();
        let command = match commands::prepare(intent, &arguments) {
            Ok(command) => command,
            Err(error) => return Err(self.prepare_failed(turn, intent, values, error)),
        };
        let targets = shown_values(intent, &values);

        match intent.risk {
            Risk::Read => {
                let report = self.run(&turn.context, &command, None)?;
                Ok(Reply::Ran(report))
            }
            Risk::Change | Risk::Critical => self.propose(turn, intent, command, targets),
        }
    }

    /// Stores a pending action and shows it for confirmation or approval.
    fn propose(
        &mut self,
        turn: &mut Turn<'_>,
        intent: &'p Intent,
        command: PreparedCommand,
        targets: Vec<(String, String)>,
    ) -> Result<Reply, DispatchError> {
        let id = self.pending.new_id(&turn.context.request_id);
        let proposed_at = turn.now.timestamp();
        let expires_at = turn.now.saturating_add(self.confirmation_ttl).timestamp();
        self.record(
            &turn.context,
            &AuditEvent::Proposed {
                command: command.display(),
                risk: intent.risk,
            },
        )?;

        let status = match intent.risk {
            Risk::Critical => PendingStatus::AwaitingApproval,
            _ => PendingStatus::AwaitingConfirmation,
        };
        let proposal = Proposal {
            pending: id.clone(),
            intent: intent.name.clone(),
            description: intent.description.clone(),
            risk: intent.risk,
            command: command.display(),
            targets: targets.clone(),
            expires_at,
            ttl: self.confirmation_ttl,
            approvers: self.policy.approver_roles(),
        };
        info!(
            request_id = %turn.context.request_id,
            pending = %id,
            intent = %intent.name,
            risk = %intent.risk,
            "command proposed"
        );
        self.pending.insert(PendingAction {
            id,
            request_id: turn.context.request_id.clone(),
            intent: intent.name.clone(),
            risk: intent.risk,
            command,
            targets,
            requester: turn.incoming.user.clone(),
            channel: turn.incoming.channel.clone(),
            thread: turn.incoming.thread.clone(),
            proposed_at,
            expires_at,
            status,
        });
        Ok(match intent.risk {
            Risk::Critical => Reply::NeedsApproval(proposal),
            _ => Reply::NeedsConfirmation(proposal),
        })
    }

    /// Runs a command between its audit records and reports the result.
    pub(super) fn run(
        &self,
        context: &RequestContext,
        command: &PreparedCommand,
        pending: Option<&PendingId>,
    ) -> Result<RunReport, DispatchError> {
        let (output, end_recorded) =
            match run_audited(self.audit.as_ref(), &self.runner, context, command) {
                Ok((_, output)) => (output, true),
                Err(AuditedRunError::NotStarted { source, .. }) => {
                    return Err(DispatchError::Audit {
                        event: "command_started",
                        source: *source,
                    });
                }
                Err(error @ AuditedRunError::Run { .. }) => {
                    return Err(DispatchError::CommandFailed {
                        command: command.display(),
                        message: command.mask(&error_chain(&error)),
                    });
                }
                Err(AuditedRunError::EndNotRecorded { output, source, .. }) => {
                    error!(
                        request_id = %context.request_id,
                        command = %command.display(),
                        error = %error_chain(&source),
                        "command ran but its end is missing from the audit log"
                    );
                    (*output, false)
                }
            };

        info!(
            request_id = %context.request_id,
            intent = %command.intent,
            exit_code = ?output.exit_code,
            duration_ms = u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX),
            "command finished"
        );
        Ok(RunReport {
            pending: pending.cloned(),
            intent: command.intent.clone(),
            command: command.display(),
            exit_code: output.exit_code,
            signal: output.signal,
            duration: output.duration,
            timed_out: output.timed_out,
            truncated: output.truncated,
            stdout: output.stdout,
            stderr: output.stderr,
            end_recorded,
        })
    }

    /// Sets the conversation to wait for a slot and returns the error that
    /// asks for it.
    fn ask_slot(
        &mut self,
        turn: &Turn<'_>,
        intent: &Intent,
        values: BTreeMap<String, SlotValue>,
        slot: &str,
        problem: Option<String>,
    ) -> DispatchError {
        let question = question(intent, slot);
        self.conversation_mut(&turn.key).state = State::AwaitingSlot {
            request_id: turn.context.request_id.clone(),
            intent: intent.name.clone(),
            values,
            slot: slot.to_string(),
            asked_at: turn.now.timestamp(),
        };
        match problem {
            Some(problem) => DispatchError::InvalidSlot {
                intent: intent.name.clone(),
                slot: slot.to_string(),
                problem,
                question,
            },
            None => DispatchError::MissingSlot {
                intent: intent.name.clone(),
                slot: slot.to_string(),
                question,
            },
        }
    }

    /// Reads the answer to a slot question. An answer that does not parse
    /// but is a request of its own starts that request instead.
    pub(super) fn answer_slot(
        &mut self,
        turn: &mut Turn<'_>,
        request_id: RequestId,
        name: IntentName,
        mut values: BTreeMap<String, SlotValue>,
        slot: String,
    ) -> Result<Reply, DispatchError> {
        let parser = self.parser;
        let Some(intent) = parser.catalog().get(name.as_str()) else {
            return self.request(turn, None);
        };
        let Some(asked) = intent.slots.iter().find(|spec| spec.name == slot) else {
            return self.request(turn, None);
        };
        let question_context = (turn.context.request_id.clone(), turn.context.intent.clone());
        turn.context.request_id = request_id;
        turn.context.intent = Some(intent.name.clone());

        let referenced = words::referenced_kinds(&turn.message.text);
        let memory = self
            .conversations
            .get(&turn.key)
            .map(|conversation| conversation.memory.clone())
            .unwrap_or_default();
        let mut parsed = None;
        let mut first_error = None;
        for spec in group_of(intent, asked) {
            if referenced.contains(&spec.kind)
                && let Some(value) = memory.get(spec.kind)
            {
                parsed = Some((spec.name.clone(), value.clone()));
                break;
            }
            match slots::parse_answer(spec, &turn.incoming.text, &self.inventory, &turn.now) {
                Ok(value) => {
                    parsed = Some((spec.name.clone(), value));
                    break;
                }
                Err(error) => {
                    first_error.get_or_insert_with(|| masked_error(spec, &error));
                }
            }
        }

        let Some((slot_name, value)) = parsed else {
            if let Some(decision) = self.new_request_instead(&turn.message.text, &intent.name)? {
                (turn.context.request_id, turn.context.intent) = question_context;
                let Some(name) = decision.intent.clone() else {
                    return Err(self.no_intent(turn, &decision));
                };
                let message = turn.message.clone();
                return self.matched(turn, &name, decision.confidence, &message, None);
            }
            let problem = first_error.unwrap_or_else(|| "no value found".to_string());
            return Err(self.ask_slot(turn, intent, values, &slot, Some(problem)));
        };

        self.conversation_mut(&turn.key).memory.remember([&value]);
        values.insert(slot_name, value);
        if let Some(missing) = first_missing(intent, &values) {
            let missing = missing.name.clone();
            return Err(self.ask_slot(turn, intent, values, &missing, None));
        }
        self.complete(turn, intent, values)
    }

    /// Resolves "did you mean X or Y?" from a reply naming one; any other
    /// reply is a new request.
    pub(super) fn answer_choice(
        &mut self,
        turn: &mut Turn<'_>,
        answer: Answer,
        request_id: RequestId,
        options: Vec<Alternative>,
        message: Message,
    ) -> Result<Reply, DispatchError> {
        match self.choose(&turn.message.text, answer, &options)? {
            Some(chosen) => {
                turn.context.request_id = request_id;
                self.matched(turn, &chosen.intent, chosen.score, &message, None)
            }
            // A yes to "X or Y?" names neither, so the question stands.
            None if answer == Answer::Yes => {
                turn.context.request_id = request_id;
                Err(self.ask_choice(turn, options, message))
            }
            None => self.request(turn, None),
        }
    }

    /// Finds the option a reply names: by number, by intent name, by a word
    /// of the name no other option has, or by the matcher's reading of it.
    fn choose(
        &self,
        reply: &str,
        answer: Answer,
        options: &[Alternative],
    ) -> Result<Option<Alternative>, DispatchError> {
        if answer == Answer::Yes && options.len() == 1 {
            return Ok(options.first().cloned());
        }
        let lower = reply.to_lowercase();
        let reply_words: Vec<&str> = lower
            .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_'))
            .map(|word| word.trim_end_matches('.'))
            .filter(|word| !word.is_empty())
            .collect();

        let ordinals = [("1", "first"), ("2", "second"), ("3", "third")];
        for (index, (digit, word)) in ordinals.iter().enumerate() {
            if index < options.len()
                && reply_words
                    .iter()
                    .any(|reply| reply == digit || reply == word)
            {
                return Ok(Some(options[index].clone()));
            }
        }
        if let Some(option) = options
            .iter()
            .find(|option| reply_words.contains(&option.intent.as_str()))
        {
            return Ok(Some(option.clone()));
        }

        let stem = |word: &str| word.trim_end_matches('s').to_string();
        let parts = |option: &Alternative| -> Vec<String> {
            option.intent.as_str().split(['.', '_']).map(stem).collect()
        };
        let reply_stems: Vec<String> = reply_words
            .iter()
            .flat_map(|word| word.split(['.', '_']))
            .map(stem)
            .collect();
        let named: Vec<&Alternative> = options
            .iter()
            .filter(|option| {
                parts(option).iter().any(|part| {
                    reply_stems.contains(part)
                        && options
                            .iter()
                            .filter(|other| other.intent != option.intent)
                            .all(|other| !parts(other).contains(part))
                })
            })
            .collect();
        if let [only] = named.as_slice() {
            return Ok(Some((*only).clone()));
        }

        let decision = self.decide(reply)?;
        Ok(decision
            .intent
            .filter(|_| decision.outcome == Outcome::Matched)
            .and_then(|intent| {
                options
                    .iter()
                    .find(|option| option.intent == intent)
                    .cloned()
            }))
    }

    /// Asks which of the close intents the user meant, offering only those
    /// they may run.
    fn clarify(&mut self, turn: &Turn<'_>, decision: &Decision) -> Result<Reply, DispatchError> {
        let catalog = self.parser.catalog();
        let options: Vec<Alternative> = decision
            .alternatives
            .iter()
            .filter(|option| {
                catalog.get(option.intent.as_str()).is_some_and(|intent| {
                    self.policy
                        .authorize(&turn.incoming.user, &turn.incoming.channel, intent)
                        .is_ok()
                })
            })
            .take(MAX_OPTIONS)
            .cloned()
            .collect();
        if options.is_empty() {
            return Err(self.no_intent(turn, decision));
        }

        let message = turn.message.clone();
        Err(self.ask_choice(turn, options, message))
    }

    /// Sets the conversation to wait for a choice between `options` and
    /// returns the error that asks for it.
    fn ask_choice(
        &mut self,
        turn: &Turn<'_>,
        options: Vec<Alternative>,
        message: Message,
    ) -> DispatchError {
        let catalog = self.parser.catalog();
        let described: Vec<String> = options
            .iter()
            .map(|option| {
                let description = catalog
                    .get(option.intent.as_str())
                    .map(|intent| format!(" ({})", intent.description.trim_end_matches('.')))
                    .unwrap_or_default();
                format!("`{}`{description}", option.intent)
            })
            .collect();
        let question = format!("Did you mean {}?", described.join(" or "));
        self.conversation_mut(&turn.key).state = State::AwaitingChoice {
            request_id: turn.context.request_id.clone(),
            options: options.clone(),
            message,
            asked_at: turn.now.timestamp(),
        };
        DispatchError::Ambiguous { options, question }
    }

    /// Builds the error for a message that requests no intent.
    pub(super) fn no_intent(&self, turn: &Turn<'_>, decision: &Decision) -> DispatchError {
        if matches!(decision.explanation.decline, Some(DeclineReason::Negated)) {
            // A question about an action ("why has the rollback not finished
            // yet?") is neither a request nor a refusal of one.
            let opening = if is_question(&decision.text) {
                "That reads as a question about an action, and I start actions only when asked to."
            } else {
                "OK, I won't do that."
            };
            // A proposal still waiting would run on a later "yes", so the
            // reply must not read as if it were called off.
            let message = match self.pending.open_of(&turn.incoming.user).next() {
                Some(action) => format!(
                    "{opening} Your proposed `{}` ({}) is still waiting: reply `no` to cancel it.",
                    action.intent, action.id
                ),
                None if is_question(&decision.text) => {
                    format!("{opening} Type `help` to see what I can look up.")
                }
                None => format!("{opening} Ask again when you want it done."),
            };
            return DispatchError::NoIntent {
                reason: "negated or deferred request".to_string(),
                message,
            };
        }
        DispatchError::NoIntent {
            reason: decision.explanation.summary.clone(),
            message: self.fallback_text(turn, "I can't help with that."),
        }
    }

    /// Reads a message that is only an id, such as `INC-4821` or `123`.
    fn id_only(&self, message: &Message, turn: &Turn<'_>) -> Option<SlotValue> {
        let text = message.text.trim().trim_end_matches(['.', '?', '!']);
        if text.is_empty() || text.contains(char::is_whitespace) {
            return None;
        }
        ID_KINDS.into_iter().find_map(|kind| {
            let spec = SlotSpec {
                name: kind.name().to_string(),
                kind,
                required: true,
                group: None,
                secret: false,
            };
            slots::parse_answer(&spec, text, &self.inventory, &turn.now).ok()
        })
    }

    /// Holds an id and asks what to do with it, naming the intents the user
    /// may run that take it.
    fn ask_what_to_do(
        &mut self,
        turn: &Turn<'_>,
        value: SlotValue,
    ) -> Result<Reply, DispatchError> {
        let kind = kind_of(&value);
        let shown = format!("{} `{}`", noun(kind), value.to_arg());
        self.record(
            &turn.context,
            &AuditEvent::Declined {
                reason: format!("the message is only {shown}; asked what to do with it"),
            },
        )?;

        let suggestions: Vec<String> = self
            .policy
            .permitted(
                &turn.incoming.user,
                &turn.incoming.channel,
                self.parser.catalog(),
            )
            .into_iter()
            .filter(|intent| intent.slots.iter().any(|slot| slot.kind == kind))
            .map(|intent| format!("`{}`", intent.name))
            .collect();
        let text = if suggestions.is_empty() {
            format!("What should I do with {shown}? You may not run any action that takes it here.")
        } else {
            format!(
                "What should I do with {shown}? For example: {}.",
                suggestions.join(", ")
            )
        };

        let conversation = self.conversation_mut(&turn.key);
        conversation.memory.remember([&value]);
        conversation.state = State::AwaitingIntent {
            request_id: turn.context.request_id.clone(),
            value,
            asked_at: turn.now.timestamp(),
        };
        Ok(Reply::Note { text })
    }

    /// Returns the decision on a slot answer that is really a new request:
    /// several words that match another intent.
    fn new_request_instead(
        &self,
        text: &str,
        asked: &IntentName,
    ) -> Result<Option<Decision>, DispatchError> {
        // A value is one or two words; a request names an action and a target.
        const MIN_REQUEST_WORDS: usize = 3;
        if text.split_whitespace().count() < MIN_REQUEST_WORDS {
            return Ok(None);
        }
        let decision = self.decide(text)?;
        let other = decision.outcome == Outcome::Matched && decision.intent.as_ref() != Some(asked);
        Ok(other.then_some(decision))
    }

    fn prepare_failed(
        &mut self,
        turn: &Turn<'_>,
        intent: &Intent,
        values: BTreeMap<String, SlotValue>,
        error: CommandError,
    ) -> DispatchError {
        match error {
            CommandError::MissingSlot { slot, .. } => {
                self.ask_slot(turn, intent, values, &slot, None)
            }
            CommandError::MissingAlternative { slots, .. } => {
                let slot = slots.first().cloned().unwrap_or_default();
                self.ask_slot(turn, intent, values, &slot, None)
            }
            CommandError::EmptyValue { ref slot, .. }
            | CommandError::NulInValue { ref slot, .. }
            | CommandError::LeadingDash { ref slot, .. } => {
                let slot = slot.clone();
                let mut values = values;
                values.remove(&slot);
                self.ask_slot(turn, intent, values, &slot, Some(error.to_string()))
            }
            CommandError::UnknownSlot { .. } | CommandError::InvalidTemplate { .. } => {
                DispatchError::CommandFailed {
                    command: intent.command.program.clone(),
                    message: error.to_string(),
                }
            }
        }
    }

    /// Replaces references such as "it" or "that host" in the turn's
    /// message with the values the conversation remembers.
    fn resolve_references(&self, turn: &mut Turn<'_>) {
        let Some(memory) = self
            .conversations
            .get(&turn.key)
            .map(|conversation| &conversation.memory)
        else {
            return;
        };
        if let Some(text) = words::resolve_references(&turn.message.text, memory) {
            // The text is not logged: it may contain a secret slot value.
            debug!("references resolved");
            let data = std::mem::take(&mut turn.message.data);
            turn.message = normalise(&text);
            turn.message.data = data;
        }
    }

    pub(super) fn decide(&self, text: &str) -> Result<Decision, DispatchError> {
        self.parser
            .decide(text)
            .map_err(|source| DispatchError::Matcher { source })
    }
}

/// Builds the error for a message whose request text is empty: only code,
/// quotes, or a long paste whose request could not be found.
pub(super) fn no_request_text(message: &Message) -> DispatchError {
    let text = match message.cut {
        Some(Cut::RequestNotIsolated { .. }) => {
            "Your message is long and I could not tell which part is the request; put the request on its own line."
        }
        _ if !message.data.is_empty() => {
            "Your message has only code or quoted text, which I treat as data; say what to do with it outside the code block."
        }
        _ => "Your message is empty; say what you need, or ask for `help`.",
    };
    DispatchError::NoIntent {
        reason: "no request text".to_string(),
        message: text.to_string(),
    }
}

/// Gives the held value to the intent's first slot of its type without a value.
fn fill_from(intent: &Intent, values: &mut BTreeMap<String, SlotValue>, value: &SlotValue) {
    let kind = kind_of(value);
    if let Some(spec) = intent
        .slots
        .iter()
        .find(|spec| spec.kind == kind && !has_value(intent, spec, values))
    {
        values.insert(spec.name.clone(), value.clone());
    }
}

/// Checks whether a slot, or another slot of its group, has a value.
fn has_value(intent: &Intent, spec: &SlotSpec, values: &BTreeMap<String, SlotValue>) -> bool {
    group_of(intent, spec).any(|member| values.contains_key(&member.name))
}

/// Returns the slot and the other slots of its group of alternatives, in
/// catalog order.
fn group_of<'i>(intent: &'i Intent, spec: &'i SlotSpec) -> impl Iterator<Item = &'i SlotSpec> {
    intent.slots.iter().filter(move |member| {
        member.name == spec.name || (spec.group.is_some() && member.group == spec.group)
    })
}

/// Returns the first required slot without a value; a slot of a group
/// has one when any member does.
fn first_missing<'i>(
    intent: &'i Intent,
    values: &BTreeMap<String, SlotValue>,
) -> Option<&'i SlotSpec> {
    intent
        .required_slots()
        .find(|spec| !has_value(intent, spec, values))
}

/// Formats the question for a slot, naming every alternative of its group.
fn question(intent: &Intent, slot: &str) -> String {
    let Some(spec) = intent.slots.iter().find(|spec| spec.name == slot) else {
        return format!("What is the `{slot}` for `{}`?", intent.name);
    };
    let nouns: Vec<&str> = group_of(intent, spec)
        .map(|member| noun(member.kind))
        .collect();
    format!(
        "Which {}? (for `{}`: {})",
        nouns.join(" or "),
        intent.name,
        intent.description
    )
}

/// Slot values as shown to users, secret values masked.
fn shown_values(intent: &Intent, values: &BTreeMap<String, SlotValue>) -> Vec<(String, String)> {
    intent
        .slots
        .iter()
        .filter_map(|spec| {
            let value = values.get(&spec.name)?;
            let shown = if spec.secret {
                MASK.to_string()
            } else {
                value.to_arg()
            };
            Some((spec.name.clone(), shown))
        })
        .collect()
}

/// Returns the validator's message, with the value masked for a secret slot.
fn masked_error(spec: &SlotSpec, error: &slots::SlotError) -> String {
    let message = error.to_string();
    match error.value() {
        Some(value) if spec.secret && !value.is_empty() => message.replace(&value, MASK),
        _ => message,
    }
}

/// Returns the words for a slot type in questions.
pub(super) fn noun(kind: SlotKind) -> &'static str {
    match kind {
        SlotKind::Host => "host",
        SlotKind::Ip => "IP address",
        SlotKind::Cidr => "CIDR range",
        SlotKind::Cve => "CVE id",
        SlotKind::Hash => "file hash",
        SlotKind::Service => "service",
        SlotKind::User => "user",
        SlotKind::Duration => "duration",
        SlotKind::TimeRange => "time range",
        SlotKind::IncidentId => "incident",
        SlotKind::AlertId => "alert",
        SlotKind::Severity => "severity",
        SlotKind::Environment => "environment",
        SlotKind::Url => "URL",
        SlotKind::Text => "text",
        SlotKind::Team => "team",
        SlotKind::Version => "version",
        SlotKind::Package => "package",
        SlotKind::Topic => "topic",
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::PathBuf;

    use super::*;
    use crate::intent::CommandSpec;

    fn spec(name: &str, kind: SlotKind, group: Option<&str>, secret: bool) -> SlotSpec {
        SlotSpec {
            name: name.to_string(),
            kind,
            required: true,
            group: group.map(str::to_string),
            secret,
        }
    }

    fn intent(slots: Vec<SlotSpec>) -> Intent {
        Intent {
            name: IntentName::new("test.block"),
            description: "Block an address.".to_string(),
            risk: Risk::Critical,
            command: CommandSpec {
                program: "true".to_string(),
                args: Vec::new(),
            },
            slots,
            exemplars: Vec::new(),
            negatives: Vec::new(),
            source: PathBuf::from("test.toml"),
        }
    }

    fn address() -> SlotValue {
        SlotValue::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
    }

    #[test]
    fn secret_values_are_masked_in_targets() {
        let intent = intent(vec![
            spec("ip", SlotKind::Ip, None, false),
            spec("token", SlotKind::Text, None, true),
        ]);
        let values = BTreeMap::from([
            ("ip".to_string(), address()),
            ("token".to_string(), SlotValue::Text("s3cr3t".to_string())),
        ]);
        let shown = shown_values(&intent, &values);
        assert_eq!(
            shown,
            [
                ("ip".to_string(), "192.0.2.7".to_string()),
                ("token".to_string(), MASK.to_string())
            ]
        );
    }

    #[test]
    fn group_member_satisfies_its_group() {
        let intent = intent(vec![
            spec("ip", SlotKind::Ip, Some("target"), false),
            spec("cidr", SlotKind::Cidr, Some("target"), false),
            spec("reason", SlotKind::Text, None, false),
        ]);
        let mut values = BTreeMap::new();
        assert_eq!(
            first_missing(&intent, &values).map(|spec| spec.name.as_str()),
            Some("ip")
        );
        values.insert("ip".to_string(), address());
        assert_eq!(
            first_missing(&intent, &values).map(|spec| spec.name.as_str()),
            Some("reason")
        );
    }

    #[test]
    fn group_question_names_every_alternative() {
        let intent = intent(vec![
            spec("ip", SlotKind::Ip, Some("target"), false),
            spec("cidr", SlotKind::Cidr, Some("target"), false),
        ]);
        assert_eq!(
            question(&intent, "ip"),
            "Which IP address or CIDR range? (for `test.block`: Block an address.)"
        );
    }

    #[test]
    fn held_value_fills_free_slot() {
        let intent = intent(vec![
            spec("ip", SlotKind::Ip, Some("target"), false),
            spec("cidr", SlotKind::Cidr, Some("target"), false),
        ]);
        let mut values = BTreeMap::new();
        fill_from(&intent, &mut values, &address());
        assert_eq!(values.get("ip"), Some(&address()));
        let mut full = values.clone();
        fill_from(&intent, &mut full, &SlotValue::Text("x".to_string()));
        assert_eq!(full, values);
    }
}
