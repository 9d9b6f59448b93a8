//! Every parameter of the model, with the reference's defaults (reference-model.md §3), and their
//! allowed ranges.
//!
//! The scenario files in `envs/` deserialize into [`ModelConfig`]; every section and field is optional
//! and defaults to the reference value, unknown fields are rejected, and [`ModelConfig::validate`] checks
//! every range.

use serde::{Deserialize, Serialize};

use crate::rng::{RngMode, StreamSeeding};

/// A parameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}` = {value} is out of range (allowed: {allowed})")]
pub struct RangeError {
    /// Dotted path of the field, e.g. `curve.kappa`.
    pub field: String,
    /// The offending value, as written.
    pub value: String,
    /// The allowed range, in words.
    pub allowed: &'static str,
}

/// How an episode runs: horizon and random-number source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// Number of simulated days `T` (the reference's `timesteps_days`).
    pub days: u32,
    /// Random-number engine: `default` (PCG32) or `numpy-legacy` (bit-exact with the original).
    pub rng: RngMode,
    /// Whether the five random streams share the seed (`shared-seed`, the reference's Q1) or are
    /// `independent`.
    pub streams: StreamSeeding,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            days: 730,
            rng: RngMode::Default,
            streams: StreamSeeding::SharedSeed,
        }
    }
}

/// The hatch (day 0): hatchers, their contributions, the split and the vesting of hatch tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HatchConfig {
    /// Number of hatchers `H` (≥ 1).
    pub hatchers: u32,
    /// Each hatcher contributes `U · contribution_scale` DAI (the reference's `10e5`).
    pub contribution_scale: f64,
    /// DAI per token at the hatch; `S0 = raise / hatch_price`.
    pub hatch_price: f64,
    /// Share θ of the raise sent to the funding pool; the rest is collateral.
    pub hatch_tribute: f64,
    /// Days after which 80 % of hatch tokens are unlocked (cliff included).
    pub vesting_80p_unlocked: f64,
    /// Cliff / half-life ratio of the vesting curve.
    pub vesting_cliff_ratio: f64,
    /// Hatcher sentiment is `base + spread·U` (after one discarded draw).
    pub sentiment_base: f64,
    /// See `sentiment_base`.
    pub sentiment_spread: f64,
    /// The mirrored average sentiment before day 1 (the reference hard-codes 0.75).
    pub initial_sentiment_mirror: f64,
}

impl Default for HatchConfig {
    fn default() -> Self {
        HatchConfig {
            hatchers: 5,
            contribution_scale: 1_000_000.0,
            hatch_price: 0.1,
            hatch_tribute: 0.2,
            vesting_80p_unlocked: 120.0,
            vesting_cliff_ratio: 2.0,
            sentiment_base: 0.5,
            sentiment_spread: 0.5,
            initial_sentiment_mirror: 0.75,
        }
    }
}

/// The augmented bonding curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurveConfig {
    /// Curve exponent κ (> 0; the reference's CLI takes integers).
    pub kappa: f64,
    /// Share τ of every burn's DAI sent to the funding pool.
    pub exit_tribute: f64,
}

impl Default for CurveConfig {
    fn default() -> Self {
        CurveConfig {
            kappa: 2.0,
            exit_tribute: 0.35,
        }
    }
}

/// Conviction voting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConvictionConfig {
    /// Days for a constant stake to reach 80 % of its maximum conviction; `alpha = 0.2^(1/days)`.
    pub days_to_80p_of_max_voting_weight: f64,
    /// β: asymptotic maximum share of the funding pool one proposal can request.
    pub max_proposal_request: f64,
    /// `rho = rho_multiplier · β²`.
    pub rho_multiplier: f64,
    /// Voting cutoff multiplier: vote for candidates with affinity > `max(floor, multiplier · best)`.
    pub cutoff_multiplier: f64,
    /// Voting cutoff floor.
    pub cutoff_floor: f64,
    /// Daily probability that a participant re-stakes (the reference always does: 1.0).
    pub voting_engagement_rate: f64,
}

