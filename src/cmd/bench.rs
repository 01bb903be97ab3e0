//! `warroom bench`: times the intent engine on real chat messages (one
//! message end to end, batched embedding, cold start, peak memory) and
//! runs candle-transformers' stock `BertModel` on the same messages so the
//! speed-up is a ratio measured in the same run.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use warroom::embed::{BertEmbedder, Embedder, FastBertEmbedder, Precision};
use warroom::model::ModelFiles;

use super::{GlobalArgs, load_config};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,

    /// Labelled messages to time (`{"text","intent"}` JSON Lines)
    #[arg(long, value_name = "FILE", default_value = "training-data/dev.jsonl")]
    messages: PathBuf,

    /// Maximum message length kept, in model tokens including [CLS] and [SEP]
    #[arg(long, value_name = "TOKENS", default_value_t = 16)]
    max_tokens: usize,

    /// Times each message is decided in the single-message measurement
    #[arg(long, value_name = "N", default_value_t = 5)]
    rounds: usize,

    /// Messages per `embed` call in the batched measurement
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch_size: usize,

    /// Threads the fast embedder may use in the batched measurement
    #[arg(long, value_name = "N", default_value_t = 2)]
    batch_threads: usize,

    /// Messages embedded one at a time by the stock candle model, which
    /// takes tens of milliseconds each
    #[arg(long, value_name = "N", default_value_t = 60)]
    stock_messages: usize,

    /// Child processes started to time a cold start; the median is reported
    #[arg(long, value_name = "N", default_value_t = 3)]
    cold_starts: usize,

    /// Run as the child process of a cold-start measurement
    #[arg(long, hide = true)]
    cold_start_child: bool,
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
struct Report {
    /// Single message, end to end through `Matcher::decide`, one thread.
    p50_ms: f64,
    p99_ms: f64,
    /// Messages per second embedded in batches by the fast embedder.
    batch_msgs_per_s: f64,
    /// Median time from starting a child process to a ready matcher, with
    /// the exemplar embeddings already cached.
    cold_start_ms: f64,
    /// `load_matcher` alone, inside the same child processes.
    load_matcher_ms: f64,
    /// Largest resident set (VmHWM) of a child that loaded the matcher,
    /// decided every message and embedded one batch.
    peak_rss_mb: f64,
    /// Stock candle's median single-message embedding time over ours, on
    /// the same messages.
    speedup_vs_stock_candle: f64,
    /// Median single-message embedding time, without matching.
    embed_p50_ms: f64,
    /// The same with exact f32 matrix multiplies.
    exact_embed_p50_ms: f64,
    stock_embed_p50_ms: f64,
    stock_batch_msgs_per_s: f64,
    /// Threads candle's CPU backend uses for the stock model.
    stock_threads: usize,
    messages: usize,
    messages_skipped: usize,
    mean_tokens: f64,
    max_tokens: usize,
    rounds: usize,
    batch_size: usize,
    batch_threads: usize,
    stock_messages: usize,
    isa: String,
    precision: String,
}

