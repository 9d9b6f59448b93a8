//! Benchmarks of the Commons model: one 730-day reference episode, and its building blocks.

use commons_rl::model::{Commons, ModelConfig, Scripted};
use commons_rl::rng::RngMode;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn episode(cfg: &ModelConfig, seed: u64) -> f64 {
    let mut c = Commons::new(cfg, seed).expect("bootstrap");
    for _ in 0..cfg.simulation.days {
        if c.step(&mut Scripted).is_err() {
            break;
        }
    }
    c.pools().funding_pool
}

fn reference_episode(crit: &mut Criterion) {
    let mut group = crit.benchmark_group("reference_episode_730d");
    for mode in [RngMode::Default, RngMode::NumpyLegacy] {
        let mut cfg = ModelConfig::default();
        cfg.simulation.rng = mode;
        let mut seed = 0u64;
        group.bench_function(mode.as_str(), |b| {
            b.iter(|| {
                seed += 1;
                black_box(episode(&cfg, seed))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reference_episode);
criterion_main!(benches);