impl Default for ConvictionConfig {
    fn default() -> Self {
        ConvictionConfig {
            days_to_80p_of_max_voting_weight: 10.0,
            max_proposal_request: 0.2,
            rho_multiplier: 0.5,
            cutoff_multiplier: 0.75,
            cutoff_floor: 0.5,
            voting_engagement_rate: 1.0,
        }
    }
}

/// Proposals: initial ones, sizes of new ones, resolution rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProposalConfig {
    /// Number of proposals at the hatch `P0` (≥ 1).
    pub initial: u32,
    /// Bootstrap proposals request `Gamma(funds_requested_alpha, funds_requested_min, initial_scale)` DAI.
    pub initial_scale: f64,
    /// Gamma shape of requested funds.
    pub funds_requested_alpha: f64,
    /// Gamma location (minimum) of requested funds, DAI.
    pub funds_requested_min: f64,
    /// New proposals request `Gamma(alpha, min, scale_factor · funding pool)` DAI.
    pub scale_factor: f64,
    /// Daily failure rate of an active proposal is `1/(base_failure_rate + ln f)`.
    pub base_failure_rate: f64,
    /// Daily success rate of an active proposal is `1/(base_success_rate + ln f)`.
    pub base_success_rate: f64,
    /// Probability of a conflict edge between two bootstrap proposals (inert; draws only).
    pub conflict_rate: f64,
}

impl Default for ProposalConfig {
    fn default() -> Self {
        ProposalConfig {
            initial: 2,
            initial_scale: 10_000.0,
            funds_requested_alpha: 3.0,
            funds_requested_min: 0.001,
            scale_factor: 0.01,
            base_failure_rate: 0.15,
            base_success_rate: 0.30,
            conflict_rate: 0.25,
        }
    }
}

/// Participants' behaviour rules and sentiment dynamics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParticipantConfig {
    /// Daily sentiment decay (subtracted, floored at 0).
    pub sentiment_decay: f64,
    /// Buy/sell force is `sentiment − sentiment_sensitivity`.
    pub sentiment_sensitivity: f64,
    /// Buy size is `U · force · delta_holdings_scale` DAI.
    pub delta_holdings_scale: f64,
    /// Daily probability of considering a buy is `engagement_rate_multiplier_buy · sentiment`.
    pub engagement_rate_multiplier_buy: f64,
    /// Daily probability of considering a sale is `engagement_rate_multiplier_sell · sentiment`.
    pub engagement_rate_multiplier_sell: f64,
    /// Exit probability is `1 − engagement_rate_multiplier_exit · sentiment`.
    pub engagement_rate_multiplier_exit: f64,
    /// Participants consider leaving only below this sentiment.
    pub sentiment_sensitivity_exit: f64,
    /// Author's sentiment bonus when its proposal becomes active.
    pub sentiment_bonus_proposal_becomes_active: f64,
    /// Sentiment change × affinity for author and stakers when a proposal completes.
    pub sentiment_bonus_proposal_becomes_completed: f64,
    /// Sentiment change × affinity for author and stakers when a proposal fails.
    pub sentiment_bonus_proposal_becomes_failed: f64,
}

impl Default for ParticipantConfig {
    fn default() -> Self {
        ParticipantConfig {
            sentiment_decay: 0.005,
            sentiment_sensitivity: 0.75,
            delta_holdings_scale: 70_000.0,
            engagement_rate_multiplier_buy: 0.6,
            engagement_rate_multiplier_sell: 0.6,
            engagement_rate_multiplier_exit: 0.3,
            sentiment_sensitivity_exit: 0.5,
            sentiment_bonus_proposal_becomes_active: 0.5,
            sentiment_bonus_proposal_becomes_completed: 0.3,
            sentiment_bonus_proposal_becomes_failed: -0.1,
        }
    }
}

