//! `commons train` end to end on a tiny budget: files in place, finite losses, TensorBoard's own reader
//! finds the expected tags and steps, resume continues the step count, and a missing or corrupt
//! checkpoint gives a one-line error naming the file.
#![cfg(feature = "torch")]

use std::path::Path;

use assert_cmd::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn train(dir: &Path, name: &str, env: &str, agents: &str, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("commons")
        .unwrap()
        .current_dir(dir)
        .args([
            "train",
            "--env",
            &format!("{ROOT}/{env}"),
            "--agents",
            &format!("{ROOT}/{agents}"),
            "--run-name",
            name,
            "--device",
            "cpu",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// Fails the test with the command's stderr unless it succeeded.
fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails the test unless the command failed with a message containing every needle; returns the message.
fn assert_fails_naming(out: &std::process::Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    for n in needles {
        assert!(err.contains(n), "{err} lacks {n}");
    }
    err
}

/// Runs `commons` with `args` in `dir`.
fn commons_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("commons")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Scalars of a run folder as read by TensorBoard's Python reader (installed by scripts/test.sh).
fn read_events(run: &Path) -> serde_json::Value {
    let python = std::env::var("COMMONS_RL_PYTHON").expect(
        "COMMONS_RL_PYTHON is not set: run the tests with scripts/test.sh, which installs TensorBoard's reader",
    );
    let out = std::process::Command::new(python)
        .arg(format!("{ROOT}/tests/read_events.py"))
        .arg(run)
        .output()
        .expect("python");
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn cartpole_smoke_run_resume_and_tensorboard() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        dir.path(),
        "cp",
        "envs/cartpole.toml",
        "agents/ppo-cartpole.toml",
        &["--total-steps", "4096"],
    );
    assert_ok(&out);
    let run = dir.path().join("runs/cp");
    for f in [
        "config.toml",
        "summary.json",
        "checkpoints/latest",
        "checkpoints/4096/cartpole.ot",
        "checkpoints/4096/state.json",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let s = summary(&run);
    assert_eq!(s["global_step"], 4096);
    assert!(
        s["episodic_return"]["cartpole"]["episodes"]
            .as_u64()
            .unwrap()
            > 10
    );
    // One agent per CartPole episode: every episode is an environment episode too.
    let per_episode = &s["episode_mean_return"]["cartpole"];
    assert_eq!(
        per_episode["episodes"],
        s["episodic_return"]["cartpole"]["episodes"]
    );
    assert!(per_episode["last_10_mean"].as_f64().unwrap() > 0.0);
    let ev = read_events(&run);
    for tag in [
        "charts/episodic_return/cartpole",
        "charts/SPS",
        "charts/agent_steps",
        "losses/cartpole/policy_loss",
        "losses/cartpole/value_loss",
        "losses/cartpole/entropy",
        "losses/cartpole/approx_kl",
        "losses/cartpole/clipfrac",
        "losses/cartpole/explained_variance",
    ] {
        assert!(
            ev[tag]["n"].as_u64().unwrap() >= 1,
            "tag {tag} missing: {ev}"
        );
    }
    // With one agent per episode, the per-environment-episode mean is the episodic return itself.
    let per_agent = ev["charts/episodic_return/cartpole"]["values"]
        .as_array()
        .unwrap();
    let per_episode = ev["charts/episode_mean_return/cartpole"]["values"]
        .as_array()
        .unwrap();
    assert_eq!(per_agent.len(), per_episode.len());
    for (a, b) in per_agent.iter().zip(per_episode) {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
    }
    // 4096 steps = 8 updates of 4 envs x 128 steps: one point per update, at steps 512..4096.
    assert_eq!(ev["charts/SPS"]["n"], 8);
    assert_eq!(ev["charts/SPS"]["first"], 512);
    assert_eq!(ev["charts/SPS"]["last"], 4096);
    for tag in [
        "losses/cartpole/value_loss",
        "losses/cartpole/policy_loss",
        "losses/cartpole/entropy",
    ] {
        for v in ev[tag]["values"].as_array().unwrap() {
            assert!(v.as_f64().is_some_and(f64::is_finite), "{tag}: {v}");
        }
    }

    // Resume continues from 4096 to 6144.
    let out = commons_in(
        dir.path(),
        &["train", "--resume", "runs/cp", "--total-steps", "6144"],
    );
    assert_ok(&out);
    let resumed = summary(&run);
    assert_eq!(resumed["global_step"], 6144);
    // Episode counts continue from the checkpoint.
    assert!(
        resumed["episode_mean_return"]["cartpole"]["episodes"].as_u64()
            > s["episode_mean_return"]["cartpole"]["episodes"].as_u64()
    );
    assert!(run.join("checkpoints/6144/cartpole.ot").exists());

    // A corrupt checkpoint is refused with the file named; the previous one is untouched.
    std::fs::write(run.join("checkpoints/6144/cartpole.ot"), b"garbage").unwrap();
    let out = commons_in(
        dir.path(),
        &["train", "--resume", "runs/cp", "--total-steps", "8192"],
    );
    let err = assert_fails_naming(&out, &["checkpoints/6144/cartpole.ot"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(run.join("checkpoints/4096/cartpole.ot").exists());

    // A run without checkpoints.
    std::fs::create_dir_all(dir.path().join("runs/empty")).unwrap();
    std::fs::copy(
        run.join("config.toml"),
        dir.path().join("runs/empty/config.toml"),
    )
    .unwrap();
    let out = commons_in(dir.path(), &["train", "--resume", "runs/empty"]);
    assert_fails_naming(&out, &["checkpoints/latest"]);
}

#[test]
fn commons_smoke_run_logs_every_personality() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        dir.path(),
        "mixed",
        "envs/commons.toml",
        "agents/mixed.toml",
        &["--total-steps", "1024", "--num-envs", "2"],
    );
    assert_ok(&out);
    let run = dir.path().join("runs/mixed");
    let s = summary(&run);
    assert_eq!(s["global_step"], 1024);
    let ev = read_events(&run);
    for p in commons_rl::env::personality::BUILTINS.map(|b| b.name) {
        assert!(run.join(format!("checkpoints/1024/{p}.ot")).exists());
        for tag in [
            "policy_loss",
            "value_loss",
            "entropy",
            "approx_kl",
            "clipfrac",
            "explained_variance",
        ] {
            let t = format!("losses/{p}/{tag}");
            assert!(ev[&t]["n"].as_u64().unwrap() >= 1, "{t}");
        }
        for b in commons_rl::env::actions::BEHAVIOURS {
            assert!(ev[format!("behaviour/{p}/{b}_rate")]["n"].as_u64().unwrap() >= 1);
        }
    }
    for m in commons_rl::model::metrics::METRIC_NAMES {
        assert!(
            ev[format!("commons/{m}")]["n"].as_u64().unwrap() >= 1,
            "commons/{m}"
        );
    }
}

#[test]
fn bad_training_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[ppo]\nlearning_rate = 5.0\n").unwrap();
    let out = commons_in(
        dir.path(),
        &[
            "train",
            "--env",
            &format!("{ROOT}/envs/cartpole.toml"),
            "--agents",
            bad.to_str().unwrap(),
        ],
    );
    let err = assert_fails_naming(&out, &["ppo.learning_rate", "bad.toml"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let out = commons_in(
        dir.path(),
        &[
            "train",
            "--env",
            &format!("{ROOT}/envs/cartpole.toml"),
            "--agents",
            &format!("{ROOT}/agents/ppo-cartpole.toml"),
            "--total-steps",
            "0",
        ],
    );
    assert_fails_naming(&out, &["--total-steps"]);
}

#[test]
fn eval_compares_trained_policies_with_scripted_roles() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        dir.path(),
        "al",
        "envs/commons.toml",
        "agents/altruist.toml",
        &["--total-steps", "512", "--num-envs", "2"],
    );
    assert_ok(&out);
    // compare never writes into a run folder unless asked: an unevaluated run is an error naming eval.
    let out = commons_in(dir.path(), &["compare", "runs/al", "--scripted"]);
    assert_fails_naming(&out, &["runs/al", "without eval.json", "commons eval"]);
    assert!(!dir.path().join("runs/al/eval.json").exists());
    // Evaluations that cannot fit or would take hours are refused up front, with the estimate, the
    // limit and what to lower (a horizon of 4e9 days used to abort on a failed allocation).
    for (args, needles) in [
        (
            &["--episodes", "100000000"][..],
            &["--episodes", "more than"][..],
        ),
        (
            &["--set", "hatch.hatchers=1000000"],
            &["hatch.hatchers", "more than"],
        ),
        (
            &["--set", "simulation.days=4000000000"],
            &["memory", "simulation.days"],
        ),
    ] {
        let mut all = vec!["eval", "runs/al"];
        all.extend(args);
        let err = assert_fails_naming(&commons_in(dir.path(), &all), needles);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("--ignore-"), "{err}");
    }
    assert!(!dir.path().join("runs/al/eval.json").exists());
    let out = commons_in(
        dir.path(),
        &["eval", "runs/al", "--episodes", "2", "--seed", "77"],
    );
    assert_ok(&out);
    let e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("runs/al/eval.json")).unwrap())
            .unwrap();
    assert_eq!(e["checkpoint_step"], 512);
    let p = &e["personalities"]["altruist"];
    for k in [
        "mean_return",
        "ci95",
        "baseline_mean_return",
        "baseline_ci95",
    ] {
        assert!(p[k].is_number(), "{k}: {p}");
    }
    for k in ["buy", "sell", "stake", "propose", "exit"] {
        let r = p["behaviour"][k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&r));
    }
    for side in ["outcomes", "baseline_outcomes"] {
        assert!(e[side]["token_price"]["mean"].is_number() && e[side]["participants"]["n"] == 2);
    }
    for k in ["net_worth_gain", "impact"] {
        let c = &p[k];
        assert!(
            c["trained"]["mean"].is_number() && c["scripted"]["n"] == 2,
            "{k}: {c}"
        );
    }
    // Overlapping return intervals get a note that says how to narrow them, and only then.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let note = "note: the return intervals of altruist overlap at 2 episodes; with --episodes 8";
    assert_eq!(
        stdout.contains(note),
        p["separated"] == false,
        "{stdout}\n{p}"
    );
    let samples = &e["samples"]["trained"]["personalities"]["altruist"];
    assert_eq!(samples["impact"].as_array().unwrap().len(), 2);
    assert_eq!(samples["sell"].as_array().unwrap().len(), 2);
    // compare reads eval.json: the trained altruists against their scripted baseline, paired by seed.
    let out = commons_in(dir.path(), &["compare", "runs/al", "--scripted"]);
    assert_ok(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("A  al (scripted)\nB  al\nB − A  difference from A, paired by seed"),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("  impact (U)")),
        "{table}"
    );
    // A run folder without checkpoints gives a one-line error naming the file.
    std::fs::remove_dir_all(dir.path().join("runs/al/checkpoints")).unwrap();
    let out = commons_in(dir.path(), &["eval", "runs/al", "--episodes", "1"]);
    assert_fails_naming(&out, &["checkpoints/latest"]);
}

