//! `commons study`: every (variant, training seed) cell of a study file trained and evaluated, then the
//! report. Resumable (finished cells are skipped, a half-trained one resumes from its checkpoint) and
//! splittable (`--cell K` runs one cell, for schedulers).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context};
use clap::Args;
use commons_rl::run::folder::{self, FolderKind};
use commons_rl::run::{self};
use commons_rl::study::{self, Cell, StudyFile};

use super::train::{self, TrainArgs};

/// Arguments of `commons study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Study file (TOML), e.g. studies/exit-tribute.toml (see docs/studies.md).
    file: PathBuf,
    /// Study folder (default: `runs/studies/<file stem>`): the cells' run folders, study.json and the
    /// report. A folder of another study is refused.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run only cell K (0-based, variant-major: K = variant × seeds + seed; `--list` shows them), so a
    /// scheduler can run the cells in parallel; the report is written once every cell is done.
    #[arg(long, value_name = "K")]
    cell: Option<usize>,
    /// Show the cells and what is done, then exit.
    #[arg(long)]
    list: bool,
}

/// What a cell's run folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellState {
    /// No folder yet.
    New,
    /// A training run with no checkpoint (killed before its first): it is moved aside and restarted.
    NoCheckpoint,
    /// Trained up to this step, short of the study's total.
    Partial(u64),
    /// Trained; no (matching) evaluation yet.
    Trained,
    /// Trained and evaluated as the study asks.
    Done,
}

impl CellState {
    fn describe(self, total: u64) -> String {
        match self {
            CellState::New => "to do".into(),
            CellState::NoCheckpoint => "started, no checkpoint (will restart)".into(),
            CellState::Partial(s) => format!("trained {s} of {total} steps (will resume)"),
            CellState::Trained => "trained, not evaluated".into(),
            CellState::Done => "done".into(),
        }
    }
}

