//! Every parameter of the model, with the reference's defaults (docs/reference-model.md §3), and their
//! allowed ranges, units and designers' names, declared once per field with `parameters!` (the
//! reference docs/parameters.md and `commons params` derive from the declarations: see
//! [`super::params`]).
//!
//! The scenario files in `envs/` deserialize into [`ModelConfig`]; every section and field is optional
//! and defaults to the reference value, unknown fields are rejected, and [`ModelConfig::validate`] checks
//! every range.

use serde::{Deserialize, Serialize};

use super::params::{parameters, Allowed, Param};
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

parameters! {
    /// How an episode runs: horizon and random-number source.
    pub struct SimulationConfig in "simulation" {
        /// Number of simulated days `T` (the reference's `timesteps_days`).
        pub days: u32 = 730, "days", Allowed::AT_LEAST_ONE, "horizon";
        /// Random-number engine: `default` (PCG32) or `numpy-legacy` (bit-exact with the original).
        pub rng: RngMode = RngMode::Default, "—", Allowed::by_type("`default` or `numpy-legacy`"), "";
        /// Whether the five random streams share the seed (`shared-seed`, the reference's Q1) or are
        /// `independent`.
        pub streams: StreamSeeding = StreamSeeding::SharedSeed, "—",
            Allowed::by_type("`shared-seed` or `independent`"), "";
    }
}

parameters! {
    /// The hatch (day 0): hatchers, their contributions, the split and the vesting of hatch tokens.
    pub struct HatchConfig in "hatch" {
        /// Number of hatchers `H` (≥ 1).
        pub hatchers: u32 = 5, "participants", Allowed::AT_LEAST_ONE, "number of hatchers";
        /// Each hatcher contributes `U · contribution_scale` DAI (the reference's `10e5`).
        pub contribution_scale: f64 = 1_000_000.0, "DAI", Allowed::POSITIVE, "hatch contribution (maximum)";
        /// DAI per token at the hatch; `S0 = raise / hatch_price`.
        pub hatch_price: f64 = 0.1, "DAI per token", Allowed::POSITIVE, "hatch price";
        /// Share θ of the raise sent to the funding pool; the rest is collateral.
        pub hatch_tribute: f64 = 0.2, "share of the raise",
            Allowed::rule("0 to 1, below 1", |v, _| (0.0..1.0).contains(&v)), "hatch tribute θ";
        /// Days after which 80 % of hatch tokens are unlocked (cliff included).
        pub vesting_80p_unlocked: f64 = 120.0, "days", Allowed::POSITIVE, "vesting period";
        /// Cliff / half-life ratio of the vesting curve.
        pub vesting_cliff_ratio: f64 = 2.0, "× vesting half-life", Allowed::NON_NEGATIVE, "vesting cliff";
        /// Hatcher sentiment is `base + spread·U` (after one discarded draw).
        pub sentiment_base: f64 = 0.5, "sentiment (0 to 1)", Allowed::UNIT, "hatchers' sentiment";
        /// Spread of hatchers' sentiment: a hatcher starts at `sentiment_base + sentiment_spread·U`.
        pub sentiment_spread: f64 = 0.5, "sentiment (0 to 1)",
            Allowed::rule(">= 0 with sentiment_base + sentiment_spread <= 1", |v, m| {
                v >= 0.0 && m.hatch.sentiment_base + v <= 1.0
            }), "";
        /// The mirrored average sentiment before day 1 (the reference hard-codes 0.75).
        pub initial_sentiment_mirror: f64 = 0.75, "sentiment (0 to 1)", Allowed::UNIT, "";
    }
}

parameters! {
    /// The augmented bonding curve.
    pub struct CurveConfig in "curve" {
        /// Curve exponent κ (> 0; the reference's CLI takes integers).
        pub kappa: f64 = 2.0, "—", Allowed::POSITIVE, "curve exponent κ";
        /// Share τ of every burn's DAI sent to the funding pool.
        pub exit_tribute: f64 = 0.35, "share of a sale's DAI", Allowed::UNIT, "exit tribute τ";
    }
}

parameters! {
    /// Conviction voting.
    pub struct ConvictionConfig in "conviction" {
        /// Days for a constant stake to reach 80 % of its maximum conviction; `alpha = 0.2^(1/days)`.
        pub days_to_80p_of_max_voting_weight: f64 = 10.0, "days", Allowed::AT_LEAST_ONE,
            "conviction half-life (conviction growth, decay α)";
        /// β: asymptotic maximum share of the funding pool one proposal can request.
        pub max_proposal_request: f64 = 0.2, "share of the funding pool",
            Allowed::rule("above 0, at most 1", |b, _| b > 0.0 && b <= 1.0), "spending limit β";
        /// Sets the trigger threshold's `rho = rho_multiplier · β²`: a larger ρ needs more conviction to
        /// fund a proposal.
        pub rho_multiplier: f64 = 0.5, "× β²", Allowed::POSITIVE, "minimum threshold ρ (as ρ/β²)";
        /// Voting cutoff multiplier: vote for candidates with affinity > `max(floor, multiplier · best)`.
        pub cutoff_multiplier: f64 = 0.75, "× best affinity", Allowed::NON_NEGATIVE, "";
        /// Voting cutoff floor.
        pub cutoff_floor: f64 = 0.5, "affinity (0 to 1)", Allowed::UNIT, "";
        /// Daily probability that a participant re-stakes (the reference always does: 1.0).
        pub voting_engagement_rate: f64 = 1.0, "probability per day", Allowed::UNIT, "";
    }
}

