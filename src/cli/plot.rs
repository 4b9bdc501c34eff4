//! SVG charts: the one place the CLI draws. Every chart starts on the same white canvas
//! with the same frame (caption, margins, label areas, mesh) and legends; each plot is a
//! small function over plain data: the learning curve of `train`, the histograms of
//! `corpus stats` and `corpus import`, and the grouped bars and heat map of
//! `rewards bench`.

use anyhow::{bail, Result};
use cadenza_agents::train::EvalRecord;
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const FONT: &str = "sans-serif";

/// Colours of the series of a chart, in order (matplotlib's first eight).
pub fn palette(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLOURS[i % COLOURS.len()]
}

/// How a chart sits on its canvas: its caption's size and the room around the plot.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Font size of the caption.
    pub caption_size: u32,
    /// Margin around the chart.
    pub margin: u32,
    /// Height of the x axis's labels.
    pub x_label_area: u32,
    /// Width of the y axis's labels.
    pub y_label_area: u32,
}

impl Frame {
    /// Numbers on both axes.
    pub const NUMERIC: Frame = Frame {
        caption_size: 22,
        margin: 12,
        x_label_area: 40,
        y_label_area: 60,
    };
    /// Named rows on the y axis.
    pub const ROWS: Frame = Frame {
        caption_size: 20,
        margin: 10,
        x_label_area: 30,
        y_label_area: 220,
    };
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart over the coordinates `X` and `Y` make (see [`chart`]).
type Chart<'a, 'b, X, Y> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// A white SVG canvas of `size` pixels, written to `path` by [`Area::present`].
fn canvas(path: &Path, size: (u32, u32)) -> Result<Area<'_>> {
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root)
}

/// A captioned chart on `area` over the ranges `x` and `y`.
fn chart<'a, 'b, X: AsRangedCoord, Y: AsRangedCoord>(
    area: &'a Area<'b>,
    caption: &str,
    frame: Frame,
    x: X,
    y: Y,
) -> Result<Chart<'a, 'b, X, Y>> {
    Ok(ChartBuilder::on(area)
        .caption(caption, (FONT, frame.caption_size))
        .margin(frame.margin)
        .x_label_area_size(frame.x_label_area)
        .y_label_area_size(frame.y_label_area)
        .build_cartesian_2d(x, y)?)
}

/// A legend of coloured squares, four to a line, one per name (coloured by [`palette`]).
fn swatch_legend(area: &Area<'_>, names: &[String]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        let x = 20 + (i as i32 % 4) * 240;
        let y = 15 + (i as i32 / 4) * 25;
        area.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 14)],
            palette(i).filled(),
        ))?;
        area.draw(&Text::new(
            name.clone(),
            (x + 20, y),
            (FONT, 14).into_font(),
        ))?;
    }
    Ok(())
}

/// Return vs step of a training run, sampled and greedy.
pub fn learning_curve(records: &[EvalRecord], path: &Path, title: &str) -> Result<()> {
    if records.is_empty() {
        bail!("no evaluations recorded");
    }
    let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let values = records
        .iter()
        .flat_map(|r| [r.return_mean, r.greedy_return_mean])
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1.0);
    let root = canvas(path, (800, 500))?;
    let mut chart = chart(
        &root,
        title,
        Frame::NUMERIC,
        0.0..max_step,
        (lo - pad)..(hi + pad),
    )?;
    chart
        .configure_mesh()
        .x_desc("env steps")
        .y_desc("episode return")
        .draw()?;
    let sampled: fn(&EvalRecord) -> f64 = |r| r.return_mean;
    let greedy: fn(&EvalRecord) -> f64 = |r| r.greedy_return_mean;
    for (label, colour, value) in [("sampled", BLUE, sampled), ("greedy", RED, greedy)] {
        let points = records.iter().map(|r| (r.step as f64, value(r)));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Counts per integer bin as vertical bars.
pub fn histogram(path: &Path, title: &str, x_desc: &str, bins: &BTreeMap<i32, u64>) -> Result<()> {
    let (Some(&lo), Some(&hi)) = (bins.keys().next(), bins.keys().next_back()) else {
        bail!("nothing to plot: no notes");
    };
    let top = bins.values().copied().max().unwrap_or(1);
    let root = canvas(path, (900, 500))?;
    let frame = Frame {
        y_label_area: 70,
        ..Frame::NUMERIC
    };
    let mut chart = chart(
        &root,
        title,
        frame,
        (lo..hi + 1).into_segmented(),
        0u64..top + top / 10 + 1,
    )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(x_desc)
        .y_desc("count")
        .draw()?;
    chart.draw_series(
        Histogram::vertical(&chart)
            .style(BLUE.filled())
            .margin(1)
            .data(bins.iter().map(|(&k, &v)| (k, v))),
    )?;
    root.present()?;
    Ok(())
}

/// Horizontal bars in groups: one group per row (named on the left, the first on top), one
/// bar per series within a group, coloured by [`palette`] and named in a legend below.
#[derive(Debug, Clone)]
pub struct GroupedBars<'a> {
    /// The caption.
    pub caption: &'a str,
    /// Caption size and label room ([`Frame::ROWS`] or a wider one for long row names).
    pub frame: Frame,
    /// What the bars measure; the x axis runs from 0 to 1.
    pub x_desc: &'a str,
    /// The row (group) names, top to bottom.
    pub rows: Vec<String>,
    /// The series names, in bar order within a group.
    pub series: Vec<String>,
    /// `bars[row][series]`: the bar's length (clamped to 0..=1) and whether it is drawn
    /// solid rather than pale; `None` leaves the place empty.
    pub bars: Vec<Vec<Option<(f64, bool)>>>,
    /// Where to draw a vertical reference line, if anywhere.
    pub reference: Option<f64>,
    /// Height of the chart, above the legend.
    pub height: u32,
    /// Height of the legend.
    pub legend_height: u32,
}

