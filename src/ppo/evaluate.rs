//! `commons eval`: trained policies on held-out seeds against scripted participants in the same roles.

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use serde::Serialize;

use super::trainer::{load_policies, TrainError};
use crate::env::actions::{self, BEHAVIOURS, HEADS, NVEC};
use crate::env::episodes::{
    EpisodeTracker, EvalSamples, FinishedAgent, SideSamples, AGENT_MEASURES, COMPONENTS,
};
use crate::env::{CommonsEnv, CommonsEnvConfig, MultiAgentEnv};
use crate::model::metrics::{Metrics, METRIC_COUNT, METRIC_NAMES};

/// A mean with its 95 % confidence half-width (1.96 · sd / √n over episodes).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Interval {
    /// Mean.
    pub mean: f64,
    /// Half-width of the 95 % interval.
    pub ci95: f64,
    /// Number of values.
    pub n: usize,
}

impl Interval {
    /// The interval of `values`.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Interval {
                mean: f64::NAN,
                ci95: f64::NAN,
                n,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Interval {
            mean,
            ci95: 1.96 * sd / (n as f64).sqrt(),
            n,
        }
    }

    /// Whether two intervals do not overlap.
    pub fn separated_from(&self, other: &Interval) -> bool {
        self.mean - self.ci95 > other.mean + other.ci95
            || other.mean - other.ci95 > self.mean + self.ci95
    }
}

/// Share of a personality's actions of each kind.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct BehaviourRates {
    /// Buys.
    pub buy: f64,
    /// Sells.
    pub sell: f64,
    /// Stakes by affinity or on a slot.
    pub stake: f64,
    /// Proposes (when asked).
    pub propose: f64,
    /// Leaves.
    pub exit: f64,
}

/// A measure of trained agents against scripted agents in the same roles.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Comparison {
    /// Trained policy: mean over episodes of the per-agent mean.
    pub trained: Interval,
    /// Scripted participants in the same roles, same seeds.
    pub scripted: Interval,
    /// `trained.mean − scripted.mean`.
    pub difference: f64,
    /// Whether the two 95 % intervals do not overlap.
    pub separated: bool,
}

impl Comparison {
    /// Compares per-episode values.
    pub fn of(trained: &[f64], scripted: &[f64]) -> Self {
        let (t, s) = (Interval::of(trained), Interval::of(scripted));
        Comparison {
            trained: t,
            scripted: s,
            difference: t.mean - s.mean,
            separated: t.separated_from(&s),
        }
    }
}

/// One personality's evaluation.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PersonalityEval {
    /// Mean over episodes of the mean return of its agents (trained policy).
    pub mean_return: f64,
    /// 95 % half-width of `mean_return`.
    pub ci95: f64,
    /// The same for scripted participants in the same roles.
    pub baseline_mean_return: f64,
    /// 95 % half-width of `baseline_mean_return`.
    pub baseline_ci95: f64,
    /// Whether the two 95 % intervals do not overlap.
    pub separated: bool,
    /// Net worth in DAI when the agent left (or at the horizon) minus its net worth when it joined.
    pub net_worth_gain: Comparison,
    /// The agent's `impact` reward component summed over its life: affinity-weighted funds of the
    /// proposals that became active or completed while it was there, / 10 % of the initial funding pool.
    pub impact: Comparison,
    /// Mean per-agent reward components summed over each agent's life (trained), in
    /// [`crate::env::personality::Component::ALL`] order: wealth, impact, authorship, sentiment.
    pub components: [f64; COMPONENTS],
    /// The same for the baseline.
    pub baseline_components: [f64; COMPONENTS],
    /// What the trained agents did.
    pub behaviour: BehaviourRates,
    /// Share of the trained agents' daily choices per bin of each action head (`trade`, `support`,
    /// `propose`, `exit`; bins as in docs/environment.md). `propose` can only be "no" on days the world
    /// does not ask the agent.
    pub action_shares: BTreeMap<&'static str, Vec<f64>>,
}

/// The world's metrics kept for every day of every evaluation episode (`eval_days.csv`), in
/// [`METRIC_NAMES`] terms.
pub const DAY_METRICS: [&str; 6] = [
    "token_price",
    "collateral_pool",
    "funding_pool",
    "token_supply",
    "participants",
    "avg_sentiment",
];

