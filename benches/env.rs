//! Benchmarks of the environment layer: one Commons environment day with random legal actions
//! (observations, masks and rewards included), and CartPole steps.

use commons_rl::env::cartpole::CartPole;
use commons_rl::env::check::random_legal_actions;
use commons_rl::env::{CommonsEnv, MultiAgentEnv};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;

fn commons_day(crit: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/commons.toml");
    let cfg = commons_rl::scenario::load_env(std::path::Path::new(path)).expect("scenario");
    let mut env = CommonsEnv::new(cfg);
    let nvec = env.action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(0);
    let mut actions = Vec::new();
    let mut seed = 0;
    env.reset(seed).expect("reset");
    crit.bench_function("commons_env_day", |b| {
        b.iter(|| {
            if env.output().info.done {
                seed += 1;
                env.reset(seed).expect("reset");
            }
            random_legal_actions(env.output(), &nvec, &mut rng, &mut actions);
            env.step(&actions).expect("step").rows.len()
        })
    });
}

fn cartpole_step(crit: &mut Criterion) {
    let mut env = CartPole::new();
    let mut seed = 0;
    env.reset(seed).expect("reset");
    let mut t = 0u32;
    crit.bench_function("cartpole_step", |b| {
        b.iter(|| {
            if env.output().info.done {
                seed += 1;
                env.reset(seed).expect("reset");
            }
            t = t.wrapping_add(1);
            env.step(&[t & 1]).expect("step").rows[0].reward
        })
    });
}

criterion_group!(benches, commons_day, cartpole_step);
criterion_main!(benches);
