//! `commons train`: PPO on a scenario with the policies of an agents file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;
use clap::Args;
use commons_rl::env::cartpole::CartPole;
use commons_rl::env::personality::ControllerKind;
use commons_rl::env::CommonsEnv;
use commons_rl::ppo::device::{self, DeviceRequest};
use commons_rl::ppo::log::ProgressView;
use commons_rl::ppo::trainer::{self, TrainSettings};
use commons_rl::run::config::{RunConfig, RunInfo};
use commons_rl::run::training::{TrainingFile, MAX_NUM_ENVS, MAX_TOTAL_STEPS};
use commons_rl::run::{self, check_run_name, folder, memory, Access};
use commons_rl::scenario::{self, EnvKind, Override};

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
    /// Override one parameter without editing a file (repeatable): `train.*`, `ppo.*`,
    /// `policies.<name>.*` or a scenario key, e.g. `--set ppo.learning_rate=1e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_override, long_help = commons_rl::run::training::set_help())]
    set: Vec<Override>,
    /// Stop this invocation once it has taken N environment steps, saving a checkpoint as on Ctrl-C
    /// (the schedule still runs to the total; continue with --resume). For time-limited jobs.
    #[arg(long, value_name = "N", value_parser = parse_steps)]
    stop_after: Option<u64>,
    /// Set by `commons study`: the run folder itself, instead of `runs/<run name>`.
    #[arg(skip)]
    run_dir: Option<PathBuf>,
    /// Set by `commons study`: its progress bar (and where this run starts on it) instead of the
    /// run's own, and no closing report on stdout.
    #[arg(skip)]
    shared_bar: Option<(indicatif::ProgressBar, u64)>,
}

impl TrainArgs {
    /// A new training run into `run_dir` (a study's cell), as `commons train --env ENV --agents
    /// AGENTS --seed SEED --total-steps N --set ...` would start it, showing progress on `bar`.
    pub(crate) fn new_cell(
        env: PathBuf,
        agents: PathBuf,
        sets: Vec<Override>,
        seed: u64,
        total_steps: u64,
        run_dir: PathBuf,
        bar: (indicatif::ProgressBar, u64),
    ) -> Self {
        TrainArgs {
            env: Some(env),
            agents: Some(agents),
            total_steps: Some(total_steps),
            num_envs: None,
            seed: Some(seed),
            run_name: None,
            device: None,
            resume: None,
            overwrite: false,
            ignore_memory_limit: false,
            set: sets,
            stop_after: None,
            run_dir: Some(run_dir),
            shared_bar: Some(bar),
        }
    }

    /// Continues the training run `run_dir` (a study's half-trained cell), showing progress on `bar`.
    pub(crate) fn resume_cell(run_dir: PathBuf, bar: (indicatif::ProgressBar, u64)) -> Self {
        TrainArgs {
            env: None,
            agents: None,
            total_steps: None,
            num_envs: None,
            seed: None,
            run_name: None,
            device: None,
            resume: Some(run_dir),
            overwrite: false,
            ignore_memory_limit: false,
            set: Vec::new(),
            stop_after: None,
            run_dir: None,
            shared_bar: Some(bar),
        }
    }
}

/// The `--set` overrides of the agents file's settings (`train.*`, `ppo.*`, `policies.*`).
fn training_sets(all: &[Override]) -> Vec<Override> {
    all.iter()
        .filter(|o| TrainingFile::owns(o))
        .cloned()
        .collect()
}

fn parse_steps(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(v) if v >= 1 => Ok(v as u64),
        Ok(v) => Err(format!("{v} is out of range (allowed: >= 1)")),
        Err(_) => Err(format!("`{s}` is not an integer (allowed: >= 1)")),
    }
}

