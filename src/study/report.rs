//! `study.json`: what a finished study found, computed from its cells' `eval.json` and
//! `eval_days.csv`.
//!
//! For every series (a personality's return, DAI gain, impact, behaviour rates and action shares; the
//! Commons' final metrics), side (trained policies, or scripted participants in the same roles) and
//! variant: the two-level estimate (mean over training seeds of the mean over the shared evaluation
//! episodes) with its hierarchical bootstrap interval, and the difference from the baseline variant
//! with its own ([`crate::stats::bootstrap::hierarchical_difference_ci`]). Findings are sentences
//! generated only for differences that are [`TwoLevel::significant`], each quoting its numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::file::StudyFile;
use crate::compare::samples::{
    RunSamples, SamplesError, Side, AGENT_MEASURES, AGENT_MEASURE_UNITS, BEHAVIOURS,
    BEHAVIOUR_UNIT, SHARE_PREFIX,
};
use crate::env::actions::{BIN_LABELS, HEADS};
use crate::eval::best_response::BestResponse;
use crate::eval::days::{self, EvalDays, DAY_METRICS};
use crate::eval::learned::LearnedResponse;
use crate::model::metrics::{METRIC_NAMES, METRIC_UNITS};
use crate::stats::bootstrap::{hierarchical_difference_ci, hierarchical_mean_ci, TwoLevel};

/// Why a study's report cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A cell's evaluation could not be read.
    #[error("cell {cell}: {source}")]
    Samples {
        /// The cell's folder name.
        cell: String,
        /// Why.
        source: SamplesError,
    },
    /// A cell's `eval_days.csv` could not be read.
    #[error(transparent)]
    Days(#[from] crate::eval::ReadError),
    /// A cell's files disagree with the study.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Which side of the evaluation a row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    /// The trained policies.
    Trained,
    /// Scripted participants in the same roles.
    Scripted,
}

impl SideName {
    fn side(self) -> Side {
        match self {
            SideName::Trained => Side::Trained,
            SideName::Scripted => Side::Scripted,
        }
    }

    /// `trained` or `scripted`.
    pub fn name(self) -> &'static str {
        match self {
            SideName::Trained => "trained",
            SideName::Scripted => "scripted",
        }
    }
}

/// A variant as the report shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VariantInfo {
    /// Its name.
    pub name: String,
    /// Its own overrides, `key=value` (the study's common ones apply to every variant).
    pub overrides: Vec<String>,
    /// Its cells' folders, relative to the study folder, in seed order.
    pub cells: Vec<String>,
    /// Its episodes' length (days).
    pub days: u64,
    /// Its point in a `[[grid]]` of the study file (None for a `[[variant]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridPointInfo>,
}

/// A variant's point in a grid, as the report shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GridPointInfo {
    /// Index of the grid in the study file.
    pub grid: usize,
    /// Per grid key, in the grid's order: (key, value as written).
    pub values: Vec<(String, String)>,
}

/// One series on one side across the variants.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    /// Trained or scripted.
    pub side: SideName,
    /// `<personality>/<measure>` or `commons/<metric>`.
    pub series: String,
    /// The personality, or `commons`.
    pub group: String,
    /// The measure or metric (`sell`, `share:trade:4`, `token_price`).
    pub measure: String,
    /// What it is, in words.
    pub label: String,
    /// Its unit (empty for counts).
    pub unit: String,
    /// Per variant: the two-level estimate (None where the variant has no value).
    pub estimates: Vec<Option<TwoLevel>>,
    /// Per variant: the difference from the baseline (None for the baseline and where either side
    /// lacks values); in study.json each with `significant`, whether the report calls it real (★).
    #[serde(serialize_with = "differences_called")]
    pub differences: Vec<Option<TwoLevel>>,
}

/// Serialises differences with `significant` ([`TwoLevel::significant`], the report's ★), so readers
/// of study.json need not repeat the rule.
fn differences_called<S: serde::Serializer>(
    ds: &[Option<TwoLevel>],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Called<'a> {
        #[serde(flatten)]
        d: &'a TwoLevel,
        significant: bool,
    }
    s.collect_seq(ds.iter().map(|d| {
        d.as_ref().map(|d| Called {
            d,
            significant: d.significant(),
        })
    }))
}

