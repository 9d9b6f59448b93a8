//! The study's trajectory charts, drawn with plotters' SVG backend: for each per-day metric, the
//! median and 10–90 % band by day, one colour per variant, trained policies (left panel) and scripted
//! participants (right panel) on the same scale.

use plotters::prelude::*;

use super::render::RenderError;
use super::report::{SideName, StudyReport, Trajectory};
use crate::eval::days::DAY_METRICS;

/// Colours of variants, in order: those of `commons compare`'s runs.
use crate::compare::plot::COLOURS as PALETTE;

/// One chart: the metric, a title, and the SVG document.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The metric (file name stem).
    pub metric: String,
    /// What it shows, in words.
    pub title: String,
    /// The SVG text.
    pub svg: String,
}

const WIDTH: u32 = 960;
const HEIGHT: u32 = 360;

fn chart_error(chart: &str) -> impl Fn(String) -> RenderError + '_ {
    move |message| RenderError::Chart {
        chart: chart.to_string(),
        message,
    }
}

/// The value range of `series` (their bands), padded a little; a flat range is widened.
fn y_range(series: &[&Trajectory]) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for t in series {
        for v in t.p10.iter().chain(&t.p90).chain(&t.p50) {
            if v.is_finite() {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
        }
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = lo.abs().max(1.0) * 0.05;
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    series: &[&Trajectory],
    variants: &[String],
    x_max: f64,
    (y0, y1): (f64, f64),
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(62)
        .build_cartesian_2d(0f64..x_max, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("day")
        .x_labels(8)
        .y_labels(6)
        .max_light_lines(1)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(225, 225, 225))
        .label_style(("sans-serif", 11))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| crate::format::short(*v))
        .draw()
        .map_err(|e| err(&e))?;
    for t in series {
        let k = variants.iter().position(|v| *v == t.variant).unwrap_or(0);
        let colour = PALETTE[k % PALETTE.len()];
        let band: Vec<(f64, f64)> = t
            .p90
            .iter()
            .enumerate()
            .map(|(d, v)| (d as f64, *v))
            .chain(t.p10.iter().enumerate().rev().map(|(d, v)| (d as f64, *v)))
            .filter(|(_, v)| v.is_finite())
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                colour.mix(0.15).filled(),
            )))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(LineSeries::new(
                t.p50
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(d, v)| (d as f64, *v)),
                colour.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(t.variant.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}

/// One chart per [`DAY_METRICS`] entry that the report has trajectories for.
pub fn trajectory_charts(report: &StudyReport) -> Result<Vec<Chart>, RenderError> {
    let variants: Vec<String> = report.variants.iter().map(|v| v.name.clone()).collect();
    let mut out = Vec::new();
    for metric in DAY_METRICS {
        let of = |side: SideName| -> Vec<&Trajectory> {
            report
                .trajectories
                .iter()
                .filter(|t| t.metric == metric && t.side == side)
                .collect()
        };
        let (trained, scripted) = (of(SideName::Trained), of(SideName::Scripted));
        if trained.is_empty() && scripted.is_empty() {
            continue;
        }
        let all: Vec<&Trajectory> = trained.iter().chain(&scripted).copied().collect();
        let x_max = all.iter().map(|t| t.p50.len()).max().unwrap_or(1).max(2) as f64 - 1.0;
        let range = y_range(&all);
        let title = format!(
            "{} by day: median and 10–90 % band, trained (left) and scripted (right)",
            metric.replace('_', " ")
        );
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE)
                .map_err(|e| chart_error(metric)(e.to_string()))?;
            let (left, right) = root.split_horizontally(WIDTH / 2);
            draw_panel(
                &left,
                &format!("{} — trained", metric.replace('_', " ")),
                &trained,
                &variants,
                x_max,
                range,
            )
            .map_err(chart_error(metric))?;
            draw_panel(
                &right,
                &format!("{} — scripted", metric.replace('_', " ")),
                &scripted,
                &variants,
                x_max,
                range,
            )
            .map_err(chart_error(metric))?;
            root.present()
                .map_err(|e| chart_error(metric)(e.to_string()))?;
        }
        out.push(Chart {
            metric: metric.to_string(),
            title,
            svg,
        });
    }
    Ok(out)
}

/// The series a response chart shows, in panel order: every personality's lifetime return (trained),
/// then these final Commons metrics (trained).
const RESPONSE_METRICS: [&str; 3] = ["token_price", "funding_pool", "proposals_completed"];

