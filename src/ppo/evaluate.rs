//! `commons eval`: trained policies on held-out seeds against scripted participants in the same roles.

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use rayon::prelude::*;
use serde::Serialize;

use super::policy::CpuActor;
use super::trainer::{load_policies, LoadedPolicy, TrainError};
use crate::env::actions::{self, BEHAVIOURS, HEADS, NVEC};
use crate::env::api::PolicyId;
use crate::env::episodes::{
    EpisodeTracker, EvalSamples, FinishedAgent, FixedSamples, SideSamples, AGENT_MEASURES,
    COMPONENTS, STAKE_MEASURE,
};
use crate::env::strategy::{Fallbacks, Strategy};
use crate::env::{CommonsEnv, CommonsEnvConfig, MultiAgentEnv};
use crate::model::metrics::{Metrics, METRIC_COUNT, METRIC_NAMES};
use crate::model::participant::ParticipantId;

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
    /// [`crate::env::personality::Component::ALL`] order: wealth, impact, authorship, sentiment, backing.
    pub components: [f64; COMPONENTS],
    /// The same for the baseline.
    pub baseline_components: [f64; COMPONENTS],
    /// Share of own staked tokens on the favourite candidate ([`STAKE_MEASURE`]), trained against the
    /// reference's rule in the same roles.
    pub stake_on_favourite: Comparison,
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
    /// Masked choices of the fixed strategy of a [`Side::Fixed`].
    fallbacks: Fallbacks,
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

/// Who plays the learned personalities in one side of an evaluation.
#[derive(Clone, Copy)]
enum Side<'a> {
    /// The trained policies.
    Trained,
    /// The reference's rules, in the same roles.
    Scripted,
    /// Policy `policy` played by `strategy`, every other policy as trained.
    Fixed {
        /// The policy replaced.
        policy: usize,
        /// What plays it.
        strategy: &'a Strategy,
    },
}

/// Something that samples a policy's actions for its rows of an output.
trait Actor {
    fn act_rows(
        &self,
        k: usize,
        out: &crate::env::StepOutput,
        rng: &mut rand_pcg::Pcg32,
        device: tch::Device,
        actions: &mut [u32],
    ) -> Result<usize, TrainError>;
}

impl Actor for LoadedPolicy {
    fn act_rows(
        &self,
        k: usize,
        out: &crate::env::StepOutput,
        rng: &mut rand_pcg::Pcg32,
        device: tch::Device,
        actions: &mut [u32],
    ) -> Result<usize, TrainError> {
        self.act(k, out, rng, device, actions)
    }
}

impl Actor for CpuActor {
    fn act_rows(
        &self,
        k: usize,
        out: &crate::env::StepOutput,
        rng: &mut rand_pcg::Pcg32,
        _device: tch::Device,
        actions: &mut [u32],
    ) -> Result<usize, TrainError> {
        Ok(self.act(k, out, rng, actions))
    }
}

/// What one evaluation episode produced.
struct EpisodeResult {
    /// Per policy: the agents that finished.
    done: Vec<Vec<FinishedAgent>>,
    /// Per policy: action counts (buy, sell, stake, propose, exit, all).
    counts: Vec<[usize; 6]>,
    /// Per policy, per head, per bin: choices.
    bins: Vec<Vec<Vec<usize>>>,
    /// Per day: the [`DAY_METRICS`].
    days: Vec<[f64; DAY_METRICS.len()]>,
    /// The world's metrics at the end.
    metrics: Option<[f64; METRIC_COUNT]>,
    /// Per policy: summed daily [`STAKE_MEASURE`] values and the agent-days they cover.
    favourite: Vec<(f64, usize)>,
    /// Masked choices of a [`Side::Fixed`]'s strategy.
    fallbacks: Fallbacks,
}