/// The per-day band of one metric, side and variant over all its cells' evaluation episodes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Trajectory {
    /// One of [`DAY_METRICS`].
    pub metric: String,
    /// Trained or scripted.
    pub side: SideName,
    /// The variant's name.
    pub variant: String,
    /// Per day: 10th percentile.
    pub p10: Vec<f64>,
    /// Per day: median.
    pub p50: Vec<f64>,
    /// Per day: 90th percentile.
    pub p90: Vec<f64>,
}

/// A difference from the baseline whose interval excludes zero, in words.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Finding {
    /// The variant.
    pub variant: String,
    /// Trained or scripted.
    pub side: SideName,
    /// The series.
    pub series: String,
    /// The sentence, with its numbers.
    pub text: String,
    /// The variant's estimate.
    pub value: f64,
    /// The baseline's.
    pub baseline: f64,
    /// The difference and its interval.
    pub difference: TwoLevel,
}

/// `study.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StudyReport {
    /// The study file it came from.
    pub file: String,
    /// Base scenario.
    pub env: String,
    /// Base agents file.
    pub agents: String,
    /// Training seeds of every variant.
    pub seeds: Vec<u64>,
    /// Training steps per cell.
    pub total_steps: u64,
    /// Evaluation episodes per side and cell.
    pub eval_episodes: u32,
    /// Seed of the first evaluation episode.
    pub eval_seed: u64,
    /// Episode length of the baseline (days), for "at day N" in findings.
    pub days: u64,
    /// The variants; the first is the baseline.
    pub variants: Vec<VariantInfo>,
    /// The learning personalities.
    pub personalities: Vec<String>,
    /// Every series on both sides.
    pub rows: Vec<Row>,
    /// Per-day bands of [`DAY_METRICS`].
    pub trajectories: Vec<Trajectory>,
    /// Findings, strongest first within each variant.
    pub findings: Vec<Finding>,
    /// Caveats the reader needs (e.g. a single training seed).
    pub notes: Vec<String>,
    /// Where the cells' results came from: the baseline's first cell's evaluation (code, versions and
    /// population; None when its eval.json predates provenance). `notes` says when cells differ.
    pub provenance: Option<crate::provenance::Provenance>,
    /// Every distinct code the cells' eval.json and summary.json files name, in cell order
    /// ([`crate::provenance::code_groups`]): one entry when the study is of one piece.
    pub cell_codes: Vec<String>,
    /// The code that wrote this report.
    pub report_provenance: crate::provenance::Provenance,
}

/// Display position of a measure within a personality: agent measures, behaviour rates, shares.
fn measure_order(measure: &str) -> (usize, usize, usize) {
    if let Some(k) = AGENT_MEASURES.iter().position(|m| *m == measure) {
        return (0, k, 0);
    }
    if let Some(k) = BEHAVIOURS.iter().position(|m| *m == measure) {
        return (1, k, 0);
    }
    if let Some((head, bin)) = measure
        .strip_prefix(SHARE_PREFIX)
        .and_then(|r| r.split_once(':'))
    {
        let h = HEADS.iter().position(|x| *x == head).unwrap_or(usize::MAX);
        return (2, h, bin.parse().unwrap_or(usize::MAX));
    }
    (3, 0, 0)
}

/// Label and unit of a series' measure.
fn describe(group: &str, measure: &str) -> (String, String) {
    if group == "commons" {
        let k = METRIC_NAMES.iter().position(|m| *m == measure);
        return (
            format!("final {}", measure.replace('_', " ")),
            k.map(|k| METRIC_UNITS[k].to_string()).unwrap_or_default(),
        );
    }
    if let Some(k) = AGENT_MEASURES.iter().position(|m| *m == measure) {
        let label = match measure {
            "return" => "lifetime return",
            "net_worth_gain" => "DAI gain",
            other => other,
        };
        return (label.into(), AGENT_MEASURE_UNITS[k].into());
    }
    if BEHAVIOURS.contains(&measure) {
        return (format!("{measure} rate"), BEHAVIOUR_UNIT.into());
    }
    if let Some((head, bin)) = measure
        .strip_prefix(SHARE_PREFIX)
        .and_then(|r| r.split_once(':'))
    {
        let name = HEADS
            .iter()
            .position(|x| *x == head)
            .and_then(|h| BIN_LABELS[h].get(bin.parse::<usize>().ok()?))
            .copied()
            .unwrap_or(bin);
        return (format!("{head}: {name}"), "share of days".into());
    }
    (measure.into(), String::new())
}

