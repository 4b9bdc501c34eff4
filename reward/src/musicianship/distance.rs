//! Set-level distance to a reference corpus, in the style of MGEval (Yang & Lerch, "On the
//! evaluation of generative models in music", Neural Computing and Applications, 2020).
//!
//! A set of melodies is not judged melody by melody against fixed floors here, but as a
//! distribution against a reference corpus. For each feature (a histogram or a number per
//! melody), MGEval compares two distributions of pairwise distances:
//!
//! * **intra-set**: distances between melodies of the reference corpus (how far apart real
//!   tunes are from one another);
//! * **inter-set**: distances between each generated melody and each reference melody.
//!
//! Both are smoothed by a Gaussian kernel density estimate (Silverman's bandwidth) and compared
//! by their **overlapping area** (1: the generated set sits among the corpus as the corpus's
//! own tunes do; 0: nowhere near it) and the **KL divergence** of the inter-set density from
//! the intra-set one (0 when equal). A set of copies of one tune, or of trills, lands far from
//! the corpus's own spread on some feature even when each melody looks plausible alone.
//!
//! Features, each over a melody's notes in its own setting (pitch classes relative to the
//! key's tonic, so tunes in different keys compare):
//!
//! | feature | what | MGEval's |
//! |---|---|---|
//! | `pitch_class_histogram` | share of notes per pitch class (12) | PCH |
//! | `pitch_class_transitions` | shares of consecutive pitch-class pairs (144) | PCTM |
//! | `interval_histogram` | share of intervals -12..=12 semitones (wider ones clamped; 25) | PI, extended |
//! | `note_length_histogram` | share of note lengths in steps: 1, 2, 3, 4, 5-6, 7-8, 9-12, 13+ (8) | NLH |
//! | `onset_interval_histogram` | the same bins over the steps between onsets, rests included | IOI |
//! | `pitch_count` | distinct pitches | PC |
//! | `pitch_range` | highest minus lowest pitch, semitones | PR |
//! | `notes_per_bar` | notes per bar | NC, per bar |

use super::notes::{intervals, read, Played};
use cadenza_env::{Event, Setting};
use serde::Serialize;

/// Names of the features, in the order of [`SetDistance::features`].
pub const FEATURE_NAMES: [&str; 8] = [
    "pitch_class_histogram",
    "pitch_class_transitions",
    "interval_histogram",
    "note_length_histogram",
    "onset_interval_histogram",
    "pitch_count",
    "pitch_range",
    "notes_per_bar",
];

/// Most pairs of melodies a distance distribution is built from: all pairs up to this many,
/// else an even stride through them (deterministic), so a set of thousands costs what a set
/// of a few hundred does.
const MAX_PAIRS: usize = 20_000;
/// Points of the grid the densities are integrated on.
const GRID: usize = 512;
/// Floor of a density in the KL divergence, so that a density that vanishes where the other
/// does not gives a large, finite divergence.
const DENSITY_FLOOR: f64 = 1e-10;

/// One feature's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDistance {
    /// The feature's name ([`FEATURE_NAMES`]).
    pub feature: &'static str,
    /// Mean distance between reference melodies.
    pub intra_set_mean: f64,
    /// Mean distance between a generated melody and a reference melody.
    pub inter_set_mean: f64,
    /// Overlapping area of the two distance densities, 0..=1 (1: alike).
    pub overlap: f64,
    /// KL divergence of the inter-set density from the intra-set one, nats (0: alike).
    pub kl: f64,
}

/// A set's distance to a reference corpus, per feature and on average.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetDistance {
    /// Melodies in the reference.
    pub reference_melodies: usize,
    /// Melodies compared.
    pub melodies: usize,
    /// Each feature's comparison, in the order of [`FEATURE_NAMES`].
    pub features: Vec<FeatureDistance>,
    /// Mean overlapping area over the features.
    pub mean_overlap: f64,
    /// Mean KL divergence over the features.
    pub mean_kl: f64,
}

/// The features of one melody, each a vector (scalars have one element).
#[derive(Debug, Clone, PartialEq)]
struct Features([Vec<f64>; 8]);

fn length_bin(steps: usize) -> usize {
    match steps {
        0..=1 => 0,
        2 => 1,
        3 => 2,
        4 => 3,
        5..=6 => 4,
        7..=8 => 5,
        9..=12 => 6,
        _ => 7,
    }
}