/// Share of each live agent's staked tokens on its favourite candidate (highest affinity; ties: the
/// older), added per policy to `acc` for agents with a stake.
fn stake_on_favourite(env: &CommonsEnv, acc: &mut [(f64, usize)]) {
    let Some(c) = env.commons() else {
        return;
    };
    for r in env.output().rows.iter().filter(|r| r.live()) {
        let Some(pos) = c.participant_position(ParticipantId(r.agent.0)) else {
            continue;
        };
        let support = &c.participants()[pos].support;
        let staked: f64 = support.iter().map(|e| e.tokens).sum();
        let favourite = support
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.affinity.total_cmp(&b.1.affinity).then(b.0.cmp(&a.0)));
        if let (true, Some((_, e))) = (staked > 0.0, favourite) {
            let slot = &mut acc[r.policy as usize];
            slot.0 += e.tokens / staked;
            slot.1 += 1;
        }
    }
}

fn play_episode<A: Actor>(
    cfg: &CommonsEnvConfig,
    side: Side,
    policies: &[A],
    s: u64,
    device: tch::Device,
) -> Result<EpisodeResult, TrainError> {
    let n_policies = policies.len();
    let mut env = CommonsEnv::new(cfg.clone());
    env.set_scripted_baseline(matches!(side, Side::Scripted));
    if let Side::Fixed { policy, strategy } = side {
        env.set_fixed_override(policy as PolicyId, Some(strategy.clone()));
    }
    let heads = NVEC.len();
    let day_index = day_metric_indices();
    let today = |env: &CommonsEnv| {
        env.commons().map(|c| {
            let v = Metrics::of(c).values();
            day_index.map(|j| v[j])
        })
    };
    let mut rng = rand_pcg::Pcg32::seed_from_u64(s ^ 0xe7a1);
    env.reset(s)?;
    let mut tracker = EpisodeTracker::new(n_policies);
    let mut res = EpisodeResult {
        done: vec![Vec::new(); n_policies],
        counts: vec![[0usize; 6]; n_policies],
        bins: vec![NVEC.iter().map(|&n| vec![0; n]).collect(); n_policies],
        days: Vec::with_capacity(cfg.model.simulation.days as usize + 1),
        metrics: None,
        favourite: vec![(0.0, 0); n_policies],
        fallbacks: Fallbacks::default(),
    };
    res.days.extend(today(&env));
    let observe =
        |env: &CommonsEnv, tracker: &mut EpisodeTracker, done: &mut Vec<Vec<FinishedAgent>>| {
            let parts = env.reward_parts();
            for (i, r) in env.output().rows.iter().enumerate() {
                if let Some(f) = tracker.observe(0, 0, r, parts.get(i)) {
                    done[f.policy].push(f);
                }
            }
        };
    observe(&env, &mut tracker, &mut res.done);
    let mut actions = Vec::new();
    // Actions are counted for the trained policies only: scripted decisions are not actions, and a
    // fixed strategy's are made inside the environment.
    let count = matches!(side, Side::Trained);
    while !env.output().info.done {
        let out = env.output();
        actions.clear();
        actions.resize(out.rows.len() * heads, 0);
        if !matches!(side, Side::Scripted) {
            // Every policy samples (a replaced one too, its actions then ignored), so that the others
            // draw the same random numbers as in the trained side.
            for (p, pol) in policies.iter().enumerate() {
                pol.act_rows(p, out, &mut rng, device, &mut actions)?;
            }
        }
        if count {
            for (i, r) in out.rows.iter().enumerate().filter(|(_, r)| r.live()) {
                let a = &actions[i * heads..(i + 1) * heads];
                let b = &mut res.counts[r.policy as usize];
                for (c, shown) in b.iter_mut().zip(actions::behaviours(a)) {
                    *c += shown as usize;
                }
                b[5] += 1;
                for (h, &v) in a.iter().enumerate() {
                    res.bins[r.policy as usize][h][v as usize] += 1;
                }
            }
        }
        env.step(&actions)?;
        observe(&env, &mut tracker, &mut res.done);
        stake_on_favourite(&env, &mut res.favourite);
        res.days.extend(today(&env));
    }
    res.metrics = env.commons().map(|c| Metrics::of(c).values());
    if let Side::Fixed { policy, .. } = side {
        res.fallbacks = env.override_fallbacks()[policy];
    }
    Ok(res)
}

