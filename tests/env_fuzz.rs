//! Random-policy fuzzing of the Commons environment across seeds and configurations: no panic, no NaN
//! or infinity in observations or rewards, observations of the documented length and within their
//! bounds, masks respected (a legal action is never refused), and the model's invariants after every step.

use commons_rl::env::check::random_legal_actions;
use commons_rl::env::observation::OBS_LEN;
use commons_rl::env::{CommonsEnv, MultiAgentEnv};
use commons_rl::model::config::WalletMode;
use commons_rl::scenario;
use proptest::prelude::*;
use rand::SeedableRng;

mod common;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_legal_play_keeps_everything_valid(
        seed in any::<u32>(),
        days in 5u32..150,
        hatchers in 1u32..30,
        budget in any::<bool>(),
        payout in any::<bool>(),
        tribute in 0.0f64..0.9,
        exit_tribute in 0.0f64..1.0,
        beta in 0.05f64..1.0,
        share in 0.0f64..=1.0,
    ) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/commons.toml");
        let mut cfg = scenario::load_env(std::path::Path::new(path)).unwrap();
        cfg.model.simulation.days = days;
        cfg.model.hatch.hatchers = hatchers;
        cfg.model.hatch.hatch_tribute = tribute;
        cfg.model.curve.exit_tribute = exit_tribute;
        cfg.model.conviction.max_proposal_request = beta;
        cfg.model.extensions.wallets = if budget { WalletMode::Budget } else { WalletMode::Unlimited };
        cfg.model.extensions.author_payout = payout;
        let n = cfg.population.len() as f64;
        for e in &mut cfg.population {
            e.hatchers = share / n;
            e.arrivals = share / n;
        }
        let mut env = CommonsEnv::new(cfg);
        let spec = env.observation_spec(0);
        prop_assert_eq!(spec.len, OBS_LEN);
        let nvec = env.action_spec(0).nvec.clone();
        let mut rng = rand_pcg::Pcg32::seed_from_u64(seed as u64 ^ 77);
        let mut actions = Vec::new();
        env.reset(seed as u64).unwrap();
        let mut steps = 0;
        while !env.output().info.done {
            random_legal_actions(env.output(), &nvec, &mut rng, &mut actions);
            let out = env.step(&actions).map_err(|e| TestCaseError::fail(e.to_string()))?;
            steps += 1;
            prop_assert_eq!(out.obs.len(), out.rows.len() * OBS_LEN);
            for (i, r) in out.rows.iter().enumerate() {
                prop_assert!(r.reward.is_finite(), "reward {}", r.reward);
                for (j, &v) in out.obs_row(i).iter().enumerate() {
                    prop_assert!(v.is_finite(), "{} = {}", spec.names[j], v);
                    prop_assert!(v >= spec.low[j] - 1e-4 && v <= spec.high[j] + 1e-4, "{} = {}", spec.names[j], v);
                }
            }
            common::check(env.commons().unwrap())?;
        }
        prop_assert_eq!(steps, days);
    }
}
