//! Action selection on one row of values: the greedy choice with a randomised tie-break,
//! ε-greedy and ε-Boltzmann exploration, and softmax sampling within a margin of the best.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// The largest value of a row (NaNs ignored), four places to one SSE instruction: a running
/// maximum in scalar code is a chain of dependent compares as long as the row.
#[inline]
fn row_max(row: &[f32]) -> f32 {
    let pick = |m: f32, v: f32| if v > m { v } else { m };
    let mut max = f32::NEG_INFINITY;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_max_ps, _mm_set1_ps, _mm_storeu_ps};
        let mut lanes = [f32::NEG_INFINITY; 4];
        // SAFETY: SSE is part of the x86-64 baseline, each load reads the four floats of one
        // chunk and the store writes the four of `lanes` (unaligned loads and store).
        // `maxps` returns its second operand when either is NaN: the running maximum.
        unsafe {
            let mut acc = _mm_set1_ps(f32::NEG_INFINITY);
            for chunk in row.chunks_exact(4) {
                acc = _mm_max_ps(_mm_loadu_ps(chunk.as_ptr()), acc);
                done += 4;
            }
            _mm_storeu_ps(lanes.as_mut_ptr(), acc);
        }
        max = lanes.into_iter().fold(max, pick);
    }
    row[done..].iter().fold(max, |m, &v| pick(m, v))
}

/// A bit set of the places of a row (at most 64 long) that hold `value`, so that a tie-break
/// needs no scan: four compares to one SSE instruction, whose sign bits make a nibble.
#[inline]
fn equal_bits(row: &[f32], value: f32) -> u64 {
    let mut bits = 0u64;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_set1_ps};
        // SAFETY: SSE is part of the x86-64 baseline, and each load reads the four floats of
        // one chunk (unaligned loads).
        unsafe {
            let target = _mm_set1_ps(value);
            for chunk in row.chunks_exact(4) {
                let lanes = _mm_loadu_ps(chunk.as_ptr());
                bits |= (_mm_movemask_ps(_mm_cmpeq_ps(lanes, target)) as u64) << done;
                done += 4;
            }
        }
    }
    for (j, &v) in row[done..].iter().enumerate() {
        bits |= u64::from(v == value) << (done + j);
    }
    bits
}

/// The highest-valued allowed action, ties going to the first at or after `start` (cyclically),
/// so that ties between untried actions are broken by the caller's randomness.
#[inline]
pub(super) fn argmax_from(row: &[f32], mask: Option<&[bool]>, start: usize) -> Option<usize> {
    let n = row.len();
    if mask.is_none() && start < n {
        // The hot path of unmasked tasks: the maximum in one branch-free pass, then the first
        // place at or after `start` that holds it (the same choice as the loop below): from
        // a bit set of the places that hold it where the row fits in 64 bits.
        let max = row_max(row);
        if max > f32::NEG_INFINITY {
            if n <= 64 {
                let hits = equal_bits(row, max);
                let after = hits >> start;
                return Some(if after != 0 {
                    start + after.trailing_zeros() as usize
                } else {
                    hits.trailing_zeros() as usize
                });
            }
            let hit = |v: &f32| *v == max;
            return row[start..]
                .iter()
                .position(hit)
                .map(|i| start + i)
                .or_else(|| row[..start].iter().position(hit));
        }
    }
    let mut best = None;
    let mut best_value = f32::NEG_INFINITY;
    for k in 0..n {
        let a = if start + k >= n {
            start + k - n
        } else {
            start + k
        };
        if mask.is_some_and(|m| !m[a]) {
            continue;
        }
        let v = row[a];
        if best.is_none() || v > best_value {
            best = Some(a);
            best_value = v;
        }
    }
    best
}

/// The largest allowed value of a row.
#[inline]
pub(super) fn max_allowed(row: &[f32], mask: Option<&[bool]>) -> f32 {
    match mask {
        None => row_max(row),
        Some(m) => row
            .iter()
            .zip(m)
            .filter(|(_, &ok)| ok)
            .map(|(&v, _)| v)
            .fold(f32::NEG_INFINITY, f32::max),
    }
}

