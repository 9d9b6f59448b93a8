//! `CommonsEnv`: the Commons as a multi-agent environment (documented on the type).

use super::actions::{AgentAction, HEADS, MASK_LEN, NVEC, SLOTS};
use super::api::{
    ActionSpec, AgentId, AgentRow, EnvError, MultiAgentEnv, ObservationSpec, PolicyId, StepOutput,
};
use super::controller::AgentController;
use super::observation::{self, Encoder, OBS_LEN};
pub use super::personality::RewardParts;
use super::personality::{reward_unit, ControllerKind, LastSeen, Personality, ResolvedEntry};
use super::strategy::{Fallbacks, Strategy};
use crate::model::commons::Population;
use crate::model::config::WalletMode;
use crate::model::metrics::Metrics;
use crate::model::participant::{Participant, ParticipantId};
use crate::model::proposal::ProposalId;
use crate::model::{Commons, ModelConfig};

/// Everything a [`CommonsEnv`] needs.
#[derive(Clone, Debug)]
pub struct CommonsEnvConfig {
    /// The world.
    pub model: ModelConfig,
    /// Who is who: shares of hatchers and arrivals per personality, and their controllers. The rest of
    /// the participants follow the reference's rules.
    pub population: Vec<ResolvedEntry>,
    /// A unilateral deviation (`commons eval --against-learned`): in every episode, the first agent of
    /// this policy-played personality (the first of its hatchers, or its first arrival) is played by
    /// one more policy, named [`deviator_name`] of it, with the same observation, reward and mask;
    /// its peers keep their own policy. None: every agent plays its personality's policy.
    pub deviant: Option<String>,
}

/// The policy that plays the unilateral deviant of `personality` ([`CommonsEnvConfig::deviant`]).
pub fn deviator_name(personality: &str) -> String {
    format!("{personality}+deviator")
}

/// Per-agent bookkeeping between steps.
#[derive(Clone, Copy, Debug)]
struct AgentState {
    policy: PolicyId,
    /// Net worth when the agent joined (≥ 1 DAI): the scale of its own observation features.
    basis: f64,
    /// What today's reward components are differences of.
    last: LastSeen,
    /// The proposals in its candidate slots when it last observed.
    slots: [Option<ProposalId>; SLOTS],
}

/// Who is an agent: the policy of each personality label and each policy's personality, and the
/// labels that fixed strategies play.
#[derive(Clone, Debug)]
struct Roster {
    /// Policy of each personality label (label 0: the reference's participants; None: scripted or
    /// fixed).
    label_policy: Vec<Option<PolicyId>>,
    /// Fixed strategy of each personality label (an index into `fixed`).
    label_fixed: Vec<Option<usize>>,
    /// Name of each policy.
    names: Vec<String>,
    /// Personality of each policy.
    personalities: Vec<Personality>,
    /// The fixed strategies of the population, with their personalities.
    fixed: Vec<(Strategy, Personality)>,
    /// A unilateral deviation: (the personality's policy, the deviator's policy).
    deviant: Option<(PolicyId, PolicyId)>,
}

impl Roster {
    fn new(population: &[ResolvedEntry], deviant: Option<&str>) -> Self {
        let mut r = Roster {
            label_policy: vec![None],
            label_fixed: vec![None],
            names: Vec::new(),
            personalities: Vec::new(),
            fixed: Vec::new(),
            deviant: None,
        };
        for e in population {
            let (policy, fixed) = match (&e.controller, &e.strategy) {
                (ControllerKind::Scripted, _) => (None, None),
                // Checked when the scenario is resolved; without a strategy it does nothing.
                (ControllerKind::Fixed, s) => {
                    let s = s
                        .clone()
                        .unwrap_or_else(|| Strategy::passive(&e.personality.name));
                    r.fixed.push((s, e.personality.clone()));
                    (None, Some(r.fixed.len() - 1))
                }
                _ => {
                    r.names.push(e.personality.name.clone());
                    r.personalities.push(e.personality.clone());
                    (Some(r.personalities.len() as PolicyId - 1), None)
                }
            };
            r.label_policy.push(policy);
            r.label_fixed.push(fixed);
        }
        // The deviator comes last, so that every other policy keeps its index.
        if let Some(of) = deviant.and_then(|d| r.names.iter().position(|n| n == d)) {
            r.names.push(deviator_name(&r.names[of]));
            r.personalities.push(r.personalities[of].clone());
            r.deviant = Some((of as PolicyId, r.personalities.len() as PolicyId - 1));
        }
        r
    }

