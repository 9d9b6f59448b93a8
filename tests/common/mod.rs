//! Helpers shared by integration tests.
#![allow(dead_code)]

use commons_rl::model::Commons;
use proptest::prelude::*;

/// Checks the model's invariants on a state between days: DAI and token conservation, no negative
/// balance or pool, conviction ≥ 0, sentiment in [0, 1], no NaN or infinity.
pub fn check(c: &Commons) -> Result<(), TestCaseError> {
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
    for v in [
        m.funding_pool,
        m.collateral_pool,
        m.token_supply,
        m.token_price,
        m.sentiment,
    ] {
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
        prop_assert!(
            h.nonvesting >= 0.0 && h.nonvesting.is_finite(),
            "day {day}: nonvesting {}",
            h.nonvesting
        );
        prop_assert!(h.vesting - h.vesting_spent >= -1e-9 * h.vesting.max(1.0));
        prop_assert!(
            h.spendable() >= -1e-9 * h.total().max(1.0),
            "day {day}: spendable {}",
            h.spendable()
        );
        prop_assert!(
            (0.0..=1.0).contains(&p.sentiment),
            "day {day}: sentiment {}",
            p.sentiment
        );
        prop_assert!(
            p.wallet >= 0.0 && p.wallet.is_finite(),
            "day {day}: wallet {}",
            p.wallet
        );
        prop_assert_eq!(p.support.len(), c.candidates().len());
        for e in &p.support {
            prop_assert!(
                e.conviction >= 0.0 && e.conviction.is_finite(),
                "day {day}: conviction {}",
                e.conviction
            );
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
