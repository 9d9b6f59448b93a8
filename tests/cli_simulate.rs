//! `commons simulate` end to end: outputs, determinism across thread counts, legacy reproduction, and a
//! one-line error with a non-zero exit for every kind of bad input.

use std::path::Path;

use assert_cmd::Command;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/reference.toml");

fn commons() -> Command {
    Command::cargo_bin("commons").expect("binary")
}

fn simulate(out: &Path, extra: &[&str]) -> std::process::Output {
    commons()
        .args(["simulate", "--env", REFERENCE, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run")
}

#[test]
fn simulate_writes_summary_trajectories_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate(
        dir.path(),
        &["--episodes", "3", "--days", "40", "--seed", "7"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("funding_pool") && stdout.contains("±"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let eps = summary["episodes"].as_array().unwrap();
    assert_eq!(eps.len(), 3);
    for (k, e) in eps.iter().enumerate() {
        assert_eq!(e["seed"].as_u64(), Some(7 + k as u64));
        for key in commons_rl::model::metrics::METRIC_NAMES {
            assert!(e["initial"][key].is_number(), "initial.{key}");
            assert!(e["final"][key].is_number(), "final.{key}");
        }
        assert_eq!(e["days"].as_u64(), Some(40));
    }
    let csv = std::fs::read_to_string(dir.path().join("trajectories.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 41);
    assert!(csv.starts_with("episode,seed,day,participants"));
    let cfg = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(cfg.contains("days = 40"));
    assert!(!dir.path().join("trajectories.csv.tmp").exists());
}

#[test]
fn same_seed_gives_identical_outputs_with_one_and_two_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (dir, threads) in [(&a, "1"), (&b, "2")] {
        let out = simulate(
            dir.path(),
            &["--episodes", "12", "--seed", "3", "--threads", threads],
        );
        assert!(out.status.success());
    }
    for file in ["summary.json", "trajectories.csv"] {
        let x = std::fs::read(a.path().join(file)).unwrap();
        let y = std::fs::read(b.path().join(file)).unwrap();
        assert!(x == y, "{file} differs between 1 and 2 threads");
    }
}

#[test]
fn legacy_mode_reproduces_the_reference_seed_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate(
        dir.path(),
        &["--rng", "numpy-legacy", "--seed", "1", "--episodes", "1"],
    );
    assert!(out.status.success());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let e = &summary["episodes"][0];
    assert_eq!(summary["rng"], "numpy-legacy");
    assert_eq!(e["seed"], 1);
    assert_eq!(e["score"], 974);
    assert_eq!(e["reported"]["participants"], 24);
    assert_eq!(e["reported"]["proposals_completed"], 86);
    assert_eq!(e["reported"]["proposals_failed"], 77);
    assert!(e["error"].is_null());
}

/// Runs `commons` with `args`, expects failure with one line on stderr containing every `needle`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let out = commons().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    fails_with(&["simulate", "--env", missing], &[missing, "cannot read"]);
    let not_toml = write("bad.toml", "{ \"json\": true }\n");
    fails_with(&["simulate", "--env", &not_toml], &[&not_toml, "line 1"]);
    let binary = write("binary.toml", "\u{0}\u{1}garbage ==== \n");
    fails_with(&["simulate", "--env", &binary], &[&binary]);
    let unknown = write("unknown.toml", "[curve]\nkapa = 3\n");
    fails_with(&["simulate", "--env", &unknown], &[&unknown, "kapa"]);
    let unknown_section = write("section.toml", "[market]\nx = 1\n");
    fails_with(
        &["simulate", "--env", &unknown_section],
        &[&unknown_section, "market"],
    );
    let range = write("range.toml", "[curve]\nexit_tribute = 1.5\n");
    fails_with(
        &["simulate", "--env", &range],
        &[&range, "curve.exit_tribute", "0 to 1"],
    );
    let kappa = write("kappa.toml", "[curve]\nkappa = 0\n");
    fails_with(
        &["simulate", "--env", &kappa],
        &[&kappa, "curve.kappa", "> 0"],
    );
    let days = write("days.toml", "[simulation]\ndays = -10\n");
    fails_with(&["simulate", "--env", &days], &[&days, "simulation.days"]);
    let prob = write(
        "prob.toml",
        "[participants]\nengagement_rate_multiplier_buy = -0.1\n",
    );
    fails_with(
        &["simulate", "--env", &prob],
        &[&prob, "engagement_rate_multiplier_buy"],
    );
    let wrong_type = write("type.toml", "[hatch]\nhatchers = \"five\"\n");
    fails_with(
        &["simulate", "--env", &wrong_type],
        &[&wrong_type, "hatch.hatchers", "invalid type"],
    );
    let hatchers = write("hatchers.toml", "[hatch]\nhatchers = 0\n");
    fails_with(
        &["simulate", "--env", &hatchers],
        &[&hatchers, "hatch.hatchers", ">= 1"],
    );

    let out = dir.path().join("o");
    let out = out.to_str().unwrap();
    for (flag, value) in [
        ("--episodes", "0"),
        ("--episodes", "-3"),
        ("--days", "0"),
        ("--days", "-1"),
        ("--episodes", "many"),
    ] {
        fails_with(
            &["simulate", "--env", REFERENCE, "--out", out, flag, value],
            &[flag],
        );
    }
    fails_with(
        &["simulate", "--env", REFERENCE, "--out", out, "--seed", "-1"],
        &["--seed"],
    );
    fails_with(
        &[
            "simulate",
            "--env",
            REFERENCE,
            "--out",
            out,
            "--rng",
            "numpy-legacy",
            "--seed",
            "4294967295",
            "--episodes",
            "2",
        ],
        &["--seed", "4294967295"],
    );
    fails_with(&["simulate"], &["--env"]);
}

/// `--set` overrides a scenario parameter for simulate (recorded in config.toml) and bench, validated
/// like the file.
#[test]
fn set_overrides_scenario_parameters_for_simulate_and_bench() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let env = format!("{}/envs/reference.toml", env!("CARGO_MANIFEST_DIR"));
    let run = |extra: &[&str]| {
        assert_cmd::Command::cargo_bin("commons")
            .unwrap()
            .args(["simulate", "--env", &env, "--episodes", "2", "--days", "20"])
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = run(&[
        "--out",
        out.to_str().unwrap(),
        "--set",
        "curve.exit_tribute=0.6",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("exit_tribute = 0.6"), "{config}");
    // The same edit in a copy of the file: the same episodes.
    let edited = dir.path().join("edited.toml");
    let text = std::fs::read_to_string(&env).unwrap();
    assert!(text.contains("exit_tribute = 0.35"));
    std::fs::write(
        &edited,
        text.replace("exit_tribute = 0.35", "exit_tribute = 0.6"),
    )
    .unwrap();
    let out2 = dir.path().join("sim2");
    let same = assert_cmd::Command::cargo_bin("commons")
        .unwrap()
        .args([
            "simulate",
            "--env",
            edited.to_str().unwrap(),
            "--episodes",
            "2",
            "--days",
            "20",
        ])
        .args(["--out", out2.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(same.status.success());
    let episodes = |dir: &std::path::Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        v["episodes"].clone()
    };
    assert_eq!(
        episodes(&out),
        episodes(&out2),
        "--set equals the same edit in the file"
    );
    let bad = run(&["--set", "curve.exit_tribute=7"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("--set curve.exit_tribute=7"),
        "{err}"
    );
    let bench = assert_cmd::Command::cargo_bin("commons")
        .unwrap()
        .args([
            "bench",
            "--env",
            &format!("{}/envs/commons.toml", env!("CARGO_MANIFEST_DIR")),
        ])
        .args([
            "--num-envs",
            "1",
            "--steps",
            "5",
            "--set",
            "simulation.days=10",
        ])
        .output()
        .unwrap();
    assert!(
        bench.status.success(),
        "{}",
        String::from_utf8_lossy(&bench.stderr)
    );
}

/// `commons params` prints the reference of docs/parameters.md, filters it by a word, points to it
/// from `simulate --help`, and refuses a word that matches nothing with one line.
#[test]
fn params_prints_and_filters_the_parameter_reference() {
    let out = commons().args(["params"]).output().expect("run");
    assert!(out.status.success());
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    let n = commons_rl::model::params::all().count();
    assert!(all.contains(&format!("{n} of {n} parameters")), "{all}");
    assert!(all.contains("curve.exit_tribute = 0.35"), "{all}");
    let out = commons()
        .args(["params", "--grep", "Conviction Half-Life"])
        .output()
        .expect("run");
    let one = String::from_utf8_lossy(&out.stdout);
    assert!(
        one.starts_with("conviction.days_to_80p_of_max_voting_weight = 10.0")
            && one.contains("1 of "),
        "{one}"
    );
    let out = commons()
        .args(["params", "--grep", "kappa", "--markdown"])
        .output()
        .expect("run");
    let md = String::from_utf8_lossy(&out.stdout);
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/parameters.md"))
        .unwrap();
    let row = md.lines().nth(2).unwrap();
    assert!(
        row.starts_with("| `curve.kappa` |") && docs.contains(row),
        "{md}"
    );
    let out = commons()
        .args(["params", "--grep", "no-such-word"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no-such-word"), "{err}");
    let out = commons()
        .args(["simulate", "--help"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("commons params"));
}
