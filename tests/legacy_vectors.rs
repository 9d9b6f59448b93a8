//! The seed-1 end-to-end vectors of docs/reference-model.md §9 ("Legacy-RNG end-to-end vectors"), reproduced
//! exactly by `numpy-legacy` mode.

use commons_rl::model::{Commons, ModelConfig, Scripted};
use commons_rl::rng::RngMode;
use commons_rl::simulate::run_episode;

fn legacy() -> ModelConfig {
    let mut cfg = ModelConfig::default();
    cfg.simulation.rng = RngMode::NumpyLegacy;
    cfg
}

#[test]
fn bootstrap_of_seed_1() {
    let c = Commons::new(&legacy(), 1).unwrap();
    assert_eq!(c.speculation_days(), 54);
    assert_eq!(c.multiplier(), 7);
    let vesting: Vec<f64> = c
        .participants()
        .iter()
        .map(|p| p.holdings.vesting)
        .collect();
    assert_eq!(
        vesting,
        [
            1143.7481734488663,
            3023325.7263183976,
            1467558.9081711303,
            923385.9476879779,
            1862602.1137767087
        ]
    );
    let p = c.pools();
    assert_eq!(p.funding_pool, 145560.32888255327);
    assert_eq!(p.collateral_pool, 582241.3155302131);
    assert_eq!(p.token_supply, 7278016.444127663);
    assert_eq!(p.token_price(), 0.16000000000000003);
    assert_eq!(p.curve.invariant, 90975205.55159578);
    let s: Vec<f64> = c.participants().iter().map(|p| p.sentiment).collect();
    assert_eq!(
        s,
        [
            0.698383737115335,
            0.7095972572016473,
            0.6022261248657588,
            0.5136937965989631,
            0.7086524011835635
        ]
    );
    let f: Vec<f64> = c.proposals().iter().map(|q| q.funds_requested).collect();
    assert_eq!(f, [62959.1556328046, 17872.287319840732]);
    assert_eq!(c.proposals()[0].trigger, f64::INFINITY);
    assert_eq!(c.proposals()[1].trigger, 24412574.538957823);
    assert_eq!((c.proposals()[0].ref_id, c.proposals()[1].ref_id), (5, 6));
    let aff: Vec<(f64, f64)> = c
        .participants()
        .iter()
        .map(|p| (p.support[0].affinity, p.support[1].affinity))
        .collect();
    assert_eq!(
        aff,
        [
            (0.013777983851967046, 0.13924214918221578),
            (0.5172862157316327, 0.14795195399154681),
            (0.3645708435710703, 0.5666751758645212),
            (0.3617891823513384, 0.6228576755265544),
            (0.8770756131808523, 0.6887532260709182)
        ]
    );
}

#[test]
fn days_1_and_2_of_seed_1() {
    let mut c = Commons::new(&legacy(), 1).unwrap();
    c.step(&mut Scripted).unwrap();
    let m = *c.mirrors();
    assert_eq!(m.funding_pool, 146177.37701854447);
    assert_eq!(m.collateral_pool, 582584.9558195984);
    assert_eq!(m.token_supply, 7280163.879127675);
    assert_eq!(m.token_price, 0.1600472092365605);
    assert_eq!(m.sentiment, 0.7220938756156279);
    assert_eq!(c.participants().len(), 8);
    assert_eq!(c.counts().candidate, 2);
    c.step(&mut Scripted).unwrap();
    let m = *c.mirrors();
    assert_eq!(m.funding_pool, 147023.2089444687);
    assert_eq!(m.collateral_pool, 596344.8823359543);
    assert_eq!(m.token_supply, 7365636.309929756);
    assert_eq!(m.token_price, 0.16192623617107194);
    assert_eq!(m.sentiment, 0.6716762910927999);
    assert_eq!(c.participants().len(), 12);
    assert_eq!(c.counts().candidate, 3);
    // First proposal passes on day 10, node id 44.
    for _ in 3..=10 {
        c.step(&mut Scripted).unwrap();
        let funded: Vec<_> = c
            .proposals()
            .iter()
            .filter(|q| q.funded_day.is_some())
            .collect();
        if c.day() < 10 {
            assert!(funded.is_empty(), "day {}", c.day());
        } else {
            assert_eq!(funded.len(), 1);
            assert_eq!(funded[0].ref_id, 44);
        }
    }
}

#[test]
fn seed_1_over_730_days_scores_974() {
    let e = run_episode(&legacy(), 1, |_| {}).unwrap();
    assert_eq!(e.error, None);
    let r = e.reported.unwrap();
    assert_eq!(e.score, Some(974));
    assert_eq!(r.participants, 24);
    assert_eq!(
        (
            r.proposals_candidate,
            r.proposals_active,
            r.proposals_completed,
            r.proposals_failed
        ),
        (8, 4, 86, 77)
    );
}

/// Where the reference raises, legacy mode ends the episode with an error flag instead of aborting the
/// run; the default mode clamps rates (Q4) and never overdraws (Q14).
#[test]
fn reference_exceptions_end_the_episode_with_an_error() {
    // Q4: a tiny funding pool makes proposals of 0.74-2.34 DAI, whose failure rate is above 1.
    let mut q4 = legacy();
    q4.simulation.days = 200;
    q4.hatch.hatch_tribute = 0.0001;
    q4.curve.exit_tribute = 0.0;
    let e = run_episode(&q4, 16, |_| {}).unwrap();
    assert_eq!(e.days, 169);
    assert!(
        e.error.as_deref().unwrap().contains("is above 1"),
        "{:?}",
        e.error
    );
    assert_eq!(e.score, None);
    // Q14: with beta = 1 and large requests, simultaneous passes overdraw the pool.
    let mut q14 = legacy();
    q14.conviction.max_proposal_request = 1.0;
    q14.proposals.scale_factor = 0.3;
    let e = run_episode(&q14, 1, |_| {}).unwrap();
    assert_eq!(e.days, 63);
    assert!(
        e.error
            .as_deref()
            .unwrap()
            .contains("funding pool only has"),
        "{:?}",
        e.error
    );
    // The default mode runs both to the horizon.
    for (mut cfg, seed) in [(q4, 16), (q14, 1)] {
        cfg.simulation.rng = RngMode::Default;
        let e = run_episode(&cfg, seed, |_| {}).unwrap();
        assert_eq!(e.days, cfg.simulation.days);
        assert!(
            e.error.as_deref().is_none_or(|m| m.starts_with("score")),
            "{:?}",
            e.error
        );
    }
}
