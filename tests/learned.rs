//! `commons eval --against-learned` end to end on a tiny run: both deviations of every learned
//! personality trained, played on the evaluation's seeds and written; a second call reuses them; bad
//! flags get one line naming the flag; compare names runs of different code.
#![cfg(feature = "torch")]

use std::path::Path;

use assert_cmd::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn commons(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("commons")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> (String, String) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), err)
}

fn fails_naming(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    let line = err.trim();
    assert!(!line.contains('\n'), "more than one line: {err}");
    for n in needles {
        assert!(line.contains(n), "`{n}` not in: {line}");
    }
}

#[test]
fn both_deviations_of_every_learned_personality_are_trained_paired_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let env = format!("{ROOT}/envs/commons.toml");
    let agents = format!("{ROOT}/agents/profit-and-altruist.toml");
    ok(&commons(
        dir,
        &[
            "train",
            "--env",
            &env,
            "--agents",
            &agents,
            "--total-steps",
            "1024",
            "--set",
            "simulation.days=40",
            "--run-name",
            "tiny",
        ],
    ));
    let args = [
        "eval",
        "runs/tiny",
        "--episodes",
        "4",
        "--against-learned",
        "--steps",
        "1024",
        "--deviation-seed",
        "5",
    ];
    let (out, _) = ok(&commons(dir, &args));
    assert!(out.contains("learned deviation"), "{out}");
    assert!(out.contains("unilateral") && out.contains("whole"), "{out}");
    let run = dir.join("runs/tiny");
    let l: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("learned_response.json")).unwrap()).unwrap();
    let devs = l["deviations"].as_array().unwrap();
    assert_eq!(devs.len(), 4, "two personalities x two deviations");
    let mut kinds: Vec<(String, String)> = devs
        .iter()
        .map(|d| {
            (
                d["personality"].as_str().unwrap().to_string(),
                d["deviation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("altruist".into(), "unilateral".into()),
            ("altruist".into(), "whole".into()),
            ("profit-seeker".into(), "unilateral".into()),
            ("profit-seeker".into(), "whole".into()),
        ]
    );
    for d in devs {
        assert_eq!(d["steps"], 1024);
        assert_eq!(d["seed"], 5);
        assert_eq!(d["warm_start"], false);
        assert_eq!(d["samples"]["trained"].as_array().unwrap().len(), 4);
        let g = &d["gain"];
        let (t, v) = (
            d["trained"]["mean"].as_f64().unwrap(),
            d["deviator"]["mean"].as_f64().unwrap(),
        );
        assert!((g["mean"].as_f64().unwrap() - (v - t)).abs() < 1e-9);
        assert_eq!(
            d["exploitable"].as_bool().unwrap(),
            g["lo"].as_f64().unwrap() > 0.0
        );
        let folder = run.join(d["folder"].as_str().unwrap());
        assert!(folder.join("checkpoints/latest").is_file(), "{folder:?}");
        assert!(folder.join("deviation.json").is_file());
    }
    assert!(l["provenance"]["observation_version"].is_u64());
    // Again with the same settings: nothing is retrained, and the result is the same.
    let summary = run
        .join(devs[0]["folder"].as_str().unwrap())
        .join("summary.json");
    let before = std::fs::metadata(&summary).unwrap().modified().unwrap();
    let (_, err) = ok(&commons(dir, &args));
    assert!(err.contains("reusing"), "{err}");
    assert_eq!(
        std::fs::metadata(&summary).unwrap().modified().unwrap(),
        before
    );
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("learned_response.json")).unwrap()).unwrap();
    assert_eq!(again["deviations"], l["deviations"]);
    // compare names runs of different code (here: another model version).
    let other = dir.join("runs/other");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["config.toml", "commons-run.json", "eval.json"] {
        std::fs::copy(run.join(f), other.join(f)).unwrap();
    }
    let mut e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(other.join("eval.json")).unwrap()).unwrap();
    e["provenance"]["model_version"] = serde_json::json!(99);
    std::fs::write(other.join("eval.json"), serde_json::to_vec(&e).unwrap()).unwrap();
    let (out, _) = ok(&commons(dir, &["compare", "runs/tiny", "runs/other"]));
    assert!(
        out.contains("mix results of different code") && out.contains("model v99"),
        "{out}"
    );
    let (out, _) = ok(&commons(dir, &["compare", "runs/tiny", "runs/tiny"]));
    assert!(!out.contains("different code"), "{out}");
    // Bad flags: one line naming the flag.
    fails_naming(
        &commons(
            dir,
            &["eval", "runs/tiny", "--against-learned", "--steps", "0"],
        ),
        &["--steps 0", "allowed: 1 to"],
    );
    fails_naming(
        &commons(
            dir,
            &[
                "eval",
                "runs/tiny",
                "--against-learned",
                "--personality",
                "whale",
            ],
        ),
        &["--personality whale", "altruist", "profit-seeker"],
    );
    fails_naming(
        &commons(
            dir,
            &["eval", "runs/tiny", "--against-learned", "--episodes", "1"],
        ),
        &["--episodes 1", "at least 2"],
    );
    fails_naming(
        &commons(dir, &["eval", "runs/tiny", "--steps", "100"]),
        &["--steps", "only with --against-learned"],
    );
}
