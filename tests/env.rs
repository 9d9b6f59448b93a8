//! The environment layer: generic checks on every environment, the Commons environment's agent
//! lifecycle, equivalence with `commons simulate` when everybody is scripted, CartPole against the
//! published equations, and VecEnv's independence from the thread count.

use commons_rl::env::cartpole::CartPole;
use commons_rl::env::check::{check_env, random_legal_actions};
use commons_rl::env::vec_env::VecEnv;
use commons_rl::env::{CommonsEnv, CommonsEnvConfig, MultiAgentEnv};
use commons_rl::model::commons::ProposalChoice;
use commons_rl::model::config::{ConvictionConfig, ParticipantConfig};
use commons_rl::model::participant::Participant;
use commons_rl::model::proposal::ProposalId;
use commons_rl::model::Metrics;
use commons_rl::model::{Commons, Controller, Scripted};
use commons_rl::rng::{ModelRng, RngError};
use commons_rl::scenario;
use rand::SeedableRng;

mod common;

fn commons_cfg(days: u32) -> CommonsEnvConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/commons.toml");
    let mut cfg = scenario::load_env(std::path::Path::new(path)).unwrap();
    cfg.model.simulation.days = days;
    cfg
}

#[test]
fn commons_env_passes_the_checker() {
    let mut env = CommonsEnv::new(commons_cfg(120));
    for seed in 0..3 {
        let steps = check_env(&mut env, seed, 200).unwrap();
        assert_eq!(steps, 120);
    }
}

#[test]
fn cartpole_passes_the_checker() {
    let mut env = CartPole::new();
    for seed in 0..5 {
        check_env(&mut env, seed, 600).unwrap();
    }
}

#[test]
fn agents_arrive_with_new_ids_leave_for_good_and_are_truncated_at_the_horizon() {
    let mut env = CommonsEnv::new(commons_cfg(200));
    let nvec = env.action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(9);
    let mut actions = Vec::new();
    let out = env.reset(5).unwrap();
    assert!(out.rows.iter().all(|r| r.is_new && r.live()));
    let mut seen: std::collections::HashSet<u64> = out.rows.iter().map(|r| r.agent.0).collect();
    let mut gone = std::collections::HashSet::new();
    let (mut arrivals, mut exits) = (0, 0);
    loop {
        let out = env.output();
        if out.info.done {
            break;
        }
        random_legal_actions(out, &nvec, &mut rng, &mut actions);
        let out = env.step(&actions).unwrap();
        for r in &out.rows {
            assert!(
                !gone.contains(&r.agent.0),
                "agent {:?} acted after leaving",
                r.agent
            );
            if r.is_new {
                assert!(seen.insert(r.agent.0), "id {:?} reused", r.agent);
                arrivals += 1;
            }
            if r.terminated {
                gone.insert(r.agent.0);
                exits += 1;
            }
        }
        if out.info.done {
            assert!(out.rows.iter().all(|r| r.terminated || r.truncated));
            assert!(out.rows.iter().any(|r| r.truncated));
        } else {
            assert!(out.rows.iter().all(|r| !r.truncated));
        }
    }
    assert!(
        arrivals > 0 && exits > 0,
        "arrivals {arrivals}, exits {exits}"
    );
    assert_eq!(env.output().info.step, 200);
    assert!(
        env.step(&[]).is_err(),
        "stepping a finished episode must fail"
    );
}

#[test]
fn all_scripted_env_reproduces_simulate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/reference.toml");
    let cfg = scenario::load_env(std::path::Path::new(path)).unwrap();
    assert!(cfg.population.is_empty());
    let days = cfg.model.simulation.days;
    let mut env = CommonsEnv::new(cfg.clone());
    for seed in [0u64, 3, 11] {
        env.reset(seed).unwrap();
        for _ in 0..days {
            assert!(env.agents().is_empty());
            env.step(&[]).unwrap();
        }
        let mut plain = Commons::new(&cfg.model, seed).unwrap();
        for _ in 0..days {
            plain.step(&mut Scripted).unwrap();
        }
        assert_eq!(Metrics::of(env.commons().unwrap()), Metrics::of(&plain));
        assert!(env.output().info.done);
    }
}

