//! Yes and no for pending actions: the requester confirms a `change`, a
//! second authorised person approves a `critical` one, and everything
//! else a reply could mean is refused with the reason.

use tracing::info;

use super::error::{DispatchError, Refusal};
use super::pending::{PendingAction, PendingId, PendingStatus};
use super::reply::Reply;
use super::words::Answer;
use super::{Dialogue, Turn};
use crate::audit::AuditEvent;
use crate::intent::Risk;
use crate::inventory::UserId;
use crate::normalise::ChannelId;

/// The action a yes or no is taken to answer.
enum Target {
    /// An action of this channel and thread, or the one the reply named.
    Action(PendingId),
    /// Nothing here, but the sender's own open action waits elsewhere.
    Elsewhere(PendingId),
    None,
}

impl Dialogue<'_> {
    /// Applies a yes or no to the action it answers.
    pub(super) fn answer_pending(
        &mut self,
        turn: &mut Turn<'_>,
        answer: Answer,
        named: Option<PendingId>,
    ) -> Result<Reply, DispatchError> {
        let user = turn.incoming.user.clone();
        let channel = turn.incoming.channel.clone();
        let thread = turn.incoming.thread.clone();

        let target = match named {
            Some(id) if self.pending.get(&id).is_some() => Target::Action(id),
            Some(id) => {
                return Ok(Reply::Note {
                    text: format!("There is no pending action {id}; check the id in the proposal."),
                });
            }
            None => self.find_target(&user, &channel, thread.as_ref()),
        };
        let id = match target {
            Target::Action(id) => id,
            Target::Elsewhere(id) => {
                let action = self.action(&id)?;
                point_at(turn, &action);
                return Err(Refusal::OtherPlace {
                    pending: id,
                    place: action.place(),
                }
                .into());
            }
            Target::None => {
                let text = match answer {
                    Answer::No => {
                        "Nothing here waits for confirmation, so there is nothing to cancel."
                    }
                    _ => "Nothing here waits for confirmation or approval.",
                };
                return Ok(Reply::Note {
                    text: text.to_string(),
                });
            }
        };

        let action = self.action(&id)?;
        point_at(turn, &action);
        if !action.is_in(&channel, thread.as_ref()) {
            return Err(Refusal::OtherPlace {
                pending: id,
                place: action.place(),
            }
            .into());
        }
        if let Some(reply) = closed_reply(&action)? {
            return Ok(reply);
        }
        if turn.now.timestamp() >= action.expires_at {
            return Err(self.expire_now(&action));
        }

        let catalog = self.parser.catalog();
        let Some(intent) = catalog.get(action.intent.as_str()) else {
            return Err(DispatchError::CommandFailed {
                command: action.command.display(),
                message: format!("intent `{}` is no longer in the catalog", action.intent),
            });
        };
        let is_requester = user == action.requester;
        match (answer, action.risk) {
            (Answer::Yes, Risk::Critical) => {
                self.policy
                    .authorize_approval(&user, &action.requester, &channel, intent)
                    .map_err(Refusal::from)?;
                self.record(&action.audit_context(&user), &AuditEvent::Approved)?;
                info!(pending = %id, approver = %user, "critical action approved");
                self.execute(&action)
            }
            (Answer::Yes, _) if is_requester => {
                self.record(&action.audit_context(&user), &AuditEvent::Confirmed)?;
                info!(pending = %id, "action confirmed");
                self.execute(&action)
            }
            (Answer::No, _) if is_requester => {
                self.record(&action.audit_context(&user), &AuditEvent::Cancelled)?;
                self.set_status(&id, PendingStatus::Cancelled);
                Ok(Reply::Cancelled {
                    pending: Some(id.clone()),
                    text: format!(
                        "Cancelled {id} (`{}`); nothing ran.",
                        action.command.display()
                    ),
                })
            }
            (Answer::No, Risk::Critical) => {
                self.policy
                    .authorize_approval(&user, &action.requester, &channel, intent)
                    .map_err(Refusal::from)?;
                self.record(
                    &action.audit_context(&user),
                    &AuditEvent::Denied {
                        reason: format!("rejected by approver `{user}`"),
                    },
                )?;
                self.set_status(&id, PendingStatus::Rejected);
                Ok(Reply::Cancelled {
                    pending: Some(id.clone()),
                    text: format!(
                        "Rejected {id} (`{}`); nothing ran.",
                        action.command.display()
                    ),
                })
            }
            _ => Err(Refusal::NotRequester {
                pending: id,
                requester: action.requester.clone(),
            }
            .into()),
        }
    }

    /// Picks the action a bare yes or no answers: the sender's own open
    /// action here, else another open action here, else the newest closed
    /// one here, else the sender's open action in another place.
    fn find_target(
        &self,
        user: &UserId,
        channel: &ChannelId,
        thread: Option<&super::ThreadId>,
    ) -> Target {
        let here: Vec<&PendingAction> = self.pending.in_place(channel, thread).collect();
        let own_open = here
            .iter()
            .find(|action| action.status.is_open() && &action.requester == user);
        let any_open = here.iter().find(|action| action.status.is_open());
        if let Some(action) = own_open.or(any_open).or(here.first()) {
            return Target::Action(action.id.clone());
        }
        match self.pending.open_of(user).next() {
            Some(action) => Target::Elsewhere(action.id.clone()),
            None => Target::None,
        }
    }

    /// Runs a confirmed or approved action once: it leaves the open states
    /// before the command starts, so a second yes finds it already run.
    fn execute(&mut self, action: &PendingAction) -> Result<Reply, DispatchError> {
        self.set_status(&action.id, PendingStatus::Ran { exit_code: None });
        let context = action.audit_context(&action.requester);
        match self.run(&context, &action.command, Some(&action.id)) {
            Ok(report) => {
                self.set_status(
                    &action.id,
                    PendingStatus::Ran {
                        exit_code: report.exit_code,
                    },
                );
                Ok(Reply::Ran(report))
            }
            Err(error) => {
                self.set_status(&action.id, PendingStatus::Failed);
                Err(error)
            }
        }
    }

    /// Expires an action whose time ran out since the last sweep, recording it.
    fn expire_now(&mut self, action: &PendingAction) -> DispatchError {
        self.set_status(&action.id, PendingStatus::Expired);
        let context = action.audit_context(&action.requester);
        if let Err(error) = self.record(&context, &AuditEvent::Expired) {
            return error;
        }
        DispatchError::ExpiredConfirmation {
            pending: action.id.clone(),
            expired_at: action.expires_at,
        }
    }

    fn action(&self, id: &PendingId) -> Result<PendingAction, DispatchError> {
        self.pending
            .get(id)
            .cloned()
            .ok_or_else(|| DispatchError::NoIntent {
                reason: format!("pending action {id} not found"),
                message: format!("There is no pending action {id}."),
            })
    }

    fn set_status(&mut self, id: &PendingId, status: PendingStatus) {
        if let Some(action) = self.pending.get_mut(id) {
            action.status = status;
        }
    }
}

