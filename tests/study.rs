//! `commons study` end to end on a tiny study (2 variants x 2 seeds x a few thousand steps): `--cell`
//! runs one cell, a full run skips finished cells and resumes a killed one, the report agrees with the
//! cells' eval files and parses (HTML as XML, SVGs); bad study files and folders give one-line errors;
//! `eval --set` equals editing the run's scenario.
#![cfg(feature = "torch")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tiny(seeds: &str, steps: u64) -> String {
    format!(
        r#"[study]
env = "{ROOT}/envs/commons.toml"
agents = "{ROOT}/agents/mixed.toml"
seeds = {seeds}
total_steps = {steps}
eval_episodes = 6
set = {{ "simulation.days" = 40, "train.checkpoint_every" = 1 }}

[[variant]]
name = "base"

[[variant]]
name = "tribute-high"
set = {{ "curve.exit_tribute" = 0.6 }}
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn study(dir: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("commons")
        .unwrap()
        .current_dir(dir)
        .arg("study")
        .arg(file)
        .args(["--out", "out"])
        .args(extra)
        .output()
        .unwrap()
}

fn assert_ok(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed with one line naming every needle.
fn assert_fails_naming(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "not one line: {line}");
    for n in needles {
        assert!(line.contains(n), "{line} lacks `{n}`");
    }
}

fn modified(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn events_files(run: &Path) -> usize {
    std::fs::read_dir(run)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .count()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn a_tiny_study_runs_one_cell_then_the_rest_and_reports_what_its_cells_say() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write(dir, "tiny.toml", &tiny("[1, 2]", 2048));
    // --cell 1 runs exactly that cell, and no report yet.
    let stdout = assert_ok(&study(dir, &file, &["--cell", "1"]));
    assert!(stdout.contains("1 of 4 cells done"), "{stdout}");
    let cells = dir.join("out/cells");
    let made: Vec<String> = std::fs::read_dir(&cells)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(made, ["base__seed2"]);
    assert!(cells.join("base__seed2/eval.json").is_file());
    assert!(cells.join("base__seed2/eval_days.csv").is_file());
    assert!(!dir.join("out/report.html").exists());
    let first = cells.join("base__seed2/summary.json");
    let (when, events) = (modified(&first), events_files(&cells.join("base__seed2")));
    // The whole study: the done cell is skipped, the rest trained and evaluated, then the report.
    let stdout = assert_ok(&study(dir, &file, &[]));
    assert!(stdout.contains("written:"), "{stdout}");
    assert_eq!(
        modified(&first),
        when,
        "the finished cell was not retrained"
    );
    assert_eq!(events_files(&cells.join("base__seed2")), events);
    let listed = assert_ok(&study(dir, &file, &["--list"]));
    assert_eq!(listed.matches(" done").count(), 4, "{listed}");
    // study.json agrees with the cells' eval.json: the mean of per-seed episode means.
    let report = json(&dir.join("out/study.json"));
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["side"] == "trained" && r["series"] == "commons/token_price")
        .expect("a token price row");
    for (v, variant) in ["base", "tribute-high"].iter().enumerate() {
        let per_seed: Vec<f64> = [1, 2]
            .iter()
            .map(|s| {
                let e = json(&cells.join(format!("{variant}__seed{s}/eval.json")));
                let v: Vec<f64> = e["samples"]["trained"]["outcomes"]["token_price"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                v.iter().sum::<f64>() / v.len() as f64
            })
            .collect();
        let want = (per_seed[0] + per_seed[1]) / 2.0;
        let got = row["estimates"][v]["mean"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "{variant}: {got} vs {want}"
        );
        let e = &row["estimates"][v];
        assert!(e["lo"].as_f64().unwrap() <= got && got <= e["hi"].as_f64().unwrap());
    }
    let d = &row["differences"][1];
    let diff = row["estimates"][1]["mean"].as_f64().unwrap()
        - row["estimates"][0]["mean"].as_f64().unwrap();
    assert!((d["mean"].as_f64().unwrap() - diff).abs() < 1e-9 * diff.abs().max(1e-9));
    // Every finding quotes a difference whose interval excludes zero.
    for f in report["findings"].as_array().unwrap() {
        let (lo, hi) = (
            f["difference"]["lo"].as_f64().unwrap(),
            f["difference"]["hi"].as_f64().unwrap(),
        );
        assert!(lo > 0.0 || hi < 0.0, "{f}");
        assert!(f["text"].as_str().unwrap().contains("95 % CI"), "{f}");
    }
    // report.html: well-formed (parses as XML, so as HTML), self-contained, every variant and personality.
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    let doc_text = html.trim_start_matches("<!DOCTYPE html>");
    roxmltree::Document::parse(doc_text).expect("report.html is well-formed");
    assert!(html.matches("<svg").count() >= 6, "charts inline");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing external"
    );
    for needle in [
        "base",
        "tribute-high",
        "profit-seeker",
        "altruist",
        "balanced",
        "builder",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle}");
    }
    for entry in std::fs::read_dir(dir.join("out/charts")).unwrap() {
        let svg = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        roxmltree::Document::parse(&svg).expect("chart SVG parses as XML");
    }
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("## Findings") && md.contains("charts/token_price.svg"));
}