/// Seed of a series' bootstrap: its name only, so an interval does not depend on the rest.
fn seed_of(side: SideName, series: &str) -> u64 {
    format!("{}/{series}", side.name())
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        })
}

/// Per training seed, per evaluation episode: one series' values in one variant.
type Groups = Vec<Vec<Option<f64>>>;

/// Per side, metric and episode: the per-day values of a cell's `eval_days.csv`.
type Days = BTreeMap<(SideName, String), Vec<Vec<f64>>>;

fn read_days(path: &Path) -> Result<Days, ReportError> {
    let d = EvalDays::read(path)?;
    let mut out = Days::new();
    for (side, episodes) in [
        (SideName::Trained, &d.trained),
        (SideName::Scripted, &d.scripted),
    ] {
        if episodes.is_empty() {
            continue;
        }
        for (m, metric) in DAY_METRICS.iter().enumerate() {
            out.insert((side, metric.to_string()), EvalDays::metric(episodes, m));
        }
    }
    Ok(out)
}

/// The `q` quantile (0–1) of `v` (sorted in place), linear between order statistics.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let x = q * (v.len() - 1) as f64;
    let (i, frac) = (x.floor() as usize, x - x.floor());
    let j = (i + 1).min(v.len() - 1);
    v[i] + frac * (v[j] - v[i])
}

