//! People and process: incidents, on-call rotations and paging, and the
//! help text built from the intent files.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use warroom::intent::{Catalog, Intent};

use crate::clock::{Time, format_duration, format_relative, format_time};
use crate::data::Schedule;
use crate::demo::{Demo, DemoError, Report, join_names};
use crate::observe::count;
use crate::state::{DeclaredIncident, IncidentChanges, Page, Pages};
use crate::values::{Severity, check_text, parse_id};
use crate::{IncidentDeclareArgs, OncallPageArgs};

/// An incident from the data or declared through the demo, with the
/// changes the demo recorded applied.
#[derive(Debug, Clone)]
struct IncidentView {
    id: String,
    title: String,
    severity: String,
    /// `open`, `mitigated` or `resolved`.
    status: String,
    opened_at: Timestamp,
    resolved_at: Option<Timestamp>,
    commander: Option<String>,
    team: Option<String>,
    services: Vec<String>,
    updates: Vec<(Timestamp, String, String)>,
}

/// A repeated page with the same message within this window is taken as a
/// duplicate confirmation, not a new page.
const PAGE_REPEAT_WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// Maximum page message length in characters, because pagers and SMS cut
/// longer text.
const MAX_PAGE_MESSAGE: usize = 500;

/// Incident titles are one line of chat.
const MAX_TITLE: usize = 200;

pub fn status(demo: &Demo, id: Option<&str>, out: &mut Report) -> Result<(), DemoError> {
    let incidents = all_incidents(demo)?;
    let incident = match id {
        Some(id) => {
            let id = parse_id(id, "INC", "incident")?;
            find_incident(&incidents, &id)?.clone()
        }
        None => {
            let Some(newest) = incidents
                .iter()
                .filter(|incident| incident.is_open())
                .max_by_key(|incident| incident.opened_at)
            else {
                out.line("No open incidents.");
                return Ok(());
            };
            newest.clone()
        }
    };
    let now = demo.clock.now();

    out.line(format!(
        "{} ({}): {}",
        incident.id, incident.severity, incident.title
    ));
    let state = match incident.resolved_at {
        Some(resolved) => format!(
            "resolved {} after {}",
            format_time(resolved),
            format_duration(resolved.duration_since(incident.opened_at))
        ),
        None => format!(
            "{} for {}",
            incident.status.to_uppercase(),
            format_duration(now.duration_since(incident.opened_at))
        ),
    };
    out.line(format!(
        "Status: {state}; opened {}",
        format_time(incident.opened_at)
    ));
    let commander = incident
        .commander
        .as_deref()
        .map_or("unassigned".to_string(), |name| demo.user_label(name));
    let team = incident.team.as_deref().unwrap_or("none");
    out.line(format!("Commander: {commander}; team: {team}"));
    if !incident.services.is_empty() {
        out.line(format!("Services: {}", incident.services.join(", ")));
    }
    if !incident.updates.is_empty() {
        out.line("Updates:");
        for (at, by, text) in &incident.updates {
            out.line(format!("  {} {by}: {text}", format_time(*at)));
        }
    }
    if id.is_none() {
        let others: Vec<&str> = incidents
            .iter()
            .filter(|other| other.is_open() && other.id != incident.id)
            .map(|other| other.id.as_str())
            .collect();
        if !others.is_empty() {
            out.line(format!("Other open incidents: {}", others.join(", ")));
        }
    }
    Ok(())
}

pub fn list(demo: &Demo, out: &mut Report) -> Result<(), DemoError> {
    let mut open: Vec<IncidentView> = all_incidents(demo)?
        .into_iter()
        .filter(IncidentView::is_open)
        .collect();
    if open.is_empty() {
        out.line("No open incidents.");
        return Ok(());
    }
    open.sort_by(|a, b| {
        (&a.severity, std::cmp::Reverse(a.opened_at))
            .cmp(&(&b.severity, std::cmp::Reverse(b.opened_at)))
    });
    let now = demo.clock.now();
    out.line(format!("{}:", count(open.len(), "open incident")));
    for incident in &open {
        let commander = incident.commander.as_deref().unwrap_or("unassigned");
        out.line(format!(
            "  {} {} {:<9} {} (opened {}, commander {commander})",
            incident.id,
            incident.severity,
            incident.status,
            incident.title,
            format_relative(incident.opened_at, now)
        ));
    }
    Ok(())
}