#[test]
fn cartpole_follows_the_published_equations() {
    let mut env = CartPole::new();
    env.reset(0).unwrap();
    env.set_state([0.01, -0.02, 0.03, 0.04]);
    // Expected states from Gymnasium's CartPole-v1 equations (Euler, tau = 0.02), computed in double
    // precision with Python's math module.
    let expected = [
        [
            0.009600000000000001,
            0.17467919574755525,
            0.030799999999999998,
            -0.2430687179600081,
        ],
        [
            0.013093583914951107,
            -0.020868848948191993,
            0.025938625640799837,
            0.0591679999394166,
        ],
        [
            0.012676206935987267,
            0.1738717748734813,
            0.02712198563958817,
            -0.22521957255967326,
        ],
        [
            0.016153642433456895,
            0.36859581150093934,
            0.022617594188394704,
            -0.509225318312219,
        ],
        [
            0.023525558663475683,
            0.17316263692575581,
            0.012433087822150324,
            -0.20950152868114708,
        ],
    ];
    for (a, want) in [1u32, 0, 1, 1, 0].iter().zip(expected) {
        let out = env.step(&[*a]).unwrap();
        assert_eq!(out.rows[0].reward, 1.0);
        assert!(!out.rows[0].terminated);
        for (got, want) in env.state().iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }
    // Pushing right from rest tips the pole past 12 degrees on the 9th step.
    env.reset(0).unwrap();
    env.set_state([0.0; 4]);
    for step in 1..=9 {
        let out = env.step(&[1]).unwrap();
        assert_eq!(out.rows[0].terminated, step == 9, "step {step}");
    }
    assert!((env.state()[2] - -0.21518604988500967).abs() < 1e-12);
}

#[test]
fn cartpole_truncates_at_500() {
    let mut env = CartPole::new();
    env.reset(1).unwrap();
    // Balance by pushing towards the pole's lean (a simple controller that survives 500 steps).
    for step in 1..=500 {
        let s = env.state();
        let a = if s[2] + 0.5 * s[3] > 0.0 { 1 } else { 0 };
        let out = env.step(&[a]).unwrap();
        assert!(!out.rows[0].terminated, "fell at {step}");
        assert_eq!(out.rows[0].truncated, step == 500);
    }
}

fn run_vec<E: MultiAgentEnv + Send>(envs: Vec<E>, threads: usize, steps: usize) -> Vec<u8> {
    let mut v = VecEnv::new(envs, threads).unwrap();
    let nvec = v.envs()[0].action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut actions = Vec::new();
    v.reset(42).unwrap();
    let mut trace = Vec::new();
    for _ in 0..steps {
        random_legal_actions(v.output(), &nvec, &mut rng, &mut actions);
        let out = v.step(&actions).unwrap();
        for (i, r) in out.rows.iter().enumerate() {
            trace.extend(format!("{:?}{:?}", r, out.obs_row(i)).bytes());
        }
    }
    trace
}

#[test]
fn vec_env_is_identical_with_one_and_two_threads() {
    let make = || {
        (0..4)
            .map(|_| CommonsEnv::new(commons_cfg(30)))
            .collect::<Vec<_>>()
    };
    // 70 steps over 30-day episodes: every environment resets twice.
    assert_eq!(run_vec(make(), 1, 70), run_vec(make(), 2, 70));
    let carts = || (0..3).map(|_| CartPole::new()).collect::<Vec<_>>();
    assert_eq!(run_vec(carts(), 1, 300), run_vec(carts(), 2, 300));
}

#[test]
fn a_commons_that_everybody_leaves_keeps_running() {
    let mut cfg = commons_cfg(730);
    cfg.model.hatch.hatchers = 6;
    for e in &mut cfg.population {
        e.hatchers = 0.25;
        e.arrivals = 0.25;
    }
    let mut env = CommonsEnv::new(cfg);
    let nvec = env.action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(3);
    let mut actions = Vec::new();
    env.reset(17).unwrap();
    let mut emptied = false;
    while !env.output().info.done {
        random_legal_actions(env.output(), &nvec, &mut rng, &mut actions);
        // Leave whenever allowed.
        let out = env.output();
        for (i, r) in out.rows.iter().enumerate() {
            if r.live() && out.mask_row(i)[out.mask_len - 1] {
                actions[i * nvec.len() + 3] = 1;
            }
        }
        env.step(&actions).unwrap();
        let c = env.commons().unwrap();
        emptied |= c.participants().is_empty();
        common::check(c).unwrap();
    }
    assert!(emptied, "the Commons never emptied");
}

