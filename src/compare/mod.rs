//! `commons compare`: how behaviour and outcomes differ between runs.
//!
//! Each run folder gives per-episode series ([`samples`]): per personality its return, net-worth gain,
//! impact and behaviour rates (from `eval.json`), and the final Commons metrics (from `eval.json` or a
//! `commons simulate` summary). For every series the table shows each run's mean with a bootstrap 95 %
//! interval, and each later run's difference from the first run with its own interval ([`bootstrap`];
//! paired when both runs were played on the same seeds, as `commons eval` does by default). A difference
//! whose interval excludes zero, over at least [`bootstrap::MIN_N`] episodes, is marked `*`. [`plot`]
//! draws the same as an SVG.

pub mod plot;
pub mod samples;

use serde::Serialize;

use crate::stats::{bootstrap, Estimate};
pub use samples::{RunSamples, SamplesError, Side};

/// One series across runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Series name: `<personality>/<measure>` or `commons/<metric>`.
    pub series: String,
    /// Each run's mean and interval (None where the run lacks the series).
    pub values: Vec<Option<Estimate>>,
    /// Each run's difference from the first run (None for the first run and where either lacks it).
    pub differences: Vec<Option<Estimate>>,
}

/// The comparison of several runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Run labels, the first is the reference.
    pub runs: Vec<String>,
    /// Whether each run's differences are paired by seed with the first run.
    pub paired: Vec<bool>,
    /// Series in display order.
    pub rows: Vec<Row>,
}

/// Display order: personality measures (agent measures, then behaviour), then Commons metrics, then the rest.
fn order_key(series: &str) -> (u8, String, usize) {
    let (group, measure) = series.split_once('/').unwrap_or(("", series));
    if group == "commons" {
        let k = crate::model::metrics::METRIC_NAMES
            .iter()
            .position(|m| *m == measure)
            .unwrap_or(usize::MAX);
        return (1, String::new(), k);
    }
    let k = samples::AGENT_MEASURES
        .iter()
        .chain(samples::BEHAVIOURS.iter())
        .position(|m| *m == measure)
        .unwrap_or(usize::MAX);
    (0, group.to_string(), k)
}

/// Compares `runs` (at least one) series by series against the first.
pub fn compare(runs: &[RunSamples]) -> Comparison {
    let mut names: Vec<&String> = runs
        .iter()
        .flat_map(|r| r.series.keys())
        .filter(|s| !s.contains(&format!("/{}", samples::SHARE_PREFIX)))
        .collect();
    names.sort_by_key(|s| (order_key(s), s.to_string()));
    names.dedup();
    let paired: Vec<bool> = runs.iter().map(|r| r.seeds == runs[0].seeds).collect();
    let rows = names
        .iter()
        .map(|name| {
            // Seeded by the series' name only, so a run's interval does not depend on what else is compared.
            let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            let values = runs
                .iter()
                .map(|r| {
                    let v: Vec<f64> = r.series.get(*name)?.iter().flatten().copied().collect();
                    bootstrap::mean_ci(&v, seed)
                })
                .collect();
            let differences = runs
                .iter()
                .enumerate()
                .map(|(j, r)| {
                    if j == 0 {
                        return None;
                    }
                    let a = runs[0].series.get(*name)?;
                    let b = r.series.get(*name)?;
                    bootstrap::difference_ci(a, b, paired[j], seed ^ 1)
                })
                .collect();
            Row {
                series: name.to_string(),
                values,
                differences,
            }
        })
        .collect();
    Comparison {
        runs: runs.iter().map(|r| r.label.clone()).collect(),
        paired,
        rows,
    }
}

pub use crate::format::short;

fn cell(e: &Option<Estimate>, mark: bool) -> String {
    match e {
        None => "—".to_string(),
        Some(e) => {
            let star = if mark && e.significant() { " *" } else { "" };
            format!("{} [{}, {}]{star}", short(e.mean), short(e.lo), short(e.hi))
        }
    }
}

