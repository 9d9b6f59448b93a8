//! `commons train`: PPO on a scenario with the policies of an agents file.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Args;
use commons_rl::env::cartpole::CartPole;
use commons_rl::env::personality::ControllerKind;
use commons_rl::env::CommonsEnv;
use commons_rl::ppo::config::TrainingFile;
use commons_rl::ppo::device::{self, DeviceRequest};
use commons_rl::ppo::run_config::{RunConfig, RunInfo};
use commons_rl::ppo::trainer::{self, TrainSettings};
use commons_rl::scenario::{self, EnvKind};

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
    /// Name of the run folder under runs/ (default: `<env>__<agents>__<seed>__<unix-time>`).
    #[arg(long, value_name = "NAME")]
    run_name: Option<String>,
    /// Where tensors live.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceRequest,
    /// Continue a run from its latest checkpoint (the run folder).
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
}

fn parse_steps(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(v) if v >= 1 => Ok(v as u64),
        Ok(v) => Err(format!("{v} is out of range (allowed: >= 1)")),
        Err(_) => Err(format!("`{s}` is not an integer (allowed: >= 1)")),
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .to_string()
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let (run_dir, mut cfg, resume) = match &args.resume {
        Some(dir) => {
            let cfg = RunConfig::load(dir)?;
            (dir.clone(), cfg, true)
        }
        None => {
            let (Some(env), Some(agents)) = (&args.env, &args.agents) else {
                bail!("--env and --agents are required (or --resume DIR)");
            };
            let scenario = scenario::load(env)?;
            let training = TrainingFile::load(agents)?;
            let cfg = RunConfig {
                run: RunInfo {
                    env: env.clone(),
                    agents: agents.clone(),
                    device: args.device,
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
            (PathBuf::from("runs").join(name), cfg, false)
        }
    };
    if let Some(n) = args.total_steps {
        cfg.training.train.total_steps = n;
    }
    if let Some(n) = args.num_envs {
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
    if let Some(pop) = cfg.training.population.clone() {
        cfg.scenario.population = pop;
    }
    cfg.training
        .validate()
        .map_err(|m| anyhow::anyhow!("{}: {m}", cfg.run.agents.display()))?;
    // Resolve and check the population before anything is written.
    let env_cfg = if cfg.scenario.kind == EnvKind::Commons {
        let env_cfg = scenario::env_config(&cfg.scenario, &cfg.run.env)?;
        if env_cfg
            .population
            .iter()
            .all(|e| e.controller != ControllerKind::Learned)
        {
            bail!(
                "{}: the population has no learned personality: nothing to train",
                cfg.run.env.display()
            );
        }
        Some(env_cfg)
    } else {
        None
    };
    let request = if args.resume.is_some() {
        cfg.run.device
    } else {
        args.device
    };
    let device = device::resolve(request)?;
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("{}: cannot create the run folder", run_dir.display()))?;
    if !resume {
        let text = toml::to_string_pretty(&cfg).context("config.toml")?;
        commons_rl::simulate::write_atomic(&run_dir.join("config.toml"), text.as_bytes())
            .with_context(|| format!("{}: cannot write", run_dir.join("config.toml").display()))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            eprintln!(
                "\ninterrupted: saving a checkpoint after this update (Ctrl-C again to force)"
            );
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let settings = TrainSettings {
        run_dir: run_dir.clone(),
        device,
        file: cfg.training.clone(),
        threads: 0,
        progress: true,
        stop,
        resume,
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
    for (name, r) in &summary.episodic_return {
        println!(
            "  {name:<16} return (last 100) {:>10.3} ± {:<8.3} over {} episodes",
            r.last_100_mean, r.last_100_std, r.episodes
        );
    }
    println!(
        "run folder: {}  (curves: tensorboard --logdir runs)",
        run_dir.display()
    );
    Ok(())
}