/// Arrivals of new participants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArrivalConfig {
    /// An arrival invests `Exp(investment_min, investment_stdev)` DAI.
    pub investment_min: f64,
    /// See `investment_min`.
    pub investment_stdev: f64,
    /// `speculation_days = ⌊speculation_min_fraction·v80⌋ + ⌊speculation_random_fraction·v80·U⌋`.
    pub speculation_min_fraction: f64,
    /// See `speculation_min_fraction`.
    pub speculation_random_fraction: f64,
    /// During speculation, `1 + ⌊multiplier_range·U⌋` arrival slots per day.
    pub multiplier_range: f64,
    /// During speculation the arrival rate is `base + (1 − base)·s̄` (the reference's `0.5 + 0.5·s̄`).
    pub speculation_rate_base: f64,
    /// After speculation the rate is `(1 + s̄)/arrival_rate_denominator`.
    pub arrival_rate_denominator: f64,
    /// Arrival slots per day after speculation (× the multiplier during it).
    pub max_new_participants: u32,
}

impl Default for ArrivalConfig {
    fn default() -> Self {
        ArrivalConfig {
            investment_min: 0.0,
            investment_stdev: 100.0,
            speculation_min_fraction: 0.2,
            speculation_random_fraction: 0.6,
            multiplier_range: 9.0,
            speculation_rate_base: 0.5,
            arrival_rate_denominator: 10.0,
            max_new_participants: 1,
        }
    }
}

/// Exogenous funding: notional speculators' round trips pay the exit tribute into the funding pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeculatorConfig {
    /// Round trips per day.
    pub count: u32,
    /// Position size `Exp(position_size_min, position_size_stdev)` DAI.
    pub position_size_min: f64,
    /// See `position_size_min`.
    pub position_size_stdev: f64,
}

impl Default for SpeculatorConfig {
    fn default() -> Self {
        SpeculatorConfig {
            count: 5,
            position_size_min: 200.0,
            position_size_stdev: 200.0,
        }
    }
}

/// Where participants' DAI comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalletMode {
    /// The reference (Q8): buys are paid from an unlimited outside source, proceeds vanish.
    #[default]
    Unlimited,
    /// Every participant holds DAI outside the Commons: buys are limited by it, sale and exit proceeds
    /// are paid into it.
    Budget,
}

/// How many tokens an arrival is credited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalTokens {
    /// The reference (Q3): `investment / spot price`, slightly more than the curve mints.
    #[default]
    Spot,
    /// What the curve actually minted for the investment: holdings add up to the supply exactly.
    Minted,
}

/// Extensions that learning agents need; all off in the reference scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtensionsConfig {
    /// `unlimited` (reference) or `budget` wallets.
    pub wallets: WalletMode,
    /// With budget wallets, a hatcher starts with `hatcher_wallet_ratio × its contribution` DAI.
    pub hatcher_wallet_ratio: f64,
    /// With budget wallets, an arrival starts with `arrival_wallet_ratio × its investment` DAI.
    pub arrival_wallet_ratio: f64,
    /// When a proposal becomes active, its requested funds are paid to its author's wallet (if the author
    /// is still a participant).
    pub author_payout: bool,
    /// Tokens credited to arrivals: `spot` (reference, Q3) or `minted`.
    pub arrival_tokens: ArrivalTokens,
}

impl Default for ExtensionsConfig {
    fn default() -> Self {
        ExtensionsConfig {
            wallets: WalletMode::Unlimited,
            hatcher_wallet_ratio: 0.5,
            arrival_wallet_ratio: 4.0,
            author_payout: false,
            arrival_tokens: ArrivalTokens::Spot,
        }
    }
}

/// A whole scenario: how episodes run and every parameter of the Commons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Horizon and random-number source.
    pub simulation: SimulationConfig,
    /// The hatch.
    pub hatch: HatchConfig,
    /// The bonding curve.
    pub curve: CurveConfig,
    /// Conviction voting.
    pub conviction: ConvictionConfig,
    /// Proposals.
    pub proposals: ProposalConfig,
    /// Participant behaviour and sentiment.
    pub participants: ParticipantConfig,
    /// Arrivals.
    pub arrivals: ArrivalConfig,
    /// Speculator funding.
    pub speculators: SpeculatorConfig,
    /// Extensions for learning agents (off in the reference).
    pub extensions: ExtensionsConfig,
}

