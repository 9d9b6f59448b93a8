//! `commons bench`: steps environments with random legal actions and reports their speed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use commons_rl::env::check::random_legal_actions;
use commons_rl::env::vec_env::VecEnv;
use commons_rl::env::{CommonsEnv, MultiAgentEnv};
use commons_rl::run::{memory, work};
use commons_rl::scenario;
use rand::SeedableRng;

/// Arguments of `commons bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario file (TOML), e.g. envs/commons.toml.
    #[arg(long, value_name = "FILE")]
    env: PathBuf,
    /// Override one scenario parameter without editing the file (repeatable), e.g.
    /// `--set simulation.days=365`; validated like the file. Every key: `commons params`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_override)]
    set: Vec<commons_rl::scenario::Override>,
    /// Environments stepped in parallel.
    #[arg(long, value_name = "N", default_value = "8", allow_hyphen_values = true, value_parser = super::positive_u32)]
    num_envs: u32,
    /// Vectorised steps to time (each steps every environment by one day).
    #[arg(long, value_name = "N", default_value = "2000", allow_hyphen_values = true, value_parser = super::positive_u32)]
    steps: u32,
    /// Override the number of hatchers (who never leave), to study scaling with the population size.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::positive_u32)]
    participants: Option<u32>,
    /// Seed of the environments and of the random actions.
    #[arg(long, value_name = "S", default_value = "0", value_parser = super::seed_u64)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = super::positive_u32)]
    threads: Option<u32>,
    /// Go ahead even when the memory estimate exceeds what the machine has available.
    #[arg(long)]
    ignore_memory_limit: bool,
    /// Go ahead even when the time estimate exceeds the command's limit (ten minutes).
    #[arg(long)]
    ignore_time_limit: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let sc = scenario::with_overrides(&scenario::load(&args.env)?, &args.set)?;
    let mut cfg = scenario::env_config(&sc, &args.env)?;
    if let Some(n) = args.participants {
        cfg.model.hatch.hatchers = n;
    }
    memory::check(
        memory::world_bytes(&cfg.model).saturating_mul(args.num_envs as u64),
        &format!("{} environments of this scenario", args.num_envs),
        "--num-envs, --participants or the scenario's hatch.hatchers",
        args.ignore_memory_limit,
    )?;
    let threads = args
        .threads
        .map(|t| t as usize)
        .unwrap_or_else(rayon::current_num_threads);
    work::Work {
        what: format!(
            "{} environments of this scenario for {} steps",
            args.num_envs, args.steps
        ),
        knobs: "--num-envs, --steps, --participants or the scenario's hatch.hatchers",
        agent_days: f64::from(args.num_envs)
            * work::agent_days_of_steps(&cfg.model, f64::from(args.steps)),
        seconds_per_agent_day: work::STEP_SECONDS,
        // Environments are stepped in parallel, one per thread at most.
        threads: threads.min(args.num_envs as usize),
    }
    .check(work::BENCH_LIMIT, args.ignore_time_limit)?;
    let envs: Vec<CommonsEnv> = (0..args.num_envs)
        .map(|_| CommonsEnv::new(cfg.clone()))
        .collect();
    let mut venv = VecEnv::new(envs, threads).context("bench")?;
    let nvec = venv.envs()[0].action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(args.seed ^ 0xbe9c);
    let mut actions = Vec::new();
    venv.reset(args.seed)?;
    let bar = indicatif::ProgressBar::new(args.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} bench [{elapsed_precise}] {wide_bar} {pos}/{len} steps (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut stepping = Duration::ZERO;
    let (mut agent_steps, mut participants) = (0u64, 0u64);
    for _ in 0..args.steps {
        random_legal_actions(venv.output(), &nvec, &mut rng, &mut actions);
        agent_steps += venv.output().live_rows() as u64;
        let t = Instant::now();
        venv.step(&actions)?;
        stepping += t.elapsed();
        participants += venv
            .envs()
            .iter()
            .filter_map(|e| e.commons())
            .map(|c| c.participants().len() as u64)
            .sum::<u64>();
        bar.inc(1);
    }
    bar.finish_and_clear();
    let secs = stepping.as_secs_f64().max(1e-9);
    let env_steps = args.steps as u64 * args.num_envs as u64;
    let line = serde_json::json!({
        "agent_steps_per_sec": agent_steps as f64 / secs,
        "env_steps_per_sec": env_steps as f64 / secs,
        "participants": participants as f64 / env_steps as f64,
        "agents_per_env_step": agent_steps as f64 / env_steps as f64,
        "threads": threads,
        "num_envs": args.num_envs,
        "steps": args.steps,
        "seconds": secs,
    });
    println!("{line}");
    Ok(())
}