#[test]
fn a_frozen_policy_plays_from_another_run_without_learning() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        dir.path(),
        "al",
        "envs/commons.toml",
        "agents/altruist.toml",
        &["--total-steps", "512", "--num-envs", "2"],
    );
    assert_ok(&out);
    let scenario = dir.path().join("frozen.toml");
    std::fs::write(
        &scenario,
        format!(
            "[simulation]\ndays = 60\n[extensions]\nwallets = \"budget\"\n\
             [[population]]\npersonality = \"altruist\"\ncontroller = \"frozen\"\ncheckpoint = \"{}\"\nhatchers = 0.4\narrivals = 0.4\n\
             [[population]]\npersonality = \"profit-seeker\"\ncontroller = \"learned\"\nhatchers = 0.4\narrivals = 0.4\n",
            dir.path().join("runs/al").display()
        ),
    )
    .unwrap();
    let agents = dir.path().join("agents.toml");
    std::fs::write(&agents, "[train]\ntotal_steps = 512\nnum_envs = 2\nnum_steps = 64\n[ppo]\nnormalize_observations = true\n").unwrap();
    let out = commons_in(
        dir.path(),
        &[
            "train",
            "--env",
            scenario.to_str().unwrap(),
            "--agents",
            agents.to_str().unwrap(),
            "--run-name",
            "mix",
            "--device",
            "cpu",
        ],
    );
    assert_ok(&out);
    let ev = read_events(&dir.path().join("runs/mix"));
    assert!(
        ev["losses/profit-seeker/policy_loss"]["n"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(
        ev.get("losses/altruist/policy_loss").is_none(),
        "a frozen policy must not be updated"
    );
    // A missing checkpoint for a frozen controller is an error naming the file.
    std::fs::remove_dir_all(dir.path().join("runs/al/checkpoints")).unwrap();
    let out = commons_in(
        dir.path(),
        &[
            "train",
            "--env",
            scenario.to_str().unwrap(),
            "--agents",
            agents.to_str().unwrap(),
            "--run-name",
            "mix2",
            "--device",
            "cpu",
        ],
    );
    assert_fails_naming(&out, &["runs/al"]);
}

/// The schedule counts environment steps: a run resumed with other `--num-envs` and a longer
/// `--total-steps` stops at the new total, and its learning rate keeps falling from where it was.
#[test]
fn resume_continues_the_schedule_in_environment_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        dir.path(),
        "sched",
        "envs/cartpole.toml",
        "agents/ppo-cartpole.toml",
        &["--total-steps", "2048"],
    );
    assert_ok(&out);
    let run = dir.path().join("runs/sched");
    let out = commons_in(
        dir.path(),
        &[
            "train",
            "--resume",
            "runs/sched",
            "--total-steps",
            "4096",
            "--num-envs",
            "2",
        ],
    );
    assert_ok(&out);
    let s = summary(&run);
    assert_eq!(s["global_step"], 4096);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("total_steps = 4096") && config.contains("num_envs = 2"),
        "{config}"
    );
    let ev = read_events(&run);
    let lr: Vec<f64> = ev["charts/learning_rate/cartpole"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(lr.len(), 4 + 8, "4 updates of 512 steps, then 8 of 256");
    for w in lr.windows(2) {
        assert!(w[1] <= w[0], "the rate never rises: {lr:?}");
    }
    // The finished run's last update used 0.25 of the base rate; the extension starts there (a restart
    // of the plan would jump back to 0.5) and falls to 1/32 at its last update.
    let base = 2.5e-4_f64;
    for (i, f) in [(3, 0.25), (4, 0.25), (11, 0.25 / 8.0)] {
        assert!((lr[i] - f * base).abs() < 1e-9, "update {i}: {lr:?}");
    }
}

