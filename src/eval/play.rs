//! Evaluation episodes: the learned personalities played by their actors, by the reference's rules, or
//! one of them by a fixed strategy, on seeded episodes, and what they did added up into typed counts.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rayon::prelude::*;

use super::actor::{Actor, Actors};
use super::days::{day_row, DayRow, EvalDays};
use super::report::{BehaviourRates, Comparison, EvalReport, Interval, PersonalityEval};
use super::samples::{EvalSamples, FallbackCounts, FixedSamples, SideSamples, STAKE_MEASURE};
use super::EvalError;
use crate::env::actions::{self, BEHAVIOURS, HEADS, NVEC};
use crate::env::api::PolicyId;
use crate::env::episodes::{AgentMeasure, EpisodeTracker, FinishedAgent, COMPONENTS};
use crate::env::strategy::Strategy;
use crate::env::{CommonsEnv, CommonsEnvConfig, MultiAgentEnv};
use crate::model::metrics::{Metrics, METRIC_COUNT, METRIC_NAMES};
use crate::model::participant::ParticipantId;

/// Who plays the learned personalities in one side of an evaluation.
#[derive(Clone, Copy)]
pub enum Side<'a> {
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

/// A policy's daily choices: how many, which behaviours they showed, and which bin of each head.
#[derive(Clone, Debug, PartialEq)]
struct ActionCounts {
    /// Choices made (live agent-days).
    choices: usize,
    /// Per behaviour ([`BEHAVIOURS`] order): choices that showed it.
    shown: [usize; BEHAVIOURS.len()],
    /// Per head ([`HEADS`] order), per bin: choices of that bin.
    bins: Vec<Vec<usize>>,
}

impl ActionCounts {
    fn new() -> Self {
        ActionCounts {
            choices: 0,
            shown: [0; BEHAVIOURS.len()],
            bins: NVEC.iter().map(|&n| vec![0; n]).collect(),
        }
    }

    /// Counts one choice (`[trade, support, propose, exit]`).
    fn add(&mut self, action: &[u32]) {
        for (c, shown) in self.shown.iter_mut().zip(actions::behaviours(action)) {
            *c += shown as usize;
        }
        self.choices += 1;
        for (bins, &v) in self.bins.iter_mut().zip(action) {
            if let Some(c) = bins.get_mut(v as usize) {
                *c += 1;
            }
        }
    }

    fn merge(&mut self, other: &ActionCounts) {
        self.choices += other.choices;
        for (a, b) in self.shown.iter_mut().zip(other.shown) {
            *a += b;
        }
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    /// Share of the choices that showed behaviour `j` (None without choices).
    fn rate(&self, j: usize) -> Option<f64> {
        (self.choices > 0).then(|| self.shown[j] as f64 / self.choices as f64)
    }

    /// Behaviour rates over all choices (0 without choices).
    fn rates(&self) -> BehaviourRates {
        let total = self.choices.max(1) as f64;
        let r = self.shown.map(|c| c as f64 / total);
        BehaviourRates {
            buy: r[0],
            sell: r[1],
            stake: r[2],
            propose: r[3],
            exit: r[4],
        }
    }
}

/// Summed daily [`STAKE_MEASURE`] values and the agent-days they cover.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct FavouriteStake {
    sum: f64,
    days: usize,
}

/// What one policy's agents did in one episode.
#[derive(Clone, Debug)]
struct PolicyEpisode {
    finished: Vec<FinishedAgent>,
    actions: ActionCounts,
    favourite: FavouriteStake,
}

/// What one evaluation episode produced.
struct EpisodeResult {
    /// Per policy.
    policies: Vec<PolicyEpisode>,
    /// Per day (day 0 = after reset).
    days: Vec<DayRow>,
    /// The world's metrics at the end.
    metrics: Option<[f64; METRIC_COUNT]>,
    /// Masked choices of a [`Side::Fixed`]'s strategy.
    fallbacks: FallbackCounts,
}

/// Share of each live agent's staked tokens on its favourite candidate (highest affinity; ties: the
/// older), added per policy for agents with a stake.
fn stake_on_favourite(env: &CommonsEnv, policies: &mut [PolicyEpisode]) {
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
        if let (true, Some((_, e)), Some(p)) =
            (staked > 0.0, favourite, policies.get_mut(r.policy as usize))
        {
            p.favourite.sum += e.tokens / staked;
            p.favourite.days += 1;
        }
    }
}

