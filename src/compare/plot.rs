//! The comparison as an SVG, drawn with plotters: one panel per series, each run's mean as a dot with its
//! 95 % interval as a bar on the panel's own scale, and each later run's difference from the first run
//! written beside it (marked `*` when its interval excludes zero). Opens in any browser.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{short, Comparison, Row};

/// Colours of runs (and of a study's variants), in order; repeats after eight.
pub const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

const WIDTH: u32 = 1000;
const LABEL_W: u32 = 250;
const PLOT_W: u32 = 390;
const LINE_H: u32 = 13;
const FONT: &str = "sans-serif";

/// The scale of a panel: every interval of the series, padded; a flat one widened.
fn panel_range(row: &Row) -> (f64, f64) {
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
    (lo - pad, hi + pad)
}

/// What is written beside run `j`'s interval: its mean, and its difference from the first run.
fn beside(row: &Row, j: usize, mean: f64) -> String {
    match row.differences.get(j).copied().flatten() {
        Some(d) if j > 0 => format!(
            "{}   Δ {} [{}, {}]{}",
            short(mean),
            short(d.mean),
            short(d.lo),
            short(d.hi),
            if d.significant() { " *" } else { "" }
        ),
        _ => short(mean),
    }
}

fn draw_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Comparison,
    row: &Row,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let runs = c.runs.len().max(1);
    let (_, measure) = row.series.split_once('/').unwrap_or(("", &row.series));
    let (label, rest) = area.split_horizontally(LABEL_W);
    let (plot, text) = rest.split_horizontally(PLOT_W);
    let (_, h) = area.dim_in_pixel();
    label.draw(&Text::new(
        measure.to_string(),
        (LABEL_W as i32 - 8, h as i32 / 2 - 6),
        (FONT, 11)
            .into_font()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Top,
            )),
    ))?;
    let (lo, hi) = panel_range(row);
    plot.fill(&RGBColor(244, 244, 244))?;
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(2)
        .margin_bottom(2)
        .build_cartesian_2d(lo..hi, -0.5..runs as f64 - 0.5)
        .map_err(|_| DrawingAreaErrorKind::LayoutError)?;
    if lo < 0.0 && hi > 0.0 {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, -0.5), (0.0, runs as f64 - 0.5)],
                RGBColor(187, 187, 187),
            )))
            .map_err(|_| DrawingAreaErrorKind::LayoutError)?;
    }
    let grey = (FONT, 8).into_font().color(&RGBColor(119, 119, 119));
    plot.draw(&Text::new(short(lo), (2, h as i32 - 11), grey.clone()))?;
    plot.draw(&Text::new(
        short(hi),
        (PLOT_W as i32 - 2, h as i32 - 11),
        grey.pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Top,
        )),
    ))?;
    for (j, e) in row.values.iter().enumerate() {
        let Some(e) = (*e).filter(|e| [e.mean, e.lo, e.hi].iter().all(|v| v.is_finite())) else {
            continue;
        };
        let colour = COLOURS[j % COLOURS.len()];
        // Run 0 on top.
        let y = (runs - 1 - j) as f64;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(e.lo, y), (e.hi, y)],
                colour.stroke_width(2),
            )))
            .map_err(|_| DrawingAreaErrorKind::LayoutError)?;
        chart
            .draw_series(std::iter::once(Circle::new(
                (e.mean, y),
                3,
                colour.filled(),
            )))
            .map_err(|_| DrawingAreaErrorKind::LayoutError)?;
        text.draw(&Text::new(
            beside(row, j, e.mean),
            (20, 5 + (LINE_H as usize * j) as i32),
            (FONT, 11).into_font().color(&colour),
        ))?;
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    c: &Comparison,
    legend_h: u32,
    row_h: u32,
    group_h: u32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let bold = (FONT, 13).into_font().style(FontStyle::Bold).color(&BLACK);
    root.draw(&Text::new(
        format!(
            "commons compare: mean and bootstrap 95 % interval per episode; differences from {}",
            c.runs.first().map(String::as_str).unwrap_or("")
        ),
        (10, 4),
        bold,
    ))?;
    for (j, run) in c.runs.iter().enumerate() {
        let y = 24 + (LINE_H as usize * j) as i32;
        let colour = COLOURS[j % COLOURS.len()];
        let pairing = if j == 0 {
            "reference"
        } else if c.paired[j] {
            "paired by seed"
        } else {
            "unpaired"
        };
        root.draw(&Rectangle::new([(10, y), (20, y + 10)], colour.filled()))?;
        root.draw(&Text::new(
            format!("{run} ({pairing})"),
            (26, y),
            (FONT, 11).into_font().color(&BLACK),
        ))?;
    }
    let mut y = legend_h as i32 + 10;
    let mut last_group = "";
    for row in &c.rows {
        let group = row.series.split('/').next().unwrap_or("");
        if group != last_group {
            y += group_h as i32 - 6;
            root.draw(&Text::new(
                group.to_string(),
                (10, y - 12),
                (FONT, 12).into_font().style(FontStyle::Bold).color(&BLACK),
            ))?;
            root.draw(&PathElement::new(
                vec![(10, y + 3), (WIDTH as i32 - 10, y + 3)],
                RGBColor(153, 153, 153),
            ))?;
            y += 6;
            last_group = group;
        }
        let area = root.clone().shrink((0, y), (WIDTH, row_h));
        draw_row(&area, c, row)?;
        y += row_h as i32;
    }
    root.present()
}

/// Renders `c` as an SVG document.
pub fn svg(c: &Comparison) -> String {
    let runs = c.runs.len().max(1) as u32;
    let row_h = LINE_H * runs + 20;
    let legend_h = 24 + LINE_H * runs;
    let mut groups = 0;
    let mut last_group = "";
    for row in &c.rows {
        let g = row.series.split('/').next().unwrap_or("");
        if g != last_group {
            groups += 1;
            last_group = g;
        }
    }
    let group_h = 22;
    let height = legend_h + row_h * c.rows.len() as u32 + group_h * groups + 30;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, height)).into_drawing_area();
        // Drawing into a string cannot fail for I/O; a layout error leaves a partial but valid SVG.
        let _ = draw(root, c, legend_h, row_h, group_h);
    }
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
        roxmltree::Document::parse(&doc).expect("well-formed SVG");
        assert_eq!(doc.matches("<circle").count(), 4);
        assert!(doc.contains("a&lt;1&gt;"), "{doc}");
        assert!(doc.contains("impact") && doc.contains("token_price"));
        assert!(doc.contains("Δ 0.6667"), "{doc}");
    }
}