    /// The policy of an agent seen for the first time: its personality's, or the deviator's for the
    /// first agent of the deviating personality in an episode (`taken` records that it is gone).
    fn policy_of_new(&self, p: &Participant, taken: &mut bool) -> Option<PolicyId> {
        let policy = self.policy_of(p)?;
        match self.deviant {
            Some((of, deviator)) if of == policy && !*taken => {
                *taken = true;
                Some(deviator)
            }
            _ => Some(policy),
        }
    }

    fn fixed_of(&self, p: &Participant) -> Option<usize> {
        self.label_fixed
            .get(p.personality as usize)
            .copied()
            .flatten()
    }

    fn policy_of(&self, p: &Participant) -> Option<PolicyId> {
        self.label_policy
            .get(p.personality as usize)
            .copied()
            .flatten()
    }
}

/// What the environment writes after each reset and step: the output rows, the bookkeeping of every
/// agent, and the observation encoder. Kept apart from the world so both can be borrowed at once.
#[derive(Clone, Debug, Default)]
struct Rows {
    out: StepOutput,
    /// Agent of each row of `out`.
    ids: Vec<ParticipantId>,
    /// Reward components of each row of `out`.
    parts: Vec<RewardParts>,
    /// Bookkeeping by participant id (None: not an agent, or not yet seen).
    agents: Vec<Option<AgentState>>,
    encoder: Encoder,
    /// The unit of the money reward components this episode.
    unit: f64,
    /// Whether this episode's unilateral deviant has been picked.
    deviant_taken: bool,
}

impl Rows {
    /// Starts an episode on a freshly hatched world.
    fn begin_episode(&mut self, c: &Commons) {
        self.encoder.reset(c, c.config().simulation.days);
        self.unit = reward_unit(c);
        self.agents.clear();
        self.deviant_taken = false;
    }

    /// Empties the output for the next rows.
    fn clear(&mut self) {
        self.out.clear(OBS_LEN, MASK_LEN);
        self.ids.clear();
        self.parts.clear();
    }

    fn agent_state(&self, id: ParticipantId) -> Option<AgentState> {
        self.agents.get(id.0 as usize).copied().flatten()
    }

    fn set_agent_state(&mut self, id: ParticipantId, s: AgentState) {
        let i = id.0 as usize;
        if self.agents.len() <= i {
            self.agents.resize(i + 1, None);
        }
        self.agents[i] = Some(s);
    }

    /// Appends a row for participant `p` of `c` (observation, mask) and returns its slots.
    fn push(
        &mut self,
        c: &Commons,
        p: &Participant,
        row: AgentRow,
        basis: f64,
        personality: &Personality,
    ) -> [Option<ProposalId>; SLOTS] {
        let start = self.out.obs.len();
        self.out.obs.resize(start + OBS_LEN, 0.0);
        let slots = self.encoder.encode(
            c,
            p,
            basis,
            personality.observation,
            &mut self.out.obs[start..],
        );
        let m = self.out.masks.len();
        self.out.masks.resize(m + MASK_LEN, true);
        if row.live() {
            observation::mask(
                p,
                c.budget_wallets(),
                c.asked() == Some(p.id),
                &mut self.out.masks[m..],
            );
        }
        self.out.rows.push(row);
        self.ids.push(p.id);
        slots
    }

