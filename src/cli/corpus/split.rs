//! The train/validation split by file that every corpus tool draws the same way.

use anyhow::{bail, Result};
use cadenza_env::encoding::Event;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Training and validation melodies.
pub(super) type Split = (Vec<Vec<Event>>, Vec<Vec<Event>>);

/// Splits melodies (one per file) into training and validation sets: a seeded shuffle, then
/// `round(n * fraction)` melodies (at least one, and at least one left to train on) held out.
pub(super) fn split(melodies: Vec<Vec<Event>>, fraction: f64, seed: u64) -> Result<Split> {
    let is_valid = held_out(melodies.len(), fraction, seed)?;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (melody, held_out) in melodies.into_iter().zip(is_valid) {
        if held_out {
            valid.push(melody);
        } else {
            train.push(melody);
        }
    }
    Ok((train, valid))
}

/// Which of `n` melodies (one per file) are held out: a seeded shuffle, then `round(n *
/// fraction)` of them (at least one, and at least one left to train on); none when `fraction`
/// is 0. The draw of `bc::split` too, so that every tool holds out the same files.
pub(super) fn held_out(n: usize, fraction: f64, seed: u64) -> Result<Vec<bool>> {
    if !(0.0..1.0).contains(&fraction) {
        bail!("--valid-fraction must be at least 0 and below 1, got {fraction}");
    }
    if fraction == 0.0 {
        return Ok(vec![false; n]);
    }
    if n < 2 {
        bail!("a validation split needs at least 2 melodies, found {n}");
    }
    let valid_count = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut is_valid = vec![false; n];
    for &i in &order[..valid_count] {
        is_valid[i] = true;
    }
    Ok(is_valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_seeded_and_keeps_both_sides() {
        let melodies: Vec<Vec<Event>> = (0..10).map(|i| vec![i as Event]).collect();
        let (t1, v1) = split(melodies.clone(), 0.2, 7).unwrap();
        let (t2, v2) = split(melodies.clone(), 0.2, 7).unwrap();
        assert_eq!((t1.len(), v1.len()), (8, 2));
        assert_eq!((&t1, &v1), (&t2, &v2));
        let (t, v) = split(melodies, 0.01, 0).unwrap();
        assert_eq!((t.len(), v.len()), (9, 1));
        assert!(split(vec![vec![1]], 0.5, 0).is_err());
    }
}