/// The latest checkpoint's step of a run folder (None without a checkpoint).
fn checkpoint_step(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join("checkpoints").join("latest"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn cell_state(dir: &Path, study: &StudyFile) -> anyhow::Result<CellState> {
    match folder::inspect(dir)? {
        folder::Found::Missing | folder::Found::Empty => return Ok(CellState::New),
        folder::Found::Ours(FolderKind::Train) => {}
        _ => bail!(
            "{}: not a training run of this study (written by someone else); move it away and run the study again",
            dir.display()
        ),
    }
    let Some(step) = checkpoint_step(dir) else {
        return Ok(CellState::NoCheckpoint);
    };
    if step < study.total_steps {
        return Ok(CellState::Partial(step));
    }
    let Ok(text) = std::fs::read_to_string(dir.join(run::files::EVAL)) else {
        return Ok(CellState::Trained);
    };
    let eval: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let matches = eval["episodes"].as_u64() == Some(study.eval_episodes as u64)
        && eval["seed"].as_u64() == Some(study.eval_seed)
        && eval["checkpoint_step"].as_u64() == Some(step)
        && eval["overrides"].as_array().is_some_and(|o| o.is_empty())
        && dir.join(commons_rl::ppo::evaluate::DAYS_FILE).is_file()
        && (study.against_fixed.is_none() || checked(dir, study, step));
    Ok(if matches {
        CellState::Done
    } else {
        CellState::Trained
    })
}

/// The file that identifies a study folder's study.
const STUDY_FILE: &str = "study.toml";
/// Copies of the base scenario and agents files as they were when the study started.
const BASE_DIR: &str = "base";
const BASE_ENV: &str = "env.toml";
const BASE_AGENTS: &str = "agents.toml";

/// Whether the cell's best-response check is of its evaluation (same checkpoint, episodes and seeds: a
/// study checks on all its evaluation episodes) with the study's strategies.
fn checked(dir: &Path, study: &StudyFile, step: u64) -> bool {
    let Ok(Some(b)) = commons_rl::compare::best_response::BestResponse::read(dir) else {
        return false;
    };
    use std::collections::BTreeSet;
    let names: Option<BTreeSet<String>> = study.against_fixed.as_ref().and_then(|dir| {
        super::eval::strategies(dir.as_deref())
            .ok()
            .map(|s| s.into_iter().map(|s| s.name).collect())
    });
    let have: BTreeSet<String> = b.strategies.keys().cloned().collect();
    b.matches(step, study.eval_episodes, study.eval_seed)
        && b.episodes == study.eval_episodes
        && names.is_some_and(|n| n == have)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// Checks that `out` holds this study, or makes it hold it: a new or empty folder becomes one (with a
/// copy of the study file and of the base files); an existing study folder must hold the same study,
/// with base files that have not changed since it started (else cells trained before and after the
/// change would be mixed in one report).
fn claim(out: &Path, study: &StudyFile, text: &str) -> anyhow::Result<()> {
    folder::open_study(out)?;
    let own = out.join(STUDY_FILE);
    let base = out.join(BASE_DIR);
    let (env_now, agents_now) = (read(&study.env)?, read(&study.agents)?);
    if own.is_file() {
        check_same_study(out, study).map_err(|e| {
            anyhow::anyhow!(
                "{e:#}; choose another --out, or remove the folder to start this study there"
            )
        })?;
        for (file, copy, now) in [
            (&study.env, BASE_ENV, &env_now),
            (&study.agents, BASE_AGENTS, &agents_now),
        ] {
            let path = base.join(copy);
            if !path.exists() {
                // A folder from before base copies were kept: keep them from now on.
                std::fs::create_dir_all(&base)
                    .with_context(|| format!("{}: cannot create", base.display()))?;
                commons_rl::atomic::write_atomic(&path, now.as_bytes())
                    .with_context(|| format!("{}: cannot write", path.display()))?;
                continue;
            }
            let then = read(&path)?;
            if &then != now {
                bail!(
                    "{}: changed since this study started (its copy is {}); restore it, or start the changed study in another --out",
                    file.display(),
                    base.join(copy).display()
                );
            }
        }
        return Ok(());
    }
    // A study folder without its study file: only if nothing was trained in it yet.
    if out.join("cells").is_dir()
        && std::fs::read_dir(out.join("cells")).is_ok_and(|mut d| d.next().is_some())
    {
        bail!(
            "{}: a study folder with cells but without its {STUDY_FILE}: which study it holds is unknown; choose another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(&base).with_context(|| format!("{}: cannot create", base.display()))?;
    for (copy, now) in [(BASE_ENV, &env_now), (BASE_AGENTS, &agents_now)] {
        let path = base.join(copy);
        commons_rl::atomic::write_atomic(&path, now.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    commons_rl::atomic::write_atomic(&own, text.as_bytes())
        .with_context(|| format!("{}: cannot write", own.display()))?;
    Ok(())
}

/// Work units of a cell on the study's bar: its training steps, and its evaluation's days (both sides,
/// and each strategy in each personality's place for the best-response check).
fn weights(study: &StudyFile, days: u64, strategies: usize) -> (u64, u64) {
    let sides = 2 + (strategies * study.policies()) as u64;
    (study.total_steps, sides * study.eval_episodes as u64 * days)
}

pub fn run(args: StudyArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("{}: cannot read study file", args.file.display()))?;
    let study = StudyFile::parse(&text, &args.file)?;
    let stem = train::stem(&args.file);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join("studies").join(stem));
    let cells = study.cells();
    if let Some(k) = args.cell {
        if k >= cells.len() {
            bail!(
                "--cell: {k} is out of range (allowed: 0 to {}; {} variants x {} seeds)",
                cells.len() - 1,
                study.variants.len(),
                study.seeds.len()
            );
        }
    }
    let cells_dir = out.join("cells");
    let dir_of = |c: &Cell| cells_dir.join(&c.name);
    if args.list {
        let found = folder::inspect(&out)?;
        if !matches!(found, folder::Found::Missing | folder::Found::Empty) {
            check_is_study(&out)?;
            check_same_study(&out, &study)?;
        }
        for c in &cells {
            let state = cell_state(&dir_of(c), &study)?;
            let busy = if folder::in_use(&dir_of(c)) {
                ", in use by another process"
            } else {
                ""
            };
            println!(
                "{:>4}  {:<40} {}{busy}",
                c.index,
                c.name,
                state.describe(study.total_steps)
            );
        }
        return Ok(());
    }
    // The strategies of the best-response check, read before any work is done.
    let strategies = match &study.against_fixed {
        Some(dir) => super::eval::strategies(dir.as_deref())?,
        None => Vec::new(),
    };
    study.check_strategies(&strategies)?;
    claim(&out, &study, &text)?;
    let days = study.max_days();
    let todo: Vec<&Cell> = match args.cell {
        Some(k) => vec![&cells[k]],
        None => cells.iter().collect(),
    };
    let (train_w, eval_w) = weights(&study, days, strategies.len());
    let bar = indicatif::ProgressBar::new(todo.len() as u64 * (train_w + eval_w));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} study [{elapsed_precise}] {wide_bar} {percent:>3}% (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let work_done = |state: CellState| match state {
        CellState::New | CellState::NoCheckpoint => 0,
        CellState::Partial(step) => step,
        CellState::Trained => train_w,
        CellState::Done => train_w + eval_w,
    };
    let mut done_before = 0;
    for c in &todo {
        done_before += work_done(cell_state(&dir_of(c), &study)?);
    }
    bar.set_position(done_before);
    bar.reset_eta();
    let stop = train::stop_flag();
    // Without a terminal (a scheduler's log) the bar is hidden: say what happens, a line per step.
    let say = |message: String| {
        if bar.is_hidden() {
            eprintln!("{message}");
        } else {
            bar.set_message(message);
        }
    };
    let interrupted = |label: &str| {
        bar.abandon();
        anyhow::anyhow!(
            "{label}: interrupted (checkpoints are saved); run the same command again to continue"
        )
    };
    let mut skipped = 0;
    for (i, cell) in todo.iter().enumerate() {
        let base = i as u64 * (train_w + eval_w);
        let dir = dir_of(cell);
        let label = format!("cell {} {}", cell.index, cell.name);
        if stop.load(Ordering::SeqCst) {
            return Err(interrupted(&label));
        }
        // Another process (a parallel `--cell` job) works on it: leave it to that one.
        if folder::in_use(&dir) {
            say(format!("{label}: in use by another process, skipped"));
            skipped += 1;
            continue;
        }
        // The state now, not at the start: a parallel job may have advanced it meanwhile.
        let state = cell_state(&dir, &study)?;
        bar.set_position(base + work_done(state));
        if matches!(state, CellState::NoCheckpoint) {
            let moved = folder::move_aside(&dir)?;
            say(format!(
                "{label}: started before without a checkpoint; moved to {} and starting again",
                moved.display()
            ));
        }
        match state {
            CellState::New | CellState::NoCheckpoint => {
                say(format!("{label}: training"));
                std::fs::create_dir_all(&cells_dir)
                    .with_context(|| format!("{}: cannot create", cells_dir.display()))?;
                let variant = &study.variants[cell.variant];
                train::run(TrainArgs::new_cell(
                    study.env.clone(),
                    study.agents.clone(),
                    variant.set.clone(),
                    cell.seed,
                    study.total_steps,
                    dir.clone(),
                    (bar.clone(), base),
                ))
                .with_context(|| format!("{label}: training"))?;
            }
            CellState::Partial(step) => {
                say(format!("{label}: resuming from step {step}"));
                train::run(TrainArgs::resume_cell(dir.clone(), (bar.clone(), base)))
                    .with_context(|| format!("{label}: resuming"))?;
            }
            CellState::Done => say(format!("{label}: done before, skipped")),
            CellState::Trained => {}
        }
        if stop.load(Ordering::SeqCst) {
            return Err(interrupted(&label));
        }
        if state != CellState::Done {
            bar.set_position(base + train_w);
            say(format!("{label}: evaluating"));
            super::eval::evaluate_and_write(
                &dir,
                study.eval_episodes,
                study.eval_episodes,
                study.eval_seed,
                &[],
                &strategies,
                false,
            )
            .with_context(|| format!("{label}: evaluating"))?;
        }
        bar.set_position(base + train_w + eval_w);
    }
    bar.finish_and_clear();
    let states: Vec<CellState> = cells
        .iter()
        .map(|c| cell_state(&dir_of(c), &study))
        .collect::<anyhow::Result<_>>()?;
    let done = states.iter().filter(|s| **s == CellState::Done).count();
    if done < cells.len() {
        println!(
            "{done} of {} cells done{}; the report is written when all are (`commons study {} --list` shows them)",
            cells.len(),
            if skipped > 0 { format!(", {skipped} in use by other processes") } else { String::new() },
            args.file.display()
        );
        return Ok(());
    }
    let report = study::report::build(&study, &out)?;
    let written = study::render::write_all(&report, &out)?;
    println!("{}", study::render::summary_text(&report));
    for path in written {
        println!("written: {}", path.display());
    }
    Ok(())
}

fn check_same_study(out: &Path, study: &StudyFile) -> anyhow::Result<()> {
    let own = out.join(STUDY_FILE);
    if own.is_file() {
        let theirs = StudyFile::parse(&read(&own)?, &own)?;
        if !theirs.same_study(study) {
            bail!(
                "{}: belongs to another study ({} differs from {})",
                out.display(),
                own.display(),
                study.path.display()
            );
        }
    }
    Ok(())
}

fn check_is_study(out: &Path) -> anyhow::Result<()> {
    match folder::read_manifest(out)? {
        Some(m) if m.kind == FolderKind::Study => Ok(()),
        _ => bail!(
            "{}: not a study folder (no commons study manifest)",
            out.display()
        ),
    }
}