/// Every tensor of two checkpoint files, paired by name (panics if the names differ).
fn tensors(path: &Path) -> Vec<(String, tch::Tensor)> {
    let mut t = tch::Tensor::load_multi(path).unwrap();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

fn same_checkpoint(a: &Path, b: &Path) -> bool {
    let mut files: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".ot"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "4 networks and 4 optimisers: {files:?}");
    files.iter().all(|f| {
        let (x, y) = (tensors(&a.join(f)), tensors(&b.join(f)));
        x.len() == y.len()
            && x.iter()
                .zip(&y)
                .all(|((n, s), (m, t))| n == m && s.equal(t))
    })
}

/// Four updates of a Commons whose episodes last two updates (32 days, 16 steps per rollout), by
/// `commons train` with `extra` flags and `RAYON_NUM_THREADS=threads`.
fn short_commons(dir: &Path, name: &str, threads: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--total-steps",
        "128",
        "--set",
        "simulation.days=32",
        "--set",
        "train.num_steps=16",
        "--set",
        "train.num_envs=2",
    ];
    args.extend_from_slice(extra);
    Command::cargo_bin("commons")
        .unwrap()
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", threads)
        .args([
            "train",
            "--env",
            &format!("{ROOT}/envs/commons.toml"),
            "--agents",
            &format!("{ROOT}/agents/mixed.toml"),
            "--run-name",
            name,
            "--device",
            "cpu",
        ])
        .args(&args)
        .output()
        .unwrap()
}

