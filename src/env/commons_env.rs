//! `CommonsEnv`: the Commons as a multi-agent environment.
//!
//! ## Description
//! Every participant whose personality is played by a policy (`learned` or `frozen`) is an agent; all
//! others follow the reference's random rules. One step is one day: agents choose at the start of the day
//! from what they saw at the end of the previous one, then the model runs its 19 blocks in the reference's
//! order, using the agents' choices exactly where the reference asks a participant (propose in block 4,
//! stake in 12, buy in 14, sell in 16, exit in 17). Arrivals, proposal outcomes, speculator funding and
//! sentiment decay stay random processes of the world.
//!
//! ## Action space
//! Multi-discrete `[7, 3 + K, 3, 2]` = trade, support, propose, exit (see [`super::actions`]), with masks
//! ([`super::observation::mask`]); a masked action is refused with [`EnvError::MaskedAction`].
//!
//! ## Observation space
//! `f32[OBS_LEN]`: own state (10), the Commons (12), K = 4 candidate slots sorted by own affinity (7 each);
//! every index with its scaling is in docs/environment.md.
//!
//! ## Rewards
//! The personality's weights over the daily components wealth, impact, authorship, sentiment
//! ([`super::personality`]).
//!
//! ## Starting state
//! The reference's hatch (§6 of the reference model) from the reset seed; hatchers get personalities by
//! the scenario's shares.
//!
//! ## Episode end
//! An agent that leaves is `terminated`. After `simulation.days` days every live agent is `truncated`
//! and the episode is done.
//!
//! ## Arguments
//! A [`CommonsEnvConfig`]: the model configuration and the population table.

use super::actions::{AgentAction, HEADS, MASK_LEN, NVEC, SLOTS};
use super::api::{
    ActionSpec, AgentId, AgentRow, EnvError, MultiAgentEnv, ObservationSpec, PolicyId, StepOutput,
};
use super::controller::AgentController;
use super::observation::{self, CandidateFacts, References, OBS_LEN};
use super::personality::{ControllerKind, ObservationKind, ResolvedEntry, RewardWeights};
use crate::model::commons::Population;
use crate::model::config::WalletMode;
use crate::model::conviction::trigger_threshold;
use crate::model::participant::{Participant, ParticipantId};
use crate::model::{Commons, ModelConfig};

/// Everything a [`CommonsEnv`] needs.
#[derive(Clone, Debug)]
pub struct CommonsEnvConfig {
    /// The world.
    pub model: ModelConfig,
    /// Who is who: shares of hatchers and arrivals per personality, and their controllers. The rest of
    /// the participants follow the reference's rules.
    pub population: Vec<ResolvedEntry>,
}

/// Per-agent bookkeeping between steps.
#[derive(Clone, Copy, Debug)]
struct AgentState {
    policy: PolicyId,
    /// Net worth when the agent joined (≥ 1 DAI): the scale of its own observation features.
    basis: f64,
    wealth: f64,
    sentiment: f64,
    slots: [Option<crate::model::proposal::ProposalId>; SLOTS],
}

/// The reward components of one agent for one day.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RewardParts {
    /// Δ net worth / unit (10 % of the initial funding pool).
    pub wealth: f64,
    /// Affinity-weighted funds of proposals funded or completed today / unit.
    pub impact: f64,
    /// Funds granted to own proposals today / unit.
    pub authorship: f64,
    /// Δ sentiment.
    pub sentiment: f64,
    /// Net worth in DAI after the step (at joining, for a new agent); not a reward, a measurement.
    pub net_worth: f64,
}

impl RewardParts {
    /// Weighted sum.
    pub fn total(&self, w: &RewardWeights) -> f64 {
        w.wealth * self.wealth
            + w.impact * self.impact
            + w.authorship * self.authorship
            + w.sentiment * self.sentiment
    }
}