struct Check<'a> {
    section: &'a str,
}

impl Check<'_> {
    fn range(
        &self,
        name: &str,
        value: f64,
        ok: impl Fn(f64) -> bool,
        allowed: &'static str,
    ) -> Result<(), RangeError> {
        if value.is_finite() && ok(value) {
            Ok(())
        } else {
            Err(RangeError {
                field: format!("{}.{}", self.section, name),
                value: value.to_string(),
                allowed,
            })
        }
    }

    fn unit(&self, name: &str, value: f64) -> Result<(), RangeError> {
        self.range(name, value, |v| (0.0..=1.0).contains(&v), "0 to 1")
    }

    fn positive(&self, name: &str, value: f64) -> Result<(), RangeError> {
        self.range(name, value, |v| v > 0.0, "> 0")
    }

    fn non_negative(&self, name: &str, value: f64) -> Result<(), RangeError> {
        self.range(name, value, |v| v >= 0.0, ">= 0")
    }

    fn count(
        &self,
        name: &str,
        value: u32,
        min: u32,
        allowed: &'static str,
    ) -> Result<(), RangeError> {
        if value >= min {
            Ok(())
        } else {
            Err(RangeError {
                field: format!("{}.{}", self.section, name),
                value: value.to_string(),
                allowed,
            })
        }
    }
}

