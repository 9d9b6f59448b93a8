//! The study's files: `study.json` (every number), `report.md` (tables, findings, charts as files
//! under `charts/`) and `report.html` (the same, self-contained: charts inline as SVG, no script, no
//! external file; readable on a phone and printable).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::charts;
use super::report::{variant_phrase, Row, SideName, StudyReport};
use crate::compare::samples::SHARE_PREFIX;
use crate::run::files::{self, WriteError};
use crate::stats::bootstrap::TwoLevel;

/// `study.json`.
pub const STUDY_JSON: &str = "study.json";
/// `report.md`.
pub const REPORT_MD: &str = "report.md";
/// `report.html`.
pub const REPORT_HTML: &str = "report.html";
/// Folder of the chart SVGs (for report.md).
pub const CHARTS: &str = "charts";

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A chart could not be drawn.
    #[error("chart `{chart}`: {message}")]
    Chart {
        /// Which chart.
        chart: String,
        /// Why.
        message: String,
    },
}

/// A number for a table: about four significant digits.
fn num(x: f64) -> String {
    crate::format::short(x)
}

fn signed(x: f64) -> String {
    let s = num(x);
    if x > 0.0 {
        format!("+{s}")
    } else {
        s
    }
}

/// `mean [lo, hi]`, scaled (×100 for shares).
fn estimate(e: &Option<TwoLevel>, scale: f64) -> String {
    match e {
        Some(e) => format!(
            "{} [{}, {}]",
            num(e.mean * scale),
            num(e.lo * scale),
            num(e.hi * scale)
        ),
        None => "–".into(),
    }
}

/// `Δ [lo, hi]`, with ★ when the difference is called real.
fn difference(d: &Option<TwoLevel>, scale: f64) -> String {
    match d {
        Some(d) => format!(
            "{} [{}, {}]{}",
            signed(d.mean * scale),
            signed(d.lo * scale),
            signed(d.hi * scale),
            if d.significant() { " ★" } else { "" }
        ),
        None => "–".into(),
    }
}

/// Shares and rates are shown in percent.
fn scale_of(row: &Row) -> f64 {
    if row.unit == "share of days" || row.unit.starts_with("share") {
        100.0
    } else {
        1.0
    }
}

fn unit_of(row: &Row) -> String {
    if scale_of(row) == 100.0 {
        "% of days".into()
    } else {
        row.unit.clone()
    }
}

/// A table: a header row and body rows of cells.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The table of `rows` (one series each): estimates per variant, then differences from the baseline.
fn series_table(report: &StudyReport, rows: &[&Row]) -> Table {
    let mut header = vec!["measure".to_string(), "unit".to_string()];
    header.extend(report.variants.iter().map(|v| v.name.clone()));
    header.extend(
        report
            .variants
            .iter()
            .skip(1)
            .map(|v| format!("Δ {} − {}", v.name, report.variants[0].name)),
    );
    let body = rows
        .iter()
        .map(|row| {
            let scale = scale_of(row);
            let mut cells = vec![row.label.clone(), unit_of(row)];
            cells.extend(row.estimates.iter().map(|e| estimate(e, scale)));
            cells.extend(row.differences.iter().skip(1).map(|d| difference(d, scale)));
            cells
        })
        .collect();
    Table { header, rows: body }
}

/// The report's sections in order: a title and a table each.
fn sections(report: &StudyReport) -> Vec<(String, Table)> {
    let mut out = Vec::new();
    for side in [SideName::Trained, SideName::Scripted] {
        let rows: Vec<&Row> = report
            .rows
            .iter()
            .filter(|r| r.side == side && r.group == "commons")
            .collect();
        if !rows.is_empty() {
            let who = match side {
                SideName::Trained => "with trained agents",
                SideName::Scripted => "with scripted participants in the same roles",
            };
            out.push((
                format!("Commons outcomes at the horizon, {who}"),
                series_table(report, &rows),
            ));
        }
    }
    for p in &report.personalities {
        for side in [SideName::Trained, SideName::Scripted] {
            let rows: Vec<&Row> = report
                .rows
                .iter()
                .filter(|r| r.side == side && &r.group == p && !r.measure.starts_with(SHARE_PREFIX))
                .collect();
            if !rows.is_empty() {
                let who = match side {
                    SideName::Trained => format!("{p}: trained agents"),
                    SideName::Scripted => format!("{p}: scripted participants in the same roles"),
                };
                out.push((who, series_table(report, &rows)));
            }
        }
        let shares: Vec<&Row> = report
            .rows
            .iter()
            .filter(|r| {
                r.side == SideName::Trained && &r.group == p && r.measure.starts_with(SHARE_PREFIX)
            })
            .collect();
        if !shares.is_empty() {
            out.push((
                format!("{p}: behaviour fingerprint (share of days each bin was chosen, trained)"),
                series_table(report, &shares),
            ));
        }
    }
    out
}

