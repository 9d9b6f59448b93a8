//! The reference's random participant decisions (docs/reference-model.md §4.11, §4.15–§4.18), and the
//! [`Controller`] interface through which the model asks participants what they do.
//!
//! The model calls the controller exactly where the reference asks a participant: whether to propose
//! (block 4), how to stake (block 12), how much to buy (14) and sell (16), and whether to leave (17).
//! [`Scripted`] answers with the reference's rules, drawing from the model's streams in the reference's
//! order, so a Commons run with it reproduces the original simulation.

use super::commons::ProposalChoice;
use super::config::{ConvictionConfig, ParticipantConfig};
use super::participant::Participant;
use super::proposal::ProposalId;
use super::voting::stake_by_affinity;
use crate::rng::{ModelRng, RngError};

/// Decides for participants where the reference asks them.
pub trait Controller {
    /// Block 4: the randomly chosen participant `who` (index in node order) may create a proposal; the
    /// reference's rate is `median affinity / (1 + candidates' requested funds / funding pool)`. In
    /// ask-ahead mode ([`crate::model::Commons::ask_ahead`]) the world drew that gate the evening before
    /// and only asks a participant for whom it fired, with `rate` 1.
    fn propose(
        &mut self,
        who: &Participant,
        rate: f64,
        funding_pool: f64,
        rng: &mut ModelRng,
    ) -> Result<ProposalChoice, RngError>;

    /// Block 12: set `tokens` on the participant's support edges to candidates (`who.support[k]` is the
    /// edge to `candidates[k]`).
    fn vote(
        &mut self,
        who: &mut Participant,
        candidates: &[ProposalId],
        cfg: &ConvictionConfig,
        rng: &mut ModelRng,
        scratch: &mut Vec<(f64, usize)>,
    ) -> Result<(), RngError>;

    /// Block 14: DAI to spend on tokens (0 for none).
    fn buy(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<f64, RngError>;

    /// Block 16: tokens to sell, at most the spendable ones (0 for none).
    fn sell(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<f64, RngError>;

    /// Block 17: whether the participant leaves (burning all its tokens).
    fn exit(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<bool, RngError>;
}

/// The reference's behaviour rules.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scripted;

impl Controller for Scripted {
    /// `Bern(rate)` (P); if it fires, a proposal of the reference's random size.
    fn propose(
        &mut self,
        _: &Participant,
        rate: f64,
        _funding_pool: f64,
        rng: &mut ModelRng,
    ) -> Result<ProposalChoice, RngError> {
        Ok(if rng.probability(rate)? {
            ProposalChoice::Drawn
        } else {
            ProposalChoice::None
        })
    }

    /// `Bern(voting_engagement_rate)` (P, always drawn); then stake `holdings.total` over the candidates
    /// with affinity above `max(floor, multiplier·best)` in proportion to affinity.
    fn vote(
        &mut self,
        who: &mut Participant,
        _candidates: &[ProposalId],
        cfg: &ConvictionConfig,
        rng: &mut ModelRng,
        scratch: &mut Vec<(f64, usize)>,
    ) -> Result<(), RngError> {
        if rng.probability(cfg.voting_engagement_rate)? {
            let total = who.holdings.total();
            stake_by_affinity(
                &mut who.support,
                total,
                cfg.cutoff_multiplier,
                cfg.cutoff_floor,
                scratch,
            );
        }
        Ok(())
    }

    /// `Bern(0.6·s)` (P, always drawn); if it fires and `force = s − 0.75 > 0`: `U·force·70 000` DAI (R).
    fn buy(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<f64, RngError> {
        let s = who.sentiment;
        let engaged = rng.probability(cfg.engagement_rate_multiplier_buy * s)?;
        let force = s - cfg.sentiment_sensitivity;
        if engaged && force > 0.0 {
            Ok(rng.uniform() * force * cfg.delta_holdings_scale)
        } else {
            Ok(0.0)
        }
    }

    /// `Bern(0.6·s)` (P, always drawn); if it fires and `force < 0`: `U·(0.75 − s)·spendable` tokens (R).
    fn sell(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<f64, RngError> {
        let s = who.sentiment;
        let engaged = rng.probability(cfg.engagement_rate_multiplier_sell * s)?;
        let force = s - cfg.sentiment_sensitivity;
        if engaged && force < 0.0 {
            let spendable = who.holdings.spendable();
            Ok(rng.uniform() * -force * spendable)
        } else {
            Ok(0.0)
        }
    }

    /// Only if `s < 0.5` and the participant holds no vesting grant: `Bern(1 − 0.3·s)` (P). Hatchers never
    /// qualify (Q5).
    fn exit(
        &mut self,
        who: &Participant,
        cfg: &ParticipantConfig,
        rng: &mut ModelRng,
    ) -> Result<bool, RngError> {
        let s = who.sentiment;
        if s < cfg.sentiment_sensitivity_exit && !who.has_vesting_grant() {
            rng.probability(1.0 - cfg.engagement_rate_multiplier_exit * s)
        } else {
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::participant::ParticipantId;
    use crate::model::vesting::{TokenBatch, VestingSchedule};
    use crate::rng::{RngMode, StreamSeeding};

    fn participant(sentiment: f64, nonvesting: f64) -> Participant {
        Participant {
            id: ParticipantId(0),
            ref_id: 0,
            holdings: TokenBatch::new(0.0, nonvesting, VestingSchedule::NONE),
            sentiment,
            joined_day: 0,
            support: Vec::new(),
            personality: 0,
            wallet: 0.0,
            past: Vec::new(),
        }
    }

    fn sure_rng() -> ModelRng {
        ModelRng::new(RngMode::NumpyLegacy, StreamSeeding::SharedSeed, 1).unwrap()
    }

    /// docs/reference-model.md §9, "Behaviour rules": buy s = 0.9, U = 0.5 → 5250.000000000001 DAI.
    #[test]
    fn buy_and_sell_sizes() {
        let cfg = ParticipantConfig::default();
        // force · scale with U = 0.5, computed as the rule does
        assert_eq!(
            0.5 * (0.9 - 0.75) * cfg.delta_holdings_scale,
            5250.000000000001
        );
        assert_eq!(0.5 * -(0.5f64 - 0.75) * 1000.0, 125.0);
        // a participant at 0.75 neither buys nor sells, whatever the draws
        let mut rng = sure_rng();
        let p = participant(0.75, 100.0);
        for _ in 0..50 {
            assert_eq!(Scripted.buy(&p, &cfg, &mut rng).unwrap(), 0.0);
            assert_eq!(Scripted.sell(&p, &cfg, &mut rng).unwrap(), 0.0);
        }
    }

    #[test]
    fn exit_rule() {
        let cfg = ParticipantConfig::default();
        assert!((1.0 - cfg.engagement_rate_multiplier_exit * 0.3 - 0.91).abs() < 1e-15);
        let mut rng = sure_rng();
        // s = 0.5: no exit check at all
        assert!(!Scripted
            .exit(&participant(0.5, 1.0), &cfg, &mut rng)
            .unwrap());
        // a hatcher (vesting grant) never leaves
        let mut h = participant(0.0, 0.0);
        h.holdings = TokenBatch::new(10.0, 0.0, VestingSchedule::from_80p_days(120.0, 2.0));
        for _ in 0..50 {
            assert!(!Scripted.exit(&h, &cfg, &mut rng).unwrap());
        }
        // s = 0: leaves for sure
        assert!(Scripted
            .exit(&participant(0.0, 1.0), &cfg, &mut rng)
            .unwrap());
    }
}