pub fn run(global: &GlobalArgs, args: BenchArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    if args.batch_size == 0 || args.rounds == 0 || args.cold_starts == 0 {
        bail!("--batch-size, --rounds and --cold-starts must be at least 1");
    }
    let config = load_config(global)?;
    if args.cold_start_child {
        return run_cold_start_child(&config, &args, out);
    }
    let matcher = warroom::engine::load_matcher(&config)?;
    let (texts, skipped) = read_messages(&args, matcher.embedder().as_ref())?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();

    let token_counts = texts
        .iter()
        .map(|text| Ok(matcher.embedder().count_tokens(text)?.used))
        .collect::<anyhow::Result<Vec<usize>>>()?;
    let mean_tokens = token_counts.iter().sum::<usize>() as f64 / texts.len() as f64;

    // One round first, so that caches and buffers are warm.
    for text in &texts {
        matcher.decide(text)?;
    }
    let mut decide_times = Vec::with_capacity(texts.len() * args.rounds);
    for _ in 0..args.rounds {
        for text in &texts {
            let started = Instant::now();
            matcher.decide(text)?;
            decide_times.push(started.elapsed());
        }
    }

    let fast = warroom::engine::load_embedder(&config.model)?.with_threads(args.batch_threads);
    let stock_texts = &texts[..args.stock_messages.clamp(1, texts.len())];
    let embed_times = time_single_messages(&fast, stock_texts)?;
    let batch_msgs_per_s = batch_throughput(&fast, &texts, args.batch_size)?;

    let model_dir = config.model.resolve()?;
    let exact =
        FastBertEmbedder::load_with_precision(ModelFiles::open(&model_dir)?, Precision::Exact)?;
    let exact_times = time_single_messages(&exact, stock_texts)?;
    drop(exact);

    let stock = BertEmbedder::load(ModelFiles::open(&model_dir)?)?;
    let stock_times = time_single_messages(&stock, stock_texts)?;
    let stock_batch_msgs_per_s = batch_throughput(&stock, stock_texts, args.batch_size)?;
    drop(stock);

    let mut cold_starts = Vec::with_capacity(args.cold_starts);
    for _ in 0..args.cold_starts {
        cold_starts.push(run_cold_start(global, &args)?);
    }
    cold_starts.sort_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
    let median_start = &cold_starts[cold_starts.len() / 2];
    let peak_rss_mb = cold_starts
        .iter()
        .map(|start| start.peak_rss_mb)
        .fold(0.0, f64::max);

    let embed_p50_ms = percentile_ms(&embed_times, 0.5);
    let stock_embed_p50_ms = percentile_ms(&stock_times, 0.5);
    let report = Report {
        p50_ms: percentile_ms(&decide_times, 0.5),
        p99_ms: percentile_ms(&decide_times, 0.99),
        batch_msgs_per_s,
        cold_start_ms: median_start.total_ms,
        load_matcher_ms: median_start.load_ms,
        peak_rss_mb,
        speedup_vs_stock_candle: stock_embed_p50_ms / embed_p50_ms,
        embed_p50_ms,
        exact_embed_p50_ms: percentile_ms(&exact_times, 0.5),
        stock_embed_p50_ms,
        stock_batch_msgs_per_s,
        stock_threads: candle_core::utils::get_num_threads(),
        messages: texts.len(),
        messages_skipped: skipped,
        mean_tokens,
        max_tokens: args.max_tokens,
        rounds: args.rounds,
        batch_size: args.batch_size,
        batch_threads: fast.threads(),
        stock_messages: stock_texts.len(),
        isa: format!("{:?}", fast.isa()),
        precision: format!("{:?}", fast.precision()),
    };

    if args.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_table(&report, &args, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Timings a cold-start child process reports.
struct ColdStart {
    total_ms: f64,
    load_ms: f64,
    peak_rss_mb: f64,
}

/// Prefix of the child's line printed once the matcher is ready.
const READY_LINE: &str = "ready";

/// Prefix of the child's line with its peak resident set.
const RSS_LINE: &str = "peak_rss_mb";

/// Starts this program again as a cold-start child with the same model,
/// intents and cache, and times it from spawn to its ready line.
fn run_cold_start(global: &GlobalArgs, args: &BenchArgs) -> anyhow::Result<ColdStart> {
    let program = std::env::current_exe().context("failed to find the warroom executable")?;
    let mut command = Command::new(program);
    if let Some(config) = &global.config {
        command.arg("--config").arg(config);
    }
    if let Some(model) = &global.model {
        command.arg("--model").arg(model);
    }
    if let Some(intents) = &global.intents {
        command.arg("--intents").arg(intents);
    }
    if let Some(cache) = &global.cache {
        command.arg("--cache").arg(cache);
    }
    command
        .arg("bench")
        .arg("--cold-start-child")
        .arg("--messages")
        .arg(&args.messages)
        .arg("--max-tokens")
        .arg(args.max_tokens.to_string())
        .arg("--batch-size")
        .arg(args.batch_size.to_string())
        .stdout(Stdio::piped());

    let started = Instant::now();
    let mut child = command
        .spawn()
        .context("failed to start the cold-start child")?;
    let stdout = child
        .stdout
        .take()
        .context("child has no standard output")?;
    let mut lines = BufReader::new(stdout).lines();

    let ready = lines
        .next()
        .context("cold-start child exited before it was ready")??;
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    let load_ms = parse_line(&ready, READY_LINE)?;
    let rss = lines
        .next()
        .context("cold-start child exited before reporting memory")??;
    let peak_rss_mb = parse_line(&rss, RSS_LINE)?;

    let status = child
        .wait()
        .context("failed to wait for the cold-start child")?;
    if !status.success() {
        bail!("cold-start child failed with {status}");
    }
    Ok(ColdStart {
        total_ms,
        load_ms,
        peak_rss_mb,
    })
}

/// Runs the child's side: reports `load_matcher` time as soon as the matcher is
/// ready, then decides every message and embeds them in one batch before
/// reading its peak resident set, so inference buffers are counted.
fn run_cold_start_child(
    config: &warroom::config::Config,
    args: &BenchArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let matcher = warroom::engine::load_matcher(config)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    writeln!(out, "{READY_LINE} {load_ms:.3}")?;
    out.flush()?;

    let (texts, _) = read_messages(args, matcher.embedder().as_ref())?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    for text in &texts {
        matcher.decide(text)?;
    }
    matcher.embedder().embed(&texts)?;
    writeln!(out, "{RSS_LINE} {:.1}", peak_rss_mb()?)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_line(line: &str, prefix: &str) -> anyhow::Result<f64> {
    line.strip_prefix(prefix)
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| {
            format!("invalid line `{line}` from the cold-start child, expected `{prefix} NUMBER`")
        })
}

/// Reads the peak resident set of this process from `/proc/self/status`.
fn peak_rss_mb() -> anyhow::Result<f64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("failed to read /proc/self/status")?;
    let kilobytes: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line in /proc/self/status")?;
    Ok(kilobytes / 1024.0)
}

/// Reads the message texts, keeping those of at most `max_tokens` tokens.
/// Returns them with the number skipped as too long.
fn read_messages(
    args: &BenchArgs,
    embedder: &dyn Embedder,
) -> anyhow::Result<(Vec<String>, usize)> {
    let examples = warroom::dataset::load(&args.messages)?;
    let mut texts = Vec::with_capacity(examples.len());
    let mut skipped = 0;
    for example in examples {
        if embedder.count_tokens(&example.text)?.used <= args.max_tokens {
            texts.push(example.text);
        } else {
            skipped += 1;
        }
    }
    if texts.is_empty() {
        bail!(
            "no message in `{}` has at most {} tokens",
            args.messages.display(),
            args.max_tokens
        );
    }
    Ok((texts, skipped))
}

/// Embeds each text alone, once to warm up and once timed.
fn time_single_messages(embedder: &dyn Embedder, texts: &[&str]) -> anyhow::Result<Vec<Duration>> {
    for text in texts {
        embedder.embed(&[text])?;
    }
    let mut times = Vec::with_capacity(texts.len());
    for text in texts {
        let started = Instant::now();
        embedder.embed(&[text])?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// Embeds `texts` in batches of `batch_size`, once to warm up and once
/// timed, and returns messages per second.
fn batch_throughput(
    embedder: &dyn Embedder,
    texts: &[&str],
    batch_size: usize,
) -> anyhow::Result<f64> {
    for batch in texts.chunks(batch_size) {
        embedder.embed(batch)?;
    }
    let started = Instant::now();
    for batch in texts.chunks(batch_size) {
        embedder.embed(batch)?;
    }
    Ok(texts.len() as f64 / started.elapsed().as_secs_f64())
}

/// Nearest-rank percentile of `times`, in milliseconds.
fn percentile_ms(times: &[Duration], quantile: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn write_table(report: &Report, args: &BenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "messages: {} from `{}` (up to {} tokens, mean {:.1}; {} longer ones skipped)",
        report.messages,
        args.messages.display(),
        report.max_tokens,
        report.mean_tokens,
        report.messages_skipped
    )?;
    writeln!(
        out,
        "kernels: {}, precision {}",
        report.isa, report.precision
    )?;
    writeln!(
        out,
        "one message, decide end to end, 1 thread ({} rounds): p50 {:.2} ms, p99 {:.2} ms",
        report.rounds, report.p50_ms, report.p99_ms
    )?;
    writeln!(
        out,
        "one message, embed only ({} messages): p50 {:.2} ms (exact f32 {:.2} ms), stock candle p50 {:.2} ms (candle threads: {}), speed-up {:.1}x",
        report.stock_messages,
        report.embed_p50_ms,
        report.exact_embed_p50_ms,
        report.stock_embed_p50_ms,
        report.stock_threads,
        report.speedup_vs_stock_candle
    )?;
    writeln!(
        out,
        "batched embed, batches of {}: {:.0} msgs/s on {} threads, stock candle {:.0} msgs/s",
        report.batch_size,
        report.batch_msgs_per_s,
        report.batch_threads,
        report.stock_batch_msgs_per_s
    )?;
    writeln!(
        out,
        "cold start to ready, warm cache: {:.0} ms (load_matcher {:.0} ms), peak RSS {:.1} MB",
        report.cold_start_ms, report.load_matcher_ms, report.peak_rss_mb
    )?;
    Ok(())
}
