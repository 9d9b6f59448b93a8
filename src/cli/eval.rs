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
    /// Also check each learned personality against a learned deviation (an approximate
    /// exploitability): a new policy trained in its place against the others' frozen trained
    /// policies, twice: the whole personality deviating together, and one agent per episode
    /// deviating alone (unilateral). Played on the evaluation's seeds, paired by seed; writes
    /// learned_response.json and keeps each deviator as a run under RUN/deviations/ (reused by a
    /// later call with the same settings).
    #[arg(long)]
    against_learned: bool,
    /// With --against-learned: only this learned personality.
    #[arg(long, value_name = "NAME")]
    personality: Option<String>,
    /// With --against-learned: training steps per deviator (environment steps, all environments)
    /// [default: 100000].
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::seed_u64)]
    steps: Option<u64>,
    /// With --against-learned: the deviators' training seed [default: the run's seed + 10007].
    #[arg(long, value_name = "S", value_parser = super::seed_u64)]
    deviation_seed: Option<u64>,
    /// With --against-learned: start each deviator from the trained personality's weights instead
    /// of from scratch (a local search; from scratch is the default).
    #[arg(long)]
    warm_start: bool,
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
    let learned_flags = [
        ("--personality", args.personality.is_some()),
        ("--steps", args.steps.is_some()),
        ("--deviation-seed", args.deviation_seed.is_some()),
        ("--warm-start", args.warm_start),
    ];
    if let (false, Some((flag, _))) = (
        args.against_learned,
        learned_flags.iter().find(|(_, given)| *given),
    ) {
        bail!("{flag}: only with --against-learned (it sets the learned deviation)");
    }
    let learned = args.against_learned.then(|| eval::LearnedRequest {
        personality: args.personality.clone(),
        steps: args.steps,
        seed: args.deviation_seed,
        warm_start: args.warm_start,
    });
    #[cfg(feature = "torch")]
    let trainer: Option<&dyn commons_rl::run::job::Trainer> = Some(&commons_rl::ppo::Native);
    #[cfg(not(feature = "torch"))]
    let trainer: Option<&dyn commons_rl::run::job::Trainer> = None;
    let done = eval::run_with(
        &eval::EvalRequest {
            run_dir: args.run_dir.clone(),
            episodes: args.episodes,
            check_episodes,
            seed: args.seed,
            sets: args.set,
            strategies,
            announce: true,
            ignore_memory_limit: args.ignore_memory_limit,
            ignore_time_limit: args.ignore_time_limit,
            learned,
        },
        trainer,
    )?;
    print!("{}", eval::text::report(&done.report));
    if let Some(b) = &done.best {
        print!("{}", eval::text::best_response(b));
    }
    if let Some(l) = &done.learned {
        print!("{}", eval::text::learned_response(l));
    }
    println!(
        "written: {}",
        args.run_dir.join(eval::report::FILE).display()
    );
    if done.best.is_some() {
        println!(
            "written: {}",
            args.run_dir.join(eval::best_response::FILE).display()
        );
    }
    if done.learned.is_some() {
        println!(
            "written: {}",
            args.run_dir.join(eval::learned::FILE).display()
        );
    }
    Ok(())
}