/// The Commons as a multi-agent environment (see the module documentation).
#[derive(Clone, Debug)]
pub struct CommonsEnv {
    cfg: CommonsEnvConfig,
    commons: Option<Commons>,
    refs: References,
    out: StepOutput,
    ctl: AgentController,
    /// Policy of each personality label (None: scripted).
    label_policy: Vec<Option<PolicyId>>,
    policies: Vec<String>,
    kinds: Vec<ObservationKind>,
    weights: Vec<RewardWeights>,
    agents: Vec<Option<AgentState>>,
    /// Agent of each row of `out`.
    row_ids: Vec<ParticipantId>,
    facts: Vec<CandidateFacts>,
    order: Vec<(f64, usize)>,
    commons_obs: [f32; 12],
    /// 10 % of the initial funding pool (≥ 1 DAI): the unit of every money reward component.
    unit: f64,
    done: bool,
    /// Reward components of each row of the last output.
    parts: Vec<RewardParts>,
}

impl CommonsEnv {
    /// An environment for `cfg`; call [`MultiAgentEnv::reset`] before stepping.
    pub fn new(cfg: CommonsEnvConfig) -> Self {
        let mut label_policy = vec![None];
        let mut policies = Vec::new();
        let mut kinds = Vec::new();
        let mut weights = Vec::new();
        for e in &cfg.population {
            if e.controller == ControllerKind::Scripted {
                label_policy.push(None);
            } else {
                label_policy.push(Some(policies.len() as PolicyId));
                policies.push(e.personality.name.clone());
                kinds.push(e.personality.observation);
                weights.push(e.personality.reward);
            }
        }
        let agent_labels = label_policy.iter().map(Option::is_some).collect();
        let budget = cfg.model.extensions.wallets == WalletMode::Budget;
        CommonsEnv {
            ctl: AgentController::new(agent_labels, budget),
            cfg,
            commons: None,
            refs: References::default(),
            out: StepOutput::default(),
            label_policy,
            policies,
            kinds,
            weights,
            agents: Vec::new(),
            row_ids: Vec::new(),
            facts: Vec::new(),
            order: Vec::new(),
            commons_obs: [0.0; 12],
            unit: 1.0,
            done: true,
            parts: Vec::new(),
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

    /// Baseline mode: agents keep their rows and rewards but follow the reference's rules (their
    /// actions are validated, then ignored). Used to compare trained policies with scripted
    /// participants in the same roles.
    pub fn set_scripted_baseline(&mut self, on: bool) {
        self.ctl.set_shadow(on);
    }

    /// The unit of the money reward components (`wealth`, `impact`, `authorship`) in DAI: 10 % of the
    /// funding pool at day 0 of the current episode (≥ 1). An agent's summed `wealth` rewards × this =
    /// its net-worth gain in DAI.
    pub fn reward_unit(&self) -> f64 {
        self.unit
    }

    /// Reward components behind each row's reward in the last output.
    pub fn reward_parts(&self) -> &[RewardParts] {
        &self.parts
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

    /// Facts about the candidates shared by every agent's observation.
    fn prepare_step_facts(&mut self) {
        let Some(c) = self.commons.as_mut() else {
            return;
        };
        observation::commons_features(c, &self.refs, &mut self.commons_obs);
        let pools = c.pools();
        let (pool, supply) = (pools.funding_pool, pools.token_supply);
        let beta = c.config().conviction.max_proposal_request;
        let rho = c.config().rho();
        self.facts.clear();
        for (k, id) in c.candidates().iter().enumerate() {
            let q = &c.proposals()[id.0 as usize];
            let conviction: f64 = c
                .participants()
                .iter()
                .map(|p| p.support[k].conviction)
                .sum();
            let threshold = trigger_threshold(q.funds_requested, pool, supply, beta, rho);
            self.facts.push(CandidateFacts {
                id: Some(*id),
                request_share: if pool > 0.0 {
                    ((q.funds_requested / (beta * pool)) as f32).min(2.0)
                } else {
                    2.0
                },
                progress: if threshold.is_finite() && threshold > 0.0 {
                    ((conviction / threshold) as f32).min(2.0)
                } else {
                    0.0
                },
                age: q.age,
                author: q.author,
            });
        }
    }

    /// Appends a row for participant `p` of `c` (observation, mask) and returns its slots.
    fn push_row(
        &mut self,
        c: &Commons,
        p: &Participant,
        row: AgentRow,
        basis: f64,
    ) -> [Option<crate::model::proposal::ProposalId>; SLOTS] {
        let start = self.out.obs.len();
        self.out.obs.resize(start + OBS_LEN, 0.0);
        let kind = self.kinds[row.policy as usize];
        let slots = observation::encode(
            c,
            p,
            basis,
            kind,
            &self.commons_obs,
            &self.facts,
            &self.refs,
            &mut self.order,
            &mut self.out.obs[start..],
        );
        let m = self.out.masks.len();
        self.out.masks.resize(m + MASK_LEN, true);
        if row.live() {
            observation::mask(p, c.budget_wallets(), &mut self.out.masks[m..]);
        }
        self.out.rows.push(row);
        self.row_ids.push(p.id);
        slots
    }

    /// Adds rows for the agents among `c`'s participants who joined on `day` (all hatchers at reset).
    fn push_newcomers(&mut self, c: &Commons, day: u32, truncated: bool) {
        let first = c.participants().partition_point(|p| p.joined_day < day);
        for p in &c.participants()[first..] {
            let Some(policy) = self
                .label_policy
                .get(p.personality as usize)
                .copied()
                .flatten()
            else {
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
            let slots = self.push_row(c, p, row, basis);
            self.parts.push(RewardParts {
                net_worth,
                ..RewardParts::default()
            });
            self.set_agent_state(
                p.id,
                AgentState {
                    policy,
                    basis,
                    wealth: net_worth,
                    sentiment: p.sentiment,
                    slots,
                },
            );
        }
    }

    fn fill_info(&mut self) {
        let c = self.commons.as_ref().expect("reset");
        let pools = c.pools();
        let counts = c.counts();
        self.out.info.step = c.day();
        self.out.info.done = self.done;
        self.out.info.metrics.clear();
        self.out.info.metrics.extend([
            ("token_price", pools.token_price()),
            ("funding_pool", pools.funding_pool),
            ("collateral_pool", pools.collateral_pool),
            ("token_supply", pools.token_supply),
            ("participants", c.participants().len() as f64),
            ("avg_sentiment", c.mirrors().sentiment),
            ("proposals_candidate", counts.candidate as f64),
            ("proposals_active", counts.active as f64),
            ("proposals_completed", counts.completed as f64),
            ("proposals_failed", counts.failed as f64),
        ]);
    }

    fn reward_parts_for(
        &self,
        c: &Commons,
        p: &Participant,
        s: &AgentState,
        present: bool,
    ) -> (RewardParts, f64) {
        let wealth = if present {
            observation::net_worth(c, p)
        } else if c.budget_wallets() {
            p.wallet
        } else {
            s.wealth
        };
        let ev = c.events();
        let mut impact = 0.0;
        let mut authorship = 0.0;
        for id in ev.activated.iter().chain(ev.completed.iter()) {
            let q = &c.proposals()[id.0 as usize];
            if let Some(a) = p.past_affinity(*id) {
                impact += a * q.funds_requested;
            }
        }
        for id in &ev.activated {
            let q = &c.proposals()[id.0 as usize];
            if q.author == Some(p.id) {
                authorship += q.funds_requested;
            }
        }
        (
            RewardParts {
                wealth: (wealth - s.wealth) / self.unit,
                impact: impact / self.unit,
                authorship: authorship / self.unit,
                sentiment: p.sentiment - s.sentiment,
                net_worth: wealth,
            },
            wealth,
        )
    }
}

impl MultiAgentEnv for CommonsEnv {
    fn reset(&mut self, seed: u64) -> Result<&StepOutput, EnvError> {
        let population = self.population();
        let commons = Commons::with_population(&self.cfg.model, seed, population)
            .map_err(|e| EnvError::Model(e.to_string()))?;
        let pools = commons.pools();
        self.refs = References {
            funding_pool: pools.funding_pool,
            collateral_pool: pools.collateral_pool,
            token_supply: pools.token_supply,
            token_price: pools.token_price(),
            horizon: self.cfg.model.simulation.days as f64,
        };
        self.unit = (0.1 * pools.funding_pool).max(1.0);
        self.commons = Some(commons);
        self.agents.clear();
        self.done = false;
        self.out.clear(OBS_LEN, MASK_LEN);
        self.row_ids.clear();
        self.parts.clear();
        self.prepare_step_facts();
        let c = self.commons.take().expect("just set");
        self.push_newcomers(&c, 0, false);
        self.commons = Some(c);
        self.fill_info();
        Ok(&self.out)
    }

    fn step(&mut self, actions: &[u32]) -> Result<&StepOutput, EnvError> {
        if self.done || self.commons.is_none() {
            return Err(EnvError::NeedsReset);
        }
        let heads = NVEC.len();
        let rows = self.out.rows.len();
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
        let mut acting: Vec<ParticipantId> = Vec::with_capacity(rows);
        for i in 0..rows {
            let row = self.out.rows[i];
            if !row.live() {
                continue;
            }
            let a = &actions[i * heads..(i + 1) * heads];
            let mask = self.out.mask_row(i);
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
            let id = self.row_ids[i];
            let slots = self
                .agent_state(id)
                .map(|s| s.slots)
                .unwrap_or([None; SLOTS]);
            self.ctl.set(
                id,
                AgentAction {
                    trade: a[0],
                    support: a[1],
                    propose: a[2],
                    exit: a[3],
                    slots,
                },
            );
            acting.push(id);
        }
        let mut commons = self.commons.take().expect("checked");
        let result = commons.step(&mut self.ctl);
        self.commons = Some(commons);
        result.map_err(|e| {
            self.done = true;
            EnvError::Model(e.to_string())
        })?;

        let c = self.commons.as_ref().expect("present");
        let truncated = c.day() >= self.cfg.model.simulation.days;
        self.done = truncated;
        self.prepare_step_facts();
        self.out.clear(OBS_LEN, MASK_LEN);
        self.row_ids.clear();
        self.parts.clear();
        // Rows: the agents that acted (id order), then today's new agents.
        let c = self.commons.take().expect("present");
        for id in &acting {
            let (p, present) = match c.participant_position(*id) {
                Some(pos) => (&c.participants()[pos], true),
                None => match c.events().departed.iter().find(|p| p.id == *id) {
                    Some(p) => (p, false),
                    None => continue,
                },
            };
            let Some(state) = self.agent_state(p.id) else {
                continue;
            };
            let (parts, wealth) = self.reward_parts_for(&c, p, &state, present);
            let reward = parts.total(&self.weights[state.policy as usize]) as f32;
            let row = AgentRow {
                agent: AgentId(p.id.0),
                policy: state.policy,
                reward,
                terminated: !present,
                truncated: present && truncated,
                is_new: false,
            };
            let slots = self.push_row(&c, p, row, state.basis);
            self.parts.push(parts);
            self.set_agent_state(
                p.id,
                AgentState {
                    wealth,
                    sentiment: p.sentiment,
                    slots,
                    ..state
                },
            );
        }
        self.push_newcomers(&c, c.day(), truncated);
        self.commons = Some(c);
        self.fill_info();
        Ok(&self.out)
    }

    fn output(&self) -> &StepOutput {
        &self.out
    }

    fn policies(&self) -> &[String] {
        &self.policies
    }

    fn observation_spec(&self, _policy: PolicyId) -> ObservationSpec {
        let low = vec![0.0f32; OBS_LEN];
        let mut high = vec![1.0f32; OBS_LEN];
        // log-scaled money ratios and capped shares can exceed 1
        for i in [1, 2, 8, 11, 12, 13] {
            high[i] = 10.0;
        }
        high[3] = 2.0;
        high[4] = 2.0;
        high[5] = 2.0;
        high[10] = 100.0; // price / initial price
        high[15] = 3.0; // ln(1 + participants) / 5
        for k in 0..SLOTS {
            let b = 22 + k * observation::SLOT.len();
            high[b + 2] = 2.0;
            high[b + 3] = 2.0;
            high[b + 4] = 2.0;
        }
        ObservationSpec {
            len: OBS_LEN,
            names: observation::names(),
            low,
            high,
        }
    }

    fn action_spec(&self, _policy: PolicyId) -> ActionSpec {
        ActionSpec {
            nvec: NVEC.to_vec(),
            heads: HEADS.iter().map(|s| s.to_string()).collect(),
        }
    }
}