/// The unit of a series (`group/measure`), from the homes of its measure; empty if it has none.
pub fn unit_of(series: &str) -> &'static str {
    let (group, measure) = series.split_once('/').unwrap_or(("", series));
    if group == "commons" {
        let names = crate::model::metrics::METRIC_NAMES;
        return names
            .iter()
            .position(|m| *m == measure)
            .map_or("", |k| crate::model::metrics::METRIC_UNITS[k]);
    }
    if let Some(k) = samples::AGENT_MEASURES.iter().position(|m| *m == measure) {
        return samples::AGENT_MEASURE_UNITS[k];
    }
    if samples::BEHAVIOURS.contains(&measure) {
        return samples::BEHAVIOUR_UNIT;
    }
    ""
}

/// Terminal width the table is laid out for.
const WIDTH: usize = 100;

/// Lines of cells, aligned in columns (first column left, the others right); lines of one cell (group
/// headings) do not set widths.
fn aligned(table: &[Vec<String>]) -> String {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|k| {
            table
                .iter()
                .filter(|l| l.len() > 1)
                .filter_map(|l| l.get(k))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in table {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(k, (s, w))| {
                let pad = w.saturating_sub(s.chars().count());
                if k == 0 {
                    format!("{s}{}", " ".repeat(pad))
                } else {
                    format!("{}{s}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Table lines for every series of `c`, grouped: a heading line (the personality, or `commons`) before
/// each group, then what `add` pushes for each series, given its label (`  measure (unit)`).
fn grouped(
    c: &Comparison,
    mut add: impl FnMut(&mut Vec<Vec<String>>, &Row, String),
) -> Vec<Vec<String>> {
    let mut table = Vec::new();
    let mut group = None;
    for row in &c.rows {
        let (g, measure) = row.series.split_once('/').unwrap_or(("", &row.series));
        if group != Some(g) {
            group = Some(g);
            table.push(vec![g.to_string()]);
        }
        let label = match unit_of(&row.series) {
            "" => format!("  {measure}"),
            unit => format!("  {measure} ({unit})"),
        };
        add(&mut table, row, label);
    }
    table
}

/// Short labels for the runs: `A`, `B`, …, `Z`, `AA`, ….
fn letter(mut j: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (j % 26) as u8);
        if j < 26 {
            break;
        }
        j = j / 26 - 1;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

/// The comparison as a plain-text table for a terminal: a legend of the runs (`A`, `B`, …), then one row
/// per series grouped by personality and the Commons, with its unit, each run's value and each later
/// run's difference from `A`.
pub fn render_table(c: &Comparison) -> String {
    let letters: Vec<String> = (0..c.runs.len()).map(letter).collect();
    let mut out = String::new();
    for (l, run) in letters.iter().zip(&c.runs) {
        out.push_str(&format!("{l}  {run}\n"));
    }
    for (j, l) in letters.iter().enumerate().skip(1) {
        let kind = if c.paired[j] {
            "paired by seed"
        } else {
            "unpaired: the seeds differ"
        };
        out.push_str(&format!(
            "{l} − {}  difference from {}, {kind}\n",
            letters[0], letters[0]
        ));
    }
    out.push('\n');
    let mut header = vec![String::new()];
    header.extend(letters.iter().cloned());
    header.extend(
        letters
            .iter()
            .skip(1)
            .map(|l| format!("{l} − {}", letters[0])),
    );
    let mut table = vec![header];
    table.extend(grouped(c, |t, row, label| {
        let mut line = vec![label];
        line.extend(row.values.iter().map(|v| cell(v, false)));
        line.extend(row.differences.iter().skip(1).map(|d| cell(d, true)));
        t.push(line);
    }));
    let side_by_side = aligned(&table);
    if side_by_side.lines().all(|l| l.chars().count() <= WIDTH) {
        out.push_str(&side_by_side);
    } else {
        // Too wide for a terminal: one line per run under each series instead.
        let table = grouped(c, |t, row, label| {
            t.push(vec![label]);
            for (j, l) in letters.iter().enumerate() {
                let mut line = vec![format!("    {l}"), cell(&row.values[j], false)];
                if j > 0 {
                    line.push(format!("{l} − {}", letters[0]));
                    line.push(cell(&row.differences[j], true));
                }
                t.push(line);
            }
        });
        out.push_str(&aligned(&table));
    }
    out.push_str(&format!(
        "mean [bootstrap 95 % interval] over episodes\n* = the difference's interval excludes 0 (only with at least {} episodes)\n",
        bootstrap::MIN_N
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn run(label: &str, seeds: Vec<u64>, series: &[(&str, Vec<Option<f64>>)]) -> RunSamples {
        RunSamples {
            label: label.to_string(),
            seeds,
            series: series
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn rows_are_ordered_and_differences_marked() {
        let a = run(
            "a",
            vec![1, 2, 3, 4, 5],
            &[
                (
                    "commons/token_price",
                    vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)],
                ),
                ("builder/sell", vec![Some(0.1); 5]),
                (
                    "builder/return",
                    vec![Some(0.0), Some(1.0), Some(0.0), Some(1.0), None],
                ),
                ("commons/participants", vec![Some(10.0); 5]),
            ],
        );
        let b = run(
            "b",
            vec![1, 2, 3, 4, 5],
            &[
                (
                    "commons/token_price",
                    vec![Some(2.0), Some(3.0), Some(4.0), Some(5.0), Some(6.0)],
                ),
                ("commons/participants", vec![Some(10.0); 5]),
            ],
        );
        let c = compare(&[a, b]);
        let names: Vec<&str> = c.rows.iter().map(|r| r.series.as_str()).collect();
        assert_eq!(
            names,
            [
                "builder/return",
                "builder/sell",
                "commons/participants",
                "commons/token_price"
            ]
        );
        assert_eq!(c.paired, [true, true]);
        let price = &c.rows[3].differences[1].unwrap();
        assert_eq!((price.mean, price.lo, price.hi), (1.0, 1.0, 1.0));
        assert!(c.rows[1].differences[1].is_none(), "b has no builder");
        let text = render_table(&c);
        assert!(text.contains("1.000 [1.000, 1.000] *"), "{text}");
        // Legend, then the header, then the builder group and its rows; b has no builder.
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(&lines[..2], ["A  a", "B  b"], "{text}");
        assert!(
            lines[2].starts_with("B − A  difference from A, paired by seed"),
            "{text}"
        );
        assert_eq!(lines[5], "builder", "{text}");
        assert!(
            lines[6].starts_with("  return (reward)") && lines[6].contains('—'),
            "{text}"
        );
        assert!(text.contains("  sell (share of days)"), "{text}");
        assert!(text.contains("\ncommons\n"), "{text}");
        // Fewer than MIN_N values: an interval that excludes 0 is not starred.
        let short =
            |label: &str, v: f64| run(label, vec![1, 2], &[("commons/x", vec![Some(v), Some(v)])]);
        let text = render_table(&compare(&[short("a", 1.0), short("b", 2.0)]));
        assert!(
            text.contains("1.000 [1.000, 1.000]") && !text.contains("] *"),
            "{text}"
        );
    }

    #[test]
    fn a_runs_interval_does_not_depend_on_the_other_runs() {
        let a = run(
            "a",
            vec![1, 2, 3],
            &[("commons/x", vec![Some(1.0), Some(5.0), Some(2.0)])],
        );
        let b = run("b", vec![1, 2, 3], &[("commons/y", vec![Some(1.0); 3])]);
        let alone = compare(&[a.clone(), a.clone()]);
        let with_b = compare(&[b, a]);
        let x = |c: &Comparison, j: usize| {
            c.rows
                .iter()
                .find(|r| r.series == "commons/x")
                .unwrap()
                .values[j]
        };
        assert_eq!(x(&alone, 0), x(&with_b, 1));
    }

    #[test]
    fn different_seeds_are_compared_unpaired() {
        let a = run(
            "a",
            vec![1, 2],
            &[("commons/x", vec![Some(1.0), Some(2.0)])],
        );
        let b = run(
            "b",
            vec![5, 6],
            &[("commons/x", vec![Some(1.0), Some(2.0)])],
        );
        assert_eq!(compare(&[a, b]).paired, [true, false]);
    }

    #[test]
    fn short_numbers_keep_four_significant_digits() {
        assert_eq!(short(0.0), "0");
        assert_eq!(short(1.23456), "1.235");
        assert_eq!(short(-123.456), "-123.5");
        assert_eq!(short(23456.7), "23457");
        assert_eq!(short(0.0123456), "0.01235");
        assert_eq!(short(12345678.0), "1.235e7");
        assert_eq!(short(0.00001234), "1.234e-5");
    }
}