/// A run stopped at an update and resumed ends with the same weights and optimiser moments as the
/// uninterrupted run (the stop falls where every episode ends, so no episode is in flight); and
/// training is deterministic for one seed, for one thread or two.
#[test]
fn resume_is_exact_and_training_is_deterministic_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_ok(&short_commons(d, "whole", "2", &[]));
    assert_ok(&short_commons(d, "halves", "2", &["--stop-after", "64"]));
    let halves = d.join("runs/halves");
    assert_eq!(summary(&halves)["global_step"], 64);
    assert_eq!(summary(&halves)["interrupted"], true);
    let out = commons_in(
        d,
        &["train", "--resume", "runs/halves", "--set", "train.seed=5"],
    );
    assert_fails_naming(&out, &["--set train.seed", "keeps its seed"]);
    let out = commons_in(d, &["train", "--resume", "runs/halves"]);
    assert_ok(&out);
    assert_eq!(summary(&halves)["global_step"], 128);
    let whole = d.join("runs/whole/checkpoints/128");
    assert!(
        same_checkpoint(&whole, &halves.join("checkpoints/128")),
        "resume differs"
    );
    // The return statistics too: every agent of every episode is counted once, the first episode's
    // hatchers and those of the episode the resumed run starts with included.
    let stats = |run: &str| {
        let s = summary(&d.join(run));
        (
            s["episode_mean_return"].clone(),
            s["episodic_return"].clone(),
        )
    };
    assert_eq!(stats("runs/whole"), stats("runs/halves"));
    assert_eq!(
        summary(&d.join("runs/whole"))["episode_mean_return"]["altruist"]["episodes"],
        4,
        "2 environments × 2 episodes of 32 days"
    );
    assert_ok(&short_commons(d, "one-thread", "1", &[]));
    assert!(
        same_checkpoint(&whole, &d.join("runs/one-thread/checkpoints/128")),
        "one thread differs from two"
    );
    // A different seed trains different weights (the comparison can fail).
    assert_ok(&short_commons(d, "other-seed", "2", &["--seed", "9"]));
    assert!(!same_checkpoint(
        &whole,
        &d.join("runs/other-seed/checkpoints/128")
    ));
    // The resumed run's config records the overrides.
    let config = std::fs::read_to_string(halves.join("config.toml")).unwrap();
    assert!(
        config.contains("days = 32") && config.contains("num_steps = 16"),
        "{config}"
    );
}

