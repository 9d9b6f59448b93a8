//! The Monte-Carlo runner behind `commons simulate`: scripted episodes in parallel, one seed per episode,
//! outputs streamed in episode order so results do not depend on the thread count.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::model::metrics::{Metrics, METRIC_NAMES};
use crate::model::score::{commons_score, ScoreInputs, ScoreMode};
use crate::model::{Commons, ModelConfig, Scripted};
use crate::rng::RngMode;

/// The last row the reference's runner reports (Q16): mirrors as of the end of day `T−1`, network after
/// day `T`'s arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Reported {
    /// Participants in the last row's network.
    pub participants: u32,
    /// Candidates in it.
    pub proposals_candidate: u32,
    /// Active proposals in it.
    pub proposals_active: u32,
    /// Completed proposals in it.
    pub proposals_completed: u32,
    /// Failed proposals in it.
    pub proposals_failed: u32,
    /// Last reported funding pool.
    pub funding_pool: f64,
    /// Last reported token price.
    pub token_price: f64,
    /// Last reported sentiment.
    pub avg_sentiment: f64,
}

/// One episode's result, as written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpisodeSummary {
    /// The episode's seed (`--seed` + episode index; the reference's `random_seed` in legacy mode).
    pub seed: u64,
    /// Days simulated (less than the horizon only if the episode stopped on an error).
    pub days: u32,
    /// Random length of the speculation period (Q22).
    pub speculation_days: i64,
    /// Random arrival multiplier during speculation (Q22).
    pub multiplier: u32,
    /// State after the hatch.
    pub initial: Metrics,
    /// State at the end of the last simulated day.
    #[serde(rename = "final")]
    pub final_: Metrics,
    /// The reference runner's last reported row (absent if the episode stopped early).
    pub reported: Option<Reported>,
    /// CommonsScore over the reported rows (absent when undefined).
    pub score: Option<i64>,
    /// Why the episode stopped early or the score is undefined (the reference would have raised).
    pub error: Option<String>,
}

/// Runs one scripted episode of `cfg.simulation.days` days from `seed`, calling `on_day` after the hatch
/// and after every day. Never panics on model errors: they end the episode and are reported in `error`.
pub fn run_episode(
    cfg: &ModelConfig,
    seed: u64,
    mut on_day: impl FnMut(&Commons),
) -> Result<EpisodeSummary, crate::model::ModelError> {
    let mut commons = Commons::new(cfg, seed)?;
    let initial = Metrics::of(&commons);
    on_day(&commons);
    let days = cfg.simulation.days as usize;
    let (mut price, mut funds, mut sentiment) = (
        Vec::with_capacity(days),
        Vec::with_capacity(days),
        Vec::with_capacity(days),
    );
    let mut error = None;
    for _ in 0..days {
        // The reference reports each day after its block 2, when the mirrors still hold yesterday's values.
        let m = *commons.mirrors();
        price.push(m.token_price);
        funds.push(m.funding_pool);
        sentiment.push(m.sentiment);
        if let Err(e) = commons.step(&mut Scripted) {
            error = Some(e.to_string());
            break;
        }
        on_day(&commons);
    }
    let mut reported = None;
    let mut score = None;
    if error.is_none() {
        if let Some(net) = commons.last_day_snapshot() {
            let n = price.len();
            reported = Some(Reported {
                participants: net.participants,
                proposals_candidate: net.counts.candidate,
                proposals_active: net.counts.active,
                proposals_completed: net.counts.completed,
                proposals_failed: net.counts.failed,
                funding_pool: funds[n - 1],
                token_price: price[n - 1],
                avg_sentiment: sentiment[n - 1],
            });
            let mode = match cfg.simulation.rng {
                RngMode::NumpyLegacy => ScoreMode::Legacy,
                RngMode::Default => ScoreMode::Guarded,
            };
            let inputs = ScoreInputs {
                token_price: &price,
                funding_pool: &funds,
                sentiment: &sentiment,
                network: net,
                hatchers: cfg.hatch.hatchers,
                initial_proposals: cfg.proposals.initial,
            };
            match commons_score(&inputs, mode) {
                Ok(s) => score = Some(s.score),
                Err(e) => error = Some(e.to_string()),
            }
        }
    }
    Ok(EpisodeSummary {
        seed,
        days: commons.day(),
        speculation_days: commons.speculation_days(),
        multiplier: commons.multiplier(),
        initial,
        final_: Metrics::of(&commons),
        reported,
        score,
        error,
    })
}

/// Settings of a Monte-Carlo run.
#[derive(Clone, Debug)]
pub struct SimulateSettings {
    /// The scenario (with `--days`/`--rng` overrides applied).
    pub config: ModelConfig,
    /// Scenario file, for the record.
    pub scenario: PathBuf,
    /// Number of episodes.
    pub episodes: u32,
    /// Seed of episode 0; episode k uses `seed + k`.
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
}