/// Adds the agents of the current output that finished to their policies.
fn observe(env: &CommonsEnv, tracker: &mut EpisodeTracker, policies: &mut [PolicyEpisode]) {
    let parts = env.reward_parts();
    for (i, r) in env.output().rows.iter().enumerate() {
        if let Some(f) = tracker.observe(0, 0, r, parts.get(i)) {
            if let Some(p) = policies.get_mut(f.policy) {
                p.finished.push(f);
            }
        }
    }
}

/// Plays the episode of seed `s`. The actors sample with a PCG stream seeded from `s`, in policy
/// order, so an episode's result depends on its seed alone.
fn play_episode(
    cfg: &CommonsEnvConfig,
    side: Side,
    actors: &[&dyn Actor],
    s: u64,
) -> Result<EpisodeResult, EvalError> {
    let n_policies = actors.len();
    let mut env = CommonsEnv::new(cfg.clone());
    env.set_scripted_baseline(matches!(side, Side::Scripted));
    if let Side::Fixed { policy, strategy } = side {
        env.set_fixed_override(policy as PolicyId, Some(strategy.clone()));
    }
    let heads = NVEC.len();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(s ^ 0xe7a1);
    env.reset(s).map_err(EvalError::Env)?;
    let mut tracker = EpisodeTracker::new(n_policies);
    let mut res = EpisodeResult {
        policies: vec![
            PolicyEpisode {
                finished: Vec::new(),
                actions: ActionCounts::new(),
                favourite: FavouriteStake::default(),
            };
            n_policies
        ],
        days: Vec::with_capacity(cfg.model.simulation.days as usize + 1),
        metrics: None,
        fallbacks: FallbackCounts::default(),
    };
    res.days.extend(env.commons().map(day_row));
    observe(&env, &mut tracker, &mut res.policies);
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
            for (p, actor) in actors.iter().enumerate() {
                actor
                    .act(p, out, &mut rng, &mut actions)
                    .map_err(EvalError::Act)?;
            }
        }
        if count {
            for (i, r) in out.rows.iter().enumerate().filter(|(_, r)| r.live()) {
                if let Some(p) = res.policies.get_mut(r.policy as usize) {
                    p.actions.add(&actions[i * heads..(i + 1) * heads]);
                }
            }
        }
        env.step(&actions).map_err(EvalError::Env)?;
        observe(&env, &mut tracker, &mut res.policies);
        stake_on_favourite(&env, &mut res.policies);
        res.days.extend(env.commons().map(day_row));
    }
    res.metrics = env.commons().map(|c| Metrics::of(c).values());
    if let Side::Fixed { policy, .. } = side {
        if let Some(fb) = env.override_fallbacks().get(policy) {
            res.fallbacks = (*fb).into();
        }
    }
    Ok(res)
}

/// One policy's per-episode series of one side, and its totals.
struct PolicySeries {
    /// Per [`AgentMeasure`]: the mean over the episode's finished agents (None without agents).
    agent: [Vec<Option<f64>>; AgentMeasure::ALL.len()],
    /// Per behaviour ([`BEHAVIOURS`] order): the share of the episode's choices (trained side only).
    behaviour: [Vec<Option<f64>>; BEHAVIOURS.len()],
    /// [`STAKE_MEASURE`] per episode.
    stake: Vec<Option<f64>>,
    /// Per head, per bin: the share of the episode's choices on that head (trained side only).
    shares: Vec<Vec<Vec<Option<f64>>>>,
    /// Summed reward components over every finished agent, and the agents.
    components: ([f64; COMPONENTS], usize),
    /// Choices over every episode.
    actions: ActionCounts,
}

impl PolicySeries {
    fn new() -> Self {
        PolicySeries {
            agent: Default::default(),
            behaviour: Default::default(),
            stake: Vec::new(),
            shares: NVEC.iter().map(|&n| vec![Vec::new(); n]).collect(),
            components: ([0.0; COMPONENTS], 0),
            actions: ActionCounts::new(),
        }
    }