/// `--set` overrides are checked like the files: an unknown key or an out-of-range value is a one-line
/// error naming the override, and nothing is written.
#[test]
fn bad_overrides_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (set, needle) in [
        ("ppo.learning_rat=1", "unknown field"),
        ("train.num_envs=0", "train.num_envs"),
        ("simulation.days=0", "simulation.days"),
        ("nodot=1", "dotted key"),
    ] {
        let out = train(
            dir.path(),
            "bad",
            "envs/commons.toml",
            "agents/mixed.toml",
            &["--set", set],
        );
        let err = assert_fails_naming(&out, &[needle]);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!dir.path().join("runs/bad").exists());
    }
}

/// `--set` on train changes the run exactly as the same edit in the scenario file does: the same
/// weights and the same summary statistics.
#[test]
fn train_set_equals_the_same_edit_in_the_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_ok(&short_commons(
        d,
        "set",
        "2",
        &["--set", "curve.exit_tribute=0.6"],
    ));
    let text = std::fs::read_to_string(format!("{ROOT}/envs/commons.toml")).unwrap();
    assert!(!text.contains("exit_tribute"), "the edit adds the key");
    let edited = d.join("edited.toml");
    std::fs::write(&edited, format!("{text}\n[curve]\nexit_tribute = 0.6\n")).unwrap();
    let out = Command::cargo_bin("commons")
        .unwrap()
        .current_dir(d)
        .env("RAYON_NUM_THREADS", "2")
        .args(["train", "--env", edited.to_str().unwrap(), "--agents"])
        .arg(format!("{ROOT}/agents/mixed.toml"))
        .args([
            "--run-name",
            "edited",
            "--device",
            "cpu",
            "--total-steps",
            "128",
        ])
        .args(["--set", "simulation.days=32", "--set", "train.num_steps=16"])
        .args(["--set", "train.num_envs=2"])
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(same_checkpoint(
        &d.join("runs/set/checkpoints/128"),
        &d.join("runs/edited/checkpoints/128")
    ));
    let stats = |run: &str| summary(&d.join(run))["episode_mean_return"].clone();
    assert_eq!(stats("runs/set"), stats("runs/edited"));
}