/// A uniformly random allowed action from 32 random bits.
#[inline]
pub(super) fn uniform_allowed(bits: u32, mask: Option<&[bool]>, n: usize) -> Option<usize> {
    let pick = |count: usize| ((bits as u64 * count as u64) >> 32) as usize;
    match mask {
        None => Some(pick(n)),
        Some(m) => {
            let allowed = m.iter().filter(|&&ok| ok).count();
            if allowed == 0 {
                return None;
            }
            m.iter()
                .enumerate()
                .filter(|(_, &ok)| ok)
                .nth(pick(allowed))
                .map(|(a, _)| a)
        }
    }
}

/// What one 64-bit draw of an ε-behaviour policy decided.
enum Draw {
    /// Explore (the high half fell below ε): a uniform allowed action from the low half.
    Explored(Option<usize>),
    /// Exploit, with the low half left for the exploiting choice.
    Exploit(u32),
}

/// One 64-bit draw decides explore-or-exploit (high half) and which action or which
/// tie-break offset (low half).
#[inline]
fn draw(mask: Option<&[bool]>, n: usize, epsilon_bits: u64, rng: &mut ChaCha8Rng) -> Draw {
    let x = rng.next_u64();
    if (x >> 32) < epsilon_bits {
        Draw::Explored(uniform_allowed(x as u32, mask, n))
    } else {
        Draw::Exploit(x as u32)
    }
}

/// ε-greedy: ε-uniform, else the best action with the draw's tie-break offset.
#[inline]
pub(super) fn epsilon_greedy(
    row: &[f32],
    mask: Option<&[bool]>,
    epsilon_bits: u64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let n = row.len();
    match draw(mask, n, epsilon_bits, rng) {
        Draw::Explored(action) => action,
        Draw::Exploit(bits) => argmax_from(row, mask, ((bits as u64 * n as u64) >> 32) as usize),
    }
}

/// ε as a threshold on 32 random bits.
pub(super) fn epsilon_threshold(epsilon: f64) -> u64 {
    (epsilon.clamp(0.0, 1.0) * 4_294_967_296.0) as u64
}

/// The most actions a row may have: events are bytes, so no task has more.
pub(super) const MAX_ACTIONS: usize = 256;
/// Floats per vector step of the weight computation (two SSE registers).
const LANES: usize = 8;

/// `e^x` for `x <= 0`, in single precision and without a branch, so that a row's weights
/// compile to vector instructions: Cody–Waite reduction by ln 2 and Cephes' degree-5
/// polynomial on the remainder (relative error about 1e-7), scaled by `2^n` written straight
/// into the exponent bits. Arguments below -87 give `e^-87` (about 1.6e-38, still a normal
/// float) and a NaN gives the same. A library `exp` per action was most of a Boltzmann step's
/// cost; every softmax of the tabular agents goes through this one, so training, `act` and
/// `action_probs` draw from the same weights on every machine (plain IEEE arithmetic).
#[inline(always)]
pub(super) fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 1.5 · 2^23: adding it rounds to the nearest integer, which then sits in the low bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // A NaN becomes -87 (`clamp` would keep it): a select, not a branch.
    let x = if x > -87.0 { x.min(0.0) } else { -87.0 };
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let mantissa = p * r * r + r + 1.0;
    let exponent = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    mantissa * f32::from_bits((exponent + 127).wrapping_shl(23) as u32)
}

/// The softmax weights of one row, computed once and read by every use of the row in a step:
/// the behaviour policy's draw and soft Q-learning's backup.
#[derive(Debug, Clone)]
pub(super) struct RowWeights {
    /// `weights[a]`: `e^((Q(a) - max) / T)` when `a` is allowed and within the margin of the
    /// best allowed value, else 0.
    weights: [f32; MAX_ACTIONS],
    len: usize,
    /// The best allowed value.
    max: f32,
    /// Σ of the weights (the normaliser of the draw).
    total: f32,
    /// Σ of `e^((Q(a) - max) / T)` over the allowed actions that were tried (margin or not):
    /// soft Q-learning's sum.
    tried_total: f32,
    /// The table row the weights belong to, while they are current.
    pub(super) row: Option<usize>,
}

