//! The plots of `rewards bench`, drawn with the CLI's one plotting module.

use super::outcome::{Outcome, OUTCOME_METRICS};
use crate::cli::plot::{self, Frame, GroupedBars};
use anyhow::Result;
use cadenza_reward::bench::BenchReport;
use cadenza_reward::musicianship::MUSIC;
use std::path::Path;

/// Draws every plot of the report into `dir`: auc.svg, correlation.svg, after the
/// exploitation audit exploit.svg, after training outcome.svg. Returns what failed, one
/// message per plot.
pub(super) fn write_all(
    dir: &Path,
    r: &BenchReport,
    audited: bool,
    outcome: Option<&[Outcome]>,
) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(e) = auc(&dir.join("auc.svg"), r) {
        errors.push(format!("auc.svg: {e:#}"));
    }
    if let Err(e) = correlation(&dir.join("correlation.svg"), r) {
        errors.push(format!("correlation.svg: {e:#}"));
    }
    if audited {
        if let Err(e) = exploit(&dir.join("exploit.svg"), r) {
            errors.push(format!("exploit.svg: {e:#}"));
        }
    }
    if let Some(outcome) = outcome.filter(|o| !o.is_empty()) {
        if let Err(e) = self::outcome(&dir.join("outcome.svg"), outcome) {
            errors.push(format!("outcome.svg: {e:#}"));
        }
    }
    errors
}

/// AUC per term and corruption: one group per term, one bar per corruption; solid bars are
/// the corruptions the term is meant to detect, pale bars the others; a line marks 0.5.
fn auc(path: &Path, r: &BenchReport) -> Result<()> {
    let nc = r.corruptions.len().max(1);
    let height = (60 + r.terms.len() * (nc * 5 + 8)).max(300) as u32;
    let bars = r
        .terms
        .iter()
        .map(|t| {
            r.corruptions
                .iter()
                .map(|c| {
                    let auc = t.auc.get(&c.name).copied().flatten()?;
                    Some((auc, t.meant_to_detect.contains(&c.name)))
                })
                .collect()
        })
        .collect();
    plot::grouped_bars(
        path,
        &GroupedBars {
            caption: "ROC AUC: real vs corrupted melodies",
            frame: Frame::ROWS,
            x_desc: "AUC",
            rows: r.terms.iter().map(|t| t.name.clone()).collect(),
            series: r.corruptions.iter().map(|c| c.name.clone()).collect(),
            bars,
            reference: Some(0.5),
            height,
            legend_height: 80,
        },
    )
}

/// The exploitation audit: one group per term and agent, one bar per musicianship group
/// (its mean score over the sampled melodies); solid bars reach the group's floor, pale bars
/// fall short of it.
fn exploit(path: &Path, r: &BenchReport) -> Result<()> {
    let groups = ["harmony", "line", "rhythm", "variety"];
    let floors = [MUSIC.harmony, MUSIC.line, MUSIC.rhythm, MUSIC.variety];
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for t in &r.terms {
        for e in &t.exploit {
            let mean = &e.musicianship.mean;
            let flags: Vec<&str> = e.flags.iter().map(|f| f.name()).collect();
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join(", "))
            };
            rows.push(format!("{} ({}){flags}", t.name, e.agent));
            bars.push(
                [mean.harmony, mean.line, mean.rhythm, mean.variety]
                    .iter()
                    .zip(floors)
                    .map(|(&score, floor)| Some((score, score >= floor)))
                    .collect(),
            );
        }
    }
    let height = (60 + rows.len() * (groups.len() * 5 + 8)).max(300) as u32;
    plot::grouped_bars(
        path,
        &GroupedBars {
            caption:
                "Musicianship of what an optimizer of each term writes (pale: below the floor)",
            frame: Frame {
                caption_size: 18,
                y_label_area: 300,
                ..Frame::ROWS
            },
            x_desc: "mean group score",
            rows,
            series: groups.iter().map(|g| g.to_string()).collect(),
            bars,
            reference: None,
            height,
            legend_height: 40,
        },
    )
}

/// The terms' correlation matrix as a heat map.
fn correlation(path: &Path, r: &BenchReport) -> Result<()> {
    let c = &r.correlation;
    plot::heat_map(
        path,
        &format!(
            "Spearman correlation of per-melody scores ({} melodies)",
            c.rows
        ),
        &c.terms,
        &c.matrix,
    )
}

/// The main outcome percentages as grouped bars: one group per metric, one bar per preset.
fn outcome(path: &Path, outcome: &[Outcome]) -> Result<()> {
    // The last metric, the autocorrelation, is no fraction.
    let metrics = &OUTCOME_METRICS[..8];
    let bars = metrics
        .iter()
        .map(|m| {
            outcome
                .iter()
                .map(|o| {
                    let value = o.metrics.get(*m).copied().filter(|v| v.is_finite());
                    Some((value.unwrap_or(0.0), true))
                })
                .collect()
        })
        .collect();
    plot::grouped_bars(
        path,
        &GroupedBars {
            caption: "Magenta metrics of melodies from agents trained on each reward",
            frame: Frame {
                caption_size: 18,
                y_label_area: 300,
                ..Frame::ROWS
            },
            x_desc: "fraction",
            rows: metrics.iter().map(|m| m.to_string()).collect(),
            series: outcome.iter().map(|o| o.reward.clone()).collect(),
            bars,
            reference: None,
            height: 470,
            legend_height: 50,
        },
    )
}