/// Draws [`GroupedBars`], 1000 pixels wide.
pub fn grouped_bars(path: &Path, plot: &GroupedBars<'_>) -> Result<()> {
    let nr = plot.rows.len();
    let ns = plot.series.len().max(1);
    let root = canvas(path, (1000, plot.height + plot.legend_height))?;
    let (main, legend) = root.split_vertically(plot.height);
    // Row i (top to bottom) is centred on y = nr - 1 - i, so that the axis's key points,
    // whole numbers, fall on the rows' middles and carry their names.
    let top = nr as f64 - 0.5;
    let mut chart = chart(
        &main,
        plot.caption,
        plot.frame,
        0.0f64..1.0f64,
        -0.5f64..top,
    )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(nr.max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && (0.0..nr as f64).contains(&i) {
                plot.rows[nr - 1 - i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc(plot.x_desc)
        .draw()?;
    for (ri, row) in plot.bars.iter().enumerate() {
        let base = (nr - 1 - ri) as f64 - 0.5;
        for (si, bar) in row.iter().enumerate() {
            let Some((value, solid)) = *bar else {
                continue;
            };
            let y0 = base + 0.1 + 0.8 * si as f64 / ns as f64;
            let y1 = y0 + 0.8 / ns as f64;
            let colour = palette(si);
            let style = if solid {
                colour.filled()
            } else {
                colour.mix(0.25).filled()
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y0), (value.clamp(0.0, 1.0), y1)],
                style,
            )))?;
        }
    }
    if let Some(x) = plot.reference {
        chart.draw_series(LineSeries::new(
            [(x, -0.5), (x, top)],
            BLACK.stroke_width(1),
        ))?;
    }
    swatch_legend(&legend, &plot.series)?;
    root.present()?;
    Ok(())
}

/// A square matrix of values in -1..=1 as coloured cells, labelled on the left and below:
/// red for +1, blue for -1, grey where a value is undefined.
pub fn heat_map(
    path: &Path,
    caption: &str,
    labels: &[String],
    matrix: &[Vec<Option<f64>>],
) -> Result<()> {
    let k = labels.len() as i32;
    let cell = 26i32;
    let left = 230i32;
    let top = 40i32;
    let size = (left + cell * k + 20, top + cell * k + 230);
    let root = canvas(path, (size.0 as u32, size.1 as u32))?;
    root.draw(&Text::new(
        caption.to_string(),
        (10, 10),
        (FONT, 18).into_font(),
    ))?;
    for (i, (label, row)) in labels.iter().zip(matrix).enumerate() {
        let i = i as i32;
        root.draw(&Text::new(
            label.clone(),
            (10, top + cell * i + 7),
            (FONT, 12).into_font(),
        ))?;
        let label_style = (FONT, 12).into_font().transform(FontTransform::Rotate90);
        root.draw(&Text::new(
            label.clone(),
            (left + cell * i + 18, top + cell * k + 6),
            label_style,
        ))?;
        for (j, &v) in row.iter().enumerate() {
            let colour = match v {
                Some(v) if v >= 0.0 => {
                    let f = 1.0 - v.min(1.0);
                    RGBColor(255, (255.0 * f) as u8, (255.0 * f) as u8)
                }
                Some(v) => {
                    let f = 1.0 + v.max(-1.0);
                    RGBColor((255.0 * f) as u8, (255.0 * f) as u8, 255)
                }
                None => RGBColor(200, 200, 200),
            };
            let (x, y) = (left + cell * j as i32, top + cell * i);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell - 1, y + cell - 1)],
                colour.filled(),
            ))?;
            if let Some(v) = v {
                root.draw(&Text::new(
                    format!("{:.1}", v),
                    (x + 3, y + 8),
                    (FONT, 9).into_font(),
                ))?;
            }
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_bars_name_every_row() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for nr in [1usize, 3, 10, 25] {
            let rows: Vec<String> = (0..nr).map(|i| format!("row_{i}_name")).collect();
            let path = dir.path().join(format!("bars{nr}.svg"));
            grouped_bars(
                &path,
                &GroupedBars {
                    caption: "test",
                    frame: Frame::ROWS,
                    x_desc: "x",
                    rows: rows.clone(),
                    series: vec!["a".into(), "b".into()],
                    bars: vec![vec![Some((0.5, true)), Some((0.25, false))]; nr],
                    reference: Some(0.5),
                    height: (60 + nr * 18).max(300) as u32,
                    legend_height: 40,
                },
            )
            .expect("drawn");
            let svg = std::fs::read_to_string(&path).expect("written");
            for row in &rows {
                assert_eq!(svg.matches(row.as_str()).count(), 1, "{row} of {nr}");
            }
        }
    }
}