#[test]
fn a_killed_study_finishes_on_rerun_without_retraining_finished_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write(dir, "tiny.toml", &tiny("[1, 2]", 6144));
    let bin = assert_cmd::cargo::cargo_bin("commons");
    let mut child = std::process::Command::new(&bin)
        .current_dir(dir)
        .arg("study")
        .arg(&file)
        .args(["--out", "out"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cells = dir.join("out/cells");
    let first_eval = cells.join("base__seed1/eval.json");
    let second = cells.join("base__seed2");
    // Kill it once the first cell is done and the second has a checkpoint (or, if that is too fast
    // to catch, whenever the first is done).
    let start = Instant::now();
    while !(first_eval.is_file() && second.join("checkpoints/latest").is_file()) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the first cell never finished"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().ok();
    child.wait().unwrap();
    assert!(first_eval.is_file());
    let when = modified(&cells.join("base__seed1/summary.json"));
    let partial = std::fs::read_to_string(second.join("checkpoints/latest"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&step| step < 6144);
    eprintln!("killed with the second cell at checkpoint {partial:?}");
    assert_ok(&study(dir, &file, &[]));
    assert_eq!(
        modified(&cells.join("base__seed1/summary.json")),
        when,
        "the finished cell was not retrained"
    );
    if partial.is_some() {
        assert_eq!(
            events_files(&second),
            2,
            "the half-trained cell was resumed, not restarted"
        );
    }
    let summary = json(&second.join("summary.json"));
    assert_eq!(summary["global_step"], 6144);
    assert!(dir.join("out/report.html").is_file());
}

#[test]
fn bad_study_files_and_folders_give_one_line_errors_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = tiny("[1, 2]", 1024);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            good.replace("eval_episodes = 6", "eval_episodes = 6\nepisodes = 3"),
            vec!["bad.toml", "unknown field `episodes`"],
        ),
        (
            good.replace(
                r#"set = { "curve.exit_tribute" = 0.6 }"#,
                r#"set = { "curve.exit_tribute" = 0.6, curve = { exit_tribute = 0.5 } }"#,
            ),
            vec![
                "bad.toml",
                "variant[1].set",
                "curve.exit_tribute",
                "set twice",
            ],
        ),
        (
            good.replace("envs/commons.toml", "envs/nope.toml"),
            vec!["bad.toml", "study.env", "nope.toml"],
        ),
        (
            good.replace(
                r#""curve.exit_tribute" = 0.6"#,
                r#""curve.exit_tribute" = 2.0"#,
            ),
            vec!["bad.toml", "variant[1].set", "curve.exit_tribute", "2.0"],
        ),
        (
            good.replace(
                r#""curve.exit_tribute" = 0.6"#,
                r#""curve.exit_tribut" = 0.6"#,
            ),
            vec!["bad.toml", "variant[1].set", "curve.exit_tribut"],
        ),
        (
            good.replace("seeds = [1, 2]", "seeds = [1, 1]"),
            vec!["bad.toml", "study.seeds[1]", "twice"],
        ),
        (
            good.replace(r#"name = "tribute-high""#, r#"name = "base""#),
            vec!["bad.toml", "variant[1].name", "base"],
        ),
        (
            good.replace("total_steps = 1024", "total_steps = 0"),
            vec!["bad.toml", "study.total_steps", "allowed"],
        ),
    ];
    for (text, needles) in cases {
        let file = write(dir, "bad.toml", &text);
        assert_fails_naming(&study(dir, &file, &[]), &needles);
        assert!(
            !dir.join("out").exists(),
            "nothing written for a bad study file"
        );
    }
    // A cell out of range.
    let file = write(dir, "tiny.toml", &good);
    assert_fails_naming(&study(dir, &file, &["--cell", "4"]), &["--cell", "0 to 3"]);
    // A folder of another study is refused, and what is in it stays.
    assert_ok(&study(dir, &file, &["--cell", "0"]));
    let eval = dir.join("out/cells/base__seed1/eval.json");
    let before = std::fs::read(&eval).unwrap();
    let other = write(dir, "other.toml", &tiny("[7, 8]", 1024));
    assert_fails_naming(&study(dir, &other, &[]), &["out", "another study"]);
    assert_eq!(std::fs::read(&eval).unwrap(), before);
    // A folder that is not a study at all.
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "mine").unwrap();
    let out = Command::cargo_bin("commons")
        .unwrap()
        .current_dir(dir)
        .args(["study", "tiny.toml", "--out", "mine"])
        .output()
        .unwrap();
    assert_fails_naming(&out, &["mine", "not written by commons-rl"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn eval_set_equals_editing_the_runs_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write(dir, "tiny.toml", &tiny("[1]", 1024));
    // One trained cell to evaluate (a study cell is an ordinary run folder).
    assert_ok(&study(dir, &file, &["--cell", "0"]));
    let run = dir.join("out/cells/base__seed1");
    let copy = dir.join("edited");
    copy_dir(&run, &copy);
    std::fs::remove_file(copy.join(".lock")).ok();
    let config = std::fs::read_to_string(copy.join("config.toml")).unwrap();
    assert!(config.contains("exit_tribute = 0.35"), "{config}");
    std::fs::write(
        copy.join("config.toml"),
        config.replace("exit_tribute = 0.35", "exit_tribute = 0.6"),
    )
    .unwrap();
    let eval = |run: &Path, extra: &[&str]| {
        Command::cargo_bin("commons")
            .unwrap()
            .current_dir(dir)
            .arg("eval")
            .arg(run)
            .args(["--episodes", "3"])
            .args(extra)
            .output()
            .unwrap()
    };
    assert_ok(&eval(&run, &["--set", "curve.exit_tribute=0.6"]));
    assert_ok(&eval(&copy, &[]));
    let mut a = json(&run.join("eval.json"));
    let b = json(&copy.join("eval.json"));
    assert_eq!(
        a["overrides"],
        serde_json::json!(["curve.exit_tribute=0.6"])
    );
    a["overrides"] = serde_json::json!([]);
    assert_eq!(a, b, "--set equals the same edit in the run's scenario");
    // Bad overrides: one line each, naming the key.
    assert_fails_naming(
        &eval(&run, &["--set", "curve.exit_tribute=2"]),
        &["curve.exit_tribute", "allowed"],
    );
    assert_fails_naming(
        &eval(&run, &["--set", "curve.exit_tribut=0.5"]),
        &["curve.exit_tribut"],
    );
    assert_fails_naming(
        &eval(&run, &["--set", "ppo.learning_rate=0.1"]),
        &["ppo.learning_rate", "scenario"],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_base_file_changed_mid_study_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let agents = dir.join("agents.toml");
    std::fs::copy(format!("{ROOT}/agents/mixed.toml"), &agents).unwrap();
    let text = tiny("[1, 2]", 512).replace(
        &format!("{ROOT}/agents/mixed.toml"),
        agents.to_str().unwrap(),
    );
    let file = write(dir, "tiny.toml", &text);
    assert_ok(&study(dir, &file, &["--cell", "0"]));
    let original = std::fs::read_to_string(&agents).unwrap();
    std::fs::write(
        &agents,
        original.replace("ent_coef = 0.01", "ent_coef = 0.02"),
    )
    .unwrap();
    assert_fails_naming(
        &study(dir, &file, &[]),
        &[
            "agents.toml",
            "changed since this study started",
            "base/agents.toml",
        ],
    );
    std::fs::write(&agents, original).unwrap();
    assert_ok(&study(dir, &file, &["--cell", "1"]));
}

/// `against_fixed`: every cell gets its best-response check (a cell without one is not done), and a
/// cell whose trained personality a fixed strategy beats is a note in the report.
#[test]
fn a_study_with_against_fixed_checks_every_cell_and_reports_beaten_personalities() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("lib")).unwrap();
    write(
        &dir.join("lib"),
        "dump.toml",
        "[strategy]\ndescription = \"sell\"\ntrade = \"sell 50 %\"\n",
    );
    let text = tiny("[1]", 512).replace(
        "eval_episodes = 6",
        "eval_episodes = 4\nagainst_fixed = \"lib\"",
    );
    let file = write(dir, "fixed.toml", &text);
    assert_ok(&study(dir, &file, &[]));
    let cell = dir.join("out/cells/base__seed1");
    let check = cell.join("best_response.json");
    let b = json(&check);
    assert_eq!(
        b["personalities"].as_object().unwrap().len(),
        4,
        "every learned personality is checked"
    );
    // Without its check a cell is not done: the next run evaluates it again.
    std::fs::remove_file(&check).unwrap();
    let listed = assert_ok(&study(dir, &file, &["--list"]));
    assert_eq!(listed.matches(" done").count(), 1, "{listed}");
    assert_ok(&study(dir, &file, &[]));
    assert!(check.is_file());
    // A beaten personality becomes a note of the report, in the warning's words.
    let mut b = json(&check);
    let c = &mut b["personalities"]["builder"];
    c["beaten"] = serde_json::Value::Bool(true);
    c["gap"]["hi"] = serde_json::json!(-0.5);
    std::fs::write(&check, serde_json::to_vec(&b).unwrap()).unwrap();
    assert_ok(&study(dir, &file, &[]));
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(
        md.contains(
            "base__seed1: warning: trained builder agents are beaten by the fixed strategy `dump`"
        ),
        "{md}"
    );
    // A bad value names the field.
    let bad = write(
        dir,
        "bad.toml",
        &text.replace("against_fixed = \"lib\"", "against_fixed = 3"),
    );
    let out = study(dir, &bad, &[]);
    assert_fails_naming(
        &out,
        &["study.against_fixed", "allowed: true, false, or a folder"],
    );
}

