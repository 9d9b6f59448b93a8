//! `commons simulate`: Monte Carlo of a scenario with scripted participants.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use commons_rl::rng::RngMode;
use commons_rl::run::{self, Access};
use commons_rl::{scenario, simulate};

/// Arguments of `commons simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML), e.g. envs/reference.toml.
    #[arg(long, value_name = "FILE")]
    env: PathBuf,
    /// Number of episodes (seeds SEED, SEED+1, …).
    #[arg(long, value_name = "N", default_value_t = simulate::DEFAULT_EPISODES, allow_hyphen_values = true, value_parser = super::positive_u32)]
    episodes: u32,
    /// Seed of the first episode; episode k uses SEED + k.
    #[arg(long, value_name = "S", default_value = "0", allow_hyphen_values = true, value_parser = super::seed_u64)]
    seed: u64,
    /// Days per episode (default: the scenario's `simulation.days`).
    #[arg(long, value_name = "D", allow_hyphen_values = true, value_parser = super::positive_u32)]
    days: Option<u32>,
    /// Random-number engine (default: the scenario's `simulation.rng`); `numpy-legacy` reproduces the
    /// original Python simulation seed for seed.
    #[arg(long, value_enum, value_name = "MODE")]
    rng: Option<RngMode>,
    /// Override one scenario parameter without editing the file (repeatable), e.g.
    /// `--set curve.exit_tribute=0.5`; validated like the file and recorded in the output's config.toml.
    /// Every key, its default, unit and allowed values: `commons params` (docs/parameters.md).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_override)]
    set: Vec<commons_rl::scenario::Override>,
    /// Output folder (default: a new folder under runs/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = super::positive_u32)]
    threads: Option<u32>,
    /// Go ahead even when the memory estimate exceeds what the machine has available.
    #[arg(long)]
    ignore_memory_limit: bool,
    /// Go ahead even when the time estimate exceeds the command's limit (an hour).
    #[arg(long)]
    ignore_time_limit: bool,
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    // Every participant follows the reference's rules here, whatever the scenario's population says.
    let mut config = scenario::with_overrides(&scenario::load(&args.env)?, &args.set)?.model;
    if let Some(days) = args.days {
        config.simulation.days = days;
    }
    if let Some(rng) = args.rng {
        config.simulation.rng = rng;
    }
    let out = match args.out {
        Some(dir) => dir,
        None => {
            let stem = args
                .env
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario");
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            PathBuf::from("runs").join(format!("simulate__{stem}__{}__{now}", args.seed))
        }
    };
    let threads = args
        .threads
        .map_or_else(rayon::current_num_threads, |t| t as usize);
    simulate::check_size(
        &config,
        args.episodes,
        threads,
        false,
        args.ignore_memory_limit,
        args.ignore_time_limit,
    )?;
    // Claim the folder: new, empty or an earlier simulate output, and nobody else writing into it.
    let _folder = run::open(&out, Access::SimulateOutput)?;
    let settings = simulate::SimulateSettings {
        config,
        scenario: args.env.clone(),
        episodes: args.episodes,
        seed: args.seed,
        out: out.clone(),
        threads: args.threads.unwrap_or(0) as usize,
        progress: true,
    };
    let started = Instant::now();
    let summary = simulate::run(&settings).context("simulate")?;
    let secs = started.elapsed().as_secs_f64();
    print!("{}", simulate::format_table(&summary));
    let n = summary.episodes.len() as f64;
    println!(
        "{:.3} s wall, {:.3} ms per episode; results in {}",
        secs,
        secs * 1000.0 / n,
        out.display()
    );
    Ok(())
}