    /// Adds one episode (`counted`: the side's actions are the policy's own).
    fn push(&mut self, e: &PolicyEpisode, counted: bool) {
        for f in &e.finished {
            for (total, c) in self.components.0.iter_mut().zip(f.components) {
                *total += c;
            }
            self.components.1 += 1;
        }
        let n = e.finished.len() as f64;
        for (series, m) in self.agent.iter_mut().zip(AgentMeasure::ALL) {
            series.push(
                (!e.finished.is_empty())
                    .then(|| e.finished.iter().map(|a| a.measure(m)).sum::<f64>() / n),
            );
        }
        let FavouriteStake { sum, days } = e.favourite;
        self.stake.push((days > 0).then(|| sum / days as f64));
        if !counted {
            return;
        }
        for (j, series) in self.behaviour.iter_mut().enumerate() {
            series.push(e.actions.rate(j));
        }
        self.actions.merge(&e.actions);
        for (head, counts) in self.shares.iter_mut().zip(&e.actions.bins) {
            let n: usize = counts.iter().sum();
            for (series, &c) in head.iter_mut().zip(counts) {
                series.push((n > 0).then(|| c as f64 / n as f64));
            }
        }
    }

    /// Mean components per finished agent (zeros without agents).
    fn mean_components(&self) -> [f64; COMPONENTS] {
        let k = self.components.1.max(1) as f64;
        self.components.0.map(|x| x / k)
    }

    /// Share of all choices per bin of each head.
    fn action_shares(&self) -> BTreeMap<String, Vec<f64>> {
        HEADS
            .iter()
            .zip(&self.actions.bins)
            .map(|(h, counts)| {
                let n = counts.iter().sum::<usize>().max(1) as f64;
                (
                    h.to_string(),
                    counts.iter().map(|&c| c as f64 / n).collect(),
                )
            })
            .collect()
    }

    /// The per-episode values of a measure, episodes without agents left out.
    fn values(series: &[Option<f64>]) -> Vec<f64> {
        series.iter().flatten().copied().collect()
    }
}

/// What one side of an evaluation produced.
struct SideResult {
    /// Per policy.
    policies: Vec<PolicySeries>,
    /// Per final metric ([`METRIC_NAMES`] order), one value per episode.
    outcomes: Vec<Vec<f64>>,
    /// Per episode, per day.
    days: Vec<Vec<DayRow>>,
    /// Masked choices of the fixed strategy of a [`Side::Fixed`].
    fallbacks: FallbackCounts,
    /// Whether the side's actions were counted (the trained side).
    counted: bool,
}

impl SideResult {
    /// The samples as `eval.json` holds them.
    fn samples(&self, names: &[String]) -> SideSamples {
        let mut out = SideSamples::default();
        for (name, p) in names.iter().zip(&self.policies) {
            let m = out.personalities.entry(name.clone()).or_default();
            for (measure, series) in AgentMeasure::ALL.iter().zip(&p.agent) {
                m.insert(measure.name().to_string(), series.clone());
            }
            m.insert(STAKE_MEASURE.to_string(), p.stake.clone());
            if !self.counted {
                continue;
            }
            for (measure, series) in BEHAVIOURS.iter().zip(&p.behaviour) {
                m.insert(measure.to_string(), series.clone());
            }
            if self.days.is_empty() {
                continue;
            }
            out.shares.insert(
                name.clone(),
                HEADS
                    .iter()
                    .zip(&p.shares)
                    .map(|(h, bins)| (h.to_string(), bins.clone()))
                    .collect(),
            );
        }
        for (name, values) in METRIC_NAMES.iter().zip(&self.outcomes) {
            out.outcomes.insert(name.to_string(), values.clone());
        }
        out
    }

    fn outcome_intervals(&self) -> BTreeMap<String, Interval> {
        METRIC_NAMES
            .iter()
            .zip(&self.outcomes)
            .map(|(name, values)| (name.to_string(), Interval::of(values)))
            .collect()
    }

    fn policy(&self, p: usize) -> Result<&PolicySeries, EvalError> {
        self.policies
            .get(p)
            .ok_or_else(|| EvalError::MissingSeries(format!("policy {p}")))
    }
}