/// `commons eval --against-fixed=DIR`: every learned personality against every strategy of the folder
/// on the same seeds, written to best_response.json; the same result for one thread or two (episodes
/// run in parallel); bad strategy folders give one-line errors naming the file, the strategy and the
/// field; compare and a plain eval treat the file as they should.
#[test]
fn eval_against_fixed_checks_every_personality_against_every_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let out = short_commons(dir.path(), "mx", "2", &[]);
    assert_ok(&out);
    let lib = dir.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    std::fs::write(
        lib.join("hold.toml"),
        "[strategy]\ndescription = \"nothing\"\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("dump.toml"),
        "[strategy]\ndescription = \"sell\"\ntrade = \"sell 50 %\"\npropose = \"small\"\n",
    )
    .unwrap();
    let eval = |threads: &str| {
        let out = Command::cargo_bin("commons")
            .unwrap()
            .current_dir(dir.path())
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "eval",
                "runs/mx",
                "--episodes",
                "4",
                "--check-episodes",
                "3",
                "--against-fixed=lib",
            ])
            .output()
            .unwrap();
        assert_ok(&out);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            std::fs::read(dir.path().join("runs/mx/best_response.json")).unwrap(),
            std::fs::read(dir.path().join("runs/mx/eval.json")).unwrap(),
        )
    };
    let (stdout, one, eval_one) = eval("1");
    let (_, two, eval_two) = eval("2");
    assert_eq!(one, two, "best_response.json depends on the thread count");
    assert_eq!(eval_one, eval_two, "eval.json depends on the thread count");
    assert!(stdout.contains("best response"), "{stdout}");
    let b: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let names = ["profit-seeker", "altruist", "balanced", "builder"];
    for p in names {
        let c = &b["personalities"][p];
        assert_eq!(c["strategies"].as_array().unwrap().len(), 2, "{p}: {c}");
        let gap = c["gap"]["mean"].as_f64().unwrap();
        let (t, f) = (
            c["trained"]["mean"].as_f64().unwrap(),
            c["best_fixed"]["mean"].as_f64().unwrap(),
        );
        assert!((gap - (t - f)).abs() < 1e-9, "{p}: {c}");
        assert!(["hold", "dump"].contains(&c["best"].as_str().unwrap()));
        for s in ["hold", "dump"] {
            assert_eq!(b["samples"]["fixed"][p][s].as_array().unwrap().len(), 3);
        }
        // "small" is masked on days the agent is not asked: counted as fallbacks.
        assert!(b["samples"]["fallbacks"][p]["dump"][3].as_u64().unwrap() > 0);
    }
    // The check played the first 3 of the evaluation's 4 seeds: its trained returns are eval.json's,
    // seed for seed.
    let e: serde_json::Value = serde_json::from_slice(&eval_one).unwrap();
    assert_eq!(
        (e["episodes"].as_u64(), b["episodes"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(
        b["samples"]["trained"]["builder"],
        serde_json::json!(
            e["samples"]["trained"]["personalities"]["builder"]["return"]
                .as_array()
                .unwrap()[..3]
        )
    );
    // compare still reads the run, and takes the check for this evaluation's.
    let out = commons_in(dir.path(), &["compare", "runs/mx", "--scripted"]);
    assert_ok(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!table.contains("another evaluation"), "{table}");
    // The check's episodes: 2 to --episodes, and only with --against-fixed.
    for (episodes, check, against) in [("2", "3", true), ("4", "1", true), ("4", "2", false)] {
        let mut args = vec![
            "eval",
            "runs/mx",
            "--episodes",
            episodes,
            "--check-episodes",
            check,
        ];
        if against {
            args.push("--against-fixed=lib");
        }
        let out = commons_in(dir.path(), &args);
        let err = assert_fails_naming(&out, &["--check-episodes"]);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // A plain eval removes the check, which would describe another evaluation.
    assert_ok(&commons_in(
        dir.path(),
        &["eval", "runs/mx", "--episodes", "2"],
    ));
    assert!(!dir.path().join("runs/mx/best_response.json").exists());
    // Bad strategies: one line naming the file, the strategy and the field.
    std::fs::write(lib.join("bad.toml"), "[strategy]\nname = \"oops\"\n[strategy.trade]\nrules = [{ when = \"commons.pirce > 1\", then = \"hold\" }]\n").unwrap();
    let out = commons_in(
        dir.path(),
        &["eval", "runs/mx", "--episodes", "2", "--against-fixed=lib"],
    );
    let err = assert_fails_naming(
        &out,
        &[
            "bad.toml",
            "strategy `oops`",
            "field `trade.rules[0].when`",
            "unknown feature `commons.pirce`",
        ],
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let out = commons_in(
        dir.path(),
        &[
            "eval",
            "runs/mx",
            "--episodes",
            "2",
            "--against-fixed=nowhere",
        ],
    );
    assert_fails_naming(&out, &["nowhere", "cannot list strategies"]);
    // One episode is no interval.
    let out = commons_in(
        dir.path(),
        &["eval", "runs/mx", "--episodes", "1", "--against-fixed"],
    );
    assert_fails_naming(&out, &["--episodes 1", "at least 2 episodes"]);
}

/// `compare --evaluate` evaluates a run without eval.json with eval's defaults, then compares it.
#[test]
fn compare_evaluates_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        dir.path(),
        "short",
        "envs/commons.toml",
        "agents/builder.toml",
        &["--total-steps", "256", "--set", "simulation.days=8"],
    );
    assert_ok(&out);
    let out = commons_in(
        dir.path(),
        &["compare", "runs/short", "--scripted", "--evaluate"],
    );
    assert_ok(&out);
    let e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("runs/short/eval.json")).unwrap())
            .unwrap();
    assert_eq!(
        (e["episodes"].as_u64(), e["seed"].as_u64()),
        (Some(128), Some(1_000_000))
    );
    assert!(dir.path().join("runs/short/eval_days.csv").is_file());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("A  short (scripted)\nB  short"),
        "{table}"
    );
}