/// Reads every cell of a finished study and computes its report.
pub fn build(study: &StudyFile, out: &Path) -> Result<StudyReport, ReportError> {
    let sides = [SideName::Trained, SideName::Scripted];
    let n_variants = study.variants.len();
    // data[(side, series)][variant][seed] = per-episode values.
    let mut data: BTreeMap<(SideName, String), Vec<Groups>> = BTreeMap::new();
    // days[(side, metric)][variant] = every episode's trajectory, all seeds.
    let mut days: BTreeMap<(SideName, String), Vec<Vec<Vec<f64>>>> = BTreeMap::new();
    let expected_seeds: Vec<u64> = (0..study.eval_episodes as u64)
        .map(|k| study.eval_seed.wrapping_add(k))
        .collect();
    let cells = study.cells();
    for cell in &cells {
        let dir = out.join("cells").join(&cell.name);
        for side in sides {
            let samples =
                RunSamples::load(&dir, side.side()).map_err(|source| ReportError::Samples {
                    cell: cell.name.clone(),
                    source,
                })?;
            if samples.seeds != expected_seeds {
                return Err(ReportError::Invalid {
                    path: dir.join("eval.json"),
                    message: format!(
                        "evaluated on other seeds than the study's ({} episodes from {})",
                        study.eval_episodes, study.eval_seed
                    ),
                });
            }
            for (series, values) in samples.series {
                let slot = data
                    .entry((side, series))
                    .or_insert_with(|| vec![Vec::new(); n_variants]);
                slot[cell.variant].push(values);
            }
        }
        for ((side, metric), episodes) in read_days(&dir.join(days::FILE))? {
            let slot = days
                .entry((side, metric))
                .or_insert_with(|| vec![Vec::new(); n_variants]);
            slot[cell.variant].extend(episodes);
        }
    }
    let mut keys: Vec<(SideName, String)> = data.keys().cloned().collect();
    keys.sort_by_key(|(side, series)| {
        let (group, measure) = series.split_once('/').unwrap_or(("", series));
        let commons = group == "commons";
        let metric = METRIC_NAMES.iter().position(|m| *m == measure);
        (
            *side,
            commons,
            if commons {
                String::new()
            } else {
                group.to_string()
            },
            measure_order(measure),
            metric,
        )
    });
    let mut rows = Vec::with_capacity(keys.len());
    for (side, series) in keys {
        let per_variant = &data[&(side, series.clone())];
        let seed = seed_of(side, &series);
        let estimates: Vec<Option<TwoLevel>> = per_variant
            .iter()
            .map(|g| hierarchical_mean_ci(g, seed))
            .collect();
        let differences = per_variant
            .iter()
            .enumerate()
            .map(|(v, g)| {
                (v > 0)
                    .then(|| hierarchical_difference_ci(&per_variant[0], g, seed ^ v as u64))
                    .flatten()
            })
            .collect();
        let (group, measure) = series.split_once('/').unwrap_or(("", &series));
        let (label, unit) = describe(group, measure);
        rows.push(Row {
            side,
            group: group.to_string(),
            measure: measure.to_string(),
            series: series.clone(),
            label,
            unit,
            estimates,
            differences,
        });
    }
    adjust_for_many_comparisons(&mut rows);
    let personalities: Vec<String> = rows
        .iter()
        .filter(|r| r.group != "commons")
        .map(|r| r.group.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut trajectories = Vec::new();
    for ((side, metric), per_variant) in &days {
        for (v, episodes) in per_variant.iter().enumerate() {
            let len = episodes.iter().map(Vec::len).max().unwrap_or(0);
            let (mut p10, mut p50, mut p90) = (vec![], vec![], vec![]);
            for day in 0..len {
                let mut col: Vec<f64> = episodes
                    .iter()
                    .filter_map(|e| e.get(day).copied())
                    .collect();
                p10.push(quantile(&mut col, 0.1));
                p50.push(quantile(&mut col, 0.5));
                p90.push(quantile(&mut col, 0.9));
            }
            trajectories.push(Trajectory {
                metric: metric.clone(),
                side: *side,
                variant: study.variants[v].name.clone(),
                p10,
                p50,
                p90,
            });
        }
    }
    trajectories.sort_by_key(|t| {
        (
            DAY_METRICS.iter().position(|m| *m == t.metric),
            t.side,
            study.variants.iter().position(|v| v.name == t.variant),
        )
    });
    let baseline_days = study.variants[0].days as u64;
    let mut notes = Vec::new();
    // Best-response checks of the cells (study `against_fixed`, `against_learned`): a fixed strategy
    // that beats a trained personality, or a learned deviation that exploits it, makes "the agents did
    // X" a statement about the trainer.
    for cell in &cells {
        let dir = out.join("cells").join(&cell.name);
        let err = |e: crate::eval::ReadError| ReportError::Samples {
            cell: cell.name.clone(),
            source: e.into(),
        };
        let check = BestResponse::read(&dir).map_err(err)?;
        for w in check.iter().flat_map(|b| b.warnings()) {
            notes.push(format!("{}: {w}", cell.name));
        }
        let learned = LearnedResponse::read(&dir).map_err(err)?;
        for w in learned.iter().flat_map(|l| l.warnings()) {
            notes.push(format!("{}: {w}", cell.name));
        }
    }
    // Provenance: every cell's training and evaluation should come from the same code.
    let mut provenances = Vec::with_capacity(2 * cells.len());
    for cell in &cells {
        let dir = out.join("cells").join(&cell.name);
        let eval = crate::eval::report::EvalHead::of_run(&dir).and_then(|h| h.provenance);
        let summary = std::fs::read(dir.join(crate::run::files::SUMMARY))
            .ok()
            .and_then(|b| serde_json::from_slice::<ProvenanceOnly>(&b).ok())
            .and_then(|s| s.provenance);
        provenances.push((format!("{} (eval.json)", cell.name), eval));
        provenances.push((format!("{} (summary.json)", cell.name), summary));
    }
    let groups =
        crate::provenance::code_groups(provenances.iter().map(|(l, p)| (l.as_str(), p.as_ref())));
    if let Some(w) = crate::provenance::mixed_groups("the cells", &groups) {
        notes.push(w.trim_start_matches("warning: ").to_string());
    }
    let cell_codes: Vec<String> = groups.into_iter().map(|(code, _)| code).collect();
    let provenance = provenances.first().and_then(|(_, p)| p.clone());
    if study.seeds.len() < 2 {
        notes.push("one training seed per variant: intervals cannot include the variation between training runs, so only the scripted side's differences (which do not depend on training) can be called real (add seeds)".to_string());
    } else if study.seeds.len() < 5 {
        notes.push(format!(
            "{} training seeds per variant: intervals use t with few degrees of freedom and are wide, so only large differences are called real; more seeds show smaller ones",
            study.seeds.len()
        ));
    }
    let mut report = StudyReport {
        file: study.path.display().to_string(),
        env: study.env.display().to_string(),
        agents: study.agents.display().to_string(),
        seeds: study.seeds.clone(),
        total_steps: study.total_steps,
        eval_episodes: study.eval_episodes,
        eval_seed: study.eval_seed,
        days: baseline_days,
        variants: study
            .variants
            .iter()
            .enumerate()
            .map(|(v, variant)| VariantInfo {
                name: variant.name.clone(),
                overrides: variant
                    .own
                    .iter()
                    .map(|o| format!("{}={}", o.key, o.text))
                    .collect(),
                cells: cells
                    .iter()
                    .filter(|c| c.variant == v)
                    .map(|c| format!("cells/{}", c.name))
                    .collect(),
                days: variant.days as u64,
                grid: variant.grid.as_ref().map(|g| GridPointInfo {
                    grid: g.grid,
                    values: g
                        .values
                        .iter()
                        .map(|o| (o.key.clone(), o.text.clone()))
                        .collect(),
                }),
            })
            .collect(),
        personalities,
        rows,
        trajectories,
        findings: Vec::new(),
        notes,
        provenance,
        cell_codes,
        report_provenance: crate::provenance::Provenance::current(),
    };
    report.findings = findings(&report);
    Ok(report)
}

/// The provenance of a summary.json, read alone (its other fields may hold nulls).
#[derive(serde::Deserialize)]
struct ProvenanceOnly {
    #[serde(default)]
    provenance: Option<crate::provenance::Provenance>,
}

/// Sets every difference's Benjamini–Hochberg q-value over all differences of the report that could
/// be called real (enough seeds and values): a study tests hundreds of series at once, and without the
/// adjustment about 5 % of them would look real by chance.
fn adjust_for_many_comparisons(rows: &mut [Row]) {
    let eligible =
        |d: &TwoLevel| (d.seed_free || d.seeds >= 2) && d.values >= crate::stats::bootstrap::MIN_N;
    let p: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.differences.iter().flatten())
        .filter(|d| eligible(d))
        .map(|d| d.p)
        .collect();
    let q = crate::stats::benjamini_hochberg(&p);
    let mut next = q.into_iter();
    for r in rows.iter_mut() {
        for d in r.differences.iter_mut().flatten() {
            if eligible(d) {
                d.q = next.next();
            }
        }
    }
}

