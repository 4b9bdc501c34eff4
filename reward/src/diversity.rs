//! How varied a set of melodies is: a composer that plays one melody forever earns a high
//! return and no praise, so every return Cadenza reports comes with these figures.

use cadenza_env::Event;
use serde::Serialize;
use std::collections::HashSet;

/// Diversity of a set of melodies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diversity {
    /// Number of melodies.
    pub melodies: usize,
    /// Number of distinct melodies (identical event sequences count once).
    pub distinct_melodies: usize,
    /// Mean Levenshtein distance over pairs of melodies, in events; over the first
    /// `pairwise_sample` melodies only, to bound the cost. `None` for fewer than two.
    pub mean_pairwise_edit_distance: Option<f64>,
    /// How many melodies the pairwise mean used.
    pub pairwise_sample: usize,
}

/// The most melodies whose pairwise distances are computed (half a million pairs).
pub const MAX_PAIRWISE: usize = 1000;

/// Computes [`Diversity`].
pub fn diversity(melodies: &[Vec<Event>]) -> Diversity {
    let distinct: HashSet<&[Event]> = melodies.iter().map(Vec::as_slice).collect();
    let (mean, sample) = mean_pairwise_edit_distance(melodies);
    Diversity {
        melodies: melodies.len(),
        distinct_melodies: distinct.len(),
        mean_pairwise_edit_distance: mean,
        pairwise_sample: sample,
    }
}

/// Mean Levenshtein distance over pairs of the first [`MAX_PAIRWISE`] sequences, and how many
/// sequences that was; `None` under two. Any token type: events, or notes as the
/// musicianship report reads them.
pub fn mean_pairwise_edit_distance<T: PartialEq>(sequences: &[Vec<T>]) -> (Option<f64>, usize) {
    let sample = &sequences[..sequences.len().min(MAX_PAIRWISE)];
    let mut sum = 0u64;
    let mut pairs = 0u64;
    let mut row = Vec::new();
    for i in 0..sample.len() {
        for j in i + 1..sample.len() {
            sum += edit_distance(&sample[i], &sample[j], &mut row) as u64;
            pairs += 1;
        }
    }
    ((pairs > 0).then(|| sum as f64 / pairs as f64), sample.len())
}

/// Levenshtein distance with one reusable row.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=b.len());
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_by_hand() {
        let mut row = Vec::new();
        assert_eq!(edit_distance(&[1, 2, 3], &[1, 2, 3], &mut row), 0);
        assert_eq!(edit_distance(&[1, 2, 3], &[1, 3], &mut row), 1);
        assert_eq!(edit_distance(&[], &[4, 5], &mut row), 2);
        assert_eq!(edit_distance(&[1, 2, 3, 4], &[2, 1, 3, 5], &mut row), 3);
    }

    #[test]
    fn counts_distinct_and_mean_distance() {
        let d = diversity(&[vec![1, 2], vec![1, 2], vec![1, 3]]);
        assert_eq!(d.distinct_melodies, 2);
        // Pairs: (0,1) = 0, (0,2) = 1, (1,2) = 1.
        assert!((d.mean_pairwise_edit_distance.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(diversity(&[vec![1]]).mean_pairwise_edit_distance, None);
    }
}