/// A file's stem with every character a run name may not hold replaced by `_`.
pub(crate) fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .chars()
        .map(|c| if folder::is_name_char(c) { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// The process's stop flag, set by SIGINT and SIGTERM (the handler is installed on first use): the
/// first signal asks the trainer to save a checkpoint after the current update and stop (and a study
/// to stop after it); the second says so again; the third leaves at once without saving (the last
/// complete checkpoint stays: checkpoints are written to a temporary folder and renamed).
pub(crate) fn stop_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        stop_on_signals(stop.clone());
        stop
    })
    .clone()
}

fn stop_on_signals(stop: Arc<AtomicBool>) {
    let signals = Arc::new(AtomicUsize::new(0));
    let _ = ctrlc::set_handler(move || {
        match signals.fetch_add(1, Ordering::SeqCst) {
            0 => {
                eprintln!("\ninterrupted: saving a checkpoint after this update, then stopping (press Ctrl-C again to abort without saving)");
                stop.store(true, Ordering::SeqCst);
            }
            1 => eprintln!("\nalready stopping: a checkpoint is being saved; press Ctrl-C once more to abort without saving"),
            _ => {
                eprintln!("\naborted without saving; the last complete checkpoint is kept");
                // Leave at once, without running exit handlers while the main thread uses libtorch.
                // SAFETY: _exit only ends the process; it touches no Rust state.
                unsafe { libc::_exit(130) }
            }
        }
    });
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let (run_dir, mut cfg, resume) = match &args.resume {
        Some(dir) => {
            // Refuse anything that is not a training run before reading it as one.
            folder::check_access(dir, Access::ExistingRun)?;
            let cfg = RunConfig::load(dir)?;
            (dir.clone(), cfg, true)
        }
        None => {
            let (Some(env), Some(agents)) = (&args.env, &args.agents) else {
                bail!("--env and --agents are required (or --resume DIR)");
            };
            if let Some(name) = &args.run_name {
                check_run_name(name).map_err(anyhow::Error::msg)?;
            }
            let scenario = scenario::load(env)?;
            // Training overrides first, so that the run is named with the seed it will use.
            let training = TrainingFile::load(agents)?.with_overrides(&training_sets(&args.set))?;
            let cfg = RunConfig {
                run: RunInfo {
                    env: env.clone(),
                    agents: agents.clone(),
                    device: args.device.unwrap_or(DeviceRequest::Auto),
                },
                scenario,
                training,
            };
            let seed = args.seed.unwrap_or(cfg.training.train.seed);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let name = args
                .run_name
                .clone()
                .unwrap_or_else(|| format!("{}__{}__{seed}__{now}", stem(env), stem(agents)));
            let dir = args
                .run_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(name));
            (dir, cfg, false)
        }
    };
    // Flags are checked as flags, so that a bad one is not blamed on the agents file.
    if let Some(n) = args.total_steps {
        if n > MAX_TOTAL_STEPS {
            bail!("--total-steps: {n} is out of range (allowed: 1 to {MAX_TOTAL_STEPS})");
        }
        cfg.training.train.total_steps = n;
    }
    if let Some(n) = args.num_envs {
        if n as usize > MAX_NUM_ENVS {
            bail!("--num-envs: {n} is out of range (allowed: 1 to {MAX_NUM_ENVS})");
        }
        cfg.training.train.num_envs = n as usize;
    }
    if let Some(s) = args.seed {
        if resume && s != cfg.training.train.seed {
            bail!(
                "--seed: a resumed run keeps its seed ({})",
                cfg.training.train.seed
            );
        }
        cfg.training.train.seed = s;
    }
    let scenario_sets: Vec<Override> = args
        .set
        .iter()
        .filter(|o| !TrainingFile::owns(o))
        .cloned()
        .collect();
    if resume && !scenario_sets.is_empty() {
        bail!(
            "--set {}: a resumed run keeps its scenario (only train.*, ppo.* and policies.* can change)",
            scenario_sets[0].key
        );
    }
    cfg.scenario = scenario::with_overrides(&cfg.scenario, &scenario_sets)?;
    if resume {
        let seed = cfg.training.train.seed;
        cfg.training = cfg.training.with_overrides(&training_sets(&args.set))?;
        if cfg.training.train.seed != seed {
            bail!("--set train.seed: a resumed run keeps its seed ({seed})");
        }
    }
    if let Some(pop) = cfg.training.population.clone() {
        cfg.scenario.population = pop;
    }
    // What is validated here came from the agents file, or from the run's config.toml on resume.
    let source = if resume {
        run_dir.join("config.toml")
    } else {
        cfg.run.agents.clone()
    };
    cfg.training
        .validate()
        .map_err(|m| anyhow::anyhow!("{}: {m}", source.display()))?;
    // Resolve and check the population before anything is written.
    let env_cfg = if cfg.scenario.kind == EnvKind::Commons {
        // Name the file the population came from: the run's config.toml on resume, else the agents
        // file if it has a population, else the scenario file.
        let source = if resume {
            run_dir.join("config.toml")
        } else if cfg.training.population.is_some() {
            cfg.run.agents.clone()
        } else {
            cfg.run.env.clone()
        };
        let env_cfg = scenario::env_config_named(&cfg.scenario, &cfg.run.env, &source)?;
        if env_cfg
            .population
            .iter()
            .all(|e| e.controller != ControllerKind::Learned)
        {
            bail!(
                "{}: the population has no learned personality: nothing to train",
                source.display()
            );
        }
        Some(env_cfg)
    } else {
        None
    };
    if let Some(d) = args.device {
        cfg.run.device = d;
    }
    // The worlds, and a rollout of every participant's observations per environment.
    let t = &cfg.training.train;
    let model = &cfg.scenario.model;
    memory::check(
        (memory::world_bytes(model).saturating_add(memory::rollout_bytes(model, t.num_steps)))
            .saturating_mul(t.num_envs as u64),
        &format!("training {} environments of this scenario", t.num_envs),
        "train.num_envs, train.num_steps or the scenario's hatch.hatchers",
        args.ignore_memory_limit,
    )?;
    let device = device::resolve(cfg.run.device)?;
    // Claim the folder (refusing one that is not ours or is in use) before anything is written.
    if args.overwrite {
        let moved = folder::move_aside(&run_dir)?;
        if moved != run_dir {
            eprintln!(
                "moved the earlier run {} to {}",
                run_dir.display(),
                moved.display()
            );
        }
    }
    let access = if resume {
        Access::ExistingRun
    } else {
        Access::NewRun
    };
    let _folder = run::open(&run_dir, access)?;
    // The resolved settings, including what this invocation changed on resume (--total-steps, --device).
    run::files::write_toml(&run_dir, run::files::CONFIG, &cfg)?;
    let settings = TrainSettings {
        run_dir: run_dir.clone(),
        device,
        file: cfg.training.clone(),
        threads: 0,
        progress: match &args.shared_bar {
            Some((bar, offset)) => ProgressView::Shared {
                bar: bar.clone(),
                offset: *offset,
            },
            None => ProgressView::Bar,
        },
        stop: stop_flag(),
        resume,
        stop_after: args.stop_after,
        frozen: env_cfg
            .as_ref()
            .map(|c| {
                let base = cfg.run.env.parent().unwrap_or(std::path::Path::new("."));
                c.population
                    .iter()
                    .filter(|e| e.controller == ControllerKind::Frozen)
                    .filter_map(|e| {
                        e.checkpoint
                            .as_ref()
                            .map(|p| (e.personality.name.clone(), base.join(p)))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let n = cfg.training.train.num_envs;
    let summary = match cfg.scenario.kind {
        EnvKind::Cartpole => trainer::train((0..n).map(|_| CartPole::new()).collect(), &settings)?,
        EnvKind::Commons => {
            let env_cfg = env_cfg.expect("resolved above for Commons scenarios");
            trainer::train(
                (0..n).map(|_| CommonsEnv::new(env_cfg.clone())).collect(),
                &settings,
            )?
        }
    };
    run::files::write_json(&run_dir, run::files::SUMMARY, &summary)?;
    if args.shared_bar.is_some() {
        return Ok(()); // the study reports
    }
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
