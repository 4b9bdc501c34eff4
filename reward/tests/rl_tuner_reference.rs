//! An independent, deliberately naive implementation of Magenta RL Tuner's reward and
//! evaluation metrics, written straight from the rules (recomputing everything from the full
//! composition at every step), compared with the incremental one on thousands of random
//! melodies built to reach every branch.

use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::rl_tuner::{RlTunerReward, NUM_TERMS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOLERANCE: f64 = 1e-9;
const N: usize = 32;
const C_MAJOR_KEY: [u8; 23] = [
    0, 1, 2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26, 28, 30, 31, 33, 35, 37,
];
const TONIC_NOTES: [u8; 3] = [2, 14, 26];
const FIFTH_NOTES: [u8; 3] = [9, 21, 33];
const E_NOTES: [u8; 3] = [6, 18, 30];

fn special(e: u8) -> bool {
    e == 0 || e == 1
}

/// Which rule fired, to prove the random melodies reach every branch.
#[derive(Default, Debug)]
struct Coverage {
    doubled: usize,
    resolved_gradually: usize,
    resolved_by_leap: usize,
    leap_back_too_soon: usize,
    sixth_strike: usize,
    eighth_with_gaps: usize,
    third_note_off: usize,
    long_hold: usize,
    motif_u: [usize; 9],
    repeated_motif: usize,
    high_unique: usize,
    low_unique: usize,
    autocorr_nan: usize,
    autocorr_penalised: usize,
    intervals: std::collections::BTreeMap<String, usize>,
    tonic: usize,
    near_threshold: usize,
}

/// Magenta's `RLTuner` bookkeeping, naively.
#[derive(Default)]
struct Naive {
    composition: Vec<u8>,
    beat: usize,
    direction: i32,
    leapt_from: Option<u8>,
    steps_since_last_leap: i64,
}

/// `detect_sequential_interval`: (interval code, previous pitch).
fn sequential_interval(comp: &[u8], a: u8) -> (f64, Option<u8>) {
    if comp.is_empty() {
        return (0.0, None);
    }
    let prev = match comp.iter().rev().find(|&&e| !special(e)) {
        Some(&p) => p,
        None => return (0.0, None),
    };
    let c_or_g = TONIC_NOTES.contains(&prev) || FIFTH_NOTES.contains(&prev);
    if a == 1 {
        return (if c_or_g { -2.5 } else { -1.5 }, Some(prev));
    }
    if a == 0 {
        return (if c_or_g { -2.0 } else { -1.0 }, Some(prev));
    }
    let iv = (a as i32 - prev as i32).abs();
    if iv == 7 && c_or_g {
        return (-5.0, Some(prev));
    }
    if iv == 4 && (TONIC_NOTES.contains(&prev) || E_NOTES.contains(&prev)) {
        return (-3.0, Some(prev));
    }
    (iv as f64, Some(prev))
}

/// `detect_repeating_notes`, with the case that fired.
fn repeating(comp: &[u8], a: u8) -> (bool, Option<&'static str>) {
    let mut num_repeated = 0;
    let mut held = false;
    let mut breaks = false;
    for &e in comp.iter().rev() {
        if e == a {
            num_repeated += 1;
        } else if e == 0 {
            breaks = true;
        } else if e == 1 {
            held = true;
        } else {
            break;
        }
    }
    if a == 0 && num_repeated > 1 {
        (true, Some("note_off"))
    } else if !held && !breaks {
        (num_repeated > 4, Some("plain"))
    } else {
        (num_repeated > 6, Some("gaps"))
    }
}

/// numpy's float64 `add.reduce`: pairwise summation (plain under 8 terms, 8 partial sums up
/// to 128 terms, split in halves at a multiple of 8 above).
fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, v| acc + v)
    } else if n <= 128 {
        let mut r: Vec<f64> = a[..8].to_vec();
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks(8) {
            for (acc, v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let half = n / 2 - (n / 2) % 8;
        numpy_sum(&a[..half]) + numpy_sum(&a[half..])
    }
}

/// `rl_tuner_ops.autocorrelate` with numpy's arithmetic (NaN for a constant signal).
fn autocorrelate(s: &[u8], lag: usize) -> f64 {
    let n = s.len();
    let values: Vec<f64> = s.iter().map(|&e| e as f64).collect();
    let mean = numpy_sum(&values) / n as f64;
    let x: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let squares: Vec<f64> = x.iter().map(|v| v * v).collect();
    let c0 = numpy_sum(&squares) / n as f64;
    let products: Vec<f64> = if lag < n {
        (0..n - lag).map(|i| x[i + lag] * x[i]).collect()
    } else {
        Vec::new()
    };
    numpy_sum(&products) / n as f64 / c0
}

/// `detect_last_motif`: distinct pitches of the last 8 events, if ≥ 3.
fn last_motif(full: &[u8]) -> Option<(Vec<u8>, usize)> {
    if full.len() < 8 {
        return None;
    }
    let bar = &full[full.len() - 8..];
    let mut notes: Vec<u8> = bar.iter().copied().filter(|&e| !special(e)).collect();
    notes.sort();
    notes.dedup();
    (notes.len() >= 3).then(|| (bar.to_vec(), notes.len()))
}

/// `detect_repeated_motif`.
fn repeated_motif(comp: &[u8], a: u8) -> bool {
    let mut full = comp.to_vec();
    full.push(a);
    let Some((motif, _)) = last_motif(&full) else {
        return false;
    };
    let prev = &comp[..comp.len().saturating_sub(7)];
    prev.windows(8).any(|w| w == motif.as_slice())
}

impl Naive {
    /// `detect_leap_up_back`: 0 none, 1 resolved, 2 doubled.
    fn leap(&mut self, a: u8, cov: &mut Coverage) -> i32 {
        if self.composition.is_empty() {
            return 0;
        }
        let (interval, prev) = sequential_interval(&self.composition, a);
        if special(a) {
            self.steps_since_last_leap += 1;
            return 0;
        }
        let mut outcome = 0;
        if interval >= 7.0 || interval == -5.0 {
            let prev = prev.unwrap();
            let dir = if a > prev { 1 } else { -1 };
            if self.direction != 0 {
                if self.direction != dir {
                    if self.steps_since_last_leap > 6 {
                        outcome = 1;
                        cov.resolved_by_leap += 1;
                    } else {
                        cov.leap_back_too_soon += 1;
                    }
                    self.direction = 0;
                    self.leapt_from = None;
                } else {
                    outcome = 2;
                    cov.doubled += 1;
                }
            } else {
                self.direction = dir;
                self.leapt_from = Some(prev);
            }
            self.steps_since_last_leap = 0;
        } else {
            self.steps_since_last_leap += 1;
            if let Some(from) = self.leapt_from {
                if (self.direction == 1 && a <= from) || (self.direction == -1 && a >= from) {
                    outcome = 1;
                    cov.resolved_gradually += 1;
                    self.direction = 0;
                    self.leapt_from = None;
                }
            }
        }
        outcome
    }

    /// One training step of `reward_music_theory`, resetting every 32 steps.
    fn step(&mut self, a: u8, cov: &mut Coverage) -> ([f64; NUM_TERMS], bool) {
        if self.beat == N {
            *self = Naive::default();
        }
        let comp = self.composition.clone();
        let mut full = comp.clone();
        full.push(a);

        let key = if C_MAJOR_KEY.contains(&a) { 0.0 } else { -1.0 };

        let f = N - 4;
        let tonic = if self.beat == 0 || self.beat == f {
            if a == 14 {
                3.0
            } else {
                0.0
            }
        } else if self.beat == f + 1 {
            if a == 1 {
                3.0
            } else {
                0.0
            }
        } else if self.beat > f + 1 {
            if a == 0 || a == 1 {
                3.0
            } else {
                0.0
            }
        } else {
            0.0
        };
        if tonic != 0.0 {
            cov.tonic += 1;
        }

        let (is_rep, case) = repeating(&comp, a);
        let rep = if is_rep {
            match case {
                Some("note_off") => cov.third_note_off += 1,
                Some("plain") => cov.sixth_strike += 1,
                _ => cov.eighth_with_gaps += 1,
            }
            if a == 1 {
                cov.long_hold += 1;
            }
            -100.0
        } else {
            0.0
        };

        let mut penalty = 0.0;
        let mut near_threshold = false;
        for lag in 1..=3 {
            let c = autocorrelate(&full, lag);
            if c.is_nan() {
                cov.autocorr_nan += 1;
                continue;
            }
            if (c.abs() - 0.15).abs() < 1e-12 {
                near_threshold = true;
            }
            if c.abs() > 0.15 {
                penalty += c.abs() * 3.0;
                cov.autocorr_penalised += 1;
            }
        }
        let autocorr = -penalty;

        let motif = match last_motif(&full) {
            Some((_, u)) => {
                cov.motif_u[u] += 1;
                3.0 + ((u as f64 - 3.0) * 0.3).max(0.0)
            }
            None => 0.0,
        };
        let rmotif = if repeated_motif(&comp, a) {
            cov.repeated_motif += 1;
            let u = last_motif(&full).unwrap().1;
            4.0 + (u as f64 - 3.0).max(0.0)
        } else {
            0.0
        };

        let (interval, _) = sequential_interval(&comp, a);
        *cov.intervals.entry(format!("{interval}")).or_default() += 1;
        let base = if interval == 0.0 {
            0.0
        } else if interval == -1.0 {
            0.05
        } else if interval == -1.5 {
            0.075
        } else if interval == -2.0 {
            0.15
        } else if interval == -2.5 {
            0.3
        } else if interval == 11.0 {
            -0.3
        } else if interval > 12.0 {
            -1.0
        } else if interval == -5.0 {
            0.1
        } else if interval == -3.0 {
            0.15
        } else if interval == 4.0 {
            0.09
        } else if interval == 2.0 {
            0.08
        } else if interval == 5.0 {
            0.07
        } else if interval == 9.0 {
            0.05
        } else if interval == 7.0 {
            0.02
        } else {
            0.0
        };
        let preferred = base * 5.0;

        let leap = match self.leap(a, cov) {
            1 => 5.0,
            2 => -5.0,
            _ => 0.0,
        };

        let mut hl = 0.0;
        if full.len() == N {
            let max = *full.iter().max().unwrap();
            if full.iter().filter(|&&e| e == max).count() == 1 {
                hl += 3.0;
                cov.high_unique += 1;
            }
            if let Some(&min) = full.iter().filter(|&&e| !special(e)).min() {
                if full.iter().filter(|&&e| e == min).count() == 1 {
                    hl += 3.0;
                    cov.low_unique += 1;
                }
            }
        }

        self.composition.push(a);
        self.beat += 1;
        if near_threshold {
            cov.near_threshold += 1;
        }
        (
            [
                key, tonic, rep, autocorr, motif, rmotif, preferred, leap, hl,
            ],
            near_threshold,
        )
    }
}

fn clamp_pitch(p: i32) -> u8 {
    p.clamp(2, 37) as u8
}

/// Melodies of many kinds: uniform noise, a small alphabet full of runs, and a biased walk
/// with repeats, holds, rests, steps, leaps, fifths from C/G, in-key notes and copied bars.
fn random_melody(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let kind = rng.random_range(0..4);
    let mut out: Vec<u8> = Vec::with_capacity(len + 8);
    match kind {
        0 => (0..len).for_each(|_| out.push(rng.random_range(0..38))),
        1 => {
            let alphabet = [0u8, 1, 14, 14, 14, 21, 9, 2];
            (0..len).for_each(|_| out.push(alphabet[rng.random_range(0..alphabet.len())]));
        }
        _ => {
            let mut pitch = rng.random_range(2..38i32);
            while out.len() < len {
                let roll = rng.random_range(0..100);
                match roll {
                    0..=14 => out.push(pitch as u8),
                    15..=26 => out.push(1),
                    27..=36 => out.push(0),
                    37..=51 => {
                        let step = [-2, -1, 1, 2][rng.random_range(0..4)];
                        pitch = clamp_pitch(pitch + step) as i32;
                        out.push(pitch as u8);
                    }
                    52..=61 => {
                        let size = rng.random_range(7..=14);
                        let sign = if rng.random_bool(0.5) { 1 } else { -1 };
                        pitch = clamp_pitch(pitch + sign * size) as i32;
                        out.push(pitch as u8);
                    }
                    62..=69 => {
                        let from = [2, 14, 26, 9, 21, 33][rng.random_range(0..6)];
                        out.push(from);
                        let sign = if rng.random_bool(0.5) { 1 } else { -1 };
                        pitch = clamp_pitch(from as i32 + sign * 7) as i32;
                        out.push(pitch as u8);
                    }
                    70..=79 => {
                        pitch = C_MAJOR_KEY[rng.random_range(2..C_MAJOR_KEY.len())] as i32;
                        out.push(pitch as u8);
                    }
                    80..=84 => {
                        pitch = 14;
                        out.push(14);
                    }
                    85..=89 => out.push(rng.random_range(0..38)),
                    _ => {
                        if out.len() >= 8 {
                            let start = rng.random_range(0..=out.len() - 8);
                            let bar: Vec<u8> = out[start..start + 8].to_vec();
                            out.extend_from_slice(&bar);
                        } else {
                            out.push(pitch as u8);
                        }
                    }
                }
            }
        }
    }
    out.truncate(len);
    out
}

fn compare_melody(events: &[u8], reward: &mut RlTunerReward, cov: &mut Coverage, what: &str) {
    let setting = Setting::rl_tuner();
    reward.reset(&setting);
    let mut naive = Naive::default();
    for (i, &a) in events.iter().enumerate() {
        let (expected, _at_tie) = naive.step(a, cov);
        let mut terms = [f64::NAN; NUM_TERMS];
        let ctx = StepContext {
            setting: &setting,
            step: i,
            history: &events[..i],
            action: a,
        };
        let total = reward.step(&ctx, &mut terms);
        for t in 0..NUM_TERMS {
            assert!(
                (terms[t] - expected[t]).abs() <= TOLERANCE,
                "{what}: step {i} term {t}: {} vs naive {} in {events:?}",
                terms[t],
                expected[t]
            );
        }
        let naive_total = expected.iter().fold(0.0, |acc, v| acc + v);
        assert!(
            (total - naive_total).abs() <= TOLERANCE,
            "{what}: step {i} total {total} vs {naive_total}"
        );
    }
}

#[test]
fn rl_tuner_matches_naive_reference_on_random_melodies() {
    let mut rng = StdRng::seed_from_u64(0x5eed_ca0e);
    let mut reward = RlTunerReward::default();
    let mut cov = Coverage::default();
    let mut steps = 0;
    for m in 0..4000 {
        let len = rng.random_range(1..=40);
        let melody = random_melody(&mut rng, len);
        compare_melody(&melody, &mut reward, &mut cov, &format!("melody {m}"));
        steps += melody.len();
    }
    for &len in &[64usize, 100] {
        for m in 0..300 {
            let melody = random_melody(&mut rng, len);
            compare_melody(
                &melody,
                &mut reward,
                &mut cov,
                &format!("{len}-step melody {m}"),
            );
            steps += melody.len();
        }
    }
    assert!(steps > 100_000);

    // Every branch was reached.
    assert!(cov.doubled > 0, "{cov:?}");
    assert!(cov.resolved_gradually > 0, "{cov:?}");
    assert!(cov.resolved_by_leap > 0, "{cov:?}");
    assert!(cov.leap_back_too_soon > 0, "{cov:?}");
    assert!(cov.sixth_strike > 0, "{cov:?}");
    assert!(cov.eighth_with_gaps > 0, "{cov:?}");
    assert!(cov.third_note_off > 0, "{cov:?}");
    assert!(cov.long_hold > 0, "{cov:?}");
    for u in 3..=8 {
        assert!(cov.motif_u[u] > 0, "motif with {u} pitches: {cov:?}");
    }
    assert!(cov.repeated_motif > 0, "{cov:?}");
    assert!(cov.high_unique > 0 && cov.low_unique > 0, "{cov:?}");
    assert!(
        cov.autocorr_nan > 0 && cov.autocorr_penalised > 0,
        "{cov:?}"
    );
    assert!(cov.tonic > 0, "{cov:?}");
    for code in [
        "0", "-1", "-1.5", "-2", "-2.5", "-5", "-3", "2", "4", "5", "7", "9", "11", "13",
    ] {
        assert!(cov.intervals.contains_key(code), "interval {code}: {cov:?}");
    }
    // Coefficients exactly at the 0.15 threshold, where numpy's rounding decides.
    assert!(cov.near_threshold > 0, "{cov:?}");
}

/// The evaluation counters, naively (`compose_and_evaluate_piece` on a given piece).
#[derive(Default, Debug)]
struct NaiveStats {
    ac: [Vec<f64>; 3],
    counts: std::collections::BTreeMap<&'static str, u64>,
}

fn naive_add_composition(stats: &mut NaiveStats, events: &[u8]) {
    let mut cov = Coverage::default();
    let mut tuner = Naive::default();
    let bump = |stats: &mut NaiveStats, key: &'static str| {
        *stats.counts.entry(key).or_default() += 1;
    };
    for (beat, &a) in events.iter().enumerate() {
        let comp = tuner.composition.clone();
        let (interval, _) = sequential_interval(&comp, a);
        if interval != 0.0 {
            // Magenta's chain; `interval == (IN_KEY_FIFTH or ...)` is `interval == -5`.
            let key = if interval == -1.0 {
                Some("num_rest_intervals")
            } else if interval == -2.0 {
                Some("num_special_rest_intervals")
            } else if interval > 12.0 {
                Some("num_octave_jumps")
            } else if interval == -5.0 {
                Some("num_in_key_preferred_intervals")
            } else if interval == 7.0 {
                Some("num_fifths")
            } else if interval == 4.0 {
                Some("num_thirds")
            } else if interval == 9.0 {
                Some("num_sixths")
            } else if interval == 2.0 {
                Some("num_seconds")
            } else if interval == 5.0 {
                Some("num_fourths")
            } else if interval == 11.0 {
                Some("num_sevenths")
            } else {
                None
            };
            if let Some(key) = key {
                bump(stats, key);
            }
        }
        if !C_MAJOR_KEY.contains(&a) {
            bump(stats, "notes_not_in_key");
        }
        if beat == 0 && a == 14 {
            bump(stats, "num_starting_tonic");
        }
        if repeating(&comp, a).0 {
            bump(stats, "num_repeated_notes");
        }
        let mut full = comp.clone();
        full.push(a);
        if last_motif(&full).is_some() {
            bump(stats, "notes_in_motif");
        }
        if repeated_motif(&comp, a) {
            bump(stats, "notes_in_repeated_motif");
        }
        match tuner.leap(a, &mut cov) {
            1 => bump(stats, "num_resolved_leaps"),
            2 => bump(stats, "num_leap_twice"),
            _ => {}
        }
        // No reset at 32: the piece is one composition.
        tuner.composition.push(a);
    }
    let comp = &tuner.composition;
    for lag in 1..=3 {
        let c = if comp.is_empty() {
            f64::NAN
        } else {
            autocorrelate(comp, lag)
        };
        stats.ac[lag - 1].push(c);
    }
    if let Some(&max) = comp.iter().max() {
        if comp.iter().filter(|&&e| e == max).count() == 1 {
            bump(stats, "num_high_unique");
        }
    }
    if let Some(&min) = comp.iter().filter(|&&e| !special(e)).min() {
        if comp.iter().filter(|&&e| e == min).count() == 1 {
            bump(stats, "num_low_unique");
        }
    }
    bump(stats, "num_compositions");
    *stats.counts.entry("total_notes").or_default() += events.len() as u64;
}

