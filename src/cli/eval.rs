//! `commons eval`: trained policies on held-out seeds, against scripted participants in the same roles.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;
use commons_rl::compare::best_response::{self, BestResponse};
use commons_rl::ppo::device;
use commons_rl::ppo::evaluate;
use commons_rl::run::config::RunConfig;
use commons_rl::run::{self, Access};
use commons_rl::scenario::{self, EnvKind, Override};

/// Default number of evaluation episodes per side (trained and scripted): two sides are cheap, and a
/// personality with few agents per episode needs this many to separate a small difference.
pub const DEFAULT_EPISODES: u32 = 128;
/// Default number of episodes of the best-response check (the first of the evaluation's seeds): it plays
/// every episode once per learned personality and strategy.
pub const DEFAULT_CHECK_EPISODES: u32 = 32;
/// Default seed of the first evaluation episode: far from anything training uses.
pub const DEFAULT_SEED: u64 = 1_000_000;

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
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_override)]
    set: Vec<Override>,
    /// Also check each learned personality against fixed strategies (a best response check): on the
    /// first --check-episodes of the seeds, every agent of the personality played in turn by each
    /// strategy, the rest of the population as trained; writes best_response.json.
    /// `--against-fixed=DIR`: the strategy files of a folder (default: the built-in library,
    /// agents/strategies). Needs at least 2 episodes.
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    against_fixed: Option<Option<PathBuf>>,
}

/// The strategies of `--against-fixed[=DIR]`: the folder's files, or the built-in library.
pub fn strategies(dir: Option<&Path>) -> anyhow::Result<Vec<commons_rl::env::strategy::Strategy>> {
    use commons_rl::env::strategy;
    Ok(match dir {
        None => strategy::library()?,
        Some(dir) => strategy::load_folder(dir)?,
    })
}

