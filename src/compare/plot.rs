//! The comparison as an SVG: one panel per series, each run's mean as a dot with its 95 % interval as a
//! bar on the panel's own scale, and each later run's difference from the first run written beside it
//! (marked `*` when its interval excludes zero). Hand-written SVG; opens in any browser.

use std::fmt::Write;

use super::{short, Comparison};

/// Colours of runs, in order (repeats after eight).
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 250.0;
const PLOT_X0: f64 = 260.0;
const PLOT_X1: f64 = 640.0;
const TEXT_X: f64 = 660.0;
const LINE_H: f64 = 13.0;

fn esc(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders `c` as an SVG document.
pub fn svg(c: &Comparison) -> String {
    let runs = c.runs.len().max(1);
    let row_h = LINE_H * runs as f64 + 20.0;
    let legend_h = 24.0 + LINE_H * runs as f64;
    let mut groups = 0;
    let mut last_group = "";
    for row in &c.rows {
        let g = row.series.split('/').next().unwrap_or("");
        if g != last_group {
            groups += 1;
            last_group = g;
        }
    }
    let height = legend_h + row_h * c.rows.len() as f64 + 22.0 * groups as f64 + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="16" font-size="13" font-weight="bold">commons compare: mean and bootstrap 95 % interval per episode; differences from {}</text>"#,
        esc(c.runs.first().map(String::as_str).unwrap_or(""))
    );
    for (j, run) in c.runs.iter().enumerate() {
        let y = 32.0 + LINE_H * j as f64;
        let colour = COLOURS[j % COLOURS.len()];
        let pairing = if j == 0 {
            "reference"
        } else if c.paired[j] {
            "paired by seed"
        } else {
            "unpaired"
        };
        let _ = writeln!(
            s,
            r#"<rect x="10" y="{}" width="10" height="10" fill="{colour}"/><text x="26" y="{}">{} ({pairing})</text>"#,
            y - 9.0,
            y,
            esc(run)
        );
    }
    let mut y = legend_h + 10.0;
    let mut last_group = "";
    for row in &c.rows {
        let (group, measure) = row.series.split_once('/').unwrap_or(("", &row.series));
        if group != last_group {
            y += 16.0;
            let _ = writeln!(
                s,
                r##"<text x="10" y="{y}" font-size="12" font-weight="bold">{}</text><line x1="10" x2="{}" y1="{}" y2="{}" stroke="#999"/>"##,
                esc(group),
                WIDTH - 10.0,
                y + 3.0,
                y + 3.0
            );
            y += 6.0;
            last_group = group;
        }
        // The panel's scale: all intervals of this series.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for e in row
            .values
            .iter()
            .flatten()
            .filter(|e| [e.mean, e.lo, e.hi].iter().all(|v| v.is_finite()))
        {
            lo = lo.min(e.lo).min(e.mean);
            hi = hi.max(e.hi).max(e.mean);
        }
        if !lo.is_finite() || !hi.is_finite() {
            lo = 0.0;
            hi = 1.0;
        }
        if hi - lo <= 1e-12 * (1.0 + lo.abs()) {
            let pad = (lo.abs() * 0.1).max(1e-9);
            lo -= pad;
            hi += pad;
        }
        let pad = 0.05 * (hi - lo);
        let (lo, hi) = (lo - pad, hi + pad);
        let x = |v: f64| PLOT_X0 + (v - lo) / (hi - lo) * (PLOT_X1 - PLOT_X0);
        let mid = y + 5.0 + LINE_H * runs as f64 / 2.0;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{PLOT_X0}" y="{}" width="{}" height="{}" fill="#f4f4f4"/>"##,
            LABEL_W,
            mid + 4.0,
            esc(measure),
            y + 2.0,
            PLOT_X1 - PLOT_X0,
            row_h - 4.0
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" font-size="8" fill="#777">{}</text><text x="{}" y="{}" font-size="8" fill="#777" text-anchor="end">{}</text>"##,
            PLOT_X0 + 2.0,
            y + row_h - 5.0,
            short(lo),
            PLOT_X1 - 2.0,
            y + row_h - 5.0,
            short(hi)
        );
        if lo < 0.0 && hi > 0.0 {
            let _ = writeln!(
                s,
                r##"<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#bbb" stroke-dasharray="2,2"/>"##,
                x(0.0),
                y + 2.0,
                y + row_h - 2.0
            );
        }
        for (j, e) in row.values.iter().enumerate() {
            let Some(e) = (*e).filter(|e| [e.mean, e.lo, e.hi].iter().all(|v| v.is_finite()))
            else {
                continue;
            };
            let colour = COLOURS[j % COLOURS.len()];
            let ly = y + 5.0 + LINE_H * j as f64 + LINE_H / 2.0;
            let _ = writeln!(
                s,
                r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/><circle cx="{}" cy="{ly}" r="3.5" fill="{colour}"><title>{}: {} [{}, {}]</title></circle>"#,
                x(e.lo),
                x(e.hi),
                x(e.mean),
                esc(&c.runs[j]),
                short(e.mean),
                short(e.lo),
                short(e.hi)
            );
            let text = if j == 0 {
                short(e.mean)
            } else {
                match &row.differences[j] {
                    Some(d) => format!(
                        "{}   Δ {} [{}, {}]{}",
                        short(e.mean),
                        short(d.mean),
                        short(d.lo),
                        short(d.hi),
                        if d.significant() { " *" } else { "" }
                    ),
                    None => short(e.mean),
                }
            };
            let _ = writeln!(
                s,
                r#"<text x="{TEXT_X}" y="{}" fill="{colour}">{}</text>"#,
                ly + 4.0,
                esc(&text)
            );
        }
        y += row_h;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::{compare, RunSamples};
    use super::*;

    #[test]
    fn svg_has_a_panel_per_series_and_a_dot_per_run() {
        let mk = |label: &str, shift: f64| RunSamples {
            label: label.into(),
            seeds: vec![0, 1, 2],
            series: [
                (
                    "altruist/impact".to_string(),
                    vec![Some(1.0 + shift), Some(2.0 + shift), Some(3.0)],
                ),
                (
                    "commons/token_price".to_string(),
                    vec![Some(0.1), Some(0.2), Some(0.3 + shift)],
                ),
            ]
            .into_iter()
            .collect(),
        };
        let doc = svg(&compare(&[mk("a<1>", 0.0), mk("b", 1.0)]));
        assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
        assert_eq!(doc.matches("<circle").count(), 4);
        assert!(doc.contains("a&lt;1&gt;"));
        assert!(doc.contains(">impact<") && doc.contains(">token_price<"));
        assert!(doc.contains("Δ 0.6667"), "{doc}");
    }
}
