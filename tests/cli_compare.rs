//! `commons compare` end to end on `commons simulate` outputs (no training needed): the table, the SVG,
//! the JSON, pairing by seed, and one-line errors for bad run folders.

use std::path::Path;

use assert_cmd::Command;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/envs/reference.toml");

fn commons() -> Command {
    Command::cargo_bin("commons").expect("binary")
}

fn simulate(out: &Path, seed: &str) {
    let o = commons()
        .args([
            "simulate",
            "--env",
            REFERENCE,
            "--episodes",
            "6",
            "--days",
            "90",
        ])
        .args(["--seed", seed, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn one_line_error(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn compares_simulate_runs_with_table_plot_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    simulate(&a, "0");
    simulate(&b, "0");
    simulate(&c, "100");
    let (svg, json) = (dir.path().join("cmp.svg"), dir.path().join("cmp.json"));
    let o = commons()
        .arg("compare")
        .args([&a, &b, &c])
        .arg("--plot")
        .arg(&svg)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("B − A  difference from A, paired by seed")
            && table.contains("C − A  difference from A, unpaired"),
        "{table}"
    );
    // Readable in a 100-column terminal: short run labels with a legend, units.
    for line in table.lines().skip(5) {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    // Three runs do not fit side by side: each series has a line per run, B's with its difference.
    let lines: Vec<&str> = table.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("  token_price (DAI/token)"))
        .unwrap();
    let price = lines[at + 2];
    assert!(price.starts_with("    B"), "{table}");
    // Same seeds, same scenario: b equals a exactly, so its paired difference is 0 [0, 0].
    assert!(
        price.contains("B − A") && price.contains(" 0 [0, 0]"),
        "{price}"
    );

    let doc = std::fs::read_to_string(&svg).unwrap();
    assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
    assert_eq!(
        doc.matches("<circle").count(),
        3 * 10,
        "a dot per run and metric"
    );

    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["runs"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(j["paired"], serde_json::json!([true, true, false]));
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for row in rows {
        let v = &row["values"][0];
        assert!(v["lo"].as_f64().unwrap() <= v["mean"].as_f64().unwrap());
        assert!(v["mean"].as_f64().unwrap() <= v["hi"].as_f64().unwrap());
        assert_eq!(v["n"], 6);
        assert!(row["differences"][0].is_null());
    }
}

#[test]
fn bad_run_folders_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    simulate(&a, "0");
    // One run needs --scripted (and then an evaluated training run).
    let err = one_line_error(&commons().arg("compare").arg(&a).output().unwrap());
    assert!(err.contains("at least two"), "{err}");
    let err = one_line_error(
        &commons()
            .arg("compare")
            .arg(&a)
            .arg(dir.path().join("nope"))
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("nope") && err.contains("no such run folder"),
        "{err}"
    );
    // --scripted needs an evaluated training run first.
    let err = one_line_error(
        &commons()
            .arg("compare")
            .arg(&a)
            .arg("--scripted")
            .output()
            .unwrap(),
    );
    assert!(err.contains("no scripted baseline"), "{err}");
    // A folder with nothing to compare, a corrupt summary, an eval.json without per-episode samples.
    for (name, file, text, needles) in [
        ("empty", None, "", vec!["empty", "eval.json"]),
        (
            "bad",
            Some("summary.json"),
            "{\"episodes\": [{\"seed\": 1}]}",
            vec!["bad/summary.json", "final"],
        ),
        (
            "old",
            Some("eval.json"),
            "{\"seed\": 1, \"episodes\": 2}",
            vec!["old/eval.json", "samples", "commons eval"],
        ),
        (
            "unevaluated",
            Some("summary.json"),
            r#"{"global_step": 4096, "wall_seconds": 1.0}"#,
            vec!["unevaluated", "commons train", "commons eval"],
        ),
        (
            "short",
            Some("eval.json"),
            r#"{"seed": 1, "episodes": 2, "samples": {"trained": {"personalities": {},
                "outcomes": {"token_price": [0.1]}}, "scripted": {"personalities": {}, "outcomes": {}}}}"#,
            vec![
                "short/eval.json",
                "samples.trained.outcomes.token_price",
                "1 values",
            ],
        ),
    ] {
        let run = dir.path().join(name);
        std::fs::create_dir(&run).unwrap();
        if let Some(file) = file {
            std::fs::write(run.join(file), text).unwrap();
        }
        let err = one_line_error(&commons().arg("compare").arg(&a).arg(&run).output().unwrap());
        for n in needles {
            assert!(err.contains(n), "{name}: {err} lacks {n}");
        }
    }
}