/// Evaluates `run_dir` on `episodes` seeds from `seed` (under the run's scenario with `sets` applied)
/// and writes `run_dir/eval.json` and `run_dir/eval_days.csv` (each atomically), and with `strategies`
/// the best-response check on the first `check_episodes` of those seeds (2 to `episodes`),
/// `run_dir/best_response.json` (an earlier one is removed when there are no strategies: it would
/// describe another evaluation). `announce`: say what is done and show a progress bar.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_and_write(
    run_dir: &Path,
    episodes: u32,
    check_episodes: u32,
    seed: u64,
    sets: &[Override],
    strategies: &[commons_rl::env::strategy::Strategy],
    announce: bool,
) -> anyhow::Result<(evaluate::EvalReport, Option<BestResponse>)> {
    // A training run, and nobody else writing into it (a run still training holds its lock).
    let _folder = run::open(run_dir, Access::ExistingRun)?;
    let cfg = RunConfig::load(run_dir)?;
    if cfg.scenario.kind != EnvKind::Commons {
        bail!("{}: eval compares Commons policies with scripted participants; this run is not a Commons run", run_dir.display());
    }
    if let Some(o) = sets
        .iter()
        .find(|o| commons_rl::run::training::TrainingFile::owns(o))
    {
        bail!(
            "--set {}: eval changes only the scenario (the policies are the run's); allowed: scenario keys such as curve.exit_tribute",
            o.key
        );
    }
    // The run's resolved scenario (its population included), changed by `sets`.
    let scenario = scenario::with_overrides(&cfg.scenario, sets)?;
    let env_cfg =
        scenario::env_config_named(&scenario, &cfg.run.env, &run_dir.join("config.toml"))?;
    if !strategies.is_empty() && episodes < 2 {
        bail!("--episodes {episodes}: the best-response check (--against-fixed) needs at least 2 episodes for its intervals");
    }
    if !strategies.is_empty() && !(2..=episodes).contains(&check_episodes) {
        bail!("--check-episodes {check_episodes}: out of range (allowed: 2 to --episodes, {episodes}); the check plays the first of the evaluation's seeds");
    }
    // Only the personalities played by policies are replaced by the strategies.
    let played = env_cfg
        .population
        .iter()
        .filter(|e| e.controller.is_policy());
    for e in played {
        for s in strategies {
            s.check_observation(e.personality.observation)
                .map_err(|err| {
                    anyhow::anyhow!(
                        "--against-fixed: {err} (personality {})",
                        e.personality.name
                    )
                })?;
        }
    }
    let dev = device::resolve(cfg.run.device)?;
    if announce {
        eprintln!(
            "evaluating {} on {episodes} held-out seeds from {seed} (and the scripted baseline{})...",
            run_dir.display(),
            if strategies.is_empty() {
                String::new()
            } else {
                format!(
                    ", and on the first {check_episodes} of them {} fixed strategies in each learned personality's place",
                    strategies.len()
                )
            }
        );
    }
    let bar = if announce {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} eval [{bar:30}] {pos}/{len} episodes, {elapsed} (ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let texts = sets
        .iter()
        .map(|o| format!("{}={}", o.key, o.text))
        .collect();
    let (report, days, fixed) = evaluate::evaluate(
        run_dir,
        &env_cfg,
        &cfg.training,
        episodes,
        check_episodes,
        seed,
        texts,
        strategies,
        dev,
        &bar,
    )?;
    bar.finish_and_clear();
    run::files::write_text(run_dir, evaluate::DAYS_FILE, &days.to_csv(seed))?;
    run::files::write_json(run_dir, run::files::EVAL, &report)?;
    let best = fixed.map(|samples| {
        let descriptions = strategies
            .iter()
            .map(|s| (s.name.clone(), s.description.clone()))
            .collect();
        BestResponse::of(
            samples,
            descriptions,
            report.checkpoint_step,
            check_episodes,
            seed,
        )
    });
    match &best {
        Some(b) => {
            run::files::write_json(run_dir, best_response::FILE, b)?;
        }
        None => {
            let old = run_dir.join(best_response::FILE);
            if old.is_file() {
                std::fs::remove_file(&old)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", old.display()))?;
            }
        }
    }
    Ok((report, best))
}

/// Prints a best-response check: per personality the trained return, the best fixed strategy's and
/// the gap, then the warnings.
pub fn print_best_response(b: &BestResponse) {
    println!(
        "best response (return per agent; intervals {:.0} % simultaneous over the strategies, paired by seed):",
        100.0 * b.level
    );
    println!(
        "{:<16} {:>26} {:<26} {:>26} {:>26}",
        "personality", "trained", "best fixed strategy", "its return", "gap (trained − fixed)"
    );
    for (name, c) in &b.personalities {
        println!(
            "{name:<16} {:>26} {:<26} {:>26} {:>26}",
            c.trained.text(),
            c.best,
            c.best_fixed.text(),
            c.gap.text()
        );
    }
    for w in b.warnings() {
        println!("{w}");
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let strategies = match &args.against_fixed {
        Some(dir) => strategies(dir.as_deref())?,
        None => Vec::new(),
    };
    let check_episodes = args
        .check_episodes
        .unwrap_or(DEFAULT_CHECK_EPISODES.min(args.episodes));
    if args.check_episodes.is_some() && args.against_fixed.is_none() {
        bail!("--check-episodes: only with --against-fixed (it sets the best-response check's episodes)");
    }
    let (report, best) = evaluate_and_write(
        &args.run_dir,
        args.episodes,
        check_episodes,
        args.seed,
        &args.set,
        &strategies,
        true,
    )?;
    let path = args.run_dir.join("eval.json");
    println!(
        "checkpoint at step {}, {} episodes per side, seeds {}..",
        report.checkpoint_step, report.episodes, report.seed
    );
    println!(
        "{:<16} {:>22} {:>22} {:>10}   behaviour (buy/sell/stake/propose/exit)",
        "personality", "trained return", "scripted return", "separated"
    );
    for (name, p) in &report.personalities {
        let b = &p.behaviour;
        println!(
            "{name:<16} {:>12.3} ± {:<7.3} {:>12.3} ± {:<7.3} {:>10}   {:.2}/{:.2}/{:.2}/{:.2}/{:.3}",
            p.mean_return, p.ci95, p.baseline_mean_return, p.baseline_ci95, p.separated, b.buy, b.sell, b.stake, b.propose, b.exit
        );
    }
    let overlapping: Vec<&str> = report
        .personalities
        .iter()
        .filter(|(_, p)| !p.separated)
        .map(|(name, _)| name.as_str())
        .collect();
    if !overlapping.is_empty() {
        // Half-widths shrink as 1/sqrt(episodes): four times the episodes halves them.
        println!(
            "note: the return intervals of {} overlap at {} episodes; with --episodes {} they would be about half as wide",
            overlapping.join(", "),
            report.episodes,
            report.episodes.saturating_mul(4)
        );
    }
    println!(
        "{:<16} {:>22} {:>22} {:>10}",
        "per agent", "trained", "scripted", "separated"
    );
    for (name, p) in &report.personalities {
        for (what, c) in [
            ("DAI gain", &p.net_worth_gain),
            ("impact", &p.impact),
            ("on favourite", &p.stake_on_favourite),
        ] {
            println!(
                "{:<16} {:>12.3} ± {:<7.3} {:>12.3} ± {:<7.3} {:>10}",
                format!("{name} {what}"),
                c.trained.mean,
                c.trained.ci95,
                c.scripted.mean,
                c.scripted.ci95,
                c.separated
            );
        }
    }
    println!("choices per action head (share of days per bin, bins as in docs/environment.md):");
    for (name, p) in &report.personalities {
        let heads: Vec<String> = commons_rl::env::actions::HEADS
            .iter()
            .filter_map(|head| {
                let v: Vec<String> = p
                    .action_shares
                    .get(head)?
                    .iter()
                    .map(|x| format!("{x:.2}"))
                    .collect();
                Some(format!("{head} {}", v.join("/")))
            })
            .collect();
        println!("{name:<16} {}", heads.join("   "));
    }
    println!(
        "{:<22} {:>26} {:>26}",
        "final metric", "trained", "scripted"
    );
    for (name, t) in &report.outcomes {
        let b = report.baseline_outcomes[name];
        println!(
            "{name:<22} {:>16.4} ± {:<8.4} {:>16.4} ± {:<8.4}",
            t.mean, t.ci95, b.mean, b.ci95
        );
    }
    if let Some(b) = &best {
        print_best_response(b);
    }
    println!("written: {}", path.display());
    if best.is_some() {
        println!(
            "written: {}",
            args.run_dir.join(best_response::FILE).display()
        );
    }
    Ok(())
}