/// A number for a sentence: three significant digits, plainly written (`0.00166`, `41,400`,
/// `3.96 million`), negative with a minus sign.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    let sign = if x < 0.0 { "−" } else { "" };
    let body = if a >= 1e9 {
        format!("{} billion", sig3(a / 1e9))
    } else if a >= 1e6 {
        format!("{} million", sig3(a / 1e6))
    } else if a >= 1e3 {
        let r = sig3_round(a) as u64;
        let digits = r.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if a >= 1e-4 {
        sig3(a)
    } else {
        format!("{a:.2e}")
    };
    format!("{sign}{body}")
}

/// `a` (> 0) rounded to three significant digits.
fn sig3_round(a: f64) -> f64 {
    let p = 10f64.powi(a.log10().floor() as i32 - 2);
    (a / p).round() * p
}

/// `a` (> 0) with three significant digits, in plain decimals.
fn sig3(a: f64) -> String {
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 8) as usize;
    format!("{a:.decimals$}")
}

/// A signed number for a difference.
fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", num(x))
    } else {
        num(x)
    }
}

/// What a variant changes, for "With …": its own overrides (`curve.exit_tribute = 0.6`).
pub fn variant_phrase(v: &VariantInfo) -> String {
    if v.overrides.is_empty() {
        return "the base files".to_string();
    }
    v.overrides
        .iter()
        .map(|o| o.replacen('=', " = ", 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` <unit>` after a number, or nothing for a count.
fn unit_suffix(row: &Row) -> String {
    if row.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", row.unit)
    }
}

/// Who a row is about, in words.
fn who(row: &Row) -> String {
    match row.side {
        SideName::Trained => format!("trained {} agents", row.group),
        SideName::Scripted => format!("scripted participants in {} roles", row.group),
    }
}

/// The sentence of one significant difference.
fn sentence(
    report: &StudyReport,
    row: &Row,
    v: usize,
    d: &TwoLevel,
    value: f64,
    base: f64,
) -> String {
    let with = variant_phrase(&report.variants[v]);
    let ci = format!("95 % CI {} to {}", signed(d.lo), signed(d.hi));
    let pct = |x: f64| format!("{:.0} %", 100.0 * x);
    let points = |x: f64| signed(100.0 * x);
    if row.group == "commons" {
        let side = match row.side {
            SideName::Trained => "with trained agents",
            SideName::Scripted => "with scripted participants",
        };
        let unit = unit_suffix(row);
        let metric = row.measure.replace('_', " ");
        let ratio = if base != 0.0 && value / base > 0.0 {
            format!(" is {}× the baseline's", num(value / base))
        } else {
            " is".to_string()
        };
        return format!(
            "With {with}, the {metric} at day {} {side}{ratio} ({}{unit} vs {}{unit}; Δ {}, {ci}).",
            report.variants[v].days,
            num(value),
            num(base),
            signed(d.mean)
        );
    }
    if BEHAVIOURS.contains(&row.measure.as_str()) {
        let verb = match row.measure.as_str() {
            "exit" => "leave",
            m => m,
        };
        return format!(
            "With {with}, {} {verb} on {} of days (baseline {}, Δ {} points, 95 % CI {} to {}).",
            who(row),
            pct(value),
            pct(base),
            points(d.mean),
            points(d.lo),
            points(d.hi)
        );
    }
    if row.measure.starts_with(SHARE_PREFIX) {
        return format!(
            "With {with}, {} choose `{}` on {} of days (baseline {}, Δ {} points, 95 % CI {} to {}).",
            who(row),
            row.label,
            pct(value),
            pct(base),
            points(d.mean),
            points(d.lo),
            points(d.hi)
        );
    }
    let unit = unit_suffix(row);
    format!(
        "With {with}, the {} of {} is {}{unit} (baseline {}{unit}; Δ {}, {ci}).",
        row.label,
        who(row),
        num(value),
        num(base),
        signed(d.mean)
    )
}

/// Smallest difference worth a sentence: 1 point for rates and shares (5 for a single action bin, so
/// the fingerprint does not drown the rest), else 1 % of the larger of the two values.
fn material(row: &Row, d: f64, value: f64, base: f64) -> bool {
    if row.measure.starts_with(SHARE_PREFIX) {
        d.abs() >= 0.05
    } else if BEHAVIOURS.contains(&row.measure.as_str()) {
        d.abs() >= 0.01
    } else {
        d.abs() >= 0.01 * value.abs().max(base.abs())
    }
}

/// Every material, significant difference from the baseline as a sentence ([`TwoLevel::significant`]
/// and material, see `material`): per variant, trained agents first, then scripted participants; within each,
/// the largest relative change first.
pub fn findings(report: &StudyReport) -> Vec<Finding> {
    let mut out = Vec::new();
    for v in 1..report.variants.len() {
        let mut found = Vec::new();
        for row in &report.rows {
            let (Some(Some(d)), Some(Some(est)), Some(Some(base))) = (
                row.differences.get(v),
                row.estimates.get(v),
                row.estimates.first(),
            ) else {
                continue;
            };
            if !d.significant() || !material(row, d.mean, est.mean, base.mean) {
                continue;
            }
            let relative = d.mean.abs() / est.mean.abs().max(base.mean.abs()).max(1e-12);
            found.push((
                (row.side, -relative),
                Finding {
                    variant: report.variants[v].name.clone(),
                    side: row.side,
                    series: row.series.clone(),
                    text: sentence(report, row, v, d, est.mean, base.mean),
                    value: est.mean,
                    baseline: base.mean,
                    difference: *d,
                },
            ));
        }
        found.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then(a.0 .1.total_cmp(&b.0 .1)));
        out.extend(found.into_iter().map(|(_, f)| f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two(mean: f64, lo: f64, hi: f64) -> TwoLevel {
        TwoLevel {
            mean,
            lo,
            hi,
            se: (hi - lo) / 4.0,
            df: 4.0,
            p: if lo > 0.0 || hi < 0.0 { 0.001 } else { 0.5 },
            q: None,
            seeds: 3,
            values: 96,
            seed_free: false,
        }
    }

    fn report(rows: Vec<Row>) -> StudyReport {
        StudyReport {
            file: "s.toml".into(),
            env: "e".into(),
            agents: "a".into(),
            seeds: vec![1, 2, 3],
            total_steps: 10,
            eval_episodes: 32,
            eval_seed: 0,
            days: 730,
            variants: vec![
                VariantInfo {
                    name: "base".into(),
                    overrides: vec![],
                    cells: vec![],
                    days: 730,
                    grid: None,
                },
                VariantInfo {
                    name: "t60".into(),
                    overrides: vec!["curve.exit_tribute=0.6".into()],
                    cells: vec![],
                    days: 730,
                    grid: None,
                },
            ],
            personalities: vec!["profit-seeker".into()],
            rows,
            trajectories: vec![],
            findings: vec![],
            notes: vec![],
            provenance: None,
            cell_codes: vec![],
            report_provenance: crate::provenance::Provenance::current(),
        }
    }

    fn row(series: &str, side: SideName, base: f64, value: f64, d: TwoLevel) -> Row {
        let (group, measure) = series.split_once('/').unwrap();
        let (label, unit) = describe(group, measure);
        Row {
            side,
            series: series.into(),
            group: group.into(),
            measure: measure.into(),
            label,
            unit,
            estimates: vec![Some(two(base, base, base)), Some(two(value, value, value))],
            differences: vec![None, Some(d)],
        }
    }

    #[test]
    fn provenance_line_names_every_code_when_cells_mix_them() {
        let mut r = report(vec![]);
        let mut p = crate::provenance::Provenance::current();
        p.commit = Some("aaaaaaaaaaaa0000".into());
        p.dirty = Some(false);
        r.provenance = Some(p.clone());
        r.cell_codes = vec![p.code()];
        let one = crate::study::render::provenance_line(&r);
        assert!(one.contains("come from commit aaaaaaaaaaaa"), "{one}");
        assert!(!one.contains("versions of the code"), "{one}");
        let mut q = p.clone();
        q.commit = Some("bbbbbbbbbbbb0000".into());
        r.cell_codes.push(q.code());
        let two = crate::study::render::provenance_line(&r);
        assert!(two.contains("2 versions of the code"), "{two}");
        assert!(
            two.contains("aaaaaaaaaaaa") && two.contains("bbbbbbbbbbbb"),
            "{two}"
        );
    }

    #[test]
    fn findings_only_for_intervals_that_exclude_zero_and_each_quotes_its_numbers() {
        let r = report(vec![
            row(
                "profit-seeker/sell",
                SideName::Trained,
                0.58,
                0.21,
                two(-0.37, -0.45, -0.29),
            ),
            row(
                "profit-seeker/buy",
                SideName::Trained,
                0.2,
                0.25,
                two(0.05, -0.01, 0.11),
            ),
            row(
                "commons/token_price",
                SideName::Trained,
                0.4,
                1.24,
                two(0.84, 0.5, 1.2),
            ),
            row(
                "profit-seeker/impact",
                SideName::Scripted,
                2.0,
                2.1,
                two(0.1, -0.2, 0.4),
            ),
        ]);
        let f = findings(&r);
        assert_eq!(f.len(), 2, "{f:#?}");
        let sell = f.iter().find(|x| x.series == "profit-seeker/sell").unwrap();
        assert_eq!(
            sell.text,
            "With curve.exit_tribute = 0.6, trained profit-seeker agents sell on 21 % of days (baseline 58 %, Δ −37.0 points, 95 % CI −45.0 to −29.0)."
        );
        let price = f
            .iter()
            .find(|x| x.series == "commons/token_price")
            .unwrap();
        assert!(
            price.text.contains("3.10× the baseline's"),
            "{}",
            price.text
        );
        assert!(
            price.text.contains("95 % CI +0.500 to +1.20"),
            "{}",
            price.text
        );
        assert_eq!(
            f[0].series, "commons/token_price",
            "the larger relative change first"
        );
        // Real but immaterial (under 1 % of the value): no sentence.
        let tiny = row(
            "commons/funding_pool",
            SideName::Scripted,
            1e6,
            1.001e6,
            two(1e3, 5e2, 1.5e3),
        );
        assert!(findings(&report(vec![tiny])).is_empty());
        // One training seed: never a finding.
        let mut one = row(
            "profit-seeker/sell",
            SideName::Trained,
            0.58,
            0.21,
            two(-0.37, -0.45, -0.29),
        );
        one.differences[1] = Some(TwoLevel {
            seeds: 1,
            ..two(-0.37, -0.45, -0.29)
        });
        assert!(findings(&report(vec![one])).is_empty());
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(num(3_960_000.0), "3.96 million");
        assert_eq!(num(41_381.0), "41,400");
        assert_eq!(num(-567.2), "−567");
        assert_eq!(num(0.0016601), "0.00166");
        assert_eq!(signed(0.5), "+0.500");
        assert_eq!(num(2.5e10), "25.0 billion");
    }

    #[test]
    fn quantiles_interpolate() {
        let mut v = vec![3.0, 1.0, 2.0, 4.0, 5.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert!((quantile(&mut v, 0.1) - 1.4).abs() < 1e-12);
        assert!(quantile(&mut [], 0.5).is_nan());
    }
}