pub fn declare(demo: &Demo, args: &IncidentDeclareArgs, out: &mut Report) -> Result<(), DemoError> {
    let title = check_text(&args.title, "incident title", 3, MAX_TITLE, false)?;
    let severity = args
        .severity
        .as_deref()
        .map(Severity::parse)
        .transpose()?
        .unwrap_or(Severity::Medium);

    let state = demo.state()?;
    let mut changes: IncidentChanges = state.read()?;
    let incidents = views(demo, &changes)?;
    let wanted = normalize_title(&title);
    if let Some(existing) = incidents
        .iter()
        .find(|incident| incident.is_open() && normalize_title(&incident.title) == wanted)
    {
        out.line(format!(
            "{} is already open with this title (opened {}); not declared again.",
            existing.id,
            format_time(existing.opened_at)
        ));
        return Ok(());
    }

    let next = incidents
        .iter()
        .filter_map(|incident| incident.id.strip_prefix("INC-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("INC-{next}");
    changes.declared.push(DeclaredIncident {
        id: id.clone(),
        title: title.clone(),
        severity: severity.sev().to_string(),
        opened_at: Time(demo.clock.now()),
    });
    state.write(&changes)?;
    out.line(format!("Declared {id} ({}): {title}", severity.sev()));
    out.line("Commander: unassigned; page the on-call engineer to take it.");
    Ok(())
}

pub fn resolve(demo: &Demo, id: &str, out: &mut Report) -> Result<(), DemoError> {
    let id = parse_id(id, "INC", "incident")?;
    let state = demo.state()?;
    let mut changes: IncidentChanges = state.read()?;
    let incidents = views(demo, &changes)?;
    let incident = find_incident(&incidents, &id)?;
    if let Some(resolved) = incident.resolved_at {
        out.line(format!(
            "{id} is already resolved (since {}).",
            format_time(resolved)
        ));
        return Ok(());
    }

    let now = demo.clock.now();
    changes.resolved.insert(id.clone(), Time(now));
    state.write(&changes)?;
    out.line(format!(
        "Resolved {id}: {} after {}.",
        incident.title,
        format_duration(now.duration_since(incident.opened_at))
    ));
    Ok(())
}

pub fn oncall_who(demo: &Demo, team: Option<&str>, out: &mut Report) -> Result<(), DemoError> {
    let oncall = demo.oncall()?;
    let schedules: Vec<&Schedule> = match team {
        Some(team) => {
            let team = demo.team(team)?;
            let schedule = oncall
                .schedules
                .iter()
                .find(|schedule| schedule.team == team.name)
                .ok_or_else(|| {
                    DemoError::invalid(format!("team `{}` has no on-call schedule", team.name))
                })?;
            vec![schedule]
        }
        None => oncall.schedules.iter().collect(),
    };

    for schedule in schedules {
        let shift = current_shift(demo, schedule)?;
        let escalation = schedule
            .escalation
            .as_deref()
            .map(|team| format!("; escalates to {team}"))
            .unwrap_or_default();
        out.line(format!(
            "{}: {} until {}, then {}{escalation}",
            schedule.team,
            demo.user_label(&shift.person),
            format_time(shift.ends_at),
            shift.next
        ));
    }
    Ok(())
}

pub fn oncall_page(demo: &Demo, args: &OncallPageArgs, out: &mut Report) -> Result<(), DemoError> {
    let oncall = demo.oncall()?;
    let team_name = args.team.as_deref().unwrap_or(&oncall.default_team);
    let team = demo.team(team_name)?;
    let schedule = oncall
        .schedules
        .iter()
        .find(|schedule| schedule.team == team.name)
        .ok_or_else(|| {
            DemoError::invalid(format!(
                "team `{}` has no on-call schedule to page",
                team.name
            ))
        })?;
    let message = args
        .message
        .as_deref()
        .map(|text| check_text(text, "page message", 1, MAX_PAGE_MESSAGE, true))
        .transpose()?;
    let shift = current_shift(demo, schedule)?;

    let state = demo.state()?;
    let mut pages: Pages = state.read()?;
    let now = demo.clock.now();
    if let Some(previous) = pages.pages.iter().rev().find(|page| {
        page.team == team.name
            && page.message == message
            && now.duration_since(page.at.0) < PAGE_REPEAT_WINDOW
    }) {
        out.line(format!(
            "{} was already paged for {} {} with the same message; not paged again.",
            previous.user,
            team.name,
            format_relative(previous.at.0, now)
        ));
        return Ok(());
    }

    pages.pages.push(Page {
        team: team.name.clone(),
        user: shift.person.clone(),
        message: message.clone(),
        at: Time(now),
    });
    state.write(&pages)?;
    let text = message
        .map(|message| format!(": \"{message}\""))
        .unwrap_or_default();
    out.line(format!(
        "Paged {}, on call for {}{text}",
        demo.user_label(&shift.person),
        team.name
    ));
    if let Some(escalation) = &schedule.escalation {
        out.line(format!("If there is no answer, page {escalation} next."));
    }
    Ok(())
}

pub fn help(demo: &Demo, topic: Option<&str>, out: &mut Report) -> Result<(), DemoError> {
    let dir = intents_dir(demo);
    let catalog = Catalog::load(&dir).map_err(|source| DemoError::Catalog { source })?;
    let intents = catalog.intents();

    let Some(topic) = topic.map(str::trim).filter(|topic| !topic.is_empty()) else {
        out.line(format!(
            "I can do {} things. Reads run at once, changes run after you confirm, critical changes need a second person's approval.",
            intents.len()
        ));
        for risk in warroom::intent::Risk::ALL {
            out.line(format!("{}:", capitalise(risk.name())));
            for intent in intents.iter().filter(|intent| intent.risk == risk) {
                out.line(format!("  {}: {}", intent.name, intent.description));
            }
        }
        out.line("Ask for help on a topic, such as `help incident`, for examples.");
        return Ok(());
    };

    let matched: Vec<&Intent> = intents
        .iter()
        .filter(|intent| topic_matches(intent, topic))
        .collect();
    if matched.is_empty() {
        let mut topics: Vec<&str> = intents
            .iter()
            .filter_map(|intent| intent.name.as_str().split('.').next())
            .collect();
        topics.sort_unstable();
        topics.dedup();
        return Err(DemoError::invalid(format!(
            "no help topic matches `{topic}`; topics: {}",
            join_names(topics.into_iter())
        )));
    }
    for intent in matched {
        out.line(format!(
            "{} ({}): {}",
            intent.name, intent.risk, intent.description
        ));
        if !intent.slots.is_empty() {
            let mut slots: Vec<String> = Vec::new();
            let mut groups_seen: Vec<&str> = Vec::new();
            for slot in &intent.slots {
                match &slot.group {
                    Some(group) if groups_seen.contains(&group.as_str()) => {}
                    Some(group) => {
                        groups_seen.push(group);
                        let members: Vec<&str> = intent
                            .slots
                            .iter()
                            .filter(|other| other.group.as_ref() == Some(group))
                            .map(|other| other.name.as_str())
                            .collect();
                        slots.push(format!("{} (one of them required)", members.join(" or ")));
                    }
                    None => {
                        let need = if slot.required {
                            "required"
                        } else {
                            "optional"
                        };
                        slots.push(format!("{} ({need})", slot.name));
                    }
                }
            }
            out.line(format!("  takes: {}", slots.join(", ")));
        }
        let examples: Vec<String> = intent
            .exemplars
            .iter()
            .take(2)
            .map(|text| format!("\"{text}\""))
            .collect();
        out.line(format!("  for example: {}", examples.join(" or ")));
    }
    Ok(())
}

impl IncidentView {
    fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// The current on-call person of a rotation, the end of the shift and the
/// next person.
struct Shift {
    person: String,
    ends_at: Timestamp,
    next: String,
}

fn current_shift(demo: &Demo, schedule: &Schedule) -> Result<Shift, DemoError> {
    let invalid = |message: &str| {
        DemoError::data(
            &demo.path("oncall.toml"),
            format!("schedule of team `{}`: {message}", schedule.team),
        )
    };
    if schedule.rotation.is_empty() {
        return Err(invalid("empty rotation"));
    }
    if schedule.shift_hours == 0 {
        return Err(invalid("shift_hours must be at least 1"));
    }
    let start = demo.clock.shift(schedule.start);
    let shift_seconds = i64::from(schedule.shift_hours) * 3600;
    let elapsed = demo.clock.now().duration_since(start).as_secs();
    let index = elapsed.div_euclid(shift_seconds);
    let length = schedule.rotation.len() as i64;
    let person = &schedule.rotation[index.rem_euclid(length) as usize];
    let next = &schedule.rotation[(index + 1).rem_euclid(length) as usize];
    let ends_at = start
        .checked_add(SignedDuration::from_secs((index + 1) * shift_seconds))
        .map_err(|error| invalid(&format!("shift end out of range: {error}")))?;
    Ok(Shift {
        person: person.clone(),
        ends_at,
        next: next.clone(),
    })
}

/// Data incidents with the demo's changes applied, and declared ones.
fn all_incidents(demo: &Demo) -> Result<Vec<IncidentView>, DemoError> {
    let changes: IncidentChanges = demo.current()?;
    views(demo, &changes)
}

fn views(demo: &Demo, changes: &IncidentChanges) -> Result<Vec<IncidentView>, DemoError> {
    let mut views: Vec<IncidentView> = demo
        .incidents()?
        .into_iter()
        .map(|incident| {
            let resolved_at = changes
                .resolved
                .get(&incident.id)
                .map(|time| time.0)
                .or(incident.resolved_at.map(|time| demo.clock.shift(time)));
            IncidentView {
                status: if resolved_at.is_some() {
                    "resolved".to_string()
                } else {
                    incident.status.clone()
                },
                id: incident.id,
                title: incident.title,
                severity: incident.severity,
                opened_at: demo.clock.shift(incident.opened_at),
                resolved_at,
                commander: Some(incident.commander),
                team: Some(incident.team),
                services: incident.services,
                updates: incident
                    .updates
                    .into_iter()
                    .map(|update| (demo.clock.shift(update.at), update.by, update.text))
                    .collect(),
            }
        })
        .collect();
    for declared in &changes.declared {
        let resolved_at = changes.resolved.get(&declared.id).map(|time| time.0);
        views.push(IncidentView {
            id: declared.id.clone(),
            title: declared.title.clone(),
            severity: declared.severity.clone(),
            status: if resolved_at.is_some() {
                "resolved"
            } else {
                "open"
            }
            .to_string(),
            opened_at: declared.opened_at.0,
            resolved_at,
            commander: None,
            team: None,
            services: Vec::new(),
            updates: Vec::new(),
        });
    }
    Ok(views)
}

fn find_incident<'a>(
    incidents: &'a [IncidentView],
    id: &str,
) -> Result<&'a IncidentView, DemoError> {
    incidents
        .iter()
        .find(|incident| incident.id == id)
        .ok_or_else(|| {
            let open: Vec<&str> = incidents
                .iter()
                .filter(|incident| incident.is_open())
                .map(|incident| incident.id.as_str())
                .collect();
            DemoError::invalid(format!(
                "unknown incident `{id}`; open incidents: {}",
                open.join(", ")
            ))
        })
}

fn normalize_title(title: &str) -> String {
    warroom::intent::normalize_text(title)
}

/// `$WARROOM_INTENTS_DIR`, else `intents` beside the demo directory, else
/// `intents` in the working directory.
fn intents_dir(demo: &Demo) -> PathBuf {
    if let Some(dir) = std::env::var_os("WARROOM_INTENTS_DIR") {
        return PathBuf::from(dir);
    }
    let beside = demo.dir.join("..").join("intents");
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("intents")
    }
}

/// Checks whether `topic` names the intent, a dotted part of its name (a trailing
/// `s` ignored), its risk tier, or a word of its description.
fn topic_matches(intent: &Intent, topic: &str) -> bool {
    let topic = topic.to_ascii_lowercase();
    let singular = topic.strip_suffix('s').unwrap_or(&topic);
    let name = intent.name.as_str();
    let part_matches = name.split('.').any(|part| {
        let part_singular = part.strip_suffix('s').unwrap_or(part);
        part == topic || part_singular == singular
    });
    name == topic
        || part_matches
        || intent.risk.name() == topic
        || intent
            .description
            .to_ascii_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| word == topic)
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