#[test]
fn rl_tuner_metrics_match_naive_reference() {
    let mut rng = StdRng::seed_from_u64(0xe7a1);
    for set in 0..60 {
        let mut metrics = RlTunerMetrics::new();
        let mut naive = NaiveStats::default();
        let pieces = rng.random_range(1..=12);
        for _ in 0..pieces {
            let len = match rng.random_range(0..4) {
                0 => 32,
                1 => 64,
                2 => 100,
                _ => rng.random_range(1..=40),
            };
            let melody = random_melody(&mut rng, len);
            metrics.add_composition(&melody);
            naive_add_composition(&mut naive, &melody);
        }
        let ours = serde_json::to_value(metrics.stats()).unwrap();
        for (key, list) in ["autocorrelation1", "autocorrelation2", "autocorrelation3"]
            .iter()
            .zip(&naive.ac)
        {
            let values = ours[*key].as_array().unwrap();
            assert_eq!(values.len(), list.len());
            for (v, expected) in values.iter().zip(list) {
                match v.as_f64() {
                    None => assert!(expected.is_nan(), "set {set} {key}"),
                    Some(v) => assert!((v - expected).abs() <= TOLERANCE, "set {set} {key}"),
                }
            }
        }
        for (key, value) in ours.as_object().unwrap() {
            if key.starts_with("autocorrelation") {
                continue;
            }
            let expected = naive.counts.get(key.as_str()).copied().unwrap_or(0);
            assert_eq!(value.as_u64(), Some(expected), "set {set} {key}");
        }
        let report = metrics.report();
        let comps = naive.counts["num_compositions"] as f64;
        assert_eq!(
            report["avg_num_seconds_per_composition"],
            naive.counts.get("num_seconds").copied().unwrap_or(0) as f64 / comps
        );
    }
}