/// Points the audit context of the turn at the action's request.
fn point_at(turn: &mut Turn<'_>, action: &PendingAction) {
    turn.context.request_id = action.request_id.clone();
    turn.context.intent = Some(action.intent.clone());
}

/// Answers a yes or no to an action that is no longer open.
fn closed_reply(action: &PendingAction) -> Result<Option<Reply>, DispatchError> {
    let id = &action.id;
    let text = match action.status {
        PendingStatus::AwaitingConfirmation | PendingStatus::AwaitingApproval => return Ok(None),
        PendingStatus::Expired => {
            return Err(DispatchError::ExpiredConfirmation {
                pending: id.clone(),
                expired_at: action.expires_at,
            });
        }
        PendingStatus::Ran { exit_code } => {
            let status = exit_code
                .map(|code| format!("exit code {code}"))
                .unwrap_or_else(|| "no exit code".to_string());
            format!(
                "{id} already ran ({status}); a confirmed action runs only once. Ask again to run it again."
            )
        }
        PendingStatus::Failed => {
            format!("{id} failed and did not run; ask again to get a new proposal.")
        }
        PendingStatus::Cancelled => format!("{id} was cancelled; ask again to get a new proposal."),
        PendingStatus::Rejected => format!("{id} was rejected by an approver; nothing ran."),
    };
    Ok(Some(Reply::AlreadyHandled {
        pending: id.clone(),
        text,
    }))
}