    /// Adds rows for the agents among `c`'s participants who joined on `day` (all hatchers at reset).
    fn push_newcomers(&mut self, c: &Commons, day: u32, truncated: bool, roster: &Roster) {
        let first = c.participants().partition_point(|p| p.joined_day < day);
        for p in &c.participants()[first..] {
            let Some(policy) = roster.policy_of_new(p, &mut self.deviant_taken) else {
                continue;
            };
            let net_worth = observation::net_worth(c, p);
            let basis = net_worth.max(1.0);
            let row = AgentRow {
                agent: AgentId(p.id.0),
                policy,
                reward: 0.0,
                terminated: false,
                truncated,
                is_new: true,
            };
            let slots = self.push(c, p, row, basis, &roster.personalities[policy as usize]);
            self.parts.push(RewardParts {
                net_worth,
                ..RewardParts::default()
            });
            self.set_agent_state(
                p.id,
                AgentState {
                    policy,
                    basis,
                    last: LastSeen {
                        net_worth,
                        sentiment: p.sentiment,
                    },
                    slots,
                },
            );
        }
    }

    /// Adds the row of an agent that acted today: its reward and its next observation.
    fn push_actor(&mut self, c: &Commons, id: ParticipantId, truncated: bool, roster: &Roster) {
        let (p, present) = match c.participant_position(id) {
            Some(pos) => (&c.participants()[pos], true),
            None => match c.events().departed.iter().find(|p| p.id == id) {
                Some(p) => (p, false),
                None => return,
            },
        };
        let Some(state) = self.agent_state(p.id) else {
            return;
        };
        let personality = &roster.personalities[state.policy as usize];
        let parts = RewardParts::measure(c, p, &state.last, present, self.unit);
        let row = AgentRow {
            agent: AgentId(p.id.0),
            policy: state.policy,
            reward: personality.reward(&parts) as f32,
            terminated: !present,
            truncated: present && truncated,
            is_new: false,
        };
        let slots = self.push(c, p, row, state.basis, personality);
        self.parts.push(parts);
        self.set_agent_state(
            p.id,
            AgentState {
                last: LastSeen {
                    net_worth: parts.net_worth,
                    sentiment: p.sentiment,
                },
                slots,
                ..state
            },
        );
    }

    /// Episode information: the day, whether the episode is over, the world's metrics.
    fn fill_info(&mut self, c: &Commons, done: bool) {
        let info = &mut self.out.info;
        info.step = c.day();
        info.done = done;
        info.metrics.clear();
        info.metrics
            .extend(Metrics::of(c).fields().map(|(name, v)| (name, v.as_f64())));
    }
}

/// The Commons as a multi-agent environment.
///
/// ## Description
/// Every participant whose personality is played by a policy (`learned` or `frozen`) is an agent; all
/// others follow the reference's random rules. One step is one day: agents choose at the start of the
/// day from what they saw at the end of the previous one, then the model runs its 19 blocks in the
/// reference's order, using the agents' choices exactly where the reference asks a participant (propose
/// in block 4, stake in 12, buy in 14, sell in 16, exit in 17). Arrivals, proposal outcomes, speculator
/// funding and sentiment decay stay random processes of the world.
///
/// ## Action Space
/// Multi-discrete `[7, 3 + K, 3, 2]` = trade, support, propose, exit (bins in [`super::actions`]), with
/// masks ([`observation::mask`]); a masked action is refused with [`EnvError::MaskedAction`].
///
/// ## Observation Space
/// `f32[OBS_LEN]`, the same layout for every personality; the tables below are generated from the
/// feature table of [`observation`]:
///
#[doc = include_str!("tables/observation.md")]
///
/// Personality `observation = "market-only"` zeroes the slots.
///
/// ## Rewards
/// Per agent and day, the personality's weights over the reward components ([`super::personality`]);
/// the money components are in one unit per episode, U = 10 % of the funding pool at day 0:
///
#[doc = include_str!("tables/rewards.md")]
///
/// ## Starting State
/// The reference's hatch (§6 of the reference model) from the reset seed; hatchers get personalities by
/// the scenario's shares.
///
/// ## Episode End
/// An agent that leaves is `terminated` (its last row carries its last reward). After `simulation.days`
/// days every live agent is `truncated` (bootstrap its value) and `info.done` is set. Agents that arrive
/// mid-episode appear with `is_new` and act from the next step.
///
/// ## Arguments
/// A [`CommonsEnvConfig`]: the model configuration and the population table.
#[derive(Clone, Debug)]
pub struct CommonsEnv {
    cfg: CommonsEnvConfig,
    commons: Option<Commons>,
    ctl: AgentController,
    roster: Roster,
    rows: Rows,
    /// Agents that act in the coming step (reused buffer).
    acting: Vec<ParticipantId>,
    done: bool,
    /// Fixed strategies: what they decide from.
    fixed: FixedPlay,
}

