//! Property tests of the model's invariants across random seeds and configurations: DAI and tokens are
//! conserved, nothing goes negative, conviction is never negative, no NaN or infinity appears, sentiment
//! stays in [0, 1]. Legacy-mode episodes may stop on the reference's own errors (Q4, Q14), never panic.

use commons_rl::model::config::{ArrivalTokens, WalletMode};
use commons_rl::model::{Commons, ModelConfig, Scripted};
use commons_rl::rng::{RngMode, StreamSeeding};
use proptest::prelude::*;

mod common;
use common::check;

fn config_strategy() -> impl Strategy<Value = ModelConfig> {
    (
        (
            1u32..10,
            1u32..6,
            0.0f64..0.9,
            0.0f64..=1.0,
            prop_oneof![Just(1.0), Just(1.5), Just(2.0), Just(3.0)],
        ),
        (
            0.05f64..=1.0,
            1.0f64..60.0,
            1.0f64..365.0,
            any::<bool>(),
            any::<bool>(),
        ),
        (
            1u32..120,
            0.0f64..0.02,
            0.2f64..1.0,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (h, p0, theta, tau, kappa),
                (beta, d80, v80, legacy, independent),
                (days, decay, sens, budget, payout, minted),
            )| {
                let mut c = ModelConfig::default();
                c.hatch.hatchers = h;
                c.proposals.initial = p0;
                c.hatch.hatch_tribute = theta;
                c.curve.exit_tribute = tau;
                c.curve.kappa = kappa;
                c.conviction.max_proposal_request = beta;
                c.conviction.days_to_80p_of_max_voting_weight = d80;
                c.hatch.vesting_80p_unlocked = v80;
                c.simulation.rng = if legacy {
                    RngMode::NumpyLegacy
                } else {
                    RngMode::Default
                };
                c.simulation.streams = if independent {
                    StreamSeeding::Independent
                } else {
                    StreamSeeding::SharedSeed
                };
                c.simulation.days = days;
                c.participants.sentiment_decay = decay;
                c.participants.sentiment_sensitivity = sens;
                if budget {
                    c.extensions.wallets = WalletMode::Budget;
                }
                c.extensions.author_payout = payout;
                if minted {
                    c.extensions.arrival_tokens = ArrivalTokens::Minted;
                }
                c
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_every_day(cfg in config_strategy(), seed in 0u64..u32::MAX as u64) {
        cfg.validate().unwrap();
        let mut c = Commons::new(&cfg, seed).unwrap();
        check(&c)?;
        for _ in 0..cfg.simulation.days {
            match c.step(&mut Scripted) {
                Ok(()) => check(&c)?,
                // The reference's own exceptions end a legacy episode; the default mode has none.
                Err(e) => {
                    prop_assert_eq!(cfg.simulation.rng, RngMode::NumpyLegacy, "default mode raised: {}", e);
                    break;
                }
            }
        }
    }
}

/// Full-length reference episodes in both modes keep the invariants too.
#[test]
fn reference_episodes_keep_invariants() {
    for mode in [RngMode::Default, RngMode::NumpyLegacy] {
        let mut cfg = ModelConfig::default();
        cfg.simulation.rng = mode;
        for seed in 0..4 {
            let mut c = Commons::new(&cfg, seed).unwrap();
            for _ in 0..cfg.simulation.days {
                c.step(&mut Scripted).unwrap();
                check(&c).unwrap();
            }
        }
    }
}