/// The whole `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Scenario file as given.
    pub scenario: String,
    /// Random-number mode.
    pub rng: &'static str,
    /// Seed of episode 0.
    pub seed: u64,
    /// Horizon in days.
    pub days: u32,
    /// Per-episode results, in episode order.
    pub episodes: Vec<EpisodeSummary>,
}

/// Episodes of `commons simulate` (and of Python's `commons_rl.simulate`) when none are asked for.
pub const DEFAULT_EPISODES: u32 = 64;

/// A Monte Carlo too large to start.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    /// It would not fit in memory.
    #[error(transparent)]
    Memory(#[from] crate::run::memory::MemoryError),
    /// It would take longer than `commons simulate`'s limit.
    #[error(transparent)]
    Work(#[from] crate::run::work::WorkError),
}

/// Refuses `episodes` episodes of `config` on `threads` threads when they cannot fit in memory (the
/// worlds in flight, a chunk of episodes per thread, and one summary per episode, with `keep_days`
/// every day's metrics too) or would take longer than [`crate::run::work::INTERACTIVE_LIMIT`]; unless
/// told to ignore either limit.
pub fn check_size(
    config: &ModelConfig,
    episodes: u32,
    threads: usize,
    keep_days: bool,
    ignore_memory_limit: bool,
    ignore_time_limit: bool,
) -> Result<(), SizeError> {
    use crate::run::{memory, work};
    let n = u64::from(episodes);
    let in_flight = (threads as u64 * 8).min(n);
    let mut per_episode = std::mem::size_of::<EpisodeSummary>() as u64 + 64;
    if keep_days {
        let row = (crate::model::metrics::METRIC_COUNT as u64 + 1) * 8;
        per_episode =
            per_episode.saturating_add(u64::from(config.simulation.days).saturating_mul(row));
    }
    memory::check(
        memory::world_bytes(config)
            .saturating_mul(in_flight)
            .saturating_add(per_episode.saturating_mul(n)),
        &format!("simulating {episodes} episodes"),
        "--episodes or the scenario's hatch.hatchers",
        ignore_memory_limit,
    )?;
    work::Work {
        what: format!("simulating {episodes} episodes"),
        knobs: "--episodes, --days or the scenario's hatch.hatchers",
        agent_days: f64::from(episodes) * work::agent_days_per_episode(config),
        seconds_per_agent_day: work::SIMULATE_SECONDS,
        // Episodes run in parallel, one per thread at most.
        threads: threads.min(episodes as usize),
    }
    .check(work::INTERACTIVE_LIMIT, ignore_time_limit)?;
    Ok(())
}

/// Errors of a Monte-Carlo run (output files).
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// An output file could not be written.
    #[error("{path}: {cause}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// An output could not be serialised (a bug: every output type serialises).
    #[error("{path}: cannot serialise: {message}")]
    Serialize {
        /// The file it was meant for.
        path: PathBuf,
        /// The serialiser's message.
        message: String,
    },
    /// The seed range does not fit the random-number mode.
    #[error("{0}")]
    Seed(String),
    /// The thread pool could not start.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimulateError + '_ {
    move |cause| SimulateError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// `trajectories.csv`'s header: the episode, its seed, the day, then every metric.
fn csv_header() -> String {
    format!("episode,seed,day,{}\n", METRIC_NAMES.join(","))
}

fn csv_row(out: &mut String, episode: u32, seed: u64, day: u32, m: &Metrics) {
    let _ = write!(out, "{episode},{seed},{day}");
    for (_, v) in m.fields() {
        let _ = write!(out, ",{v}");
    }
    out.push('\n');
}

pub use crate::atomic::write_atomic;

/// Runs the episodes, streams `trajectories.csv` and writes `summary.json` into `settings.out`.
pub fn run(settings: &SimulateSettings) -> Result<RunSummary, SimulateError> {
    let cfg = &settings.config;
    if cfg.simulation.rng == RngMode::NumpyLegacy {
        let last = settings.seed as u128 + settings.episodes as u128 - 1;
        if last > u32::MAX as u128 {
            return Err(SimulateError::Seed(format!(
                "--seed: {} + {} episodes exceeds 4294967295, the largest seed of numpy-legacy mode",
                settings.seed, settings.episodes
            )));
        }
    } else if settings
        .seed
        .checked_add(settings.episodes as u64)
        .is_none()
    {
        return Err(SimulateError::Seed(format!(
            "--seed: {} + {} episodes overflows a 64-bit seed",
            settings.seed, settings.episodes
        )));
    }
    std::fs::create_dir_all(&settings.out).map_err(io_err(&settings.out))?;
    let config_path = settings.out.join("config.toml");
    let config_text = toml::to_string_pretty(cfg).map_err(|e| SimulateError::Serialize {
        path: config_path.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&config_path, config_text.as_bytes()).map_err(io_err(&config_path))?;

    let csv_path = settings.out.join("trajectories.csv");
    let csv_tmp = settings.out.join("trajectories.csv.tmp");
    let result = stream_episodes(settings, &csv_tmp, &csv_path);
    if result.is_err() {
        // Never leave a half-written file behind.
        let _ = std::fs::remove_file(&csv_tmp);
    }
    let episodes = result?;

    let summary = RunSummary {
        scenario: settings.scenario.display().to_string(),
        rng: cfg.simulation.rng.as_str(),
        seed: settings.seed,
        days: cfg.simulation.days,
        episodes,
    };
    let summary_path = settings.out.join("summary.json");
    let mut json =
        serde_json::to_string_pretty(&summary).map_err(|e| SimulateError::Serialize {
            path: summary_path.clone(),
            message: e.to_string(),
        })?;
    json.push('\n');
    write_atomic(&summary_path, json.as_bytes()).map_err(io_err(&summary_path))?;
    Ok(summary)
}

/// Runs the episodes in parallel, streaming their days into `csv_tmp` in episode order, then renames it
/// to `csv_path`; returns the episodes' summaries.
fn stream_episodes(
    settings: &SimulateSettings,
    csv_tmp: &Path,
    csv_path: &Path,
) -> Result<Vec<EpisodeSummary>, SimulateError> {
    let cfg = &settings.config;
    let file = std::fs::File::create(csv_tmp).map_err(io_err(csv_tmp))?;
    let mut csv = std::io::BufWriter::new(file);
    csv.write_all(csv_header().as_bytes())
        .map_err(io_err(csv_tmp))?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.threads)
        .build()
        .map_err(|e| SimulateError::Threads(e.to_string()))?;
    let bar = if settings.progress {
        indicatif::ProgressBar::new(settings.episodes as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} simulate [{elapsed_precise}] {wide_bar} {pos}/{len} episodes ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let chunk = (pool.current_num_threads() * 8).max(8) as u32;
    let mut episodes = Vec::with_capacity(settings.episodes as usize);
    let mut start = 0u32;
    while start < settings.episodes {
        let end = (start + chunk).min(settings.episodes);
        let results: Vec<(EpisodeSummary, String)> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|k| {
                    let seed = settings.seed + k as u64;
                    let mut rows = String::new();
                    let summary = run_episode(cfg, seed, |c| {
                        csv_row(&mut rows, k, seed, c.day(), &Metrics::of(c))
                    })
                    .unwrap_or_else(|e| failed_episode(seed, e.to_string()));
                    bar.inc(1);
                    (summary, rows)
                })
                .collect()
        });
        for (summary, rows) in results {
            csv.write_all(rows.as_bytes()).map_err(io_err(csv_tmp))?;
            episodes.push(summary);
        }
        start = end;
    }
    bar.finish_and_clear();
    csv.flush().map_err(io_err(csv_tmp))?;
    drop(csv);
    std::fs::rename(csv_tmp, csv_path).map_err(io_err(csv_path))?;
    Ok(episodes)
}