parameters! {
    /// Proposals: initial ones, sizes of new ones, resolution rates.
    pub struct ProposalConfig in "proposals" {
        /// Number of proposals at the hatch `P0` (≥ 1).
        pub initial: u32 = 2, "proposals", Allowed::AT_LEAST_ONE, "initial proposals";
        /// Bootstrap proposals request `Gamma(funds_requested_alpha, funds_requested_min, initial_scale)` DAI.
        pub initial_scale: f64 = 10_000.0, "DAI", Allowed::POSITIVE, "";
        /// Gamma shape of requested funds.
        pub funds_requested_alpha: f64 = 3.0, "—", Allowed::POSITIVE, "";
        /// Gamma location (minimum) of requested funds, DAI.
        pub funds_requested_min: f64 = 0.001, "DAI", Allowed::NON_NEGATIVE, "";
        /// New proposals request `Gamma(alpha, min, scale_factor · funding pool)` DAI.
        pub scale_factor: f64 = 0.01, "share of the funding pool", Allowed::POSITIVE, "";
        /// An active proposal requesting `f` DAI fails on a day with probability
        /// `1/(base_failure_rate + ln f)`.
        pub base_failure_rate: f64 = 0.15, "—", Allowed::NON_NEGATIVE, "";
        /// An active proposal requesting `f` DAI completes on a day with probability
        /// `1/(base_success_rate + ln f)`.
        pub base_success_rate: f64 = 0.30, "—", Allowed::NON_NEGATIVE, "";
        /// Probability of a conflict edge between two bootstrap proposals (inert; draws only).
        pub conflict_rate: f64 = 0.25, "probability", Allowed::UNIT, "";
    }
}

parameters! {
    /// Participants' behaviour rules and sentiment dynamics.
    pub struct ParticipantConfig in "participants" {
        /// Daily sentiment decay (subtracted, floored at 0).
        pub sentiment_decay: f64 = 0.005, "sentiment per day", Allowed::UNIT, "";
        /// Buy/sell force is `sentiment − sentiment_sensitivity`.
        pub sentiment_sensitivity: f64 = 0.75, "sentiment (0 to 1)", Allowed::UNIT, "";
        /// Buy size is `U · force · delta_holdings_scale` DAI.
        pub delta_holdings_scale: f64 = 70_000.0, "DAI", Allowed::NON_NEGATIVE, "trade size";
        /// Daily probability of considering a buy is `engagement_rate_multiplier_buy · sentiment`.
        pub engagement_rate_multiplier_buy: f64 = 0.6, "probability per day per unit of sentiment", Allowed::UNIT, "";
        /// Daily probability of considering a sale is `engagement_rate_multiplier_sell · sentiment`.
        pub engagement_rate_multiplier_sell: f64 = 0.6, "probability per day per unit of sentiment", Allowed::UNIT, "";
        /// Exit probability is `1 − engagement_rate_multiplier_exit · sentiment`.
        pub engagement_rate_multiplier_exit: f64 = 0.3, "probability per day per unit of sentiment", Allowed::UNIT, "";
        /// Participants consider leaving only below this sentiment.
        pub sentiment_sensitivity_exit: f64 = 0.5, "sentiment (0 to 1)", Allowed::UNIT, "";
        /// Author's sentiment bonus when its proposal becomes active.
        pub sentiment_bonus_proposal_becomes_active: f64 = 0.5, "sentiment", Allowed::SIGNED_UNIT, "";
        /// Sentiment change × affinity for author and stakers when a proposal completes.
        pub sentiment_bonus_proposal_becomes_completed: f64 = 0.3, "sentiment", Allowed::SIGNED_UNIT, "";
        /// Sentiment change × affinity for author and stakers when a proposal fails.
        pub sentiment_bonus_proposal_becomes_failed: f64 = -0.1, "sentiment", Allowed::SIGNED_UNIT, "";
    }
}

