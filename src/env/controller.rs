//! The controller that plays agents' actions inside the model, and the reference's rules for everybody
//! else.

use super::actions::{self, AgentAction, Support, Trade};
use crate::model::commons::ProposalChoice;
use crate::model::config::{ConvictionConfig, ParticipantConfig};
use crate::model::participant::{Participant, ParticipantId};
use crate::model::proposal::ProposalId;
use crate::model::voting::stake_by_affinity;
use crate::model::{Controller, Scripted};
use crate::rng::{ModelRng, RngError};

/// Plays the actions of agent participants (by id); participants whose personality label is not an
/// agent's follow the reference's rules ([`Scripted`]).
#[derive(Clone, Debug, Default)]
pub struct AgentController {
    /// Action per participant id (None: no action today).
    actions: Vec<Option<AgentAction>>,
    /// Whether each personality label is played by agents (policies or fixed strategies).
    agent_labels: Vec<bool>,
    /// Whether each personality label is played by a policy (what the scripted baseline replaces).
    policy_labels: Vec<bool>,
    /// Budget wallets (else buys are fractions of `delta_holdings_scale`).
    budget: bool,
    /// Agents follow the reference's rules instead of their actions (baselines: same roles, scripted).
    shadow: bool,
}

impl AgentController {
    /// A controller for the given labels: those played by agents (policies or fixed strategies), and
    /// among them those played by policies.
    pub fn new(agent_labels: Vec<bool>, policy_labels: Vec<bool>, budget: bool) -> Self {
        AgentController {
            actions: Vec::new(),
            agent_labels,
            policy_labels,
            budget,
            shadow: false,
        }
    }

    /// Makes policies' agents follow the reference's rules (their actions are ignored; fixed strategies
    /// keep playing); rewards are still computed.
    pub fn set_shadow(&mut self, on: bool) {
        self.shadow = on;
    }

    /// Forgets all actions.
    pub fn clear(&mut self) {
        self.actions.iter_mut().for_each(|a| *a = None);
    }

    /// Sets the action of a participant for the coming day.
    pub fn set(&mut self, id: ParticipantId, action: AgentAction) {
        let i = id.0 as usize;
        if self.actions.len() <= i {
            self.actions.resize(i + 1, None);
        }
        self.actions[i] = Some(action);
    }

    /// Whether a participant is an agent.
    pub fn is_agent(&self, p: &Participant) -> bool {
        self.agent_labels
            .get(p.personality as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The agent's action (PASSIVE if it has none today), or None for a scripted participant.
    fn action(&self, p: &Participant) -> Option<AgentAction> {
        let label = p.personality as usize;
        if !self.is_agent(p) || (self.shadow && self.policy_labels.get(label) == Some(&true)) {
            return None;
        }
        Some(
            self.actions
                .get(p.id.0 as usize)
                .copied()
                .flatten()
                .unwrap_or(AgentAction::PASSIVE),
        )
    }
}

impl Controller for AgentController {
    fn propose(
        &mut self,
        who: &Participant,
        rate: f64,
        funding_pool: f64,
        rng: &mut ModelRng,
    ) -> Result<ProposalChoice, RngError> {
        match self.action(who) {
            None => Scripted.propose(who, rate, funding_pool, rng),
            Some(a) => Ok(match actions::proposal_share(a.propose) {
                Some(share) => ProposalChoice::Amount(share * funding_pool),
                None => ProposalChoice::None,
            }),
        }
    }

    fn vote(
        &mut self,
        who: &mut Participant,
        candidates: &[ProposalId],
        cfg: &ConvictionConfig,
        rng: &mut ModelRng,
        scratch: &mut Vec<(f64, usize)>,
    ) -> Result<(), RngError> {
        let Some(a) = self.action(who) else {
            return Scripted.vote(who, candidates, cfg, rng, scratch);
        };
        let total = who.holdings.total();
        let mut choice = actions::support(a.support);
        if let Support::Slot(k) = choice {
            match a.slots[k].and_then(|id| candidates.iter().position(|&c| c == id)) {
                Some(pos) => {
                    for (j, e) in who.support.iter_mut().enumerate() {
                        e.tokens = if j == pos { total } else { 0.0 };
                    }
                    return Ok(());
                }
                // The proposal stopped being a candidate since the agent looked: keep.
                None => choice = Support::Keep,
            }
        }
        match choice {
            Support::Keep => {
                let staked: f64 = who.support.iter().map(|e| e.tokens).sum();
                if staked > 0.0 {
                    for e in &mut who.support {
                        e.tokens *= total / staked;
                    }
                }
            }
            Support::ByAffinity => {
                for e in &mut who.support {
                    e.tokens = 0.0;
                }
                stake_by_affinity(
                    &mut who.support,
                    total,
                    cfg.cutoff_multiplier,
                    cfg.cutoff_floor,
                    scratch,
                );
            }
            Support::Unstake | Support::Slot(_) => {
                for e in &mut who.support {
                    e.tokens = 0.0;
                }
            }
        }
        Ok(())
    }

    fn buy(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<f64, RngError> {
        match self.action(who) {
            None => Scripted.buy(who, cfg, rng),
            Some(a) => Ok(match actions::trade(a.trade) {
                Trade::Buy(f) if self.budget => f * who.wallet,
                Trade::Buy(f) => f * cfg.delta_holdings_scale,
                _ => 0.0,
            }),
        }
    }

    fn sell(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<f64, RngError> {
        match self.action(who) {
            None => Scripted.sell(who, cfg, rng),
            Some(a) => Ok(match actions::trade(a.trade) {
                Trade::Sell(f) => f * who.holdings.spendable().max(0.0),
                _ => 0.0,
            }),
        }
    }

    fn exit(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<bool, RngError> {
        match self.action(who) {
            None => Scripted.exit(who, cfg, rng),
            Some(a) => Ok(a.exit == 1),
        }
    }
}