/// A strategy that cannot act for a personality the study trains (a slot stake for a market-only
/// observer) is refused before any cell is trained, naming the field, the strategy, the personality and
/// the variant.
#[test]
fn a_strategy_that_cannot_replace_a_trained_personality_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("lib")).unwrap();
    write(
        &dir.join("lib"),
        "back-slot.toml",
        "[strategy]\ndescription = \"stake on slot 1\"\nsupport = 3\n",
    );
    let trader = write(
        dir,
        "trader.toml",
        "[personality]\nname = \"trader\"\nobservation = \"market-only\"\n[personality.reward]\nwealth = 1.0\n",
    );
    let mixed = std::fs::read_to_string(format!("{ROOT}/agents/mixed.toml")).unwrap();
    let agents = write(
        dir,
        "agents.toml",
        &mixed.replace(
            "personality = \"builder\"",
            &format!("personality = {:?}", trader.display().to_string()),
        ),
    );
    let text = tiny("[1]", 512)
        .replace(
            &format!("{ROOT}/agents/mixed.toml"),
            &agents.display().to_string(),
        )
        .replace(
            "eval_episodes = 6",
            "eval_episodes = 4\nagainst_fixed = \"lib\"",
        );
    let file = write(dir, "fixed.toml", &text);
    let out = study(dir, &file, &[]);
    assert_fails_naming(
        &out,
        &[
            "study.against_fixed",
            "back-slot",
            "market-only",
            "personality trader in variant base",
        ],
    );
    assert!(!dir.join("out").exists(), "nothing is written");
}

