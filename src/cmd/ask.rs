//! `warroom ask`: decides which intent one message requests and explains why.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use warroom::chat::ChatSettings;
use warroom::config::Config;
use warroom::intent::{Decision, Next, Outcome};
use warroom::inventory::Inventory;
use warroom::normalise::{Cut, normalise};
use warroom::slots::extract;

use super::{GlobalArgs, load_config};

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Print the decision as one JSON object
    #[arg(long)]
    json: bool,

    /// The message, as a user would type it in chat
    #[arg(value_name = "TEXT", num_args = 1.., allow_hyphen_values = true)]
    text: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: AskArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = load_config(global)?;
    let matcher = warroom::engine::load_matcher(&config)?;
    let inventory = load_inventory(&config)?;
    let text = args.text.join(" ");

    // The model is given the request part only: Slack markup unwrapped, code
    // and quotes removed as data, a long paste cut to its request.
    let message = normalise(&text);
    let mut decision = matcher
        .decide(&message.text)
        .context("failed to decide on the message")?;
    decision.text = text.clone();
    if message.text.trim().is_empty() && !message.data.is_empty() {
        decision.explanation.summary =
            "the message holds only code or quoted text, which is read as data, never as a request"
                .to_string();
    }
    if let Some(Cut::RequestNotIsolated { chars }) = message.cut {
        decision.explanation.summary = format!(
            "the message is {chars} characters long and no request could be told apart from the pasted text; put the request on its own line"
        );
    }
    if let Some(intent) = matcher.intent(&decision) {
        let now = jiff::ZonedDateTime::now();
        let extraction = extract(intent, &message, &inventory, &now);
        if let serde_json::Value::Object(values) = extraction.to_masked_json() {
            decision.slots = values.into_iter().collect();
        }
        decision.missing_slots = extraction.missing.clone();
        decision.missing_slots.extend(
            extraction
                .invalid
                .iter()
                .map(|problem| problem.slot.clone()),
        );
        if !decision.missing_slots.is_empty() {
            decision.next = Next::AskSlot;
        }
        for problem in &extraction.invalid {
            decision
                .explanation
                .summary
                .push_str(&format!("; slot `{}`: {}", problem.slot, problem.message));
        }
    }

    if args.json {
        serde_json::to_writer(&mut *out, &decision)?;
        writeln!(out)?;
    } else {
        write_text(&decision, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the inventory slot values are checked against: `inventory.toml`
/// in the demo directory named by the config's `[chat]` table.
fn load_inventory(config: &Config) -> anyhow::Result<Inventory> {
    let settings = match &config.source {
        Some(path) => ChatSettings::load(path)?,
        None => ChatSettings::default(),
    };
    let path = settings.demo_dir.join("inventory.toml");
    Inventory::load(&path)
        .with_context(|| format!("failed to load the inventory `{}`", path.display()))
}

fn write_text(decision: &Decision, out: &mut dyn Write) -> anyhow::Result<()> {
    let explanation = &decision.explanation;
    match (&decision.outcome, &decision.intent) {
        (Outcome::Matched, Some(intent)) => writeln!(
            out,
            "matched `{intent}` (confidence {:.3}, risk {}, next: {})",
            decision.confidence,
            decision.risk.map(|risk| risk.name()).unwrap_or("-"),
            decision.next
        )?,
        (outcome, _) => writeln!(out, "{outcome} (next: {})", decision.next)?,
    }
    writeln!(out, "  why: {}", explanation.summary)?;
    if !decision.slots.is_empty() {
        let slots: Vec<String> = decision
            .slots
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        writeln!(out, "  slots: {}", slots.join(", "))?;
    }
    if !decision.missing_slots.is_empty() {
        writeln!(
            out,
            "  missing or invalid slots: {}",
            decision.missing_slots.join(", ")
        )?;
    }
    if let Some(thresholds) = explanation.thresholds {
        writeln!(
            out,
            "  thresholds: score >= {:.3}, margin >= {:.3}",
            thresholds.min_score, thresholds.min_margin
        )?;
    }
    if let Some(margin) = explanation.margin {
        writeln!(out, "  lead over the closest other intent: {margin:.3}")?;
    }
    if !decision.alternatives.is_empty() {
        let alternatives: Vec<String> = decision
            .alternatives
            .iter()
            .map(|alternative| format!("{} {:.3}", alternative.intent, alternative.score))
            .collect();
        writeln!(out, "  candidates: {}", alternatives.join(", "))?;
    }
    if !explanation.nearest.is_empty() {
        writeln!(out, "  nearest exemplars:")?;
        for neighbour in &explanation.nearest {
            let marker = if neighbour.negative {
                " (negative)"
            } else {
                ""
            };
            writeln!(
                out,
                "    {:.3}  {}{marker}  \"{}\"",
                neighbour.score, neighbour.intent, neighbour.text
            )?;
        }
    }
    if explanation.truncated {
        writeln!(
            out,
            "  note: the message was cut at the model's limit of {} tokens",
            explanation.tokens
        )?;
    }
    Ok(())
}