impl ModelConfig {
    /// Checks every parameter's range; the first violation is returned.
    pub fn validate(&self) -> Result<(), RangeError> {
        let c = Check {
            section: "simulation",
        };
        c.count("days", self.simulation.days, 1, ">= 1")?;

        let h = &self.hatch;
        let c = Check { section: "hatch" };
        c.count("hatchers", h.hatchers, 1, ">= 1")?;
        c.positive("contribution_scale", h.contribution_scale)?;
        c.positive("hatch_price", h.hatch_price)?;
        c.range(
            "hatch_tribute",
            h.hatch_tribute,
            |v| (0.0..1.0).contains(&v),
            "0 to 1, below 1",
        )?;
        c.positive("vesting_80p_unlocked", h.vesting_80p_unlocked)?;
        c.non_negative("vesting_cliff_ratio", h.vesting_cliff_ratio)?;
        c.unit("sentiment_base", h.sentiment_base)?;
        c.range(
            "sentiment_spread",
            h.sentiment_spread,
            |v| v >= 0.0 && h.sentiment_base + v <= 1.0,
            ">= 0 with sentiment_base + sentiment_spread <= 1",
        )?;
        c.unit("initial_sentiment_mirror", h.initial_sentiment_mirror)?;

        let c = Check { section: "curve" };
        c.positive("kappa", self.curve.kappa)?;
        c.unit("exit_tribute", self.curve.exit_tribute)?;

        let v = &self.conviction;
        let c = Check {
            section: "conviction",
        };
        c.range(
            "days_to_80p_of_max_voting_weight",
            v.days_to_80p_of_max_voting_weight,
            |d| d >= 1.0,
            ">= 1",
        )?;
        c.range(
            "max_proposal_request",
            v.max_proposal_request,
            |b| b > 0.0 && b <= 1.0,
            "above 0, at most 1",
        )?;
        c.positive("rho_multiplier", v.rho_multiplier)?;
        c.non_negative("cutoff_multiplier", v.cutoff_multiplier)?;
        c.unit("cutoff_floor", v.cutoff_floor)?;
        c.unit("voting_engagement_rate", v.voting_engagement_rate)?;

        let p = &self.proposals;
        let c = Check {
            section: "proposals",
        };
        c.count("initial", p.initial, 1, ">= 1")?;
        c.positive("initial_scale", p.initial_scale)?;
        c.positive("funds_requested_alpha", p.funds_requested_alpha)?;
        c.non_negative("funds_requested_min", p.funds_requested_min)?;
        c.positive("scale_factor", p.scale_factor)?;
        c.non_negative("base_failure_rate", p.base_failure_rate)?;
        c.non_negative("base_success_rate", p.base_success_rate)?;
        c.unit("conflict_rate", p.conflict_rate)?;

        let q = &self.participants;
        let c = Check {
            section: "participants",
        };
        c.unit("sentiment_decay", q.sentiment_decay)?;
        c.unit("sentiment_sensitivity", q.sentiment_sensitivity)?;
        c.non_negative("delta_holdings_scale", q.delta_holdings_scale)?;
        c.unit(
            "engagement_rate_multiplier_buy",
            q.engagement_rate_multiplier_buy,
        )?;
        c.unit(
            "engagement_rate_multiplier_sell",
            q.engagement_rate_multiplier_sell,
        )?;
        c.unit(
            "engagement_rate_multiplier_exit",
            q.engagement_rate_multiplier_exit,
        )?;
        c.unit("sentiment_sensitivity_exit", q.sentiment_sensitivity_exit)?;
        let signed = |v: f64| (-1.0..=1.0).contains(&v);
        c.range(
            "sentiment_bonus_proposal_becomes_active",
            q.sentiment_bonus_proposal_becomes_active,
            signed,
            "-1 to 1",
        )?;
        c.range(
            "sentiment_bonus_proposal_becomes_completed",
            q.sentiment_bonus_proposal_becomes_completed,
            signed,
            "-1 to 1",
        )?;
        c.range(
            "sentiment_bonus_proposal_becomes_failed",
            q.sentiment_bonus_proposal_becomes_failed,
            signed,
            "-1 to 1",
        )?;

        let a = &self.arrivals;
        let c = Check {
            section: "arrivals",
        };
        c.non_negative("investment_min", a.investment_min)?;
        c.non_negative("investment_stdev", a.investment_stdev)?;
        c.unit("speculation_min_fraction", a.speculation_min_fraction)?;
        c.unit("speculation_random_fraction", a.speculation_random_fraction)?;
        // Bounded so that `max_new_participants · (1 + multiplier_range)` slots fit a u32.
        c.range(
            "multiplier_range",
            a.multiplier_range,
            |v| (0.0..=1000.0).contains(&v),
            "0 to 1000",
        )?;
        c.range(
            "max_new_participants",
            a.max_new_participants as f64,
            |v| v <= 1_000_000.0,
            "0 to 1000000",
        )?;
        c.unit("speculation_rate_base", a.speculation_rate_base)?;
        c.range(
            "arrival_rate_denominator",
            a.arrival_rate_denominator,
            |v| v >= 2.0,
            ">= 2 (keeps the rate (1 + s)/d within [0, 1])",
        )?;

        let s = &self.speculators;
        let c = Check {
            section: "speculators",
        };
        c.non_negative("position_size_min", s.position_size_min)?;
        c.non_negative("position_size_stdev", s.position_size_stdev)?;

        let x = &self.extensions;
        let c = Check {
            section: "extensions",
        };
        c.non_negative("hatcher_wallet_ratio", x.hatcher_wallet_ratio)?;
        c.non_negative("arrival_wallet_ratio", x.arrival_wallet_ratio)?;
        Ok(())
    }

    /// Conviction decay factor `alpha = 0.2^(1/days_to_80p)`.
    pub fn alpha(&self) -> f64 {
        super::conviction::alpha_from_days(self.conviction.days_to_80p_of_max_voting_weight)
    }

    /// `rho = rho_multiplier · β²`.
    pub fn rho(&self) -> f64 {
        super::conviction::rho(
            self.conviction.rho_multiplier,
            self.conviction.max_proposal_request,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_reference() {
        let c = ModelConfig::default();
        c.validate().unwrap();
        assert_eq!(c.alpha(), 0.8513399225207846);
        assert_eq!(c.rho(), 0.020000000000000004);
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let mut c = ModelConfig::default();
        c.curve.kappa = 0.0;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "curve.kappa");
        let mut c = ModelConfig::default();
        c.curve.exit_tribute = 1.5;
        assert_eq!(c.validate().unwrap_err().field, "curve.exit_tribute");
        let mut c = ModelConfig::default();
        c.proposals.initial = 0;
        assert_eq!(c.validate().unwrap_err().field, "proposals.initial");
    }
}
