//! `commons compare`: side-by-side behaviour and outcomes of runs, with bootstrap 95 % intervals.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use commons_rl::compare::{self, RunSamples, Side};
use commons_rl::eval;
use commons_rl::run::folder;

/// Arguments of `commons compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders: evaluated training runs (their eval.json, from `commons eval`) or `commons simulate`
    /// outputs. The first is the reference.
    #[arg(value_name = "RUN_DIR", required = true)]
    runs: Vec<PathBuf>,
    /// Put the first run's scripted baseline (same roles, same seeds, reference rules) first, as the
    /// reference; with it a single run can be compared.
    #[arg(long)]
    scripted: bool,
    /// Also draw the comparison as an SVG file.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Evaluate training runs that have no eval.json yet, with the defaults of `commons eval` (this
    /// writes eval.json and eval_days.csv into their folders); without it such a run is an error.
    #[arg(long)]
    evaluate: bool,
}

fn load(dir: &std::path::Path, side: Side, evaluate: bool) -> anyhow::Result<RunSamples> {
    if !dir.is_dir() {
        bail!("{}: no such run folder", dir.display());
    }
    if evaluate && !dir.join(eval::report::FILE).is_file() && dir.join("checkpoints").is_dir() {
        eprintln!(
            "{}: no eval.json yet, running `commons eval` with its defaults (--evaluate)",
            dir.display()
        );
        eval::run(&eval::EvalRequest {
            announce: true,
            ..eval::EvalRequest::defaults(dir)
        })?;
    }
    Ok(RunSamples::load(dir, side)?)
}

/// Prints a check's warnings when it checked the run's current eval.json (`fresh` of its checkpoint
/// step, episodes and seed), else that `file` is left over from another evaluation.
fn print_check(
    label: &str,
    dir: &std::path::Path,
    file: &str,
    flag: &str,
    fresh: impl Fn(u64, u32, u64) -> bool,
    warnings: Vec<String>,
) {
    let current = eval::report::EvalHead::of_run(dir)
        .and_then(|h| Some((h.checkpoint_step?, h.episodes, h.seed)));
    match current {
        Some((step, episodes, seed)) if fresh(step, episodes, seed) => {
            for w in warnings {
                println!("{label}: {w}");
            }
        }
        _ => println!(
            "{label}: {file} is from another evaluation than eval.json: run `commons eval {} {flag}` again",
            dir.display()
        ),
    }
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    if args.runs.len() < 2 && !args.scripted {
        bail!("compare needs at least two run folders (or one with --scripted, to compare it with its scripted baseline)");
    }
    // Refuse to overwrite what is not ours before any work is done.
    if let Some(path) = &args.plot {
        folder::check_output_file(path, |b| b.starts_with(b"<svg"))?;
    }
    if let Some(path) = &args.json {
        folder::check_output_file(path, |b| {
            serde_json::from_slice::<serde_json::Value>(b)
                .is_ok_and(|v| v.get("runs").is_some() && v.get("rows").is_some())
        })?;
    }
    let mut runs = Vec::new();
    if args.scripted {
        runs.push(load(&args.runs[0], Side::Scripted, args.evaluate)?);
    }
    for dir in &args.runs {
        runs.push(load(dir, Side::Trained, args.evaluate)?);
    }
    // Folders with the same name (x/run, y/run) are told apart by their parent folder.
    let labels: Vec<String> = runs.iter().map(|r| r.label.clone()).collect();
    let dirs: Vec<&PathBuf> = if args.scripted {
        std::iter::once(&args.runs[0]).chain(&args.runs).collect()
    } else {
        args.runs.iter().collect()
    };
    for (run, dir) in runs.iter_mut().zip(dirs) {
        if labels.iter().filter(|l| **l == run.label).count() > 1 {
            let parent = dir
                .parent()
                .and_then(|p| p.file_name())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            run.label = format!("{parent}/{}", run.label);
        }
    }
    let c = compare::compare(&runs);
    print!("{}", compare::render_table(&c));
    // Runs of different code: say so, since their differences may not be the parameters'.
    let provenance: Vec<(String, Option<commons_rl::provenance::Provenance>)> = args
        .runs
        .iter()
        .zip(runs.iter().skip(args.scripted as usize).map(|r| &r.label))
        .map(|(dir, label)| {
            let p = eval::report::EvalHead::of_run(dir).and_then(|h| h.provenance);
            (label.clone(), p)
        })
        .collect();
    if let Some(w) = commons_rl::provenance::mixed(
        "the compared runs",
        provenance.iter().map(|(l, p)| (l.as_str(), p.as_ref())),
    ) {
        println!("{w}");
    }
    let labelled: Vec<(&PathBuf, &String)> = args
        .runs
        .iter()
        .zip(runs.iter().skip(args.scripted as usize).map(|r| &r.label))
        .collect();
    // Learned deviation checks of the runs that have one (`commons eval --against-learned`).
    for (dir, label) in &labelled {
        if let Some(l) = eval::LearnedResponse::read(dir)? {
            let fresh = |s, e, seed| l.matches(s, e, seed);
            print_check(
                label,
                dir,
                eval::learned::FILE,
                "--against-learned",
                fresh,
                l.warnings(),
            );
        }
    }
    // Best-response checks of the runs that have one (`commons eval --against-fixed`).
    for (dir, label) in &labelled {
        if let Some(b) = eval::BestResponse::read(dir)? {
            let fresh = |s, e, seed| b.matches(s, e, seed);
            print_check(
                label,
                dir,
                eval::best_response::FILE,
                "--against-fixed",
                fresh,
                b.warnings(),
            );
        }
    }
    if let Some(path) = &args.plot {
        commons_rl::atomic::write_atomic(path, compare::plot::svg(&c).as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("written: {}", path.display());
    }
    if let Some(path) = &args.json {
        let mut text = serde_json::to_string_pretty(&c)?;
        text.push('\n');
        commons_rl::atomic::write_atomic(path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("written: {}", path.display());
    }
    Ok(())
}