/// The report's provenance line: the cells' code and population, and the code that wrote it.
pub(super) fn provenance_line(report: &StudyReport) -> String {
    let cells = match &report.provenance {
        Some(p) => {
            let population: Vec<String> = p
                .population
                .iter()
                .map(|e| {
                    format!(
                        "{} ({:?}, hatchers {}, arrivals {})",
                        e.personality, e.controller, e.hatchers, e.arrivals
                    )
                    .to_lowercase()
                })
                .collect();
            let code = match report.cell_codes.as_slice() {
                [] | [_] => p.code(),
                codes => format!(
                    "{} versions of the code ({}; which cell from which: Notes)",
                    codes.len(),
                    codes.join("; ")
                ),
            };
            format!(
                "the cells' results come from {code}; population of the baseline: {}",
                population.join(", ")
            )
        }
        None => "the cells' eval.json files predate provenance records".to_string(),
    };
    format!(
        "Provenance: {cells}; this report was written by {}.",
        report.report_provenance.code()
    )
}

fn intro_lines(report: &StudyReport) -> Vec<String> {
    let v = &report.variants;
    let mut lines = vec![
        format!(
            "Base files `{}` and `{}`; {} variants × {} training seeds ({}) × {} training steps; each cell evaluated on the same {} held-out episodes (seeds {} to {}), trained policies and, on the same seeds, scripted participants in the same roles.",
            report.env,
            report.agents,
            v.len(),
            report.seeds.len(),
            report.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
            report.total_steps,
            report.eval_episodes,
            report.eval_seed,
            report.eval_seed + report.eval_episodes as u64 - 1
        ),
        format!(
            "Each value is the mean over training seeds of the mean over episodes, with a 95 % interval: estimate ± Student's t times a standard error from a hierarchical bootstrap (training seeds, then episodes, resampled). Δ columns are differences from the baseline `{}`, paired by evaluation episode; ★ marks those called real: the interval excludes zero and, adjusted for the many comparisons of the report (Benjamini–Hochberg), the false-discovery rate is at most 5 %. Findings are the ★ differences that are also material (at least 1 point for a behaviour rate, 5 points for one action bin, 1 % of the value otherwise), trained agents first, largest relative change first.",
            v[0].name
        ),
    ];
    lines.push(provenance_line(report));
    lines
}

