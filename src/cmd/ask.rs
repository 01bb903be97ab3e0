//! `warroom ask`: decides what one message asks for and explains why.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use warroom::intent::{Decision, Outcome};

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
    let text = args.text.join(" ");
    let decision = matcher.decide(&text).context("failed to decide on the message")?;

    if args.json {
        serde_json::to_writer(&mut *out, &decision)?;
        writeln!(out)?;
    } else {
        write_text(&decision, out)?;
    }
    Ok(ExitCode::SUCCESS)
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
    if let Some(thresholds) = explanation.thresholds {
        writeln!(
            out,
            "  thresholds: score >= {:.3}, margin >= {:.3}",
            thresholds.min_score, thresholds.min_margin
        )?;
    }
    if let Some(margin) = explanation.margin {
        writeln!(out, "  margin over runner-up: {margin:.3}")?;
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
            let marker = if neighbour.negative { " (negative)" } else { "" };
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