impl Default for RowWeights {
    fn default() -> Self {
        Self {
            weights: [0.0; MAX_ACTIONS],
            len: 0,
            max: f32::NEG_INFINITY,
            total: 0.0,
            tried_total: 0.0,
            row: None,
        }
    }
}

impl RowWeights {
    /// Computes the weights of `row` at `temperature` (> 0): the allowed actions within
    /// `margin` of the best get theirs, the others 0. `tried` (one bit per action, as the
    /// table keeps them) selects the actions of [`RowWeights::soft_value`]. False when no
    /// action is allowed.
    #[inline]
    pub(super) fn compute(
        &mut self,
        row: &[f32],
        mask: Option<&[bool]>,
        tried: &[u64],
        temperature: f64,
        margin: f64,
    ) -> bool {
        let n = row.len().min(MAX_ACTIONS);
        let row = &row[..n];
        self.len = n;
        self.row = None;
        let max = max_allowed(row, mask);
        self.max = max;
        if !max.is_finite() {
            return false;
        }
        let inverse = (1.0 / temperature) as f32;
        // The exponentials as one map over the row (vector instructions), padded with zeros
        // to whole lanes for the sum below.
        let lanes = n.next_multiple_of(LANES);
        for (w, &q) in self.weights[..n].iter_mut().zip(row) {
            *w = exp_nonpositive((q - max) * inverse);
        }
        self.weights[n..lanes].fill(0.0);
        // Soft Q-learning's sum, over the tried allowed actions (bit by bit: few per row).
        let mut tried_total = 0.0f32;
        for (word_index, &word) in tried.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let a = word_index * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if a < n && mask.is_none_or(|m| m[a]) {
                    tried_total += self.weights[a];
                }
            }
        }
        // The draw's selection: only allowed actions within the margin keep their weight.
        let floor = (max as f64 - margin) as f32;
        // Selects rather than branches, so that the loops run in vector instructions.
        let weights = self.weights[..n].iter_mut().zip(row);
        match mask {
            None => {
                for (w, &q) in weights {
                    *w = if q < floor { 0.0 } else { *w };
                }
            }
            Some(mask) => {
                for ((w, &q), &allowed) in weights.zip(mask) {
                    *w = if !allowed || q < floor { 0.0 } else { *w };
                }
            }
        }
        // The normaliser, in lanes: a sum in one chain waits on every add in turn.
        let mut partial = [0.0f32; LANES];
        for chunk in self.weights[..lanes].chunks_exact(LANES) {
            for (p, &w) in partial.iter_mut().zip(chunk) {
                *p += w;
            }
        }
        let total: f32 = partial.iter().sum();
        self.total = total;
        self.tried_total = tried_total;
        true
    }

    /// A draw from the weights: one 64-bit number, scaled to their sum and walked through
    /// them. `None` when every weight is 0.
    #[inline]
    pub(super) fn sample(&self, rng: &mut ChaCha8Rng) -> Option<usize> {
        let u = (rng.next_u64() >> 40) as f32 / (1u32 << 24) as f32 * self.total;
        let mut acc = 0.0f32;
        let mut last = None;
        for (a, &w) in self.weights[..self.len].iter().enumerate() {
            if w > 0.0 {
                acc += w;
                last = Some(a);
                if u < acc {
                    return Some(a);
                }
            }
        }
        last
    }

    /// The probabilities of [`RowWeights::sample`], written into `probs`.
    pub(super) fn write_probs(&self, probs: &mut [f64]) {
        for (p, &w) in probs.iter_mut().zip(&self.weights[..self.len]) {
            *p = f64::from(w) / f64::from(self.total);
        }
    }

    /// Soft Q-learning's value `max + T ln Σ_tried e^((Q - max)/T)` of the row, at the
    /// temperature the weights were computed at; `None` when no allowed action was tried or
    /// the sum underflowed (the caller computes it from the tried actions' own maximum).
    #[inline]
    pub(super) fn soft_value(&self, temperature: f32) -> Option<f32> {
        (self.tried_total > 1e-30).then(|| self.max + temperature * self.tried_total.ln())
    }
}