/// `report.md`.
pub fn markdown(report: &StudyReport, chart_files: &[(String, String)]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Study `{}`\n", report.file);
    for line in intro_lines(report) {
        let _ = writeln!(s, "{line}\n");
    }
    let _ = writeln!(
        s,
        "## Variants\n\n| variant | overrides | cells |\n|---|---|---|"
    );
    for (i, v) in report.variants.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {}{} | {} | {} |",
            v.name,
            if i == 0 { " (baseline)" } else { "" },
            if v.overrides.is_empty() {
                "–".to_string()
            } else {
                v.overrides
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            v.cells.join(", ")
        );
    }
    let _ = writeln!(s, "\n## Findings\n");
    if report.findings.is_empty() {
        let _ = writeln!(
            s,
            "No material difference from the baseline is called real (see the ★ rule above).\n"
        );
    }
    for f in &report.findings {
        let _ = writeln!(s, "- {}", f.text);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(s, "\n## Notes\n");
        for n in &report.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    let _ = writeln!(s, "\n## Trajectories\n\nMedian and 10–90 % band by day over every cell's evaluation episodes; one colour per variant, trained (left) and scripted (right).\n");
    for (title, file) in chart_files {
        let _ = writeln!(s, "![{title}]({CHARTS}/{file})\n");
    }
    for (title, table) in sections(report) {
        let _ = writeln!(s, "## {title}\n");
        let _ = writeln!(s, "| {} |", table.header.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(table.header.len()));
        for row in &table.rows {
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        let _ = writeln!(s);
    }
    s
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:70rem;margin:0 auto;padding:1rem;line-height:1.45;color:#222}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}\
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}\
td.sig{background:#fff3c4;font-weight:600}table.text td,table.text th{text-align:left}\
figure{margin:1rem 0}figure svg{width:100%;height:auto;max-width:56rem}figcaption{font-size:.85rem;color:#555}\
li{margin:.3rem 0}code{background:#f3f3f3;padding:0 .2rem}\
@media print{body{max-width:none;font-size:10pt}.scroll{overflow:visible}figure,table{page-break-inside:avoid}}";

/// `report.html`: self-contained (inline CSS and SVG), well-formed (it parses as XML too).
pub fn html(report: &StudyReport, charts_svg: &[(String, String)]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>Study {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>Study <code>{}</code></h1>\n",
        escape(&report.file),
        escape(&report.file)
    );
    for line in intro_lines(report) {
        let _ = writeln!(s, "<p>{}</p>", escape(&line).replace('`', ""));
    }
    let _ = writeln!(s, "<h2>Variants</h2>\n<div class=\"scroll\"><table class=\"text\">\n<tr><th>variant</th><th>overrides</th><th>cells</th></tr>");
    for (i, v) in report.variants.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.name),
            if i == 0 { " (baseline)" } else { "" },
            escape(&variant_phrase(v)),
            escape(&v.cells.join(", "))
        );
    }
    let _ = writeln!(s, "</table></div>\n<h2>Findings</h2>");
    if report.findings.is_empty() {
        let _ = writeln!(
            s,
            "<p>No material difference from the baseline is called real (see the ★ rule above).</p>"
        );
    } else {
        let _ = writeln!(s, "<ul>");
        for f in &report.findings {
            let _ = writeln!(s, "<li>{}</li>", escape(&f.text).replace('`', ""));
        }
        let _ = writeln!(s, "</ul>");
    }
    if !report.notes.is_empty() {
        let _ = writeln!(s, "<h2>Notes</h2>\n<ul>");
        for n in &report.notes {
            let _ = writeln!(s, "<li>{}</li>", escape(n));
        }
        let _ = writeln!(s, "</ul>");
    }
    let _ = writeln!(s, "<h2>Trajectories</h2>\n<p>Median and 10–90 % band by day over every cell's evaluation episodes; one colour per variant, trained (left) and scripted (right).</p>");
    for (title, svg) in charts_svg {
        let body = svg
            .trim_start()
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .unwrap_or(svg)
            .trim();
        let _ = writeln!(
            s,
            "<figure>\n{body}\n<figcaption>{}</figcaption>\n</figure>",
            escape(title)
        );
    }
    for (title, table) in sections(report) {
        let _ = writeln!(
            s,
            "<h2>{}</h2>\n<div class=\"scroll\"><table>",
            escape(&title)
        );
        let _ = write!(s, "<tr>");
        for h in &table.header {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        let _ = writeln!(s, "</tr>");
        for row in &table.rows {
            let _ = write!(s, "<tr>");
            for c in row {
                let class = if c.ends_with('★') {
                    " class=\"sig\""
                } else {
                    ""
                };
                let _ = write!(s, "<td{class}>{}</td>", escape(c));
            }
            let _ = writeln!(s, "</tr>");
        }
        let _ = writeln!(s, "</table></div>");
    }
    let _ = writeln!(s, "</body>\n</html>");
    s
}

/// Writes `study.json`, the charts, `report.md` and `report.html` into the study folder `out` (each
/// atomically); returns their paths.
pub fn write_all(report: &StudyReport, out: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let mut written = vec![files::write_json(out, STUDY_JSON, report)?];
    let mut drawn = charts::response_charts(report)?;
    drawn.extend(charts::trajectory_charts(report)?);
    let dir = out.join(CHARTS);
    std::fs::create_dir_all(&dir).map_err(|e| WriteError {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let mut chart_files = Vec::new();
    for c in &drawn {
        let name = format!("{}.svg", c.metric);
        files::write_text(&dir, &name, &c.svg)?;
        chart_files.push((c.title.clone(), name));
    }
    written.push(files::write_text(
        out,
        REPORT_MD,
        &markdown(report, &chart_files),
    )?);
    let inline: Vec<(String, String)> = drawn
        .iter()
        .map(|c| (c.title.clone(), c.svg.clone()))
        .collect();
    written.push(files::write_text(out, REPORT_HTML, &html(report, &inline))?);
    written.push(dir);
    Ok(written)
}

/// What `commons study` prints when a report is written: the findings, or that there are none.
pub fn summary_text(report: &StudyReport) -> String {
    let mut s = format!(
        "study {}: {} variants x {} seeds, baseline `{}`\n",
        report.file,
        report.variants.len(),
        report.seeds.len(),
        report.variants[0].name
    );
    if report.findings.is_empty() {
        s.push_str("no material difference from the baseline is called real\n");
    } else {
        let _ = writeln!(s, "findings ({}):", report.findings.len());
        for f in report.findings.iter().take(15) {
            let _ = writeln!(s, "  - {}", f.text.replace('`', ""));
        }
        if report.findings.len() > 15 {
            let _ = writeln!(
                s,
                "  ... and {} more in report.md",
                report.findings.len() - 15
            );
        }
    }
    for n in &report.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
