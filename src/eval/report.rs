//! The evaluation report page: one HTML file with SVG charts of the
//! threshold curve, the per-label scores and the confusion matrix.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Report, predicted_label};
use crate::dataset::Example;
use crate::intent::Decision;

/// Name of the page written into the report directory.
pub const REPORT_PAGE: &str = "index.html";

/// Width and height of the curve chart, in SVG user units.
const CURVE_SIZE: f64 = 360.0;

/// Pixels per row of the per-label bar chart.
const BAR_ROW: f64 = 16.0;

/// Writes the report page into `dir` (created when missing) and returns its path.
pub fn write_report(
    dir: &Path,
    report: &Report,
    examples: &[Example],
    decisions: &[Decision],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>warroom evaluation</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse}} \
         td,th{{padding:2px 8px;text-align:right}} h2{{margin-top:1.5em}} svg text{{font-size:10px}}</style>\
         </head><body>\n<h1>warroom evaluation</h1>\n"
    );
    summary_table(&mut page, report);
    page.push_str("<h2>In-scope accuracy against out-of-scope recall</h2>\n");
    page.push_str(
        "<p>Each point is one confidence threshold from 0 to 1: messages below it are declined.</p>\n",
    );
    curve_chart(&mut page, report);
    page.push_str("<h2>Per-label F1</h2>\n");
    label_chart(&mut page, report);
    page.push_str("<h2>Confusion matrix</h2>\n<p>Rows are expected labels and columns predicted ones. Darker cells hold more rows.</p>\n");
    confusion_chart(&mut page, examples, decisions);
    page.push_str("</body></html>\n");

    let path = dir.join(REPORT_PAGE);
    std::fs::write(&path, page)?;
    Ok(path)
}

fn summary_table(page: &mut String, report: &Report) {
    let rows = [
        ("rows", report.n.to_string()),
        ("accuracy", percent(report.accuracy)),
        ("in-scope accuracy", percent(report.in_scope_accuracy)),
        ("out-of-scope recall", percent(report.oos_recall)),
        ("out-of-scope precision", percent(report.oos_precision)),
        ("macro F1", format!("{:.3}", report.macro_f1)),
        ("AUROC", format!("{:.3}", report.auroc)),
    ];
    page.push_str("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(page, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    page.push_str("</table>\n");
}

fn curve_chart(page: &mut String, report: &Report) {
    let margin = 40.0;
    let size = CURVE_SIZE;
    let _ = writeln!(
        page,
        "<svg id=\"curve\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"threshold curve\">",
        w = size + 2.0 * margin,
        h = size + 2.0 * margin
    );
    let _ = writeln!(
        page,
        "<rect x=\"{margin}\" y=\"{margin}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#999\"/>"
    );
    let points: Vec<String> = report
        .curve
        .iter()
        .map(|point| {
            let x = margin + point.oos_recall * size;
            let y = margin + (1.0 - point.in_scope_accuracy) * size;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = writeln!(
        page,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>",
        points.join(" ")
    );
    let _ = writeln!(
        page,
        "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">out-of-scope recall</text>",
        x = margin + size / 2.0,
        y = size + margin * 1.8
    );
    let _ = writeln!(
        page,
        "<text x=\"12\" y=\"{y}\" transform=\"rotate(-90 12 {y})\" text-anchor=\"middle\">in-scope accuracy</text>",
        y = margin + size / 2.0
    );
    for tick in 0..=4 {
        let value = f64::from(tick) / 4.0;
        let _ = writeln!(
            page,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{value:.2}</text>\
             <text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\">{value:.2}</text>",
            x = margin + value * size,
            y = margin + size + 14.0,
            lx = margin - 4.0,
            ly = margin + (1.0 - value) * size + 3.0
        );
    }
    page.push_str("</svg>\n");
}

fn label_chart(page: &mut String, report: &Report) {
    let label_width = 180.0;
    let bar_width = 300.0;
    let height = BAR_ROW * report.per_label.len() as f64 + 10.0;
    let _ = writeln!(
        page,
        "<svg id=\"labels\" width=\"{w}\" height=\"{height}\" role=\"img\" aria-label=\"per-label F1\">",
        w = label_width + bar_width + 60.0
    );
    for (index, scores) in report.per_label.iter().enumerate() {
        let y = index as f64 * BAR_ROW;
        let _ = writeln!(
            page,
            "<text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{label_width}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh}\" fill=\"#2ca02c\"><title>precision {p:.2}, recall {r:.2}</title></rect>\
             <text x=\"{vx:.1}\" y=\"{ty:.1}\">{f1:.2}</text>",
            tx = label_width - 6.0,
            ty = y + BAR_ROW * 0.75,
            label = escape(&scores.label),
            bw = scores.f1 * bar_width,
            bh = BAR_ROW - 3.0,
            p = scores.precision,
            r = scores.recall,
            vx = label_width + scores.f1 * bar_width + 4.0,
            f1 = scores.f1
        );
    }
    page.push_str("</svg>\n");
}

fn confusion_chart(page: &mut String, examples: &[Example], decisions: &[Decision]) {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut labels: Vec<&str> = Vec::new();
    for (example, decision) in examples.iter().zip(decisions) {
        let predicted = predicted_label(decision);
        *counts
            .entry((example.intent.as_str(), predicted))
            .or_default() += 1;
        labels.push(example.intent.as_str());
        labels.push(predicted);
    }
    labels.sort_unstable();
    labels.dedup();
    let index: BTreeMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(position, label)| (*label, position))
        .collect();

    let cell = (600.0 / labels.len().max(1) as f64).clamp(3.0, 14.0);
    let offset = 180.0;
    let size = offset + cell * labels.len() as f64 + 10.0;
    let max = counts.values().copied().max().unwrap_or(1) as f64;
    let _ = writeln!(
        page,
        "<svg id=\"confusion\" width=\"{size:.0}\" height=\"{size:.0}\" role=\"img\" aria-label=\"confusion matrix\">"
    );
    if cell >= 8.0 {
        for (position, label) in labels.iter().enumerate() {
            let at = offset + position as f64 * cell + cell * 0.8;
            let _ = writeln!(
                page,
                "<text x=\"{x}\" y=\"{at:.1}\" text-anchor=\"end\">{label}</text>\
                 <text x=\"{at:.1}\" y=\"{y}\" transform=\"rotate(-90 {at:.1} {y})\">{label}</text>",
                x = offset - 4.0,
                y = offset - 4.0,
                label = escape(label)
            );
        }
    }
    for ((expected, predicted), count) in &counts {
        let (Some(&row), Some(&column)) = (index.get(expected), index.get(predicted)) else {
            continue;
        };
        let shade = 0.15 + 0.85 * (*count as f64 / max).sqrt();
        let colour = if row == column {
            "31,119,180"
        } else {
            "214,39,40"
        };
        let _ = writeln!(
            page,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell:.1}\" height=\"{cell:.1}\" fill=\"rgba({colour},{shade:.2})\"><title>{e} -> {p}: {count}</title></rect>",
            x = offset + column as f64 * cell,
            y = offset + row as f64 * cell,
            e = escape(expected),
            p = escape(predicted)
        );
    }
    page.push_str("</svg>\n");
}

fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