fn normalised(mut counts: Vec<f64>) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    if total > 0.0 {
        for c in &mut counts {
            *c /= total;
        }
    }
    counts
}

fn features(setting: &Setting, melody: &[Event]) -> Features {
    let (notes, _) = read(setting, melody);
    let tonic = usize::from(setting.tonic % 12);
    let pc = |n: &Played| (usize::from(n.pitch % 12) + 12 - tonic) % 12;
    let mut pch = vec![0.0; 12];
    for n in &notes {
        pch[pc(n)] += 1.0;
    }
    let mut pctm = vec![0.0; 144];
    for w in notes.windows(2) {
        pctm[pc(&w[0]) * 12 + pc(&w[1])] += 1.0;
    }
    let mut ih = vec![0.0; 25];
    for i in intervals(&notes) {
        ih[(i.clamp(-12, 12) + 12) as usize] += 1.0;
    }
    let mut nlh = vec![0.0; 8];
    for n in &notes {
        nlh[length_bin(n.duration)] += 1.0;
    }
    let mut ioi = vec![0.0; 8];
    for w in notes.windows(2) {
        ioi[length_bin(w[1].start - w[0].start)] += 1.0;
    }
    let (lo, hi) = notes.iter().fold((u8::MAX, 0u8), |(lo, hi), n| {
        (lo.min(n.pitch), hi.max(n.pitch))
    });
    let mut distinct = [false; 128];
    for n in &notes {
        distinct[usize::from(n.pitch & 0x7f)] = true;
    }
    let bars = (melody.len() as f64 / setting.steps_per_bar().max(1) as f64).max(1.0);
    Features([
        normalised(pch),
        normalised(pctm),
        normalised(ih),
        normalised(nlh),
        normalised(ioi),
        vec![distinct.iter().filter(|&&d| d).count() as f64],
        vec![if notes.is_empty() {
            0.0
        } else {
            f64::from(hi - lo)
        }],
        vec![notes.len() as f64 / bars],
    ])
}

fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Every `stride`-th of the `total` pairs, so at most [`MAX_PAIRS`].
fn stride(total: usize) -> usize {
    total.div_ceil(MAX_PAIRS).max(1)
}

/// Gaussian kernel density of `samples` on an even grid starting at `lo` with spacing `step`,
/// Silverman's rule of thumb for the bandwidth (at least one grid step, so a set of equal
/// distances still has a width). The samples are binned on the grid first and the kernel cut
/// at four bandwidths, so the cost is the grid times the kernel's width, not times the
/// number of samples.
fn density(samples: &[f64], lo: f64, step: f64) -> Vec<f64> {
    let n = samples.len().max(1) as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let var = samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let bandwidth = (1.06 * var.sqrt() * n.powf(-0.2)).max(step);
    let mut bins = vec![0.0; GRID];
    for &x in samples {
        let i = ((x - lo) / step).round().clamp(0.0, (GRID - 1) as f64) as usize;
        bins[i] += 1.0;
    }
    let reach = ((4.0 * bandwidth / step).ceil() as usize).min(GRID);
    let kernel: Vec<f64> = (0..=reach)
        .map(|d| (-0.5 * (d as f64 * step / bandwidth).powi(2)).exp())
        .collect();
    let norm = 1.0 / (n * bandwidth * (2.0 * std::f64::consts::PI).sqrt());
    let mut out = vec![0.0; GRID];
    for (i, &count) in bins.iter().enumerate() {
        if count == 0.0 {
            continue;
        }
        let (from, to) = (i.saturating_sub(reach), (i + reach).min(GRID - 1));
        for (j, slot) in out.iter_mut().enumerate().take(to + 1).skip(from) {
            *slot += count * kernel[i.abs_diff(j)] * norm;
        }
    }
    out
}