/// The state of the fixed strategies: those of the population (played for participants without rows),
/// and those that replace a policy's actions ([`CommonsEnv::set_fixed_override`]).
#[derive(Clone, Debug, Default)]
struct FixedPlay {
    /// Net worth when each fixed participant was first seen (by id; NaN: not yet), its scale.
    basis: Vec<f64>,
    /// Per fixed strategy of the population: masked choices.
    fallbacks: Vec<Fallbacks>,
    /// Per policy: the strategy that plays it instead of the actions given, if any.
    overrides: Vec<Option<Strategy>>,
    /// Per policy: masked choices of its override.
    override_fallbacks: Vec<Fallbacks>,
    obs: Vec<f32>,
    mask: Vec<bool>,
}

impl CommonsEnv {
    /// An environment for `cfg`; call [`MultiAgentEnv::reset`] before stepping.
    pub fn new(cfg: CommonsEnvConfig) -> Self {
        let roster = Roster::new(&cfg.population, cfg.deviant.as_deref());
        let agent_labels = roster
            .label_policy
            .iter()
            .zip(&roster.label_fixed)
            .map(|(p, f)| p.is_some() || f.is_some())
            .collect();
        let policy_labels = roster.label_policy.iter().map(Option::is_some).collect();
        let budget = cfg.model.extensions.wallets == WalletMode::Budget;
        CommonsEnv {
            ctl: AgentController::new(agent_labels, policy_labels, budget),
            cfg,
            commons: None,
            rows: Rows {
                unit: 1.0,
                ..Rows::default()
            },
            acting: Vec::new(),
            done: true,
            fixed: FixedPlay {
                fallbacks: vec![Fallbacks::default(); roster.fixed.len()],
                overrides: vec![None; roster.names.len()],
                override_fallbacks: vec![Fallbacks::default(); roster.names.len()],
                obs: vec![0.0; OBS_LEN],
                mask: vec![true; MASK_LEN],
                ..FixedPlay::default()
            },
            roster,
        }
    }

    /// Plays `policy`'s agents with a fixed strategy instead of the actions given to [`Self::step`]
    /// (which are then ignored for those rows), from each agent's own observation and mask; None
    /// restores the given actions. Rows, rewards and everything else stay as they are: this is how
    /// `commons eval --against-fixed` puts a fixed strategy in a trained personality's place.
    pub fn set_fixed_override(&mut self, policy: PolicyId, strategy: Option<Strategy>) {
        if let Some(slot) = self.fixed.overrides.get_mut(policy as usize) {
            *slot = strategy;
        }
    }

    /// How often each policy's override ([`Self::set_fixed_override`]) chose a masked bin and fell back
    /// to the head's no-op, since the environment was made.
    pub fn override_fallbacks(&self) -> &[Fallbacks] {
        &self.fixed.override_fallbacks
    }