/// File name of the per-day trajectories beside `eval.json`.
pub const DAYS_FILE: &str = "eval_days.csv";

/// Per-day [`DAY_METRICS`] of each episode of both sides: what `eval_days.csv` holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalDays {
    /// Trained policies: per episode, per day (day 0 = after reset), the metrics.
    pub trained: Vec<Vec<[f64; DAY_METRICS.len()]>>,
    /// Scripted participants in the same roles, the same seeds.
    pub scripted: Vec<Vec<[f64; DAY_METRICS.len()]>>,
}

impl EvalDays {
    /// The CSV text: `side,episode,seed,day,<DAY_METRICS...>` (episode `k` has seed `seed + k`; floats in
    /// the shortest form that reads back exactly).
    pub fn to_csv(&self, seed: u64) -> String {
        let mut out = format!("side,episode,seed,day,{}\n", DAY_METRICS.join(","));
        for (side, episodes) in [("trained", &self.trained), ("scripted", &self.scripted)] {
            for (k, days) in episodes.iter().enumerate() {
                for (day, m) in days.iter().enumerate() {
                    out.push_str(&format!("{side},{k},{},{day}", seed.wrapping_add(k as u64)));
                    for v in m {
                        out.push_str(&format!(",{v}"));
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// Where [`DAY_METRICS`] sit in [`Metrics::values`].
fn day_metric_indices() -> [usize; DAY_METRICS.len()] {
    DAY_METRICS.map(|name| {
        METRIC_NAMES
            .iter()
            .position(|m| *m == name)
            .expect("DAY_METRICS are metric names")
    })
}

/// `eval.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EvalReport {
    /// Checkpoint evaluated (its global step).
    pub checkpoint_step: u64,
    /// Episodes per side.
    pub episodes: u32,
    /// Seed of the first episode (episode k uses seed + k).
    pub seed: u64,
    /// Scenario overrides of this evaluation (`commons eval --set`), on top of the run's scenario.
    pub overrides: Vec<String>,
    /// Per personality.
    pub personalities: BTreeMap<String, PersonalityEval>,
    /// Final Commons metrics with trained policies.
    pub outcomes: BTreeMap<&'static str, Interval>,
    /// Final Commons metrics with scripted participants in the same roles.
    pub baseline_outcomes: BTreeMap<&'static str, Interval>,
    /// Per-episode values behind the intervals (read by `commons compare`).
    pub samples: EvalSamples,
}

struct SideResult {
    samples: SideSamples,
    /// Per policy: summed components over agents, and agent count.
    components: Vec<([f64; COMPONENTS], usize)>,
    /// Per policy: action counts over all episodes (buy, sell, stake, propose, exit, all).
    behaviour: Vec<[usize; 6]>,
    /// Per policy, per head: how often each bin was chosen.
    bins: Vec<Vec<Vec<usize>>>,
    /// Per episode, per day: the [`DAY_METRICS`].
    days: Vec<Vec<[f64; DAY_METRICS.len()]>>,
}

impl SideResult {
    /// The per-episode values of one measure of one policy (episodes without agents left out). Every
    /// policy's measures are created before the first episode, so a missing one is a bug, reported as
    /// such.
    fn series(&self, policy: &str, measure: &str) -> Result<Vec<f64>, TrainError> {
        self.samples
            .personalities
            .get(policy)
            .and_then(|m| m.get(measure))
            .map(|v| v.iter().flatten().copied().collect())
            .ok_or_else(|| TrainError::MissingSeries(format!("{policy}/{measure}")))
    }
}

fn play(
    cfg: &CommonsEnvConfig,
    policies: Option<&[super::trainer::LoadedPolicy]>,
    names: &[String],
    episodes: u32,
    seed: u64,
    device: tch::Device,
) -> Result<SideResult, TrainError> {
    let n_policies = names.len();
    let mut env = CommonsEnv::new(cfg.clone());
    env.set_scripted_baseline(policies.is_none());
    let heads = env.action_spec(0).nvec.len();
    let mut res = SideResult {
        samples: SideSamples::default(),
        components: vec![([0.0; COMPONENTS], 0); n_policies],
        behaviour: vec![[0; 6]; n_policies],
        bins: vec![NVEC.iter().map(|&n| vec![0; n]).collect(); n_policies],
        days: Vec::with_capacity(episodes as usize),
    };
    let day_index = day_metric_indices();
    let today = |env: &CommonsEnv| {
        env.commons().map(|c| {
            let v = Metrics::of(c).values();
            day_index.map(|j| v[j])
        })
    };
    // Behaviour rates only for trained policies: scripted decisions are not actions.
    let behaviours: &[&str] = if policies.is_some() { &BEHAVIOURS } else { &[] };
    for name in names {
        let m = res.samples.personalities.entry(name.clone()).or_default();
        for measure in AGENT_MEASURES.iter().chain(behaviours) {
            m.insert(measure.to_string(), Vec::with_capacity(episodes as usize));
        }
    }
    let mut metrics: Vec<[f64; METRIC_COUNT]> = Vec::new();
    let mut actions = Vec::new();
    let mut tracker = EpisodeTracker::new(n_policies);
    for k in 0..episodes {
        let s = seed.wrapping_add(k as u64);
        let mut rng = rand_pcg::Pcg32::seed_from_u64(s ^ 0xe7a1);
        env.reset(s)?;
        tracker.clear();
        // Per policy: the agents that finished.
        let mut done: Vec<Vec<FinishedAgent>> = vec![Vec::new(); n_policies];
        let mut counts = vec![[0usize; 6]; n_policies];
        // Per policy, per head, per bin: this episode's choices.
        let mut episode_bins: Vec<Vec<Vec<usize>>> =
            vec![NVEC.iter().map(|&n| vec![0; n]).collect(); n_policies];
        let mut days = Vec::with_capacity(cfg.model.simulation.days as usize + 1);
        days.extend(today(&env));
        let mut observe = |env: &CommonsEnv, done: &mut Vec<Vec<FinishedAgent>>| {
            let parts = env.reward_parts();
            for (i, r) in env.output().rows.iter().enumerate() {
                if let Some(f) = tracker.observe(0, 0, r, parts.get(i)) {
                    let slot = &mut res.components[f.policy];
                    for (total, c) in slot.0.iter_mut().zip(f.components) {
                        *total += c;
                    }
                    slot.1 += 1;
                    done[f.policy].push(f);
                }
            }
        };
        observe(&env, &mut done);
        while !env.output().info.done {
            let out = env.output();
            actions.clear();
            actions.resize(out.rows.len() * heads, 0);
            if let Some(ps) = policies {
                for (p, pol) in ps.iter().enumerate() {
                    pol.act(p, out, &mut rng, device, &mut actions)?;
                }
                for (i, r) in out.rows.iter().enumerate() {
                    if r.live() {
                        let a = &actions[i * heads..(i + 1) * heads];
                        let b = &mut counts[r.policy as usize];
                        for (c, shown) in b.iter_mut().zip(actions::behaviours(a)) {
                            *c += shown as usize;
                        }
                        b[5] += 1;
                        for (h, &v) in a.iter().enumerate() {
                            res.bins[r.policy as usize][h][v as usize] += 1;
                            episode_bins[r.policy as usize][h][v as usize] += 1;
                        }
                    }
                }
            }
            env.step(&actions)?;
            observe(&env, &mut done);
            days.extend(today(&env));
        }
        res.days.push(days);
        for (p, agents) in done.into_iter().enumerate() {
            let m = res
                .samples
                .personalities
                .get_mut(&names[p])
                .expect("inserted");
            let n = agents.len() as f64;
            let mean = |j: usize| {
                (!agents.is_empty())
                    .then(|| agents.iter().map(|a| a.measures()[j]).sum::<f64>() / n)
            };
            let values = [mean(0), mean(1), mean(2)];
            for (measure, v) in AGENT_MEASURES.iter().zip(values) {
                m.get_mut(*measure).expect("inserted").push(v);
            }
            if policies.is_some() {
                let c = counts[p];
                for (j, measure) in BEHAVIOURS.iter().enumerate() {
                    let v = (c[5] > 0).then(|| c[j] as f64 / c[5] as f64);
                    m.get_mut(*measure).expect("inserted").push(v);
                }
                for (total, c) in res.behaviour[p].iter_mut().zip(c) {
                    *total += c;
                }
                let heads = res.samples.shares.entry(names[p].clone()).or_default();
                for (h, counts) in HEADS.iter().zip(&episode_bins[p]) {
                    let n: usize = counts.iter().sum();
                    let per_bin = heads
                        .entry(h.to_string())
                        .or_insert_with(|| vec![Vec::new(); counts.len()]);
                    for (series, &c) in per_bin.iter_mut().zip(counts) {
                        series.push((n > 0).then(|| c as f64 / n as f64));
                    }
                }
            }
        }
        if let Some(c) = env.commons() {
            metrics.push(Metrics::of(c).values());
        }
    }
    for (j, name) in METRIC_NAMES.iter().enumerate() {
        res.samples
            .outcomes
            .insert(name.to_string(), metrics.iter().map(|m| m[j]).collect());
    }
    Ok(res)
}

/// Evaluates a run's latest checkpoint on `episodes` seeds from `seed`, against the same seeds with the
/// learned personalities played by the reference's rules; `overrides` (recorded in the report) are
/// the `--set` texts already applied to `cfg`. Also returns every episode's per-day metrics.
pub fn evaluate(
    run_dir: &Path,
    cfg: &CommonsEnvConfig,
    file: &super::config::TrainingFile,
    episodes: u32,
    seed: u64,
    overrides: Vec<String>,
    device: tch::Device,
) -> Result<(EvalReport, EvalDays), TrainError> {
    // One intra-op thread, as in training: on a busy two-core machine libtorch's own threads would
    // fight the environment for the cores (15-60x slower).
    tch::set_num_threads(1);
    let probe = CommonsEnv::new(cfg.clone());
    let (policies, step) = load_policies(run_dir, &probe, file, device)?;
    let names: Vec<String> = policies.iter().map(|p| p.name.clone()).collect();
    let trained = play(cfg, Some(&policies), &names, episodes, seed, device)?;
    let baseline = play(cfg, None, &names, episodes, seed, device)?;
    let mut personalities = BTreeMap::new();
    for (p, name) in names.iter().enumerate() {
        let a = Interval::of(&trained.series(name, "return")?);
        let b = Interval::of(&baseline.series(name, "return")?);
        let avg = |c: &([f64; COMPONENTS], usize)| {
            let k = c.1.max(1) as f64;
            c.0.map(|x| x / k)
        };
        let compare = |measure| -> Result<Comparison, TrainError> {
            Ok(Comparison::of(
                &trained.series(name, measure)?,
                &baseline.series(name, measure)?,
            ))
        };
        let bh = trained.behaviour[p];
        let total = bh[5].max(1) as f64;
        personalities.insert(
            name.clone(),
            PersonalityEval {
                mean_return: a.mean,
                ci95: a.ci95,
                baseline_mean_return: b.mean,
                baseline_ci95: b.ci95,
                separated: a.separated_from(&b),
                net_worth_gain: compare("net_worth_gain")?,
                impact: compare("impact")?,
                components: avg(&trained.components[p]),
                baseline_components: avg(&baseline.components[p]),
                action_shares: HEADS
                    .iter()
                    .zip(&trained.bins[p])
                    .map(|(h, counts)| {
                        let n = counts.iter().sum::<usize>().max(1) as f64;
                        (*h, counts.iter().map(|&c| c as f64 / n).collect())
                    })
                    .collect(),
                behaviour: BehaviourRates {
                    buy: bh[0] as f64 / total,
                    sell: bh[1] as f64 / total,
                    stake: bh[2] as f64 / total,
                    propose: bh[3] as f64 / total,
                    exit: bh[4] as f64 / total,
                },
            },
        );
    }
    let outcomes = |side: &SideSamples| {
        METRIC_NAMES
            .iter()
            .map(|name| (*name, Interval::of(&side.outcomes[*name])))
            .collect()
    };
    let days = EvalDays {
        trained: trained.days,
        scripted: baseline.days,
    };
    let report = EvalReport {
        checkpoint_step: step,
        episodes,
        seed,
        overrides,
        personalities,
        outcomes: outcomes(&trained.samples),
        baseline_outcomes: outcomes(&baseline.samples),
        samples: EvalSamples {
            trained: trained.samples,
            scripted: baseline.samples,
        },
    };
    Ok((report, days))
}