fn compare(feature: &'static str, intra: &[f64], inter: &[f64]) -> FeatureDistance {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = intra.iter().chain(inter).fold(0.0f64, |m, &x| m.max(x));
    // The grid reaches past the largest distance by a margin, so both densities' tails fit.
    let span = (max * 1.25).max(1e-6);
    let lo = -0.1 * span;
    let step = (span - lo) / (GRID - 1) as f64;
    let p = density(intra, lo, step);
    let q = density(inter, lo, step);
    let overlap: f64 = p.iter().zip(&q).map(|(a, b)| a.min(*b)).sum::<f64>() * step;
    let kl: f64 = p
        .iter()
        .zip(&q)
        .map(|(a, b)| {
            let (a, b) = (a.max(DENSITY_FLOOR), b.max(DENSITY_FLOOR));
            a * (a / b).ln()
        })
        .sum::<f64>()
        * step;
    FeatureDistance {
        feature,
        intra_set_mean: mean(intra),
        inter_set_mean: mean(inter),
        overlap: overlap.clamp(0.0, 1.0),
        kl: kl.max(0.0),
    }
}

/// The distance of `melodies` (melody `i` in `setting_of(i)`) to `reference` (tune `j` in
/// `reference_setting_of(j)`); `None` when the reference has fewer than two melodies or the
/// set is empty.
pub fn set_distance<'a, 'b>(
    melodies: &[Vec<Event>],
    setting_of: impl Fn(usize) -> &'a Setting,
    reference: &[Vec<Event>],
    reference_setting_of: impl Fn(usize) -> &'b Setting,
) -> Option<SetDistance> {
    if reference.len() < 2 || melodies.is_empty() {
        return None;
    }
    let ours: Vec<Features> = melodies
        .iter()
        .enumerate()
        .map(|(i, m)| features(setting_of(i), m))
        .collect();
    let theirs: Vec<Features> = reference
        .iter()
        .enumerate()
        .map(|(j, m)| features(reference_setting_of(j), m))
        .collect();
    let intra_pairs = theirs.len() * (theirs.len() - 1) / 2;
    let inter_pairs = ours.len() * theirs.len();
    let (intra_stride, inter_stride) = (stride(intra_pairs), stride(inter_pairs));
    let features: Vec<FeatureDistance> = FEATURE_NAMES
        .iter()
        .enumerate()
        .map(|(f, &name)| {
            let mut intra = Vec::new();
            let mut k = 0usize;
            for a in 0..theirs.len() {
                for b in a + 1..theirs.len() {
                    if k.is_multiple_of(intra_stride) {
                        intra.push(euclidean(&theirs[a].0[f], &theirs[b].0[f]));
                    }
                    k += 1;
                }
            }
            let mut inter = Vec::new();
            let mut k = 0usize;
            for x in &ours {
                for y in &theirs {
                    if k.is_multiple_of(inter_stride) {
                        inter.push(euclidean(&x.0[f], &y.0[f]));
                    }
                    k += 1;
                }
            }
            compare(name, &intra, &inter)
        })
        .collect();
    let n = features.len() as f64;
    Some(SetDistance {
        reference_melodies: reference.len(),
        melodies: melodies.len(),
        mean_overlap: features.iter().map(|f| f.overlap).sum::<f64>() / n,
        mean_kl: features.iter().map(|f| f.kl).sum::<f64>() / n,
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::HOLD;

    #[test]
    fn identical_sets_overlap_fully() {
        let setting = Setting::rl_tuner();
        let melodies: Vec<Vec<Event>> = (0..12u8)
            .map(|k| {
                (0..32)
                    .map(|i| {
                        if i % 2 == 0 {
                            14 + (i as u8 * 3 + k) % 20
                        } else {
                            HOLD
                        }
                    })
                    .collect()
            })
            .collect();
        let d = set_distance(&melodies, |_| &setting, &melodies, |_| &setting).unwrap();
        // Inter-set distances include each melody against itself (0), so the overlap is high
        // but not exactly 1.
        assert!(d.mean_overlap > 0.8, "{d:?}");
        assert_eq!(d.features.len(), FEATURE_NAMES.len());
    }

    #[test]
    fn too_small_a_reference_gives_none_and_odd_events_do_not_panic() {
        let setting = Setting::rl_tuner();
        let one = vec![vec![14u8, HOLD]];
        assert!(set_distance(&one, |_| &setting, &one, |_| &setting).is_none());
        let odd = vec![vec![255u8, 0, 1, 37, 2], vec![]];
        let d = set_distance(&odd, |_| &setting, &odd, |_| &setting).unwrap();
        assert!(d.mean_overlap.is_finite() && d.mean_kl.is_finite());
    }
}