/// The behaviour policy of [`Exploration::Boltzmann`](super::Exploration::Boltzmann):
/// ε-uniform, else the softmax of `weights` (computed for this row by the caller, or here when
/// they are not current).
#[allow(clippy::too_many_arguments)]
pub(super) fn epsilon_boltzmann_with(
    weights: &mut RowWeights,
    row_index: usize,
    row: &[f32],
    mask: Option<&[bool]>,
    epsilon_bits: u64,
    temperature: f64,
    margin: f64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let n = row.len();
    if let Draw::Explored(action) = draw(mask, n, epsilon_bits, rng) {
        return action;
    }
    if weights.row != Some(row_index) {
        if !weights.compute(row, mask, &[], temperature, margin) {
            return None;
        }
        weights.row = Some(row_index);
    }
    weights.sample(rng)
}

/// Softmax sampling at `temperature` (> 0) over the allowed actions whose value is within
/// `margin` of the best.
pub(super) fn softmax_sample(
    row: &[f32],
    mask: &[bool],
    temperature: f64,
    margin: f64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let mut weights = RowWeights::default();
    if !weights.compute(row, Some(mask), &[], temperature, margin) {
        return None;
    }
    weights.sample(rng)
}

/// The distribution [`softmax_sample`] draws from, written into `probs` (one per action of
/// `row`); false, writing nothing, when no action is allowed.
pub(super) fn softmax_probs(
    row: &[f32],
    mask: &[bool],
    temperature: f64,
    margin: f64,
    probs: &mut [f64],
) -> bool {
    let mut weights = RowWeights::default();
    if probs.len() < row.len() || !weights.compute(row, Some(mask), &[], temperature, margin) {
        return false;
    }
    weights.write_probs(&mut probs[..row.len()]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn unmasked_argmax_picks_the_first_maximum_from_start_cyclically() {
        // The unmasked fast paths (bit set up to 64 actions, scan above) against an all-true
        // mask, which takes the general loop; lengths around the vector widths and 64.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let all = [true; 80];
        for len in (1..=13).chain([31, 32, 33, 38, 63, 64, 65, 80]) {
            for _ in 0..300 {
                // Few distinct values, so that ties are common.
                let row: Vec<f32> = (0..len).map(|_| (rng.next_u32() % 4) as f32).collect();
                let start = rng.next_u32() as usize % len;
                assert_eq!(
                    argmax_from(&row, None, start),
                    argmax_from(&row, Some(&all[..len]), start),
                    "{row:?} from {start}"
                );
            }
        }
    }

    #[test]
    fn row_max_and_equal_bits_match_plain_loops() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for len in 0..=64usize {
            for _ in 0..50 {
                let mut row: Vec<f32> = (0..len)
                    .map(|_| (rng.next_u32() % 5) as f32 - 2.0)
                    .collect();
                if len > 0 && rng.next_u32() % 4 == 0 {
                    // NaNs are ignored, wherever they sit.
                    row[rng.next_u32() as usize % len] = f32::NAN;
                }
                let expected = row
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(row_max(&row), expected, "{row:?}");
                let bits = row
                    .iter()
                    .enumerate()
                    .fold(0u64, |b, (i, &v)| b | (u64::from(v == expected) << i));
                assert_eq!(equal_bits(&row, expected), bits, "{row:?}");
            }
        }
    }

    #[test]
    fn exp_nonpositive_is_exp_to_single_precision() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let exact = f64::from(x).exp();
            let error = (f64::from(exp_nonpositive(x)) - exact).abs() / exact;
            worst = worst.max(error);
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        // Below the range and NaN: the smallest weight, still a normal float; above: 1.
        assert!(exp_nonpositive(-1e9).is_normal());
        assert!(exp_nonpositive(f32::NAN) < 1e-37);
        assert_eq!(exp_nonpositive(3.0), 1.0);
    }

    #[test]
    fn row_weights_give_the_softmax_and_the_soft_value() {
        let row = [1.0f32, 3.0, 2.0, -40.0, 2.5];
        let tried = [0b10011u64]; // actions 0, 1 and 4
        let mask = [true, true, true, true, false];
        let mut weights = RowWeights::default();
        assert!(weights.compute(&row, Some(&mask), &tried, 0.5, 1e6));
        let mut probs = [0.0; 5];
        weights.write_probs(&mut probs);
        let z: f64 = row[..4]
            .iter()
            .map(|&q| (f64::from(q - 3.0) / 0.5).exp())
            .sum();
        for a in 0..4 {
            let expected = (f64::from(row[a] - 3.0) / 0.5).exp() / z;
            assert!((probs[a] - expected).abs() < 1e-6, "{a}: {probs:?}");
        }
        assert_eq!(probs[4], 0.0, "masked");
        // Soft value over the tried, allowed actions (0 and 1; 4 is masked).
        let expected = 0.5 * ((1.0f64 / 0.5).exp() + (3.0f64 / 0.5).exp()).ln();
        let soft = weights.soft_value(0.5).unwrap();
        assert!(
            (f64::from(soft) - expected).abs() < 1e-5,
            "{soft} vs {expected}"
        );
        // Nothing tried: no soft value from the weights; the margin drops far actions.
        assert!(weights.compute(&row, None, &[0], 0.5, 1.5) && weights.soft_value(0.5).is_none());
        weights.write_probs(&mut probs);
        assert_eq!((probs[0], probs[3]), (0.0, 0.0), "{probs:?}");
        assert!(probs[1] > probs[4] && probs[4] > probs[2] && probs[2] > 0.0);
    }

    #[test]
    fn sample_margin_cuts_off_worse_actions() {
        let row = [0.0f32, 1.0, 0.6, -3.0];
        let mask = [true; 4];
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = [0usize; 4];
        for _ in 0..5_000 {
            seen[softmax_sample(&row, &mask, 100.0, 0.5, &mut rng).unwrap()] += 1;
        }
        assert_eq!((seen[0], seen[3]), (0, 0), "{seen:?}");
        assert!(seen[1] > 2_000 && seen[2] > 2_000, "{seen:?}");
    }

    #[test]
    fn targets_differ_as_the_algorithms_say() {
        // Hand-built next row: values [1, 3, 2] with ε = 0.3, γ = 0.5, reward 1.
        let row = [1.0f32, 3.0, 2.0];
        let q_target = 1.0 + 0.5 * max_allowed(&row, None);
        assert_eq!(q_target, 2.5);
        let e = 0.3f32;
        let expected = (1.0 - e) * 3.0 + e * (6.0 / 3.0);
        assert!((1.0 + 0.5 * expected - 2.35).abs() < 1e-6);
        // A mask hides the maximum.
        assert_eq!(max_allowed(&row, Some(&[true, false, true])), 2.0);
    }

    #[test]
    fn masked_selection_never_picks_masked() {
        let row = [5.0f32, 1.0, 9.0, 2.0];
        let mask = [true, true, false, true];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..1000 {
            let a = epsilon_greedy(&row, Some(&mask), epsilon_threshold(0.5), &mut rng).unwrap();
            assert!(mask[a]);
            let b = softmax_sample(&row, &mask, 5.0, 1e6, &mut rng).unwrap();
            assert!(mask[b]);
        }
        assert_eq!(argmax_from(&row, Some(&mask), 3), Some(0));
        assert_eq!(uniform_allowed(7, Some(&[false; 4]), 4), None);
    }
}
