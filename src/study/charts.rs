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