    /// How often each fixed strategy of the population (in population order, fixed entries only) chose
    /// a masked bin, since the environment was made.
    pub fn fixed_fallbacks(&self) -> &[Fallbacks] {
        &self.fixed.fallbacks
    }

    /// Decides today's actions of the population's fixed participants from their observations of the
    /// world as it is now (what agents saw at the end of yesterday) and hands them to the controller.
    /// Today's arrivals are not there yet: like arriving agents, they do nothing on their first day.
    fn play_fixed(&mut self) {
        if self.roster.fixed.is_empty() {
            return;
        }
        let Some(c) = self.commons.as_ref() else {
            return;
        };
        let f = &mut self.fixed;
        for p in c.participants() {
            let Some(k) = self.roster.fixed_of(p) else {
                continue;
            };
            let i = p.id.0 as usize;
            if f.basis.len() <= i {
                f.basis.resize(i + 1, f64::NAN);
            }
            if f.basis[i].is_nan() {
                f.basis[i] = observation::net_worth(c, p).max(1.0);
            }
            let (strategy, personality) = &self.roster.fixed[k];
            let slots =
                self.rows
                    .encoder
                    .encode(c, p, f.basis[i], personality.observation, &mut f.obs);
            observation::mask(p, c.budget_wallets(), c.asked() == Some(p.id), &mut f.mask);
            let a = strategy.decide(&f.obs, &f.mask, &mut f.fallbacks[k]);
            self.ctl.set(p.id, AgentAction::from_bins(&a, slots));
        }
    }

    /// The world (None before the first reset).
    pub fn commons(&self) -> Option<&Commons> {
        self.commons.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &CommonsEnvConfig {
        &self.cfg
    }

    /// Baseline mode: policies' agents keep their rows and rewards but follow the reference's rules
    /// (their actions are validated, then ignored; fixed strategies keep playing). Used to compare
    /// trained policies with scripted participants in the same roles.
    pub fn set_scripted_baseline(&mut self, on: bool) {
        self.ctl.set_shadow(on);
    }

    /// The unit of the money reward components (`wealth`, `impact`, `authorship`) in DAI: 10 % of the
    /// funding pool at day 0 of the current episode (≥ 1). An agent's summed `wealth` rewards × this =
    /// its net-worth gain in DAI.
    pub fn reward_unit(&self) -> f64 {
        self.rows.unit
    }

    /// Reward components behind each row's reward in the last output.
    pub fn reward_parts(&self) -> &[RewardParts] {
        &self.rows.parts
    }

    /// Whether the world draws block 4's participant the evening before, so that agents see when they
    /// are asked: whenever some personality that is not scripted has a share of hatchers or arrivals.
    /// An all-scripted world keeps the reference's order of draws (and equals `commons simulate`).
    fn asks_ahead(&self) -> bool {
        self.cfg.population.iter().any(|e| {
            e.controller != ControllerKind::Scripted && (e.hatchers > 0.0 || e.arrivals > 0.0)
        })
    }

    fn population(&self) -> Population {
        let rest = |f: fn(&ResolvedEntry) -> f64| {
            let used: f64 = self.cfg.population.iter().map(f).sum();
            let mut w = vec![(1.0 - used).max(0.0)];
            w.extend(self.cfg.population.iter().map(f));
            w
        };
        if self.cfg.population.is_empty() {
            return Population::default();
        }
        Population {
            hatchers: rest(|e| e.hatchers),
            arrivals: rest(|e| e.arrivals),
        }
    }

    /// Checks one action per row of the last output against its mask and hands the live rows' actions
    /// to the controller; fills `self.acting`.
    fn take_actions(&mut self, actions: &[u32]) -> Result<(), EnvError> {
        let heads = NVEC.len();
        let out = &self.rows.out;
        let rows = out.rows.len();
        if actions.len() != rows * heads {
            return Err(EnvError::ActionCount {
                expected: rows * heads,
                rows,
                heads,
                got: actions.len(),
            });
        }
        // Validate every live row's action against its mask before anything reaches the model.
        self.ctl.clear();
        self.acting.clear();
        for (i, row) in out.rows.iter().enumerate() {
            if !row.live() {
                continue;
            }
            let mask = out.mask_row(i);
            let decided;
            let a: &[u32] = match &self.fixed.overrides[row.policy as usize] {
                Some(s) => {
                    let fb = &mut self.fixed.override_fallbacks[row.policy as usize];
                    decided = s.decide(out.obs_row(i), mask, fb);
                    &decided
                }
                None => &actions[i * heads..(i + 1) * heads],
            };
            let mut offset = 0;
            for (h, (&v, &n)) in a.iter().zip(NVEC.iter()).enumerate() {
                if v as usize >= n || !mask[offset + v as usize] {
                    return Err(EnvError::MaskedAction {
                        agent: row.agent,
                        head: HEADS[h],
                        value: v,
                    });
                }
                offset += n;
            }
            let id = self.rows.ids[i];
            let slots = self
                .rows
                .agent_state(id)
                .map(|s| s.slots)
                .unwrap_or([None; SLOTS]);
            self.ctl.set(id, AgentAction::from_bins(a, slots));
            self.acting.push(id);
        }
        Ok(())
    }
}

impl MultiAgentEnv for CommonsEnv {
    fn behaviours(&self) -> &'static [&'static str] {
        &super::actions::BEHAVIOURS
    }