#[test]
fn custom_personality_files_load_from_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let whale = concat!(env!("CARGO_MANIFEST_DIR"), "/agents/whale.toml");
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "[simulation]\ndays = 20\n[[population]]\npersonality = \"{whale}\"\ncontroller = \"learned\"\nhatchers = 1.0\narrivals = 0.5\n"
        ),
    )
    .unwrap();
    let cfg = scenario::load_env(&scenario).unwrap();
    assert_eq!(cfg.population[0].personality.name, "whale");
    let mut env = CommonsEnv::new(cfg);
    assert_eq!(env.policies(), ["whale".to_string()]);
    check_env(&mut env, 1, 30).unwrap();
    // A bad population table is refused with the field named.
    std::fs::write(
        &scenario,
        "[[population]]\npersonality = \"altruist\"\nhatchers = 1.5\n",
    )
    .unwrap();
    let e = scenario::load_env(&scenario).unwrap_err().to_string();
    assert!(e.contains("population[0].hatchers"), "{e}");
    std::fs::write(&scenario, "[[population]]\npersonality = \"nobody\"\n").unwrap();
    let e = scenario::load_env(&scenario).unwrap_err().to_string();
    assert!(e.contains("nobody"), "{e}");
}

#[test]
fn wealth_rewards_add_up_to_each_agents_dai_gain_in_one_unit_for_everybody() {
    let mut env = CommonsEnv::new(commons_cfg(150));
    let nvec = env.action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(3);
    let mut actions = Vec::new();
    env.reset(11).unwrap();
    let unit = 0.1 * env.commons().unwrap().pools().funding_pool;
    assert!((env.reward_unit() - unit).abs() <= 1e-9 * unit);
    // Per agent: net worth at joining, latest net worth, summed wealth rewards.
    let mut book: std::collections::HashMap<u64, (f64, f64, f64)> = Default::default();
    let mut finished = 0;
    loop {
        let out = env.output();
        let parts = env.reward_parts();
        for (i, r) in out.rows.iter().enumerate() {
            let nw = parts[i].net_worth;
            let e = book.entry(r.agent.0).or_insert((nw, nw, 0.0));
            e.1 = nw;
            e.2 += parts[i].wealth;
            if r.terminated || r.truncated {
                let gain = e.1 - e.0;
                let back = e.2 * env.reward_unit();
                assert!(
                    (gain - back).abs() <= 1e-6 * (1.0 + gain.abs() + env.reward_unit()),
                    "agent {}: gain {gain} DAI, rewards x scale {back}",
                    r.agent.0
                );
                finished += 1;
            }
        }
        if out.info.done {
            break;
        }
        random_legal_actions(out, &nvec, &mut rng, &mut actions);
        env.step(&actions).unwrap();
    }
    assert!(finished > 10, "only {finished} agents finished");
}

