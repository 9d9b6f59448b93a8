//! Property tests of the model's invariants across random seeds and configurations: DAI and tokens are
//! conserved, nothing goes negative, conviction is never negative, no NaN or infinity appears, sentiment
//! stays in [0, 1]. Legacy-mode episodes may stop on the reference's own errors (Q4, Q14), never panic.

use commons_rl::model::config::WalletMode;
use commons_rl::model::{Commons, ModelConfig, Scripted};
use commons_rl::rng::{RngMode, StreamSeeding};
use proptest::prelude::*;

fn config_strategy() -> impl Strategy<Value = ModelConfig> {
    (
        (1u32..10, 1u32..6, 0.0f64..0.9, 0.0f64..=1.0, prop_oneof![Just(1.0), Just(1.5), Just(2.0), Just(3.0)]),
        (0.05f64..=1.0, 1.0f64..60.0, 1.0f64..365.0, any::<bool>(), any::<bool>()),
        (1u32..120, 0.0f64..0.02, 0.2f64..1.0, any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |((h, p0, theta, tau, kappa), (beta, d80, v80, legacy, independent), (days, decay, sens, budget, payout))| {
                let mut c = ModelConfig::default();
                c.hatch.hatchers = h;
                c.proposals.initial = p0;
                c.hatch.hatch_tribute = theta;
                c.curve.exit_tribute = tau;
                c.curve.kappa = kappa;
                c.conviction.max_proposal_request = beta;
                c.conviction.days_to_80p_of_max_voting_weight = d80;
                c.hatch.vesting_80p_unlocked = v80;
                c.simulation.rng = if legacy { RngMode::NumpyLegacy } else { RngMode::Default };
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
                c
            },
        )
}

fn check(c: &Commons) -> Result<(), TestCaseError> {
    let pools = c.pools();
    let ledger = c.ledger();
    let day = c.day();
    for (name, v) in [
        ("funding pool", pools.funding_pool),
        ("collateral pool", pools.collateral_pool),
        ("token supply", pools.token_supply),
    ] {
        prop_assert!(v.is_finite() && v >= 0.0, "day {day}: {name} = {v}");
    }
    prop_assert!(pools.token_price().is_finite());
    let m = c.mirrors();
    for v in [m.funding_pool, m.collateral_pool, m.token_supply, m.token_price, m.sentiment] {
        prop_assert!(v.is_finite(), "day {day}: mirror {v}");
    }
    // DAI: what is in the pools and wallets is what came in minus what went out.
    let wallets: f64 = c.participants().iter().map(|p| p.wallet).sum();
    let dai = pools.collateral_pool + pools.funding_pool + wallets;
    let scale = ledger.external_in();
    prop_assert!(
        (dai - ledger.net_dai()).abs() <= 1e-9 * scale.max(1.0),
        "day {day}: pools hold {dai} DAI, ledger says {}",
        ledger.net_dai()
    );
    // Tokens: holdings add up to the supply (plus the spot-price excess credited to arrivals, Q3).
    let mut held = 0.0;
    for p in c.participants() {
        let h = &p.holdings;
        prop_assert!(h.nonvesting >= 0.0 && h.nonvesting.is_finite(), "day {day}: nonvesting {}", h.nonvesting);
        prop_assert!(h.vesting - h.vesting_spent >= -1e-9 * h.vesting.max(1.0));
        prop_assert!(h.spendable() >= -1e-9 * h.total().max(1.0), "day {day}: spendable {}", h.spendable());
        prop_assert!((0.0..=1.0).contains(&p.sentiment), "day {day}: sentiment {}", p.sentiment);
        prop_assert!(p.wallet >= 0.0 && p.wallet.is_finite(), "day {day}: wallet {}", p.wallet);
        prop_assert_eq!(p.support.len(), c.candidates().len());
        for e in &p.support {
            prop_assert!(e.conviction >= 0.0 && e.conviction.is_finite(), "day {day}: conviction {}", e.conviction);
            prop_assert!(e.tokens >= 0.0 && e.tokens.is_finite());
            prop_assert!((0.0..=1.0).contains(&e.affinity));
        }
        held += h.total();
    }
    let expected = pools.token_supply + ledger.arrival_token_excess;
    prop_assert!(
        (held - expected).abs() <= 1e-9 * pools.token_supply.max(1.0),
        "day {day}: holdings {held} vs supply {} + excess {}",
        pools.token_supply,
        ledger.arrival_token_excess
    );
    for q in c.proposals() {
        prop_assert!(q.conviction >= 0.0 && q.conviction.is_finite());
        prop_assert!(q.funds_requested.is_finite() && q.funds_requested >= 0.0);
        prop_assert!(!q.trigger.is_nan());
    }
    let counts = c.counts();
    prop_assert_eq!(
        (counts.candidate + counts.active + counts.completed + counts.failed) as usize,
        c.proposals().len()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

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