/// Plays `episodes` episodes (seeds `seed + k`) of one side, ticking `bar` once per episode: in
/// parallel when the actors can be shared by threads, else one after the other. Each episode is
/// independent and seeded by its number, so the result does not depend on the thread count.
fn play(
    cfg: &CommonsEnvConfig,
    side: Side,
    actors: &Actors,
    episodes: u32,
    seed: u64,
    bar: &indicatif::ProgressBar,
) -> Result<SideResult, EvalError> {
    let all: Vec<usize> = (0..actors.len()).collect();
    play_slots(cfg, side, actors, &all, episodes, seed, bar)
}

/// [`play`] with policy `k` of the environment played by actor `slots[k]` (one actor may play several
/// policies).
fn play_slots(
    cfg: &CommonsEnvConfig,
    side: Side,
    actors: &Actors,
    slots: &[usize],
    episodes: u32,
    seed: u64,
    bar: &indicatif::ProgressBar,
) -> Result<SideResult, EvalError> {
    let one = |r: Result<EpisodeResult, EvalError>| {
        bar.inc(1);
        r
    };
    let missing = || EvalError::MissingSeries(format!("actor for policies {slots:?}"));
    let results: Vec<EpisodeResult> = match actors {
        Actors::Parallel(boxes) => {
            if slots.iter().any(|&i| i >= boxes.len()) {
                return Err(missing());
            }
            (0..episodes)
                .into_par_iter()
                .map(|k| {
                    let refs: Vec<&dyn Actor> = slots
                        .iter()
                        .map(|&i| boxes[i].as_ref() as &dyn Actor)
                        .collect();
                    one(play_episode(cfg, side, &refs, seed.wrapping_add(k as u64)))
                })
                .collect::<Result<_, _>>()?
        }
        Actors::Serial(boxes) => {
            let refs: Vec<&dyn Actor> = slots
                .iter()
                .map(|&i| boxes.get(i).map(|b| b.as_ref()).ok_or_else(missing))
                .collect::<Result<_, _>>()?;
            (0..episodes)
                .map(|k| one(play_episode(cfg, side, &refs, seed.wrapping_add(k as u64))))
                .collect::<Result<_, _>>()?
        }
    };
    let counted = matches!(side, Side::Trained);
    let mut res = SideResult {
        policies: (0..slots.len()).map(|_| PolicySeries::new()).collect(),
        outcomes: vec![Vec::new(); METRIC_COUNT],
        days: Vec::with_capacity(episodes as usize),
        fallbacks: FallbackCounts::default(),
        counted,
    };
    for e in results {
        res.days.push(e.days);
        res.fallbacks += e.fallbacks;
        for (series, p) in res.policies.iter_mut().zip(&e.policies) {
            series.push(p, counted);
        }
        if let Some(m) = e.metrics {
            for (values, v) in res.outcomes.iter_mut().zip(m) {
                values.push(v);
            }
        }
    }
    Ok(res)
}

/// What each policy's agents earned in one side of episodes played by actors: per policy, each
/// episode's mean return over its agents (None without agents), and its behaviour over all episodes.
#[derive(Clone, Debug)]
pub struct Returns {
    /// Per policy, per episode.
    pub returns: Vec<Vec<Option<f64>>>,
    /// Per policy: the share of its choices that showed each behaviour.
    pub behaviour: Vec<BehaviourRates>,
}

/// Plays `episodes` episodes (seeds `seed + k`) of `cfg` with policy `k` played by actor `slots[k]`,
/// and returns every policy's per-episode returns and behaviour: the samples of a learned deviation
/// (`commons eval --against-learned`). Ticks `bar` once per episode.
pub fn returns(
    cfg: &CommonsEnvConfig,
    actors: &Actors,
    slots: &[usize],
    episodes: u32,
    seed: u64,
    bar: &indicatif::ProgressBar,
) -> Result<Returns, EvalError> {
    let r = play_slots(cfg, Side::Trained, actors, slots, episodes, seed, bar)?;
    let ret = AgentMeasure::Return as usize;
    Ok(Returns {
        returns: r.policies.iter().map(|p| p.agent[ret].clone()).collect(),
        behaviour: r.policies.iter().map(|p| p.actions.rates()).collect(),
    })
}

/// What [`evaluate`] is asked to do.
pub struct Plan<'a> {
    /// The scenario, with the evaluation's overrides applied.
    pub cfg: &'a CommonsEnvConfig,
    /// Episodes per side.
    pub episodes: u32,
    /// Episodes of the best-response check (the first of the seeds; at most `episodes`).
    pub check_episodes: u32,
    /// Seed of the first episode.
    pub seed: u64,
    /// The `--set` texts already applied to `cfg`, recorded in the report.
    pub overrides: Vec<String>,
    /// Fixed strategies of the best-response check (none: no check).
    pub strategies: &'a [Strategy],
}