/// The world's own errors reach the caller typed: legacy mode's overdraft (Q14) is
/// `EnvError::Model(ModelError::Overdraft)`, and the episode is over.
#[test]
fn a_model_error_ends_the_episode_with_its_type() {
    use commons_rl::env::EnvError;
    use commons_rl::model::ModelError;
    let mut model = commons_rl::model::ModelConfig::default();
    model.simulation.rng = commons_rl::rng::RngMode::NumpyLegacy;
    model.conviction.max_proposal_request = 1.0;
    model.proposals.scale_factor = 0.3;
    let mut env = CommonsEnv::new(CommonsEnvConfig {
        model,
        population: Vec::new(),
        deviant: None,
    });
    env.reset(1).unwrap();
    let err = loop {
        match env.step(&[]) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, EnvError::Model(ModelError::Overdraft { day: 63, .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("funding pool only has"), "{err}");
    assert_eq!(env.step(&[]), Err(EnvError::NeedsReset));
}

/// Block 4's participant is drawn the evening before when agents play: on every day of a seeded
/// episode the rows shown as asked (`own.asked`, propose unmasked) are exactly the agent the world then
/// asks, an asked agent that proposes authors the day's proposal, and nobody else's choice can.
#[test]
fn the_agents_shown_as_asked_are_those_the_world_asks() {
    use commons_rl::env::actions::{PROPOSE_BINS, SUPPORT_BINS, TRADE_BINS};
    use commons_rl::env::observation::names;
    let asked_at = names().iter().position(|n| n == "own.asked").unwrap();
    let q = TRADE_BINS + SUPPORT_BINS;
    let mut env = CommonsEnv::new(commons_cfg(300));
    let nvec = env.action_spec(0).nvec.clone();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(4);
    let mut actions = Vec::new();
    let (mut asked_days, mut agent_proposals) = (0, 0);
    env.reset(21).unwrap();
    while !env.output().info.done {
        let c = env.commons().unwrap();
        let world_asks = c.asked();
        let out = env.output();
        let mut shown = Vec::new();
        for (i, r) in out.rows.iter().enumerate() {
            let flag = out.obs_row(i)[asked_at];
            let mask = &out.mask_row(i)[q..q + PROPOSE_BINS];
            if r.live() {
                assert_eq!(mask, [true, flag == 1.0, flag == 1.0], "row {i}");
                if flag == 1.0 {
                    shown.push(r.agent.0);
                }
            }
        }
        let expected: Vec<u64> = world_asks
            .filter(|id| out.rows.iter().any(|r| r.live() && r.agent.0 == id.0))
            .map(|id| id.0)
            .into_iter()
            .collect();
        assert_eq!(shown, expected, "day {}", c.day());
        random_legal_actions(out, &nvec, &mut rng, &mut actions);
        // The asked agent proposes small whenever it is shown as asked.
        for (i, r) in out.rows.iter().enumerate() {
            if r.live() && shown.contains(&r.agent.0) {
                actions[i * nvec.len() + 2] = 1;
            }
        }
        let out = env.step(&actions).unwrap();
        let _ = out;
        let c = env.commons().unwrap();
        if let Some(&who) = shown.first() {
            asked_days += 1;
            let created = c.events().created.expect("the asked agent proposed");
            let author = c.proposals()[created.0 as usize].author.unwrap();
            assert_eq!(author.0, who);
            agent_proposals += 1;
        }
    }
    assert!(
        asked_days > 20 && agent_proposals == asked_days,
        "{asked_days}"
    );
}

/// Proposes whenever the world asks, ignoring the creation rate (what an agent may do).
struct AlwaysPropose;

impl Controller for AlwaysPropose {
    fn propose(
        &mut self,
        _: &Participant,
        _rate: f64,
        _pool: f64,
        _: &mut ModelRng,
    ) -> Result<ProposalChoice, RngError> {
        Ok(ProposalChoice::Drawn)
    }
    fn vote(
        &mut self,
        who: &mut Participant,
        candidates: &[ProposalId],
        cfg: &ConvictionConfig,
        rng: &mut ModelRng,
        scratch: &mut Vec<(f64, usize)>,
    ) -> Result<(), RngError> {
        Scripted.vote(who, candidates, cfg, rng, scratch)
    }
    fn buy(
        &mut self,
        w: &Participant,
        c: &ParticipantConfig,
        r: &mut ModelRng,
    ) -> Result<f64, RngError> {
        Scripted.buy(w, c, r)
    }
    fn sell(
        &mut self,
        w: &Participant,
        c: &ParticipantConfig,
        r: &mut ModelRng,
    ) -> Result<f64, RngError> {
        Scripted.sell(w, c, r)
    }
    fn exit(
        &mut self,
        w: &Participant,
        c: &ParticipantConfig,
        r: &mut ModelRng,
    ) -> Result<bool, RngError> {
        Scripted.exit(w, c, r)
    }
}

/// Proposals created over two-year episodes of seeds 0..n.
fn proposals_created(ask_ahead: bool, ctl: &mut impl Controller, seeds: u64) -> u32 {
    let cfg = commons_cfg(730);
    let mut created = 0;
    for seed in 0..seeds {
        let mut c = Commons::new(&cfg.model, seed).unwrap();
        if ask_ahead {
            c.ask_ahead().unwrap();
        }
        for _ in 0..730 {
            c.step(ctl).unwrap();
            created += u32::from(c.events().created.is_some());
        }
    }
    created
}

/// Asking the evening before keeps the reference's creation gate: with scripted participants the world
/// creates about as many proposals as the reference, and a participant that proposes every time it is
/// asked (as an agent may) does not create more, because the gate is drawn by the world with the
/// question, not by the participant.
#[test]
fn asking_ahead_keeps_the_references_proposal_rate_even_for_eager_proposers() {
    let seeds = 40;
    let reference = f64::from(proposals_created(false, &mut Scripted, seeds));
    let ahead = f64::from(proposals_created(true, &mut Scripted, seeds));
    let eager = f64::from(proposals_created(true, &mut AlwaysPropose, seeds));
    let eager_without_question = f64::from(proposals_created(false, &mut AlwaysPropose, seeds));
    assert!(reference > 200.0, "{reference}");
    for (what, n) in [("scripted", ahead), ("eager", eager)] {
        assert!(
            (n / reference - 1.0).abs() < 0.15,
            "{what}: {n} proposals against the reference's {reference}"
        );
    }
    // Without the world's gate an eager proposer creates many more (the test can tell them apart).
    assert!(
        eager_without_question > 3.0 * reference,
        "{eager_without_question}"
    );
}

/// A fixed controller plays its rules from each participant's own observation, inside the environment
/// (no rows), and never takes a masked action: a masked choice falls back to the head's no-op and is
/// counted. Here hatchers want to leave from day 1, which the vesting mask forbids until the cliff.
#[test]
fn a_fixed_controller_never_takes_a_masked_action() {
    use commons_rl::env::personality::{ControllerKind, Personality, ResolvedEntry};
    use commons_rl::env::strategy;
    let mut cfg = commons_cfg(400);
    let s = strategy::parse(
        "[strategy]\nname = \"out\"\nexit = \"leave\"\npropose = \"large\"\ntrade = \"sell 50 %\"\n",
        "test",
        "out",
    )
    .unwrap();
    cfg.population = vec![ResolvedEntry {
        personality: Personality::builtin("profit-seeker").unwrap(),
        controller: ControllerKind::Fixed,
        checkpoint: None,
        strategy: Some(s),
        hatchers: 0.5,
        arrivals: 0.5,
    }];
    let mut env = CommonsEnv::new(cfg.clone());
    let out = env.reset(3).unwrap();
    assert!(out.rows.is_empty(), "fixed participants have no rows");
    let (mut fixed_left, mut early) = (0, 0);
    while !env.output().info.done {
        env.step(&[]).unwrap();
        let c = env.commons().unwrap();
        for p in &c.events().departed {
            if p.personality == 1 {
                fixed_left += 1;
                // The exit mask: at most 0.1 % of the grant still locked.
                if p.holdings.locked() > 1e-3 * p.holdings.vesting {
                    early += 1;
                }
            }
        }
    }
    let fb = env.fixed_fallbacks()[0];
    assert_eq!(early, 0);
    assert!(fixed_left > 10, "{fixed_left}");
    assert!(fb.decisions > 1000 && fb.masked[3] > 0, "{fb:?}");
    // Proposing is allowed only when asked, so "large" falls back on most days.
    assert!(fb.masked[2] > fb.decisions / 2, "{fb:?}");
    // The scripted baseline replaces policies' agents only: the fixed strategy keeps playing.
    let mut env = CommonsEnv::new(cfg);
    env.set_scripted_baseline(true);
    env.reset(3).unwrap();
    for _ in 0..30 {
        env.step(&[]).unwrap();
    }
    assert!(env.fixed_fallbacks()[0].decisions > 100);
}

/// `set_fixed_override` plays a policy's agents with a strategy and ignores the actions given.
#[test]
fn an_override_replaces_a_policys_actions() {
    use commons_rl::env::strategy;
    // Spendable tokens of policy 0's personality (label 1) after 200 days: everybody holds, or policy 0
    // is played by "sell half daily" while given out-of-range actions (refused if they reached it).
    let run = |sell: bool| {
        let mut env = CommonsEnv::new(commons_cfg(200));
        if sell {
            let s = strategy::resolve("sell-half-daily", std::path::Path::new(".")).unwrap();
            env.set_fixed_override(0, Some(s));
        }
        env.reset(8).unwrap();
        while !env.output().info.done {
            let out = env.output();
            let mut actions = vec![0u32; out.rows.len() * 4];
            for (i, r) in out.rows.iter().enumerate() {
                if sell && r.policy == 0 {
                    actions[i * 4] = 99;
                }
            }
            env.step(&actions).unwrap();
        }
        let held: f64 = env
            .commons()
            .unwrap()
            .participants()
            .iter()
            .filter(|p| p.personality == 1)
            .map(|p| p.holdings.spendable())
            .sum();
        (held, env.override_fallbacks()[0])
    };
    let ((hold, none), (sold, fb)) = (run(false), run(true));
    assert_eq!(none.decisions, 0);
    assert!(fb.decisions > 1000, "{fb:?}");
    assert!(sold < 0.5 * hold, "{sold} vs {hold}");
}

/// The `backing` component's shares: every proposal that becomes active is backed by shares of its
/// conviction that add up to 1 over the participants (those who leave later that day included).
#[test]
fn conviction_shares_of_a_funded_proposal_add_up_to_one() {
    let cfg = commons_cfg(400);
    let mut c = Commons::new(&cfg.model, 12).unwrap();
    let mut checked = 0;
    for _ in 0..400 {
        c.step(&mut Scripted).unwrap();
        for id in &c.events().activated {
            let total: f64 = c
                .participants()
                .iter()
                .chain(&c.events().departed)
                .filter_map(|p| p.past_edge(*id))
                .map(|e| e.share)
                .sum();
            if c.proposals()[id.0 as usize].conviction > 0.0 {
                assert!((total - 1.0).abs() < 1e-9, "{total}");
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "{checked}");
}

/// A unilateral deviation (`CommonsEnvConfig::deviant`) moves exactly one agent of the personality —
/// its first at reset — to one more policy, for its whole life, and changes nothing else: with the same
/// actions the world is the same, day by day.
#[test]
fn a_unilateral_deviant_is_one_agent_on_its_own_policy_and_changes_nothing_else() {
    let plain_cfg = commons_cfg(120);
    let mut plain = CommonsEnv::new(plain_cfg.clone());
    let target = plain.policies()[0].clone();
    let mut cfg = plain_cfg;
    cfg.deviant = Some(target.clone());
    let mut dev = CommonsEnv::new(cfg);
    let n = plain.policies().len();
    assert_eq!(&dev.policies()[..n], plain.policies());
    assert_eq!(
        dev.policies()[n],
        commons_rl::env::commons_env::deviator_name(&target)
    );
    let nvec = plain.action_spec(0).nvec.clone();
    for seed in 0..3 {
        let (mut r1, mut r2) = (
            rand_pcg::Pcg32::seed_from_u64(seed),
            rand_pcg::Pcg32::seed_from_u64(seed),
        );
        let (mut a1, mut a2) = (Vec::new(), Vec::new());
        let first = plain
            .reset(seed)
            .unwrap()
            .rows
            .iter()
            .find(|r| r.policy == 0)
            .map(|r| r.agent);
        let out = dev.reset(seed).unwrap();
        let deviants: Vec<_> = out.rows.iter().filter(|r| r.policy as usize == n).collect();
        assert_eq!(deviants.len(), 1, "one deviant per episode");
        assert_eq!(
            Some(deviants[0].agent),
            first,
            "the personality's first agent"
        );
        let agent = deviants[0].agent;
        loop {
            let (o1, o2) = (plain.output(), dev.output());
            assert_eq!(o1.rows.len(), o2.rows.len());
            for (x, y) in o1.rows.iter().zip(&o2.rows) {
                assert_eq!((x.agent, x.reward), (y.agent, y.reward));
                let expected = if x.agent == agent { n as u16 } else { x.policy };
                assert_eq!(y.policy, expected);
            }
            assert_eq!(o1.obs, o2.obs);
            assert_eq!(o1.info.metrics, o2.info.metrics);
            if o1.info.done {
                break;
            }
            random_legal_actions(o1, &nvec, &mut r1, &mut a1);
            random_legal_actions(o2, &nvec, &mut r2, &mut a2);
            plain.step(&a1).unwrap();
            dev.step(&a2).unwrap();
        }
    }
}