/// Plays `episodes` episodes (seeds `seed + k`) of one side, ticking `bar` once per episode: in
/// parallel when the policies run on the CPU path ([`CpuActor`]), else one after the other. Each episode
/// is independent and seeded by its number, so the result does not depend on the thread count.
#[allow(clippy::too_many_arguments)]
fn play(
    cfg: &CommonsEnvConfig,
    side: Side,
    policies: &[LoadedPolicy],
    names: &[String],
    episodes: u32,
    seed: u64,
    device: tch::Device,
    bar: &indicatif::ProgressBar,
) -> Result<SideResult, TrainError> {
    let n_policies = names.len();
    let cpu: Option<Vec<CpuActor>> = policies
        .iter()
        .map(|p| CpuActor::of(&p.net, &p.norm))
        .collect();
    let one = |r: Result<EpisodeResult, TrainError>| {
        bar.inc(1);
        r
    };
    let results: Vec<EpisodeResult> = match &cpu {
        Some(actors) => (0..episodes)
            .into_par_iter()
            .map(|k| {
                one(play_episode(
                    cfg,
                    side,
                    actors,
                    seed.wrapping_add(k as u64),
                    device,
                ))
            })
            .collect::<Result<_, _>>()?,
        None => (0..episodes)
            .map(|k| {
                one(play_episode(
                    cfg,
                    side,
                    policies,
                    seed.wrapping_add(k as u64),
                    device,
                ))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut res = SideResult {
        samples: SideSamples::default(),
        components: vec![([0.0; COMPONENTS], 0); n_policies],
        behaviour: vec![[0; 6]; n_policies],
        bins: vec![NVEC.iter().map(|&n| vec![0; n]).collect(); n_policies],
        days: Vec::with_capacity(episodes as usize),
        fallbacks: Fallbacks::default(),
    };
    let counted = matches!(side, Side::Trained);
    let behaviours: &[&str] = if counted { &BEHAVIOURS } else { &[] };
    for name in names {
        let m = res.samples.personalities.entry(name.clone()).or_default();
        for measure in AGENT_MEASURES
            .iter()
            .chain(behaviours)
            .chain(std::iter::once(&STAKE_MEASURE))
        {
            m.insert(measure.to_string(), Vec::with_capacity(episodes as usize));
        }
    }
    let mut metrics: Vec<[f64; METRIC_COUNT]> = Vec::new();
    for e in results {
        res.days.push(e.days);
        res.fallbacks.decisions += e.fallbacks.decisions;
        for (total, m) in res.fallbacks.masked.iter_mut().zip(e.fallbacks.masked) {
            *total += m;
        }
        for (p, agents) in e.done.into_iter().enumerate() {
            let slot = &mut res.components[p];
            for f in &agents {
                for (total, c) in slot.0.iter_mut().zip(f.components) {
                    *total += c;
                }
                slot.1 += 1;
            }
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
            for (j, measure) in AGENT_MEASURES.iter().enumerate() {
                m.get_mut(*measure).expect("inserted").push(mean(j));
            }
            let (sum, days) = e.favourite[p];
            m.get_mut(STAKE_MEASURE)
                .expect("inserted")
                .push((days > 0).then(|| sum / days as f64));
            if !counted {
                continue;
            }
            let c = e.counts[p];
            for (j, measure) in BEHAVIOURS.iter().enumerate() {
                let v = (c[5] > 0).then(|| c[j] as f64 / c[5] as f64);
                m.get_mut(*measure).expect("inserted").push(v);
            }
            for (total, c) in res.behaviour[p].iter_mut().zip(c) {
                *total += c;
            }
            let heads = res.samples.shares.entry(names[p].clone()).or_default();
            for ((h, counts), totals) in HEADS.iter().zip(&e.bins[p]).zip(&mut res.bins[p]) {
                let n: usize = counts.iter().sum();
                let per_bin = heads
                    .entry(h.to_string())
                    .or_insert_with(|| vec![Vec::new(); counts.len()]);
                for ((series, &c), total) in per_bin.iter_mut().zip(counts).zip(totals.iter_mut()) {
                    series.push((n > 0).then(|| c as f64 / n as f64));
                    *total += c;
                }
            }
        }
        metrics.extend(e.metrics);
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
/// the `--set` texts already applied to `cfg`. Also returns every episode's per-day metrics, and, when
/// `strategies` is not empty, the best-response check: on the first `check_episodes` of those seeds
/// (at most `episodes`), each learned personality played in turn by each strategy, the others as
/// trained. Episodes run in parallel; `bar` ticks once per episode (`2 × episodes + check_episodes ×
/// personalities × strategies` in all).
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    run_dir: &Path,
    cfg: &CommonsEnvConfig,
    file: &crate::run::training::TrainingFile,
    episodes: u32,
    check_episodes: u32,
    seed: u64,
    overrides: Vec<String>,
    strategies: &[Strategy],
    device: tch::Device,
    bar: &indicatif::ProgressBar,
) -> Result<(EvalReport, EvalDays, Option<FixedSamples>), TrainError> {
    // One intra-op thread, as in training: on a busy two-core machine libtorch's own threads would
    // fight the environment for the cores (15-60x slower). The setting is per thread, and episodes are
    // played on rayon's workers, whose matrix products go through libtorch's BLAS (OpenMP): set it on
    // every worker too.
    tch::set_num_threads(1);
    rayon::broadcast(|_| tch::set_num_threads(1));
    let probe = CommonsEnv::new(cfg.clone());
    let (policies, step) = load_policies(run_dir, &probe, file, device)?;
    let names: Vec<String> = policies.iter().map(|p| p.name.clone()).collect();
    let check_episodes = check_episodes.min(episodes);
    bar.set_length(
        2 * episodes as u64 + check_episodes as u64 * (names.len() * strategies.len()) as u64,
    );
    let trained = play(
        cfg,
        Side::Trained,
        &policies,
        &names,
        episodes,
        seed,
        device,
        bar,
    )?;
    let baseline = play(
        cfg,
        Side::Scripted,
        &policies,
        &names,
        episodes,
        seed,
        device,
        bar,
    )?;
    let fixed = if strategies.is_empty() {
        None
    } else {
        let mut out = FixedSamples::default();
        for (p, name) in names.iter().enumerate() {
            // The check's seeds are the first `check_episodes` of the evaluation's, in order.
            let mut paired = trained.samples.personalities[name]["return"].clone();
            paired.truncate(check_episodes as usize);
            out.trained.insert(name.clone(), paired);
            for strategy in strategies {
                let side = Side::Fixed {
                    policy: p,
                    strategy,
                };
                let r = play(
                    cfg,
                    side,
                    &policies,
                    &names,
                    check_episodes,
                    seed,
                    device,
                    bar,
                )?;
                let returns = r.samples.personalities[name]["return"].clone();
                out.fixed
                    .entry(name.clone())
                    .or_default()
                    .insert(strategy.name.clone(), returns);
                let fb = r.fallbacks;
                out.fallbacks.entry(name.clone()).or_default().insert(
                    strategy.name.clone(),
                    [
                        fb.decisions,
                        fb.masked[0],
                        fb.masked[1],
                        fb.masked[2],
                        fb.masked[3],
                    ],
                );
            }
        }
        Some(out)
    };
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
                stake_on_favourite: compare(STAKE_MEASURE)?,
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
    Ok((report, days, fixed))
}
