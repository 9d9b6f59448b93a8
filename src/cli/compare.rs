//! `commons compare`: side-by-side behaviour and outcomes of runs, with bootstrap 95 % intervals.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use commons_rl::compare::{self, RunSamples, Side};
use commons_rl::run::folder;

/// Arguments of `commons compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders: training runs (their eval.json; evaluated now with the defaults of `commons eval`
    /// if they have none) or `commons simulate` outputs. The first is the reference.
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
}

fn load(dir: &std::path::Path, side: Side) -> anyhow::Result<RunSamples> {
    if !dir.is_dir() {
        bail!("{}: no such run folder", dir.display());
    }
    let needs_eval = !dir.join("eval.json").is_file() && dir.join("checkpoints").is_dir();
    if needs_eval {
        #[cfg(feature = "torch")]
        {
            eprintln!(
                "{}: no eval.json yet, running `commons eval` with its defaults",
                dir.display()
            );
            super::eval::evaluate_and_write(
                dir,
                super::eval::DEFAULT_EPISODES,
                super::eval::DEFAULT_CHECK_EPISODES,
                super::eval::DEFAULT_SEED,
                &[],
                &[],
                true,
            )?;
        }
        #[cfg(not(feature = "torch"))]
        bail!(
            "{}: no eval.json; run `commons eval {}` first (this build has no libtorch)",
            dir.display(),
            dir.display()
        );
    }
    Ok(RunSamples::load(dir, side)?)
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
        runs.push(load(&args.runs[0], Side::Scripted)?);
    }
    for dir in &args.runs {
        runs.push(load(dir, Side::Trained)?);
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
    // Best-response checks of the runs that have one (`commons eval --against-fixed`).
    for (dir, label) in args
        .runs
        .iter()
        .zip(runs.iter().skip(args.scripted as usize).map(|r| &r.label))
    {
        if let Some(b) = compare::best_response::BestResponse::read(dir)? {
            let eval: serde_json::Value = std::fs::read(dir.join("eval.json"))
                .ok()
                .and_then(|t| serde_json::from_slice(&t).ok())
                .unwrap_or_default();
            let current = eval["checkpoint_step"]
                .as_u64()
                .zip(eval["episodes"].as_u64())
                .zip(eval["seed"].as_u64());
            match current {
                Some(((step, episodes), seed)) if b.matches(step, episodes as u32, seed) => {
                    for w in b.warnings() {
                        println!("{label}: {w}");
                    }
                }
                _ => println!(
                    "{label}: best_response.json is from another evaluation than eval.json: run `commons eval {} --against-fixed` again",
                    dir.display()
                ),
            }
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