parameters! {
    /// Arrivals of new participants.
    pub struct ArrivalConfig in "arrivals" {
        /// An arrival invests `Exp(investment_min, investment_stdev)` DAI.
        pub investment_min: f64 = 0.0, "DAI", Allowed::NON_NEGATIVE, "";
        /// Scale of an arrival's investment `Exp(investment_min, investment_stdev)` DAI: its mean
        /// above the minimum.
        pub investment_stdev: f64 = 100.0, "DAI", Allowed::NON_NEGATIVE, "";
        /// The speculation period after the hatch (many arrivals) lasts
        /// `⌊speculation_min_fraction·v80⌋ + ⌊speculation_random_fraction·v80·U⌋` days, v80 =
        /// `hatch.vesting_80p_unlocked`.
        pub speculation_min_fraction: f64 = 0.2, "× vesting period", Allowed::UNIT, "speculation period (minimum)";
        /// The random part of the speculation period, as a share of v80 (see
        /// `speculation_min_fraction`).
        pub speculation_random_fraction: f64 = 0.6, "× vesting period", Allowed::UNIT, "speculation period (random part)";
        /// During speculation, `1 + ⌊multiplier_range·U⌋` arrival slots per day (at most 1000, so that
        /// `max_new_participants · (1 + multiplier_range)` slots fit a 32-bit count).
        pub multiplier_range: f64 = 9.0, "arrival slots",
            Allowed::rule("0 to 1000", |v, _| (0.0..=1000.0).contains(&v)), "speculation multiplier";
        /// During speculation the arrival rate is `base + (1 − base)·s̄` (the reference's `0.5 + 0.5·s̄`).
        pub speculation_rate_base: f64 = 0.5, "probability per slot", Allowed::UNIT, "";
        /// After speculation the rate is `(1 + s̄)/arrival_rate_denominator`.
        pub arrival_rate_denominator: f64 = 10.0, "—",
            Allowed::rule(">= 2 (keeps the rate (1 + s)/d within [0, 1])", |v, _| v >= 2.0), "";
        /// Arrival slots per day after speculation (× the multiplier during it).
        pub max_new_participants: u32 = 1, "arrival slots per day",
            Allowed::rule("0 to 1000000", |v, _| v <= 1_000_000.0), "arrivals per day";
    }
}

parameters! {
    /// Exogenous funding: notional speculators' round trips pay the exit tribute into the funding pool.
    pub struct SpeculatorConfig in "speculators" {
        /// Round trips per day.
        pub count: u32 = 5, "round trips per day", Allowed::by_type("0 or more"), "speculators";
        /// Position size `Exp(position_size_min, position_size_stdev)` DAI.
        pub position_size_min: f64 = 200.0, "DAI", Allowed::NON_NEGATIVE, "";
        /// Scale of a speculator's position `Exp(position_size_min, position_size_stdev)` DAI.
        pub position_size_stdev: f64 = 200.0, "DAI", Allowed::NON_NEGATIVE, "";
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

parameters! {
    /// Extensions that learning agents need; all off in the reference scenario.
    pub struct ExtensionsConfig in "extensions" {
        /// `unlimited` (reference) or `budget` wallets.
        pub wallets: WalletMode = WalletMode::Unlimited, "—", Allowed::by_type("`unlimited` or `budget`"), "";
        /// With budget wallets, a hatcher starts with `hatcher_wallet_ratio × its contribution` DAI.
        pub hatcher_wallet_ratio: f64 = 0.5, "× contribution", Allowed::NON_NEGATIVE, "";
        /// With budget wallets, an arrival starts with `arrival_wallet_ratio × its investment` DAI.
        pub arrival_wallet_ratio: f64 = 4.0, "× investment", Allowed::NON_NEGATIVE, "";
        /// When a proposal becomes active, its requested funds are paid to its author's wallet (if the author
        /// is still a participant).
        pub author_payout: bool = false, "—", Allowed::by_type("`true` or `false`"), "";
        /// Tokens credited to arrivals: `spot` (reference, Q3) or `minted`.
        pub arrival_tokens: ArrivalTokens = ArrivalTokens::Spot, "—", Allowed::by_type("`spot` or `minted`"), "";
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

impl ModelConfig {
    /// Every section's parameters, in file order.
    pub const SECTIONS: [&'static [Param]; 9] = [
        SimulationConfig::PARAMS,
        HatchConfig::PARAMS,
        CurveConfig::PARAMS,
        ConvictionConfig::PARAMS,
        ProposalConfig::PARAMS,
        ParticipantConfig::PARAMS,
        ArrivalConfig::PARAMS,
        SpeculatorConfig::PARAMS,
        ExtensionsConfig::PARAMS,
    ];

    /// Checks every parameter against its allowed values ([`Param::allowed`]); the first violation,
    /// in file order, is returned.
    pub fn validate(&self) -> Result<(), RangeError> {
        self.simulation.check(self)?;
        self.hatch.check(self)?;
        self.curve.check(self)?;
        self.conviction.check(self)?;
        self.proposals.check(self)?;
        self.participants.check(self)?;
        self.arrivals.check(self)?;
        self.speculators.check(self)?;
        self.extensions.check(self)
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
