//! The statistics of the bench: ROC AUC (Mann-Whitney U with ties), a cluster bootstrap for
//! its confidence interval, Spearman correlation, medians.
//!
//! ```
//! use cadenza_reward::bench::stats::auc;
//! // Every real score beats every corrupted one: AUC 1. One tie counts half.
//! assert_eq!(auc(&[3.0, 4.0], &[1.0, 2.0]), Some(1.0));
//! assert_eq!(auc(&[1.0], &[1.0]), Some(0.5));
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// ROC AUC of `positives` against `negatives`: the probability that a random positive scores
/// above a random negative, ties counting one half (Mann-Whitney U / (n₊ n₋)). NaN scores are
/// left out; `None` when either side is empty.
pub fn auc(positives: &[f64], negatives: &[f64]) -> Option<f64> {
    let mut items: Vec<(f64, usize, bool)> = Vec::with_capacity(positives.len() + negatives.len());
    items.extend(
        positives
            .iter()
            .filter(|v| !v.is_nan())
            .map(|&v| (v, 0, true)),
    );
    items.extend(
        negatives
            .iter()
            .filter(|v| !v.is_nan())
            .map(|&v| (v, 0, false)),
    );
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let weights = [1.0];
    weighted_auc(&items, &weights)
}

/// AUC over items sorted by score, each `(score, cluster, positive)` weighted by
/// `weights[cluster]`; `None` when either side has no weight.
///
/// One pass over tie groups: a positive beats all negative weight below its group and ties
/// with the negative weight inside it.
fn weighted_auc(sorted: &[(f64, usize, bool)], weights: &[f64]) -> Option<f64> {
    let (mut below_neg, mut u, mut total_pos, mut total_neg) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        let (mut pos, mut neg) = (0.0, 0.0);
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            let w = weights[sorted[j].1];
            if sorted[j].2 {
                pos += w;
            } else {
                neg += w;
            }
            j += 1;
        }
        u += pos * (below_neg + 0.5 * neg);
        below_neg += neg;
        total_pos += pos;
        total_neg += neg;
        i = j;
    }
    (total_pos > 0.0 && total_neg > 0.0).then(|| u / (total_pos * total_neg))
}

/// A percentile bootstrap interval of the AUC of paired data, resampling whole clusters.
///
/// `clusters[i]` holds the scores that belong together, e.g. a real melody and its corrupted
/// version: `(positive, negative)`, either possibly missing. Resampling clusters (not single
/// scores) keeps a melody and its corruption together, as they are not independent. Returns
/// the `(1 − level)/2` and `(1 + level)/2` quantiles of `resamples` resampled AUCs, drawn with
/// a generator seeded by `seed` (the same seed gives the same interval); `None` when there are
/// no resamples or no AUC is defined.
pub fn bootstrap_auc_ci(
    clusters: &[(Option<f64>, Option<f64>)],
    resamples: usize,
    level: f64,
    seed: u64,
) -> Option<(f64, f64)> {
    let n = clusters.len();
    if n == 0 || resamples == 0 {
        return None;
    }
    let mut items = Vec::with_capacity(2 * n);
    for (i, &(pos, neg)) in clusters.iter().enumerate() {
        if let Some(p) = pos.filter(|v| !v.is_nan()) {
            items.push((p, i, true));
        }
        if let Some(q) = neg.filter(|v| !v.is_nan()) {
            items.push((q, i, false));
        }
    }
    // Sorting once makes each resample one linear pass over cluster weights.
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut weights = vec![0.0; n];
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        weights.iter_mut().for_each(|w| *w = 0.0);
        for _ in 0..n {
            weights[rng.random_range(0..n)] += 1.0;
        }
        if let Some(a) = weighted_auc(&items, &weights) {
            values.push(a);
        }
    }
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let level = level.clamp(0.0, 1.0);
    Some((
        quantile(&values, (1.0 - level) / 2.0),
        quantile(&values, (1.0 + level) / 2.0),
    ))
}

/// The `q` quantile of sorted values, interpolating linearly between order statistics.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Ranks from 1, ties sharing their mean rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        let mean = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = mean;
        }
        i = j;
    }
    ranks
}

/// Pearson correlation; `None` for fewer than two pairs, unequal lengths or a constant side.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman rank correlation (Pearson on tie-averaged ranks); `None` as for [`pearson`].
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// Median (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_hand_computed() {
        assert_eq!(auc(&[2.0, 3.0], &[0.0, 1.0]), Some(1.0));
        assert_eq!(auc(&[0.0, 1.0], &[2.0, 3.0]), Some(0.0));
        // Pairs: (1 vs 0) win, (1 vs 2) loss, (3 vs 0) win, (3 vs 2) win: 3/4.
        assert_eq!(auc(&[1.0, 3.0], &[0.0, 2.0]), Some(0.75));
        assert_eq!(auc(&[], &[1.0]), None);
        assert_eq!(auc(&[1.0], &[f64::NAN]), None);
    }

    #[test]
    fn auc_with_ties() {
        // All tied: one half.
        assert_eq!(auc(&[5.0, 5.0, 5.0], &[5.0, 5.0]), Some(0.5));
        // pos {1, 2, 2}, neg {2, 0}: pairs
        // 1>0 win, 1<2 loss, 2>0 win, 2=2 half, 2>0 win, 2=2 half → 4 / 6.
        let a = auc(&[1.0, 2.0, 2.0], &[2.0, 0.0]).unwrap();
        assert!((a - 4.0 / 6.0).abs() < 1e-12, "{a}");
        // Mann-Whitney by ranks: the same value.
        let all = [1.0, 2.0, 2.0, 2.0, 0.0];
        let r = ranks(&all);
        let r_pos: f64 = r[..3].iter().sum();
        let u = r_pos - 3.0 * 4.0 / 2.0;
        assert!((u / 6.0 - a).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_auc() {
        let clusters: Vec<(Option<f64>, Option<f64>)> = (0..50)
            .map(|i| {
                let x = f64::from(i % 7);
                (Some(x + 1.0), if i % 5 == 0 { None } else { Some(x) })
            })
            .collect();
        let a = bootstrap_auc_ci(&clusters, 200, 0.95, 9).unwrap();
        let b = bootstrap_auc_ci(&clusters, 200, 0.95, 9).unwrap();
        assert_eq!(a, b);
        let c = bootstrap_auc_ci(&clusters, 200, 0.95, 10).unwrap();
        assert_ne!(a, c);
        let pos: Vec<f64> = clusters.iter().filter_map(|c| c.0).collect();
        let neg: Vec<f64> = clusters.iter().filter_map(|c| c.1).collect();
        let point = auc(&pos, &neg).unwrap();
        assert!(a.0 <= point && point <= a.1, "{a:?} vs {point}");
        assert!(a.0 < a.1);
        assert_eq!(bootstrap_auc_ci(&[], 200, 0.95, 0), None);
        assert_eq!(bootstrap_auc_ci(&[(Some(1.0), None)], 10, 0.95, 0), None);
    }

    #[test]
    fn correlations_and_median() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(spearman(&x, &[10.0, 20.0, 30.0, 1000.0]), Some(1.0));
        assert_eq!(spearman(&x, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&x, &[1.0, 1.0, 1.0, 1.0]), None);
        assert!((pearson(&x, &[1.0, 2.0, 3.0, 5.0]).unwrap() - 0.9827).abs() < 1e-4);
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