fn failed_episode(seed: u64, error: String) -> EpisodeSummary {
    EpisodeSummary {
        seed,
        days: 0,
        speculation_days: 0,
        multiplier: 0,
        initial: Metrics::default(),
        final_: Metrics::default(),
        reported: None,
        score: None,
        error: Some(error),
    }
}

/// The table `commons simulate` prints: mean ± std of every final metric and of the score.
pub fn format_table(summary: &RunSummary) -> String {
    let mut out = String::new();
    let eps = &summary.episodes;
    let _ = writeln!(
        out,
        "{} episodes x {} days, rng {}, seeds {}..{}",
        eps.len(),
        summary.days,
        summary.rng,
        summary.seed,
        summary.seed + eps.len().saturating_sub(1) as u64
    );
    let _ = writeln!(
        out,
        "{:<22} {:>16} {:>14} {:>16} {:>16}",
        "final metric", "mean", "± std", "min", "max"
    );
    let mut rows: Vec<(&str, Vec<f64>)> = METRIC_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, eps.iter().map(|e| e.final_.values()[i]).collect()))
        .collect();
    let scores: Vec<f64> = eps
        .iter()
        .filter_map(|e| e.score.map(|s| s as f64))
        .collect();
    rows.push(("score", scores));
    for (name, values) in rows {
        if values.is_empty() {
            let _ = writeln!(out, "{name:<22} {:>16}", "n/a");
            continue;
        }
        let m = crate::stats::MeanSd::sample(&values);
        let (mean, std) = (m.mean, m.sd());
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            out,
            "{name:<22} {:>16} {:>14} {:>16} {:>16}",
            fmt_num(mean),
            format!("± {}", fmt_num(std)),
            fmt_num(min),
            fmt_num(max)
        );
    }
    let errors = eps.iter().filter(|e| e.error.is_some()).count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "{errors} episode(s) reported an error (see summary.json)"
        );
    }
    out
}

fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e9).contains(&a) {
        format!("{x:.4e}")
    } else if a >= 1000.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}
