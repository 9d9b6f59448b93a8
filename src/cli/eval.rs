//! `commons eval`: trained policies on held-out seeds, against scripted participants in the same roles.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use commons_rl::eval::{self, DEFAULT_CHECK_EPISODES, DEFAULT_EPISODES, DEFAULT_SEED};
use commons_rl::scenario::Override;

/// Arguments of `commons eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run folder of `commons train`.
    run_dir: PathBuf,
    /// Episodes per side (trained and scripted baseline).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EPISODES, allow_hyphen_values = true, value_parser = super::positive_u32)]
    episodes: u32,
    /// Episodes of the best-response check (`--against-fixed`): the first N of the evaluation's seeds,
    /// 2 to --episodes [default: 32, or --episodes if smaller].
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::positive_u32)]
    check_episodes: Option<u32>,
    /// Seed of the first episode; the default is far from anything training used.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED, value_parser = super::seed_u64)]
    seed: u64,
    /// Evaluate under a changed scenario (repeatable): a scenario key, e.g. `--set
    /// curve.exit_tribute=0.3`, validated like the file and recorded in eval.json's `overrides`.
    /// Every key: `commons params`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_override)]
    set: Vec<Override>,
    /// Also check each learned personality against fixed strategies (a best response check): on the
    /// first --check-episodes of the seeds, every agent of the personality played in turn by each
    /// strategy, the rest of the population as trained; writes best_response.json.
    /// `--against-fixed=DIR`: the strategy files of a folder (default: the built-in library,
    /// agents/strategies). Needs at least 2 episodes.
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    against_fixed: Option<Option<PathBuf>>,
    /// Go ahead even when the memory estimate exceeds what the machine has available.
    #[arg(long)]
    ignore_memory_limit: bool,
    /// Go ahead even when the time estimate exceeds the command's limit (an hour).
    #[arg(long)]
    ignore_time_limit: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let strategies = match &args.against_fixed {
        Some(dir) => eval::strategies(dir.as_deref())?,
        None => Vec::new(),
    };
    let check_episodes = args
        .check_episodes
        .unwrap_or(DEFAULT_CHECK_EPISODES.min(args.episodes));
    if args.check_episodes.is_some() && args.against_fixed.is_none() {
        bail!("--check-episodes: only with --against-fixed (it sets the best-response check's episodes)");
    }
    let (report, best) = eval::run(&eval::EvalRequest {
        run_dir: args.run_dir.clone(),
        episodes: args.episodes,
        check_episodes,
        seed: args.seed,
        sets: args.set,
        strategies,
        announce: true,
        ignore_memory_limit: args.ignore_memory_limit,
        ignore_time_limit: args.ignore_time_limit,
    })?;
    print!("{}", eval::text::report(&report));
    if let Some(b) = &best {
        print!("{}", eval::text::best_response(b));
    }
    println!(
        "written: {}",
        args.run_dir.join(eval::report::FILE).display()
    );
    if best.is_some() {
        println!(
            "written: {}",
            args.run_dir.join(eval::best_response::FILE).display()
        );
    }
    Ok(())
}
