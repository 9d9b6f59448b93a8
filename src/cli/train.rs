//! `commons train`: PPO on a scenario with the policies of an agents file.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use commons_rl::run::config::DeviceRequest;
use commons_rl::run::job::{ProgressView, Start, TrainJob, TrainRequest};
use commons_rl::scenario::Override;

/// Arguments of `commons train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Scenario file (TOML), e.g. envs/commons.toml or envs/cartpole.toml.
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    env: Option<PathBuf>,
    /// Agents file (TOML): run settings, PPO hyper-parameters, optionally the population.
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    agents: Option<PathBuf>,
    /// Environment steps to train for (default: the agents file's `train.total_steps`).
    #[arg(long, value_name = "N", value_parser = parse_steps)]
    total_steps: Option<u64>,
    /// Environments stepped in parallel (default: the agents file's `train.num_envs`).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::positive_u32)]
    num_envs: Option<u32>,
    /// Seed of the whole run (default: the agents file's `train.seed`).
    #[arg(long, value_name = "S", value_parser = super::seed_u64)]
    seed: Option<u64>,
    /// Name of the run folder under runs/ (default: `<env>__<agents>__<seed>__<unix-time>`): letters,
    /// digits, `-`, `_`, `.`, `+`. An existing run of that name is refused (see --resume, --overwrite).
    #[arg(long, value_name = "NAME")]
    run_name: Option<String>,
    /// Where tensors live (default: auto; a resumed run keeps its own unless this is given).
    #[arg(long, value_enum)]
    device: Option<DeviceRequest>,
    /// Continue a run from its latest checkpoint (the run folder).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["env", "agents", "run_name", "overwrite"])]
    resume: Option<PathBuf>,
    /// Move an existing run of the same name aside (to `<name>.replaced-<unix-time>`) instead of refusing.
    #[arg(long)]
    overwrite: bool,
    /// Go ahead even when the memory estimate exceeds what the machine has available.
    #[arg(long)]
    ignore_memory_limit: bool,
    /// Go ahead even when the time estimate of this invocation exceeds the command's limit (a day).
    #[arg(long)]
    ignore_time_limit: bool,
    /// Override one parameter without editing a file (repeatable): `train.*`, `ppo.*`,
    /// `policies.<name>.*` or a scenario key, e.g. `--set ppo.learning_rate=1e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_override, long_help = commons_rl::run::training::set_help())]
    set: Vec<Override>,
    /// Stop this invocation once it has taken N environment steps, saving a checkpoint as on Ctrl-C
    /// (the schedule still runs to the total; continue with --resume). For time-limited jobs.
    #[arg(long, value_name = "N", value_parser = parse_steps)]
    stop_after: Option<u64>,
}

fn parse_steps(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(v) if v >= 1 => Ok(v as u64),
        Ok(v) => Err(format!("{v} is out of range (allowed: >= 1)")),
        Err(_) => Err(format!("`{s}` is not an integer (allowed: >= 1)")),
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let start = match args.resume {
        Some(dir) => Start::Resume(dir),
        None => {
            let (Some(env), Some(agents)) = (args.env, args.agents) else {
                bail!("--env and --agents are required (or --resume DIR)");
            };
            Start::New {
                env,
                agents,
                run_name: args.run_name,
                run_dir: None,
                overwrite: args.overwrite,
            }
        }
    };
    let job = TrainJob::new(&TrainRequest {
        start,
        total_steps: args.total_steps,
        num_envs: args.num_envs,
        seed: args.seed,
        device: args.device,
        sets: args.set,
        stop_after: args.stop_after,
        ignore_memory_limit: args.ignore_memory_limit,
        ignore_time_limit: args.ignore_time_limit,
    })?;
    let summary = commons_rl::ppo::train(&job, ProgressView::Bar, super::stop_flag())?;
    let run_dir = &job.run_dir;
    println!(
        "{} steps in {:.1} s ({:.0} steps/s){}",
        summary.global_step,
        summary.wall_seconds,
        summary.sps,
        if summary.interrupted {
            ", interrupted: checkpoint saved"
        } else {
            ""
        }
    );
    // What the curves and eval use: per finished environment episode, the mean lifetime return of a
    // personality's agents (a per-agent mean would be dominated by arrivals who leave at once).
    println!("mean return of each personality's agents per environment episode (last 10 episodes; charts/episode_mean_return):");
    for (name, r) in &summary.episodic_return {
        match summary.episode_mean_return.get(name) {
            Some(m) if m.episodes > 0 && m.last_10_mean.is_finite() => println!(
                "  {name:<16} {:>12.3} ± {:<10.3} ({} episodes finished)",
                m.last_10_mean + 0.0, // + 0.0: no "-0.000"
                m.last_10_std,
                m.episodes
            ),
            _ => println!(
                "  {name:<16} {:>12.3} ± {:<10.3} (no episode finished yet: mean of its last {} agents)",
                r.last_100_mean + 0.0,
                r.last_100_std,
                r.episodes.min(100)
            ),
        }
    }
    println!(
        "run folder: {}  (curves: tensorboard --logdir runs)",
        run_dir.display()
    );
    Ok(())
}