/// One response chart per `[[grid]]` of the study: each outcome's two-level estimate (trained side)
/// with its interval against the grid's first parameter, one line per combination of the others
/// (1-D grids: one line; 2-D: one per value of the second parameter).
pub fn response_charts(report: &StudyReport) -> Result<Vec<Chart>, RenderError> {
    let mut grids: Vec<usize> = report
        .variants
        .iter()
        .filter_map(|v| v.grid.as_ref().map(|g| g.grid))
        .collect();
    grids.dedup();
    let mut series: Vec<String> = report
        .personalities
        .iter()
        .map(|p| format!("{p}/return"))
        .collect();
    series.extend(RESPONSE_METRICS.iter().map(|m| format!("commons/{m}")));
    let rows: Vec<&super::report::Row> = series
        .iter()
        .filter_map(|s| {
            report
                .rows
                .iter()
                .find(|r| r.side == SideName::Trained && r.series == *s)
        })
        .collect();
    let mut out = Vec::new();
    for g in grids {
        let points: Vec<(usize, &super::report::GridPointInfo)> = report
            .variants
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.grid.as_ref().filter(|p| p.grid == g).map(|p| (i, p)))
            .collect();
        let Some((_, first)) = points.first() else {
            continue;
        };
        let x_key = first.values[0].0.clone();
        // The x values in order of first appearance; numeric when all parse.
        let mut xs: Vec<String> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for (_, p) in &points {
            let x = &p.values[0].1;
            if !xs.contains(x) {
                xs.push(x.clone());
            }
            let line = line_label(p);
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        let numeric: Option<Vec<f64>> = xs.iter().map(|x| x.parse::<f64>().ok()).collect();
        let position = |x: &str| -> f64 {
            match &numeric {
                Some(v) => v[xs.iter().position(|s| s == x).unwrap_or(0)],
                None => xs.iter().position(|s| s == x).unwrap_or(0) as f64,
            }
        };
        let (x0, x1) = match &numeric {
            Some(v) => {
                let (lo, hi) = v
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                        (a.min(*x), b.max(*x))
                    });
                let pad = ((hi - lo) * 0.08).max(lo.abs().max(1.0) * 1e-3);
                (lo - pad, hi + pad)
            }
            None => (-0.5, xs.len() as f64 - 0.5),
        };
        let name = format!("response-grid{g}");
        let cols = 3u32;
        let panels = rows.len().max(1) as u32;
        let rows_n = panels.div_ceil(cols);
        let (w, h) = (WIDTH, 300 * rows_n);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
            root.fill(&WHITE)
                .map_err(|e| chart_error(&name)(e.to_string()))?;
            let areas = root.split_evenly((rows_n as usize, cols as usize));
            for (row, area) in rows.iter().zip(&areas) {
                let mut pts: Vec<(usize, f64, f64, f64, f64)> = Vec::new();
                for (i, p) in &points {
                    if let Some(Some(e)) = row.estimates.get(*i) {
                        let line = lines.iter().position(|l| *l == line_label(p)).unwrap_or(0);
                        pts.push((line, position(&p.values[0].1), e.mean, e.lo, e.hi));
                    }
                }
                draw_response(
                    area,
                    &format!("{} ({})", row.label, row.group),
                    &x_key,
                    &pts,
                    &lines,
                    (x0, x1),
                    numeric.is_none().then_some(&xs),
                )
                .map_err(chart_error(&name))?;
            }
            root.present()
                .map_err(|e| chart_error(&name)(e.to_string()))?;
        }
        let others: Vec<&str> = first.values[1..].iter().map(|(k, _)| k.as_str()).collect();
        let title = if others.is_empty() {
            format!("response to {x_key} (grid {g}): trained estimate and 95 % interval over training seeds")
        } else {
            format!(
                "response to {x_key}, one line per {} (grid {g}): trained estimate and 95 % interval over training seeds",
                others.join(" × ")
            )
        };
        out.push(Chart {
            metric: name,
            title,
            svg,
        });
    }
    Ok(out)
}

/// The legend label of a grid point's line: its values of every key but the first.
fn line_label(p: &super::report::GridPointInfo) -> String {
    let rest: Vec<String> = p.values[1..]
        .iter()
        .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
        .collect();
    if rest.is_empty() {
        "estimate".into()
    } else {
        rest.join(", ")
    }
}

/// One response panel: per line, the estimates joined in x order with an error bar each.
fn draw_response<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    x_key: &str,
    pts: &[(usize, f64, f64, f64, f64)],
    lines: &[String],
    (x0, x1): (f64, f64),
    categories: Option<&Vec<String>>,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in pts {
        for v in [p.2, p.3, p.4] {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(lo.abs().max(1e-9) * 0.02);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 13))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(58)
        .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    let label = |v: &f64| match categories {
        Some(c) => c
            .get(v.round().max(0.0) as usize)
            .filter(|_| (v - v.round()).abs() < 1e-6)
            .cloned()
            .unwrap_or_default(),
        None => crate::format::short(*v),
    };
    chart
        .configure_mesh()
        .x_desc(x_key)
        .x_labels(6)
        .y_labels(5)
        .max_light_lines(1)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(225, 225, 225))
        .label_style(("sans-serif", 10))
        .x_label_formatter(&label)
        .y_label_formatter(&|v| crate::format::short(*v))
        .draw()
        .map_err(|e| err(&e))?;
    for (k, name) in lines.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let mut mine: Vec<&(usize, f64, f64, f64, f64)> = pts.iter().filter(|p| p.0 == k).collect();
        mine.sort_by(|a, b| a.1.total_cmp(&b.1));
        // Error bars: the interval as a vertical segment, the estimate as a dot.
        chart
            .draw_series(
                mine.iter().map(|p| {
                    PathElement::new(vec![(p.1, p.3), (p.1, p.4)], colour.stroke_width(2))
                }),
            )
            .map_err(|e| err(&e))?;
        chart
            .draw_series(
                mine.iter()
                    .map(|p| Circle::new((p.1, p.2), 3, colour.filled())),
            )
            .map_err(|e| err(&e))?;
        chart
            .draw_series(LineSeries::new(
                mine.iter().map(|p| (p.1, p.2)),
                colour.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    if lines.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 10))
            .draw()
            .map_err(|e| err(&e))?;
    }
    Ok(())
}