    fn shows(&self, action: &[u32], shown: &mut [bool]) {
        for (dst, b) in shown.iter_mut().zip(super::actions::behaviours(action)) {
            *dst = b;
        }
    }

    fn reset(&mut self, seed: u64) -> Result<&StepOutput, EnvError> {
        let population = self.population();
        let mut c = Commons::with_population(&self.cfg.model, seed, population)?;
        if self.asks_ahead() {
            c.ask_ahead()?;
        }
        self.done = false;
        let rows = &mut self.rows;
        rows.begin_episode(&c);
        self.fixed.basis.clear();
        rows.clear();
        rows.encoder.prepare(&mut c);
        rows.push_newcomers(&c, 0, false, &self.roster);
        rows.fill_info(&c, false);
        self.commons = Some(c);
        Ok(&self.rows.out)
    }

    fn step(&mut self, actions: &[u32]) -> Result<&StepOutput, EnvError> {
        if self.done || self.commons.is_none() {
            return Err(EnvError::NeedsReset);
        }
        self.take_actions(actions)?;
        self.play_fixed();
        let Some(c) = self.commons.as_mut() else {
            return Err(EnvError::NeedsReset); // checked above
        };
        if let Err(e) = c.step(&mut self.ctl) {
            self.done = true;
            return Err(e.into());
        }
        let truncated = c.day() >= self.cfg.model.simulation.days;
        self.done = truncated;
        let rows = &mut self.rows;
        rows.encoder.prepare(c);
        rows.clear();
        // Rows: the agents that acted (id order), then today's new agents.
        for &id in &self.acting {
            rows.push_actor(c, id, truncated, &self.roster);
        }
        rows.push_newcomers(c, c.day(), truncated, &self.roster);
        rows.fill_info(c, truncated);
        Ok(&self.rows.out)
    }

    fn output(&self) -> &StepOutput {
        &self.rows.out
    }

    fn policies(&self) -> &[String] {
        &self.roster.names
    }

    fn observation_spec(&self, _policy: PolicyId) -> ObservationSpec {
        observation::observation_spec()
    }

    fn action_spec(&self, _policy: PolicyId) -> ActionSpec {
        ActionSpec {
            nvec: NVEC.to_vec(),
            heads: HEADS.iter().map(|s| s.to_string()).collect(),
        }
    }
}