#[test]
fn a_grid_study_lists_its_cost_runs_and_draws_a_response_chart_with_provenance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = format!(
        r#"[study]
env = "{ROOT}/envs/commons.toml"
agents = "{ROOT}/agents/profit-and-altruist.toml"
seeds = [1]
total_steps = 1024
eval_episodes = 4
set = {{ "simulation.days" = 40 }}

[[grid]]
"hatch.vesting_80p_unlocked" = [120.0, 365.0]
"conviction.max_proposal_request" = [0.1, 0.2]
"#
    );
    let file = write(dir, "grid.toml", &text);
    let listed = assert_ok(&study(dir, &file, &["--list"]));
    assert!(
        listed.contains("4 cells: 4 variants x 1 training seeds"),
        "{listed}"
    );
    assert!(listed.contains("core-hours"), "{listed}");
    assert!(
        listed.contains("max_proposal_request-0.1+vesting_80p_unlocked-120.0__seed1"),
        "{listed}"
    );
    assert!(!dir.join("out").exists(), "--list writes nothing");
    assert_ok(&study(dir, &file, &[]));
    let s = json(&dir.join("out/study.json"));
    let variants = s["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 4);
    assert_eq!(
        variants[3]["grid"]["values"][1][0],
        "hatch.vesting_80p_unlocked"
    );
    assert!(s["provenance"]["population"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    assert!(s["report_provenance"]["model_version"].is_u64());
    let svg = std::fs::read_to_string(dir.join("out/charts/response-grid0.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("the response chart parses as XML");
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(
        md.contains("charts/response-grid0.svg") && md.contains("Provenance:"),
        "{md}"
    );
}