/// Evaluates `actors` (the policies of a checkpoint at `checkpoint_step`, named `names`) on the plan's
/// seeds, against the same seeds with the learned personalities played by the reference's rules.
/// Also returns every episode's per-day metrics, and, when there are strategies, the best-response
/// check: on the first `check_episodes` of those seeds, each learned personality played in turn by
/// each strategy, the others as trained. `bar` ticks once per episode (`2 × episodes +
/// check_episodes × personalities × strategies` in all).
pub fn evaluate(
    plan: &Plan,
    actors: &Actors,
    names: &[String],
    checkpoint_step: u64,
    bar: &indicatif::ProgressBar,
) -> Result<(EvalReport, EvalDays, Option<FixedSamples>), EvalError> {
    let Plan {
        cfg,
        episodes,
        seed,
        strategies,
        ..
    } = *plan;
    let check_episodes = plan.check_episodes.min(episodes);
    bar.set_length(
        2 * episodes as u64 + check_episodes as u64 * (names.len() * strategies.len()) as u64,
    );
    let trained = play(cfg, Side::Trained, actors, episodes, seed, bar)?;
    let baseline = play(cfg, Side::Scripted, actors, episodes, seed, bar)?;
    let ret = AgentMeasure::Return as usize;
    let fixed = if strategies.is_empty() {
        None
    } else {
        let mut out = FixedSamples::default();
        for (p, name) in names.iter().enumerate() {
            // The check's seeds are the first `check_episodes` of the evaluation's, in order.
            let mut paired = trained.policy(p)?.agent[ret].clone();
            paired.truncate(check_episodes as usize);
            out.trained.insert(name.clone(), paired);
            for strategy in strategies {
                let side = Side::Fixed {
                    policy: p,
                    strategy,
                };
                let r = play(cfg, side, actors, check_episodes, seed, bar)?;
                out.fixed
                    .entry(name.clone())
                    .or_default()
                    .insert(strategy.name.clone(), r.policy(p)?.agent[ret].clone());
                out.fallbacks
                    .entry(name.clone())
                    .or_default()
                    .insert(strategy.name.clone(), r.fallbacks);
            }
        }
        Some(out)
    };
    let mut personalities = BTreeMap::new();
    for (p, name) in names.iter().enumerate() {
        let (t, b) = (trained.policy(p)?, baseline.policy(p)?);
        let a = Interval::of(&PolicySeries::values(&t.agent[ret]));
        let s = Interval::of(&PolicySeries::values(&b.agent[ret]));
        let compare = |m: &dyn Fn(&PolicySeries) -> &Vec<Option<f64>>| {
            Comparison::of(&PolicySeries::values(m(t)), &PolicySeries::values(m(b)))
        };
        let gain = AgentMeasure::NetWorthGain as usize;
        let impact = AgentMeasure::Impact as usize;
        personalities.insert(
            name.clone(),
            PersonalityEval {
                mean_return: a.mean,
                ci95: a.ci95,
                baseline_mean_return: s.mean,
                baseline_ci95: s.ci95,
                separated: a.separated_from(&s),
                net_worth_gain: compare(&|x| &x.agent[gain]),
                impact: compare(&|x| &x.agent[impact]),
                stake_on_favourite: compare(&|x| &x.stake),
                components: t.mean_components(),
                baseline_components: b.mean_components(),
                action_shares: t.action_shares(),
                behaviour: t.actions.rates(),
            },
        );
    }
    let report = EvalReport {
        checkpoint_step,
        episodes,
        seed,
        overrides: plan.overrides.clone(),
        personalities,
        outcomes: trained.outcome_intervals(),
        baseline_outcomes: baseline.outcome_intervals(),
        samples: EvalSamples {
            trained: trained.samples(names),
            scripted: baseline.samples(names),
        },
        provenance: Some(crate::provenance::Provenance::of(&cfg.population)),
    };
    let days = EvalDays {
        trained: trained.days,
        scripted: baseline.days,
    };
    Ok((report, days, fixed))
}
